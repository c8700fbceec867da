// `npm run bench:engine -- --scale --device PATH [--size BYTES] [--entry-sizes 128,4096]
//   [--repeats N] [--check all|sample] [--order ascending|descending] [--json]`
//
// What a unit's index costs at scale (issue 12). For each entry size, `--repeats` times:
//
//   1. format; fill the device with entries of that size until ERR_FULL, 4,096 per call,
//      4 calls in flight, sync 'none' -> write entries/s and MB/s over the fill;
//   2. close; a fresh child process opens the full store -> its wall time, what the
//      recovery says of itself, the index's bytes, VmHWM (the peak RSS, the open's
//      included) and the RSS before the open;
//   3. format; a child fills again (sync 'none') and is killed with SIGKILL once it has
//      acknowledged KILL_AT of what step 1 held, with calls in flight; a fresh child
//      reopens (the same figures) and reads back what the writer had acknowledged.
//
// DESTRUCTIVE: the device is formatted with force, twice per repeat and entry size.
// Benchmarks are not tests: a missed target is reported and the exit code is 0. A
// recovery that loses an acknowledged entry is a bug, not a figure: the run fails.

import { Store } from '../bindings/index.js';
import { UsageError, formatBytes, formatCount, parseFlags, positiveFlag, sizeFlag } from './common.js';
import { format, resolveTarget, type Target } from './engine-phases.js';
import { SCALE_BATCHING, entrySizesFlag, fillUntilFull } from './scale-fill.js';
import { killWriterAfter, reopenInChild } from './scale-children.js';
import type { CheckMode } from './scale-reopen.js';
import { scaleJson, scaleText, type Repeat, type ScaleRun } from './scale-report.js';

const USAGE = `usage: npm run bench:engine -- --scale --device PATH [--size BYTES] [--entry-sizes LIST] [--repeats N] [--check all|sample] [--order ORDER] [--json]
  --device PATH        block device (e.g. a loop device) or regular file; it is FORMATTED (erased)
  --size BYTES         size of the file to create or resize (2G, 16G, ...); files only
  --entry-sizes LIST   payload bytes of the entries, one fill each (default 128,4096)
  --repeats N          fills and reopens per entry size; figures are the median and range (default 3)
  --check all|sample   after the kill -9 reopen, read back every acknowledged entry (default), or a
                       bounded sample of them (quicker on large devices: see docs/benchmarks.md)
  --order ORDER        ascending (default): each call's addresses in order, as one writer's arrive;
                       descending: highest first, which breaks every run of the index (its worst case)
  --json               end the output with one JSON line of all figures`;

/** The writer is killed once it has acknowledged this share of what the clean fill held. */
export const KILL_AT = 0.9;
export interface ScaleArgs {
  device: string;
  size: number | undefined;
  entrySizes: number[];
  repeats: number;
  check: Exclude<CheckMode, 'none'>;
  descending: boolean;
  json: boolean;
}

function parse(argv: string[]): ScaleArgs {
  const values = parseFlags(
    argv,
    {
      device: { type: 'string' },
      size: { type: 'string' },
      'entry-sizes': { type: 'string', default: '128,4096' },
      repeats: { type: 'string', default: '3' },
      check: { type: 'string', default: 'all' },
      order: { type: 'string', default: 'ascending' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
  );
  if (values.device === undefined) throw new UsageError(`--device PATH is required\n${USAGE}`);
  const entrySizes = entrySizesFlag(values['entry-sizes']);
  if (values.check !== 'all' && values.check !== 'sample') throw new UsageError(`--check is all or sample, got '${values.check}'`);
  if (values.order !== 'ascending' && values.order !== 'descending') throw new UsageError(`--order is ascending or descending, got '${values.order}'`);
  return {
    device: values.device,
    size: values.size === undefined ? undefined : sizeFlag('size', values.size, 1),
    entrySizes,
    repeats: positiveFlag('repeats', values.repeats),
    check: values.check,
    descending: values.order === 'descending',
    json: values.json,
  };
}

function log(message: string): void {
  process.stderr.write(`bench:engine --scale: ${message}\n`);
}

/** Step 1: format and fill in this process; step 2: reopen in a child. */
async function fillAndReopen(target: Target, entryBytes: number, descending: boolean): Promise<Pick<Repeat, 'fill' | 'clean'>> {
  format(target);
  const store = Store.open(target.path, { sync: 'none' });
  let fill;
  try {
    fill = await fillUntilFull(store, entryBytes, { ...SCALE_BATCHING, descending });
  } finally {
    await store.close();
  }
  log(`  filled: ${formatCount(fill.entries)} entries in ${fill.seconds.toFixed(1)} s; reopening in a fresh process`);
  const clean = reopenInChild({ path: target.path, entryBytes, check: 'none', ranges: [] });
  if (clean.tail !== fill.tail || clean.addresses !== fill.entries) {
    throw new Error(`after a clean close the store reopened with tail ${clean.tail} and ${clean.addresses} addresses, but ${fill.entries} entries up to ${fill.tail} were acknowledged`);
  }
  return { fill, clean };
}

/** Step 3: a writer killed with SIGKILL mid-fill, a reopen in a child, and the read-back. */
async function killAndReopen(target: Target, entryBytes: number, killAfter: number, args: ScaleArgs): Promise<Pick<Repeat, 'killed' | 'crash'>> {
  const { check } = args;
  format(target);
  const killed = await killWriterAfter(target.path, entryBytes, killAfter, args.descending);
  log(`  writer killed after ${formatCount(killed.acked)} acknowledged entries; reopening in a fresh process, then checking ${check === 'all' ? 'every one' : 'a sample'}`);
  const crash = reopenInChild({ path: target.path, entryBytes, check, ranges: killed.ranges });
  const end = Math.max(...killed.ranges.map(([first, count]) => first + count));
  if (crash.tail < end || crash.addresses < killed.acked) {
    throw new Error(`after kill -9 the store reopened with tail ${crash.tail} and ${crash.addresses} addresses, but the writer had acknowledged ${killed.acked} entries up to ${end}`);
  }
  const c = crash.check;
  if (c === null || c.bad > 0) throw new Error(`after kill -9, ${c?.bad} of ${c?.checked} acknowledged entries did not read back; first: ${c?.firstBad}`);
  return { killed, crash };
}

export async function scaleMain(argv: string[]): Promise<void> {
  const args = parse(argv);
  const target = resolveTarget({ ...args, log });
  const info = format(target);
  log(`${target.path}: ${target.kind}, ${formatBytes(info.deviceBytes)}; entry sizes ${args.entrySizes.join(', ')} B, ${args.repeats} repeat(s) each`);
  const runs: ScaleRun[] = [];
  for (const entryBytes of args.entrySizes) {
    const repeats: Repeat[] = [];
    for (let i = 0; i < args.repeats; i++) {
      log(`${entryBytes} B entries, repeat ${i + 1} of ${args.repeats}: filling until ERR_FULL`);
      const first = await fillAndReopen(target, entryBytes, args.descending);
      repeats.push({ ...first, ...(await killAndReopen(target, entryBytes, Math.floor(KILL_AT * first.fill.entries), args)) });
    }
    runs.push({ entryBytes, repeats });
  }
  const setup = { target, deviceBytes: info.deviceBytes, repeats: args.repeats, check: args.check, killAt: KILL_AT, order: args.descending ? ('descending' as const) : ('ascending' as const) };
  process.stdout.write(`${scaleText(setup, runs)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(scaleJson(setup, runs))}\n`);
}
