// CorfuClient's appends against a cluster in this process (helpers/fake-cluster.ts: the
// product's unit handler and sequencer behind an in-memory dialer): the size limits at
// their edges, appendBatch's addresses, the stream entry's bytes, and #appendAt's choices
// when the layout moves under an append (keep the address, or take a new token), when its
// address was taken, and when a unit refuses it. No server, no process.

import { afterEach, describe, expect, it } from 'vitest';

import { decodeStreamEntry, streamHeaderBytes, streamId } from '../src/client/stream-entry.js';
import type { CorfuClient } from '../src/client/client.js';
import type { Request } from '../src/wire/index.js';
import { MAX_TOKENS_PER_REQUEST, STREAM_BACKPOINTERS } from '../src/wire/messages.js';
import { FakeCluster, refuse, text, turn } from './helpers/fake-cluster.js';

const CHAIN = ['u1:1', 'u2:1'];
const LIMIT = 200;
let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

/** A fresh cluster with one chain of two units; `null`: a projection that records no entry limit. */
async function cluster(maxEntryBytes: number | null = LIMIT): Promise<FakeCluster> {
  fake = new FakeCluster();
  await fake.install({ epoch: 1, sequencer: 'seq:1', chain: CHAIN, ...(maxEntryBytes === null ? {} : { maxEntryBytes }) });
  return fake;
}

const epochsOf = (op: Request['op']): number[] => fake.ops(op).map((s) => s.req.epoch);
/** The addresses of the WRITEs each unit took, with their epoch: `u1:1 0@2`. */
const writes = (): string[] => fake.ops('WRITE').flatMap((s) => (s.req.op === 'WRITE' ? s.req.entries.map((e) => `${s.to} ${e.address}@${s.req.epoch}`) : []));

/** The first request matching `which` gets the server's own answer only after `meanwhile` ran. */
function delayFirst(which: (to: string, req: Request) => boolean, meanwhile: () => Promise<void>): void {
  let done = false;
  fake.answer = async (to, req) => {
    if (done || !which(to, req)) return undefined;
    done = true;
    // The answer is made now (as the server would have), and delivered after the change.
    const seq = fake.sequencers.get(to);
    const res = seq === undefined ? undefined : seq.handle(req);
    await meanwhile();
    return res;
  };
}

describe('sizes at the limit', () => {
  it('append: a payload of exactly the log maximum is appended; without a maximum in the projection, any size goes to the units', async () => {
    const c = await (await cluster()).connect();
    expect(await c.append(new Uint8Array(LIMIT).fill(7))).toBe(0);
    const noLimit = await (await cluster(null)).connect();
    expect(noLimit.maxEntryBytes).toBeUndefined();
    expect(await noLimit.append(new Uint8Array(LIMIT * 10))).toBe(0);
  });

  it('appendBatch: each refusal names the entry; nothing is sent', async () => {
    const c = await (await cluster()).connect();
    await expect(c.appendBatch([new Uint8Array(1), 'x' as never])).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: "appendBatch: payloads[1] must be a Uint8Array, got string 'x'",
    });
    await expect(c.appendBatch([new Uint8Array(1), new Uint8Array(LIMIT), new Uint8Array(LIMIT + 1)])).rejects.toMatchObject({
      code: 'ERR_TOO_LARGE',
      message: `appendBatch: payloads[2]: the entry is ${LIMIT + 1} bytes, above the log's maximum of ${LIMIT} bytes; nothing was appended`,
    });
    // Exactly the most tokens one request may take passes the count check (its last entry is what is refused here).
    const most: Uint8Array[] = Array.from({ length: MAX_TOKENS_PER_REQUEST }, () => new Uint8Array(1));
    most[MAX_TOKENS_PER_REQUEST - 1] = 5 as never;
    await expect(c.appendBatch(most)).rejects.toMatchObject({ message: `appendBatch: payloads[${MAX_TOKENS_PER_REQUEST - 1}] must be a Uint8Array, got number 5` });
    expect(fake.sent).toEqual([]);
  });

  it('appendTo: refusals with their words, and room for the largest stream header, to the byte', async () => {
    const c = await (await cluster()).connect();
    await expect(c.appendTo(['a'], 'x' as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: "appendTo: payload must be a Uint8Array, got string 'x'" });
    await expect(c.appendTo(['a', 'b', 'a'], new Uint8Array(1))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'appendTo: a stream is named twice in ["a","b","a"]' });
    // Two streams, each with all its backpointers: 8 + 2 + 2 x (16 + 1 + 8 x 4) bytes.
    const header = 10 + 2 * (16 + 1 + 8 * STREAM_BACKPOINTERS);
    expect(
      streamHeaderBytes([
        { id: streamId('a'), backpointers: [0, 0, 0, 0] },
        { id: streamId('b'), backpointers: [0, 0, 0, 0] },
      ]),
    ).toBe(header);
    await expect(c.appendTo(['a', 'b'], new Uint8Array(LIMIT - header + 1))).rejects.toMatchObject({
      code: 'ERR_TOO_LARGE',
      message: `appendTo: the entry is ${LIMIT - header + 1} bytes plus a ${header}-byte stream header, above the log's maximum of ${LIMIT} bytes; nothing was appended`,
    });
    expect(fake.sent).toEqual([]);
    expect(await c.appendTo(['a', 'b'], new Uint8Array(LIMIT - header))).toBe(0);
    const noLimit = await (await cluster(null)).connect();
    expect(await noLimit.appendTo(['a'], new Uint8Array(LIMIT * 10))).toBe(0);
  });
});

describe('appendBatch', () => {
  it('one TOKEN for the batch, each entry at its own address in order', async () => {
    const c = await (await cluster()).connect();
    expect(await c.appendBatch([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])).toEqual([0, 1, 2]);
    expect(fake.ops('TOKEN').map((s) => (s.req.op === 'TOKEN' ? s.req.count : 0))).toEqual([3]);
    // Under the epoch of their token: no TAIL asked.
    expect(fake.ops('TAIL')).toEqual([]);
    expect((await Promise.all([0, 1, 2].map((a) => c.read(a)))).map(text)).toEqual(['a', 'b', 'c']);
  });

  it('an entry whose address was filled takes a token of its own; the others keep theirs', async () => {
    const c = await (await cluster()).connect();
    await fake.engines.get('u1:1')!.fill(1, Float64Array.of(1));
    expect(await c.appendBatch([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])).toEqual([0, 3, 2]);
    expect(fake.ops('TOKEN').map((s) => (s.req.op === 'TOKEN' ? s.req.count : 0))).toEqual([3, 1]);
    expect((await Promise.all([0, 1, 2, 3].map((a) => c.read(a)))).map(text)).toEqual(['a', '<junk>', 'c', 'b']);
    expect(c.stats.newTokens).toBe(1);
    // A filled address is not a seal: nothing sent the client back to the store.
    expect(c.stats.refreshes).toBe(0);
  });

  it('the entries walk the chain together: one WRITE frame per replica for the whole batch', async () => {
    const c = await (await cluster()).connect();
    await c.appendBatch([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    expect(fake.ops('WRITE').map((s) => `${s.to} ${s.req.op === 'WRITE' ? s.req.entries.map((e) => e.address).join(',') : ''}`)).toEqual(['u1:1 0,1,2', 'u2:1 0,1,2']);
  });

  it('a replica that refuses the walk once (ERR_OVERLOADED): its entries finish at their own addresses through the append protocol, no new token', async () => {
    const c = await (await cluster()).connect();
    let refused = false;
    fake.answer = async (to, req) => {
      if (refused || to !== 'u2:1' || req.op !== 'WRITE') return undefined;
      refused = true;
      return refuse(req, 'ERR_OVERLOADED', 'queue full');
    };
    expect(await c.appendBatch([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])).toEqual([0, 1, 2]);
    expect(fake.ops('TOKEN')).toHaveLength(1);
    expect(c.stats.newTokens).toBe(0);
    // A full queue is not a seal: the entries are sent again, the layout not looked up.
    expect(c.stats.refreshes).toBe(0);
    expect((await Promise.all([0, 1, 2].map((a) => c.read(a)))).map(text)).toEqual(['a', 'b', 'c']);
    // Every replica holds each entry (the reads above came from the tail).
    for (const unit of CHAIN) {
      const held = await fake.engines.get(unit)!.read(1, Float64Array.of(0, 1, 2));
      expect(held.map((r) => r.status)).toEqual(['OK', 'OK', 'OK']);
    }
  });
});

describe('single appends walk their chains together', () => {
  it('appends called in one turn share one TOKEN and one WRITE frame per replica, each at its own address', async () => {
    const c = await (await cluster()).connect();
    expect(await Promise.all(['a', 'b', 'c'].map((p) => c.append(Buffer.from(p))))).toEqual([0, 1, 2]);
    expect(fake.ops('TOKEN')).toHaveLength(1);
    expect(fake.ops('WRITE').map((s) => `${s.to} ${s.req.op === 'WRITE' ? s.req.entries.map((e) => e.address).join(',') : ''}`)).toEqual(['u1:1 0,1,2', 'u2:1 0,1,2']);
    expect((await Promise.all([0, 1, 2].map((a) => c.read(a)))).map(text)).toEqual(['a', 'b', 'c']);
  });

  it('an append whose call ended before its token came writes nothing (its address stays a hole); the others of its TOKEN go on', async () => {
    const c = await (await cluster()).connect({ holeTimeoutMs: 10 });
    const controller = new AbortController();
    let released!: () => void;
    const hold = new Promise<void>((resolve) => (released = resolve));
    fake.answer = async (to, req) => {
      if (req.op !== 'TOKEN') return undefined;
      await hold;
      return fake.own(to, req);
    };
    const mine = c.append(Buffer.from('mine'), { signal: controller.signal });
    const other = c.append(Buffer.from('other'));
    await turn();
    controller.abort();
    await expect(mine).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    released();
    expect(await other).toBe(1);
    expect(writes()).toEqual(['u1:1 1@1', 'u2:1 1@1']);
    // The aborted append's address is a hole below the tail: a reader fills it.
    expect(text(await c.read(0))).toBe('<junk>');
  });

  it('each append keeps its own deadline while its walk waits on a silent replica', async () => {
    // The walk's request waits longer than either call: only the deadlines end them.
    const c = await (await cluster()).connect({ timeoutMs: 1_000 });
    fake.answer = (to, req) => (to === 'u2:1' && req.op === 'WRITE' ? 'silent' : undefined);
    const short = c.append(Buffer.from('short'), { deadlineMs: 100 });
    const long = c.append(Buffer.from('long'), { deadlineMs: 400 });
    const shortEnd = expect(short).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    await shortEnd;
    // The longer call is still going when the shorter one ended.
    let longSettled = false;
    void long.then(
      () => (longSettled = true),
      () => (longSettled = true),
    );
    await turn();
    expect(longSettled).toBe(false);
    // Its WRITE reached the head: the caller must not assume nothing happened.
    await expect(long).rejects.toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringMatching(/400 ms passed; what it sent may have taken effect/) });
  });
});

describe('appendTo', () => {
  it('writes the stream header with the backpointers the sequencer gave, and counts the token', async () => {
    const c = await (await cluster()).connect();
    expect(await c.appendTo(['a', 'b'], Buffer.from('first'))).toBe(0);
    expect(await c.appendTo(['b'], Buffer.from('second'))).toBe(1);
    expect(c.stats.streamTokens).toBe(2);
    const entry = await c.read(1);
    expect(entry.kind).toBe('data');
    const decoded = decodeStreamEntry((entry as { payload: Uint8Array }).payload)!;
    expect(decoded.streams).toEqual([{ id: streamId('b'), backpointers: [0] }]);
    expect(Buffer.from(decoded.body).toString()).toBe('second');
  });

  it('the token tells the client the tail: filling its address below it asks the sequencer nothing', async () => {
    const c = await (await cluster()).connect();
    const at = await c.appendTo(['a'], Buffer.from('x'));
    const f = await c.fill(at);
    expect(f.kind).toBe('data');
    expect(fake.ops('TAIL')).toEqual([]);
  });
});

describe('an append whose layout moved after its token', () => {
  // The store keeps the new projection from the client's watch: the client finds it when the
  // head refuses its write (ERR_SEALED) and it reloads the store.
  const next = { epoch: 2, sequencer: 'seq2:1', chain: CHAIN };
  const tokenThenMove = (startTail: number): void => {
    fake.store.quiet = true;
    delayFirst(
      (_, req) => req.op === 'TOKEN',
      async () => void (await fake.reconfigure(next, { startTail })),
    );
  };
  /** After `tokenThenMove`: `meanwhile` runs when the first TAIL arrives, before it is answered. */
  const beforeFirstTail = (meanwhile: () => Promise<void> | void): void => {
    const token = fake.answer!;
    let moved = false;
    fake.answer = async (to, req) => {
      if (!moved && req.op === 'TAIL') {
        moved = true;
        await meanwhile();
      }
      return token(to, req);
    };
  };

  it('keeps its address when it is below the new sequencer tail, and writes it under the new epoch', async () => {
    const c = await (await cluster()).connect();
    tokenThenMove(5);
    expect(await c.append(Buffer.from('mine'))).toBe(0);
    expect(epochsOf('TOKEN')).toEqual([1]);
    expect(fake.ops('TAIL').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq2:1@2']);
    expect(writes()).toEqual(['u1:1 0@1', 'u1:1 0@2', 'u2:1 0@2']);
    expect(c.stats.newTokens).toBe(0);
    expect(text(await c.read(0))).toBe('mine');
  });

  it('takes a new token when its address is at the new tail (no unit had it at the seal)', async () => {
    fake = new FakeCluster();
    fake.sequencer('seq:1', 1, 3);
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: CHAIN });
    const c = await fake.connect();
    tokenThenMove(3);
    expect(await c.append(Buffer.from('mine'))).toBe(3);
    expect(fake.ops('TOKEN').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq:1@1', 'seq2:1@2']);
    expect(writes()).toEqual(['u1:1 3@1', 'u1:1 3@2', 'u2:1 3@2']);
    expect(c.stats.newTokens).toBe(1);
  });

  it('a new sequencer already past that layout: the client finds the newer one and asks its tail there', async () => {
    const c = await (await cluster()).connect();
    tokenThenMove(5);
    beforeFirstTail(async () => void (await fake.reconfigure({ ...next, epoch: 3 }, { startTail: 5 })));
    expect(await c.append(Buffer.from('mine'))).toBe(0);
    expect(epochsOf('TAIL')).toEqual([2, 3]);
    expect(writes()).toEqual(['u1:1 0@1', 'u1:1 0@3', 'u2:1 0@3']);
  });

  it('a sequencer past the layout with nothing newer in the store: ERR_SEALED after maxRefreshes, naming the append', async () => {
    const c = await (await cluster()).connect({ maxRefreshes: 2, refreshDelayMs: 1 });
    tokenThenMove(5);
    beforeFirstTail(() => {
      // Moved on without a projection in the store (a reconfiguration that stopped half-way).
      const res = fake.sequencers.get('seq2:1')!.handle({ type: 'request', op: 'BOOTSTRAP', requestId: 0, epoch: 2, newEpoch: 3, startTail: 5, resetStreams: false });
      expect(res.status).toBe('OK');
    });
    await expect(c.append(Buffer.from('mine'))).rejects.toMatchObject({
      code: 'ERR_SEALED',
      message: 'append at 0: sealed at epoch 2 and the store has no newer projection after 2 tries',
    });
    expect(epochsOf('TAIL')).toEqual([2, 2, 2]);
  });

  it('appends whose layout moved after their shared token ask the new sequencer for its tail once between them', async () => {
    const c = await (await cluster()).connect();
    tokenThenMove(5);
    expect(await Promise.all([c.append(Buffer.from('a')), c.append(Buffer.from('b'))])).toEqual([0, 1]);
    expect(fake.ops('TAIL').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq2:1@2']);
    expect(c.stats.newTokens).toBe(0);
  });

  it('a TAIL the new sequencer refuses fails the append with its words', async () => {
    const c = await (await cluster()).connect();
    tokenThenMove(5);
    const token = fake.answer!;
    fake.answer = (to, req) => (req.op === 'TAIL' ? refuse(req, 'ERR_BAD_REQUEST', 'no') : token(to, req));
    await expect(c.append(Buffer.from('mine'))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'TAIL at seq2:1: no' });
  });

  it('the TAIL asked for the new epoch runs on the client deadline, not the append one: a silent sequencer ends it there', async () => {
    const c = await (await cluster()).connect({ deadlineMs: 100, timeoutMs: 20 });
    tokenThenMove(5);
    const token = fake.answer!;
    fake.answer = (to, req) => (req.op === 'TAIL' ? 'silent' : token(to, req));
    await expect(c.append(Buffer.from('mine'), { deadlineMs: 30_000 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: expect.stringMatching(/^TAIL at epoch 2: no answer within its deadline of 100 ms/),
    });
  });

  // Two appends with tokens of epoch 1 reach the new epoch one after the other: the first
  // asks the TAIL (refused, or answered), the second's token arrives only after the first ended.
  async function oneAfterTheOther(refuseFirstTail: boolean): Promise<{ first: Promise<number>; second: Promise<number>; firstEnded: () => void }> {
    const c = await (await cluster()).connect();
    fake.store.quiet = true;
    let firstEnded!: () => void;
    const ended = new Promise<void>((resolve) => (firstEnded = resolve));
    let moved!: () => void;
    const reconfigured = new Promise<void>((resolve) => (moved = resolve));
    let tails = 0;
    fake.answer = async (to, req) => {
      if (req.op === 'TOKEN' && fake.ops('TOKEN').length === 2) {
        // The second token is answered under epoch 1; then the layout moves (epoch 2, the same
        // sequencer moved up to 5), and the answer arrives only after the first append ended.
        const res = fake.sequencers.get(to)!.handle(req);
        await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN }, { startTail: 5 });
        moved();
        await ended;
        return res;
      }
      // The first append's write reaches the units after the move: sealed.
      if (req.op === 'WRITE' && req.epoch === 1) await reconfigured;
      if (req.op === 'TAIL' && ++tails === 1 && refuseFirstTail) return refuse(req, 'ERR_BAD_REQUEST', 'no');
      return undefined;
    };
    const first = c.append(Buffer.from('a'));
    first.catch(() => undefined);
    while (fake.ops('TOKEN').length === 0) await turn();
    const second = c.append(Buffer.from('b'));
    return { first, second, firstEnded };
  }

  it('a refused TAIL is not kept: a later append of that epoch asks the sequencer again', async () => {
    const { first, second, firstEnded } = await oneAfterTheOther(true);
    await expect(first).rejects.toMatchObject({ message: 'TAIL at seq:1: no' });
    firstEnded();
    expect(await second).toBe(1);
    expect(fake.ops('TOKEN').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq:1@1', 'seq:1@1']);
    expect(epochsOf('TAIL')).toEqual([2, 2]);
  });

  it('an answered TAIL is kept: a later append of that epoch uses it without asking', async () => {
    const { first, second, firstEnded } = await oneAfterTheOther(false);
    expect(await first).toBe(0);
    firstEnded();
    expect(await second).toBe(1);
    expect(epochsOf('TAIL')).toEqual([2]);
  });

  it('an address outside the new layout segments takes a new token there', async () => {
    const c = await (await cluster()).connect();
    fake.store.quiet = true;
    const moved = { epoch: 2, sequencer: 'seq2:1', segments: [{ start: 10, end: null, chains: [CHAIN] }] };
    delayFirst(
      (_, req) => req.op === 'TOKEN',
      async () => void (await fake.reconfigure(moved, { startTail: 20 })),
    );
    expect(await c.append(Buffer.from('mine'))).toBe(20);
    expect(writes()).toEqual(['u1:1 0@1', 'u1:1 20@2', 'u2:1 20@2']);
  });
});

describe('an append whose address is taken or refused', () => {
  it('an address filled with junk: a new token, the append lands at the next address', async () => {
    const c = await (await cluster()).connect();
    await fake.engines.get('u1:1')!.fill(1, Float64Array.of(0));
    expect(await c.append(Buffer.from('mine'))).toBe(1);
    expect(c.stats.newTokens).toBe(1);
    expect([text(await c.read(0)), text(await c.read(1))]).toEqual(['<junk>', 'mine']);
  });

  it('a chain sealed with nothing newer in the store: ERR_SEALED after maxRefreshes, naming the append', async () => {
    const c = await (await cluster()).connect({ maxRefreshes: 2, refreshDelayMs: 1 });
    for (const u of CHAIN) await fake.engines.get(u)!.seal(2);
    await expect(c.append(Buffer.from('mine'))).rejects.toMatchObject({
      code: 'ERR_SEALED',
      message: 'append at 0: sealed at epoch 1 and the store has no newer projection after 2 tries',
    });
    expect(writes()).toEqual(['u1:1 0@1', 'u1:1 0@1', 'u1:1 0@1']);
  });

  it('a chain sealed by a reconfiguration the store has: the append goes on under it at its address', async () => {
    const c = await (await cluster()).connect();
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN });
    // The sequencer moved too, so the token comes under epoch 2 after ERR_SEALED; then the head's seal.
    expect(await c.append(Buffer.from('mine'))).toBe(0);
    expect(epochsOf('TOKEN')).toEqual([1, 2]);
    expect(writes()).toEqual(['u1:1 0@2', 'u2:1 0@2']);
  });

  // A failed store names the cause once, then refuses with other words (the engine's Failed):
  // the append reports the first answer and does not ask again.
  function failingOnce(): void {
    let failures = 0;
    fake.answer = (to, req) => {
      if (to !== 'u2:1' || req.op !== 'WRITE') return undefined;
      return refuse(req, 'ERR_IO', failures++ === 0 ? 'the disk is on fire' : 'refuses further work');
    };
  }

  it('a unit failing the write: the append fails with its code, naming the address, the unit and its words', async () => {
    const c = await (await cluster()).connect();
    failingOnce();
    await expect(c.append(Buffer.from('mine'))).rejects.toMatchObject({
      code: 'ERR_IO',
      message: 'append at 0: WRITE at u2:1 failed with ERR_IO (the disk is on fire)',
    });
    expect(writes()).toEqual(['u1:1 0@1', 'u2:1 0@1']);
  });

  it('a unit failing a batch walk: every entry fails with its words, each written once', async () => {
    const c = await (await cluster()).connect();
    failingOnce();
    const settled = await Promise.allSettled(['a', 'b'].map((p) => c.append(Buffer.from(p))));
    expect(settled.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).toEqual([
      'append at 0: WRITE at u2:1 failed with ERR_IO (the disk is on fire)',
      'append at 1: WRITE at u2:1 failed with ERR_IO (the disk is on fire)',
    ]);
    await expect(c.appendBatch([Buffer.from('c')])).rejects.toMatchObject({ message: 'append at 2: WRITE at u2:1 failed with ERR_IO (refuses further work)' });
    expect(fake.ops('WRITE')).toHaveLength(4);
  });
});

describe('a stream append whose layout moved after its token', () => {
  /** The stream entries of `name` a fresh reader delivers: their bodies. */
  async function streamBodies(c: CorfuClient, name: string): Promise<string[]> {
    const reader = c.stream(name);
    const bodies: string[] = [];
    for (let e = await reader.readNext(); e !== undefined; e = await reader.readNext()) bodies.push(Buffer.from(e.payload).toString());
    return bodies;
  }

  it('its bytes on the head under the old epoch: the new chain holds them, the append keeps its address', async () => {
    const c = await (await cluster()).connect();
    let moved = false;
    fake.answer = async (to, req) => {
      // The tail's WRITE finds the chain sealed: the head took it under epoch 1.
      if (!moved && to === 'u2:1' && req.op === 'WRITE') {
        moved = true;
        await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN });
      }
      return undefined;
    };
    expect(await c.appendTo(['s'], Buffer.from('mine'))).toBe(0);
    expect(fake.ops('STREAM_TOKEN')).toHaveLength(1);
    expect(c.stats.newTokens).toBe(0);
    expect(await streamBodies(c, 's')).toEqual(['mine']);
  });

  it('never written: a new STREAM_TOKEN, not the old address (even below the new tail); the hole is filled', async () => {
    const c = await (await cluster()).connect({ holeTimeoutMs: 1 });
    delayFirst(
      (_, req) => req.op === 'STREAM_TOKEN',
      async () => void (await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN })),
    );
    expect(await c.appendTo(['s'], Buffer.from('mine'))).toBe(1);
    expect(fake.ops('STREAM_TOKEN').map((s) => s.req.epoch)).toEqual([1, 2]);
    expect(c.stats.newTokens).toBe(1);
    expect(writes()).toEqual(['u1:1 1@2', 'u2:1 1@2']);
    expect(text(await c.read(0))).toBe('<junk>');
    expect(await streamBodies(c, 's')).toEqual(['mine']);
  });

  it('its address at the tail of a new sequencer (never written anywhere): a new STREAM_TOKEN, nothing filled', async () => {
    const c = await (await cluster()).connect();
    // Kept from the watch, or the token's request would be abandoned (its sequencer left): found after the head's ERR_SEALED.
    fake.store.quiet = true;
    delayFirst(
      (_, req) => req.op === 'STREAM_TOKEN',
      async () => void (await fake.reconfigure({ epoch: 2, sequencer: 'seq2:1', chain: CHAIN })),
    );
    // The new sequencer starts at the sealed tail, 0: it hands out 0 again.
    expect(await c.appendTo(['s'], Buffer.from('mine'))).toBe(0);
    expect(fake.ops('STREAM_TOKEN').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq:1@1', 'seq2:1@2']);
    expect(c.stats.newTokens).toBe(1);
    expect(fake.ops('FILL')).toEqual([]);
    expect(writes()).toEqual(['u1:1 0@1', 'u1:1 0@2', 'u2:1 0@2']);
  });

  it('its address trimmed meanwhile: a new STREAM_TOKEN', async () => {
    const c = await (await cluster()).connect();
    delayFirst(
      (_, req) => req.op === 'STREAM_TOKEN',
      async () => {
        await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN });
        for (const u of CHAIN) await fake.engines.get(u)!.trim(2, Float64Array.of(0));
      },
    );
    expect(await c.appendTo(['s'], Buffer.from('mine'))).toBe(1);
    expect(c.stats.newTokens).toBe(1);
    expect(writes()).toEqual(['u1:1 1@2', 'u2:1 1@2']);
  });

  it('another entry at its address (the new sequencer handed it out again): a new STREAM_TOKEN, and its bytes are never sent there', async () => {
    const c = await (await cluster()).connect();
    delayFirst(
      (_, req) => req.op === 'STREAM_TOKEN',
      async () => {
        await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN });
        for (const u of CHAIN) await fake.write(u, 2, 0, Buffer.from('theirs'));
      },
    );
    expect(await c.appendTo(['s'], Buffer.from('mine'))).toBe(1);
    expect(c.stats.newTokens).toBe(1);
    expect(writes()).toEqual(['u1:1 1@2', 'u2:1 1@2']);
    expect(text(await c.read(0))).toBe('theirs');
  });

  it('the look at its address failing otherwise: the append fails with that error', async () => {
    const c = await (await cluster()).connect();
    delayFirst(
      (_, req) => req.op === 'STREAM_TOKEN',
      async () => void (await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN })),
    );
    const answer = fake.answer!;
    fake.answer = (to, req) => (req.op === 'READ' ? refuse(req, 'ERR_IO', 'bad sector') : answer(to, req));
    await expect(c.appendTo(['s'], Buffer.from('mine'))).rejects.toMatchObject({ code: 'ERR_IO', message: 'read 0: READ at u2:1 failed with ERR_IO (bad sector)' });
    expect(fake.ops('WRITE')).toEqual([]);
  });
});
