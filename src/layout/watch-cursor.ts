// The delivery side of ProjectionStore.watch, shared by both stores: it
// remembers the highest epoch handled so far and passes on only projections
// above it, so a store may re-read and re-offer freely (after a reconnect, a
// compaction, a poll) and the watcher still sees each epoch once, in order.

import type { CorfuError } from '../../bindings/errors.js';
import type { Projection } from './projection.js';
import type { WatchErrorHandler } from './store.js';

export class WatchCursor {
  #passed = 0;
  #stopped = false;
  readonly #onProjection: (projection: Projection) => void;
  readonly #onError: WatchErrorHandler | undefined;
  /** The last error reported, so a store that keeps failing the same way reports it once. */
  #lastError: string | undefined;

  constructor(onProjection: (projection: Projection) => void, onError: WatchErrorHandler | undefined) {
    this.#onProjection = onProjection;
    this.#onError = onError;
  }

  /** The highest epoch reported or skipped: a store re-reads from the epoch above it. */
  get passed(): number {
    return this.#passed;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Reports `projection` if it is above everything handled so far. */
  offer(projection: Projection): void {
    if (this.#stopped || projection.epoch <= this.#passed) return;
    this.#passed = projection.epoch;
    this.#lastError = undefined;
    call(this.#onProjection, projection);
  }

  /** A slot above the cursor that holds no valid projection: reported once as an error and passed over. */
  skip(epoch: number, error: CorfuError): void {
    if (this.#stopped || epoch <= this.#passed) return;
    this.#passed = epoch;
    this.error(error);
  }

  /** A failure the store is retrying through; the same message twice in a row is reported once. */
  error(error: CorfuError): void {
    if (this.#stopped || this.#onError === undefined || error.message === this.#lastError) return;
    this.#lastError = error.message;
    call(this.#onError, error);
  }

  /** The store reached its backend again: the next failure is news. */
  recovered(): void {
    this.#lastError = undefined;
  }
}

// A callback that throws is the caller's bug: it surfaces as an uncaught
// exception (as an EventEmitter listener's would) instead of stopping the watch.
function call<T>(fn: (value: T) => void, value: T): void {
  try {
    fn(value);
  } catch (err) {
    setImmediate(() => {
      throw err;
    });
  }
}
