// CorfuClient.follow against a cluster in this process (helpers/fake-cluster.ts): what a
// follower rides out and what ends it. A follower serves a process for hours; a unit that
// sheds load or drops its connections for a while must not end it.

import { afterEach, describe, expect, it } from 'vitest';

import type { CorfuClient, Entry } from '../src/client/client.js';
import { MAX_WAIT_TAIL_MS } from '../src/wire/messages.js';
import { FakeCluster, refuse, text, turn } from './helpers/fake-cluster.js';

let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

/** The first `n` entries a follower from 0 delivers. */
async function firstEntries(follower: AsyncGenerator<Entry>, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of follower) {
    out.push(text(e));
    if (out.length === n) break;
  }
  return out;
}

describe('follow', () => {
  it.each(['ERR_OVERLOADED', 'ERR_UNAVAILABLE'] as const)('rides out a unit that answers every read with %s for longer than a call may take', async (code) => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const writer = await fake.connect();
    for (const s of ['a', 'b', 'c']) await writer.append(Buffer.from(s));
    // Every READ is refused for three times a call's deadline from the first one.
    const c = await fake.connect({ timeoutMs: 200 });
    let refusedUntil: number | undefined;
    let refused = 0;
    fake.answer = (_to, req) => {
      if (req.op !== 'READ') return undefined;
      refusedUntil ??= Date.now() + 600;
      if (Date.now() >= refusedUntil) return undefined;
      refused++;
      return refuse(req, code, 'busy');
    };
    expect(await firstEntries(c.follow(0, { pollMs: 50 }), 3)).toEqual(['a', 'b', 'c']);
    // The entries came after the refusals, which outlasted a read's own deadline: the
    // follower itself waited and read again.
    expect(refused).toBeGreaterThan(0);
  });

  it('ends on an error it cannot ride out (a read refused as malformed), with that error', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const writer = await fake.connect();
    await writer.append(Buffer.from('a'));
    const c = await fake.connect({ timeoutMs: 200 });
    fake.answer = (_to, req) => (req.op === 'READ' ? refuse(req, 'ERR_BAD_REQUEST', 'no') : undefined);
    await expect(firstEntries(c.follow(0, { pollMs: 50 }), 1)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
  });
});

describe('follow: its options, its waits and its end', () => {
  async function written(...entries: string[]): Promise<CorfuClient> {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect({ holeTimeoutMs: 5 });
    for (const s of entries) await c.append(Buffer.from(s));
    return c;
  }
  const waits = (): string[] => fake.ops('WAIT_TAIL').map((s) => (s.req.op === 'WAIT_TAIL' ? `${s.req.after}/${s.req.waitMs}@${s.req.epoch}` : ''));

  it('refuses bad options with their words, before anything is sent', async () => {
    const c = await written();
    const sent = fake.sent.length;
    const first = (f: AsyncGenerator<Entry>): Promise<unknown> => f.next();
    await expect(first(c.follow(-1))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'from must be a non-negative safe integer, got number -1' });
    await expect(first(c.follow(0, 5 as never))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'follow: options must be an object, got number 5' });
    await expect(first(c.follow(0, null as never))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'follow: options must be an object, got null' });
    await expect(first(c.follow(0, { signal: 'x' as never }))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: "follow: signal must be an AbortSignal, got string 'x'" });
    await expect(first(c.follow(0, { pollMs: 0 }))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'pollMs must be a positive integer, got number 0' });
    await expect(first(c.follow(0, { pollMs: MAX_WAIT_TAIL_MS + 1 }))).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: `follow: pollMs must be at most ${MAX_WAIT_TAIL_MS}, got ${MAX_WAIT_TAIL_MS + 1}`,
    });
    expect(fake.sent.length).toBe(sent);
  });

  it('waits with WAIT_TAIL after the address it wants, for pollMs (10 s by default, at most the longest wait)', async () => {
    const c = await written('a', 'b');
    expect(await firstEntries(c.follow(1), 1)).toEqual(['b']);
    expect(waits()[0]).toBe('1/10000@1');
    fake.sent.length = 0;
    expect(await firstEntries(c.follow(0, { pollMs: MAX_WAIT_TAIL_MS }), 2)).toEqual(['a', 'b']);
    expect(waits()[0]).toBe(`0/${MAX_WAIT_TAIL_MS}@1`);
  });

  it('yields junk where a hole was filled, unless skipJunk', async () => {
    const c = await written('a');
    await fake.write('u1:1', 1, 2, Buffer.from('c'));
    fake.sequencers.get('seq:1')!.take(2);
    // Address 1: a token handed out and never written (filled with junk by the reader).
    expect(await firstEntries(c.follow(0), 3)).toEqual(['a', '<junk>', 'c']);
    expect(await firstEntries(c.follow(0, { skipJunk: true }), 2)).toEqual(['a', 'c']);
  });

  it('a signal aborted before it starts ends it at once, cleanly; one fired while it waits ends it too', async () => {
    const c = await written('a');
    const ac = new AbortController();
    ac.abort();
    expect(await firstEntries(c.follow(0, { signal: ac.signal }), 1)).toEqual([]);
    const later = new AbortController();
    const follower = c.follow(0, { signal: later.signal, pollMs: 50 });
    expect((await follower.next()).value).toMatchObject({ address: 0 });
    const next = follower.next();
    later.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('a consumer that stops ends the reads it left in flight at once (one waiting on a hole: ERR_ABORTED, not its deadline)', async () => {
    const c = await written('a');
    fake.sequencers.get('seq:1')!.take(1);
    const reader = await fake.connect({ holeTimeoutMs: 60_000 });
    const ended: string[] = [];
    reader.observeCalls((call, _seconds, failure) => {
      if (call === 'read') ended.push(failure ?? 'ok');
    });
    // Address 1 is a hole that will not be filled for a minute: its read waits.
    expect(await firstEntries(reader.follow(0), 1)).toEqual(['a']);
    while (ended.length < 2) await turn();
    expect(ended).toEqual(['ok', 'ERR_ABORTED']);
    expect(c.stats.fills).toBe(0);
  });

  it('reading far ahead does not warn about listeners on its signal', async () => {
    const c = await written(...Array.from({ length: 20 }, (_, i) => `e${i}`));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      expect(await firstEntries(c.follow(0), 20)).toHaveLength(20);
      await turn();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('a follower behind a trim ends with ERR_TRIMMED', async () => {
    const c = await written('a', 'b', 'c');
    await c.prefixTrim(2);
    await expect(firstEntries(c.follow(0), 3)).rejects.toMatchObject({ code: 'ERR_TRIMMED', message: 'read 0: the address is trimmed' });
    expect(await firstEntries(c.follow(2), 1)).toEqual(['c']);
  });

  it('behind the tail it reads on without waiting on the sequencer, readAhead addresses at first', async () => {
    await written('a', 'b', 'c', 'd', 'e');
    const follower = await fake.connect({ readAhead: 2 });
    fake.sent.length = 0;
    expect(await firstEntries(follower.follow(0), 5)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(waits()).toEqual(['0/10000@1']);
    const first = fake.ops('READ')[0]!.req;
    expect(first.op === 'READ' ? first.addresses : []).toEqual([0, 1]);
  });

  it('one signal for many followers in turn: each takes its listener off it when it ends', async () => {
    const c = await written('a');
    const ac = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 12; i++) expect(await firstEntries(c.follow(0, { signal: ac.signal }), 1)).toEqual(['a']);
      await turn();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('a closed client ends it cleanly', async () => {
    const c = await written('a');
    const follower = c.follow(0, { pollMs: 50 });
    expect((await follower.next()).value).toMatchObject({ address: 0 });
    const next = follower.next();
    await c.close();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('a WAIT_TAIL the sequencer holds (its long poll) past pollMs, within pollMs and a request timeout, is not sent again', async () => {
    const c = await written();
    const follower = await fake.connect({ timeoutMs: 5000 });
    // The sequencer answers the first wait 200 ms later, after an append: past pollMs (100),
    // well within pollMs + timeoutMs (so a stalled machine does not make it a resend).
    fake.answer = async (to, req) => {
      if (req.op !== 'WAIT_TAIL' || fake.ops('WAIT_TAIL').length > 1) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 200));
      await c.append(Buffer.from('a'));
      return fake.own(to, req);
    };
    expect(await firstEntries(follower.follow(0, { pollMs: 100 }), 1)).toEqual(['a']);
    expect(waits()[0]).toBe('0/100@1');
    expect(follower.stats.resends).toBe(0);
  });

  it("a stop while the sequencer holds its WAIT_TAIL ends it at once, not at the wait's deadline", { timeout: 10_000 }, async () => {
    await written('a');
    // Deadlines of a minute: only the signal can end the wait within the test's time.
    const follower = await fake.connect({ timeoutMs: 60_000, deadlineMs: 60_000 });
    const ac = new AbortController();
    const f = follower.follow(0, { signal: ac.signal, pollMs: MAX_WAIT_TAIL_MS });
    expect((await f.next()).value).toMatchObject({ address: 0 });
    // From here the sequencer holds every wait (no answer).
    fake.answer = (_to, req) => (req.op === 'WAIT_TAIL' ? 'silent' : undefined);
    fake.sent.length = 0;
    const next = f.next();
    while (fake.ops('WAIT_TAIL').length === 0) await turn();
    ac.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('a sequencer that dies while it holds a WAIT_TAIL: before the resend it looks for a new projection, and waits on the new sequencer', { timeout: 10_000 }, async () => {
    await written('a');
    const follower = await fake.connect({ timeoutMs: 200 });
    // The store keeps the new projection from its watchers: only a refresh finds it.
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: ['u1:1'] });
    fake.sent.length = 0;
    fake.answer = (to, req) => {
      if (req.op !== 'WAIT_TAIL' || to !== 'seq:1') return undefined;
      fake.down('seq:1');
      return 'silent';
    };
    expect(await firstEntries(follower.follow(0, { pollMs: 50 }), 1)).toEqual(['a']);
    expect(fake.ops('WAIT_TAIL').map((s) => s.to)).toContain('seq:2');
    expect(waits()).toContain('0/50@2');
  });

  it('a WAIT_TAIL answered by a sequencer replaced meanwhile does not count: it waits on the new one, reading nothing above its tail', { timeout: 10_000 }, async () => {
    const writer = await written('a');
    const follower = await fake.connect({ holeTimeoutMs: 60_000 });
    // The store keeps the new projection from its watchers: the follower learns of it only
    // by the load it makes after a sequencer's answer.
    fake.store.quiet = true;
    let replaced = false;
    fake.answer = async (to, req) => {
      if (req.op !== 'WAIT_TAIL' || to !== 'seq:1' || replaced) return undefined;
      replaced = true;
      // While the wait is held the sequencer is replaced (the new one starts at the units'
      // tail, 1); the old one had handed out 1..5, never written, and answers tail 6.
      await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: ['u1:1'] });
      fake.sequencers.get('seq:1')!.take(5);
      return fake.own(to, req);
    };
    fake.sent.length = 0;
    const f = follower.follow(1, { pollMs: 50 });
    const got = f.next();
    const readsOf1 = (): number => fake.ops('READ').filter((s) => s.req.op === 'READ' && s.req.addresses.includes(1)).length;
    while (readsOf1() === 0 && !waits().includes('1/50@2')) await turn();
    expect(readsOf1()).toBe(0);
    await writer.append(Buffer.from('x'));
    expect((await got).value).toMatchObject({ address: 1 });
    await f.return(undefined);
  });

  it('a tail it was told that a failover takes back (tokens handed out, never written): ERR_UNWRITTEN does not end it, it reads on once they are written', { timeout: 10_000 }, async () => {
    const writer = await written('a');
    fake.sequencers.get('seq:1')!.take(5); // addresses 1..5 handed out and never written: tail 6
    const follower = await fake.connect({ holeTimeoutMs: 60_000 });
    let unwritten = 0;
    follower.observeCalls((call, _seconds, failure) => {
      if (call === 'read' && failure === 'ERR_UNWRITTEN') unwritten++;
    });
    let failedOver = false;
    fake.answer = async (_to, req) => {
      if (req.op !== 'READ' || !req.addresses.includes(1) || failedOver) return undefined;
      // Reading address 1 below the tail it was told (6), the sequencer fails over: its
      // successor starts at the units' tail, 1, and 1..5 are above the tail again.
      failedOver = true;
      await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: ['u1:1'] });
      return undefined;
    };
    const got = firstEntries(follower.follow(0, { pollMs: 50 }), 2);
    got.catch(() => {}); // awaited below, after the append
    while (unwritten === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await writer.append(Buffer.from('x'));
    expect(await got).toEqual(['a', 'x']);
  });

  it('a WAIT_TAIL refused ends it with the sequencer and its words; sealed, it waits again under the new epoch', async () => {
    const c = await written('a');
    fake.answer = (_to, req) => (req.op === 'WAIT_TAIL' ? refuse(req, 'ERR_BAD_REQUEST', 'no') : undefined);
    await expect(firstEntries(c.follow(0, { pollMs: 50 }), 1)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'WAIT_TAIL at seq:1: no' });
    fake.answer = undefined;
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: ['u1:1'] });
    fake.sent.length = 0;
    expect(await firstEntries(c.follow(0, { pollMs: 50 }), 1)).toEqual(['a']);
    expect(waits()).toEqual(['0/50@1', '0/50@2']);
  });
});
