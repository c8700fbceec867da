// The transaction checker (serializability.ts): the anomalies it must name, and a
// cross-check against brute force on every small history fast-check makes.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { checkSerialOrders, checkSerializable, type CommittedTx } from './serializability.js';

const tx = (id: string, commit: number | undefined, reads: Array<[string, number]>, writes: string[], object = 'm'): CommittedTx => ({
  id,
  commit,
  reads: reads.map(([key, version]) => ({ object, key, version })),
  writes: writes.map((key) => ({ object, key })),
});

describe('checkSerializable', () => {
  it('accepts a serial history of read-modify-writes and a read-only snapshot', () => {
    const h = [
      tx('init', 1, [], ['x', 'y']),
      tx('t1', 5, [['x', 1]], ['x']),
      tx('t2', 9, [['x', 5]], ['x']),
      tx(
        'ro',
        undefined,
        [
          ['x', 5],
          ['y', 1],
        ],
        [],
      ),
    ];
    expect(checkSerializable(h)).toEqual([]);
    expect(checkSerialOrders(h)).toBe(true);
  });

  it('names a lost update: two read-modify-writes from the same version', () => {
    const h = [tx('init', 1, [], ['x']), tx('t1', 5, [['x', 1]], ['x']), tx('t2', 9, [['x', 1]], ['x'])];
    expect(checkSerializable(h)).toEqual([{ kind: 'cycle', message: expect.stringMatching(/not serializable: .*rw m\/x@1/) }]);
    expect(checkSerialOrders(h)).toBe(false);
  });

  it('names write skew: each read both keys and wrote one', () => {
    const h = [
      tx('init', 1, [], ['x', 'y']),
      tx(
        't1',
        5,
        [
          ['x', 1],
          ['y', 1],
        ],
        ['x'],
      ),
      tx(
        't2',
        9,
        [
          ['x', 1],
          ['y', 1],
        ],
        ['y'],
      ),
    ];
    expect(checkSerializable(h).map((v) => v.kind)).toEqual(['cycle']);
    expect(checkSerialOrders(h)).toBe(false);
  });

  it("names a fractured read: a snapshot that saw one of a transaction's writes and not the other", () => {
    const h = [
      tx('init', 1, [], ['x', 'y']),
      tx('t1', 5, [], ['x', 'y']),
      tx(
        'ro',
        undefined,
        [
          ['x', 5],
          ['y', 1],
        ],
        [],
      ),
    ];
    expect(checkSerializable(h).map((v) => v.kind)).toEqual(['cycle']);
    expect(checkSerialOrders(h)).toBe(false);
  });

  it('names a read of a version no committed write made (an aborted write)', () => {
    const h = [tx('init', 1, [], ['x']), tx('ro', undefined, [['x', 4]], [])];
    expect(checkSerializable(h)).toEqual([{ kind: 'aborted-read', message: 'ro read m/x at version 4, which no committed write made' }]);
  });

  it('a whole-object read conflicts with a write of any key; a whole-object write is a write of every key', () => {
    // ro read the whole map after init only, but also saw t1's write of y: not one snapshot.
    const h = [
      tx('init', 1, [], ['x']),
      tx('t1', 5, [], ['y']),
      tx(
        'ro',
        undefined,
        [
          ['', 1],
          ['y', 5],
        ],
        [],
      ),
    ];
    expect(checkSerializable(h).map((v) => v.kind)).toEqual(['cycle']);
    // A counter-like whole write: a read of key x at the old version after it is stale.
    const c = [tx('init', 1, [], ['x']), tx('w', 5, [], ['']), tx('t', 9, [['x', 5]], ['z'])];
    expect(checkSerializable(c)).toEqual([]);
    const stale = [
      ...c,
      tx(
        'u',
        12,
        [
          ['z', 9],
          ['x', 1],
        ],
        ['q'],
      ),
    ];
    expect(checkSerializable(stale).map((v) => v.kind)).toEqual(['cycle']);
    expect(checkSerialOrders(stale)).toBe(false);
  });

  it('agrees with brute force on every small history', () => {
    const keys = ['x', 'y', ''];
    const history = fc.integer({ min: 1, max: 5 }).chain((n) =>
      fc
        .tuple(
          fc.array(fc.subarray(keys, { minLength: 0, maxLength: 2 }), { minLength: n, maxLength: n }),
          fc.array(fc.subarray(keys, { minLength: 0, maxLength: 2 }), { minLength: n, maxLength: n }),
          fc.array(fc.array(fc.nat({ max: n }), { minLength: 3, maxLength: 3 }), { minLength: n, maxLength: n }),
        )
        .map(([writes, reads, picks]) => {
          // Commit addresses 10, 20, ...; a read sees -1 or the commit of one of the writers.
          const txs = writes.map((w, i) => ({ id: `t${i}`, commit: w.length > 0 ? 10 * (i + 1) : undefined, w }));
          return txs.map((t, i): CommittedTx => ({
            id: t.id,
            commit: t.commit,
            writes: t.w.map((key) => ({ object: 'm', key })),
            reads: reads[i]!.map((key, j) => {
              const pick = picks[i]![j]!;
              const writer = txs[pick];
              return { object: 'm', key, version: writer?.commit ?? -1 };
            }),
          }));
        }),
    );
    fc.assert(
      fc.property(history, (h) => {
        const graph = checkSerializable(h).length === 0;
        expect(graph, JSON.stringify(h)).toBe(checkSerialOrders(h));
      }),
      { numRuns: 3000 },
    );
  });
});
