// The Store contract on a regular file (O_DIRECT on the test machine's filesystem).

import { readFileSync, writeFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { MiB, fileDevices, unwrittenExtents } from './helpers/devices.js';
import { throwsWith } from './helpers/expect-error.js';
import { storeSuite } from './helpers/store-suite.js';

const devices = fileDevices();

describe('Store on a regular file', () => {
  storeSuite(devices);

  it('creates a missing file when format is given a size', () => {
    const path = devices.missing();
    const info = Store.format(path, { sizeBytes: 8 * MiB });
    expect(info).toMatchObject({ kind: 'file', deviceBytes: 8 * MiB, epoch: 0 });
    expect(Store.inspect(path)).toEqual(info);
    devices.release(path);
  });

  it('identity reads what the superblock says of the device, and its epoch once sealed; refuses what is not a Corfu device', async () => {
    const path = devices.missing();
    const info = Store.format(path, { sizeBytes: 8 * MiB, unitId: 6, maxEntryBytes: 4096 });
    const { clusterId, unitId, epoch, pageBytes, maxEntryBytes, deviceBytes, formatId, formatVersion, kind } = info;
    expect(Store.identity(path)).toEqual({ clusterId, unitId, epoch, pageBytes, maxEntryBytes, deviceBytes, formatId, formatVersion, kind });
    const store = Store.open(path);
    await store.seal(4);
    await store.close();
    expect(Store.identity(path)).toMatchObject({ epoch: 4, unitId: 6, formatId });
    throwsWith(() => Store.identity(devices.missing()), 'ERR_NO_DEVICE');
    devices.release(path);
  });

  it('zero: writes zeros over the whole file before formatting it (no unwritten extents, old bytes gone), and the unit starts empty', async () => {
    for (const zero of [false, true]) {
      const path = devices.missing();
      writeFileSync(path, Buffer.alloc(8 * MiB, 0xab));
      Store.format(path, { sizeBytes: 16 * MiB, force: true, zero });
      const bytes = readFileSync(path);
      expect(bytes.length).toBe(16 * MiB);
      // Past the superblocks: the old bytes stay without zero, are gone with it.
      const tail = bytes.subarray(1 * MiB, 8 * MiB);
      expect(tail.every((b) => b === 0)).toBe(zero);
      const unwritten = unwrittenExtents(path);
      if (unwritten !== undefined && !zero) expect(unwritten).toBeGreaterThan(0); // the grown part is fallocated
      if (unwritten !== undefined && zero) expect(unwritten).toBe(0);
      const store = Store.open(path);
      expect(await store.tail(0)).toBe(0);
      expect(await store.write(0, [{ address: 0, payload: Buffer.from('after zeroing') }])).toEqual([{ address: 0, status: 'OK' }]);
      expect((await store.readOne(0, 0)) as { payload: Buffer }).toMatchObject({ kind: 'data', payload: Buffer.from('after zeroing') });
      await store.close();
      devices.release(path);
    }
  });

  it('zero: refuses a formatted file without force and leaves it whole; refuses a zero that is not a boolean', async () => {
    const path = devices.missing();
    Store.format(path, { sizeBytes: 8 * MiB });
    const store = Store.open(path);
    await store.write(0, [{ address: 0, payload: Buffer.from('kept') }]);
    await store.close();
    throwsWith(() => Store.format(path, { zero: true }), 'ERR_ALREADY_FORMATTED');
    const again = Store.open(path);
    expect(await again.readOne(0, 0)).toMatchObject({ kind: 'data', payload: Buffer.from('kept') });
    await again.close();
    throwsWith(() => Store.format(path, { zero: 'yes' } as never), 'ERR_BAD_REQUEST');
    devices.release(path);
  });

  it('refuses a file size below the minimum with ERR_DEVICE_TOO_SMALL', () => {
    throwsWith(() => Store.format(devices.missing(), { sizeBytes: 64 * 1024 }), 'ERR_DEVICE_TOO_SMALL');
  });
});
