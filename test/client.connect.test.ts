// CorfuClient.connect past its argument checks (client.arguments.test.ts has those): a
// store opened from a layout URL (and its storeTls), verify, what connect closes when it
// fails, the empty store's words; and the small accessors (observeCalls, now, projection).
// No server: the cluster is in this process (helpers/fake-cluster.ts), and the layout URLs
// are file: stores in a temporary directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { CorfuClient } from '../src/client/index.js';
import type { ProjectionStore } from '../src/layout/index.js';
import { openProjectionStore } from '../src/layout/open.js';
import { FakeCluster, MemStore, layout } from './helpers/fake-cluster.js';

// The real openProjectionStore, watched: which URL and options connect passes, and the store it got.
vi.mock('../src/layout/open.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/layout/open.js')>();
  return { ...actual, openProjectionStore: vi.fn(actual.openProjectionStore) };
});
const opened = vi.mocked(openProjectionStore);

let dir: string;
const clusters: FakeCluster[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'corfu-client-connect-'));
});
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.closeAll();
  opened.mockClear();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function cluster(): Promise<FakeCluster> {
  const c = new FakeCluster();
  clusters.push(c);
  await c.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] });
  return c;
}

/** The store connect opened from its URL in its n-th call (0-based). */
async function openedStore(n = 0): Promise<ProjectionStore> {
  expect(opened.mock.results.length).toBeGreaterThan(n);
  return opened.mock.results[n]!.value as Promise<ProjectionStore>;
}

/** Whether a FileProjectionStore was closed: it then refuses every call with ERR_CLOSED. */
async function isClosed(store: ProjectionStore): Promise<boolean> {
  return store.latest().then(
    () => false,
    (err: unknown) => (err as { code?: string }).code === 'ERR_CLOSED',
  );
}

describe('connect with a layout URL', () => {
  it('opens the store the URL names, works under its projection, and closes that store on close()', async () => {
    const fake = await cluster();
    const url = `file:${join(dir, 'one')}`;
    const own = await openProjectionStore(url);
    await own.propose(layout({ epoch: 3, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] }));
    await own.close();
    opened.mockClear();
    fake.sequencers.get('seq:1')!.handle({ type: 'request', op: 'BOOTSTRAP', requestId: 0, epoch: 1, newEpoch: 3, startTail: 0, resetStreams: false });
    for (const u of ['u1:1', 'u2:1']) await fake.engines.get(u)!.seal(3);

    const c = await CorfuClient.connect({ layout: url, runtime: fake.runtime, shareConnections: false });
    expect(opened).toHaveBeenCalledTimes(1);
    expect(opened.mock.calls[0]).toStrictEqual([url, {}]);
    expect(c.epoch).toBe(3);
    expect(await c.append(Buffer.from('x'))).toBe(0);
    const store = await openedStore();
    expect(await isClosed(store)).toBe(false);
    await c.close();
    expect(await isClosed(store)).toBe(true);
  });

  it('hands storeTls to the store as its tls, and nothing when there is none', async () => {
    const fake = await cluster();
    const url = `file:${join(dir, 'tls')}`;
    const own = await openProjectionStore(url);
    await own.propose(layout({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] }));
    await own.close();
    opened.mockClear();
    const storeTls = { ca: 'a CA' };
    const c = await CorfuClient.connect({ layout: url, runtime: fake.runtime, storeTls });
    await c.close();
    expect(opened.mock.calls).toStrictEqual([[url, { tls: storeTls }]]);
  });

  it('an empty store named by a URL: ERR_NO_LAYOUT naming the URL, and the store it opened is closed', async () => {
    const url = `file:${join(dir, 'empty')}`;
    await expect(CorfuClient.connect({ layout: url })).rejects.toMatchObject({
      code: 'ERR_NO_LAYOUT',
      message: `the projection store ${url} holds no projection (create one with corfu layout init, or start a cluster with corfu up)`,
    });
    expect(await isClosed(await openedStore())).toBe(true);
  });

  it('an empty store handed over: ERR_NO_LAYOUT without a name, and the store is left open and unwatched', async () => {
    const empty = new MemStore();
    await expect(CorfuClient.connect({ layout: empty })).rejects.toMatchObject({
      code: 'ERR_NO_LAYOUT',
      message: 'the projection store holds no projection (create one with corfu layout init, or start a cluster with corfu up)',
    });
    expect(empty.closed).toBe(false);
    expect(empty.watchers).toBe(0);
    expect(opened).not.toHaveBeenCalled();
  });

  it('refuses a missing layout (undefined) with its words, opening nothing', async () => {
    await expect(CorfuClient.connect({} as never)).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: 'connect: layout must be a layout URL (file:DIR) or a ProjectionStore, got undefined',
    });
    expect(opened).not.toHaveBeenCalled();
  });
});

describe('connect with verify', () => {
  it('pings the sequencer and every unit first; without verify nothing is sent', async () => {
    const fake = await cluster();
    await fake.connect();
    expect(fake.sent).toEqual([]);
    await fake.connect({ verify: true });
    expect(fake.ops('PING').map((s) => s.to)).toEqual(['seq:1', 'u1:1', 'u2:1']);
  });

  it('a server that does not answer fails connect with ERR_UNAVAILABLE, and the client is closed: its links, its watch', async () => {
    const fake = await cluster();
    fake.answer = (to) => (to === 'u2:1' ? 'silent' : undefined);
    await expect(fake.connect({ verify: true, timeoutMs: 20 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: 'ping: 1 of 3 servers did not answer: u2:1',
    });
    expect(fake.dials).toBe(3);
    expect(fake.destroyed).toBe(3);
    expect(fake.store.watchers).toBe(0);
    // A store handed over stays open.
    expect(fake.store.closed).toBe(false);
  });

  it('a failure with a store it opened from a URL closes that store too', async () => {
    const fake = await cluster();
    const url = `file:${join(dir, 'verify')}`;
    const own = await openProjectionStore(url);
    await own.propose(layout({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] }));
    await own.close();
    opened.mockClear();
    fake.answer = () => 'silent';
    await expect(CorfuClient.connect({ layout: url, runtime: fake.runtime, verify: true, timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
    expect(await isClosed(await openedStore())).toBe(true);
    expect(fake.destroyed).toBe(3);
  });
});

describe('the accessors', () => {
  it('projection is the one the client works under; now() reads the runtime clock', async () => {
    const fake = await cluster();
    const c = await CorfuClient.connect({ layout: fake.store, runtime: { ...fake.runtime, clock: { ...fake.runtime.clock, now: () => 1234.5 } } });
    expect(c.projection).toEqual(layout({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1', 'u2:1'] }));
    expect(c.projection).toBe(await fake.store.latest());
    expect(c.now()).toBe(1234.5);
    await c.close();
  });

  it('observeCalls: the observer hears each call and its failure; undefined removes it', async () => {
    const fake = await cluster();
    const c = await fake.connect();
    const heard: Array<[string, string | undefined]> = [];
    c.observeCalls((call, seconds, failure) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      heard.push([call, failure]);
    });
    await c.append(Buffer.from('a'));
    await c.appendBatch([Buffer.from('b')]);
    await c.appendTo(['s'], Buffer.from('c'));
    await c.streamTails(['s']);
    await c.usage();
    await expect(c.read(5)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN' });
    expect(heard).toEqual([
      ['append', undefined],
      ['appendBatch', undefined],
      ['appendTo', undefined],
      ['streamTails', undefined],
      ['usage', undefined],
      ['read', 'ERR_UNWRITTEN'],
    ]);
    c.observeCalls(undefined);
    await c.append(Buffer.from('d'));
    expect(heard).toHaveLength(6);
  });
});
