/** A request the CLI refuses before touching a device (exit code 2, like a bad flag). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
