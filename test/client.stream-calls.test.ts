// CorfuClient's stream calls and INFO against a cluster in this process
// (helpers/fake-cluster.ts): streamTails and STREAM_TOKEN under a moving layout and their
// refusals, the stream tails' recovery after a sequencer failover (ERR_RECOVERING, then
// STREAM_SEED from the log down to the units' lowest trim mark), and usage(). No server,
// no process.

import { afterEach, describe, expect, it } from 'vitest';

import type { CorfuClient } from '../src/client/index.js';
import { streamId } from '../src/client/stream-entry.js';
import type { InfoResponse, Request, Response } from '../src/wire/index.js';
import { FakeCluster, layout, refuse } from './helpers/fake-cluster.js';

const CHAIN = ['u1:1', 'u2:1'];
let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

async function cluster(chain: readonly string[] = CHAIN): Promise<FakeCluster> {
  fake = new FakeCluster();
  await fake.install({ epoch: 1, sequencer: 'seq:1', chain });
  return fake;
}

const S = streamId('s');
const epochsOf = (op: Request['op']): number[] => fake.ops(op).map((s) => s.req.epoch);
/** Moves the sequencer `name` to `epoch` without a projection in the store (a reconfiguration stopped half-way). */
function bootstrap(name: string, epoch: number, startTail = 0): void {
  const seq = fake.sequencers.get(name)!;
  const res = seq.handle({ type: 'request', op: 'BOOTSTRAP', requestId: 0, epoch: seq.epoch, newEpoch: epoch, startTail, resetStreams: false });
  expect(res.status).toBe('OK');
}

/** The bodies a fresh reader of stream `name` delivers. */
async function streamBodies(c: CorfuClient, name: string): Promise<string[]> {
  const reader = c.stream(name);
  const bodies: string[] = [];
  for (let e = await reader.readNext(); e !== undefined; e = await reader.readNext()) bodies.push(Buffer.from(e.payload).toString());
  return bodies;
}

describe('streamTails', () => {
  it('answers the sequencer tail, latest addresses and floor as they came, and learns the tail from them', async () => {
    const c = await (await cluster()).connect();
    fake.answer = (_, req): Response | undefined =>
      req.op === 'STREAM_TAILS' ? { type: 'response', op: 'STREAM_TAILS', requestId: req.requestId, epoch: req.epoch, status: 'OK', tail: 12, latest: [[9, 4], []], floor: 3 } : undefined;
    expect(await c.streamTails(['s', 't'])).toEqual({ tail: 12, latest: [[9, 4], []], floor: 3 });
    expect(fake.ops('STREAM_TAILS').map((s) => (s.req.op === 'STREAM_TAILS' ? s.req.streams : []))).toEqual([[S, streamId('t')]]);
    // Below the tail it answered, a hole is a hole: filled without asking the sequencer.
    expect((await c.fill(11)).kind).toBe('junk');
    expect(fake.ops('TAIL')).toEqual([]);
  });

  it('an answer under an epoch the store has since replaced does not count: asked again under the new one', async () => {
    const c = await (await cluster()).connect();
    fake.store.quiet = true;
    // Epoch 2 is in the store, and its sequencer (the same) does not know yet: it answers at epoch 1.
    await fake.store.propose(layout({ epoch: 2, sequencer: 'seq:1', chain: CHAIN }));
    fake.answer = (to, req): Response | undefined => {
      if (req.op !== 'STREAM_TAILS') return undefined;
      if (req.epoch === 2) bootstrap(to, 2);
      const tail = req.epoch === 1 ? 1 : 5;
      return { type: 'response', op: 'STREAM_TAILS', requestId: req.requestId, epoch: req.epoch, status: 'OK', tail, latest: [[tail - 1]], floor: 0 };
    };
    expect(await c.streamTails(['s'])).toEqual({ tail: 5, latest: [[4]], floor: 0 });
    expect(epochsOf('STREAM_TAILS')).toEqual([1, 2]);
  });

  it('ERR_SEALED from a sequencer moved on: asked again under the projection the store has', async () => {
    const c = await (await cluster()).connect();
    expect(await c.appendTo(['s'], Buffer.from('a'))).toBe(0);
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN });
    expect(await c.streamTails(['s'])).toEqual({ tail: 1, latest: [[0]], floor: 0 });
    expect(epochsOf('STREAM_TAILS')).toEqual([1, 2]);
  });

  it('ERR_SEALED with nothing newer in the store: ERR_SEALED after maxRefreshes, naming the request', async () => {
    const c = await (await cluster()).connect({ maxRefreshes: 2, refreshDelayMs: 1 });
    bootstrap('seq:1', 2);
    await expect(c.streamTails(['s'])).rejects.toMatchObject({ code: 'ERR_SEALED', message: 'STREAM_TAILS: sealed at epoch 1 and the store has no newer projection after 2 tries' });
    expect(epochsOf('STREAM_TAILS')).toEqual([1, 1, 1]);
    await expect(c.appendTo(['s'], Buffer.from('a'))).rejects.toMatchObject({ code: 'ERR_SEALED', message: 'STREAM_TOKEN: sealed at epoch 1 and the store has no newer projection after 2 tries' });
  });

  it('any other refusal fails the call with its code, naming the request, the sequencer and its words', async () => {
    const c = await (await cluster()).connect();
    fake.answer = (_, req) => (req.op === 'STREAM_TAILS' || req.op === 'STREAM_TOKEN' ? refuse(req, 'ERR_FULL', 'too many streams') : undefined);
    await expect(c.streamTails(['s'])).rejects.toMatchObject({ code: 'ERR_FULL', message: 'STREAM_TAILS at seq:1: too many streams' });
    await expect(c.appendTo(['s'], Buffer.from('a'))).rejects.toMatchObject({ code: 'ERR_FULL', message: 'STREAM_TOKEN at seq:1: too many streams' });
  });
});

describe('the stream tails recovery after a sequencer failover', () => {
  /**
   * Three entries (stream s at 0 and 2, a plain one at 1), then a failover to seq2 that
   * forgets the streams; returns a client with `options`. The entries are written by a
   * client with the default timeouts: one with a 10 ms request timeout could resend a
   * STREAM_TOKEN on a loaded machine and take a second address.
   */
  async function failedOver(options: Parameters<FakeCluster['connect']>[0] = {}): Promise<CorfuClient> {
    const f = await cluster();
    const writer = await f.connect();
    expect(await writer.appendTo(['s'], Buffer.from('a'))).toBe(0);
    expect(await writer.append(Buffer.from('plain'))).toBe(1);
    expect(await writer.appendTo(['s'], Buffer.from('b'))).toBe(2);
    const c = await f.connect(options);
    await fake.reconfigure({ epoch: 2, sequencer: 'seq2:1', chain: CHAIN }, { resetStreams: true });
    return c;
  }
  const seeds = (): string[] =>
    fake.ops('STREAM_SEED').map((s) => (s.req.op === 'STREAM_SEED' ? `[${s.req.from}, ${s.req.to})${s.req.done ? ' done' : ''} ${JSON.stringify(s.req.entries)}@${s.req.epoch}` : ''));

  it('calls that meet ERR_RECOVERING share one recovery; the streams go on where they were', async () => {
    const c = await failedOver();
    const [x, y] = await Promise.all([c.appendTo(['s'], Buffer.from('c')), c.appendTo(['s'], Buffer.from('d'))]);
    expect([x, y].sort()).toEqual([3, 4]);
    expect(seeds()).toEqual(['[0, 0) []@2', `[0, 3) done [{"stream":"${S}","addresses":[2,0]}]@2`]);
    expect(c.stats.streamRecoveryReads).toBe(3);
    expect(fake.ops('INFO').map((s) => s.to)).toEqual(CHAIN);
    expect(await streamBodies(c, 's')).toEqual(x === 3 ? ['a', 'b', 'c', 'd'] : ['a', 'b', 'd', 'c']);
  });

  it('a later failover is recovered again', async () => {
    const c = await failedOver();
    expect(await c.appendTo(['s'], Buffer.from('c'))).toBe(3);
    await fake.reconfigure({ epoch: 3, sequencer: 'seq3:1', chain: CHAIN }, { resetStreams: true });
    expect(await c.appendTo(['s'], Buffer.from('d'))).toBe(4);
    expect(seeds()).toHaveLength(4);
    expect(c.stats.streamRecoveryReads).toBe(3 + 4);
    expect(await c.streamTails(['s'])).toEqual({ tail: 5, latest: [[4, 3, 2, 0]], floor: 0 });
  });

  it('reads down to the lowest trim mark among the units, and no further', async () => {
    const c = await failedOver();
    fake.answer = async (to, req) => {
      if (req.op !== 'INFO') return undefined;
      const info = (await fake.own(to, req)) as InfoResponse;
      return { ...info, trimMark: to === 'u1:1' ? 2 : 1 };
    };
    expect(await c.appendTo(['s'], Buffer.from('c'))).toBe(3);
    expect(c.stats.streamRecoveryReads).toBe(2);
    expect(seeds()[1]).toBe(`[1, 3) done [{"stream":"${S}","addresses":[2]}]@2`);
  });

  it('a unit refusing INFO fails the calls waiting on the recovery, naming the unit', async () => {
    const c = await failedOver();
    fake.answer = (to, req) => (req.op === 'INFO' && to === 'u2:1' ? refuse(req, 'ERR_IO', 'no superblock') : undefined);
    await expect(c.appendTo(['s'], Buffer.from('c'))).rejects.toMatchObject({ code: 'ERR_IO', message: 'INFO at u2:1: no superblock' });
  });

  it('INFO runs on the client default deadline too, and says so when no unit answers it', async () => {
    const c = await failedOver({ deadlineMs: 50, timeoutMs: 10 });
    fake.answer = (_, req) => (req.op === 'INFO' ? 'silent' : undefined);
    await expect(c.appendTo(['s'], Buffer.from('c'), { deadlineMs: 60_000 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: expect.stringMatching(/^INFO: no answer within its deadline of 50 ms/),
    });
  });

  it('STREAM_SEED refused as sealed: seeded again under the projection the store has', async () => {
    const c = await failedOver();
    fake.store.quiet = true;
    let moved = false;
    fake.answer = async (_, req) => {
      if (!moved && req.op === 'STREAM_SEED') {
        moved = true;
        await fake.reconfigure({ epoch: 3, sequencer: 'seq2:1', chain: CHAIN }, { resetStreams: true });
      }
      return undefined;
    };
    expect(await c.appendTo(['s'], Buffer.from('c'))).toBe(3);
    expect(epochsOf('STREAM_SEED')).toEqual([2, 3, 3]);
    expect(await streamBodies(c, 's')).toEqual(['a', 'b', 'c']);
  });

  it('STREAM_SEED sealed with nothing newer in the store: ERR_SEALED after maxRefreshes, naming STREAM_SEED', async () => {
    const c = await failedOver({ maxRefreshes: 1, refreshDelayMs: 1 });
    let moved = false;
    fake.answer = (to, req) => {
      if (!moved && req.op === 'STREAM_SEED') {
        moved = true;
        bootstrap(to, 3);
      }
      return undefined;
    };
    await expect(c.appendTo(['s'], Buffer.from('c'))).rejects.toMatchObject({
      code: 'ERR_SEALED',
      message: 'STREAM_SEED: sealed at epoch 2 and the store has no newer projection after 1 tries',
    });
    expect(epochsOf('STREAM_SEED')).toEqual([2, 2]);
  });

  it('STREAM_SEED refused otherwise: its code, the sequencer and its words', async () => {
    const c = await failedOver();
    fake.answer = (_, req) => (req.op === 'STREAM_SEED' ? refuse(req, 'ERR_BAD_REQUEST', 'not contiguous') : undefined);
    await expect(c.appendTo(['s'], Buffer.from('c'))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'STREAM_SEED at seq2:1: not contiguous' });
  });

  it('the recovery runs on the client default deadline, not the call one, and says which STREAM_SEED did not end', async () => {
    const c = await failedOver({ deadlineMs: 50, timeoutMs: 10 });
    fake.answer = (_, req) => (req.op === 'STREAM_SEED' ? 'silent' : undefined);
    await expect(c.appendTo(['s'], Buffer.from('c'), { deadlineMs: 60_000 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: expect.stringMatching(/^STREAM_SEED \[0, 0\): no answer within its deadline of 50 ms/),
    });
  });
});

describe('usage', () => {
  const info = (req: Request, usedPages: number, dataPages: number, pageBytes: number): Response => ({
    type: 'response',
    op: 'INFO',
    requestId: req.requestId,
    epoch: req.epoch,
    status: 'OK',
    unitEpoch: 1,
    tail: 0,
    trimMark: 0,
    maxEntryBytes: 1 << 20,
    pageBytes,
    dataPages,
    usedPages,
    unitId: 0,
    sync: 1,
    formatId: '0'.repeat(16),
    clusterId: '',
  });

  it('answers the fullest unit by share of its pages used (the first of equals), in its own page size', async () => {
    const c = await (await cluster(['u1:1', 'u2:1', 'u3:1'])).connect();
    const pages: Record<string, [number, number, number]> = { 'u1:1': [50, 100, 512], 'u2:1': [30, 40, 4096], 'u3:1': [60, 80, 512] };
    fake.answer = (to, req) => (req.op === 'INFO' ? info(req, ...pages[to]!) : undefined);
    expect(await c.usage()).toEqual({ usedBytes: 30 * 4096, capacityBytes: 40 * 4096, fullest: 'u2:1' });
    expect(fake.ops('INFO').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['u1:1@1', 'u2:1@1', 'u3:1@1']);
  });

  it('a unit refusing INFO fails it with the code, naming the unit; a closed client refuses it', async () => {
    const c = await (await cluster()).connect();
    fake.answer = (to, req) => (req.op === 'INFO' && to === 'u1:1' ? refuse(req, 'ERR_IO', 'no superblock') : undefined);
    await expect(c.usage()).rejects.toMatchObject({ code: 'ERR_IO', message: 'INFO at u1:1: no superblock' });
    await c.close();
    await expect(c.usage()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
