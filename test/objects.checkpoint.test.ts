// Checkpoints and compaction of objects on a real cluster (docs/objects.md): a new
// runtime starts from an object's newest checkpoint and replays only what follows; a
// torn checkpoint is ignored; compaction trims the log below a common snapshot and
// views behind the trim reload from the checkpoints; a compaction policy keeps a
// steady workload on small devices from ever filling them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { CorfuRuntime, objectStream, type RuntimeOptions } from '../src/objects/index.js';
import { startCluster } from './helpers/cluster.js';
import { ownLoopback } from './helpers/ports.js';
import { Servers } from './helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-checkpoint-'));
const HOST = ownLoopback();
const servers = new Servers();
const runtimes: CorfuRuntime[] = [];

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.close()));
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** A one-chain cluster (two units, a sequencer) on devices of `size`; answers its layout URL. */
async function cluster(name: string, size: string): Promise<string> {
  return (await startCluster(servers, dir, { name, chains: 1, replicas: 2, size, host: HOST })).layout;
}

async function runtime(layout: string, options: Partial<RuntimeOptions> = {}): Promise<CorfuRuntime> {
  const rt = await CorfuRuntime.connect({ layout, shareConnections: false, ...options });
  runtimes.push(rt);
  return rt;
}

describe('checkpoints', () => {
  it('a new runtime starts from the newest checkpoint and replays only what follows it; a torn checkpoint is ignored', async () => {
    const layout = await cluster('c1', '32M');
    const a = await runtime(layout);
    const m = a.map<string>('big');
    for (let i = 0; i < 200; i++) await m.put(`k${i % 50}`, `value ${i}`);
    // Values larger than one entry's worth in all: the checkpoint takes several parts.
    for (const b of ['blob1', 'blob2', 'blob3']) await m.put(b, 'x'.repeat(40_000));
    const written = await a.checkpoint(m);
    expect(written.parts).toBeGreaterThan(1);
    for (let i = 0; i < 5; i++) await m.put(`after${i}`, String(i));

    const b = await runtime(layout);
    const mb = b.map<string>('big');
    expect(await mb.get('k7')).toBe('value 157');
    expect(await mb.get('after4')).toBe('4');
    expect(await mb.size()).toBe(50 + 3 + 5);
    expect(b.stats).toMatchObject({ checkpointsLoaded: 1, replayed: 5 });

    // A torn checkpoint: its parts written, no end marker (the writer died). Ignored.
    await a.client.appendBatch([Buffer.from('part one of a checkpoint that never ends')]);
    await m.put('later', 'yes');
    const c = await runtime(layout);
    expect(await c.map<string>('big').get('later')).toBe('yes');
    expect(c.stats).toMatchObject({ checkpointsLoaded: 1, replayed: 6 });
    // Versions come back with the state: a transaction decided after the checkpoint agrees.
    await c.transaction(async (tx) => tx.put(c.map<string>('big'), 'k7', `${await tx.get(c.map<string>('big'), 'k7')}!`));
    expect(await mb.get('k7')).toBe('value 157!');
  });

  it('compaction trims below one snapshot of every object; new runtimes and views behind the trim go on from the checkpoints', async () => {
    const layout = await cluster('c2', '32M');
    const a = await runtime(layout);
    const accounts = a.map<number>('accounts');
    const ops = a.counter('ops');
    await accounts.putAll({ x: 10, y: 20 });
    for (let i = 0; i < 30; i++) await ops.add(1);
    const behind = await runtime(layout);
    expect(await behind.map<number>('accounts').get('x')).toBe(10); // a view left at this point
    await accounts.put('x', 11);

    const trimmedBelow = await a.compact();
    expect(trimmedBelow).toBeGreaterThan(30);
    await expect(a.client.read(0)).rejects.toMatchObject({ code: 'ERR_TRIMMED' });
    // A plain stream reader from the start is told, not misled.
    await expect(a.client.stream(objectStream('ops')).readNext()).rejects.toMatchObject({ code: 'ERR_TRIMMED' });

    await a.transaction(async (tx) => {
      tx.put(accounts, 'y', ((await tx.get(accounts, 'y')) ?? 0) + 1);
      tx.add(ops, 1);
    });
    const fresh = await runtime(layout);
    expect(await fresh.map<number>('accounts').entries()).toEqual([
      ['x', 11],
      ['y', 21],
    ]);
    expect(await fresh.counter('ops').get()).toBe(31);
    expect(fresh.stats.checkpointsLoaded).toBe(2);
    // The view left behind the trim reloads from the checkpoint by itself.
    expect(await behind.map<number>('accounts').get('x')).toBe(11);
    expect(behind.stats.checkpointsLoaded).toBe(1);

    // A transaction that read the counter, then a newer checkpoint of the counter alone:
    // deciding it again needs the counter as it was below the commit, older than that
    // checkpoint and below nothing trimmed: the compaction's checkpoint serves.
    await a.transaction(async (tx) => tx.put(accounts, 'ops-seen', await tx.read(ops)));
    await ops.add(100);
    await a.checkpoint(ops);
    const later = await runtime(layout);
    expect(await later.map<number>('accounts').get('ops-seen')).toBe(31);
    expect(later.stats).toMatchObject({ committed: 2, aborted: 0, rebuilds: 1 });
  });

  it('with a compaction policy, a steady workload on 4 MiB devices never fills them', async () => {
    const layout = await cluster('c3', '4M');
    const rt = await runtime(layout, { compactAboveBytes: 1024 * 1024, compactCheckMs: 50 });
    const m = rt.map<string>('hot');
    const value = 'v'.repeat(400);
    // About 8 MiB of updates in all, twice the devices, to 64 keys.
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 2000; i++) await m.put(`k${(w * 2000 + i) % 64}`, `${w}.${i} ${value}`);
    });
    await Promise.all(writers);
    expect(rt.lastCompactionError).toBeUndefined();
    expect(rt.stats.compactions).toBeGreaterThan(2);
    const usage = await rt.client.usage();
    expect(usage.usedBytes).toBeLessThan(usage.capacityBytes);
    const check = await runtime(layout);
    // A runtime starting now (from the newest checkpoint) agrees with the writer on every key.
    expect(await check.map<string>('hot').entries()).toEqual(await m.entries());
    expect(await check.map<string>('hot').size()).toBe(64);
  }, 180_000);
});
