// A full 4 GiB loop device of 128-byte entries, reopened (issue 12): every entry the fill
// acknowledged reads back, the tail is where the fill stopped, and the run-compressed
// index stays within the bound its design gives. No timing is asserted: timings are
// `npm run bench:engine -- --scale`'s business.
//
// Size and wall time: 4 GiB holds about 24 million 128-byte entries. Filling it (4,096
// entries a call, 4 calls in flight, sync none, the bench's own fill) takes 15-30 s on a
// busy 2-core machine, so the whole device is filled with 128-byte entries, the size
// whose index is the hardest to keep small. Reading every entry back would not be
// bounded: the engine reads one record per I/O, about 50-70 thousand a second here, so
// 24 million take 6-8 minutes. The test reads a deterministic sample instead (about
// 540 thousand entries, 10 s): all of the first and last 65,536 entries (two index
// summaries' worth at each end: the tail is what recovery scans rather than loads),
// the first and last entry of every call (each call is one 4,096-address index chunk),
// and every 61st entry between them, so every flush (at most 16,384 records) is sampled
// a few hundred times. Each entry is compared byte for byte (two address stamps and the
// pattern between them: bench/scale-fill.ts).
//
// Needs root for losetup; skipped, with the reason, otherwise.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { SAMPLE, SCALE_BATCHING, checkEntries, fillUntilFull, sampleAddresses } from '../bench/scale-fill.js';
import { loopDevices } from './helpers/devices.js';

const GiB = 1024 ** 3;
const ENTRY_BYTES = 128;
const CHUNK_ADDRESSES = 4096; // native/engine/src/index.rs: CHUNK_BITS = 12

/**
 * The most the index may hold after an ascending fill, from its design
 * (native/engine/src/index.rs, `Index::memory_bytes`):
 *
 * - per chunk of 4,096 addresses, 48 bytes of tree, plus its runs' Vec capacity times
 *   the size of a run: 4 x u16 + 2 x u32 + a u8 kind = 17 bytes, 20 with alignment;
 *   24 is taken, what the design states;
 * - a run is records of one length laid back to back at evenly spaced addresses. The
 *   fill writes ascending addresses and a flush lays its records back to back in the
 *   page-body stream, so within one chunk a run breaks only where a new flush begins
 *   (at a fresh page, perhaps behind an index summary record): all chunks together hold
 *   at most chunks + flushes runs;
 * - a Vec's capacity starts at 4 and doubles, so it is at most 2 + 2 x its length.
 *
 * So at most 48 x chunks + 24 x (2 x chunks + 2 x (chunks + flushes)) bytes: about
 * 0.04 bytes an entry for 128-byte entries, where a dense index (one 12-byte slot per
 * address, what a chunk falls back to when the order breaks) costs 12: one dense chunk
 * (48 KiB) in a hundred is enough to break the bound.
 */
function indexBound(entries: number, flushes: number): number {
  const chunks = Math.ceil(entries / CHUNK_ADDRESSES);
  return 48 * chunks + 24 * (2 * chunks + 2 * (chunks + flushes));
}

const devices = loopDevices();

describe.skipIf(devices.skipReason !== undefined)(`a full 4 GiB loop device, reopened${devices.skipReason ? ` (skipped: ${devices.skipReason})` : ''}`, () => {
  let dev: string;
  let entries: number;
  let flushes: number;

  beforeAll(async () => {
    dev = devices.create(4 * GiB);
    Store.format(dev);
    const store = Store.open(dev, { sync: 'none' });
    try {
      ({ entries } = await fillUntilFull(store, ENTRY_BYTES, SCALE_BATCHING));
      ({ flushes } = await store.stats());
    } finally {
      await store.close();
    }
  }, 900_000);

  afterAll(() => devices.cleanup());

  it('holds the whole device of entries (a fill that stopped early would make the rest moot)', () => {
    // 4 GiB of pages, of which 4,064 of 4,096 bytes carry records of 24 + 128 bytes, less
    // the index summaries (24 bytes per record): about 26.9 million records at most.
    const ceiling = (4 * GiB * (4064 / 4096)) / (24 + ENTRY_BYTES);
    expect(entries).toBeGreaterThan(0.85 * ceiling);
    expect(entries).toBeLessThan(ceiling);
  });

  it('reopens with the tail, the index within its bound, and every sampled entry as written', async () => {
    const store = Store.open(dev);
    try {
      const s = await store.stats();
      expect(s.tail).toBe(entries);
      expect(s.addresses).toBe(entries);
      expect(await store.tail(0)).toBe(entries);
      const bound = indexBound(entries, flushes);
      expect(bound / entries, 'the derived bound itself').toBeLessThan(0.1);
      expect(s.indexBytes).toBeGreaterThan(0);
      expect(s.indexBytes, `index of ${entries} entries written in ${flushes} flushes`).toBeLessThanOrEqual(bound);

      const [past] = await store.read(0, [entries]);
      expect(past?.status).toBe('ERR_UNWRITTEN');
      const check = await checkEntries(store, ENTRY_BYTES, sampleAddresses([[0, entries]], SAMPLE), SCALE_BATCHING);
      expect(check).toEqual({ checked: expect.any(Number) as number, bad: 0, firstBad: null });
      // The two ends whole, and about one in `every` of the rest (block edges come on top).
      expect(check.checked).toBeGreaterThan(2 * SAMPLE.edge + Math.floor((entries - 2 * SAMPLE.edge) / SAMPLE.every));
    } finally {
      await store.close();
    }
  }, 600_000);
});
