// The sequencer's TOKEN fast paths (src/sequencer/token-run.ts on Node's sockets, and the
// native front, native/engine/src/seq_front) against its general path.
// A real SequencerServer on loopback, with either front, gets random streams of requests (TOKENs of its epoch
// and of others, counts of 0, at the cap and above it, other requests, SEALs that move the
// epoch under the run), cut into random chunks; its answer bytes must equal those of the
// pure state machine (Sequencer.handle and the codec, request by request) fed the same
// stream: same tokens, same order, same errors.

import { connect } from 'node:net';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CounterTokenSource, Sequencer } from '../src/sequencer/state.js';
import { SequencerServer, type FrontKind } from '../src/sequencer/server.js';
import { answerTokenRun } from '../src/sequencer/token-run.js';
import { encodeRequest, encodeResponse } from '../src/wire/codec.js';
import { FrameDecoder } from '../src/wire/decoder.js';
import { MAX_TOKENS_PER_REQUEST, type Request } from '../src/wire/messages.js';

const EPOCH = 3;
const START = 1_000;

/** One request of the stream, as raw bytes. (Malformed frames close the connection: the last test.) */
const request = (id: number): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 1, max: 8 }).map((count) => encodeRequest({ type: 'request', op: 'TOKEN', requestId: id, epoch: EPOCH, count })) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(MAX_TOKENS_PER_REQUEST, MAX_TOKENS_PER_REQUEST + 1, 2 ** 32 - 1).map((count) => encodeRequest({ type: 'request', op: 'TOKEN', requestId: id, epoch: EPOCH, count })),
    },
    { weight: 2, arbitrary: fc.constantFrom(EPOCH - 1, EPOCH + 1, 2 ** 40).map((epoch) => encodeRequest({ type: 'request', op: 'TOKEN', requestId: id, epoch, count: 1 })) },
    { weight: 2, arbitrary: fc.constantFrom<Request['op']>('TAIL', 'PING').map((op) => encodeRequest({ type: 'request', op, requestId: id, epoch: EPOCH } as Request)) },
    { weight: 1, arbitrary: fc.constant(encodeRequest({ type: 'request', op: 'SEAL', requestId: id, epoch: EPOCH, newEpoch: EPOCH + 1 })) },
  );

function tokenCountZero(id: number): Buffer {
  const buf = encodeRequest({ type: 'request', op: 'TOKEN', requestId: id, epoch: EPOCH, count: 1 });
  buf.writeUInt32LE(0, 20);
  return buf;
}

/** What the general path answers to `stream`: the state machine, request by request. */
function expected(stream: Buffer): Buffer {
  const sequencer = new Sequencer({ epoch: EPOCH, startTail: START, tokens: new CounterTokenSource(START) });
  const decoder = new FrameDecoder();
  decoder.push(stream);
  const out: Buffer[] = [];
  for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) out.push(encodeResponse(sequencer.handle(r.frame as Request)));
  expect(decoder.buffered).toBe(0);
  return Buffer.concat(out);
}

/** Sends `stream` to a fresh server in `cuts` pieces and collects `bytes` of answers. */
async function served(front: FrontKind, stream: Buffer, cuts: readonly number[], bytes: number): Promise<Buffer> {
  const server = await SequencerServer.start({ epoch: EPOCH, startTail: START, front, ...(front === 'node' ? { tokens: new CounterTokenSource(START) } : {}) });
  expect(server.front).toBe(front);
  try {
    const socket = connect(server.address.port, '127.0.0.1');
    socket.setNoDelay(true);
    const got: Buffer[] = [];
    let have = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        got.push(chunk);
        have += chunk.length;
        if (have >= bytes) resolve();
      });
      socket.on('close', () => reject(new Error(`closed after ${have} of ${bytes} answer bytes`)));
      socket.on('error', reject);
    });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let at = 0;
    for (const cut of [...cuts.filter((c) => c > 0 && c < stream.length)].sort((a, b) => a - b).concat(stream.length)) {
      if (cut <= at) continue;
      socket.write(stream.subarray(at, cut));
      at = cut;
      // Let some pieces arrive as chunks of their own.
      if (cut % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    await done;
    socket.destroy();
    return Buffer.concat(got);
  } finally {
    await server.close();
  }
}

describe.each(['node', 'native'] as const)('the sequencer TOKEN fast path on the %s front', (front) => {
  it('answers every stream, cut anywhere, with the bytes of the general path', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(), { minLength: 1, maxLength: 60 }).chain((ids) => fc.tuple(fc.tuple(...ids.map((_, i) => request(i + 1))), fc.array(fc.nat({ max: 60 * 32 }), { maxLength: 12 }))),
        async ([frames, cuts]) => {
          const stream = Buffer.concat(frames);
          const want = expected(stream);
          const got = await served(front, stream, cuts, want.length);
          expect(got.equals(want)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the TypeScript TOKEN fast path (token-run.ts)', () => {
  it('leaves a run at the first frame that is not a plain TOKEN of its epoch, and takes the run in one range split in order', () => {
    const sequencer = new Sequencer({ epoch: EPOCH, startTail: START, tokens: new CounterTokenSource(START) });
    const token = (count: number, epoch = EPOCH): Buffer => encodeRequest({ type: 'request', op: 'TOKEN', requestId: count, epoch, count });
    const stream = Buffer.concat([token(2), token(5), token(1), token(1, EPOCH + 1), token(4)]);
    const run = answerTokenRun(stream, sequencer);
    expect(run.count).toBe(3);
    expect(run.consumed).toBe(3 * 24);
    const decoder = new FrameDecoder();
    decoder.push(run.answers);
    const firsts: number[] = [];
    for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) {
      expect(r.frame).toMatchObject({ type: 'response', op: 'TOKEN', status: 'OK', epoch: EPOCH });
      firsts.push((r.frame as { first: number }).first);
    }
    expect(firsts).toEqual([START, START + 2, START + 7]);
    expect(sequencer.nextToken).toBe(START + 8);
    // A half frame is not taken.
    expect(answerTokenRun(token(1).subarray(0, 23), sequencer).count).toBe(0);
    expect(sequencer.nextToken).toBe(START + 8);
  });

  it('near the end of the token space takes frame by frame and leaves the refused one to the general path (ERR_FULL)', () => {
    const top = Number.MAX_SAFE_INTEGER - 3;
    const sequencer = new Sequencer({ epoch: EPOCH, startTail: top, tokens: new CounterTokenSource(top) });
    const token = (count: number): Buffer => encodeRequest({ type: 'request', op: 'TOKEN', requestId: count, epoch: EPOCH, count });
    const run = answerTokenRun(Buffer.concat([token(1), token(2), token(5)]), sequencer);
    expect(run.count).toBe(2);
    expect(sequencer.nextToken).toBe(top + 3);
    expect(sequencer.handle({ type: 'request', op: 'TOKEN', requestId: 5, epoch: EPOCH, count: 5 })).toMatchObject({ status: 'ERR_FULL' });
  });
});

describe.each(['node', 'native'] as const)('a server on the %s front with a malformed TOKEN', (front) => {
  let server: SequencerServer;
  beforeAll(async () => {
    server = await SequencerServer.start({ epoch: EPOCH, startTail: START, front });
  });
  afterAll(() => server.close());

  const flagsSet = (): Buffer => {
    const buf = encodeRequest({ type: 'request', op: 'TOKEN', requestId: 2, epoch: EPOCH, count: 1 });
    buf[6] = 1;
    return buf;
  };
  const versionTwo = (): Buffer => {
    const buf = encodeRequest({ type: 'request', op: 'TOKEN', requestId: 2, epoch: EPOCH, count: 1 });
    buf[4] = 2;
    return buf;
  };
  const longer = (): Buffer => {
    const buf = Buffer.concat([encodeRequest({ type: 'request', op: 'TOKEN', requestId: 2, epoch: EPOCH, count: 1 }), Buffer.alloc(4)]);
    buf.writeUInt32LE(24, 0);
    return buf;
  };

  for (const [what, frame] of [
    ['a count of 0', () => tokenCountZero(2)],
    ['reserved flags set', flagsSet],
    ['version 2', versionTwo],
    ['4 bytes past its count', longer],
  ] as const) {
    it(`closes the connection on a TOKEN with ${what}, answering nothing and taking no token`, async () => {
      const before = server.sequencer.nextToken;
      const socket = connect(server.address.port, '127.0.0.1');
      const got: Buffer[] = [];
      socket.on('data', (c: Buffer) => got.push(c));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      socket.write(frame());
      await closed;
      expect(Buffer.concat(got).length).toBe(0);
      expect(server.sequencer.nextToken).toBe(before);
    });
  }
});
