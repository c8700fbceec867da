// CorfuClient's reads, fills, trims and tail against a cluster in this process
// (helpers/fake-cluster.ts): where the tail stops a read or a fill, a hole below it filled,
// readRange's bounds and read-ahead window, the sequencer's tokens shared by concurrent
// appends, and trim and prefixTrim across a chain, a refusal and a new epoch. No server,
// no process.

import { afterEach, describe, expect, it } from 'vitest';

import type { Entry } from '../src/client/client.js';
import { STATUS_NAMES } from '../bindings/errors.js';
import { FakeCluster, refuse, text, turn } from './helpers/fake-cluster.js';

const CHAIN = ['u1:1', 'u2:1'];
let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

/** A fresh cluster with one chain of two units; its sequencer's next token is `startTail`. */
async function cluster(startTail = 0): Promise<FakeCluster> {
  fake = new FakeCluster();
  fake.sequencer('seq:1', 1, startTail);
  await fake.install({ epoch: 1, sequencer: 'seq:1', chain: CHAIN });
  return fake;
}

/** The addresses of every request of `op` that reached `to` (any unit when omitted). */
const addressesOf = (op: 'READ' | 'FILL' | 'TRIM', to?: string): number[] => fake.ops(op).flatMap((s) => (s.req.op === op && (to === undefined || s.to === to) ? [...s.req.addresses] : []));
const byte = (name: (typeof STATUS_NAMES)[number]): number => STATUS_NAMES.indexOf(name);

async function all(range: AsyncIterable<Entry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of range) out.push(`${e.address}:${text(e)}`);
  return out;
}

describe('read and fill at the tail', () => {
  it('read at or above the tail: ERR_UNWRITTEN naming the tail, and nothing is filled', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    await expect(c.read(1)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN', message: 'read 1: the address is at or above the tail (1); nothing was written' });
    await expect(c.read(7)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN', message: 'read 7: the address is at or above the tail (1); nothing was written' });
    expect(fake.ops('FILL')).toEqual([]);
    expect(text(await c.read(0))).toBe('a');
  });

  it('fill at or above the tail: ERR_UNWRITTEN, and no FILL is sent; at the tail a client saw, it does not fill either', async () => {
    const c = await (await cluster()).connect();
    await expect(c.fill(0)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN', message: 'fill 0: the address is at or above the tail (0); nothing was written' });
    await c.append(Buffer.from('a'));
    const tails = fake.ops('TAIL').length;
    await expect(c.fill(1)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN', message: 'fill 1: the address is at or above the tail (1); nothing was written' });
    // The tail it saw (1) did not settle it: the sequencer was asked.
    expect(fake.ops('TAIL').length).toBe(tails + 1);
    expect(fake.ops('FILL')).toEqual([]);
  });

  it('fill below the tail: junk in a hole (and the read sees it), the value where one was written', async () => {
    const c = await (await cluster(3)).connect();
    await fake.write('u1:1', 1, 1, Buffer.from('x'));
    await fake.write('u2:1', 1, 1, Buffer.from('x'));
    expect(await c.fill(0)).toEqual({ address: 0, kind: 'junk' });
    expect(await c.read(0)).toEqual({ address: 0, kind: 'junk' });
    expect(text(await c.fill(1))).toBe('x');
    expect(text(await c.read(1))).toBe('x');
    expect(addressesOf('FILL', 'u1:1')).toContain(0);
  });

  it('a tail seen under an older epoch does not let a fill through: the new sequencer is asked, and its tail decides', async () => {
    const c = await (await cluster(3)).connect();
    // The client saw tail 3 under epoch 1 (tokens handed out, never written); the new sequencer starts at 1.
    expect(await c.tail()).toBe(3);
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: CHAIN }, { startTail: 1 });
    await expect(c.fill(2)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN', message: 'fill 2: the address is at or above the tail (1); nothing was written' });
    expect(fake.ops('TAIL').map((s) => s.to)).toEqual(['seq:1', 'seq:2']);
    expect(fake.ops('FILL')).toEqual([]);
  });

  it('a hole below the tail is filled with junk after holeTimeoutMs; the head was asked again meanwhile', async () => {
    const c = await (await cluster(2)).connect({ holeTimeoutMs: 30 });
    expect(await c.read(1)).toEqual({ address: 1, kind: 'junk' });
    expect(c.stats.fills).toBe(1);
    // Looked at more than once before the fill (the recheck), then filled on the chain.
    expect(addressesOf('READ', 'u1:1').filter((a) => a === 1).length).toBeGreaterThan(1);
    expect(addressesOf('FILL', 'u1:1')).toEqual([1]);
  });

  it('a trimmed address: ERR_TRIMMED with the call and the address', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    await c.trim(0);
    await expect(c.read(0)).rejects.toMatchObject({ code: 'ERR_TRIMMED', message: 'read 0: the address is trimmed' });
    await expect(c.fill(0)).rejects.toMatchObject({ code: 'ERR_TRIMMED', message: 'fill 0: the address is trimmed' });
  });

  it('a unit that refuses a read fails it, naming the call, the unit and the code', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    fake.answer = (to, req) => (req.op === 'READ' ? refuse(req, 'ERR_IO', 'disk') : undefined);
    await expect(c.read(0)).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/^read 0: READ at u[12]:1 failed with ERR_IO/) });
  });
});

describe('a closed client, and a chain that stays sealed', () => {
  it('refuses read, fill, readRange, follow, tail, trim and prefixTrim with ERR_CLOSED, sending nothing', async () => {
    const c = await (await cluster()).connect();
    await c.close();
    const sent = fake.sent.length;
    for (const call of [() => c.read(0), () => c.fill(0), () => c.tail(), () => c.trim(0), () => c.prefixTrim(0), () => all(c.readRange(0, 1)), () => all(c.follow(0))]) {
      await expect(call()).rejects.toMatchObject({ code: 'ERR_CLOSED', message: 'the client is closed' });
    }
    expect(fake.sent.length).toBe(sent);
  });

  it('tail, trim and prefixTrim with a signal already aborted fail by their names, sending nothing; the observer hears each', async () => {
    const c = await (await cluster()).connect();
    const heard: string[] = [];
    c.observeCalls((call, _seconds, failure) => heard.push(`${call} ${failure ?? 'ok'}`));
    const ac = new AbortController();
    ac.abort();
    await expect(c.tail({ signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'tail: aborted' });
    await expect(c.trim(4, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'trim 4: aborted' });
    await expect(c.prefixTrim(4, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'prefixTrim 4: aborted' });
    expect(heard).toEqual(['tail ERR_ABORTED', 'trim ERR_ABORTED', 'prefixTrim ERR_ABORTED']);
    expect(fake.sent).toEqual([]);
  });

  it('a read or fill sealed past maxRefreshes names the call and the address', async () => {
    const c = await (await cluster(1)).connect({ maxRefreshes: 1, refreshDelayMs: 1 });
    fake.answer = (_to, req) => (req.op === 'READ' || req.op === 'FILL' ? refuse(req, 'ERR_SEALED', 'sealed') : undefined);
    await expect(c.read(0)).rejects.toMatchObject({ code: 'ERR_SEALED', message: 'read 0: sealed at epoch 1 and the store has no newer projection after 1 tries' });
    await expect(c.fill(0)).rejects.toMatchObject({ code: 'ERR_SEALED', message: 'fill 0: sealed at epoch 1 and the store has no newer projection after 1 tries' });
  });
});

describe('tail', () => {
  it('is the sequencer next token, asked under the current epoch each time', async () => {
    const c = await (await cluster(5)).connect();
    expect(await c.tail()).toBe(5);
    await c.append(Buffer.from('a'));
    expect(await c.tail()).toBe(6);
    expect(fake.ops('TAIL').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq:1@1', 'seq:1@1']);
  });

  it('a refusal fails it with the sequencer and its words; ERR_SEALED goes to the next epoch', async () => {
    const c = await (await cluster()).connect();
    fake.answer = (_to, req) => (req.op === 'TAIL' ? refuse(req, 'ERR_BAD_REQUEST', 'no') : undefined);
    await expect(c.tail()).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'TAIL at seq:1: no' });
    fake.answer = undefined;
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN }, { startTail: 4 });
    expect(await c.tail()).toBe(4);
    expect(c.epoch).toBe(2);
  });

  it('a tail answered by a replaced sequencer under an epoch the store has replaced is asked again under the new one', async () => {
    const c = await (await cluster()).connect();
    // Epoch 2 is stored, with a new sequencer; the client has not heard, and the old one still answers.
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: CHAIN }, { startTail: 9 });
    expect(await c.tail()).toBe(9);
    // (The old sequencer's request may also be abandoned and resent to the new one under epoch 1, which it refuses.)
    const asked = fake.ops('TAIL').map((s) => `${s.to}@${s.req.epoch}`);
    expect([asked[0], asked.at(-1)]).toEqual(['seq:1@1', 'seq:2@2']);
    // The tail it returned is the one it knows: a fill below it asks nothing more.
    expect(await c.fill(8)).toEqual({ address: 8, kind: 'junk' });
    expect(fake.ops('TAIL').length).toBe(asked.length);
  });
});

describe('tokens shared by concurrent appends', () => {
  it('appends in the same turn take one TOKEN for all, in call order', async () => {
    const c = await (await cluster()).connect();
    const addresses = await Promise.all(['a', 'b', 'c'].map((s) => c.append(Buffer.from(s))));
    expect(addresses).toEqual([0, 1, 2]);
    expect(fake.ops('TOKEN').map((s) => (s.req.op === 'TOKEN' ? s.req.count : 0))).toEqual([3]);
    expect(c.stats.tokenRequests).toBe(1);
    expect(c.stats.tokens).toBe(3);
  });

  it('appends that want tokens while TOKEN requests are out go in the next one at once, up to four out; the rest wait and share one', async () => {
    const f = await cluster();
    const c = await f.connect();
    const held: Array<() => void> = [];
    let hold = true;
    f.answer = async (to, req) => {
      if (req.op !== 'TOKEN') return undefined;
      const res = f.sequencers.get(to)!.handle(req);
      if (hold) await new Promise<void>((resolve) => held.push(resolve));
      return res;
    };
    const appends: Promise<number>[] = [];
    for (let i = 0; i < 6; i++) {
      appends.push(c.append(Buffer.from(`a${i}`)));
      await turn();
    }
    const counts = (): number[] => f.ops('TOKEN').map((s) => (s.req.op === 'TOKEN' ? s.req.count : 0));
    // Four on the wire, one append each; the fifth and sixth wait for one of them.
    expect(counts()).toEqual([1, 1, 1, 1]);
    hold = false;
    for (const release of held.splice(0)) release();
    const addresses = await Promise.all(appends);
    expect(new Set(addresses).size).toBe(6);
    // The two that waited left together, in one request.
    expect(counts()).toEqual([1, 1, 1, 1, 2]);
    for (const [i, a] of addresses.entries()) expect(text(await c.read(a))).toBe(`a${i}`);
  });

  it('a shared TOKEN lasts as long as its longest-lived waiter: one whose deadline passed does not end it for the others', async () => {
    const c = await (await cluster()).connect();
    const short = c.append(Buffer.from('a'), { deadlineMs: 20 });
    const long = c.append(Buffer.from('b'), { deadlineMs: 5000 });
    const shortEnded = short.then(
      () => undefined,
      () => undefined,
    );
    // The sequencer answers only once the short-lived append has ended.
    fake.answer = async (_to, req) => {
      if (req.op === 'TOKEN') await shortEnded;
      return undefined;
    };
    await expect(short).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(await long).toBe(1);
    expect(fake.ops('TOKEN').map((s) => (s.req.op === 'TOKEN' ? s.req.count : 0))).toEqual([2]);
  });

  it('a TOKEN sealed with nothing newer in the store fails after maxRefreshes, naming TOKEN', async () => {
    const c = await (await cluster()).connect({ maxRefreshes: 1, refreshDelayMs: 1 });
    fake.answer = (_to, req) => (req.op === 'TOKEN' ? refuse(req, 'ERR_SEALED', 'sealed') : undefined);
    await expect(c.append(Buffer.from('a'))).rejects.toMatchObject({ code: 'ERR_SEALED', message: 'TOKEN: sealed at epoch 1 and the store has no newer projection after 1 tries' });
  });

  it('a refused TOKEN fails every append waiting on it with the sequencer words; the next append asks again', async () => {
    const c = await (await cluster()).connect();
    fake.answer = (_to, req) => (req.op === 'TOKEN' ? refuse(req, 'ERR_FULL', 'full') : undefined);
    const both = await Promise.allSettled([c.append(Buffer.from('a')), c.append(Buffer.from('b'))]);
    expect(both).toEqual([
      { status: 'rejected', reason: expect.objectContaining({ code: 'ERR_FULL', message: 'TOKEN(2) at seq:1: full' }) },
      { status: 'rejected', reason: expect.objectContaining({ code: 'ERR_FULL', message: 'TOKEN(2) at seq:1: full' }) },
    ]);
    fake.answer = undefined;
    expect(await c.append(Buffer.from('c'))).toBe(0);
  });

  it('a TOKEN sealed by a new epoch is asked again under it; the tail seen from the token lets a fill below it through', async () => {
    const c = await (await cluster()).connect();
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: CHAIN }, { startTail: 3 });
    expect(await c.append(Buffer.from('a'))).toBe(3);
    expect(fake.ops('TOKEN').map((s) => s.req.epoch)).toEqual([1, 2]);
    const tails = fake.ops('TAIL').length;
    expect(await c.fill(2)).toEqual({ address: 2, kind: 'junk' });
    expect(fake.ops('TAIL').length).toBe(tails);
  });
});

describe('readRange', () => {
  it('yields from (inclusive) to to (exclusive) in order, junk where a hole was; from === to yields nothing', async () => {
    const c = await (await cluster()).connect({ holeTimeoutMs: 5 });
    for (const s of ['a', 'b', 'c', 'd']) await c.append(Buffer.from(s));
    expect(await all(c.readRange(1, 3))).toEqual(['1:b', '2:c']);
    expect(await all(c.readRange(0, 4))).toEqual(['0:a', '1:b', '2:c', '3:d']);
    expect(await all(c.readRange(2, 2))).toEqual([]);
    expect(addressesOf('READ', 'u1:1').some((a) => a >= 4)).toBe(false);
    await expect(all(c.readRange(3, 5))).rejects.toMatchObject({ code: 'ERR_UNWRITTEN', message: 'read 4: the address is at or above the tail (4); nothing was written' });
  });

  it('the options apply to each read: an aborted signal ends the range at its first read', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    const ac = new AbortController();
    ac.abort();
    await expect(all(c.readRange(0, 1, { signal: ac.signal }))).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'read 0: aborted' });
    expect(addressesOf('READ')).toEqual([]);
  });

  it('checks both bounds, naming them', async () => {
    const c = await (await cluster()).connect();
    await expect(all(c.readRange(-1, 3))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'from must be a non-negative safe integer, got number -1' });
    await expect(all(c.readRange(0, 1.5))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'to must be a non-negative safe integer, got number 1.5' });
    expect(fake.sent).toEqual([]);
  });

  it('a consumer that stops early leaves no read ahead unhandled, even one that failed', async () => {
    const c = await (await cluster()).connect({ readAhead: 4 });
    await c.append(Buffer.from('a'));
    const failed: string[] = [];
    c.observeCalls((call, _seconds, failure) => {
      if (call === 'read' && failure !== undefined) failed.push(failure);
    });
    // Addresses 1..3 are at or above the tail: their reads ahead fail, and are never yielded.
    for await (const e of c.readRange(0, 4)) {
      expect(text(e)).toBe('a');
      break;
    }
    while (failed.length < 3) await turn();
    expect(failed).toEqual(['ERR_UNWRITTEN', 'ERR_UNWRITTEN', 'ERR_UNWRITTEN']);
    // A rejection nobody handled would be reported (and fail this file) once the turn ends.
    await turn();
  });

  it('the tail a client knows does not go down: a lower answer (a slow one) leaves it where it was', async () => {
    const c = await (await cluster()).connect();
    for (const s of ['a', 'b', 'c']) await c.append(Buffer.from(s));
    fake.answer = (_to, req) => (req.op === 'TAIL' ? { type: 'response', op: 'TAIL', requestId: req.requestId, epoch: req.epoch, status: 'OK', tail: 1 } : undefined);
    expect(await c.tail()).toBe(1);
    fake.answer = undefined;
    // Below the tail it saw (3): filled (here, the value read) without asking the sequencer.
    expect(text(await c.fill(2))).toBe('c');
    expect(fake.ops('TAIL').length).toBe(1);
    await expect(c.read(3)).rejects.toMatchObject({ message: 'read 3: the address is at or above the tail (3); nothing was written' });
  });

  it('starts with exactly readAhead reads: the first READ a unit gets asks for that many addresses', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect({ readAhead: 2 });
    for (const s of ['a', 'b', 'c', 'd']) await c.append(Buffer.from(s));
    expect(await all(c.readRange(0, 4))).toEqual(['0:a', '1:b', '2:c', '3:d']);
    const first = fake.ops('READ')[0]!.req;
    expect(first.op === 'READ' ? first.addresses : []).toEqual([0, 1]);
  });

  it('fill: a signal already aborted fails it with its name, before anything is sent', async () => {
    const c = await (await cluster()).connect();
    const ac = new AbortController();
    ac.abort();
    await expect(c.fill(3, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'fill 3: aborted' });
    expect(fake.sent).toEqual([]);
  });

  it('reads at most readAhead addresses ahead of the consumer', async () => {
    const c = await (await cluster()).connect({ readAhead: 2 });
    for (const s of ['a', 'b', 'c', 'd', 'e', 'f']) await c.append(Buffer.from(s));
    // Each READ is answered only once the consumer has taken every address readAhead below it.
    let taken = 0;
    const early: number[] = [];
    fake.answer = (_to, req) => {
      if (req.op === 'READ') for (const a of req.addresses) if (a > taken + 2) early.push(a);
      return undefined;
    };
    const out: string[] = [];
    for await (const e of c.readRange(0, 6)) {
      out.push(text(e));
      taken++;
    }
    expect(out.join('')).toBe('abcdef');
    expect(early).toEqual([]);
  });
});

describe('trim and prefixTrim', () => {
  it('trim reaches every unit of the chain; an address already trimmed, or never written, is not an error', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    await c.trim(0);
    expect(addressesOf('TRIM')).toEqual([0, 0]);
    expect(fake.ops('TRIM').map((s) => s.to)).toEqual(CHAIN);
    await c.trim(0);
    await c.trim(40);
    fake.answer = (_to, req) =>
      req.op === 'TRIM' ? { type: 'response', op: 'TRIM', requestId: req.requestId, epoch: req.epoch, status: 'OK', statuses: Uint8Array.of(byte('ERR_UNWRITTEN')) } : undefined;
    await c.trim(41);
    fake.answer = (_to, req) =>
      req.op === 'TRIM' ? { type: 'response', op: 'TRIM', requestId: req.requestId, epoch: req.epoch, status: 'OK', statuses: Uint8Array.of(byte('ERR_TRIMMED')) } : undefined;
    await c.trim(0);
    expect(fake.ops('TRIM').length).toBe(10);
  });

  it('trim: a unit that refuses the address fails it, naming the unit and the code, and goes no further down the chain', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    fake.answer = (_to, req) => (req.op === 'TRIM' ? { type: 'response', op: 'TRIM', requestId: req.requestId, epoch: req.epoch, status: 'OK', statuses: Uint8Array.of(byte('ERR_IO')) } : undefined);
    await expect(c.trim(0)).rejects.toMatchObject({ code: 'ERR_IO', message: 'trim 0 at u1:1: ERR_IO' });
    expect(fake.ops('TRIM').map((s) => s.to)).toEqual(['u1:1']);
    fake.answer = (_to, req) => (req.op === 'TRIM' ? refuse(req, 'ERR_BAD_REQUEST', 'no') : undefined);
    await expect(c.trim(0)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'TRIM at u1:1: no' });
  });

  it('trim and prefixTrim sealed by a new epoch go again under it, to its chain', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: ['u1:1', 'u3:2'] });
    await c.trim(0);
    expect(fake.ops('TRIM').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['u1:1@1', 'u1:1@2', 'u3:2@2']);
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 3, sequencer: 'seq:1', chain: ['u1:1', 'u3:2'] });
    await c.prefixTrim(1);
    const prefix = fake.ops('PREFIX_TRIM').map((s) => `${s.to}@${s.req.epoch}`);
    expect(prefix.filter((s) => s.endsWith('@3')).sort()).toEqual(['u1:1@3', 'u3:2@3']);
    expect(prefix.filter((s) => !s.endsWith('@3')).every((s) => s.endsWith('@2'))).toBe(true);
  });

  it('prefixTrim reaches every unit of the projection; a refusal fails it with its words', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', segments: [{ start: 0, end: null, chains: [['u1:1'], ['u2:1']] }] });
    const c = await fake.connect();
    for (const s of ['a', 'b', 'c']) await c.append(Buffer.from(s));
    await c.prefixTrim(2);
    expect(
      fake
        .ops('PREFIX_TRIM')
        .map((s) => (s.req.op === 'PREFIX_TRIM' ? `${s.to} ${s.req.address}` : ''))
        .sort(),
    ).toEqual(['u1:1 2', 'u2:1 2']);
    await expect(c.read(1)).rejects.toMatchObject({ code: 'ERR_TRIMMED' });
    expect(text(await c.read(2))).toBe('c');
    fake.answer = (to, req) => (req.op === 'PREFIX_TRIM' && to === 'u2:1' ? refuse(req, 'ERR_IO', 'disk') : undefined);
    await expect(c.prefixTrim(3)).rejects.toMatchObject({ code: 'ERR_IO', message: 'PREFIX_TRIM at u2:1: disk' });
  });

  it('a sealed trim past maxRefreshes names the call', async () => {
    const c = await (await cluster()).connect({ maxRefreshes: 1, refreshDelayMs: 1 });
    fake.answer = (_to, req) => (req.op === 'TRIM' || req.op === 'PREFIX_TRIM' ? refuse(req, 'ERR_SEALED', 'sealed') : undefined);
    await expect(c.trim(0)).rejects.toMatchObject({ code: 'ERR_SEALED', message: expect.stringMatching(/^trim 0: sealed at epoch 1/) });
    await expect(c.prefixTrim(0)).rejects.toMatchObject({ code: 'ERR_SEALED', message: expect.stringMatching(/^prefixTrim 0: sealed at epoch 1/) });
  });
});
