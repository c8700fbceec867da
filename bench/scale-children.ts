// The parent's side of `bench:engine --scale`'s child processes: a fresh process that
// reopens a store (bench/scale-reopen.ts), and a writer killed with SIGKILL partway
// through a fill (bench/scale-writer.ts).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { mergeRanges } from './scale-fill.js';
import type { ReopenReport, ReopenSpec } from './scale-reopen.js';

const REOPEN = fileURLToPath(new URL('./scale-reopen.js', import.meta.url));
const WRITER = fileURLToPath(new URL('./scale-writer.js', import.meta.url));

/** Opens the store in a fresh process and returns what it reports. */
export function reopenInChild(spec: ReopenSpec): ReopenReport {
  const r = spawnSync(process.execPath, [REOPEN, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`the reopen child failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as ReopenReport;
}

export interface Killed {
  /** What the writer had acknowledged before it died, merged: [first, count) each. */
  ranges: [number, number][];
  acked: number;
}

/**
 * Fills the formatted store at `path` from a child process with sync 'none', and kills
 * it with SIGKILL as soon as it has acknowledged `killAfter` entries, while its next
 * calls are still in flight.
 */
export async function killWriterAfter(path: string, entryBytes: number, killAfter: number, descending = false): Promise<Killed> {
  const proc = spawn(process.execPath, [WRITER, path, String(entryBytes), descending ? 'descending' : 'ascending'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4096)));
  const ranges: [number, number][] = [];
  let acked = 0;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const [first, count] = line.split(' ').map(Number);
    if (first === undefined || count === undefined || !Number.isSafeInteger(first) || !Number.isSafeInteger(count)) return; // "full"
    ranges.push([first, count]);
    acked += count;
    if (acked >= killAfter && !proc.killed) proc.kill('SIGKILL');
  });
  const [code, signal] = (await once(proc, 'close')) as [number | null, NodeJS.Signals | null];
  if (signal !== 'SIGKILL') {
    throw new Error(`the writer ended (exit ${code}, signal ${signal}) after ${acked} of ${killAfter} entries, before it was killed: ${stderr.trim()}`);
  }
  return { ranges: mergeRanges(ranges), acked };
}
