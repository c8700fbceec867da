// One fill of `bench:engine --ab`, in a fresh process: loads the bindings module it is
// given (this checkout's or another's build), formats the device with force, fills it
// with entries of one size until ERR_FULL (bench/scale-fill.ts's fill, sync 'none') and
// prints {"entries", "seconds"} as one JSON line.
//
// usage: node dist/bench/ab-fill.js BINDINGS_JS PATH SIZE_BYTES|- ENTRY_BYTES

import { pathToFileURL } from 'node:url';

import type { Store } from '../bindings/index.js';
import { runMain } from './common.js';
import { SCALE_BATCHING, fillUntilFull } from './scale-fill.js';

/** What both builds' bindings offer that the fill uses. */
interface Bindings {
  Store: { format(path: string, options: { force: boolean; sizeBytes?: number }): unknown; open(path: string, options: { sync: 'none' }): Store };
}

async function main(): Promise<void> {
  const [bindings, path, size, entry] = process.argv.slice(2);
  if (bindings === undefined || path === undefined || size === undefined || entry === undefined) throw new Error('usage: ab-fill.js BINDINGS_JS PATH SIZE_BYTES|- ENTRY_BYTES');
  const { Store } = (await import(pathToFileURL(bindings).href)) as Bindings;
  Store.format(path, size === '-' ? { force: true } : { force: true, sizeBytes: Number(size) });
  const store = Store.open(path, { sync: 'none' });
  try {
    const fill = await fillUntilFull(store, Number(entry), SCALE_BATCHING);
    process.stdout.write(`${JSON.stringify(fill)}\n`);
  } finally {
    await store.close();
  }
}

runMain(main, 'ab-fill');
