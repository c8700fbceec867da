// The JSON a benchmark writes with `--json FILE`: every figure, the full configuration
// and the machine. The schema is checked before the file is written (a result with a
// missing or non-finite figure is a bug, not a file), and it is the contract for
// whoever reads these files later: `schema` names its version, and a change that
// breaks a reader gets a new one.
//
// Names carry their units (_s, _us, _bytes, _per_s). Every run is one system doing one
// kind of operation over one measured window: Corfu's appends, Redis's XADDs, fio's
// writes. A comparison row puts two runs side by side.

import { z } from 'zod';

export const SCHEMA_VERSION = 'corfu-bench/1';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.number().int().nonnegative();

export const latencySchema = z.object({
  count,
  min_us: finite,
  mean_us: finite,
  p50_us: finite,
  /** Null where the tool measuring it does not report it (redis-benchmark: p50, p95, p99 only). */
  p90_us: finite.nullable(),
  p99_us: finite,
  p999_us: finite.nullable(),
  max_us: finite,
});

export const percentilePointSchema = z.object({ percentile: finite, latency_us: finite });

export const secondSchema = z.object({ t_s: finite, ops: count, ops_per_s: finite, p50_us: finite, p99_us: finite });

export const processCpuSchema = z.object({
  role: z.enum(['bench', 'unit', 'sequencer', 'peer', 'load-generator']),
  name: z.string(),
  pid: z.number().int(),
  user_s: finite,
  system_s: finite,
  cpu_s: finite,
  cpu_share: finite,
  cpu_us_per_op: finite.nullable(),
});

export const cpuSecondSchema = z.object({ t_s: finite, share: z.record(z.string(), finite) });

export const runSchema = z.object({
  /** Shown in tables and charts: "corfu append", "redis XADD", "fio randread". */
  label: z.string(),
  system: z.enum(['corfu', 'corfu-engine', 'redis', 'fio']),
  /** The operation counted: append, read, follow, token-request, xadd, incr, write, randread. */
  op: z.string(),
  duration_s: finite,
  ops: count,
  ops_per_s: finite,
  /** Items per operation (tokens per TOKEN request, entries per engine call); 1 otherwise. */
  items_per_op: finite,
  items_per_s: finite,
  /** Payload bytes per second (null where an operation carries none). */
  bytes_per_s: finite.nullable(),
  /** Null when the tool measuring it reports no distribution (summary-only peers). */
  latency_us: latencySchema.nullable(),
  percentiles: z.array(percentilePointSchema),
  series: z.array(secondSchema),
  /** The HDR histogram, compressed base64 (null for peers measured by their own tool). */
  histogram_hdr: z.string().nullable(),
  cpu: z.array(processCpuSchema),
  cpu_series: z.array(cpuSecondSchema),
  /** Who generated the load: 'in-process' (this Node process), 'redis-benchmark', 'fio'. */
  generator: z.string(),
  notes: z.array(z.string()),
});

export const verifySchema = z.object({
  /** Entries this run appended and had acknowledged. */
  appended: count,
  /** Of those, read back afterwards with the bytes that were appended. */
  read_back: count,
  missing: count,
  mismatched: count,
  first_problem: z.string().nullable(),
});

export const comparisonSchema = z.object({
  pair: z.string(),
  /** What both figures count, e.g. "TOKEN requests/s vs INCR/s". */
  measure: z.string(),
  corfu_label: z.string(),
  peer_label: z.string(),
  corfu_per_s: finite,
  peer_per_s: finite,
  /** corfu / peer. */
  ratio: finite,
  corfu_p50_us: finite.nullable(),
  peer_p50_us: finite.nullable(),
  corfu_p99_us: finite.nullable(),
  peer_p99_us: finite.nullable(),
  /** Copies of each entry the system keeps, and on how many nodes. */
  corfu_copies: z.string(),
  peer_copies: z.string(),
  /** Same entry size, concurrency, pipelining and durability: how, on each side. */
  conditions: z.string(),
});

export const deviceSchema = z.object({
  path: z.string(),
  kind: z.enum(['block', 'file', 'missing']),
  filesystem: z.string().nullable(),
  mount_point: z.string().nullable(),
  block_device: z.string().nullable(),
  model: z.string().nullable(),
  rotational: z.boolean().nullable(),
  scheduler: z.string().nullable(),
  logical_block_bytes: z.number().nullable(),
  write_cache: z.string().nullable(),
});

export const machineSchema = z.object({
  cpu_model: z.string().nullable(),
  cpus: count,
  memory_bytes: count,
  memory_free_bytes: count,
  kernel: z.string(),
  os: z.string().nullable(),
  node: z.string(),
  load_average: z.array(finite),
  virtualization: z.string().nullable(),
  devices: z.array(deviceSchema),
});

export const targetSchema = z.object({
  kind: z.enum(['local', 'layout', 'device']),
  layout: z.string().nullable(),
  epoch: z.number().int().nullable(),
  stripes: count,
  replicas: count,
  sync: z.string(),
  sync_source: z.string(),
  units: z.array(z.object({ address: z.string(), sync: z.string(), pid: z.number().int().nullable() })),
  sequencer: z.object({ address: z.string(), pid: z.number().int().nullable() }).nullable(),
  dir: z.string().nullable(),
});

export const resultSchema = z.object({
  schema: z.literal(SCHEMA_VERSION),
  workload: z.enum(['append', 'read', 'mixed', 'tokens', 'device', 'compare']),
  started_at: z.string(),
  finished_at: z.string(),
  command: z.array(z.string()),
  corfu_version: z.string(),
  /** Every option of the run, defaults included. */
  config: z.record(z.string(), z.unknown()),
  target: targetSchema.nullable(),
  machine: machineSchema,
  runs: z.array(runSchema).min(1),
  verify: verifySchema.nullable(),
  comparison: z.array(comparisonSchema),
  /** Figures that do not fit a run (the engine's entries per round, a peer's version). */
  extra: z.record(z.string(), z.unknown()),
});

export type RunFigures = z.infer<typeof runSchema>;
export type VerifyFigures = z.infer<typeof verifySchema>;
export type ComparisonRow = z.infer<typeof comparisonSchema>;
export type TargetFigures = z.infer<typeof targetSchema>;
export type MachineFigures = z.infer<typeof machineSchema>;
export type BenchResult = z.infer<typeof resultSchema>;

// `corfu bench scaling --json FILE`: a study of several cells (a cluster shape or an
// entry size), each run `repeats` times. Every run is a whole `corfu-bench/1` result;
// each cell names its runs (indexes into `runs`) and gives the median and the range of
// their figures.

export const SCALING_SCHEMA_VERSION = 'corfu-bench-scaling/1';

export const SCALING_STUDIES = ['stripes', 'sizes', 'reads'] as const;
export type ScalingStudy = (typeof SCALING_STUDIES)[number];

/** A figure over a cell's runs: the median (of an even count, the mean of the middle two) and the extremes. */
export const spreadSchema = z.object({ median: finite, min: finite, max: finite }).refine((s) => s.min <= s.median && s.median <= s.max, 'the median must lie within min..max');

export const scalingCellSchema = z.object({
  /** Its name in tables and charts: "2x3" (stripes x replicas), "4 KiB". */
  cell: z.string(),
  stripes: count,
  replicas: count,
  units: count,
  entry_size_bytes: count,
  /** Indexes into `runs`, in the order they ran. */
  runs: z.array(count).min(1),
  ops_per_s: spreadSchema,
  /** Payload bytes per second. */
  bytes_per_s: spreadSchema,
  /** Null where the runs report no latency distribution. */
  p50_us: spreadSchema.nullable(),
  p99_us: spreadSchema.nullable(),
  /** The run whose operations/s is the median (of an even count, the lower of the middle two): an index into `runs`. */
  median_run: count,
  /** The busiest process of that run (its largest share of a CPU): what limited the cell, if anything. */
  busiest: processCpuSchema.nullable(),
});

export const scalingStudySchema = z.object({
  study: z.enum(SCALING_STUDIES),
  /** The workload every run of the study ran, and its operation ("append", "read"). */
  workload: z.enum(['append', 'read']),
  op: z.string(),
  title: z.string(),
  cells: z.array(scalingCellSchema).min(1),
});

export const scalingRunSchema = z.object({
  study: z.enum(SCALING_STUDIES),
  cell: z.string(),
  /** 1..repeats: which sweep of the matrix it belongs to. */
  repeat: z.number().int().positive(),
  result: resultSchema,
});

export const scalingResultSchema = z
  .object({
    schema: z.literal(SCALING_SCHEMA_VERSION),
    started_at: z.string(),
    finished_at: z.string(),
    command: z.array(z.string()),
    corfu_version: z.string(),
    /** Every option of the study, defaults included. */
    config: z.record(z.string(), z.unknown()),
    /** The machine as the study started (each run's result describes it again as that run started). */
    machine: machineSchema,
    studies: z.array(scalingStudySchema).min(1),
    runs: z.array(scalingRunSchema).min(1),
  })
  .superRefine((doc, ctx) => {
    doc.studies.forEach((s, i) =>
      s.cells.forEach((c, j) => {
        const path = ['studies', i, 'cells', j];
        for (const k of [...c.runs, c.median_run]) {
          const run = doc.runs[k];
          if (run === undefined || run.study !== s.study || run.cell !== c.cell) ctx.addIssue({ code: 'custom', path, message: `run ${k} is not a run of ${s.study} ${c.cell}` });
        }
        if (!c.runs.includes(c.median_run)) ctx.addIssue({ code: 'custom', path, message: 'the median run must be one of the cell’s runs' });
      }),
    );
  });

export type Spread = z.infer<typeof spreadSchema>;
export type ScalingCell = z.infer<typeof scalingCellSchema>;
export type ScalingStudyFigures = z.infer<typeof scalingStudySchema>;
export type ScalingRun = z.infer<typeof scalingRunSchema>;
export type ScalingResult = z.infer<typeof scalingResultSchema>;
