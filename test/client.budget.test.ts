// CallBudget (src/client/budget.ts): a call's deadline and signal, raced by every wait
// inside the call. These are the promises a budget is handed and what becomes of them.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CallBudget } from '../src/client/budget.js';
import { systemClock, type Clock, type TimerHandle } from '../src/transport/clock.js';

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Lets every pending reaction run, and Node notice unhandled rejections. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

describe('CallBudget.race', () => {
  it('passes a value or an error through while the budget lasts', async () => {
    const b = new CallBudget(systemClock, 'call', 5000);
    await expect(b.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(b.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    b.done();
  });

  it('ends a wait with ERR_ABORTED when the signal fires, and with the call-over error after done()', async () => {
    const ac = new AbortController();
    const b = new CallBudget(systemClock, 'call', 5000, ac.signal);
    const waiting = b.race(new Promise<number>(() => {}));
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'call: aborted' });
    const c = new CallBudget(systemClock, 'other', 5000);
    const left = c.race(new Promise<number>(() => {}));
    c.done();
    await expect(left).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'the call is over: its remaining work is abandoned' });
  });

  it('a promise handed to a budget that already ended may reject later without an unhandled rejection', async () => {
    const ac = new AbortController();
    ac.abort();
    const b = new CallBudget(systemClock, 'call', 5000, ac.signal);
    let reject!: (err: Error) => void;
    const work = new Promise<number>((_, r) => {
      reject = r;
    });
    await expect(b.race(work)).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    reject(new Error('the abandoned work failed later'));
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('a promise that rejects after the budget ran out is handled too', async () => {
    const b = new CallBudget(systemClock, 'call', 5000);
    let reject!: (err: Error) => void;
    const raced = b.race(
      new Promise<number>((_, r) => {
        reject = r;
      }),
    );
    b.done();
    await expect(raced).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    reject(new Error('late'));
    await settle();
    expect(unhandled).toEqual([]);
  });
});

/** A clock whose time moves only when told: timers fire in deadline order, and it counts them. */
class ManualClock implements Clock {
  #now = 0;
  #nextId = 1;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  armed = 0;

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.timers.set(id, { at: this.#now + ms, fn });
    this.armed++;
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Moves time to `to`, firing every timer due on the way, earliest first. */
  advance(to: number): void {
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const t of this.timers) if (t[1].at <= to && (due === undefined || t[1].at < due[1].at)) due = t;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = to;
  }
}

describe('CallBudget deadlines', () => {
  it('checkDeadline ends a budget whose deadline passed before its timer fired (ERR_TIMEOUT), and leaves one with time left alone', () => {
    // A clock whose timers have not fired yet: the bucket runs late, as under load.
    let now = 0;
    const late: Clock = { now: () => now, setTimeout: () => ({}), clearTimeout: () => {} };
    const b = new CallBudget(late, 'ping', 50);
    now = 49;
    expect(() => b.checkDeadline()).not.toThrow();
    expect(b.ended).toBe(false);
    now = 50;
    expect(b.ended).toBe(false);
    expect(() => b.checkDeadline()).toThrow(expect.objectContaining({ code: 'ERR_TIMEOUT', message: 'ping: its deadline of 50 ms passed' }));
    expect(b.ended).toBe(true);
  });

  it('budgets of one length share one timer; each still ends at its own deadline (not a ms later), and one done in time never does', async () => {
    const clock = new ManualClock();
    const ended: [number, number, string][] = [];
    const budgets: CallBudget[] = [];
    // Made 3.1 ms apart from 0.3 ms: deadlines 1000.3, 1003.4, ... (fractions, as on a real clock).
    const madeAt = (i: number): number => 0.3 + i * 3.1;
    for (let i = 0; i < 100; i++) {
      clock.advance(madeAt(i));
      const b = new CallBudget(clock, `call ${i}`, 1000);
      b.onEnd({ fail: (err) => ended.push([i, clock.now(), err.code]) });
      budgets.push(b);
    }
    expect(clock.armed).toBe(1);
    for (let i = 0; i < 100; i += 2) budgets[i]!.done(); // the even calls finish in time
    clock.advance(1150);
    const odd = Array.from({ length: 50 }, (_, k) => 2 * k + 1);
    expect(ended.map(([i]) => i)).toEqual(odd.filter((i) => madeAt(i) + 1000 <= 1150));
    clock.advance(5000);
    expect(ended.map(([i]) => i)).toEqual(odd);
    for (const [i, at, code] of ended) {
      expect(code).toBe('ERR_TIMEOUT');
      expect(Math.abs(at - (madeAt(i) + 1000))).toBeLessThan(1e-6);
    }
    // Nothing runs: the bucket let its timer go.
    expect(clock.timers.size).toBe(0);
    await settle();
  });

  it('holds no timer once every budget of a length is done, and arms one again for the next', () => {
    const clock = new ManualClock();
    const a = new CallBudget(clock, 'a', 500);
    const b = new CallBudget(clock, 'b', 500);
    expect(clock.timers.size).toBe(1);
    a.done();
    b.done();
    expect(clock.timers.size).toBe(0);
    const c = new CallBudget(clock, 'c', 500);
    let error: string | undefined;
    c.onEnd({ fail: (err) => (error = err.message) });
    expect(clock.timers.size).toBe(1);
    clock.advance(499);
    expect(error).toBeUndefined();
    clock.advance(500);
    expect(error).toBe('c: its deadline of 500 ms passed');
    expect(clock.timers.size).toBe(0);
  });
});
