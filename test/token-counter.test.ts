// The sequencer's counter under real contention: several worker_threads take
// tokens from one shared native AtomicU64 at once. Every token must be handed
// out exactly once: no duplicate, no gap.

import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { TokenCounter } from '../bindings/index.js';
import { throwsWith } from './helpers/expect-error.js';

const WORKERS = 4;
const CALLS = 50_000;

interface Taken {
  firsts: Float64Array;
  sizes: Uint8Array;
}

function runWorker(name: string, seed: number, barrier: SharedArrayBuffer): Promise<Taken> {
  const worker = new Worker(new URL('./fixtures/token-worker.mjs', import.meta.url), { workerData: { name, calls: CALLS, seed, barrier } });
  return new Promise((resolve, reject) => {
    worker.once('message', (taken: Taken) => resolve(taken));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

describe('TokenCounter', () => {
  it(`hands ${WORKERS} worker threads x ${CALLS} calls disjoint, gapless ranges`, async () => {
    const name = `test-${process.pid}-${Date.now()}`;
    const start = 1000;
    const main = TokenCounter.shared(name, start);
    expect(main.peek()).toBe(start);

    const barrier = new SharedArrayBuffer(8);
    const gate = new Int32Array(barrier);
    const pending = Array.from({ length: WORKERS }, (_, i) => runWorker(name, 0x9e3779b9 * (i + 1), barrier));
    // Release all workers at once, after every one has loaded the addon.
    while (Atomics.load(gate, 1) < WORKERS) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    const taken = await Promise.all(pending);

    const ranges: Array<[number, number]> = [];
    for (const { firsts, sizes } of taken) for (let i = 0; i < firsts.length; i++) ranges.push([firsts[i]!, sizes[i]!]);
    expect(ranges).toHaveLength(WORKERS * CALLS);
    ranges.sort((a, b) => a[0] - b[0]);

    let expected = start;
    let problems = 0;
    for (const [first, n] of ranges) {
      if (first !== expected) problems++; // a gap (first > expected) or an overlap (first < expected)
      expected = first + n;
    }
    expect(problems).toBe(0);
    expect(main.peek()).toBe(expected);
    // The workers really interleaved: no worker's ranges are one contiguous block.
    const interleaved = taken.filter(({ firsts, sizes }) => firsts[firsts.length - 1]! - firsts[0]! + sizes[sizes.length - 1]! > sizes.reduce((s, n) => s + n, 0));
    expect(interleaved.length).toBeGreaterThan(0);
  });

  it('shares one counter per name, and `start` only applies on creation', () => {
    const name = `shared-${process.pid}-${Date.now()}`;
    const a = TokenCounter.shared(name, 10);
    const b = TokenCounter.shared(name, 99);
    expect(a.next(5)).toBe(10);
    expect(b.next()).toBe(15);
    expect(a.peek()).toBe(16);
  });

  it('keeps private counters private', () => {
    const a = new TokenCounter(5);
    const b = new TokenCounter();
    expect(a.next(3)).toBe(5);
    expect(a.next()).toBe(8);
    expect(a.peek()).toBe(9);
    expect(b.next(2)).toBe(0);
    expect(b.peek()).toBe(2);
  });

  it('rejects bad arguments with ERR_BAD_REQUEST and hands out nothing', () => {
    const c = new TokenCounter();
    throwsWith(() => c.next(0), 'ERR_BAD_REQUEST');
    throwsWith(() => c.next(1.5), 'ERR_BAD_REQUEST');
    throwsWith(() => new TokenCounter(-1), 'ERR_BAD_REQUEST');
    throwsWith(() => TokenCounter.shared(''), 'ERR_BAD_REQUEST');
    expect(c.peek()).toBe(0);
    expect(c.next(1)).toBe(0);
  });
});
