// The projection schema and the pure address mapping: property tests over
// generated valid projections, and one rejected example per kind of invalid one.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/errors.js';
import { InvariantError } from '../bindings/invariant.js';
import { chainFor, headOf, locate, parseProjection, projectionsEqual, stripeAddresses, tailOf, type Projection } from '../src/layout/index.js';
import { throwsWith } from './helpers/expect-error.js';

/** How far past `start` the tests walk in an open last segment. */
const OPEN_SPAN = 64;

const unitName = (i: number): string => `10.0.0.${i + 1}:${7000 + i}`;

/** A valid projection (as plain JSON data), with 1..4 segments of 1..5 stripes each. */
const projectionArb: fc.Arbitrary<Projection> = fc
  .record({
    epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    unitCount: fc.integer({ min: 1, max: 8 }),
    first: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_000_000 }), fc.constant(Number.MAX_SAFE_INTEGER - 10_000)),
    lengths: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 4 }),
    open: fc.boolean(),
    seed: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
  })
  .map(({ epoch, unitCount, first, lengths, open, seed }) => {
    const units = Array.from({ length: unitCount }, (_, i) => unitName(i));
    let k = 0;
    const next = (): number => seed[k++ % seed.length]!;
    let start = first;
    const segments = lengths.map((len, s) => {
      const stripeCount = 1 + (next() % 5);
      const stripes = Array.from({ length: stripeCount }, () => {
        // A chain: 1..3 distinct units, rotated from a random offset.
        const size = 1 + (next() % Math.min(3, unitCount));
        const offset = next() % unitCount;
        return { chain: Array.from({ length: size }, (_, c) => units[(offset + c) % unitCount]!) };
      });
      const last = s === lengths.length - 1;
      const segment = { start, end: last && open ? null : start + len, stripes };
      start += len;
      return segment;
    });
    return parseProjection({ epoch, sequencer: 'localhost:9000', units, segments });
  });

/** The addresses the tests walk in segment `s`: all of a closed one, OPEN_SPAN of an open one. */
function span(p: Projection, s: number): [number, number] {
  const seg = p.segments[s]!;
  return [seg.start, seg.end ?? seg.start + OPEN_SPAN];
}

describe('address mapping (property)', () => {
  it('every address of a segment maps to exactly one stripe, at (address - start) mod stripes', () => {
    fc.assert(
      fc.property(projectionArb, (p) => {
        p.segments.forEach((seg, s) => {
          const [lo, hi] = span(p, s);
          const n = seg.stripes.length;
          // stripeAddresses over all stripes partitions [lo, hi).
          const owner = new Map<number, number>();
          for (let t = 0; t < n; t++) {
            for (const a of stripeAddresses(p, s, t, lo, hi)) {
              expect(owner.has(a)).toBe(false);
              owner.set(a, t);
            }
          }
          expect(owner.size).toBe(hi - lo);
          for (let a = lo; a < hi; a++) {
            const loc = locate(p, a);
            expect(loc.segmentIndex).toBe(s);
            expect(loc.stripeIndex).toBe((a - seg.start) % n);
            expect(owner.get(a)).toBe(loc.stripeIndex);
            expect(loc.chain).toBe(seg.stripes[loc.stripeIndex]!.chain);
            expect(loc.offset).toBe(Math.floor((a - seg.start) / n));
            expect(chainFor(p, a)).toBe(loc.chain);
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('segment boundaries are exact: start and end-1 in the segment, end in the next', () => {
    fc.assert(
      fc.property(projectionArb, (p) => {
        p.segments.forEach((seg, s) => {
          expect(locate(p, seg.start).segmentIndex).toBe(s);
          expect(locate(p, seg.start).stripeIndex).toBe(0);
          expect(locate(p, seg.start).offset).toBe(0);
          if (seg.end === null) return;
          expect(locate(p, seg.end - 1).segmentIndex).toBe(s);
          if (s + 1 < p.segments.length) {
            expect(locate(p, seg.end).segmentIndex).toBe(s + 1);
            expect(locate(p, seg.end).stripeIndex).toBe(0);
          } else {
            throwsWith(() => locate(p, seg.end!), 'ERR_BAD_REQUEST');
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('consecutive addresses rotate through the stripes of their segment', () => {
    fc.assert(
      fc.property(projectionArb, (p) => {
        p.segments.forEach((seg, s) => {
          const [lo, hi] = span(p, s);
          const n = seg.stripes.length;
          for (let a = lo; a + 1 < hi; a++) {
            const x = locate(p, a);
            const y = locate(p, a + 1);
            expect(y.stripeIndex).toBe((x.stripeIndex + 1) % n);
            expect(y.offset).toBe(x.stripeIndex === n - 1 ? x.offset + 1 : x.offset);
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('addresses outside every segment, and non-addresses, fail with ERR_BAD_REQUEST', () => {
    fc.assert(
      fc.property(projectionArb, fc.nat({ max: 1_000_000 }), (p, delta) => {
        const first = p.segments[0]!;
        const last = p.segments[p.segments.length - 1]!;
        if (first.start > 0) throwsWith(() => locate(p, Math.max(0, first.start - 1 - delta)), 'ERR_BAD_REQUEST');
        if (last.end !== null) {
          const beyond = Math.min(Number.MAX_SAFE_INTEGER, last.end + delta);
          const err = throwsWith(() => locate(p, beyond), 'ERR_BAD_REQUEST');
          expect(err.message).toMatch(/outside every segment/);
        }
        // (+0.5 is only a non-integer below 2^52: above it, it rounds.)
        const fractional = first.start < 2 ** 52 ? first.start + 0.5 : 0.5;
        for (const bad of [-1, -delta - 1, 0.5, fractional, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
          throwsWith(() => locate(p, bad), 'ERR_BAD_REQUEST');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a projection survives a JSON round trip unchanged', () => {
    fc.assert(
      fc.property(projectionArb, (p) => {
        const again = parseProjection(JSON.parse(JSON.stringify(p)));
        expect(again).toEqual(p);
        expect(projectionsEqual(again, p)).toBe(true);
      }),
    );
  });
});

describe('mapping helpers', () => {
  const p = parseProjection({
    epoch: 3,
    sequencer: 'seq.local:9000',
    units: ['a:1', 'b:2', 'c:3', 'd:4'],
    segments: [
      { start: 100, end: 110, stripes: [{ chain: ['a:1', 'b:2'] }, { chain: ['c:3', 'd:4'] }] },
      { start: 110, end: null, stripes: [{ chain: ['d:4', 'c:3', 'b:2'] }] },
    ],
  });

  it('head and tail of a chain', () => {
    expect(headOf(chainFor(p, 100))).toBe('a:1');
    expect(tailOf(chainFor(p, 100))).toBe('b:2');
    expect(headOf(chainFor(p, 101))).toBe('c:3');
    expect(tailOf(chainFor(p, 1_000_000))).toBe('b:2');
    expect(() => headOf([])).toThrow(InvariantError);
    expect(() => tailOf([])).toThrow(InvariantError);
  });

  it('stripeAddresses clips to the segment and needs a real segment and stripe', () => {
    expect([...stripeAddresses(p, 0, 1, 0, 1000)]).toEqual([101, 103, 105, 107, 109]);
    expect([...stripeAddresses(p, 0, 0, 103, 108)]).toEqual([104, 106]);
    expect([...stripeAddresses(p, 1, 0, 0, 113)]).toEqual([110, 111, 112]);
    expect([...stripeAddresses(p, 0, 0, 200, 300)]).toEqual([]);
    throwsWith(() => [...stripeAddresses(p, 2, 0, 0, 1)], 'ERR_BAD_REQUEST');
    throwsWith(() => [...stripeAddresses(p, 0, 2, 0, 1)], 'ERR_BAD_REQUEST');
  });

  it('parsed projections are frozen', () => {
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.segments[0]!.stripes[0]!.chain)).toBe(true);
  });
});

/** A projection as the JSON parseProjection is given: the tests below break it on purpose. */
interface RawProjection {
  epoch: unknown;
  sequencer?: unknown;
  units: unknown[];
  segment?: unknown;
  segments: Array<{ start: unknown; end: unknown; stripes: Array<{ chain: unknown[] }> }>;
}

describe('projection schema', () => {
  const valid = (): RawProjection => ({
    epoch: 1,
    sequencer: '127.0.0.1:9000',
    units: ['127.0.0.1:7001', '127.0.0.1:7002', 'unit-3.example:7003', '[::1]:7004'],
    segments: [
      { start: 0, end: 100, stripes: [{ chain: ['127.0.0.1:7001', '127.0.0.1:7002'] }] },
      { start: 100, end: null, stripes: [{ chain: ['unit-3.example:7003'] }, { chain: ['[::1]:7004', '127.0.0.1:7001'] }] },
    ],
  });

  it('accepts valid projections, including one starting past 0 (after a trim)', () => {
    expect(parseProjection(valid()).epoch).toBe(1);
    const trimmed = valid();
    trimmed.segments[0]!.start = 40;
    expect(parseProjection(trimmed).segments[0]!.start).toBe(40);
    const closed = valid();
    closed.segments[1]!.end = 500;
    expect(parseProjection(closed).segments[1]!.end).toBe(500);
  });

  function rejects(mutate: (p: RawProjection) => void, ...patterns: RegExp[]): CorfuError {
    const p = valid();
    mutate(p);
    const err = throwsWith(() => parseProjection(p), 'ERR_BAD_REQUEST');
    for (const pattern of patterns) expect(err.message).toMatch(pattern);
    return err;
  }

  it('rejects a gap between segments', () => {
    rejects((p) => (p.segments[1]!.start = 101), /segments\[1\]\.start/, /gap between segments/, /expected 100/);
  });

  it('rejects overlapping segments', () => {
    rejects((p) => (p.segments[1]!.start = 90), /segments\[1\]\.start/, /overlap/);
  });

  it('rejects a chain unit not listed in units', () => {
    rejects((p) => p.segments[0]!.stripes[0]!.chain.push('127.0.0.1:7999'), /segments\[0\]\.stripes\[0\]\.chain\[2\]/, /127\.0\.0\.1:7999 is not listed in units/);
  });

  it('rejects a unit repeated in one chain', () => {
    rejects((p) => p.segments[1]!.stripes[1]!.chain.push('[::1]:7004'), /segments\[1\]\.stripes\[1\]\.chain\[2\]/, /repeated in the chain/);
  });

  it('rejects an empty chain and a segment with no stripes', () => {
    rejects((p) => (p.segments[0]!.stripes[0]!.chain = []), /segments\[0\]\.stripes\[0\]\.chain/, /at least one unit/);
    rejects((p) => (p.segments[0]!.stripes = []), /segments\[0\]\.stripes/, /at least one stripe/);
  });

  it('rejects two open segments (only the last may be open)', () => {
    rejects((p) => (p.segments[0]!.end = null), /segments\[0\]\.end/, /only the last segment may be open/);
  });

  it('rejects end <= start', () => {
    rejects((p) => (p.segments[0]!.end = 0), /segments\[0\]\.end/, /greater than start/);
  });

  it('rejects non-integer, zero and unsafe epochs', () => {
    rejects((p) => (p.epoch = 1.5), /^invalid projection: epoch:/, /integer/);
    rejects((p) => (p.epoch = 0), /epoch:/);
    rejects((p) => (p.epoch = '1'), /epoch:/);
    rejects((p) => (p.epoch = Number.MAX_SAFE_INTEGER + 1), /epoch:/);
  });

  it('rejects non-integer and unsafe addresses', () => {
    rejects((p) => (p.segments[1]!.start = 100.5), /segments\[1\]\.start/);
    rejects((p) => (p.segments[0]!.start = -1), /segments\[0\]\.start/);
    rejects((p) => (p.segments[1]!.end = 2 ** 60), /segments\[1\]\.end/);
  });

  it('rejects duplicate units, bad host:port, unknown keys and missing fields', () => {
    rejects((p) => p.units.push('127.0.0.1:7001'), /units\[4\]/, /listed twice/);
    rejects((p) => (p.sequencer = 'localhost'), /sequencer/, /host:port/);
    rejects((p) => (p.units[0] = 'h:70000'), /units\[0\]/);
    rejects((p) => (p.segment = p.segments), /segment/);
    rejects((p) => delete p.sequencer, /sequencer/);
    rejects((p) => (p.segments = []), /segments/, /at least one segment/);
    throwsWith(() => parseProjection(null), 'ERR_BAD_REQUEST');
    throwsWith(() => parseProjection('{"epoch":1}'), 'ERR_BAD_REQUEST');
  });
});
