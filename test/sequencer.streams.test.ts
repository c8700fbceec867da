// The sequencer's stream tails (src/sequencer/streams.ts, through Sequencer.handle):
// STREAM_TOKEN answers each stream's previous addresses and records the new ones;
// STREAM_TAILS answers them; a reset sequencer refuses both (ERR_RECOVERING) until
// STREAM_SEED has rebuilt them from the log, range by range downwards.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { recoverStreamTails } from '../src/client/stream-recovery.js';
import { Sequencer } from '../src/sequencer/state.js';
import { StreamTails } from '../src/sequencer/streams.js';
import { encodeResponse } from '../src/wire/codec.js';
import { MAX_TOKENS_PER_REQUEST, STREAM_BACKPOINTERS } from '../src/wire/messages.js';
import type { Request, Response, SeedEntry } from '../src/wire/messages.js';
import { streamId } from '../src/client/stream-entry.js';

const A = streamId('a');
const B = streamId('b');
const C = streamId('c');
let nextId = 1;

function streamToken(epoch: number, streams: string[], count = 1): Request {
  return { type: 'request', op: 'STREAM_TOKEN', requestId: nextId++, epoch, count, streams };
}
function streamTails(epoch: number, streams: string[]): Request {
  return { type: 'request', op: 'STREAM_TAILS', requestId: nextId++, epoch, streams };
}
function seed(epoch: number, from: number, to: number, done: boolean, entries: SeedEntry[]): Request {
  return { type: 'request', op: 'STREAM_SEED', requestId: nextId++, epoch, from, to, done, entries };
}
function bootstrap(epoch: number, newEpoch: number, startTail: number, resetStreams: boolean): Request {
  return { type: 'request', op: 'BOOTSTRAP', requestId: nextId++, epoch, newEpoch, startTail, resetStreams };
}

/** The answer, after checking it encodes on the wire. */
function ok<T extends Response['op']>(r: Response, op: T): Extract<Response, { op: T; status: 'OK' }> {
  encodeResponse(r);
  if (r.type !== 'response' || r.status !== 'OK' || r.op !== op) throw new Error(`expected an OK ${op} response, got ${JSON.stringify(r)}`);
  return r as Extract<Response, { op: T; status: 'OK' }>;
}

describe('Sequencer: stream tokens', () => {
  it('answers each stream its previous addresses, newest first, at most STREAM_BACKPOINTERS of them', () => {
    const seq = new Sequencer();
    expect(ok(seq.handle(streamToken(0, [A])), 'STREAM_TOKEN')).toMatchObject({ first: 0, backpointers: [[]] });
    seq.handle({ type: 'request', op: 'TOKEN', requestId: 1, epoch: 0, count: 3 }); // 1..3 are plain entries
    expect(ok(seq.handle(streamToken(0, [A, B])), 'STREAM_TOKEN')).toMatchObject({ first: 4, backpointers: [[0], []] });
    expect(ok(seq.handle(streamToken(0, [B])), 'STREAM_TOKEN')).toMatchObject({ first: 5, backpointers: [[4]] });
    for (let i = 0; i < 5; i++) seq.handle(streamToken(0, [A]));
    // A: 0, 4, 6, 7, 8, 9, 10 -> the newest four before 11.
    expect(ok(seq.handle(streamToken(0, [A, C])), 'STREAM_TOKEN')).toMatchObject({ first: 11, backpointers: [[10, 9, 8, 7], []] });
    expect(ok(seq.handle(streamTails(0, [A, B, C, streamId('none')])), 'STREAM_TAILS')).toMatchObject({ tail: 12, latest: [[11, 10, 9, 8], [5, 4], [11], []] });
  });

  it('a range of tokens is a run of entries of the streams: the newest of the range lead the next backpointers', () => {
    const seq = new Sequencer({ startTail: 0 });
    seq.handle(streamToken(0, [A]));
    expect(ok(seq.handle(streamToken(0, [A], 10)), 'STREAM_TOKEN')).toMatchObject({ first: 1, backpointers: [[0]] });
    expect(ok(seq.handle(streamToken(0, [A], 2)), 'STREAM_TOKEN')).toMatchObject({ first: 11, backpointers: [[10, 9, 8, 7]] });
    expect(ok(seq.handle(streamTails(0, [A])), 'STREAM_TAILS').latest).toEqual([[12, 11, 10, 9]]);
  });

  it('refuses a stream named twice, a wrong epoch, and more streams than its limit, handing out nothing', () => {
    const seq = new Sequencer({ maxStreams: 2 });
    expect(seq.handle(streamToken(0, [A, A]))).toMatchObject({ status: 'ERR_BAD_REQUEST', message: 'STREAM_TOKEN names a stream twice' });
    expect(seq.handle(streamToken(3, [A]))).toMatchObject({ status: 'ERR_SEALED', unitEpoch: 0 });
    expect(seq.handle(streamTails(3, [A]))).toMatchObject({ status: 'ERR_SEALED', unitEpoch: 0 });
    ok(seq.handle(streamToken(0, [A, B])), 'STREAM_TOKEN');
    expect(seq.handle(streamToken(0, [A, C]))).toMatchObject({ status: 'ERR_FULL', message: 'the sequencer tracks at most 2 streams (--max-streams); 2 are in use' });
    expect(seq.nextToken).toBe(1);
    ok(seq.handle(streamToken(0, [B, A])), 'STREAM_TOKEN'); // known streams still get tokens
  });

  it('refuses a STREAM_TOKEN count it may not hand out as a STREAM_TOKEN answer, handing out nothing and leaving the streams as they were', () => {
    const seq = new Sequencer();
    ok(seq.handle(streamToken(0, [A])), 'STREAM_TOKEN');
    expect(seq.handle(streamToken(0, [A], 0))).toMatchObject({ type: 'response', op: 'STREAM_TOKEN', status: 'ERR_BAD_REQUEST', message: 'token count 0: expected at least 1' });
    expect(seq.handle(streamToken(0, [A], MAX_TOKENS_PER_REQUEST + 1))).toMatchObject({ op: 'STREAM_TOKEN', status: 'ERR_TOO_LARGE' });
    expect(ok(seq.handle(streamToken(0, [A])), 'STREAM_TOKEN')).toMatchObject({ first: 1, backpointers: [[0]] });
  });

  it("property: whatever the interleaving, each stream's backpointers are exactly its previous addresses", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ streams: fc.subarray([A, B, C], { minLength: 1 }), count: fc.integer({ min: 1, max: 6 }), plain: fc.nat({ max: 3 }) }), { maxLength: 60 }), (ops) => {
        const seq = new Sequencer();
        const history = new Map<string, number[]>([
          [A, []],
          [B, []],
          [C, []],
        ]);
        for (const op of ops) {
          if (op.plain > 0) seq.handle({ type: 'request', op: 'TOKEN', requestId: 1, epoch: 0, count: op.plain });
          const r = ok(seq.handle(streamToken(0, op.streams, op.count)), 'STREAM_TOKEN');
          op.streams.forEach((s, i) => {
            const h = history.get(s)!;
            expect(r.backpointers[i]).toEqual(h.slice(-STREAM_BACKPOINTERS).reverse());
            for (let a = r.first; a < r.first + op.count; a++) h.push(a);
          });
        }
      }),
    );
  });
});

describe('Sequencer: stream tails after a failover', () => {
  it('a fresh sequencer bootstrapped above 0 refuses stream requests until the tails are seeded down to the floor', () => {
    const seq = new Sequencer();
    ok(seq.handle(bootstrap(0, 1, 100, false)), 'BOOTSTRAP'); // no resetStreams: it still knows it missed 0..99
    const refused = { status: 'ERR_RECOVERING', message: expect.stringMatching(/rebuilding its stream tails from the log \(known from address 100 up\)/) };
    expect(seq.handle(streamToken(1, [A]))).toMatchObject(refused);
    expect(seq.handle(streamTails(1, [A]))).toMatchObject(refused);
    expect(seq.nextToken).toBe(100);
    // Plain tokens go on.
    expect(seq.handle({ type: 'request', op: 'TOKEN', requestId: 1, epoch: 1, count: 1 })).toMatchObject({ status: 'OK', first: 100 });
    // Seeds downwards: [60, 100), then [0, 60) with done.
    expect(
      ok(
        seq.handle(
          seed(1, 60, 100, false, [
            { stream: A, addresses: [99, 70] },
            { stream: B, addresses: [65] },
          ]),
        ),
        'STREAM_SEED',
      ),
    ).toMatchObject({ streamsFrom: 60, recovered: false });
    expect(seq.handle(streamTails(1, [A]))).toMatchObject({ status: 'ERR_RECOVERING', message: expect.stringMatching(/known from address 60 up/) });
    expect(
      ok(
        seq.handle(
          seed(1, 0, 60, true, [
            { stream: A, addresses: [50, 40, 30, 20] },
            { stream: C, addresses: [3] },
          ]),
        ),
        'STREAM_SEED',
      ),
    ).toMatchObject({ streamsFrom: 0, recovered: true });
    expect(ok(seq.handle(streamTails(1, [A, B, C])), 'STREAM_TAILS')).toMatchObject({ tail: 101, latest: [[99, 70, 50, 40], [65], [3]], floor: 0 });
    expect(ok(seq.handle(streamToken(1, [B])), 'STREAM_TOKEN')).toMatchObject({ first: 101, backpointers: [[65]] });
  });

  it('a seed that does not end where the knowledge begins changes nothing and says where to go on (racing recoverers)', () => {
    const seq = new Sequencer({ startTail: 50 });
    expect(ok(seq.handle(seed(0, 0, 0, false, [])), 'STREAM_SEED')).toMatchObject({ streamsFrom: 50, recovered: false });
    ok(seq.handle(seed(0, 20, 50, false, [{ stream: A, addresses: [30] }])), 'STREAM_SEED');
    // A second recoverer seeding the same range late: ignored.
    expect(ok(seq.handle(seed(0, 20, 50, false, [{ stream: A, addresses: [49] }])), 'STREAM_SEED')).toMatchObject({ streamsFrom: 20, recovered: false });
    // The last range stops at the log's floor, 5 here (a trim mark): nothing below it is known.
    ok(seq.handle(seed(0, 5, 20, true, [])), 'STREAM_SEED');
    expect(ok(seq.handle(streamTails(0, [A])), 'STREAM_TAILS')).toMatchObject({ latest: [[30]], floor: 5 });
    // Once whole, every seed is a no-op.
    expect(ok(seq.handle(seed(0, 0, 0, true, [])), 'STREAM_SEED')).toMatchObject({ streamsFrom: 5, recovered: true });
  });

  it('refuses a seed with addresses outside its range, out of order, a stream twice, or starting above the tail', () => {
    const seq = new Sequencer({ startTail: 50 });
    const bad = (entries: SeedEntry[], from = 0, to = 50): Response => seq.handle(seed(0, from, to, false, entries));
    expect(bad([{ stream: A, addresses: [50] }])).toMatchObject({ op: 'STREAM_SEED', status: 'ERR_BAD_REQUEST', message: expect.stringMatching(/must lie in \[0, 50\) newest first; got 50/) });
    expect(bad([{ stream: A, addresses: [10, 20] }])).toMatchObject({ status: 'ERR_BAD_REQUEST' });
    expect(bad([{ stream: A, addresses: [5] }], 10)).toMatchObject({ status: 'ERR_BAD_REQUEST' });
    expect(
      bad([
        { stream: A, addresses: [5] },
        { stream: A, addresses: [4] },
      ]),
    ).toMatchObject({ status: 'ERR_BAD_REQUEST', message: `STREAM_SEED names stream ${A} twice` });
    expect(seq.handle(seed(0, 51, 60, false, []))).toMatchObject({
      op: 'STREAM_SEED',
      status: 'ERR_BAD_REQUEST',
      message: 'STREAM_SEED of [51, 60): nothing at or above the tail 50 is written',
    });
    expect(seq.snapshot().streams).toEqual({ streams: 0, from: 50, recovered: false });
  });

  it('a BOOTSTRAP with resetStreams forgets the tails; one without keeps them; a SEAL keeps them', () => {
    const seq = new Sequencer();
    seq.handle(streamToken(0, [A]));
    seq.handle(streamToken(0, [A]));
    ok(seq.handle({ type: 'request', op: 'SEAL', requestId: 1, epoch: 0, newEpoch: 1 }), 'SEAL');
    ok(seq.handle(bootstrap(1, 2, 2, false)), 'BOOTSTRAP');
    expect(ok(seq.handle(streamTails(2, [A])), 'STREAM_TAILS').latest).toEqual([[1, 0]]);
    // It served epoch 2; a reconfiguration moved the sequencer away and back: resetStreams.
    ok(seq.handle(bootstrap(2, 3, 2, true)), 'BOOTSTRAP');
    expect(seq.snapshot().streams).toEqual({ streams: 0, from: 2, recovered: false });
    expect(seq.handle(streamTails(3, [A]))).toMatchObject({ status: 'ERR_RECOVERING' });
  });

  it('a start tail above everything it handed out forgets the tails even without resetStreams', () => {
    const seq = new Sequencer();
    seq.handle(streamToken(0, [A]));
    ok(seq.handle(bootstrap(0, 1, 1, false)), 'BOOTSTRAP'); // at its own end: kept
    expect(seq.snapshot().streams).toEqual({ streams: 1, from: 0, recovered: true });
    ok(seq.handle(bootstrap(1, 2, 5, false)), 'BOOTSTRAP'); // units hold addresses it never handed out
    expect(seq.snapshot().streams).toEqual({ streams: 0, from: 5, recovered: false });
  });
});

describe('StreamTails', () => {
  it('a seed fills a stream up to STREAM_BACKPOINTERS behind what the map already holds', () => {
    const t = new StreamTails(100);
    expect(t.seed(80, 100, false, [{ stream: A, addresses: [95, 90] }])).toEqual({ from: 80, recovered: false });
    expect(t.seed(0, 80, true, [{ stream: A, addresses: [70, 60, 50, 40] }])).toEqual({ from: 0, recovered: true });
    expect(t.latest([A])).toEqual([[95, 90, 70, 60]]);
    expect(t.issue(100, 1, [A])).toEqual([[95, 90, 70, 60]]);
    expect(t.latest([A])).toEqual([[100, 95, 90, 70]]);
  });

  it('a seed past the stream limit is refused whole', () => {
    const t = new StreamTails(10, 1);
    expect(
      t.seed(0, 10, true, [
        { stream: A, addresses: [1] },
        { stream: B, addresses: [2] },
      ]),
    ).toMatchObject({ code: 'ERR_FULL' });
    expect(t.snapshot()).toEqual({ streams: 0, from: 10, recovered: false });
  });
});

describe('recoverStreamTails (src/client/stream-recovery.ts)', () => {
  it('a trim mark past where the sequencer knowledge begins leaves nothing to read: one empty seed, done', async () => {
    // The sequencer was bootstrapped at 9; a prefix trim reached 12 (trim marks may run ahead of the tail).
    const seq = new Sequencer({ startTail: 9 });
    const reads: number[] = [];
    const result = await recoverStreamTails({
      seed: async (from, to, done, entries) => {
        const r = seq.handle(seed(0, from, to, done, [...entries]));
        if (r.status !== 'OK' || r.op !== 'STREAM_SEED') throw new Error(JSON.stringify(r));
        return { streamsFrom: r.streamsFrom, recovered: r.recovered };
      },
      floor: async () => 12,
      read: async (address) => {
        reads.push(address);
        return { address, kind: 'junk' };
      },
    });
    expect(reads).toEqual([]);
    expect(result).toEqual({ read: 0, seeded: 1 });
    expect(seq.snapshot().streams).toMatchObject({ recovered: true });
  });
});
