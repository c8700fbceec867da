// A full unit through a client, on real processes: one chain of two `corfu unit`s
// on small files (2 MiB: about 490 pages of 4 KiB) and a `corfu sequencer`.
// Appends fail with ERR_FULL once the data region is full (a typed error, not a
// hang, not ERR_IO); everything acknowledged reads back; a prefix trim frees the
// flushes below it, and the circle takes appends again, around its end.

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuError, isCorfuError } from '../bindings/errors.js';
import { CorfuClient } from '../src/client/index.js';
import { cliHarness } from './helpers/cli.js';
import { startOneChain, type OneChain } from './helpers/one-chain.js';

const harness = cliHarness('corfu-full-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
/** About one 4 KiB page per entry. */
const ENTRY_BYTES = 4000;
const PER_ROUND = 16;

let chain: OneChain;
let client: CorfuClient;
const acked = new Map<number, Buffer>();

function value(i: number): Buffer {
  const b = Buffer.alloc(ENTRY_BYTES, i & 0xff);
  b.write(`value ${i} `);
  return b;
}

/** Appends PER_ROUND entries at a time until some fail; returns the failures (every one must be ERR_FULL). */
async function appendUntilFull(start: number): Promise<{ appended: number; errors: unknown[] }> {
  for (let i = start; i < start + 10_000; i += PER_ROUND) {
    const payloads = Array.from({ length: PER_ROUND }, (_, k) => value(i + k));
    const results = await Promise.allSettled(payloads.map((p) => client.append(p)));
    results.forEach((r, k) => {
      if (r.status === 'fulfilled') acked.set(r.value, payloads[k]!);
    });
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (errors.length > 0) return { appended: i + PER_ROUND - start, errors };
  }
  throw new Error('10,000 appends did not fill a 2 MiB unit');
}

async function expectAckedReadBack(from: number): Promise<void> {
  const addresses = [...acked.keys()].filter((a) => a >= from);
  const entries = await Promise.all(addresses.map((a) => client.read(a)));
  const wrong = entries.flatMap((e, i) => (e.kind === 'data' && Buffer.from(e.payload).equals(acked.get(addresses[i]!)!) ? [] : [addresses[i]]));
  expect(wrong).toEqual([]);
}

beforeAll(async () => {
  const devices = [0, 1].map((i) => join(harness.dir, `unit-${i}.img`));
  for (const d of devices) expect(harness.corfu('format', d, '--size', '2M').code).toBe(0);
  chain = await startOneChain(harness, 'full', devices);
  client = await CorfuClient.connect({ layout: chain.layout, holeTimeoutMs: 100 });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await chain?.stop();
});

describe('a full unit', () => {
  it('fails appends with ERR_FULL, keeps everything acknowledged, and takes appends again after prefix trims, around the circle', async () => {
    const first = await appendUntilFull(0);
    for (const err of first.errors) {
      expect(err).toBeInstanceOf(CorfuError);
      expect((err as CorfuError).code, (err as Error).message).toBe('ERR_FULL');
    }
    expect(acked.size).toBeGreaterThan(400);
    await expectAckedReadBack(0);

    // Free the older half: appends go in again, into the pages the trim freed.
    const addresses = [...acked.keys()].sort((a, b) => a - b);
    const half = addresses[Math.floor(addresses.length / 2)]!;
    await client.prefixTrim(half);
    await expect(client.read(addresses[0]!)).rejects.toSatisfy((e) => isCorfuError(e, 'ERR_TRIMMED'));
    for (const a of addresses) if (a < half) acked.delete(a);
    const again = await appendUntilFull(first.appended);
    expect(again.errors.every((e) => isCorfuError(e, 'ERR_FULL'))).toBe(true);
    // About half the circle was free: the second fill wrapped past the region's end.
    expect(again.appended).toBeGreaterThan(PER_ROUND * 8);
    await expectAckedReadBack(half);

    // Trimming everything leaves the whole circle free again.
    const tail = await client.tail();
    await client.prefixTrim(tail);
    acked.clear();
    const third = await appendUntilFull(first.appended + again.appended);
    expect(third.errors.every((e) => isCorfuError(e, 'ERR_FULL'))).toBe(true);
    expect(acked.size).toBeGreaterThan(400);
    await expectAckedReadBack(tail);
    console.log(`appends until ERR_FULL: ${first.appended}, after trimming half: ${again.appended}, after trimming all: ${third.appended}`);
  }, 120_000);
});
