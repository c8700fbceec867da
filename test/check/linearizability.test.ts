// Hand-written histories for the checker: one or more per violation kind, and
// the tricky legal ones a too-strict checker would reject (a reader seeing a
// value before the append is acknowledged, an unknown append observed later,
// a read of unwritten concurrent with the write, a fill beating a slow append).

import { describe, expect, it } from 'vitest';

import type { Operation } from './history.js';
import { assertLinearizable, checkHistory, formatViolations } from './linearizability.js';
import type { CheckOptions, ViolationKind } from './linearizability.js';

// ---- a little language for histories -------------------------------------------------
// Outcomes: a number (append's address, tail), a payload string (data read), or one
// of the words below. Intervals are [invoke, end]; unknown and pending ignore `end`.

type Word = 'junk' | 'trimmed' | 'unwritten' | 'ok' | 'fail' | 'unknown' | 'pending';
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

class H {
  readonly ops: Operation[] = [];

  #add(client: string, call: Record<string, unknown>, [invoke, at]: [number, number], outcome: number | string, result: () => unknown): this {
    const op: Record<string, unknown> = { id: this.ops.length, client, ...call, invoke };
    if (outcome === 'fail' || outcome === 'unknown') op['end'] = { status: outcome, at };
    else if (outcome !== 'pending') op['end'] = { status: 'ok', at, result: result() };
    this.ops.push(op as unknown as Operation);
    return this;
  }

  append(client: string, payload: string, t: [number, number], outcome: number | 'fail' | 'unknown' | 'pending'): this {
    return this.#add(client, { op: 'append', payload: bytes(payload) }, t, outcome, () => outcome);
  }

  read(client: string, address: number, t: [number, number], outcome: string): this {
    return this.#add(client, { op: 'read', address }, t, outcome, () => value(outcome));
  }

  fill(client: string, address: number, t: [number, number], outcome: string): this {
    return this.#add(client, { op: 'fill', address }, t, outcome, () => value(outcome));
  }

  trim(client: string, address: number, t: [number, number], outcome: 'ok' | 'fail' | 'unknown' = 'ok'): this {
    return this.#add(client, { op: 'trim', address }, t, outcome, () => undefined);
  }

  prefixTrim(client: string, address: number, t: [number, number], outcome: 'ok' | 'fail' | 'unknown' = 'ok'): this {
    return this.#add(client, { op: 'prefixTrim', address }, t, outcome, () => undefined);
  }

  tail(client: string, t: [number, number], outcome: number | 'fail' | 'unknown'): this {
    return this.#add(client, { op: 'tail' }, t, outcome, () => outcome);
  }
}

function value(outcome: string): unknown {
  const words: readonly Word[] = ['junk', 'trimmed', 'unwritten'];
  return (words as readonly string[]).includes(outcome) ? { kind: outcome } : { kind: 'data', payload: bytes(outcome) };
}

function expectOk(h: H, options?: CheckOptions): void {
  const result = checkHistory(h.ops, options);
  if (!result.ok) throw new Error(`expected linearizable, got:\n${formatViolations(result.violations)}`);
}

/** Exactly the given kinds (in any order); returns the violations for further checks. */
function expectViolations(h: H, kinds: ViolationKind[], options?: CheckOptions) {
  const result = checkHistory(h.ops, options);
  if (result.ok) throw new Error(`expected ${kinds.join(', ')}, but the history checked ok`);
  expect(result.violations.map((v) => v.kind).sort()).toEqual([...kinds].sort());
  return result.violations;
}

// ---- legal histories ------------------------------------------------------------------

describe('legal histories', () => {
  it('sequential append, read, fill and tail', () => {
    expectOk(new H().append('c1', 'a', [0, 1], 0).read('c2', 0, [2, 3], 'a').fill('c3', 0, [4, 5], 'a').tail('c1', [6, 7], 1));
  });

  it('a concurrent read sees the value before the append is acknowledged', () => {
    expectOk(new H().append('c1', 'a', [0, 10], 0).read('c2', 0, [2, 3], 'a').read('c3', 0, [4, 5], 'a'));
  });

  it('an unknown append is later observed at an address', () => {
    expectOk(new H().append('c1', 'a', [0, 5], 'unknown').read('c2', 7, [20, 21], 'a').read('c3', 7, [22, 23], 'a'));
  });

  it('a pending append (never completed) counts as unknown', () => {
    expectOk(new H().append('c1', 'a', [0, 0], 'pending').read('c2', 3, [20, 21], 'a'));
  });

  it('a read of unwritten concurrent with the write, before or after another read saw the value', () => {
    expectOk(
      new H()
        .append('c1', 'a', [0, 10], 0)
        .read('c2', 0, [5, 12], 'unwritten') // overlaps the append: may be ordered first
        .read('c3', 0, [1, 3], 'unwritten'),
    );
    // A read of unwritten overlapping a read that saw the value: the unwritten one goes first.
    expectOk(new H().append('c1', 'a', [0, 10], 0).read('c2', 0, [2, 4], 'a').read('c3', 0, [3, 6], 'unwritten'));
  });

  it('unwritten then value, in real-time order', () => {
    expectOk(new H().read('c2', 0, [0, 1], 'unwritten').append('c1', 'a', [2, 3], 0).read('c2', 0, [4, 5], 'a'));
  });

  it('a fill wins over a slow append, which takes a new address', () => {
    expectOk(
      new H()
        .append('c1', 'a', [0, 10], 1) // its first token was 0; the filler got there first
        .fill('c2', 0, [2, 3], 'junk')
        .read('c3', 0, [4, 5], 'junk')
        .read('c3', 1, [11, 12], 'a'),
    );
  });

  it('a fill that lost to an append returns the data, and the append is acknowledged there', () => {
    expectOk(new H().append('c1', 'a', [0, 10], 0).fill('c2', 0, [2, 3], 'a').read('c3', 0, [4, 5], 'a'));
  });

  it('two concurrent fills both return junk; an unknown fill may have written junk', () => {
    expectOk(new H().fill('c1', 0, [0, 5], 'junk').fill('c2', 0, [1, 4], 'junk'));
    expectOk(new H().fill('c1', 0, [0, 1], 'unknown').read('c2', 0, [9, 10], 'junk'));
  });

  it('failed operations have no effect', () => {
    expectOk(new H().append('c1', 'a', [0, 1], 'fail').fill('c1', 0, [0, 1], 'fail').trim('c1', 0, [0, 1], 'fail').read('c2', 0, [2, 3], 'unwritten').read('c2', 0, [2, 3], 'fail'));
  });

  it('reads concurrent with a trim may see the value or trimmed, then trimmed', () => {
    expectOk(new H().append('c1', 'a', [0, 1], 0).trim('c2', 0, [5, 10]).read('c3', 0, [6, 7], 'a').read('c4', 0, [7, 8], 'trimmed').read('c3', 0, [11, 12], 'trimmed'));
  });

  it('an unknown trim may explain trimmed; a prefix trim trims every address below its bound', () => {
    expectOk(new H().trim('c1', 3, [0, 1], 'unknown').read('c2', 3, [20, 21], 'trimmed'));
    expectOk(new H().append('c1', 'a', [0, 1], 4).prefixTrim('c2', 5, [2, 3]).read('c3', 4, [4, 5], 'trimmed').fill('c3', 0, [4, 5], 'trimmed').read('c3', 5, [4, 5], 'unwritten'));
  });

  it('a trimmed address that was never written', () => {
    expectOk(new H().trim('c1', 2, [0, 1]).read('c2', 2, [2, 3], 'trimmed').fill('c3', 2, [4, 5], 'trimmed'));
  });

  it('tail: concurrent writes need not be counted; tails may go down (sequencer failover)', () => {
    expectOk(
      new H()
        .append('c1', 'a', [0, 5], 9)
        .tail('c2', [5, 6], 3) // began at the same instant the append ended: concurrent
        .append('c1', 'b', [6, 7], 10)
        .tail('c2', [8, 9], 20)
        .tail('c3', [10, 11], 11), // below the earlier 20, still above every written address
    );
  });

  it('readsMayFill: a client read that returns junk filled the hole itself', () => {
    const h = new H().read('c1', 0, [0, 1], 'junk');
    expectViolations(h, ['value-from-nowhere']);
    expectOk(h, { readsMayFill: true });
  });
});

// ---- violations -----------------------------------------------------------------------

describe('violations', () => {
  it('usage: appends with equal payloads, an end before the invoke, a bad address, a fill reporting unwritten', () => {
    const [v] = expectViolations(new H().append('c1', 'a', [0, 1], 0).append('c2', 'a', [0, 1], 1), ['usage']);
    expect(v!.message).toContain('unique payloads');
    expectViolations(new H().read('c1', 0, [5, 4], 'unwritten'), ['usage']);
    expectViolations(new H().read('c1', -1, [0, 1], 'unwritten').read('c1', 1.5, [0, 1], 'unwritten'), ['usage', 'usage']);
    expectViolations(new H().fill('c1', 0, [0, 1], 'unwritten'), ['usage']);
    expectViolations(new H().append('c1', 'a', [0, 1], -3), ['usage']);
  });

  it('duplicate-address: two appends acknowledged at one address', () => {
    const [v] = expectViolations(new H().append('c1', 'a', [0, 1], 3).append('c2', 'b', [0, 1], 3), ['duplicate-address']);
    expect(v!.address).toBe(3);
    expect(v!.message).toContain('#0 c1 append("a") -> 3 [t 0..1]');
    expect(v!.message).toContain('#1 c2 append("b") -> 3 [t 0..1]');
  });

  it('payload-at-two-addresses: acknowledged at one address and read at another, or an unknown append seen twice', () => {
    expectViolations(new H().append('c1', 'a', [0, 1], 3).read('c2', 4, [2, 3], 'a'), ['payload-at-two-addresses']);
    expectViolations(new H().append('c1', 'a', [0, 1], 'unknown').read('c2', 4, [2, 3], 'a').fill('c3', 5, [2, 3], 'a'), ['payload-at-two-addresses']);
  });

  it('conflicting-values: two reads disagree; a fill beat the append that was still acknowledged there', () => {
    const [v] = expectViolations(new H().append('c1', 'a', [0, 1], 'unknown').append('c1', 'b', [0, 1], 'unknown').read('c2', 0, [2, 3], 'a').read('c3', 0, [4, 5], 'b'), ['conflicting-values']);
    expect(v!.message).toMatch(/address 0: holds 2 different values.*c2 read\(0\) -> data "a".*c3 read\(0\) -> data "b"/);
    expectViolations(new H().append('c1', 'a', [0, 10], 0).fill('c2', 0, [2, 3], 'junk'), ['conflicting-values']);
  });

  it('value-from-nowhere: no append wrote it, its append failed, or it was seen before the append began', () => {
    expectViolations(new H().read('c1', 0, [0, 1], 'ghost'), ['value-from-nowhere']);
    expectViolations(new H().append('c1', 'a', [0, 1], 'fail').read('c2', 0, [2, 3], 'a'), ['value-from-nowhere']);
    const [v] = expectViolations(new H().read('c2', 0, [0, 1], 'a').append('c1', 'a', [2, 3], 'unknown'), ['value-from-nowhere']);
    expect(v!.message).toContain('saw the value before');
    expectViolations(new H().read('c2', 0, [0, 1], 'junk').fill('c1', 0, [2, 3], 'junk'), ['value-from-nowhere']);
  });

  it('stale-read: unwritten after the value was written or seen', () => {
    const [v] = expectViolations(new H().append('c1', 'a', [0, 1], 0).read('c2', 0, [2, 3], 'unwritten'), ['stale-read']);
    expect(v!.message).toBe('address 0: #1 c2 read(0) -> unwritten [t 2..3] returned unwritten, but it began after #0 c1 append("a") -> 0 [t 0..1] had completed, which wrote it');
    // The value was seen while the append was still in flight: a later unwritten is stale all the same.
    expectViolations(new H().append('c1', 'a', [0, 10], 0).read('c2', 0, [1, 2], 'a').read('c3', 0, [3, 4], 'unwritten'), ['stale-read']);
  });

  it('stale-read: a value after the trim completed, or after another read saw trimmed', () => {
    expectViolations(new H().append('c1', 'a', [0, 1], 0).trim('c2', 0, [2, 3]).read('c3', 0, [4, 5], 'a'), ['stale-read']);
    expectViolations(new H().append('c1', 'a', [0, 1], 0).trim('c2', 0, [2, 10]).read('c3', 0, [3, 4], 'trimmed').read('c4', 0, [5, 6], 'a'), ['stale-read']);
    // An earlier unknown trim may be the first trim, but the acknowledged prefix trim still bounds the read.
    expectViolations(new H().append('c1', 'a', [0, 1], 0).trim('c2', 0, [2, 3], 'unknown').prefixTrim('c3', 5, [3, 4]).read('c4', 0, [5, 6], 'a'), ['stale-read']);
  });

  it('trimmed-from-nowhere: trimmed with no trim, or before any trim began', () => {
    expectViolations(new H().read('c1', 0, [0, 1], 'trimmed'), ['trimmed-from-nowhere']);
    expectViolations(new H().read('c1', 0, [0, 1], 'trimmed').trim('c2', 0, [2, 3]), ['trimmed-from-nowhere']);
    // A prefix trim does not cover its own bound.
    expectViolations(new H().prefixTrim('c2', 5, [0, 1]).read('c1', 5, [2, 3], 'trimmed'), ['trimmed-from-nowhere']);
  });

  it('write-after-trim: an append acknowledged at an address trimmed before it began', () => {
    expectViolations(new H().trim('c1', 0, [0, 1]).append('c2', 'a', [2, 3], 0), ['write-after-trim']);
    expectViolations(new H().prefixTrim('c1', 10, [0, 1]).append('c2', 'a', [2, 3], 4), ['write-after-trim']);
  });

  it('tail-too-low: tail at or below an address written (append, fill, or read of a value) before it began', () => {
    const [v] = expectViolations(new H().append('c1', 'a', [0, 1], 5).tail('c2', [2, 3], 5), ['tail-too-low']);
    expect(v!.message).toContain('tail must be > 5');
    expectViolations(new H().append('c1', 'a', [0, 1], 'unknown').read('c2', 9, [2, 3], 'a').tail('c3', [4, 5], 9), ['tail-too-low']);
    expectViolations(new H().fill('c1', 7, [0, 1], 'junk').tail('c3', [4, 5], 2), ['tail-too-low']);
    expectOk(new H().fill('c1', 7, [0, 1], 'junk').tail('c3', [4, 5], 8));
  });

  it('tail-too-low: an address that holds a value was trimmed before tail began (the write preceded the trim)', () => {
    // Found by the brute-force cross-check: nothing read the value, but the append was
    // acknowledged at 1, so it wrote before the prefix trim (a trimmed address refuses writes).
    const h = new H().append('c1', 'a', [0, 0], 0).append('c2', 'b', [0, 2], 1).prefixTrim('c3', 2, [1, 1]).tail('c4', [2, 2], 1);
    const [v] = expectViolations(h, ['tail-too-low']);
    expect(v!.message).toContain('prefixTrim(2)');
    expectViolations(new H().append('c1', 'a', [0, 9], 5).trim('c2', 5, [1, 2]).tail('c3', [3, 4], 5), ['tail-too-low']);
    expectViolations(new H().append('c1', 'a', [0, 9], 5).trim('c4', 5, [0, 0], 'unknown').read('c2', 5, [1, 2], 'trimmed').tail('c3', [3, 4], 5), ['tail-too-low']);
    // Concurrent with the trim, or at an address that may never have held a value: no proof.
    expectOk(new H().append('c1', 'a', [0, 9], 5).trim('c2', 5, [1, 4]).tail('c3', [3, 4], 5));
    expectOk(new H().append('c1', 'a', [0, 9], 'unknown').trim('c2', 5, [1, 2]).tail('c3', [3, 4], 5));
  });

  it('a prefix of a run (pending operations) already shows a violation', () => {
    const h = new H().append('c1', 'a', [0, 1], 0).read('c2', 0, [2, 3], 'a').read('c3', 0, [4, 0], 'pending').read('c4', 0, [5, 6], 'unwritten');
    expectViolations(h, ['stale-read']);
  });

  it('one violation per address; independent addresses report independently', () => {
    const h = new H().append('c1', 'a', [0, 1], 0).read('c2', 0, [2, 3], 'unwritten').read('c2', 0, [4, 5], 'unwritten').read('c3', 1, [0, 1], 'trimmed');
    const vs = expectViolations(h, ['stale-read', 'trimmed-from-nowhere']);
    expect(vs.map((v) => v.address)).toEqual([0, 1]);
  });

  it('assertLinearizable throws with the list', () => {
    expect(() => assertLinearizable(new H().read('c1', 0, [0, 1], 'trimmed').ops)).toThrow(/not linearizable:\n- \[trimmed-from-nowhere @0\]/);
    expect(() => assertLinearizable(new H().read('c1', 0, [0, 1], 'unwritten').ops)).not.toThrow();
  });
});
