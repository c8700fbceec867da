// The Store contract, run against one kind of real device (a regular file or
// a loop block device). store.file.test.ts and store.loop.test.ts call this
// with their provider, so both kinds face exactly the same checks.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { WRITTEN } from '../../bindings/entry-codes.js';
import { CorfuError, Store, codeByte, isCorfuError, type ReadOutcome, type WriteEntry } from '../../bindings/index.js';
import { patternFor } from '../../src/cli/pattern.js';
import { lengthFor } from '../fixtures/crash-plan.mjs';
import { MiB, type DeviceProvider } from './devices.js';
import { rejectsWith, throwsWith } from './expect-error.js';

const DEVICE_BYTES = 16 * MiB;
const MAX_ENTRY = 64 * 1024;
const CLUSTER_ID = '00112233445566778899aabbccddeeff';

export function storeSuite(devices: DeviceProvider): void {
  const open: Store[] = [];
  const made: string[] = [];

  /** A fresh device, formatted with the defaults unless told otherwise. */
  function formatted(bytes = DEVICE_BYTES, maxEntryBytes = MAX_ENTRY): string {
    const path = devices.create(bytes);
    made.push(path);
    Store.format(path, { maxEntryBytes });
    return path;
  }
  function unformatted(bytes = DEVICE_BYTES): string {
    const path = devices.create(bytes);
    made.push(path);
    return path;
  }
  function openStore(path: string): Store {
    const store = Store.open(path, { sync: 'always' });
    open.push(store);
    return store;
  }
  async function closeStore(store: Store): Promise<void> {
    open.splice(open.indexOf(store), 1);
    await store.close();
  }
  const entry = (address: number, length: number): WriteEntry => ({ address, payload: patternFor(address, length) });

  /** A known-good write and read-back: "the store is still usable". */
  async function stillUsable(store: Store, epoch: number, address: number): Promise<void> {
    const [w] = await store.write(epoch, [entry(address, 100)]);
    expect(w).toEqual({ address, status: 'OK' });
    const got = await store.readOne(epoch, address);
    expect(got.kind === 'data' && got.payload.equals(patternFor(address, 100))).toBe(true);
  }

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close().catch(() => undefined);
    for (const path of made.splice(0)) devices.release(path);
  });
  afterAll(() => devices.cleanup());

  describe('format and inspect', () => {
    it('round-trips the superblock', () => {
      const path = unformatted();
      const info = Store.format(path, { maxEntryBytes: 32 * 1024, clusterId: CLUSTER_ID.toUpperCase(), unitId: 7 });
      expect(info).toMatchObject({
        formatVersion: 2,
        clusterId: CLUSTER_ID,
        unitId: 7,
        epoch: 0,
        trimMark: 0,
        pageBytes: 4096,
        deviceBytes: DEVICE_BYTES,
        maxEntryBytes: 32 * 1024,
        usedPages: 0,
        kind: devices.kind,
      });
      expect(info.dataPages).toBeGreaterThan(0);
      expect(info.freePages).toBe(info.dataPages);
      expect(info.dataPages * info.pageBytes).toBeLessThan(DEVICE_BYTES);
      expect(Store.inspect(path)).toEqual(info);
    });

    it('refuses to format twice without force, and force starts from empty', async () => {
      const path = formatted();
      const store = openStore(path);
      await stillUsable(store, 0, 3);
      await closeStore(store);
      const err = throwsWith(() => Store.format(path), 'ERR_ALREADY_FORMATTED');
      expect(err.message).toMatch(/force/i);
      // The refused format changed nothing.
      const again = openStore(path);
      expect((await again.readOne(0, 3)).kind).toBe('data');
      await closeStore(again);
      const before = Store.inspect(path).formatId;
      const after = Store.format(path, { force: true }).formatId;
      // Another format is another unit (a rebuild's resume record must not apply to it).
      expect(after).toMatch(/^[0-9a-f]{16}$/);
      expect(after).not.toBe(before);
      const fresh = openStore(path);
      await rejectsWith(fresh.readOne(0, 3), 'ERR_UNWRITTEN');
    });

    it('refuses a device below the minimum size with ERR_DEVICE_TOO_SMALL', () => {
      const path = unformatted(512 * 1024);
      throwsWith(() => Store.format(path), 'ERR_DEVICE_TOO_SMALL');
      throwsWith(() => Store.inspect(path), 'ERR_NOT_FORMATTED');
    });

    it('reports an unformatted device as ERR_NOT_FORMATTED', () => {
      const path = unformatted();
      throwsWith(() => Store.inspect(path), 'ERR_NOT_FORMATTED');
      throwsWith(() => Store.open(path), 'ERR_NOT_FORMATTED');
    });

    it('reports a path that does not exist as ERR_NO_DEVICE', () => {
      const path = devices.missing();
      throwsWith(() => Store.open(path), 'ERR_NO_DEVICE');
      throwsWith(() => Store.inspect(path), 'ERR_NO_DEVICE');
      throwsWith(() => Store.format(path), 'ERR_NO_DEVICE');
    });

    it('rejects bad format options before touching the device', () => {
      const path = unformatted();
      throwsWith(() => Store.format(path, { clusterId: 'not hex' }), 'ERR_BAD_REQUEST');
      throwsWith(() => Store.format(path, { maxEntryBytes: -1 }), 'ERR_BAD_REQUEST');
      throwsWith(() => Store.format(path, { unitId: 1.5 }), 'ERR_BAD_REQUEST');
      throwsWith(() => Store.format('', {}), 'ERR_BAD_REQUEST');
      throwsWith(() => Store.inspect(path), 'ERR_NOT_FORMATTED');
    });
  });

  describe('write and read', () => {
    it('reads back the exact bytes of entries from 1 B to the max entry size', async () => {
      const store = openStore(formatted());
      const sizes = [1, 2, 23, 24, 25, 100, 4063, 4064, 4065, 4096, 10_000, MAX_ENTRY - 1, MAX_ENTRY];
      const entries = sizes.map((size, i) => entry(i, size));
      // One sparse address far above the rest: addresses need not be dense.
      entries.push(entry(1_000_000, 333));
      const results = await store.write(0, entries);
      expect(results).toEqual(entries.map((e) => ({ address: e.address, status: 'OK' })));

      const reads = await store.read(
        0,
        entries.map((e) => e.address),
      );
      reads.forEach((r, i) => {
        expect(r.status).toBe('OK');
        expect(r.kind).toBe('data');
        expect(r.payload?.equals(entries[i]!.payload)).toBe(true);
      });
      for (const e of entries.slice(0, 3)) {
        const one = await store.readOne(0, e.address);
        expect(one.kind === 'data' && one.payload.equals(e.payload)).toBe(true);
      }
    });

    it('is write-once: a second write reports what is stored (same, different, junk)', async () => {
      const store = openStore(formatted());
      expect(await store.write(0, [entry(0, 50)])).toEqual([{ address: 0, status: 'OK' }]);
      expect(await store.fill(0, [1])).toEqual([{ address: 1, status: 'OK' }]);

      const again = await store.write(0, [entry(0, 50), { address: 0, payload: Buffer.from('other bytes') }, entry(1, 50)]);
      expect(again).toEqual([
        { address: 0, status: 'ERR_WRITTEN', written: 'same' },
        { address: 0, status: 'ERR_WRITTEN', written: 'different' },
        { address: 1, status: 'ERR_WRITTEN', written: 'junk' },
      ]);
      // The first value won and is still there.
      const got = await store.readOne(0, 0);
      expect(got.kind === 'data' && got.payload.equals(patternFor(0, 50))).toBe(true);
    });

    it('gives the first of two writes to one address in a batch the address', async () => {
      const store = openStore(formatted());
      const results = await store.write(0, [entry(5, 10), { address: 5, payload: Buffer.from('second') }]);
      expect(results).toEqual([
        { address: 5, status: 'OK' },
        { address: 5, status: 'ERR_WRITTEN', written: 'different' },
      ]);
      const got = await store.readOne(0, 5);
      expect(got.kind === 'data' && got.payload.equals(patternFor(5, 10))).toBe(true);
    });

    it('keeps write-once across close and reopen', async () => {
      const path = formatted();
      const first = openStore(path);
      await first.write(0, [entry(0, 3000), entry(1, 5000)]);
      await first.fill(0, [2]);
      await closeStore(first);

      const second = openStore(path);
      expect(await second.write(0, [entry(0, 3000), entry(1, 10), entry(2, 10)])).toEqual([
        { address: 0, status: 'ERR_WRITTEN', written: 'same' },
        { address: 1, status: 'ERR_WRITTEN', written: 'different' },
        { address: 2, status: 'ERR_WRITTEN', written: 'junk' },
      ]);
      const reads = await second.read(0, [0, 1, 2]);
      expect(reads[0]?.payload?.equals(patternFor(0, 3000))).toBe(true);
      expect(reads[1]?.payload?.equals(patternFor(1, 5000))).toBe(true);
      expect(reads[2]).toEqual({ address: 2, status: 'OK', kind: 'junk' });
    });

    it('closes with an index checkpoint: the reopen reads it and no page of the log', async () => {
      const path = formatted();
      const first = openStore(path);
      await first.write(0, [entry(0, 3000), entry(1, 5000)]);
      expect((await first.stats()).checkpointSeq).toBe(null);
      await closeStore(first);

      const second = openStore(path);
      const stats = await second.stats();
      expect(stats.checkpointSeq).not.toBe(null);
      expect(stats.checkpointBytes).toBeGreaterThan(0);
      expect(stats.checkpointPages).toBeGreaterThan(0);
      expect(stats.recoveryCheckpointBytes).toBe(stats.checkpointBytes);
      expect(stats.recoveryPages).toBe(0);
      expect(stats.recoverySummaries).toBe(0);
      expect(stats.checkpointsWritten).toBe(0);
      const reads = await second.read(0, [0, 1]);
      expect(reads[1]?.payload?.equals(patternFor(1, 5000))).toBe(true);
    });

    it('reads a filled address as junk, and fill never overwrites', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, 10)]);
      const fills = await store.fill(0, [0, 1]);
      expect(fills[0]).toMatchObject({ address: 0, status: 'ERR_WRITTEN' });
      expect(fills[1]).toEqual({ address: 1, status: 'OK' });
      expect(await store.readOne(0, 1)).toEqual({ kind: 'junk' });
      const data = await store.readOne(0, 0);
      expect(data.kind === 'data' && data.payload.equals(patternFor(0, 10))).toBe(true);
      const refill = await store.fill(0, [1]);
      expect(refill[0]).toMatchObject({ address: 1, status: 'ERR_WRITTEN', written: 'junk' });
    });

    it('answers a read past the tail with ERR_UNWRITTEN, per entry and from readOne', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, 10)]);
      const reads = await store.read(0, [0, 1, 99]);
      expect(reads.map((r) => r.status)).toEqual(['OK', 'ERR_UNWRITTEN', 'ERR_UNWRITTEN']);
      await rejectsWith(store.readOne(0, 1), 'ERR_UNWRITTEN');
      await stillUsable(store, 0, 1);
    });

    it('rejects a payload over the max entry with ERR_TOO_LARGE for that entry only', async () => {
      const store = openStore(formatted());
      const results = await store.write(0, [entry(0, MAX_ENTRY + 1), entry(1, 10)]);
      expect(results).toEqual([
        { address: 0, status: 'ERR_TOO_LARGE' },
        { address: 1, status: 'OK' },
      ]);
      await rejectsWith(store.readOne(0, 0), 'ERR_UNWRITTEN');
      await stillUsable(store, 0, 0);
    });

    it('reports the tail: one past the highest written address', async () => {
      const store = openStore(formatted());
      expect(await store.tail(0)).toBe(0);
      await store.write(0, [entry(0, 10), entry(1, 10), entry(7, 10)]);
      expect(await store.tail(0)).toBe(8);
      await store.fill(0, [20]);
      expect(await store.tail(0)).toBe(21);
    });

    it('packed writes take typed arrays and report raw status bytes', async () => {
      const store = openStore(formatted());
      const a = patternFor(0, 10);
      const b = patternFor(1, 20);
      const result = await store.writePacked(0, Float64Array.of(0, 1), Uint32Array.of(10, 20), Buffer.concat([a, b]));
      expect([...result.status]).toEqual([codeByte('OK'), codeByte('OK')]);
      const again = await store.writePacked(0, Float64Array.of(1), Uint32Array.of(20), b);
      expect([...again.status]).toEqual([codeByte('ERR_WRITTEN')]);
      expect([...again.written]).toEqual([WRITTEN.SAME]);
      const reads = await store.read(0, Float64Array.of(0, 1));
      expect(reads[1]?.payload?.equals(b)).toBe(true);
      await rejectsWith(store.writePacked(0, Float64Array.of(2), Uint32Array.of(5), Buffer.alloc(4)), 'ERR_BAD_REQUEST');
    });
  });

  describe('readInto', () => {
    it('answers what read answers, with the payloads back to back in the caller buffer and views of it', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, 10), entry(1, 3000), entry(3, 1)]);
      await store.fill(0, [4]);
      await store.trim(0, [3]);
      const addresses = [1, 0, 2, 3, 4, 0];
      const target = Buffer.alloc(8192, 0xee);
      const into = await store.readInto(0, addresses, target);
      const read = await store.read(0, addresses);
      expect(into).toEqual(read);
      expect(into.map((o) => o.status)).toEqual(['OK', 'OK', 'ERR_UNWRITTEN', 'ERR_TRIMMED', 'OK', 'OK']);
      // Request order, back to back from the buffer's start, each a view (not a copy).
      const expected = Buffer.concat([patternFor(1, 3000), patternFor(0, 10), patternFor(0, 10)]);
      expect(target.subarray(0, expected.length).equals(expected)).toBe(true);
      expect(target.subarray(expected.length).every((b) => b === 0xee)).toBe(true);
      expect(into[0]?.payload?.buffer).toBe(target.buffer);
      target.fill(0);
      expect(into[0]?.payload?.every((b) => b === 0)).toBe(true);
    });

    it('many in flight, each into its own buffer, reused: every answer holds its own entry', async () => {
      const store = openStore(formatted());
      const n = 64;
      await store.write(
        0,
        Array.from({ length: n }, (_, a) => entry(a, 100 + a)),
      );
      const targets = Array.from({ length: 16 }, () => Buffer.alloc(256));
      for (let round = 0; round < 4; round++) {
        const outcomes = await Promise.all(targets.map((t, w) => store.readInto(0, [(w * 7 + round * 13) % n], t)));
        outcomes.forEach(([o], w) => {
          const a = (w * 7 + round * 13) % n;
          expect(o?.status).toBe('OK');
          expect(o?.payload?.equals(patternFor(a, 100 + a))).toBe(true);
        });
      }
    });

    it('refuses payloads that do not fit with ERR_TOO_LARGE and writes nothing, not a byte past the buffer either', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, 600), entry(1, 600)]);
      const whole = Buffer.alloc(2048, 0xee);
      const target = whole.subarray(0, 1000);
      await rejectsWith(store.readInto(0, [0, 1], target), 'ERR_TOO_LARGE');
      expect(whole.every((b) => b === 0xee)).toBe(true);
      // Either one fits: the store is fine and the buffer serves again.
      const [o] = await store.readInto(0, [1], target);
      expect(o?.payload?.equals(patternFor(1, 600))).toBe(true);
      expect(whole.subarray(600).every((b) => b === 0xee)).toBe(true);
    });

    it('refuses a target that is not a Buffer, and a wrong epoch, as read does', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, 10)]);
      await rejectsWith(store.readInto(0, [0], new Uint8Array(64) as Buffer), 'ERR_BAD_REQUEST');
      await rejectsWith(store.readInto(0, [0], 'buffer' as unknown as Buffer), 'ERR_BAD_REQUEST');
      await store.seal(2);
      await rejectsWith(store.readInto(0, [0], Buffer.alloc(64)), 'ERR_SEALED');
      const [o] = await store.readInto(2, [0], Buffer.alloc(64));
      expect(o?.payload?.equals(patternFor(0, 10))).toBe(true);
    });
  });

  describe('trim', () => {
    it('trims single addresses: reads and writes there fail with ERR_TRIMMED', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, 10), entry(1, 10), entry(2, 10)]);
      expect(await store.trim(0, [1])).toEqual([{ address: 1, status: 'OK' }]);
      const reads = await store.read(0, [0, 1, 2]);
      expect(reads.map((r) => r.status)).toEqual(['OK', 'ERR_TRIMMED', 'OK']);
      await rejectsWith(store.readOne(0, 1), 'ERR_TRIMMED');
      expect(await store.write(0, [entry(1, 10)])).toEqual([{ address: 1, status: 'ERR_TRIMMED' }]);
      await stillUsable(store, 0, 3);
    });

    it('prefix-trims durably: everything below the mark is ERR_TRIMMED, also after reopen', async () => {
      const path = formatted();
      const store = openStore(path);
      await store.write(
        0,
        Array.from({ length: 10 }, (_, a) => entry(a, 500)),
      );
      await store.prefixTrim(0, 5);
      const reads = await store.read(0, [0, 4, 5, 9]);
      expect(reads.map((r) => r.status)).toEqual(['ERR_TRIMMED', 'ERR_TRIMMED', 'OK', 'OK']);
      expect(await store.write(0, [entry(2, 10)])).toEqual([{ address: 2, status: 'ERR_TRIMMED' }]);
      expect(await store.fill(0, [3])).toEqual([{ address: 3, status: 'ERR_TRIMMED' }]);
      await closeStore(store);

      expect(Store.inspect(path).trimMark).toBe(5);
      const reopened = openStore(path);
      const after = await reopened.read(0, [4, 5]);
      expect(after[0]?.status).toBe('ERR_TRIMMED');
      expect(after[1]?.payload?.equals(patternFor(5, 500))).toBe(true);
      await stillUsable(reopened, 0, 10);
    });
  });

  describe('read budget', () => {
    it('a READ past its answer budget serves a prefix and defers the rest as ERR_OVERLOADED; asking again gets them', async () => {
      const store = openStore(formatted());
      await store.write(0, [entry(0, MAX_ENTRY), entry(1, 10)]);
      await store.fill(0, [2]);
      // The budget is one frame: 16 MiB + 64 KiB - 64 bytes, less 6 per entry. 256 x 64 KiB fit; the 257th does not,
      // and from there on every entry is deferred, the small, junk and unwritten ones too.
      const reads = await store.read(0, [...new Array<number>(257).fill(0), 1, 2, 3]);
      const served = reads.slice(0, 256);
      expect(served.every((r) => r.status === 'OK' && r.payload?.equals(patternFor(0, MAX_ENTRY)))).toBe(true);
      expect(reads.slice(256).map((r) => r.status)).toEqual(['ERR_OVERLOADED', 'ERR_OVERLOADED', 'ERR_OVERLOADED', 'ERR_OVERLOADED']);
      expect(reads.slice(256).every((r) => r.payload === undefined)).toBe(true);
      const again = await store.read(0, [0, 1, 2, 3]);
      expect(again.map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'ERR_UNWRITTEN']);
      expect(again[1]?.payload?.equals(patternFor(1, 10))).toBe(true);
      expect(again[2]?.kind).toBe('junk');
      await stillUsable(store, 0, 3);
      await closeStore(store);
    });
  });

  describe('epochs and seal', () => {
    it('seal answers the local tail; the old epoch then fails with ERR_SEALED carrying the unit epoch', async () => {
      const path = formatted();
      const store = openStore(path);
      await store.write(
        0,
        Array.from({ length: 10 }, (_, a) => entry(a, 10)),
      );
      expect(await store.seal(1)).toBe(10);

      const sealed = await rejectsWith(store.write(0, [entry(10, 10)]), 'ERR_SEALED');
      expect(sealed.unitEpoch).toBe(1);
      expect((await rejectsWith(store.read(0, [0]), 'ERR_SEALED')).unitEpoch).toBe(1);
      await rejectsWith(store.fill(0, [11]), 'ERR_SEALED');
      await rejectsWith(store.trim(0, [0]), 'ERR_SEALED');
      await rejectsWith(store.prefixTrim(0, 1), 'ERR_SEALED');
      await rejectsWith(store.tail(0), 'ERR_SEALED');
      // A request from the future is refused too: epochs must be equal.
      expect((await rejectsWith(store.write(2, [entry(10, 10)]), 'ERR_SEALED')).unitEpoch).toBe(1);

      await stillUsable(store, 1, 10);
      await closeStore(store);
      expect(Store.inspect(path).epoch).toBe(1);
    });

    it('refuses to seal to a lower or equal epoch, and stays usable', async () => {
      const store = openStore(formatted());
      await store.seal(3);
      for (const epoch of [3, 2, 0]) {
        const err = await store.seal(epoch).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CorfuError);
        expect(['ERR_SEALED', 'ERR_BAD_REQUEST']).toContain((err as CorfuError).code);
      }
      await stillUsable(store, 3, 0);
      expect(await store.seal(4)).toBe(1);
    });
  });

  describe('bad input', () => {
    it('turns bad arguments into ERR_BAD_REQUEST and keeps working', async () => {
      const store = openStore(formatted());
      const cases: Array<() => Promise<unknown>> = [
        () => store.write(-1, [entry(0, 1)]),
        () => store.write(0.5, [entry(0, 1)]),
        () => store.write(0, [{ address: -1, payload: Buffer.alloc(1) }]),
        () => store.write(0, [{ address: 1.5, payload: Buffer.alloc(1) }]),
        () => store.write(0, [{ address: Number.NaN, payload: Buffer.alloc(1) }]),
        () => store.write(0, [{ address: 2 ** 53, payload: Buffer.alloc(1) }]),
        () => store.write(0, [{ address: 0, payload: 'text' as unknown as Buffer }]),
        () => store.write(0, null as unknown as WriteEntry[]),
        () => store.read(0, [Number.POSITIVE_INFINITY]),
        () => store.read(0, ['1' as unknown as number]),
        () => store.fill(-5, [0]),
        () => store.trim(0, [-1]),
        () => store.prefixTrim(0, -1),
        () => store.seal(Number.NaN),
        () => store.tail(-1),
      ];
      for (const call of cases) await rejectsWith(call(), 'ERR_BAD_REQUEST');
      throwsWith(() => Store.open(formatted(), { sync: 'sometimes' as 'always' }), 'ERR_BAD_REQUEST');
      await stillUsable(store, 0, 0);
    });

    it('refuses writes, fills and trims at 2^53 - 1, whose tail would not be a safe integer, and keeps answering tail and seal', async () => {
      // Regression: a write there was accepted; the next TAIL or SEAL then ended the
      // store's I/O thread, and every later call on the store hung.
      const store = openStore(formatted());
      const top = Number.MAX_SAFE_INTEGER;
      await rejectsWith(store.write(0, [entry(3, 10), { address: top, payload: Buffer.alloc(1) }]), 'ERR_BAD_REQUEST');
      await rejectsWith(store.fill(0, [4, top]), 'ERR_BAD_REQUEST');
      await rejectsWith(store.trim(0, [top]), 'ERR_BAD_REQUEST');
      expect(await store.tail(0)).toBe(0);
      expect(await store.read(0, [3, 4])).toEqual([
        { address: 3, status: 'ERR_UNWRITTEN' },
        { address: 4, status: 'ERR_UNWRITTEN' },
      ]);
      expect(await store.write(0, [{ address: top - 1, payload: Buffer.alloc(1) }])).toEqual([{ address: top - 1, status: 'OK' }]);
      expect(await store.tail(0)).toBe(top);
      expect(await store.seal(1)).toBe(top);
      await stillUsable(store, 1, 5);
    });

    it('fails calls on a closed store with ERR_CLOSED', async () => {
      const store = openStore(formatted());
      await closeStore(store);
      await rejectsWith(store.write(0, [entry(0, 1)]), 'ERR_CLOSED');
      await rejectsWith(store.read(0, [0]), 'ERR_CLOSED');
    });

    it('refuses a second open of the same device with ERR_DEVICE_BUSY', () => {
      const path = formatted();
      openStore(path);
      throwsWith(() => Store.open(path), 'ERR_DEVICE_BUSY');
    });
  });

  describe('space', () => {
    it('fails with ERR_FULL when the circle is full, never corrupts, and prefixTrim frees space', async () => {
      // The smallest useful device: a few hundred pages.
      const store = openStore(formatted(2 * MiB, 4096));
      const size = 4000; // about one page per entry
      let next = 0;
      let full = -1;
      while (full < 0 && next < 10_000) {
        const batch = Array.from({ length: 16 }, (_, i) => entry(next + i, size));
        const results = await store.write(0, batch);
        const firstFull = results.findIndex((r) => r.status === 'ERR_FULL');
        // Everything before the first ERR_FULL went in; nothing after it did.
        results.forEach((r, i) => expect(r.status).toBe(firstFull < 0 || i < firstFull ? 'OK' : 'ERR_FULL'));
        if (firstFull >= 0) full = next + firstFull;
        else next += batch.length;
      }
      expect(full).toBeGreaterThan(100);
      // Every acknowledged entry is intact.
      const acked = Array.from({ length: full }, (_, a) => a);
      for (const r of await store.read(0, acked)) expect(r.payload?.equals(patternFor(r.address, size))).toBe(true);

      await store.prefixTrim(0, Math.floor(full / 2));
      const more = Array.from({ length: 16 }, (_, i) => entry(full + i, size));
      expect((await store.write(0, more)).map((r) => r.status)).toEqual(more.map(() => 'OK'));
      const tailReads = await store.read(0, [Math.floor(full / 2), full + 15]);
      expect(tailReads[0]?.payload?.equals(patternFor(Math.floor(full / 2), size))).toBe(true);
      expect(tailReads[1]?.payload?.equals(patternFor(full + 15, size))).toBe(true);
    });
  });

  describe('crash recovery', () => {
    const MAX_CRASH_ENTRY = 8192;

    /** Runs the writer until it has `acks` acknowledged entries, then kill -9s it. Returns the acked addresses. */
    async function writeUntilKilled(path: string, acks: number): Promise<number[]> {
      const writer = fileURLToPath(new URL('../fixtures/crash-writer.mjs', import.meta.url));
      const child = spawn(process.execPath, [writer, path, String(MAX_CRASH_ENTRY)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      const acked: number[] = [];
      for await (const line of createInterface({ input: child.stdout })) {
        const [tag, first, count] = line.split(' ');
        if (tag !== 'ack') continue;
        for (let a = Number(first); a < Number(first) + Number(count); a++) acked.push(a);
        // Kill with batches still in flight (the writer keeps four going).
        if (acked.length >= acks) {
          child.kill('SIGKILL');
          break;
        }
      }
      const end = await exited;
      expect(end, `writer died on its own: ${stderr}`).toBe('SIGKILL');
      return acked;
    }

    /**
     * Opens the device the killed writer held. After kill -9 with io_uring
     * requests in flight, the kernel finishes the dead ring's requests
     * asynchronously and only then drops its file references, so a block
     * device opened O_EXCL can stay busy for a moment after the process is
     * reaped. A supervisor restarting a unit retries; so does this.
     */
    async function reopenAfterCrash(path: string): Promise<Store> {
      const deadline = performance.now() + 5000;
      for (;;) {
        try {
          return openStore(path);
        } catch (err) {
          if (!isCorfuError(err, 'ERR_DEVICE_BUSY') || performance.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    }

    /** One READ answers at most one frame of payload (the engine's budget): read in slices. */
    const readChunked = async (store: Store, addresses: number[]): Promise<ReadOutcome[]> => {
      const out: ReadOutcome[] = [];
      for (let i = 0; i < addresses.length; i += 256) out.push(...(await store.read(0, addresses.slice(i, i + 256))));
      return out;
    };

    it('keeps every acknowledged entry through repeated kill -9, and never shows torn data', async () => {
      const path = formatted(64 * MiB, MAX_CRASH_ENTRY);
      const acked: number[] = [];
      // Several crashes in a row: each recovery must also survive the next crash.
      for (const acks of [700, 1500, 2500]) {
        acked.push(...(await writeUntilKilled(path, acks)));

        const store = await reopenAfterCrash(path);
        const reads = await readChunked(store, acked);
        const lost = reads.filter((r) => r.status !== 'OK' || r.payload === undefined || !r.payload.equals(patternFor(r.address, lengthFor(r.address, MAX_CRASH_ENTRY))));
        expect(lost.map((r) => `${r.address}:${r.status}`)).toEqual([]);
        // Unacknowledged addresses below the tail may or may not have made it,
        // but whatever reads back as data is exactly what was written there.
        const tail = await store.tail(0);
        const all = await readChunked(
          store,
          Array.from({ length: tail }, (_, a) => a),
        );
        const torn = all.filter((r) => !(r.status === 'ERR_UNWRITTEN' || (r.status === 'OK' && r.payload?.equals(patternFor(r.address, lengthFor(r.address, MAX_CRASH_ENTRY))))));
        expect(torn.map((r) => `${r.address}:${r.status}`)).toEqual([]);
        await closeStore(store);
      }

      // Recovery left a working store: acknowledged addresses stay taken, new ones are writable.
      const store = openStore(path);
      expect((await store.write(0, [entry(acked[0]!, 1)]))[0]).toEqual({ address: acked[0], status: 'ERR_WRITTEN', written: 'different' });
      await stillUsable(store, 0, await store.tail(0));
    });
  });
}
