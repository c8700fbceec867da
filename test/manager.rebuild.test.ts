// The rebuild pass (src/manager/rebuild.ts) against two real `corfu unit`
// processes: a source holding a closed chain, and a unit that joined that chain
// as being rebuilt. What an operator relies on when a manager dies mid-rebuild:
// the next pass resumes where the last one had certainly got to (not from the
// beginning of a drive), and never skips anything on a unit formatted since.

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { nodeRuntime } from '../src/client/runtime.js';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, sharedPool, type Lease } from '../src/client/server-pool.js';
import { parseProjection, type Projection } from '../src/layout/index.js';
import { ChainProgress, Rebuild, type RebuildProgress } from '../src/manager/rebuild.js';
import type { RequestBody } from '../src/transport/connection.js';
import type { InfoResponse, ReadResponse, Response } from '../src/wire/messages.js';
import { cliHarness } from './helpers/cli.js';

const harness = cliHarness('corfu-rebuild-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const pool = sharedPool(nodeRuntime);
const leases: Lease[] = [];
/** Addresses of the closed segment: one stripe, so every one is the chain's. */
const CLOSED = 100;
const JUNK = 50;
let source = '';
let target = '';
let layout: Projection;

async function ask(server: string, body: RequestBody): Promise<Response> {
  const lease = pool.acquire(server, { timeoutMs: 5000, maxInFlight: DEFAULT_MAX_IN_FLIGHT, maxQueued: DEFAULT_MAX_QUEUED });
  leases.push(lease);
  return lease.connection.request(body, { timeoutMs: 5000 });
}

async function startUnit(name: string): Promise<string> {
  const path = join(harness.dir, `${name}.img`);
  Store.format(path, { sizeBytes: 16 * 1024 * 1024 });
  const s = await harness.startCorfu(['unit', '--device', path, '--listen', '127.0.0.1:0'], /^listening /);
  return s.out.find((l) => l.startsWith('listening '))!.split(' ')[1]!;
}

const payloadOf = (a: number): Buffer => Buffer.from(`entry ${a}`);

/** What `server` holds at 0..CLOSED-1: 'data:...', 'junk' or 'unwritten'. */
async function contents(server: string): Promise<string[]> {
  const addresses = Array.from({ length: CLOSED }, (_, a) => a);
  const r = (await ask(server, { type: 'request', op: 'READ', epoch: 1, addresses })) as ReadResponse;
  expect(r.status).toBe('OK');
  return addresses.map((_, i) => (r.statuses[i] !== 0 ? 'unwritten' : r.kinds[i] === 1 ? `data:${Buffer.from(r.payloads[i]!).toString()}` : 'junk'));
}

beforeAll(async () => {
  [source, target] = await Promise.all([startUnit('source'), startUnit('target')]);
  for (const u of [source, target]) expect((await ask(u, { type: 'request', op: 'SEAL', epoch: 0, newEpoch: 1 })).status).toBe('OK');
  const entries = Array.from({ length: CLOSED }, (_, a) => a)
    .filter((a) => a !== JUNK)
    .map((address) => ({ address, payload: payloadOf(address) }));
  expect((await ask(source, { type: 'request', op: 'WRITE', epoch: 1, entries })).status).toBe('OK');
  expect((await ask(source, { type: 'request', op: 'FILL', epoch: 1, addresses: [JUNK] })).status).toBe('OK');
  layout = parseProjection({
    epoch: 1,
    sequencer: '127.0.0.1:1',
    units: [source, target],
    segments: [
      { start: 0, end: CLOSED, stripes: [{ chain: [source, target], rebuilding: [target] }] },
      { start: CLOSED, end: null, stripes: [{ chain: [source, target] }] },
    ],
  });
});

afterAll(async () => {
  await Promise.all(leases.map((l) => pool.release(l)));
});

function rebuild(resume: { formatId: string; copiedBelow: Record<string, number> } | undefined, progress: RebuildProgress[]): Rebuild {
  return new Rebuild(layout, target, {
    timeoutMs: 5000,
    runtime: nodeRuntime,
    pool,
    batchAddresses: 10,
    batchesInFlight: 3,
    onProgress: (p) => progress.push(p),
    ...(resume === undefined ? {} : { resume }),
  });
}

describe('a rebuild pass on real units', () => {
  it('resumes from the record of an earlier pass on the same format of the unit: what it says is copied is skipped', async () => {
    const formatId = ((await ask(target, { type: 'request', op: 'INFO', epoch: 0 })) as InfoResponse).formatId;
    expect(formatId).toMatch(/^[0-9a-f]{16}$/);
    const progress: RebuildProgress[] = [];
    const r = await rebuild({ formatId, copiedBelow: { '0/0': 40 } }, progress).run();
    const copiedBytes = Array.from({ length: CLOSED - 40 }, (_, i) => 40 + i)
      .filter((a) => a !== JUNK)
      .reduce((n, a) => n + payloadOf(a).length, 0);
    expect(r).toMatchObject({ addresses: CLOSED, resumed: 40, bytes: copiedBytes, resume: { formatId, copiedBelow: { '0/0': CLOSED } } });
    const held = await contents(target);
    // Skipped: the record said an earlier pass had copied them (here it had not, to show the skip).
    expect(held.slice(0, 40).every((v) => v === 'unwritten')).toBe(true);
    expect(held.slice(40)).toEqual((await contents(source)).slice(40));
    // Each report's resume point is a prefix that is really copied, and it only grows.
    const points = progress.map((p) => p.resume.copiedBelow['0/0']!);
    expect(points).toEqual([...points].sort((a, b) => a - b));
    expect(points[0]).toBeGreaterThanOrEqual(40);
    expect(points.at(-1)).toBe(CLOSED);
  });

  it('copies everything again when the record is for another format of the unit', async () => {
    const r = await rebuild({ formatId: 'ffffffffffffffff', copiedBelow: { '0/0': CLOSED } }, []).run();
    expect(r.resumed).toBe(0);
    expect(await contents(target)).toEqual(await contents(source));
    expect((await contents(target))[JUNK]).toBe('junk');
  });
});

describe("a chain's progress in a pass", () => {
  it('says copied only below the first batch not done, whatever order the batches finish in', () => {
    const batches = [[0, 4], [8, 12], [16, 20], [24]];
    const p = new ChainProgress(batches, 25, 0);
    expect(p.copiedBelow()).toBe(0);
    p.done(2);
    p.done(1);
    expect(p.copiedBelow()).toBe(0);
    p.done(0);
    expect(p.copiedBelow()).toBe(24);
    p.done(3);
    expect(p.copiedBelow()).toBe(25);
    // A pass that began past the chain's start (resumed, or above a prefix trim) starts there.
    expect(new ChainProgress([[16, 20]], 21, 14).copiedBelow()).toBe(16);
    expect(new ChainProgress([], 21, 30).copiedBelow()).toBe(30);
  });
});
