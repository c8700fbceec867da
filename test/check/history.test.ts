// The history recorder: times from the injected clock, exactly one completion
// per operation, results checked and copied, and readable descriptions.

import { describe, expect, it } from 'vitest';

import { HistoryRecorder, describeOp, formatPayload } from './history.js';
import { checkHistory } from './linearizability.js';

function virtualClock(): { now: () => number; set: (t: number) => void } {
  let t = 0;
  return { now: () => t, set: (v) => void (t = v) };
}

describe('HistoryRecorder', () => {
  it('records calls with the clock at invoke and at completion', () => {
    const clock = virtualClock();
    const h = new HistoryRecorder(clock.now);
    clock.set(1);
    const a = h.invoke('c1', { op: 'append', payload: Uint8Array.of(1, 2) });
    const r = h.invoke('c2', { op: 'read', address: 0 });
    clock.set(4);
    a.ok(0);
    clock.set(6);
    r.ok({ kind: 'data', payload: Uint8Array.of(1, 2) });
    const t = h.invoke('c3', { op: 'trim', address: 0 });
    t.ok();
    const ops = h.operations();
    expect(ops.map((op) => [op.id, op.client, op.op, op.invoke, op.end?.at])).toEqual([
      [0, 'c1', 'append', 1, 4],
      [1, 'c2', 'read', 1, 6],
      [2, 'c3', 'trim', 6, 6],
    ]);
    expect(ops[0]!.end).toEqual({ status: 'ok', at: 4, result: 0 });
    expect(checkHistory(ops)).toEqual({ ok: true });
  });

  it('fail and unknown carry an optional error; an op never completed stays pending', () => {
    const h = new HistoryRecorder(() => 7);
    h.invoke('c1', { op: 'fill', address: 3 }).fail('ERR_SEALED');
    h.invoke('c1', { op: 'tail' }).unknown();
    h.invoke('c1', { op: 'read', address: 3 });
    const [fill, tail, read] = h.operations();
    expect(fill!.end).toEqual({ status: 'fail', at: 7, error: 'ERR_SEALED' });
    expect(tail!.end).toEqual({ status: 'unknown', at: 7 });
    expect(read!.end).toBeUndefined();
  });

  it('copies payloads, so a caller reusing its buffer cannot rewrite history', () => {
    const h = new HistoryRecorder(() => 0);
    const buf = Uint8Array.of(1, 2, 3);
    h.invoke('c1', { op: 'append', payload: buf }).ok(0);
    const read = h.invoke('c2', { op: 'read', address: 0 });
    read.ok({ kind: 'data', payload: buf });
    buf[0] = 9;
    const [append, r] = h.operations();
    expect(append!.op === 'append' && [...append!.payload]).toEqual([1, 2, 3]);
    expect(r!.end).toEqual({ status: 'ok', at: 0, result: { kind: 'data', payload: Uint8Array.of(1, 2, 3) } });
  });

  it('a second completion, or a result of the wrong shape, is a harness bug and throws', () => {
    const h = new HistoryRecorder(() => 0);
    const a = h.invoke('c1', { op: 'append', payload: Uint8Array.of(1) });
    a.ok(1);
    expect(() => a.unknown()).toThrow(/completed twice/);
    expect(() => h.invoke('c1', { op: 'append', payload: Uint8Array.of(2) }).ok(-1)).toThrow(/completed ok with -1/);
    expect(() => h.invoke('c1', { op: 'fill', address: 0 }).ok({ kind: 'unwritten' } as never)).toThrow(/fill completed ok/);
    expect(() => h.invoke('c1', { op: 'read', address: 0 }).ok({ kind: 'data' } as never)).toThrow(/read completed ok/);
    expect(() => h.invoke('c1', { op: 'trim', address: 0 }).ok(...([5] as unknown as []))).toThrow(/trim completed ok/);
  });

  it('uses performance.now() by default', () => {
    const h = new HistoryRecorder();
    const before = performance.now();
    h.invoke('c1', { op: 'tail' }).ok(0);
    const op = h.operations()[0]!;
    expect(op.invoke).toBeGreaterThanOrEqual(before);
    expect(op.end!.at).toBeGreaterThanOrEqual(op.invoke);
  });
});

describe('describeOp and formatPayload', () => {
  it('names the client, the call, the outcome and the interval', () => {
    const h = new HistoryRecorder(() => 2);
    h.invoke('c1', { op: 'append', payload: new TextEncoder().encode('hello') }).ok(5);
    h.invoke('c2', { op: 'read', address: 5 }).ok({ kind: 'junk' });
    h.invoke('c3', { op: 'fill', address: 5 }).unknown('timeout');
    h.invoke('c4', { op: 'prefixTrim', address: 9 }).fail('ERR_SEALED');
    h.invoke('c5', { op: 'tail' });
    expect(h.operations().map(describeOp)).toEqual([
      '#0 c1 append("hello") -> 5 [t 2..2]',
      '#1 c2 read(5) -> junk [t 2..2]',
      '#2 c3 fill(5) -> unknown (timeout) [t 2..?]',
      '#3 c4 prefixTrim(9) -> fail (ERR_SEALED) [t 2..2]',
      '#4 c5 tail() -> pending [t 2..?]',
    ]);
  });

  it('shows binary or long payloads as a hex prefix and a length', () => {
    expect(formatPayload(Uint8Array.of(0, 1, 2))).toBe('0x000102(3B)');
    expect(formatPayload(new Uint8Array(40).fill(0x61))).toBe('0x6161616161616161…(40B)');
    expect(formatPayload(new TextEncoder().encode('say "hi"'))).toBe('0x7361792022686922(8B)');
  });
});
