// A sanity run at the scale the simulator and fault runs produce: 100,000
// operations over 20,000 addresses, many clients overlapping. It must finish
// (the checker is O(n log n)); the time is printed, never asserted, because
// these machines are noisy.

import { describe, expect, it } from 'vitest';

import { HistoryRecorder } from './history.js';
import type { Call, Operation, ReadResult } from './history.js';
import { checkHistory } from './linearizability.js';

/** mulberry32: a small seeded PRNG, so the history is the same every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A legal history: each op takes effect at a random point inside its interval,
 * against a sequential log (a token counter and write-once cells).
 */
function bigHistory(ops: number, seed: number): readonly Operation[] {
  const random = rng(seed);
  const planned = Array.from({ length: ops }, (_, i) => {
    const invoke = i * 0.5 + random() * 20; // about 40 operations in flight
    const end = invoke + random() * 10;
    return { i, invoke, end, point: invoke + random() * (end - invoke), roll: random(), pick: random() };
  });
  const steps = [...planned].sort((a, b) => a.point - b.point);
  const cells = new Map<number, ReadResult>();
  let tail = 0;
  const calls = new Array<{ call: Call; result: unknown; status: 'ok' | 'unknown' }>(ops);
  for (const p of steps) {
    const target = Math.floor(p.pick * (tail + 2)); // sometimes just past the tail: unwritten
    let call: Call;
    let result: unknown;
    let status: 'ok' | 'unknown' = 'ok';
    if (p.roll < 0.2) {
      call = { op: 'append', payload: new TextEncoder().encode(`payload-${p.i}`) };
      cells.set(tail, { kind: 'data', payload: call.payload });
      result = tail++;
      if (p.roll < 0.005) status = 'unknown'; // took effect, but the client timed out
    } else if (p.roll < 0.22) {
      call = { op: 'fill', address: target };
      if (!cells.has(target)) cells.set(target, { kind: 'junk' });
      result = cells.get(target);
      tail = Math.max(tail, target + 1);
    } else if (p.roll < 0.225 && target < tail) {
      // Only written or handed-out addresses: a trimmed token would make the next append fail.
      call = { op: 'trim', address: target };
      cells.set(target, { kind: 'trimmed' });
    } else if (p.roll < 0.35) {
      call = { op: 'tail' };
      result = tail;
    } else {
      call = { op: 'read', address: target };
      result = cells.get(target) ?? { kind: 'unwritten' };
    }
    calls[p.i] = { call, result, status };
  }
  // Record in invoke order, with the clock set to each event's time.
  let now = 0;
  const h = new HistoryRecorder(() => now);
  const events = planned.flatMap((p) => [
    { t: p.invoke, i: p.i, start: true },
    { t: p.end, i: p.i, start: false },
  ]);
  events.sort((a, b) => a.t - b.t || Number(b.start) - Number(a.start));
  const pending = new Array<ReturnType<HistoryRecorder['invoke']>>(ops);
  for (const e of events) {
    now = e.t;
    const c = calls[e.i]!;
    if (e.start) pending[e.i] = h.invoke(`c${e.i % 40}`, c.call);
    else if (c.status === 'unknown') pending[e.i]!.unknown('timeout');
    else (pending[e.i]!.ok as (r?: unknown) => void)(c.result);
  }
  return h.operations();
}

describe('checker performance', () => {
  it('checks 100,000 operations over ~20,000 addresses', () => {
    const history = bigHistory(100_000, 7);
    const addresses = new Set(history.flatMap((op) => (op.op === 'append' && op.end?.status === 'ok' ? [op.end.result] : [])));
    expect(addresses.size).toBeGreaterThan(19_000);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = checkHistory(history);
    const cpu = process.cpuUsage(cpu0);
    const ms = performance.now() - t0;
    // CPU time too: on a shared 2-vCPU box the wall clock mostly measures the neighbours.
    console.log(`checked ${history.length} operations over ${addresses.size} appended addresses in ${ms.toFixed(0)} ms ` + `(${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU, cold)`);
    expect(result).toEqual({ ok: true });
  });

  it('finds one planted stale read among 100,000 operations', () => {
    const history = [...bigHistory(100_000, 11)];
    // A read that began after an acknowledged append completed, reporting unwritten.
    const append = history.find((op) => op.op === 'append' && op.end?.status === 'ok' && op.id > 50_000)!;
    if (append.op !== 'append' || append.end?.status !== 'ok') throw new Error('no append found');
    const at = append.end.at + 1;
    history.push({ id: history.length, client: 'planted', op: 'read', address: append.end.result, invoke: at, end: { status: 'ok', at: at + 1, result: { kind: 'unwritten' } } });
    const result = checkHistory(history);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.violations.map((v) => [v.kind, v.address])).toEqual([['stale-read', append.end.result]]);
  });
});
