// CorfuClient against a real cluster on 127.0.0.1: 4 `corfu unit` processes
// (2 stripes x chains of 2) and 1 `corfu sequencer`, ephemeral ports, device
// files and the projection store in a temp dir.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient, type ConnectOptions } from '../src/client/index.js';
import { FileProjectionStore, type Projection } from '../src/layout/index.js';
import { Connection } from '../src/transport/connection.js';
import type { ReadResponse, TokenResponse } from '../src/wire/index.js';
import { until } from './helpers/until.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corfu-client-'));
const layoutDir = join(dir, 'layout');
const LAYOUT = `file:${layoutDir}`;
const children = new Set<ChildProcess>();
const connections: Connection[] = [];
const clients: CorfuClient[] = [];

let units: string[] = [];
let sequencer = '';

function spawnListening(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = /^listening (\S+)$/m.exec(stdout);
      if (m) resolve(m[1]!);
    });
    child.on('close', (code) => {
      children.delete(child);
      reject(new Error(`${args[0]} exited (${code}) before listening: ${stderr}`));
    });
  });
}

function connect(hostPort: string): Connection {
  const i = hostPort.lastIndexOf(':');
  const c = new Connection({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)), timeoutMs: 10_000 });
  connections.push(c);
  return c;
}

async function client(options: Partial<ConnectOptions> = {}): Promise<CorfuClient> {
  // Every other client keeps its own connections; the rest share the process's.
  const c = await CorfuClient.connect({ layout: LAYOUT, holeTimeoutMs: 100, shareConnections: clients.length % 2 === 0, ...options });
  clients.push(c);
  return c;
}

function projection(epoch: number): Projection {
  return {
    epoch,
    sequencer,
    units,
    segments: [{ start: 0, end: null, stripes: [{ chain: [units[0]!, units[1]!] }, { chain: [units[2]!, units[3]!] }] }],
  };
}

async function sealAll(from: number, to: number): Promise<void> {
  await Promise.all([...units, sequencer].map((u) => connect(u).call({ type: 'request', op: 'SEAL', epoch: from, newEpoch: to })));
}

function payload(clientId: number, i: number): Buffer {
  const len = 16 + ((clientId * 7919 + i * 31) % 200);
  const b = Buffer.alloc(len);
  b.write(`c${clientId}-i${i}-`);
  for (let j = 12; j < len; j++) b[j] = (clientId * 131 + i * 17 + j) & 0xff;
  return b;
}

beforeAll(async () => {
  const devices = [0, 1, 2, 3].map((i) => join(dir, `unit-${i}.img`));
  for (const d of devices) execFileSync(process.execPath, [CLI, 'format', d, '--size', '64M'], { stdio: 'ignore' });
  [units, sequencer] = await Promise.all([
    Promise.all(devices.map((d) => spawnListening(['unit', '--device', d, '--listen', '127.0.0.1:0']))),
    spawnListening(['sequencer', '--listen', '127.0.0.1:0', '--epoch', '1', '--start-tail', '0']),
  ]);
  const store = new FileProjectionStore(layoutDir);
  expect((await store.propose(projection(1))).accepted).toBe(true);
  await Promise.all(units.map((u) => connect(u).call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: 1 })));
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(connections.map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('CorfuClient', () => {
  it('4 clients x 10,000 concurrent appends: unique addresses, every entry read back exactly by every client, readRange in order', async () => {
    // 160,000 reads in flight at once queue for seconds: a batch job like this one sets its deadlines to match.
    const cs = await Promise.all([0, 1, 2, 3].map(() => client({ deadlineMs: 120_000, timeoutMs: 60_000 })));
    const N = 10_000;
    const t0 = performance.now();
    const addresses = await Promise.all(cs.map((c, k) => Promise.all(Array.from({ length: N }, (_, i) => c.append(payload(k, i))))));
    const appendMs = performance.now() - t0;
    const all = addresses.flat();
    expect(new Set(all).size).toBe(4 * N);
    // Coalescing: appends started in one tick share one TOKEN request.
    for (const c of cs) expect(c.stats).toMatchObject({ tokenRequests: 1, tokens: N });
    const tokenRequests = cs.reduce((s, c) => s + c.stats.tokenRequests, 0);

    const expected = new Map<number, Buffer>();
    addresses.forEach((as, k) => as.forEach((a, i) => expected.set(a, payload(k, i))));

    // Every client reads everything back, all clients at once, many reads in flight.
    const t1 = performance.now();
    await Promise.all(
      cs.map((c) =>
        Promise.all(
          all.map(async (a) => {
            const e = await c.read(a);
            expect(e.kind).toBe('data');
            if (e.kind === 'data') expect(Buffer.from(e.payload).equals(expected.get(e.address)!)).toBe(true);
          }),
        ),
      ),
    );
    const readMs = performance.now() - t1;

    const tail = await cs[0]!.tail();
    expect(tail).toBeGreaterThanOrEqual(Math.max(...all) + 1);
    const seen: number[] = [];
    const t2 = performance.now();
    for await (const e of cs[1]!.readRange(0, tail)) {
      seen.push(e.address);
      const want = expected.get(e.address);
      if (want !== undefined) {
        expect(e.kind).toBe('data');
        if (e.kind === 'data') expect(Buffer.from(e.payload).equals(want)).toBe(true);
      }
    }
    const rangeMs = performance.now() - t2;
    expect(seen).toEqual(Array.from({ length: tail }, (_, i) => i));
    console.log(
      `client: ${4 * N} appends in ${appendMs.toFixed(0)} ms (${tokenRequests} TOKEN requests), ` +
        `${4 * all.length} reads in ${readMs.toFixed(0)} ms, readRange of ${tail} in ${rangeMs.toFixed(0)} ms`,
    );
  }, 90_000);

  it('a hole (a token never written) is filled with junk after the hole timeout; two readers see the same value', async () => {
    const seq = connect(sequencer);
    const res = (await seq.call({ type: 'request', op: 'TOKEN', epoch: 1, count: 1 })) as TokenResponse;
    const hole = res.first;
    const [a, b] = [await client(), await client()];
    const t0 = performance.now();
    const [ra, rb] = await Promise.all([a.read(hole), b.read(hole)]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(ra).toEqual({ address: hole, kind: 'junk' });
    expect(rb).toEqual({ address: hole, kind: 'junk' });
    // And it stays junk: an append cannot take it, a later read agrees.
    expect(await a.read(hole)).toEqual({ address: hole, kind: 'junk' });
  });

  it('a write that reached only the head is completed by a reader with its value', async () => {
    const seq = connect(sequencer);
    const address = ((await seq.call({ type: 'request', op: 'TOKEN', epoch: 1, count: 1 })) as TokenResponse).first;
    const chain = address % 2 === 0 ? [units[0]!, units[1]!] : [units[2]!, units[3]!];
    const value = Buffer.from('half-written entry');
    await connect(chain[0]!).call({ type: 'request', op: 'WRITE', epoch: 1, entries: [{ address, payload: value }] });
    const tailBefore = (await connect(chain[1]!).call({ type: 'request', op: 'READ', epoch: 1, addresses: [address] })) as ReadResponse;
    expect(tailBefore.statuses[0]).toBe(2); // ERR_UNWRITTEN at the tail
    const c = await client();
    const e = await c.read(address);
    expect(e.kind).toBe('data');
    if (e.kind === 'data') expect(Buffer.from(e.payload).equals(value)).toBe(true);
    const tailAfter = (await connect(chain[1]!).call({ type: 'request', op: 'READ', epoch: 1, addresses: [address] })) as ReadResponse;
    expect(tailAfter.statuses[0]).toBe(0);
    expect(Buffer.from(tailAfter.payloads[0]!).equals(value)).toBe(true);
  });

  it('reconfiguration under an appending client: it refreshes to epoch 2 and no acked append is lost', async () => {
    const c = await client();
    const acked = new Map<number, Buffer>();
    let stop = false;
    let i = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const batch = Array.from({ length: 50 }, () => payload(9, i++));
        const as = await Promise.all(batch.map((p) => c.append(p)));
        as.forEach((a, k) => acked.set(a, batch[k]!));
      }
    };
    const writers = [writer(), writer()];
    await until(() => acked.size >= 200, '200 appends acknowledged under epoch 1');
    const before = acked.size;
    const store = new FileProjectionStore(layoutDir);
    expect((await store.propose(projection(2))).accepted).toBe(true);
    await sealAll(1, 2);
    await until(() => c.epoch === 2 && acked.size >= before + 200, 'the client on epoch 2 and 200 more appends acknowledged');
    stop = true;
    await Promise.all(writers);
    expect(c.epoch).toBe(2);
    expect(c.stats.refreshes).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(before);
    expect(new Set(acked.keys()).size).toBe(acked.size);
    const reader = await client();
    expect(reader.epoch).toBe(2);
    const addrs = [...acked.keys()];
    await Promise.all(
      addrs.map(async (a) => {
        const e = await reader.read(a);
        expect(e.kind).toBe('data');
        if (e.kind === 'data') expect(Buffer.from(e.payload).equals(acked.get(e.address)!)).toBe(true);
      }),
    );
    console.log(`reconfiguration: ${before} acked before the seal, ${acked.size} in all, ${c.stats.refreshes} refreshes, ${c.stats.newTokens} new tokens`);
  }, 20_000);
});
