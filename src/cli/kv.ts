// `corfu kv put K V [K V ...]`, `corfu kv get K [K ...]`, `corfu kv del K`, `corfu kv dump`:
// the key-value store on a running log (src/objects/kv.ts). Values are UTF-8 strings.
// Several pairs in one `put` are one multiPut (one log entry: all or none); several
// keys in one `get` are read from one snapshot. `--store NAME` picks the store (default
// `kv`); `--layout URL` the log, as the debug verbs.

import { CorfuRuntime } from '../objects/index.js';
import type { LayoutFlags } from './debug.js';
import { latestProjection } from './debug.js';
import { UsageError } from './usage-error.js';
import { cliConnectOptions } from './security.js';

export interface KvFlags extends LayoutFlags {
  /** The store's name (an object name). */
  readonly store: string;
  readonly json?: boolean;
}

async function withKv<T>(flags: KvFlags, fn: (rt: CorfuRuntime) => Promise<T>): Promise<T> {
  await latestProjection(flags.layout); // the friendly error for a missing layout
  const rt = await CorfuRuntime.connect({ layout: flags.layout, timeoutMs: 3000, ...cliConnectOptions() });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

export async function kvPutVerb(pairs: string[], flags: KvFlags): Promise<void> {
  if (pairs.length === 0 || pairs.length % 2 !== 0) throw new UsageError(`kv put takes KEY VALUE pairs, got ${pairs.length} argument${pairs.length === 1 ? '' : 's'}`);
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < pairs.length; i += 2) entries.push([pairs[i]!, pairs[i + 1]!]);
  if (entries.some(([k]) => k === '')) throw new UsageError('kv put: a key must not be empty');
  if (new Set(entries.map(([k]) => k)).size !== entries.length) throw new UsageError('kv put: a key appears twice');
  const address = await withKv(flags, (rt) => (entries.length === 1 ? rt.kv<string>(flags.store).put(entries[0]![0], entries[0]![1]) : rt.kv<string>(flags.store).multiPut(entries)));
  process.stdout.write(`${address}\n`);
}

export async function kvGetVerb(keys: string[], flags: KvFlags): Promise<void> {
  if (keys.some((k) => k === '')) throw new UsageError('kv get: a key must not be empty');
  const values = await withKv(flags, (rt) => rt.kv<string>(flags.store).multiGet(keys));
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, values[i] ?? null])))}\n`);
    return;
  }
  // One line per key: the value, or nothing for a missing key; exit 1 if any is missing.
  for (const [i, k] of keys.entries()) process.stdout.write(keys.length === 1 ? `${values[i] ?? ''}\n` : `${k}\t${values[i] ?? ''}\n`);
  if (values.some((v) => v === undefined)) {
    process.stderr.write(`corfu: not found: ${keys.filter((_, i) => values[i] === undefined).join(', ')}\n`);
    process.exitCode = 1;
  }
}

export async function kvDelVerb(key: string, flags: KvFlags): Promise<void> {
  if (key === '') throw new UsageError('kv del: a key must not be empty');
  const address = await withKv(flags, (rt) => rt.kv<string>(flags.store).delete(key));
  process.stdout.write(`${address}\n`);
}

export async function kvDumpVerb(flags: KvFlags): Promise<void> {
  const entries = await withKv(flags, (rt) => rt.kv<string>(flags.store).entries());
  if (flags.json === true) process.stdout.write(`${JSON.stringify(Object.fromEntries(entries))}\n`);
  else for (const [k, v] of entries) process.stdout.write(`${k}\t${v}\n`);
}
