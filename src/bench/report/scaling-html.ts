// `corfu bench scaling --report FILE.html`: one self-contained page (the same shell as
// a single result's report: uPlot inlined, no network) with a chart per study, each
// cell's median as the line and the min-max range of its runs as a shaded band
// between two thin dashed lines, then each study's table, every run, the
// configuration and the machine. The x axes are log2 (stripes, entry sizes), ticked at
// the cells.

import { writeFileSync } from 'node:fs';

import { runsTable, studyTable, type Table } from '../scaling-text.js';
import type { ScalingCell, ScalingResult, ScalingStudyFigures, Spread } from '../schema.js';
import { plural } from '../text.js';
import { esc, machineLine, pageHtml, tableHtml } from './html.js';
import { SCALING_PAGE_SCRIPT } from './scaling-page-script.js';

/** A line of a chart: the median, or one edge of the range, of a figure at each x. */
interface ChartSeries {
  readonly name: string;
  readonly values: readonly number[];
  /** A palette index: the median and its range share it. */
  readonly colour: number;
  readonly kind: 'median' | 'min' | 'max';
  /** The y axis it is read against (an index into `axes`). */
  readonly axis: number;
}

/** What the page script draws for a study (scaling-page-script.ts). */
export interface ScalingChart {
  readonly id: string;
  readonly title: string;
  readonly x: readonly number[];
  readonly x_labels: readonly string[];
  readonly x_label: string;
  readonly axes: readonly string[];
  readonly series: readonly ChartSeries[];
}

/** A figure's median and range as three series of one colour. */
function banded(name: string, cells: readonly ScalingCell[], figure: (c: ScalingCell) => Spread, colour: number, axis = 0, scale = 1): ChartSeries[] {
  const kinds = ['median', 'min', 'max'] as const;
  return kinds.map((kind) => ({
    name: kind === 'median' ? name : `${name}, ${kind}`,
    values: cells.map((c) => figure(c)[kind] * scale),
    colour,
    kind,
    axis,
  }));
}

export function scalingCharts(doc: ScalingResult): ScalingChart[] {
  return doc.studies.map((s) => {
    const ops = `${plural(s.op)}/s`;
    const id = `chart-${s.study}`;
    if (s.study === 'stripes') {
      // One line per replica count, over the stripes.
      const stripes = [...new Set(s.cells.map((c) => c.stripes))];
      const replicas = [...new Set(s.cells.map((c) => c.replicas))];
      const series = replicas.flatMap((r, k) => {
        const cells = stripes.map((st) => s.cells.find((c) => c.stripes === st && c.replicas === r)!);
        return banded(`${r} replica(s)`, cells, (c) => c.ops_per_s, k);
      });
      return { id, title: `${ops} against stripes, one line per replica count`, x: stripes, x_labels: stripes.map(String), x_label: 'stripes', axes: [ops], series };
    }
    if (s.study === 'sizes') {
      const series = [...banded(ops, s.cells, (c) => c.ops_per_s, 0), ...banded('MB/s', s.cells, (c) => c.bytes_per_s, 1, 1, 1e-6)];
      return {
        id,
        title: `${ops} and payload MB/s against entry size`,
        x: s.cells.map((c) => c.entry_size_bytes),
        x_labels: s.cells.map((c) => c.cell),
        x_label: 'entry size',
        axes: [ops, 'MB/s'],
        series,
      };
    }
    const replicas = s.cells[0]!.replicas;
    return {
      id,
      title: `${ops} (random) against stripes, ${replicas} replica(s)`,
      x: s.cells.map((c) => c.stripes),
      x_labels: s.cells.map((c) => String(c.stripes)),
      x_label: 'stripes',
      axes: [ops],
      series: banded(`${replicas} replica(s)`, s.cells, (c) => c.ops_per_s, 0),
    };
  });
}

const html = (t: Table): string => tableHtml(t.head, t.rows);

function studySection(doc: ScalingResult, s: ScalingStudyFigures): string {
  return `<h2>${esc(s.title)}</h2>
<div id="chart-${s.study}" class="chart"></div>
${html(studyTable(doc, s))}`;
}

export function scalingReportHtml(doc: ScalingResult): string {
  const body = `<h1>corfu bench scaling</h1>
<p class="muted">${esc(doc.started_at)} → ${esc(doc.finished_at)} · <code>corfu ${esc(doc.command.join(' '))}</code> · corfu ${esc(doc.corfu_version)}</p>
<p>${esc(machineLine(doc.machine))}</p>
<p>Each cell ran ${esc(String(doc.config['repeats']))} time(s), on a cluster started for the run (127.0.0.1, one process per unit and a sequencer) and removed after it; the whole matrix ran once per repeat, cells in order. Lines are each cell's median, the shaded band between the dashed lines the range of its runs. The busiest process of the median run is what limited the cell if it is near 100% of a CPU; "CPUs used" adds every measured process (the benchmark, the units, the sequencer) against the machine's CPUs.</p>
${doc.studies.map((s) => studySection(doc, s)).join('\n')}
<h2>Runs, in the order they ran</h2>
${html(runsTable(doc))}
<h2>Configuration and machine</h2>
<pre>${esc(JSON.stringify({ config: doc.config, machine: doc.machine }, null, 2))}</pre>`;
  return pageHtml({ title: `corfu bench scaling — ${doc.started_at}`, body, data: { charts: scalingCharts(doc) }, script: SCALING_PAGE_SCRIPT });
}

export function writeScalingReport(path: string, doc: ScalingResult): void {
  writeFileSync(path, scalingReportHtml(doc));
}
