// `--report FILE.html`: one self-contained page. uPlot (its minified script and its
// CSS) and the data are inlined, so the file opens anywhere with no network: the
// throughput over time, the latency percentile curve, the CPU of every process second
// by second, the comparison with peers, each run's figures, the configuration and the
// machine. The tables are HTML written here; the charts are drawn by the page
// (page-script.ts). `pageHtml` is the shell every report page shares (the scaling
// study's too: scaling-html.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import type { BenchResult, MachineFigures, RunFigures } from '../schema.js';
import { PAGE_SCRIPT } from './page-script.js';

const require = createRequire(import.meta.url);

function uplotAssets(): { script: string; css: string; version: string } {
  const script = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const { version } = JSON.parse(readFileSync(require.resolve('uplot/package.json'), 'utf8')) as { version: string };
  return { script, css, version };
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that can sit inside a <script> element: no `</script>`, no `<!--`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A script inlined whole: a `</script` inside it would end the element early. */
function scriptText(source: string): string {
  return source.replace(/<\/script/gi, '<\\/script');
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (us: number | null | undefined): string => (us === null || us === undefined ? '–' : String(Math.round(us) / 1000));

export function tableHtml(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<td>${esc(c)}</td>` : `<td class="num">${esc(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function runsTable(runs: readonly RunFigures[]): string {
  return tableHtml(
    ['run', 'operations', 'seconds', 'ops/s', 'items/s', 'MB/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'generator'],
    runs.map((r) => [
      r.label,
      n0(r.ops),
      r.duration_s.toFixed(2),
      n0(r.ops_per_s),
      n0(r.items_per_s),
      r.bytes_per_s === null ? '–' : (r.bytes_per_s / 1e6).toFixed(2),
      ms(r.latency_us?.p50_us),
      ms(r.latency_us?.p90_us),
      ms(r.latency_us?.p99_us),
      ms(r.latency_us?.p999_us),
      ms(r.latency_us?.max_us),
      r.generator,
    ]),
  );
}

function cpuTable(runs: readonly RunFigures[]): string {
  const rows = runs.flatMap((r) =>
    r.cpu.map((c) => [r.label, `${c.name} (${c.role}, pid ${c.pid})`, c.cpu_s.toFixed(3), `${Math.round(c.cpu_share * 100)}%`, c.cpu_us_per_op === null ? '–' : String(c.cpu_us_per_op)]),
  );
  if (rows.length === 0) return '<p>No process was sampled.</p>';
  return tableHtml(['run', 'process', 'CPU s', 'of one CPU', 'CPU µs per operation'], rows);
}

function comparisonSection(res: BenchResult): string {
  if (res.comparison.length === 0) {
    return '<p>No peers in this run. <code>corfu bench compare</code> runs Corfu and its peers (fio, Redis) back to back and fills this table.</p>';
  }
  const table = tableHtml(
    ['pair', 'Corfu', 'peer', 'Corfu/s', 'peer/s', 'ratio', 'p50 ms Corfu / peer', 'p99 ms Corfu / peer', 'copies: Corfu', 'copies: peer'],
    res.comparison.map((c) => [
      c.pair,
      c.corfu_label,
      c.peer_label,
      n0(c.corfu_per_s),
      n0(c.peer_per_s),
      c.ratio.toFixed(3),
      `${ms(c.corfu_p50_us)} / ${ms(c.peer_p50_us)}`,
      `${ms(c.corfu_p99_us)} / ${ms(c.peer_p99_us)}`,
      c.corfu_copies,
      c.peer_copies,
    ]),
  );
  const notes = res.comparison.map((c) => `<li><b>${esc(c.pair)}</b>: ${esc(c.measure)}. ${esc(c.conditions)}</li>`).join('\n');
  return `${table}\n<ul class="notes">${notes}</ul>`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 20px; color: #222; max-width: 1200px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; } th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 0.8em; }
.notes li { margin: 0.3em 0; } .muted { color: #666; }
`;

/** One line on the machine: CPUs, memory, OS, kernel, node, load at the start. */
export function machineLine(m: MachineFigures): string {
  return `${m.cpus} × ${m.cpu_model ?? 'CPU'}, ${(m.memory_bytes / 1024 ** 3).toFixed(1)} GiB, ${m.os ?? 'Linux'}, kernel ${m.kernel}, node ${m.node}, load average ${m.load_average.join(' / ')} at the start`;
}

export interface Page {
  readonly title: string;
  /** The body's HTML, before the render status, the data and the script. */
  readonly body: string;
  /** What the page's script draws, as the JSON of #bench-data. */
  readonly data: unknown;
  /** The page's own script (page-script.ts). */
  readonly script: string;
}

/** A self-contained page: uPlot and its CSS inlined, the data, the script that draws and checks the charts. */
export function pageHtml(p: Page): string {
  const ui = uplotAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(p.title)}</title>
<style>${ui.css}</style>
<style>${STYLE}</style>
<script>/* uPlot v${esc(ui.version)} (https://github.com/leeoniya/uPlot), MIT License, Copyright (c) 2022 Leon Sorokin */
${scriptText(ui.script)}</script>
</head>
<body>
${p.body}
<div id="render-status" hidden></div>
<script type="application/json" id="bench-data">${scriptJson(p.data)}</script>
<script>${scriptText(p.script)}</script>
</body>
</html>
`;
}

export function reportHtml(res: BenchResult): string {
  // What the charts need (not the encoded histograms).
  // Runs of one window (mixed, a follower and its appenders) share their CPU samples: one chart for them.
  const cpuKeys = res.runs.map((r) => JSON.stringify(r.cpu_series));
  const cpuOwn = res.runs.map((r, k) => r.cpu_series.length > 0 && cpuKeys.indexOf(cpuKeys[k]!) === k);
  const chartData = {
    runs: res.runs.map((r, k) => ({ label: r.label, series: r.series, percentiles: r.percentiles, cpu_series: cpuOwn[k] ? r.cpu_series : [] })),
  };
  const cpuCharts = res.runs.map((_, k) => (cpuOwn[k] ? `<div id="chart-cpu-${k}" class="chart"></div>` : '')).join('\n');
  const target =
    res.target === null
      ? ''
      : `<p>Target: ${esc(res.target.kind)} ${esc(res.target.layout ?? '')}, ${res.target.stripes} stripe(s) × ${res.target.replicas} replica(s), sync ${esc(res.target.sync)}.</p>`;
  const body = `<h1>corfu bench ${esc(res.workload)}</h1>
<p class="muted">${esc(res.started_at)} → ${esc(res.finished_at)} · <code>corfu ${esc(res.command.join(' '))}</code> · corfu ${esc(res.corfu_version)}</p>
<p>${esc(machineLine(res.machine))}</p>
${target}
<h2>Throughput over time</h2>
<div id="chart-throughput" class="chart"></div>
<p class="muted">Peers measured by their own tools (fio, redis-benchmark) report no per-second series.</p>
<h2>Latency by percentile</h2>
<div id="chart-latency" class="chart"></div>
<h2>Comparison with peers</h2>
${comparisonSection(res)}
<h2>Runs</h2>
${runsTable(res.runs)}
<h2>CPU by process</h2>
${cpuTable(res.runs)}
${cpuCharts}
<h2>Configuration, target and machine</h2>
<pre>${esc(JSON.stringify({ config: res.config, target: res.target, machine: res.machine, verify: res.verify, extra: res.extra }, null, 2))}</pre>`;
  return pageHtml({ title: `corfu bench ${res.workload} — ${res.started_at}`, body, data: chartData, script: PAGE_SCRIPT });
}

export function writeReport(path: string, res: BenchResult): void {
  writeFileSync(path, reportHtml(res));
}
