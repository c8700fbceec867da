/** An expected failure that is not a CorfuError (a port in use, ...): one line on stderr, exit code 1. */
export class FatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatalError';
  }
}
