// `npm run bench:engine -- --ab OTHER_CHECKOUT --device PATH [--size BYTES]
//   [--entry-sizes 128,4096] [--repeats N] [--json]`
//
// Write throughput of this build against another build of the engine (issue 12: the
// run-compressed index and its checkpoints must not cost more than 5% of the write
// rate). OTHER_CHECKOUT is a built checkout of another commit (`git worktree add DIR
// REV`, then `npm run build` there): its dist/bindings/index.js is loaded. Each fill is
// bench/scale-fill.ts's (format with force, 4,096 entries a call, 4 calls in flight,
// sync 'none', until ERR_FULL) in a fresh process, alternating the builds in the order
// other, this, this, other, ... so that a drift of the machine falls on both alike.
//
// DESTRUCTIVE: the device is formatted with force before every fill.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Spread } from '../src/bench/schema.js';
import { spread } from '../src/bench/scaling.js';
import { UsageError, formatBytes, formatCount, parseFlags, positiveFlag, renderTable, sizeFlag } from './common.js';
import { resolveTarget } from './engine-phases.js';
import { entrySizesFlag, type Fill } from './scale-fill.js';

const USAGE = `usage: npm run bench:engine -- --ab OTHER_CHECKOUT --device PATH [--size BYTES] [--entry-sizes LIST] [--repeats N] [--json]
  --ab DIR             a built checkout of the build to compare with (DIR/dist/bindings/index.js)
  --device PATH        block device or regular file; it is FORMATTED (erased) before every fill
  --size BYTES         size of the file to create or resize (2G, ...); files only
  --entry-sizes LIST   payload bytes of the entries, one fill each (default 128,4096)
  --repeats N          fills per build and entry size; figures are the median and range (default 3)
  --json               end the output with one JSON line of all figures`;

const FILL = fileURLToPath(new URL('./ab-fill.js', import.meta.url));
const THIS_BINDINGS = fileURLToPath(new URL('../bindings/index.js', import.meta.url));
/** The issue's bound: this build writes at least this share of the other's rate. */
const TARGET_RATIO = 0.95;

interface Build {
  name: 'other' | 'this';
  bindings: string;
}

function log(message: string): void {
  process.stderr.write(`bench:engine --ab: ${message}\n`);
}

function fillInChild(build: Build, path: string, size: number | undefined, entryBytes: number): Fill {
  const r = spawnSync(process.execPath, [FILL, build.bindings, path, size === undefined ? '-' : String(size), String(entryBytes)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the ${build.name} build's fill failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Fill;
}

interface SizeResult {
  entry_bytes: number;
  other: { entries_per_s: Spread; entries: Spread };
  this: { entries_per_s: Spread; entries: Spread };
  /** This build's median rate over the other's. */
  ratio: number;
  /** The ratio of each repeat's pair (run back to back). */
  pair_ratios: Spread;
}

export async function abMain(argv: string[]): Promise<void> {
  const values = parseFlags(
    argv,
    {
      ab: { type: 'string' },
      device: { type: 'string' },
      size: { type: 'string' },
      'entry-sizes': { type: 'string', default: '128,4096' },
      repeats: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
  );
  if (values.ab === undefined || values.device === undefined) throw new UsageError(`--ab DIR and --device PATH are required\n${USAGE}`);
  const otherBindings = join(resolve(values.ab), 'dist', 'bindings', 'index.js');
  if (!existsSync(otherBindings)) throw new UsageError(`${otherBindings} does not exist: build that checkout first (npm run build there)`);
  // Each fill (in the build's own process) formats with these options: a file's size, nothing for a block device.
  const target = resolveTarget({ device: values.device, size: values.size === undefined ? undefined : sizeFlag('size', values.size, 1), log });
  const size = target.format.sizeBytes;
  const entrySizes = entrySizesFlag(values['entry-sizes']);
  const repeats = positiveFlag('repeats', values.repeats);
  const other: Build = { name: 'other', bindings: otherBindings };
  const self: Build = { name: 'this', bindings: THIS_BINDINGS };

  const results: SizeResult[] = [];
  for (const entryBytes of entrySizes) {
    const fills: Record<Build['name'], Fill[]> = { other: [], this: [] };
    for (let i = 0; i < repeats; i++) {
      for (const build of i % 2 === 0 ? [other, self] : [self, other]) {
        const fill = fillInChild(build, values.device, size, entryBytes);
        log(`${entryBytes} B, repeat ${i + 1}/${repeats}, ${build.name} build: ${formatCount(fill.entries)} entries in ${fill.seconds.toFixed(2)} s = ${formatCount(fill.entries / fill.seconds)}/s`);
        fills[build.name].push(fill);
      }
    }
    const rate = (f: Fill): number => f.entries / f.seconds;
    const figures = (fs: Fill[]) => ({ entries_per_s: spread(fs.map(rate)), entries: spread(fs.map((f) => f.entries)) });
    const a = figures(fills.other);
    const b = figures(fills.this);
    results.push({
      entry_bytes: entryBytes,
      other: a,
      this: b,
      ratio: b.entries_per_s.median / a.entries_per_s.median,
      pair_ratios: spread(fills.this.map((f, i) => rate(f) / rate(fills.other[i]!))),
    });
  }

  const r = (s: Spread): string => `${formatCount(s.median)} (${formatCount(s.min)}-${formatCount(s.max)})`;
  const rows = [['entry', 'other build, entries/s', 'this build, entries/s', 'this / other', 'pairs', `>= ${TARGET_RATIO}`]];
  for (const x of results) {
    rows.push([
      `${x.entry_bytes} B`,
      r(x.other.entries_per_s),
      r(x.this.entries_per_s),
      x.ratio.toFixed(3),
      `${x.pair_ratios.min.toFixed(3)}-${x.pair_ratios.max.toFixed(3)}`,
      x.ratio >= TARGET_RATIO ? 'met' : 'MISSED',
    ]);
  }
  const device = size === undefined ? values.device : `${values.device} (${formatBytes(size)})`;
  process.stdout.write(`write throughput, ${device}, ${repeats} fill(s) per build and size, median (range):\nother = ${resolve(values.ab)}\n${renderTable(rows)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify({ device: values.device, size_bytes: size ?? null, other: resolve(values.ab), repeats, target_ratio: TARGET_RATIO, results })}\n`);
}
