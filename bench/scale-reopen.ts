// A child of `bench:engine --scale` (bench/engine-scale.ts): a fresh process that only
// opens a store, so that nothing of the process that filled it counts in its memory.
//
//   node dist/bench/scale-reopen.js SPEC_JSON
//
// Opens SPEC.path (sync 'always', as a unit runs), then prints one line of JSON (a
// ReopenReport): the wall time of Store.open, what its recovery says of itself, the
// index's bytes, and the process's RSS before the open and at its peak (VmHWM) once the
// store is open. Then, if SPEC.check asks, reads back what the fill wrote in SPEC.ranges
// and reports how many entries did not match. Exits non-zero only if it cannot run.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Store, loadNative } from '../bindings/index.js';
import { runMain } from './common.js';
import { SAMPLE, SCALE_BATCHING, checkEntries, rangeAddresses, sampleAddresses, type Check } from './scale-fill.js';

/** Which entries to read back after the open: every one of the ranges, a bounded sample of them, or none. */
export type CheckMode = 'all' | 'sample' | 'none';

export interface ReopenSpec {
  path: string;
  entryBytes: number;
  check: CheckMode;
  /** Acknowledged entries, [first, count) each. */
  ranges: [number, number][];
}

export interface ReopenReport {
  openMs: number;
  recoveryMs: number;
  recoveryPages: number;
  recoverySummaries: number;
  indexBytes: number;
  addresses: number;
  tail: number;
  rssBeforeOpenBytes: number;
  /** VmHWM right after the open: the process's peak so far, the open's included. */
  hwmBytes: number;
  rssAfterOpenBytes: number;
  check: (Check & { seconds: number }) | null;
}

function statusBytes(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error(`/proc/self/status has no ${field}`);
  return Number(m[1]) * 1024;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ReopenSpec;
  loadNative(); // the addon's own pages belong to the baseline, not to the open
  const rssBeforeOpenBytes = statusBytes('VmRSS');
  const t0 = performance.now();
  const store = Store.open(spec.path);
  const openMs = performance.now() - t0;
  try {
    const s = await store.stats();
    const report: ReopenReport = {
      openMs,
      recoveryMs: s.recoveryMs,
      recoveryPages: s.recoveryPages,
      recoverySummaries: s.recoverySummaries,
      indexBytes: s.indexBytes,
      addresses: s.addresses,
      tail: s.tail,
      rssBeforeOpenBytes,
      hwmBytes: statusBytes('VmHWM'),
      rssAfterOpenBytes: statusBytes('VmRSS'),
      check: null,
    };
    if (spec.check !== 'none') {
      const t1 = performance.now();
      const addresses = spec.check === 'all' ? rangeAddresses(spec.ranges) : sampleAddresses(spec.ranges, SAMPLE);
      const check = await checkEntries(store, spec.entryBytes, addresses, SCALE_BATCHING);
      report.check = { ...check, seconds: (performance.now() - t1) / 1000 };
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await store.close();
  }
}

runMain(main, 'scale-reopen');
