// Single appends on the client's native append path (src/client/append-path.ts, the
// addon's thread) against real processes: what a service relies on when it calls
// append() — each entry at its own address with its own bytes on every replica of its
// chain, read back as written — with the path on (the default) and off, and across a
// reconfiguration that replaces a chain's tail while appends are in flight (the path's
// entries under the old epoch finish through the client's append protocol under the new
// one), and an append whose path cannot start (it fails with that error, and nothing of it
// is left to reject later). The machine's own cases are in native/engine (machine.rs, tests/appender.rs); the
// seeded simulator drives the same machine on about half its seeds (test/sim).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient } from '../src/client/index.js';
import { nodeRuntime } from '../src/client/runtime.js';
import { reconfigure } from '../src/client/reconfigure-driver.js';
import { FileProjectionStore } from '../src/layout/index.js';
import { splitHostPort } from '../src/transport/address.js';
import { Connection } from '../src/transport/connection.js';
import { CLI } from './helpers/cli.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { Servers } from './helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-native-appends-'));
const servers = new Servers();
const clients: CorfuClient[] = [];
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster(servers, dir, { name: 'n', chains: 2, replicas: 2, size: '32M', host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(nativeAppends?: boolean): Promise<CorfuClient> {
  const c = await CorfuClient.connect({ layout: cluster.layout, ...(nativeAppends === undefined ? {} : { nativeAppends }) });
  clients.push(c);
  return c;
}

/** What `unit` holds at `addresses` (READ straight to it, under its current epoch). */
async function held(unit: string, epoch: number, addresses: number[]): Promise<string[]> {
  const conn = new Connection({ ...splitHostPort(unit), timeoutMs: 5000 });
  try {
    const res = await conn.call({ type: 'request', op: 'READ', epoch, addresses });
    if (res.op !== 'READ' || res.status !== 'OK') throw new Error(`READ at ${unit} answered ${res.status}`);
    return res.payloads.map((p) => (p === null ? '' : Buffer.from(p).toString()));
  } finally {
    await conn.close();
  }
}

/**
 * Both replicas of each chain hold `payloads[i]` at `addresses[i]` (chain c holds the
 * addresses with address % 2 === c). Looked at before any read of them: a read that met
 * a missing copy would repair it.
 */
async function expectOnEveryReplica(epoch: number, addresses: readonly number[], payloads: readonly string[]): Promise<void> {
  for (const c of [0, 1]) {
    const mine = addresses.map((address, i) => ({ address, payload: payloads[i]! })).filter((e) => e.address % 2 === c);
    for (const unit of cluster.units.slice(c * 2, c * 2 + 2)) {
      expect(
        await held(
          unit.address,
          epoch,
          mine.map((e) => e.address),
        ),
      ).toEqual(mine.map((e) => e.payload));
    }
  }
}

describe('single appends on the native append path', () => {
  it('each entry lands at its own address with its bytes on every replica and reads back; with the path off, the same', async () => {
    for (const nativeAppends of [undefined, false]) {
      const [a, b] = [await connect(nativeAppends), await connect(nativeAppends)];
      const tag = nativeAppends === false ? 'js' : 'native';
      const payloads = Array.from({ length: 200 }, (_, i) => `${tag} ${i} ${'x'.repeat(i % 7 === 0 ? 3000 : i)}`);
      const addresses = await Promise.all(payloads.map((p, i) => (i % 2 === 0 ? a : b).append(Buffer.from(p))));
      expect(new Set(addresses).size).toBe(payloads.length);
      const viaPath = a.stats.nativeAppends + b.stats.nativeAppends;
      if (nativeAppends === false) expect(viaPath).toBe(0);
      else expect(viaPath).toBe(payloads.length);
      await expectOnEveryReplica(a.epoch, addresses, payloads);
      for (const [i, address] of addresses.entries()) {
        const e = await a.read(address);
        expect(e.kind === 'data' && Buffer.from(e.payload).toString()).toBe(payloads[i]);
      }
    }
  }, 60_000);

  it('appendBatch takes the path: consecutive addresses in its order, each entry on every replica, single appends of the same tick beside it', async () => {
    const c = await connect();
    const before = c.stats.nativeAppends;
    const batch = Array.from({ length: 50 }, (_, i) => Buffer.from(`batch ${i} ${'b'.repeat(i * 13)}`));
    const singles = Array.from({ length: 5 }, (_, i) => Buffer.from(`single ${i}`));
    // One tick: a single append, the batch, the other single appends.
    const [first, addresses, ...rest] = await Promise.all([c.append(singles[0]!), c.appendBatch(batch), ...singles.slice(1).map((p) => c.append(p))]);
    expect(c.stats.nativeAppends - before).toBe(batch.length + singles.length);
    expect(addresses).toEqual(batch.map((_, i) => addresses[0]! + i));
    expect(new Set([first, ...addresses, ...rest]).size).toBe(batch.length + singles.length);
    await expectOnEveryReplica(
      c.epoch,
      addresses,
      batch.map((p) => p.toString()),
    );
    for (const [i, address] of [first, ...rest].entries()) {
      const e = await c.read(address);
      expect(e.kind === 'data' && Buffer.from(e.payload).toString()).toBe(singles[i]!.toString());
    }
  }, 60_000);

  it('a tick of appends larger than the path keeps between ticks (1 MiB), from two clients: each entry has its own bytes', async () => {
    const [a, b] = [await connect(), await connect()];
    const before = a.stats.nativeAppends + b.stats.nativeAppends;
    // 40 entries of 60,000 bytes in one tick, each filled with its own byte: the first
    // client's half fits the kept scratch, the second's grows it with the first's in it.
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.alloc(60_000, 0x30 + i));
    const addresses = await Promise.all(payloads.map((p, i) => (i < 20 ? a : b).append(p)));
    expect(a.stats.nativeAppends + b.stats.nativeAppends - before).toBe(payloads.length);
    for (const [i, address] of addresses.entries()) {
      const e = await a.read(address);
      expect(e.kind === 'data' && Buffer.from(e.payload).equals(payloads[i]!), `entry ${i} at ${address}`).toBe(true);
    }
  }, 60_000);

  it('a path that cannot start fails the append with its error, at once, and its deadline rejects nothing later', async () => {
    const broken = new Error('the append path cannot start here');
    const c = await CorfuClient.connect({
      layout: cluster.layout,
      deadlineMs: 200,
      runtime: {
        ...nodeRuntime,
        appendPath: () => {
          throw broken;
        },
      },
    });
    clients.push(c);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(c.append(Buffer.from('x'))).rejects.toBe(broken);
      // Past the call's deadline: a budget left running would reject a promise nobody holds.
      await new Promise((r) => setTimeout(r, 400));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  }, 30_000);

  it('a chain tail replaced while appends flow: every acknowledged append reads back, and the path carries appends before and after', async () => {
    const c = await connect();
    const spareDevice = join(dir, 'spare.img');
    execFileSync(process.execPath, [CLI, 'format', spareDevice, '--size', '32M', '--unit-id', '9'], { stdio: 'ignore' });
    const spare = await servers.start(['unit', '--device', spareDevice, '--listen', '127.0.0.1:0']);
    const epochBefore = c.epoch;
    const acked = new Map<number, string>();
    let stop = false;
    let n = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const payload = `flow ${n++}`;
        acked.set(await c.append(Buffer.from(payload)), payload);
      }
    };
    const writers = Array.from({ length: 16 }, () => writer());
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 5));
    const nativeBefore = c.stats.nativeAppends;
    const tail = cluster.units[1]!.address;
    await reconfigure(new FileProjectionStore(cluster.layoutDir), [{ kind: 'replace-unit', old: tail, replacement: spare.address }], { timeoutMs: 5000 });
    const sizeAtChange = acked.size;
    while (acked.size < sizeAtChange + 300) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(writers);
    expect(c.epoch).toBeGreaterThan(epochBefore);
    expect(nativeBefore).toBeGreaterThan(0);
    expect(c.stats.nativeAppends).toBeGreaterThan(nativeBefore);
    for (const [address, payload] of acked) {
      const e = await c.read(address);
      expect(e.kind === 'data' && Buffer.from(e.payload).toString()).toBe(payload);
    }
  }, 90_000);
});
