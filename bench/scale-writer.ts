// A child of `bench:engine --scale` (bench/engine-scale.ts): the writer that is killed
// with SIGKILL mid-write.
//
//   node dist/bench/scale-writer.js PATH ENTRY_BYTES [ascending|descending]
//
// Opens the formatted store at PATH with sync 'none' and fills it as the parent's own
// fill does (bench/scale-fill.ts), printing "FIRST COUNT" on stdout for each call's
// acknowledged entries as soon as it settles (a write to a pipe is synchronous on
// Linux, so a printed line is in the pipe before the next write is issued). The parent
// kills it partway; if it is not killed it prints "full" at ERR_FULL and exits.

import { Store } from '../bindings/index.js';
import { runMain } from './common.js';
import { SCALE_BATCHING, fillUntilFull } from './scale-fill.js';

async function main(): Promise<void> {
  const [path, entryBytes, order] = process.argv.slice(2);
  if (path === undefined || entryBytes === undefined) throw new Error('usage: scale-writer PATH ENTRY_BYTES');
  const store = Store.open(path, { sync: 'none' });
  try {
    await fillUntilFull(store, Number(entryBytes), { ...SCALE_BATCHING, descending: order === 'descending' }, (first, count) => process.stdout.write(`${first} ${count}\n`));
    process.stdout.write('full\n');
  } finally {
    await store.close();
  }
}

runMain(main, 'scale-writer');
