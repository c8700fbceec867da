// `corfu demo` (what `npm start` runs until the network log exists): formats a
// file-backed unit under .corfu/, appends entries at its tail in batches,
// reads them all back and checks every byte. Numbers are from the engine only —
// no network, no replication — and the output says so.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { CorfuError, Store, codeName, isCorfuError, type SuperblockInfo, type SyncMode } from '../../bindings/index.js';
import { fillPattern, patternFor } from './pattern.js';
import { formatBytes, formatCount } from './units.js';
import { UsageError } from './usage-error.js';

export interface DemoFlags {
  dir: string;
  entries: number;
  entryBytes: number;
  sync: SyncMode;
  size: number;
}

interface Batch {
  first: number;
  addresses: Float64Array;
  lengths: Uint32Array;
  data: Buffer;
}

// Room for a record header per entry, so the fit check errs on the safe side.
const RECORD_OVERHEAD = 32;
// Batches in flight at once: lets sync=always group-commit several of them.
const IN_FLIGHT = 4;
const MAX_DEMO_BYTES = 1024 ** 3;

function ensureFormatted(path: string, flags: DemoFlags): { info: SuperblockInfo; reused: boolean } {
  try {
    return { info: Store.inspect(path), reused: true };
  } catch (err) {
    if (!isCorfuError(err, 'ERR_NOT_FORMATTED') && !isCorfuError(err, 'ERR_NO_DEVICE')) throw err;
  }
  const maxEntryBytes = Math.max(64 * 1024, flags.entryBytes);
  return { info: Store.format(path, { sizeBytes: flags.size, maxEntryBytes }), reused: false };
}

function bytesNeeded(flags: DemoFlags): number {
  return flags.entries * (flags.entryBytes + RECORD_OVERHEAD);
}

function checkMemory(flags: DemoFlags): void {
  const need = bytesNeeded(flags);
  if (need > MAX_DEMO_BYTES) throw new UsageError(`the demo keeps its payloads in memory; ${formatBytes(need)} is over ${formatBytes(MAX_DEMO_BYTES)}`);
}

function checkFits(path: string, info: SuperblockInfo, flags: DemoFlags): void {
  if (flags.entryBytes > info.maxEntryBytes) {
    throw new UsageError(`--entry-bytes ${flags.entryBytes} is over ${path}'s max entry of ${info.maxEntryBytes}; delete the file to reformat`);
  }
  const need = bytesNeeded(flags);
  const room = info.dataPages * info.pageBytes;
  if (need > room * 0.9) {
    throw new UsageError(`${formatCount(flags.entries)} entries of ${flags.entryBytes} B do not fit in ${formatBytes(room)}; lower --entries or delete ${path} and pass a larger --size`);
  }
}

function makeBatches(start: number, entries: number, entryBytes: number): Batch[] {
  const perBatch = Math.max(1, Math.min(1024, Math.floor((256 * 1024) / entryBytes)));
  const batches: Batch[] = [];
  for (let first = start; first < start + entries; first += perBatch) {
    const count = Math.min(perBatch, start + entries - first);
    const addresses = new Float64Array(count);
    const lengths = new Uint32Array(count).fill(entryBytes);
    const data = Buffer.allocUnsafe(count * entryBytes);
    for (let i = 0; i < count; i++) {
      addresses[i] = first + i;
      fillPattern(first + i, data.subarray(i * entryBytes, (i + 1) * entryBytes));
    }
    batches.push({ first, addresses, lengths, data });
  }
  return batches;
}

/** Runs `fn` over 0..count-1 with at most `concurrency` calls pending. */
async function pool(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

/** Reads back the last entry of an earlier run: reusing the file should show persistence. */
async function checkPrevious(store: Store, epoch: number, info: SuperblockInfo, start: number): Promise<string> {
  if (start <= info.trimMark) return 'none (empty unit)';
  const last = start - 1;
  const entry = await store.readOne(epoch, last);
  if (entry.kind !== 'data') return `address ${last} holds junk`;
  if (!entry.payload.equals(patternFor(last, entry.payload.length))) {
    throw new CorfuError('ERR_CORRUPT', `address ${last} from an earlier run reads back different bytes`);
  }
  return `addresses ${formatCount(info.trimMark)}..${formatCount(last)} kept; last one re-read and verified, then trimmed to free space`;
}

export async function demoVerb(flags: DemoFlags): Promise<void> {
  checkMemory(flags);
  mkdirSync(flags.dir, { recursive: true });
  const path = join(flags.dir, 'demo.img');
  const { info, reused } = ensureFormatted(path, flags);
  checkFits(path, info, flags);

  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out('corfu demo: the storage engine alone (one unit, no network, no replication; `corfu up` runs the distributed log)');
  out(`device   ${path} (${info.kind}, ${formatBytes(info.deviceBytes)}, ${reused ? 'reused' : 'formatted now'}, epoch ${info.epoch})`);
  out(flags.sync === 'always' ? 'sync     always: an append is acknowledged only once it is durable on the device' : 'sync     none: BENCHMARK MODE, acknowledged appends can be lost on a power cut');

  const store = Store.open(path, { sync: flags.sync });
  try {
    const epoch = info.epoch;
    const start = await store.tail(epoch);
    out(`earlier  ${await checkPrevious(store, epoch, info, start)}`);
    if (start > info.trimMark) await store.prefixTrim(epoch, start);

    const batches = makeBatches(start, flags.entries, flags.entryBytes);
    const t0 = performance.now();
    await pool(batches.length, IN_FLIGHT, async (b) => {
      const batch = batches[b]!;
      const { status } = await store.writePacked(epoch, batch.addresses, batch.lengths, batch.data);
      const bad = status.findIndex((s) => s !== 0);
      if (bad >= 0) {
        const code = codeName(status[bad]!);
        if (code !== 'OK') throw new CorfuError(code, `append at address ${batch.first + bad} was refused`);
      }
    });
    const appendSecs = seconds(t0);
    out(
      `append   ${formatCount(flags.entries)} x ${formatBytes(flags.entryBytes)} at ${formatCount(start)}.. in ${batches.length} batches: ` +
        `${appendSecs.toFixed(3)} s, ${formatCount(flags.entries / appendSecs)} appends/s`,
    );

    const t1 = performance.now();
    let mismatches = 0;
    await pool(batches.length, IN_FLIGHT, async (b) => {
      const batch = batches[b]!;
      const results = await store.read(epoch, batch.addresses);
      results.forEach((r, i) => {
        const expected = batch.data.subarray(i * flags.entryBytes, (i + 1) * flags.entryBytes);
        if (r.status !== 'OK' || r.payload === undefined || !r.payload.equals(expected)) mismatches++;
      });
    });
    const readSecs = seconds(t1);
    if (mismatches > 0) throw new CorfuError('ERR_CORRUPT', `${mismatches} of ${flags.entries} entries read back wrong`);
    out(`read     ${formatCount(flags.entries)} entries: ${readSecs.toFixed(3)} s, ${formatCount(flags.entries / readSecs)} reads/s, every byte verified`);
    out(`tail     ${formatCount(await store.tail(epoch))} (run again: the entries persist and are checked first)`);
  } finally {
    await store.close();
  }
}
