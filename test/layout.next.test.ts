// nextProjection (src/layout/next.ts): the projection math of a
// reconfiguration. The property that matters: no address below the sealed
// tail changes chains except by a replaced unit giving way to its replacement
// (at the tail, serving no read until rebuilt), and every address from the
// split on maps to the new chains.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { chainFor, parseProjection, type Projection } from '../src/layout/index.js';
import { nextProjection, replaceable, unitsAdded, unitsReplaced, type Change } from '../src/layout/next.js';
import { chainTarget } from '../src/client/target.js';
import { throwsWith } from './helpers/expect-error.js';

const u = (i: number): string => `127.0.0.1:${7000 + i}`;

/** Epoch 3: [0, 100) on u0->u1, then open from 100 on (u0->u1 | u2->u3). */
const base: Projection = parseProjection({
  epoch: 3,
  sequencer: '127.0.0.1:6000',
  units: [u(0), u(1), u(2), u(3)],
  segments: [
    { start: 0, end: 100, stripes: [{ chain: [u(0), u(1)] }] },
    { start: 100, end: null, stripes: [{ chain: [u(0), u(1)] }, { chain: [u(2), u(3)] }] },
  ],
});

describe('nextProjection', () => {
  it('a plain bump keeps the layout and moves only the epoch', () => {
    const next = nextProjection(base, [], 500);
    expect(next).toEqual({ ...base, epoch: 4 });
  });

  it('moving the sequencer changes only the sequencer', () => {
    const next = nextProjection(base, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }], 500);
    expect(next).toEqual({ ...base, epoch: 4, sequencer: '127.0.0.1:6001' });
  });

  it('replacing a unit splits the open segment at the sealed tail: older chains lose it and take the replacement at the tail, to be rebuilt; newer ones take it in place', () => {
    const next = nextProjection(base, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }], 250);
    const rebuilt = { chain: [u(0), u(9)], rebuilding: [u(9)] };
    expect(next.segments).toEqual([
      { start: 0, end: 100, stripes: [rebuilt] },
      { start: 100, end: 250, stripes: [rebuilt, { chain: [u(2), u(3)] }] },
      { start: 250, end: null, stripes: [{ chain: [u(0), u(9)] }, { chain: [u(2), u(3)] }] },
    ]);
    expect(next.units).toEqual([u(0), u(9), u(2), u(3)]);
    expect(next.epoch).toBe(4);
    // Writes walk the whole chain; reads come from the last whole replica until the rebuild is done.
    expect(chainTarget(next, 50)).toMatchObject({ chain: [u(0), u(9)], head: u(0), tail: u(0) });
    expect(chainTarget(next, 300)).toMatchObject({ chain: [u(0), u(9)], head: u(0), tail: u(9) });
  });

  it('a rebuilt unit becomes a whole replica of every chain it was rebuilt in (reads come from it); the open segment is not split', () => {
    const replaced = nextProjection(base, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }], 250);
    const whole = nextProjection(replaced, [{ kind: 'rebuilt', unit: u(9) }], 400);
    expect(whole.segments.map((s) => [s.start, s.end, s.stripes])).toEqual([
      [0, 100, [{ chain: [u(0), u(9)] }]],
      [100, 250, [{ chain: [u(0), u(9)] }, { chain: [u(2), u(3)] }]],
      [250, null, [{ chain: [u(0), u(9)] }, { chain: [u(2), u(3)] }]],
    ]);
    expect(chainTarget(whole, 50).tail).toBe(u(9));
    expect(throwsWith(() => nextProjection(whole, [{ kind: 'rebuilt', unit: u(9) }], 400), 'ERR_BAD_REQUEST').message).toMatch(/no chain is being rebuilt/);
  });

  it('a unit being rebuilt is not a whole replica: the one it is copied from cannot be replaced; it can, and its replacement takes its place in the rebuild', () => {
    const replaced = nextProjection(base, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }], 250);
    // u(0) is the only replica holding [0, 250)'s older entries.
    expect(replaceable(replaced, u(0))).toBe(false);
    expect(throwsWith(() => nextProjection(replaced, [{ kind: 'replace-unit', old: u(0), replacement: u(8) }], 400), 'ERR_BAD_REQUEST').message).toMatch(/only whole replica/);
    expect(replaceable(replaced, u(9))).toBe(true);
    const moved = nextProjection(replaced, [{ kind: 'replace-unit', old: u(9), replacement: u(8) }], 400);
    expect(moved.segments[0]!.stripes[0]).toEqual({ chain: [u(0), u(8)], rebuilding: [u(8)] });
    // Two rebuilds in one chain at once: a 3-replica chain that lost two units.
    const three = parseProjection({ epoch: 1, sequencer: base.sequencer, units: [u(0), u(1), u(2)], segments: [{ start: 0, end: null, stripes: [{ chain: [u(0), u(1), u(2)] }] }] });
    const both = nextProjection(nextProjection(three, [{ kind: 'replace-unit', old: u(1), replacement: u(8) }], 10), [{ kind: 'replace-unit', old: u(2), replacement: u(9) }], 20);
    expect(both.segments[0]!.stripes[0]).toEqual({ chain: [u(0), u(8), u(9)], rebuilding: [u(8), u(9)] });
    expect(chainTarget(both, 5).tail).toBe(u(0));
    expect(nextProjection(both, [{ kind: 'rebuilt', unit: u(9) }], 20).segments[0]!.stripes[0]).toEqual({ chain: [u(0), u(8), u(9)], rebuilding: [u(8)] });
  });

  it('a projection is refused with units being rebuilt in the open segment, outside the chain, or in place of every replica', () => {
    const at = (stripe: object, end: number | null = 10): unknown => ({
      epoch: 1,
      sequencer: base.sequencer,
      units: [u(0), u(1)],
      segments: [{ start: 0, end, stripes: [stripe] }, ...(end === null ? [] : [{ start: end, end: null, stripes: [{ chain: [u(0)] }] }])],
    });
    expect(() => parseProjection(at({ chain: [u(0), u(1)], rebuilding: [u(1)] }))).not.toThrow();
    expect(throwsWith(() => parseProjection(at({ chain: [u(0), u(1)], rebuilding: [u(1)] }, null)), 'ERR_BAD_REQUEST').message).toMatch(/open segment/);
    expect(throwsWith(() => parseProjection(at({ chain: [u(0)], rebuilding: [u(1)] })), 'ERR_BAD_REQUEST').message).toMatch(/not in the chain/);
    expect(throwsWith(() => parseProjection(at({ chain: [u(0), u(1)], rebuilding: [u(0), u(1)] })), 'ERR_BAD_REQUEST').message).toMatch(/one whole replica/);
    expect(throwsWith(() => parseProjection(at({ chain: [u(0), u(1)], rebuilding: [] })), 'ERR_BAD_REQUEST').message).toMatch(/absent, not empty/);
  });

  it('an empty open segment (tail at or below its start) is changed in place, not split', () => {
    const next = nextProjection(base, [{ kind: 'replace-unit', old: u(3), replacement: u(9) }], 60);
    expect(next.segments).toHaveLength(2);
    expect(next.segments[1]).toEqual({ start: 100, end: null, stripes: [{ chain: [u(0), u(1)] }, { chain: [u(2), u(9)] }] });
  });

  it('adding a segment stripes the log over the new chains from the tail on', () => {
    const next = nextProjection(
      base,
      [
        {
          kind: 'add-segment',
          stripes: [
            [u(4), u(5)],
            [u(6), u(7)],
            [u(8), u(9)],
          ],
        },
      ],
      1000,
    );
    expect(next.segments.map((s) => [s.start, s.end, s.stripes.length])).toEqual([
      [0, 100, 1],
      [100, 1000, 2],
      [1000, null, 3],
    ]);
    expect(chainFor(next, 1002)).toEqual([u(8), u(9)]);
    expect(chainFor(next, 999)).toEqual(chainFor(base, 999));
  });

  it('refuses what would lose data or makes no sense, with ERR_BAD_REQUEST', () => {
    const single = parseProjection({ epoch: 1, sequencer: '127.0.0.1:6000', units: [u(0)], segments: [{ start: 0, end: null, stripes: [{ chain: [u(0)] }] }] });
    expect(throwsWith(() => nextProjection(single, [{ kind: 'replace-unit', old: u(0), replacement: u(1) }], 10), 'ERR_BAD_REQUEST').message).toMatch(/only (whole )?replica/);
    expect(throwsWith(() => nextProjection(base, [{ kind: 'replace-unit', old: u(8), replacement: u(9) }], 10), 'ERR_BAD_REQUEST').message).toMatch(/not a unit of epoch 3/);
    expect(throwsWith(() => nextProjection(base, [{ kind: 'replace-unit', old: u(0), replacement: u(1) }], 10), 'ERR_BAD_REQUEST').message).toMatch(/already in the chain/);
    expect(throwsWith(() => nextProjection(base, [{ kind: 'add-segment', stripes: [] }], 10), 'ERR_BAD_REQUEST').message).toMatch(/at least one stripe/);
    expect(throwsWith(() => nextProjection(base, [], -1), 'ERR_BAD_REQUEST').message).toMatch(/sealed tail/);
  });

  it('refuses to replace every replica of a chain in one reconfiguration, even where the sealed tail says the open segment is empty', () => {
    // The seal counts only the units that stay: with u2 and u3 both replaced, a tail of 60
    // says nothing about what u2->u3 acknowledged from 100 on.
    const both: Change[] = [
      { kind: 'replace-unit', old: u(2), replacement: u(8) },
      { kind: 'replace-unit', old: u(3), replacement: u(9) },
    ];
    expect(throwsWith(() => nextProjection(base, both, 60), 'ERR_BAD_REQUEST').message).toMatch(/every replica of stripe 1 of the open segment/);
    expect(throwsWith(() => nextProjection(base, both, 500), 'ERR_BAD_REQUEST').message).toMatch(/only whole replica/);
    // What the manager asks before it adds a second replacement to the same reconfiguration.
    expect(replaceable(base, u(3))).toBe(true);
    expect(replaceable(base, u(3), new Set([u(2)]))).toBe(false);
    expect(replaceable(base, u(3), new Set([u(0)]))).toBe(true);
  });

  it("carries the log's entry limit to the next epoch (a projection without one stays without)", () => {
    const limited = parseProjection({ ...base, maxEntryBytes: 65_536 });
    expect(nextProjection(limited, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }], 250).maxEntryBytes).toBe(65_536);
    expect(nextProjection(limited, [], 250).maxEntryBytes).toBe(65_536);
    expect('maxEntryBytes' in nextProjection(base, [], 250)).toBe(false);
  });

  it('says exactly what it refuses and where: the chain, the stripe, the segment', () => {
    const message = (p: Projection, changes: Change[], tail: number): string => throwsWith(() => nextProjection(p, changes, tail), 'ERR_BAD_REQUEST').message;
    const layout = (closed: string[], open: string[][]): Projection =>
      parseProjection({
        epoch: 3,
        sequencer: '127.0.0.1:6000',
        units: [...new Set([...closed, ...open.flat()])],
        segments: [
          { start: 0, end: 100, stripes: [{ chain: closed }] },
          { start: 100, end: null, stripes: open.map((chain) => ({ chain })) },
        ],
      });
    // A unit that serves only closed segments is not replaced (the open segment would keep nothing of the change).
    expect(message(layout([u(4), u(1)], [[u(0), u(1)]]), [{ kind: 'replace-unit', old: u(4), replacement: u(9) }], 100)).toBe(`replace ${u(4)}: it holds no stripe of the open segment`);
    // The replacement already in the open segment's chain, not in the closed one's; then the other way round.
    expect(message(layout([u(0), u(1)], [[u(0), u(5)]]), [{ kind: 'replace-unit', old: u(0), replacement: u(5) }], 100)).toBe(
      `replace ${u(0)} by ${u(5)}: ${u(5)} is already in the chain ${u(0)},${u(5)}`,
    );
    expect(message(layout([u(0), u(5)], [[u(0), u(1)]]), [{ kind: 'replace-unit', old: u(0), replacement: u(5) }], 100)).toBe(
      `replace ${u(0)} by ${u(5)}: ${u(5)} is already in the chain ${u(0)},${u(5)} of [0, 100)`,
    );
    expect(message(base, [{ kind: 'replace-unit', old: u(0), replacement: u(0) }], 100)).toBe(`replace ${u(0)} by itself`);
    // Every replica of an open stripe; the only replica of a one-unit stripe.
    const both: Change[] = [
      { kind: 'replace-unit', old: u(2), replacement: u(8) },
      { kind: 'replace-unit', old: u(3), replacement: u(9) },
    ];
    expect(message(base, both, 60)).toBe(`replace ${u(2)}, ${u(3)}: they are every replica of stripe 1 of the open segment; its data would be lost`);
    expect(message(base, both, 500)).toBe(`replace ${u(3)}: it is the only whole replica of stripe 1 of [100, 500); its data would be lost`);
    const single = parseProjection({ epoch: 1, sequencer: '127.0.0.1:6000', units: [u(0)], segments: [{ start: 0, end: null, stripes: [{ chain: [u(0)] }] }] });
    expect(message(single, [{ kind: 'replace-unit', old: u(0), replacement: u(1) }], 0)).toBe(`replace ${u(0)}: it is the only replica of stripe 0 of the open segment; its data would be lost`);
    // A projection whose last segment is closed (parseProjection never makes one) has nowhere to append.
    const closedLast = { ...base, segments: base.segments.slice(0, 1) } as Projection;
    expect(message(closedLast, [], 100)).toBe('the last segment of epoch 3 is closed at 100; nothing can be appended');
  });

  it('a replacement may serve another stripe of the open segment already', () => {
    const next = nextProjection(base, [{ kind: 'replace-unit', old: u(1), replacement: u(2) }], 100);
    expect(next.segments.at(-1)!.stripes.map((s) => s.chain)).toEqual([
      [u(0), u(2)],
      [u(2), u(3)],
    ]);
  });

  it('applies changes in order: a replacement and its `rebuilt` in one list leave no replica being rebuilt, below the split too', () => {
    const next = nextProjection(
      base,
      [
        { kind: 'replace-unit', old: u(1), replacement: u(9) },
        { kind: 'rebuilt', unit: u(9) },
      ],
      250,
    );
    expect(next.segments.map((s) => [s.start, s.end])).toEqual([
      [0, 100],
      [100, 250],
      [250, null],
    ]);
    expect(next.segments.flatMap((s) => s.stripes.flatMap((t) => t.rebuilding ?? []))).toEqual([]);
  });

  it('names the units to seal and the units that may be dead', () => {
    const changes: Change[] = [
      { kind: 'replace-unit', old: u(1), replacement: u(9) },
      { kind: 'add-segment', stripes: [[u(9), u(4)]] },
    ];
    expect(unitsAdded(base, changes)).toEqual([u(9), u(4)]);
    expect([...unitsReplaced(changes)]).toEqual([u(1)]);
  });

  it('property: below the split every address keeps its chain (a replaced unit is swapped for its replacement at the tail, and reads come from the survivors); from the split on, the new chains', () => {
    const arb = fc.record({
      tail: fc.integer({ min: 0, max: 2000 }),
      replace: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      segment: fc.option(fc.array(fc.uniqueArray(fc.integer({ min: 4, max: 9 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arb, ({ tail, replace, segment }) => {
        const changes: Change[] = [];
        if (replace !== undefined) changes.push({ kind: 'replace-unit', old: u(replace), replacement: u(10) });
        if (segment !== undefined) changes.push({ kind: 'add-segment', stripes: segment.map((chain) => chain.map(u)) });
        let next: Projection;
        try {
          next = nextProjection(base, changes, tail);
        } catch {
          return; // refusals are covered above
        }
        const split = Math.max(tail, 100);
        for (let a = 0; a < split + 50; a++) {
          const before = chainFor(base, a);
          const after = chainFor(next, a);
          if (a < tail || (changes.length > 0 && a < split)) {
            // Written data stays where it is: only a replaced unit leaves; its replacement joins at the tail, and
            // reads come from the survivors until it is rebuilt.
            const old = replace === undefined ? undefined : u(replace);
            const survivors = before.filter((unit) => unit !== old);
            expect(after).toEqual(old !== undefined && before.includes(old) ? [...survivors, u(10)] : before);
            expect(chainTarget(next, a).tail).toBe(survivors.at(-1));
          } else if (segment !== undefined) {
            expect(segment.map((chain) => chain.map(u))).toContainEqual(after);
          } else if (replace !== undefined) {
            // A new segment from the split: stripes count from its start.
            const stripes = base.segments[1]!.stripes;
            const was = stripes[(a - split) % stripes.length]!.chain;
            expect(after).toEqual(was.map((unit) => (unit === u(replace) ? u(10) : unit)));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
