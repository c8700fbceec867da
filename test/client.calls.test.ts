// How CorfuClient drives one request to a unit, against a cluster in this process
// (helpers/fake-cluster.ts): a unit shedding load is asked again, a dead unit that a new
// projection replaced is left for the new one, and the counters and call durations a
// service exports come out right. No server, no process.

import { afterEach, describe, expect, it } from 'vitest';

import { codeByte } from '../bindings/errors.js';
import { KIND } from '../src/wire/index.js';
import { FakeCluster, refuse, text } from './helpers/fake-cluster.js';

const DEFERRED = codeByte('ERR_OVERLOADED');

let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

describe('one request to a unit', () => {
  it('a READ answered ERR_OVERLOADED is sent again after a backoff, and the read succeeds', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect();
    await c.append(Buffer.from('a'));
    let shed = 0;
    fake.answer = (_to, req) => (req.op === 'READ' && shed++ < 2 ? refuse(req, 'ERR_OVERLOADED', 'queue full') : undefined);
    const resends = c.stats.resends;
    const entry = await c.read(0);
    expect(text(entry)).toBe('a');
    expect(fake.ops('READ').length).toBe(3);
    expect(c.stats.resends - resends).toBe(2);
  });

  it('a unit that died and that a new projection replaced: the read goes to the new unit once a refresh finds it', { timeout: 10_000 }, async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect({ timeoutMs: 200, deadlineMs: 60_000 });
    await c.append(Buffer.from('a'));
    // u1 dies; its replacement u2 holds the entry under epoch 2. The store keeps the new
    // projection from its watchers: only the refresh after an unanswered request finds it.
    fake.down('u1:1');
    fake.store.quiet = true;
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: ['u2:1'] });
    await fake.write('u2:1', 2, 0, Buffer.from('a'));
    fake.sent.length = 0;
    const entry = await c.read(0);
    expect(text(entry)).toBe('a');
    expect(fake.ops('READ').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['u2:1@2']);
  });
});

describe('a unit that defers a READ', () => {
  it('serving none of a frame: the client backs off and asks again, and the read succeeds', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect();
    await c.append(Buffer.from('a'));
    let deferred = false;
    fake.answer = (_to, req) => {
      if (req.op !== 'READ' || deferred) return undefined;
      deferred = true;
      const n = req.addresses.length;
      return {
        type: 'response',
        op: 'READ',
        requestId: req.requestId,
        epoch: req.epoch,
        status: 'OK',
        statuses: new Uint8Array(n).fill(DEFERRED),
        kinds: new Uint8Array(n).fill(KIND.NONE),
        payloads: new Array<null>(n).fill(null),
      };
    };
    const resends = c.stats.resends;
    expect(text(await c.read(0))).toBe('a');
    expect(fake.ops('READ')).toHaveLength(2);
    expect(c.stats.resends - resends).toBe(1);
  });

  it('serving part of a frame: stats.readDeferrals counts each entry deferred before the answer that served it', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect();
    await c.appendBatch(['a', 'b', 'c', 'd'].map((p) => Buffer.from(p)));
    // The first READ frame serves its first entry only; the rest come in the next frames.
    let frames = 0;
    fake.answer = async (to, req) => {
      if (req.op !== 'READ' || frames++ > 0) return undefined;
      const own = await fake.own(to, req);
      if (own.op !== 'READ' || own.status !== 'OK') return own;
      return {
        ...own,
        statuses: own.statuses.map((st, i) => (i === 0 ? st : DEFERRED)),
        kinds: own.kinds.map((k, i) => (i === 0 ? k : KIND.NONE)),
        payloads: own.payloads.map((p, i) => (i === 0 ? p : null)),
      };
    };
    const entries = await Promise.all([0, 1, 2, 3].map((a) => c.read(a)));
    expect(entries.map(text)).toEqual(['a', 'b', 'c', 'd']);
    expect(c.stats.readDeferrals).toBe(3);
    // A fill's answer (a write's) adds nothing to it.
    await c.fill(3);
    expect(c.stats.readDeferrals).toBe(3);
  });
});

describe('how a call that runs out says what the caller may assume', () => {
  // A request that changes state and got no answer may have been applied: a retry is not safe to assume.
  it.each([
    ['TRIM', 'trim'],
    ['FILL', 'fill'],
  ] as const)('a %s sent to a unit that never answers: ERR_TIMEOUT, its effect unknown', async (op, call) => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect({ timeoutMs: 20 });
    await c.append(Buffer.from('a'));
    fake.answer = (_to, req) => (req.op === op ? 'silent' : undefined);
    await expect(c[call](0, { deadlineMs: 150 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringContaining('may have taken effect') });
  });

  it('a call that failed fast leaves nothing running: its other branches stop resending', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] });
    const c = await fake.connect({ timeoutMs: 10, deadlineMs: 30_000 });
    // u1 refuses the prefix trim at once; u2 never answers, so its branch resends.
    fake.answer = (to, req) => (req.op !== 'PREFIX_TRIM' ? undefined : to === 'u1:1' ? refuse(req, 'ERR_IO', 'disk gone') : 'silent');
    await expect(c.prefixTrim(1)).rejects.toMatchObject({ code: 'ERR_IO' });
    const sent = fake.ops('PREFIX_TRIM').length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fake.ops('PREFIX_TRIM').length).toBe(sent);
  });

  it('a read of a unit that never answers: ERR_UNAVAILABLE (nothing that changes state was sent: safe to retry)', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect({ timeoutMs: 20 });
    await c.append(Buffer.from('a'));
    fake.answer = (_to, req) => (req.op === 'READ' ? 'silent' : undefined);
    await expect(c.read(0, { deadlineMs: 150 })).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
  });
});

describe('what a service exports', () => {
  it('unitReads counts the READ requests sent to units', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] });
    const c = await fake.connect();
    for (const s of ['a', 'b', 'c']) await c.append(Buffer.from(s));
    const before = c.stats.unitReads;
    for (const a of [0, 1, 2, 0]) await c.read(a);
    expect(c.stats.unitReads - before).toBe(4);
  });

  it('the observer gets each call with its duration in seconds, and its failure code', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect();
    const seen: Array<{ call: string; seconds: number; failure: string | undefined }> = [];
    c.observeCalls((call, seconds, failure) => seen.push({ call, seconds, failure }));
    // The sequencer answers this append's TOKEN 50 ms late.
    fake.answer = async (to, req) => {
      if (req.op !== 'TOKEN') return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return fake.own(to, req);
    };
    const t0 = performance.now();
    await c.append(Buffer.from('a'));
    fake.answer = undefined;
    await expect(c.read(5)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN' });
    const elapsedMs = performance.now() - t0;
    await c.ping();
    expect(seen.map((s) => `${s.call}:${s.failure ?? 'ok'}`)).toEqual(['append:ok', 'read:ERR_UNWRITTEN', 'ping:ok']);
    // Seconds, not milliseconds or a clock reading: the append at least the 50 ms it
    // waited, and both within what the test itself saw pass around them.
    expect(seen[0]!.seconds).toBeGreaterThanOrEqual(0.04);
    expect(seen[1]!.seconds).toBeGreaterThanOrEqual(0);
    expect((seen[0]!.seconds + seen[1]!.seconds) * 1000).toBeLessThanOrEqual(elapsedMs + 1);
  });
});
