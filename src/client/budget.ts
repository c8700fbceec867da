// The time budget of one client call: its deadline and the caller's
// AbortSignal. Every wait inside the call (a request, a backoff, the hole
// timer, a token shared with other calls) races the budget, so the whole call
// — resends and refreshes included — ends by its deadline.
//
// How a call that runs out ends says what the caller may assume:
// - ERR_ABORTED: the signal fired (its reason is the cause);
// - ERR_UNAVAILABLE: no server could be reached and nothing that changes state
//   was sent: the call had no effect, retrying is safe;
// - ERR_TIMEOUT: anything else; if a write, fill or trim was sent without a
//   final answer, its outcome is unknown.

import { CorfuError } from '../../bindings/errors.js';
import type { Clock, TimerHandle } from '../transport/clock.js';

/** Per-call options of every CorfuClient method. */
export interface CallOptions {
  /** Abandons the call when it fires (ERR_ABORTED). */
  readonly signal?: AbortSignal;
  /** The whole call's time, ms; default: the client's `deadlineMs`. */
  readonly deadlineMs?: number;
}

/** What a call's leftover work meets once the call is over (nobody waits for it: one shared error). */
const CALL_OVER = new CorfuError('ERR_ABORTED', 'the call is over: its remaining work is abandoned');

/** A deadline this close after the timer counts as reached: `deadline - now`, re-added by the clock, is not exact. */
const FLOAT_SLACK_MS = 1e-6;

/**
 * The deadline timers of one clock's budgets of one length (`deadlineMs`): one timer for
 * all of them, not one per call. Budgets of one length are made in deadline order (the
 * clock is monotonic), so they wait in a FIFO and the timer is armed for the first one
 * still running; a budget done before its deadline stays in the FIFO until the timer
 * passes it (or a compaction drops it). A setTimeout and a clearTimeout per call were a
 * measurable share of the client's CPU per append at high depth (docs/benchmarks.md).
 * With no budget running the bucket drops its timer and itself: an idle client holds
 * no timer, and a running call keeps the process alive as its own timer did.
 */
class DeadlineBucket {
  static readonly #byClock = new WeakMap<Clock, Map<number, DeadlineBucket>>();

  static for(clock: Clock, deadlineMs: number): DeadlineBucket {
    let buckets = DeadlineBucket.#byClock.get(clock);
    if (buckets === undefined) DeadlineBucket.#byClock.set(clock, (buckets = new Map<number, DeadlineBucket>()));
    let bucket = buckets.get(deadlineMs);
    if (bucket === undefined) buckets.set(deadlineMs, (bucket = new DeadlineBucket(clock, deadlineMs, buckets)));
    return bucket;
  }

  readonly #clock: Clock;
  readonly #deadlineMs: number;
  readonly #buckets: Map<number, DeadlineBucket>;
  /** Budgets in deadline order from #head; those no longer held (done) are skipped, removed lazily. */
  #items: CallBudget[] = [];
  #head = 0;
  /** Budgets added and neither done nor expired. */
  #live = 0;
  #timer: TimerHandle | undefined;
  #firing = false;

  private constructor(clock: Clock, deadlineMs: number, buckets: Map<number, DeadlineBucket>) {
    this.#clock = clock;
    this.#deadlineMs = deadlineMs;
    this.#buckets = buckets;
  }

  add(budget: CallBudget): void {
    this.#items.push(budget);
    this.#live++;
    if (this.#timer === undefined && !this.#firing) this.#arm(this.#deadlineMs);
    else if (this.#items.length - this.#head > 2 * this.#live + 1024) this.#compact();
  }

  /** A budget that ended before its deadline. */
  remove(): void {
    this.#live--;
    if (this.#live === 0 && !this.#firing) this.#idle();
  }

  /** Not rounded up to whole ms: that, and float error in `deadline - now`, made calls end a ms late (the simulator's deadline check). */
  #arm(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(1, delayMs));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firing = true;
    const now = this.#clock.now();
    let next: CallBudget | undefined;
    while (this.#head < this.#items.length) {
      const budget = this.#items[this.#head]!;
      if (budget.held && budget.deadline - now > FLOAT_SLACK_MS) {
        next = budget;
        break;
      }
      this.#head++;
      if (budget.held) {
        this.#live--;
        budget.expire();
      }
    }
    this.#firing = false;
    if (this.#live === 0) {
      this.#idle();
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) this.#compact();
    // Budgets added while expiring others come after `next` (later deadlines).
    this.#arm((next ?? this.#items[this.#head]!).deadline - now);
  }

  #compact(): void {
    const live: CallBudget[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const budget = this.#items[i]!;
      if (budget.held) live.push(budget);
    }
    // The old array may be in the old generation, where its slots would keep the budgets
    // they held alive through scavenges until the next full collection: the kind of
    // pointer that put the client in a mode of constant full collections when the append
    // path's Map left it (OutcomeRouter, append-path.ts). Measured alone, this one did not
    // (docs/benchmarks.md, "The busy mode found"); emptying costs nothing.
    this.#items.length = 0;
    this.#items = live;
    this.#head = 0;
  }

  #idle(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#items.length = 0;
    this.#items = [];
    this.#head = 0;
    if (this.#buckets.get(this.#deadlineMs) === this) this.#buckets.delete(this.#deadlineMs);
  }
}

/** A call that settles its own promise (CallBudget.onEnd): an object, so the call needs no closure for it. */
export interface CallEnd {
  fail(err: CorfuError): void;
}

export class CallBudget {
  readonly what: string;
  readonly deadlineMs: number;
  /** When the call must end, on the clock's time line. */
  readonly deadline: number;
  /** A request that changes state (write, fill, trim) was sent without a final answer. */
  mayHaveEffect = false;
  /** The last "no server answered" of this call, the cause if it runs out. */
  lastUnavailable: CorfuError | undefined;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  /** Holds this budget until its deadline; undefined once it ended. */
  #bucket: DeadlineBucket | undefined;
  #onAbort: (() => void) | undefined;
  #error: CorfuError | undefined;
  /** The races in progress: each rejects when the budget ends. (Made by the first race: most calls race once or never.) */
  #waiters: Set<(err: CorfuError) => void> | undefined;
  /** The call's own end (onEnd): told when the budget runs out, dropped when the call is done. */
  #onEnd: CallEnd | undefined;

  constructor(clock: Clock, what: string, deadlineMs: number, signal?: AbortSignal) {
    this.what = what;
    this.deadlineMs = deadlineMs;
    this.#clock = clock;
    this.#signal = signal;
    this.deadline = clock.now() + deadlineMs;
    if (signal?.aborted === true) {
      this.#end(this.#aborted());
      return;
    }
    this.#bucket = DeadlineBucket.for(clock, deadlineMs);
    this.#bucket.add(this);
    if (signal !== undefined) {
      this.#onAbort = () => this.#end(this.#aborted());
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** Waits for its deadline in a DeadlineBucket (neither done nor expired). */
  get held(): boolean {
    return this.#bucket !== undefined;
  }

  /** Its deadline passed (DeadlineBucket, which has already let go of it). */
  expire(): void {
    this.#bucket = undefined;
    this.#end(this.#expired());
  }

  /** Milliseconds left (0 once the deadline passed). */
  remaining(): number {
    return Math.max(0, this.deadline - this.#clock.now());
  }

  /** Whether the budget has run out (or the call is over). */
  get ended(): boolean {
    return this.#error !== undefined;
  }

  /** Throws the budget's error if it has run out. */
  check(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /**
   * As `check`, and a deadline already past ends the budget now: its bucket's timer may
   * fire a little after it, while a request timed to the deadline (`requestTimeout`)
   * fails first. A call that reads such a failure as a server's must ask this first, or
   * it reports the server where its deadline passed.
   */
  checkDeadline(): void {
    if (this.#error === undefined && this.remaining() === 0) {
      this.#bucket?.remove();
      this.#bucket = undefined;
      this.#end(this.#expired());
    }
    this.check();
  }

  /**
   * `p`, unless the budget runs out first. Not Promise.race with the pending end: each call
   * would leave a reaction on it for the budget's whole life (a long call that resends for
   * minutes piled up gigabytes in the simulator); a waiter is removed as soon as `p` settles.
   */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.#error !== undefined) {
      // `p` is abandoned, but may still reject: without a handler that would be an
      // unhandled rejection, which ends a Node process by default.
      p.catch(() => {});
      return Promise.reject(this.#error);
    }
    return new Promise<T>((resolve, reject) => {
      const waiters = (this.#waiters ??= new Set());
      waiters.add(reject);
      p.then(
        (value) => {
          waiters.delete(reject);
          resolve(value);
        },
        (err: unknown) => {
          waiters.delete(reject);
          reject(err);
        },
      );
    });
  }

  /**
   * Tells `call` the budget's error when it runs out (deadline, signal) before `done()`:
   * what `race` does for a promise, for a call that settles its own promise (one per
   * budget; `CorfuClient.append`). `done()` drops it without calling it.
   */
  onEnd(call: CallEnd): void {
    if (this.#error !== undefined) {
      call.fail(this.#error);
      return;
    }
    this.#onEnd = call;
  }

  /** Waits `ms`, or until the budget runs out (then rejects). */
  sleep(ms: number): Promise<void> {
    return this.race(new Promise<void>((resolve) => this.#clock.setTimeout(resolve, Math.min(ms, this.remaining()))));
  }

  /** A request timeout that ends by the deadline: the smaller of `timeoutMs` and what is left. */
  requestTimeout(timeoutMs: number): number {
    this.check();
    return Math.max(1, Math.min(timeoutMs, Math.ceil(this.remaining())));
  }

  /**
   * Releases the deadline and the abort listener; call when the call is over. Whatever the
   * call still has running ends too: a branch of a Promise.all that failed fast (one unit
   * answered an error while another does not answer) has its waits rejected and sends
   * nothing more. Before, such a branch resent every millisecond forever: its deadline had
   * passed, but with the timer released the budget never ran out (the simulator's
   * `budget-outlives-call`).
   */
  done(): void {
    this.#bucket?.remove();
    this.#bucket = undefined;
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    this.#onEnd = undefined;
    if (this.#error === undefined) {
      this.#error = CALL_OVER;
      // Not `?? []`: an array and its iterator per call, for the calls (most) that never raced.
      if (this.#waiters !== undefined) {
        for (const reject of this.#waiters) reject(CALL_OVER);
        this.#waiters.clear();
      }
    }
  }

  #end(error: CorfuError): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    const onEnd = this.#onEnd;
    this.done();
    onEnd?.fail(error);
    for (const reject of this.#waiters ?? []) reject(error);
    this.#waiters?.clear();
  }

  #aborted(): CorfuError {
    const effect = this.mayHaveEffect ? '; what it sent may have taken effect' : '';
    return new CorfuError('ERR_ABORTED', `${this.what}: aborted${effect}`, { cause: this.#signal?.reason });
  }

  #expired(): CorfuError {
    const cause = this.lastUnavailable;
    if (!this.mayHaveEffect && cause !== undefined) {
      return new CorfuError('ERR_UNAVAILABLE', `${this.what}: no answer within its deadline of ${this.deadlineMs} ms (last: ${cause.message})`, { cause });
    }
    const effect = this.mayHaveEffect ? '; what it sent may have taken effect' : '';
    return new CorfuError('ERR_TIMEOUT', `${this.what}: its deadline of ${this.deadlineMs} ms passed${effect}`, cause === undefined ? {} : { cause });
  }
}
