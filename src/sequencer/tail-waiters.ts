// The WAIT_TAIL long polls a sequencer holds until the tail passes what each
// waits for (a follower's way to learn of new entries without polling). Pure:
// the driver owns the sockets and the timers that end a wait; this keeps the
// parked requests, bounded, and says which can be answered after the state
// changed.

import type { Response, WaitTailRequest } from '../wire/messages.js';
import type { Sequencer } from './state.js';

/** Parked long polls per sequencer; one more is answered at once with the current tail. */
export const MAX_PARKED_WAITS = 4096;

/**
 * Whether a request of `op` may make parked polls answerable, so the driver looks at them
 * (TailWaiters.ready) after answering it: a token (TOKEN or STREAM_TOKEN) moves the tail, a
 * SEAL or BOOTSTRAP the epoch. A STREAM_TOKEN left out kept a follower of a log of stream
 * entries waiting out its whole poll for each one (the simulator's `stream-token-wakes-no-poll`).
 */
export function wakesWaiters(op: string): boolean {
  return op === 'TOKEN' || op === 'STREAM_TOKEN' || op === 'SEAL' || op === 'BOOTSTRAP';
}

export interface Parked<T> {
  readonly req: WaitTailRequest;
  /** Who asked: the driver's handle for the connection (and its timer). */
  readonly who: T;
}

export class TailWaiters<T> {
  readonly #max: number;
  #parked: Array<Parked<T>> = [];

  constructor(max = MAX_PARKED_WAITS) {
    this.#max = max;
  }

  get size(): number {
    return this.#parked.length;
  }

  /** Parks `req`; false when the bound is reached (answer it now). */
  park(req: WaitTailRequest, who: T): boolean {
    if (this.#parked.length >= this.#max) return false;
    this.#parked.push({ req, who });
    return true;
  }

  /** The parked polls `seq` can answer now, with their answers, removed from the parked set. */
  ready(seq: Sequencer): Array<Parked<T> & { readonly res: Response }> {
    const out: Array<Parked<T> & { readonly res: Response }> = [];
    const keep: Array<Parked<T>> = [];
    for (const p of this.#parked) {
      const res = seq.waitTail(p.req);
      if (res === undefined) keep.push(p);
      else out.push({ ...p, res });
    }
    this.#parked = keep;
    return out;
  }

  /** Removes the parked polls `drop` picks (their connection closed, or their wait is over); returns them. */
  remove(drop: (p: Parked<T>) => boolean): Array<Parked<T>> {
    const removed = this.#parked.filter(drop);
    if (removed.length > 0) this.#parked = this.#parked.filter((p) => !drop(p));
    return removed;
  }
}
