// The sequencer's token counter: one AtomicU64 in Rust. `next(n)` is a single
// fetch_add, so it is safe from any number of worker_threads at once when they
// share it by name.

import { loadNative } from './native.js';
import { callSync } from './native-errors.js';
import type { NativeTokenCounterInstance } from './native-types.js';
import { checkPath, checkPosition, checkPositiveInt } from './validate.js';

// Set by `shared()` for the one synchronous constructor call that follows, so
// the public constructor keeps its plain `(start?)` signature.
let adopting: NativeTokenCounterInstance | undefined;

export class TokenCounter {
  readonly #native: NativeTokenCounterInstance;

  /** A counter private to this object, starting at `start` (default 0). */
  constructor(start = 0) {
    if (adopting !== undefined) {
      this.#native = adopting;
      adopting = undefined;
      return;
    }
    checkPosition(start, 'start');
    this.#native = callSync(() => new (loadNative().TokenCounter)(start));
  }

  /**
   * The process-wide counter called `name`: every worker thread asking for the
   * same name gets the same atomic. `start` applies only to the call that
   * creates it.
   */
  static shared(name: string, start = 0): TokenCounter {
    checkPath(name, 'name');
    checkPosition(start, 'start');
    adopting = callSync(() => loadNative().TokenCounter.shared(name, start));
    return new TokenCounter();
  }

  /** Reserves `n` consecutive tokens and returns the first. */
  next(n = 1): number {
    checkPositiveInt(n, 'n');
    return callSync(() => this.#native.next(n));
  }

  /** The next token that would be handed out, without taking it. */
  peek(): number {
    return callSync(() => this.#native.peek());
  }
}
