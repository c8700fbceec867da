// The Store contract on a regular file (O_DIRECT on the test machine's filesystem).

import { describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { MiB, fileDevices } from './helpers/devices.js';
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

  it('refuses a file size below the minimum with ERR_DEVICE_TOO_SMALL', () => {
    throwsWith(() => Store.format(devices.missing(), { sizeBytes: 64 * 1024 }), 'ERR_DEVICE_TOO_SMALL');
  });
});
