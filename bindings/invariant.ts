// The one way TypeScript code fails on a broken invariant: a bug here, or a contract
// broken between two parts of Corfu (the addon and its bindings, a unit's answer and
// the client's chain machine, a token source and the sequencer). It is not an error
// code: nothing retries it and nothing should catch it. A server that throws one
// crashes; the simulator reports it as a violation. Bad input from a peer or a caller
// is never one of these: that is a CorfuError with a code.
//
// It lives in bindings/ (pure, loads nothing) so every layer may import it: wire,
// layout, transport, unit, sequencer and client all sit above bindings/.

/** A broken invariant (see above). Never a CorfuError: a caller's retry policy must not see it. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`corfu invariant broken: ${message}`);
    this.name = 'InvariantError';
  }
}

/**
 * Asserts `condition`; throws InvariantError with `message` when it is false.
 * Pass a function to build the message only on failure (for hot paths).
 */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'function' ? message() : message);
}
