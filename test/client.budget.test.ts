// CallBudget (src/client/budget.ts): a call's deadline and signal, raced by every wait
// inside the call. These are the promises a budget is handed and what becomes of them.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CallBudget } from '../src/client/budget.js';
import { systemClock } from '../src/transport/clock.js';

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
