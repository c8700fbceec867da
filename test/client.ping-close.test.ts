// CorfuClient.ping (a service's readiness probe) and close, against a cluster in this
// process (helpers/fake-cluster.ts): which servers a ping asks, what it reports when some do
// not answer, and what a close ends. No server, no process.

import { afterEach, describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/errors.js';
import { FakeCluster, refuse, turn } from './helpers/fake-cluster.js';

let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

/** Two chains of two units under sequencer seq:1, at epoch 3. */
async function cluster(): Promise<FakeCluster> {
  fake = new FakeCluster();
  await fake.install({
    epoch: 3,
    sequencer: 'seq:1',
    segments: [
      {
        start: 0,
        end: null,
        chains: [
          ['u1:1', 'u2:1'],
          ['u3:1', 'u4:1'],
        ],
      },
    ],
  });
  return fake;
}

const pings = (): string[] => fake.ops('PING').map((s) => `${s.to}@${s.req.epoch}`);

describe('ping', () => {
  it('asks the sequencer and every unit once, at the projection epoch, and resolves when all answer', async () => {
    const c = await (await cluster()).connect();
    fake.sent.length = 0;
    await expect(c.ping()).resolves.toBeUndefined();
    expect(pings().sort()).toEqual(['seq:1@3', 'u1:1@3', 'u2:1@3', 'u3:1@3', 'u4:1@3']);
    expect(fake.sent.length).toBe(5);
  });

  it('names every server that did not answer, and how many of all; the first failure is its cause', async () => {
    const c = await (await cluster()).connect({ timeoutMs: 200 });
    fake.sent.length = 0;
    fake.down('u2:1');
    fake.answer = (to, req) => (req.op === 'PING' && to === 'u4:1' ? refuse(req, 'ERR_OVERLOADED', 'shedding') : undefined);
    const err = await c.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CorfuError);
    expect(err).toMatchObject({ code: 'ERR_UNAVAILABLE' });
    const message = (err as CorfuError).message;
    expect(message).toMatch(/^ping: 2 of 5 servers did not answer: /);
    expect(
      message
        .slice(message.indexOf(': ', 6) + 2)
        .split(', ')
        .sort(),
    ).toEqual(['u2:1', 'u4:1']);
    expect((err as CorfuError).cause).toBeInstanceOf(CorfuError);
    // No resends: a refusal counts at once (the down unit's one request never reached it).
    expect(pings().filter((p) => p.startsWith('u4:1'))).toEqual(['u4:1@3']);
  });

  it('a server that hangs is listed after its request timeout; the cause is the first failure (a refusal, with its server and words)', async () => {
    const c = await (await cluster()).connect({ timeoutMs: 100 });
    fake.answer = (to, req) => {
      if (req.op !== 'PING') return undefined;
      if (to === 'seq:1') return refuse(req, 'ERR_BAD_REQUEST', 'no');
      return to === 'u3:1' ? 'silent' : undefined;
    };
    await expect(c.ping()).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: 'ping: 2 of 5 servers did not answer: seq:1, u3:1',
      cause: { code: 'ERR_BAD_REQUEST', message: 'PING at seq:1: no' },
    });
  });

  it('a deadline that passes while servers are silent ends it with ERR_TIMEOUT, not a list of servers', async () => {
    const c = await (await cluster()).connect({ timeoutMs: 60_000 });
    fake.answer = (to, req) => (req.op === 'PING' && to === 'u3:1' ? 'silent' : undefined);
    await expect(c.ping({ deadlineMs: 50 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('an abort while servers are silent ends it with ERR_ABORTED', async () => {
    const c = await (await cluster()).connect({ timeoutMs: 60_000, deadlineMs: 60_000 });
    fake.answer = (_to, req) => (req.op === 'PING' ? 'silent' : undefined);
    const ac = new AbortController();
    const p = c.ping({ signal: ac.signal });
    while (fake.ops('PING').length < 5) await turn();
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

describe('close', () => {
  it('fails calls waiting for a token with ERR_CLOSED, releases its connections, leaves a store it was handed open, and is idempotent', async () => {
    const c = await (await cluster()).connect();
    await c.append(Buffer.from('a'));
    // The sequencer holds the next TOKEN: the append waits for it.
    fake.answer = (_to, req) => (req.op === 'TOKEN' ? 'silent' : undefined);
    const failure = (e: unknown): unknown => e;
    // Handled now: they fail during close(), before the expectations below look at them.
    // Four appends in four turns: four TOKENs on the wire, the most a client keeps out.
    const waiting: Promise<unknown>[] = [];
    for (const s of ['b', 'c', 'd', 'e']) {
      waiting.push(c.append(Buffer.from(s)).catch(failure));
      const sent = fake.ops('TOKEN').length;
      while (fake.ops('TOKEN').length === sent) await turn();
    }
    // A fifth waits behind them, not on the wire.
    const queued = c.append(Buffer.from('f')).catch(failure);
    await turn();
    const destroyed = fake.destroyed;
    await c.close();
    for (const w of waiting) expect(await w).toMatchObject({ code: 'ERR_CLOSED' });
    expect(await queued).toMatchObject({ code: 'ERR_CLOSED', message: 'the client was closed' });
    expect(fake.ops('TOKEN').length).toBe(5);
    // Its connections: the sequencer's and the first chain's two units.
    expect(fake.destroyed - destroyed).toBe(3);
    expect(fake.store.closed).toBe(false);
    expect(fake.store.watchers).toBe(0);
    await expect(c.close()).resolves.toBeUndefined();
    expect(fake.destroyed - destroyed).toBe(3);
    await expect(c.append(Buffer.from('d'))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
