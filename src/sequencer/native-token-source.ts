// The native lock-free counter (bindings/token-counter.ts) behind the
// TokenSource interface. The addon is loaded when the first one is made, so
// importing this module costs nothing.

import { TokenCounter } from '../../bindings/token-counter.js';
import type { TokenSource } from './state.js';

export class NativeTokenSource implements TokenSource {
  #counter: TokenCounter;

  constructor(start = 0) {
    this.#counter = new TokenCounter(start);
  }

  next(n: number): number {
    return this.#counter.next(n);
  }

  peek(): number {
    return this.#counter.peek();
  }

  /** The native counter only counts up, so a reset swaps in a fresh counter at `start`. */
  reset(start: number): void {
    this.#counter = new TokenCounter(start);
  }
}
