// The Store contract on a real block device: a loop device with direct I/O
// over a sparse file. Needs root for losetup; skipped, with the reason, otherwise.

import { describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';

import { MiB, loopDevices } from './helpers/devices.js';
import { throwsWith } from './helpers/expect-error.js';
import { storeSuite } from './helpers/store-suite.js';

const devices = loopDevices();

describe.skipIf(devices.skipReason !== undefined)(`Store on a loop block device${devices.skipReason ? ` (skipped: ${devices.skipReason})` : ''}`, () => {
  storeSuite(devices);

  it('refuses to zero a block device: it has no unwritten extents, and writing all of an SSD wears it for nothing', () => {
    const path = devices.create(8 * MiB);
    expect(throwsWith(() => Store.format(path, { force: true, zero: true }), 'ERR_BAD_REQUEST').message).toMatch(/block device/);
    devices.release(path);
  });
});
