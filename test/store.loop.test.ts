// The Store contract on a real block device: a loop device with direct I/O
// over a sparse file. Needs root for losetup; skipped, with the reason, otherwise.

import { describe } from 'vitest';

import { loopDevices } from './helpers/devices.js';
import { storeSuite } from './helpers/store-suite.js';

const devices = loopDevices();

describe.skipIf(devices.skipReason !== undefined)(`Store on a loop block device${devices.skipReason ? ` (skipped: ${devices.skipReason})` : ''}`, () => {
  storeSuite(devices);
});
