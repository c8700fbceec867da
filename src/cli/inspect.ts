// `corfu inspect PATH`: read the superblock without opening the store.

import { Store } from '../../bindings/index.js';
import { superblockTable } from './superblock.js';

export function inspectVerb(path: string, flags: { json?: boolean }): void {
  const info = Store.inspect(path);
  const text = flags.json === true ? JSON.stringify({ path, ...info }, null, 2) : superblockTable(path, info);
  process.stdout.write(`${text}\n`);
}
