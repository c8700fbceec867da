// The unit's engine: a Store (the Rust engine through the addon) and what its
// superblock says about the device, behind the UnitEngine interface the
// request handler drives.

import type { DeviceIdentity, Store, StoreStats } from '../../bindings/index.js';
import { SYNC } from '../wire/messages.js';
import type { UnitEngine, UnitInfo } from './handler.js';

/** A Store as a UnitEngine; `superblock` is the device's, read when it was opened. */
export function storeEngine(store: Store, superblock: DeviceIdentity): UnitEngine {
  return {
    writePacked: (epoch, addresses, lengths, data) => store.writePacked(epoch, addresses, lengths, data),
    fill: (epoch, addresses) => store.fill(epoch, addresses),
    read: (epoch, addresses) => store.read(epoch, addresses),
    trim: (epoch, addresses) => store.trim(epoch, addresses),
    prefixTrim: (epoch, address) => store.prefixTrim(epoch, address),
    seal: (newEpoch) => store.seal(newEpoch),
    tail: (epoch) => store.tail(epoch),
    info: async () => unitInfo(await store.stats(), superblock),
    store,
  };
}

export function unitInfo(stats: StoreStats, superblock: DeviceIdentity): UnitInfo {
  return {
    unitEpoch: stats.epoch,
    tail: stats.tail,
    trimMark: stats.trimMark,
    maxEntryBytes: superblock.maxEntryBytes,
    pageBytes: superblock.pageBytes,
    dataPages: stats.dataPages,
    usedPages: stats.usedPages,
    unitId: superblock.unitId,
    sync: stats.sync === 'always' ? SYNC.ALWAYS : SYNC.NONE,
    formatId: superblock.formatId,
    clusterId: superblock.clusterId,
  };
}
