// CorfuClient while the layout moves under its requests, against a cluster in this
// process (helpers/fake-cluster.ts): a request in flight to a server a new projection
// dropped is abandoned at once; an older projection is never adopted over a newer one; a
// TAIL answered under an epoch that ended meanwhile does not count; a sequencer that
// stopped answering is looked up again before each resend.

import { afterEach, describe, expect, it } from 'vitest';

import type { Projection } from '../src/layout/index.js';
import type { ProjectionStore } from '../src/layout/store.js';
import { FakeCluster, text, turn } from './helpers/fake-cluster.js';

let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

describe('a request to a server the layout dropped', () => {
  it('is abandoned as soon as the client learns the new projection, and sent again under it', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    // Without the abandonment the read would wait out its request timeout, and count none.
    const c = await fake.connect({ timeoutMs: 3_000, deadlineMs: 60_000 });
    await c.append(Buffer.from('a'));
    // u1 hangs: it answers nothing and refuses nothing.
    fake.answer = (to) => (to === 'u1:1' ? 'silent' : undefined);
    const read = c.read(0);
    while (fake.ops('READ').length === 0) await turn();
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: ['u2:1'] });
    await fake.write('u2:1', 2, 0, Buffer.from('a'));
    expect(text(await read)).toBe('a');
    expect(c.stats.abandoned).toBe(1);
    expect(fake.ops('READ').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['u1:1@1', 'u2:1@2']);
  });
});

describe('the projection only moves forward', () => {
  it('a refresh that loads an older projection than the one the client holds keeps the newer one', async () => {
    fake = new FakeCluster();
    const first = await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    // A store whose `latest` can lag (a replica behind) while its watch is current.
    let lagging: Projection | undefined = undefined;
    const store: ProjectionStore = new Proxy(fake.store, {
      get(target, prop) {
        if (prop === 'latest') return async () => lagging ?? (await target.latest());
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const c = await fake.connect({ layout: store, timeoutMs: 30 });
    await c.append(Buffer.from('a'));
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:1', chain: ['u1:1'] });
    while (c.epoch < 2) await turn();
    lagging = first;
    // The first READ gets no answer: the client refreshes, and the store answers epoch 1.
    let silent = true;
    fake.answer = (_to, req) => {
      if (req.op !== 'READ' || !silent) return undefined;
      silent = false;
      return 'silent';
    };
    expect(text(await c.read(0))).toBe('a');
    expect(c.epoch).toBe(2);
    expect(fake.ops('READ').map((s) => s.req.epoch)).toEqual([2, 2]);
    expect(c.stats.refreshes).toBeGreaterThan(0);
  });
});

describe('tail()', () => {
  it('a TAIL answered under an epoch that ended while it was in flight does not count: it is asked again under the new one', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    // The projection load that tail() starts with its TAIL finishes only once `release`d.
    let gate: Promise<void> | undefined = undefined;
    let release!: () => void;
    const store: ProjectionStore = new Proxy(fake.store, {
      get(target, prop) {
        if (prop === 'latest') {
          return async () => {
            if (gate !== undefined) await gate;
            return target.latest();
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const c = await fake.connect({ layout: store });
    for (const p of ['a', 'b', 'c']) await c.append(Buffer.from(p));
    fake.store.quiet = true;
    gate = new Promise((resolve) => (release = resolve));
    const tail = c.tail();
    while (fake.ops('TAIL').length === 0) await turn();
    // Its answer arrives in a later turn (helpers/fake-cluster.ts): let it.
    for (let i = 0; i < 3; i++) await turn();
    // seq:1 answered 3 under epoch 1, and meanwhile a reconfiguration moved the log to seq:2,
    // which started at 10 (appends acknowledged under epoch 2 since); seq:1 was not sealed.
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: ['u1:1'] }, { startTail: 10 });
    release();
    expect(await tail).toBe(10);
    expect(fake.ops('TAIL').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq:1@1', 'seq:2@2']);
  });
});

describe('a sequencer that stops answering', () => {
  it('is looked up again before each resend: a TOKEN reaches the new one even when the store tells no watcher', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const c = await fake.connect({ timeoutMs: 30, deadlineMs: 2_000 });
    fake.store.quiet = true;
    fake.down('seq:1');
    await fake.reconfigure({ epoch: 2, sequencer: 'seq:2', chain: ['u1:1'] });
    expect(await c.append(Buffer.from('a'))).toBe(0);
    // The first resend goes to seq:2 under the old epoch, which it refuses as sealed; the
    // client then asks again under the new one.
    expect(fake.ops('TOKEN').map((s) => `${s.to}@${s.req.epoch}`)).toEqual(['seq:2@1', 'seq:2@2']);
    // Each TOKEN seq:1 refused was sent again: counted.
    expect(c.stats.resends).toBeGreaterThan(0);
  });
});
