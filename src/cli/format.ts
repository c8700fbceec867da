// `corfu format PATH`: stamp a device (or file) with fresh superblocks.
//
// A device that holds something else (a filesystem, a partition table, swap, LUKS,
// LVM, RAID, ZFS: src/cli/signatures.ts) is refused unless --force, the way the engine
// refuses one that holds a Corfu unit: ERR_ALREADY_FORMATTED, saying what it found.
// A device with a valid Corfu superblock is left to the engine's own check (its data
// pages are anyone's bytes, and may hold another filesystem's magic by chance).

import { existsSync } from 'node:fs';

import { CorfuError, Store, type FormatOptions } from '../../bindings/index.js';
import { foreignSignatures, type Signature } from './signatures.js';
import { superblockTable } from './superblock.js';

export interface FormatFlags {
  size?: number;
  maxEntryBytes?: number;
  clusterId?: string;
  unitId?: number;
  force?: boolean;
  zero?: boolean;
}

/** "an ext4 filesystem", "a GPT partition table": acronyms by how their first letter sounds. */
function withArticle(what: string): string {
  const word = what.split(' ')[0]!;
  const acronym = /^[A-Z0-9]+$/.test(word.replace(/[^A-Za-z0-9]/g, '')) && word.length > 1;
  const vowel = acronym ? 'AEFHILMNORSX'.includes(word[0]!) : 'aeiou'.includes(word[0]!.toLowerCase());
  return `${vowel ? 'an' : 'a'} ${what}`;
}

function describe(found: readonly Signature[]): string {
  return found.map((s) => `${withArticle(s.what)} (${s.evidence})`).join(' and ');
}

/** What a format of `path` would destroy, other than a Corfu unit. */
function foreignContents(path: string): Signature[] {
  if (!existsSync(path)) return [];
  try {
    Store.inspect(path);
    return [];
  } catch {
    // Not a valid Corfu device: look for anything else on it.
  }
  try {
    return foreignSignatures(path);
  } catch {
    // Unreadable (a directory, no permission): the engine's format says why.
    return [];
  }
}

export function formatVerb(path: string, flags: FormatFlags): void {
  const found = foreignContents(path);
  if (found.length > 0 && flags.force !== true) throw new CorfuError('ERR_ALREADY_FORMATTED', `${path} holds ${describe(found)}; pass --force to erase it`);
  const options: FormatOptions = {};
  if (flags.size !== undefined) options.sizeBytes = flags.size;
  if (flags.maxEntryBytes !== undefined) options.maxEntryBytes = flags.maxEntryBytes;
  if (flags.clusterId !== undefined) options.clusterId = flags.clusterId;
  if (flags.unitId !== undefined) options.unitId = flags.unitId;
  if (flags.force === true) options.force = true;
  if (flags.zero === true) options.zero = true;
  const info = Store.format(path, options);
  const erased = found.length === 0 ? '' : ` (erased ${describe(found)})`;
  process.stdout.write(`formatted ${path}${erased}\n${superblockTable(path, info)}\n`);
}
