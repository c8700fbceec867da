// `corfu bench scaling` as tables: one per study (each cell's median, its range over
// the repeats, and the busiest process of the median run, so a reader sees what
// limited it), and one of every run. The same rows serve stdout and the HTML report.

import type { RunFigures, ScalingCell, ScalingResult, ScalingStudyFigures, Spread } from './schema.js';
import { ms, n0, pct, plural, table } from './text.js';

export interface Table {
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const mb = (bytesPerS: number): string => (bytesPerS / 1e6).toFixed(2);
const range = (s: Spread, f: (x: number) => string): string => `${f(s.min)}-${f(s.max)}`;

type CpuRow = RunFigures['cpu'][number];

/** The process with the largest share of a CPU in a run (null if none was measured). */
export function busiestOf(run: RunFigures): CpuRow | null {
  return run.cpu.reduce<CpuRow | null>((a, c) => (a === null || c.cpu_share > a.cpu_share ? c : a), null);
}

/** "unit-0 97%" ("... saturated" from 90% of a CPU): the process that limited a run, if one did. */
export function busiestText(b: CpuRow | null): string {
  if (b === null) return '–';
  return `${b.name}${b.name === b.role ? '' : ` (${b.role})`} ${pct(b.cpu_share)}${b.cpu_share >= 0.9 ? ' saturated' : ''}`;
}

/** The CPUs every measured process used together, against the machine's: "1.9 of 2". */
function allCpu(run: RunFigures, cpus: number): string {
  return `${run.cpu.reduce((a, c) => a + c.cpu_share, 0).toFixed(1)} of ${cpus}`;
}

export function studyTable(doc: ScalingResult, study: ScalingStudyFigures): Table {
  const ops = `${plural(study.op)}/s`;
  const median = (c: ScalingCell): RunFigures => doc.runs[c.median_run]!.result.runs[0]!;
  const tail = (c: ScalingCell): string[] => [ms(c.p50_us?.median ?? null), ms(c.p99_us?.median ?? null), busiestText(c.busiest), allCpu(median(c), doc.runs[c.median_run]!.result.machine.cpus)];
  const tailHead = ['p50 ms', 'p99 ms', 'busiest process (median run)', 'CPUs used (median run)'];
  if (study.study === 'sizes') {
    return {
      head: ['entry size', ops, 'range', 'MB/s', 'range', ...tailHead],
      rows: study.cells.map((c) => [c.cell, n0(c.ops_per_s.median), range(c.ops_per_s, n0), mb(c.bytes_per_s.median), range(c.bytes_per_s, mb), ...tail(c)]),
    };
  }
  return {
    head: ['stripes x replicas', 'units', ops, 'range', ...tailHead],
    rows: study.cells.map((c) => [c.cell, String(c.units), n0(c.ops_per_s.median), range(c.ops_per_s, n0), ...tail(c)]),
  };
}

/** Every run in the order it ran, with the load average as it started (drift shows here). */
export function runsTable(doc: ScalingResult): Table {
  return {
    head: ['#', 'study', 'cell', 'repeat', 'ops/s', 'MB/s', 'p50 ms', 'p99 ms', 'busiest process', 'load average at start'],
    rows: doc.runs.map((r, k) => {
      const run = r.result.runs[0]!;
      return [
        String(k + 1),
        r.study,
        r.cell,
        String(r.repeat),
        n0(run.ops_per_s),
        run.bytes_per_s === null ? '–' : mb(run.bytes_per_s),
        ms(run.latency_us?.p50_us ?? null),
        ms(run.latency_us?.p99_us ?? null),
        busiestText(busiestOf(run)),
        r.result.machine.load_average[0]?.toFixed(2) ?? '–',
      ];
    }),
  };
}

/** The studies as text: a title and a table each. */
export function scalingText(doc: ScalingResult): string {
  const n = doc.config['repeats'];
  return doc.studies
    .map((s) => {
      const t = studyTable(doc, s);
      return `${s.title}; median of ${String(n)} run(s) and the range\n${table([t.head, ...t.rows])}`;
    })
    .join('\n\n');
}
