// `corfu format PATH`: stamp a device (or file) with fresh superblocks.

import { Store, type FormatOptions } from '../../bindings/index.js';
import { superblockTable } from './superblock.js';

export interface FormatFlags {
  size?: number;
  maxEntryBytes?: number;
  clusterId?: string;
  unitId?: number;
  force?: boolean;
}

export function formatVerb(path: string, flags: FormatFlags): void {
  const options: FormatOptions = {};
  if (flags.size !== undefined) options.sizeBytes = flags.size;
  if (flags.maxEntryBytes !== undefined) options.maxEntryBytes = flags.maxEntryBytes;
  if (flags.clusterId !== undefined) options.clusterId = flags.clusterId;
  if (flags.unitId !== undefined) options.unitId = flags.unitId;
  if (flags.force === true) options.force = true;
  const info = Store.format(path, options);
  process.stdout.write(`formatted ${path}\n${superblockTable(path, info)}\n`);
}
