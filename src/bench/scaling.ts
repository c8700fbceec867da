// `corfu bench scaling`: the scaling study. Each cell is a cluster shape or an entry
// size; each run of a cell starts a `--local` cluster of its shape, runs the `append`
// or `read --pattern random` workload on it (the very code of those verbs) and removes
// it. Three studies:
//
//   stripes  appends/s against stripes x replicas (units = stripes x replicas), with
//            the same clients, depth and entry size in every cell;
//   sizes    appends/s and payload MB/s against the entry size, on one shape;
//   reads    random reads/s over entries appended first, against stripes.
//
// The whole matrix runs once per repeat, cells in order, so that drift over time (a
// device warming up, a neighbour waking) spreads over every cell instead of landing on
// one. A cell's figure is the median of its runs, with their range; the busiest
// process of its median run says what limited it.

import { writeFileSync } from 'node:fs';

import { CorfuError, isCorfuError } from '../../bindings/errors.js';
import { formatBytes } from '../cli/units.js';
import { machineInfo } from './machine.js';
import { writeScalingReport } from './report/scaling-html.js';
import { checkedAgainst, corfuVersion, type OutputFlags } from './result.js';
import { measureCorfuWorkload, type WorkloadFlags, type WorkloadSpec } from './run.js';
import { busiestOf, busiestText, scalingText } from './scaling-text.js';
import {
  SCALING_SCHEMA_VERSION,
  SCALING_STUDIES,
  scalingResultSchema,
  type ScalingCell,
  type ScalingResult,
  type ScalingRun,
  type ScalingStudy,
  type ScalingStudyFigures,
  type Spread,
} from './schema.js';
import { n0, ms, plural } from './text.js';
import { appendSpec, readSpec } from './verbs.js';

/** A cluster shape. */
export interface Shape {
  readonly stripes: number;
  readonly replicas: number;
}

export interface ScalingFlags extends OutputFlags {
  readonly studies: ReadonlySet<ScalingStudy>;
  readonly stripes: readonly number[];
  readonly replicas: readonly number[];
  readonly sizes: readonly number[];
  /** The shape the sizes study runs on. */
  readonly sizesCluster: Shape;
  readonly readStripes: readonly number[];
  readonly readReplicas: number;
  readonly repeats: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly clients: number;
  readonly depth: number;
  /** The entry size of the stripes and reads studies. */
  readonly entrySize: number;
  /** Reads study: entries appended (untimed) before the reads. */
  readonly prefill: number;
  /** Appends: load-generator processes (1: this process). */
  readonly procs: number;
  readonly sync: 'always' | 'none';
  readonly unitSize: number;
}

/** One cell of a study: what it is called, its shape, and the workload a run of it is. */
interface Cell {
  readonly study: ScalingStudy;
  readonly cell: string;
  readonly shape: Shape;
  readonly entrySize: number;
  readonly flags: WorkloadFlags;
  readonly spec: WorkloadSpec;
}

const shapeName = (s: Shape): string => `${s.stripes}x${s.replicas}`;
/** "64 B", "4 KiB"; a size that is not a whole number of KiB (or MiB) in bytes, so that no two cells share a name. */
const sizeName = (bytes: number): string => (bytes < 1024 || bytes % 1024 === 0 ? formatBytes(bytes) : `${bytes} B`);

/**
 * Every cell of the chosen studies, in the order they run. Each cell's flags are
 * checked here (the verbs' own checks), so a bad combination stops the study before
 * its first cluster starts.
 */
export function planCells(f: ScalingFlags): Cell[] {
  const cells: Cell[] = [];
  const add = (study: ScalingStudy, cell: string, shape: Shape, entrySize: number): void => {
    const flags: WorkloadFlags = {
      local: true,
      units: shape.stripes * shape.replicas,
      replicas: shape.replicas,
      sync: f.sync,
      unitSize: f.unitSize,
      clients: f.clients,
      depth: f.depth,
      entrySize,
      seconds: f.seconds,
      warmup: f.warmup,
      procs: study === 'reads' ? 1 : f.procs,
      progress: f.progress,
    };
    const spec = study === 'reads' ? readSpec({ ...flags, pattern: 'random', prefill: f.prefill, followers: 1 }) : appendSpec(flags);
    cells.push({ study, cell, shape, entrySize, flags, spec });
  };
  for (const study of SCALING_STUDIES.filter((s) => f.studies.has(s))) {
    if (study === 'stripes') for (const stripes of f.stripes) for (const replicas of f.replicas) add(study, shapeName({ stripes, replicas }), { stripes, replicas }, f.entrySize);
    if (study === 'sizes') for (const size of f.sizes) add(study, sizeName(size), f.sizesCluster, size);
    if (study === 'reads') for (const stripes of f.readStripes) add(study, shapeName({ stripes, replicas: f.readReplicas }), { stripes, replicas: f.readReplicas }, f.entrySize);
  }
  return cells;
}

/** The median (of an even count, the mean of the middle two) and the extremes. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v.at(-1)! };
}

/** Which of `values` is the median one: the middle of an odd count, the lower of the middle two of an even one. */
export function medianIndex(values: readonly number[]): number {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || a.i - b.i);
  return order[(order.length - 1) >> 1]!.i;
}

function cellFigures(cell: Cell, runs: readonly ScalingRun[]): ScalingCell {
  const indexes = runs.flatMap((r, k) => (r.study === cell.study && r.cell === cell.cell ? [k] : []));
  const figures = indexes.map((k) => runs[k]!.result.runs[0]!);
  const latency = (pick: 'p50_us' | 'p99_us'): Spread | null => {
    const values = figures.flatMap((r) => (r.latency_us === null ? [] : [r.latency_us[pick]]));
    return values.length === 0 ? null : spread(values);
  };
  const medianRun = indexes[medianIndex(figures.map((r) => r.ops_per_s))]!;
  return {
    cell: cell.cell,
    stripes: cell.shape.stripes,
    replicas: cell.shape.replicas,
    units: cell.shape.stripes * cell.shape.replicas,
    entry_size_bytes: cell.entrySize,
    runs: indexes,
    ops_per_s: spread(figures.map((r) => r.ops_per_s)),
    bytes_per_s: spread(figures.map((r) => r.bytes_per_s ?? 0)),
    p50_us: latency('p50_us'),
    p99_us: latency('p99_us'),
    median_run: medianRun,
    busiest: busiestOf(runs[medianRun]!.result.runs[0]!),
  };
}

function studyTitle(study: ScalingStudy, f: ScalingFlags): string {
  const load = `${f.clients} client(s) x depth ${f.depth}, sync ${f.sync}, ${f.seconds} s per run`;
  const s = f.sizesCluster;
  if (study === 'stripes') return `appends/s against stripes x replicas (${load}, ${f.entrySize}-byte entries)`;
  if (study === 'sizes') return `appends/s and payload MB/s against entry size (${s.stripes} stripe(s) x ${s.replicas} replica(s), ${load})`;
  return `random reads/s against stripes (${f.readReplicas} replica(s), ${load}, over ${f.prefill} entries of ${f.entrySize} bytes appended first)`;
}

/** Every option of the study, defaults included, with units in the names. */
function scalingConfig(f: ScalingFlags): Record<string, unknown> {
  return {
    studies: SCALING_STUDIES.filter((s) => f.studies.has(s)),
    stripes: [...f.stripes],
    replicas: [...f.replicas],
    sizes_bytes: [...f.sizes],
    sizes_stripes: f.sizesCluster.stripes,
    sizes_replicas: f.sizesCluster.replicas,
    read_stripes: [...f.readStripes],
    read_replicas: f.readReplicas,
    repeats: f.repeats,
    order: 'the whole matrix once per repeat, cells in order',
    duration_s: f.seconds,
    warmup_s: f.warmup,
    clients: f.clients,
    depth: f.depth,
    in_flight: f.clients * f.depth,
    entry_size_bytes: f.entrySize,
    prefill_entries: f.prefill,
    generator_processes: f.procs,
    sync: f.sync,
    unit_size_bytes: f.unitSize,
  };
}

/** One run of a cell; a unit's file filling up (ERR_FULL) says which flag to change. */
async function measure(cell: Cell, f: ScalingFlags): Promise<ScalingRun['result']> {
  try {
    return (await measureCorfuWorkload(cell.flags, cell.spec)).result;
  } catch (err) {
    if (isCorfuError(err, 'ERR_FULL')) {
      throw new CorfuError(
        'ERR_FULL',
        `${cell.study} ${cell.cell}: ${err.message}; a unit's file filled up during the run: give a larger --unit-size (now ${formatBytes(f.unitSize)}) or fewer --seconds`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

export async function runScaling(f: ScalingFlags): Promise<ScalingResult> {
  const cells = planCells(f);
  const startedAt = new Date();
  const machine = machineInfo([]);
  const total = cells.length * f.repeats;
  const chosen = SCALING_STUDIES.filter((s) => f.studies.has(s));
  const counts = chosen.map((s) => {
    const n = cells.filter((c) => c.study === s).length;
    return `${s} (${n} cell${n === 1 ? '' : 's'})`;
  });
  process.stdout.write(
    `bench scaling: ${counts.join(', ')}; ${f.repeats} repeat(s): ${total} run(s) of ${f.seconds} s (+${f.warmup} s warm-up), each on a --local cluster of its own; ${f.clients} client(s) x depth ${f.depth}, sync ${f.sync}\n`,
  );
  const showProgress = f.progress && process.stderr.isTTY === true;
  const runs: ScalingRun[] = [];
  for (let repeat = 1; repeat <= f.repeats; repeat++) {
    for (const cell of cells) {
      const at = `[${runs.length + 1}/${total}] ${cell.study} ${cell.cell}, repeat ${repeat}`;
      if (showProgress) process.stderr.write(`${at}\n`);
      const result = await measure(cell, f);
      runs.push({ study: cell.study, cell: cell.cell, repeat, result });
      const r = result.runs[0]!;
      process.stdout.write(`${at}: ${n0(r.ops_per_s)} ${plural(r.op)}/s, p50 ${ms(r.latency_us?.p50_us ?? null)} ms, busiest ${busiestText(busiestOf(r))}\n`);
    }
  }
  const studies: ScalingStudyFigures[] = chosen.map((study) => ({
    study,
    workload: study === 'reads' ? 'read' : 'append',
    op: study === 'reads' ? 'read' : 'append',
    title: studyTitle(study, f),
    cells: cells.filter((c) => c.study === study).map((c) => cellFigures(c, runs)),
  }));
  const doc: ScalingResult = {
    schema: SCALING_SCHEMA_VERSION,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    command: process.argv.slice(2),
    corfu_version: corfuVersion(),
    config: scalingConfig(f),
    machine,
    studies,
    runs,
  };
  checkedAgainst(scalingResultSchema, doc, 'bench scaling');
  process.stdout.write(`\n${scalingText(doc)}\n`);
  if (f.json !== undefined) writeFileSync(f.json, `${JSON.stringify(doc, null, 2)}\n`);
  if (f.report !== undefined) writeScalingReport(f.report, doc);
  return doc;
}
