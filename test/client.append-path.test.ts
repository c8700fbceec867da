// The append path's outcome routing (src/client/append-path.ts, OutcomeRouter): the
// records of a turn, in any order, reach the sink of the submission they belong to, with
// the entry's index, fate, address, replica, status and message; a batch number is free
// again once its submission has ended, and never given to two open submissions at once,
// however many are open (the slots grow past their first 64).

import { describe, expect, it } from 'vitest';

import { FATE_FELL, FATE_NO_TOKEN, FATE_WRITTEN, OutcomeRouter, type AppendPathSink } from '../src/client/append-path.js';

interface Heard {
  index: number;
  fate: number;
  address: number;
  replica: number;
  status: number;
  message: string | undefined;
}

function sink(into: Heard[]): AppendPathSink {
  return { outcome: (index, fate, address, replica, status, message) => into.push({ index, fate, address, replica, status, message }) };
}

/** One turn's records as the addon lays them out (native/node/src/appender.rs): 24 bytes each. */
function records(rows: readonly { batch: number; index: number; address: number; fate: number; replica?: number; status?: number; message?: number | undefined }[]): Buffer {
  const b = Buffer.alloc(24 * rows.length);
  rows.forEach((r, i) => {
    const at = 24 * i;
    b.writeUInt32LE(r.batch, at);
    b.writeUInt32LE(r.index, at + 4);
    b.writeDoubleLE(r.address, at + 8);
    b[at + 16] = r.fate;
    b[at + 17] = r.replica ?? 0;
    b[at + 18] = r.status ?? 0;
    b.writeUInt32LE(r.message ?? 0xffff_ffff, at + 20);
  });
  return b;
}

describe('OutcomeRouter', () => {
  it('routes each record to its submission, in any order, past 64 open submissions; an ended batch number is free again', () => {
    const router = new OutcomeRouter();
    const heard = new Map<number, Heard[]>();
    // 200 submissions of 2 entries each, all open at once.
    for (let k = 0; k < 200; k++) {
      const batch = router.next();
      expect(heard.has(batch), `batch ${batch} given twice`).toBe(false);
      heard.set(batch, []);
      router.open(batch, sink(heard.get(batch)!), 2);
    }
    const batches = [...heard.keys()];
    // The second entries first, last submission first; then the first entries.
    router.route({ records: records([...batches].reverse().map((batch, k) => ({ batch, index: 1, address: 1000 + k, fate: FATE_WRITTEN }))), messages: [], tokenRequests: 0 });
    router.route({
      records: records(
        batches.map((batch, k) => ({
          batch,
          index: 0,
          address: 2000 + k,
          fate: k === 7 ? FATE_FELL : FATE_WRITTEN,
          replica: k === 7 ? 1 : 0,
          status: k === 7 ? 9 : 0,
          message: k === 7 ? 0 : undefined,
        })),
      ),
      messages: ['the tail refused it'],
      tokenRequests: 0,
    });
    batches.forEach((batch, k) => {
      const got = heard.get(batch)!;
      expect(got.map((h) => h.index)).toEqual([1, 0]);
      expect(got[0]).toEqual({ index: 1, fate: FATE_WRITTEN, address: 1000 + (199 - k), replica: 0, status: 0, message: undefined });
      if (k === 7) expect(got[1]).toEqual({ index: 0, fate: FATE_FELL, address: 2000 + k, replica: 1, status: 9, message: 'the tail refused it' });
      else expect(got[1]!.fate).toBe(FATE_WRITTEN);
    });
    // Every submission has ended: an outcome for one of them is a broken invariant, and its number is free.
    expect(() => router.route({ records: records([{ batch: batches[0]!, index: 0, address: 1, fate: FATE_WRITTEN }]), messages: [], tokenRequests: 0 })).toThrow(/not open/);
    const again = router.next();
    const refused: Heard[] = [];
    router.open(again, sink(refused), 3);
    router.refuse(again);
    expect(refused.map((h) => [h.index, h.fate, h.address])).toEqual([
      [0, FATE_NO_TOKEN, -1],
      [1, FATE_NO_TOKEN, -1],
      [2, FATE_NO_TOKEN, -1],
    ]);
    expect(() => router.refuse(again)).toThrow(/not open/);
  });
});
