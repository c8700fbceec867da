// Large entries through one CorfuClient on real processes: two `corfu unit`s
// formatted with --max-entry-bytes 1M in one chain, and a `corfu sequencer`.
// The client batches every read of one turn to the tail unit into one READ
// frame; a unit answers at most one frame (16 MiB + 64 KiB) and defers the rest
// of the entries ("ask again", docs/protocol.md). Every read must still return
// its exact bytes: none may fail because large entries shared its frame.

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isCorfuError } from '../bindings/errors.js';
import { CorfuClient } from '../src/client/index.js';
import { cliHarness } from './helpers/cli.js';
import { startOneChain, type OneChain } from './helpers/one-chain.js';

const MAX_ENTRY_BYTES = 1024 * 1024;
const harness = cliHarness('corfu-large-entries-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });

let chain: OneChain;
let client: CorfuClient;

/** `length` bytes that differ for every (tag, i) and every offset's neighbourhood. */
function bytes(tag: number, i: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let x = (tag * 0x9e3779b1 + i * 0x85ebca6b + 1) >>> 0;
  for (let j = 0; j < length; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[j] = x & 0xff;
  }
  return b;
}

/** Reads every address concurrently (one turn: one READ frame to the tail) and checks each entry's bytes. */
async function readAllBack(addresses: readonly number[], expected: readonly Buffer[]): Promise<void> {
  const entries = await Promise.all(addresses.map((a) => client.read(a)));
  const wrong = entries.flatMap((e, i) => (e.kind === 'data' && Buffer.from(e.payload).equals(expected[i]!) ? [] : [`${addresses[i]}:${e.kind}`]));
  expect(wrong).toEqual([]);
}

beforeAll(async () => {
  const devices = [0, 1].map((i) => join(harness.dir, `unit-${i}.img`));
  for (const d of devices) {
    const r = harness.corfu('format', d, '--size', '160M', '--max-entry-bytes', '1M');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }
  chain = await startOneChain(harness, 'large', devices);
  client = await CorfuClient.connect({ layout: chain.layout, holeTimeoutMs: 100 });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await chain?.stop();
});

describe('a client reading large entries', () => {
  it('300 concurrent reads of 64 KiB entries (19 MiB, one frame asked): every read returns its exact bytes', async () => {
    const payloads = Array.from({ length: 300 }, (_, i) => bytes(1, i, 64 * 1024));
    const addresses = await Promise.all(payloads.map((p) => client.append(p)));
    const deferralsBefore = client.stats.readDeferrals;
    await readAllBack(addresses, payloads);
    // The scenario did what it is here for: the unit's answer was full and the client asked again.
    expect(client.stats.readDeferrals).toBeGreaterThan(deferralsBefore);
  }, 60_000);

  it('40 appends of exactly the maximum entry size (1 MiB) succeed; 40 concurrent reads return their exact bytes', async () => {
    const payloads = Array.from({ length: 40 }, (_, i) => bytes(2, i, MAX_ENTRY_BYTES));
    const addresses = await Promise.all(payloads.map((p) => client.append(p)));
    expect(new Set(addresses).size).toBe(40);
    const deferralsBefore = client.stats.readDeferrals;
    await readAllBack(addresses, payloads);
    expect(client.stats.readDeferrals).toBeGreaterThan(deferralsBefore);
  }, 60_000);

  it('an append one byte over the maximum fails alone with ERR_TOO_LARGE; appends and reads running with it all succeed', async () => {
    const earlier = Array.from({ length: 60 }, (_, i) => bytes(3, i, 64 * 1024));
    const earlierAt = await Promise.all(earlier.map((p) => client.append(p)));
    const from = Math.min(...earlierAt);

    const big = Array.from({ length: 12 }, (_, i) => bytes(4, i, MAX_ENTRY_BYTES));
    const small = Array.from({ length: 100 }, (_, i) => bytes(5, i, 1 + ((i * 97) % 3000)));
    const [over, bigAt, smallAt] = await Promise.all([
      client.append(bytes(6, 0, MAX_ENTRY_BYTES + 1)).then(
        (address) => ({ address }),
        (err: unknown) => ({ err }),
      ),
      Promise.all(big.map((p) => client.append(p))),
      Promise.all(small.map((p) => client.append(p))),
      readAllBack(earlierAt, earlier),
    ]);
    expect('err' in over && isCorfuError(over.err, 'ERR_TOO_LARGE')).toBe(true);
    // The error states the limit; the client refused it before taking a token.
    expect('err' in over && (over.err as Error).message).toMatch(new RegExp(`${MAX_ENTRY_BYTES + 1} bytes, above the log's maximum of ${MAX_ENTRY_BYTES} bytes`));
    expect(client.maxEntryBytes).toBe(MAX_ENTRY_BYTES);
    await readAllBack([...bigAt, ...smallAt], [...big, ...small]);

    // So it left no hole: every address from here to the tail holds what was appended.
    const tail = await client.tail();
    const expected = new Map<number, Buffer>();
    [...earlierAt, ...bigAt, ...smallAt].forEach((a, i) => expected.set(a, [...earlier, ...big, ...small][i]!));
    let junk = 0;
    for await (const e of client.readRange(from, tail)) {
      if (e.kind === 'junk') junk++;
      else expect(Buffer.from(e.payload).equals(expected.get(e.address)!), `address ${e.address}`).toBe(true);
    }
    expect(junk).toBe(0);
    expect(tail - from).toBe(expected.size);
  }, 60_000);
});
