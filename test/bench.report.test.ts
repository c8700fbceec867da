// `corfu bench ... --report FILE.html`: the page opens in headless Chromium with no
// network and draws its charts. The page's own script checks what it drew (each
// chart's canvas has a size, each series was drawn, pixels of the series' colours are
// on it) and writes that into the DOM, which `chromium --dump-dom` prints; this test
// reads it and compares the points per series with the JSON of the same run.
//
// Chromium: .ci/run installs Debian's `chromium` and sets REQUIRE_CHROMIUM=1, so in CI
// its absence fails the test instead of skipping it; on a machine without it the
// rendering test is skipped (and says so).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { resultSchema } from '../src/bench/schema.js';
import { cliHarness } from './helpers/cli.js';

const { dir, corfu } = cliHarness('corfu-bench-report-', { runTimeoutMs: 120_000, readyTimeoutMs: 30_000 });

function chromiumBinary(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  return undefined;
}
const chromium = chromiumBinary();

interface RenderStatus {
  charts: Array<{ id: string; canvas_width: number; canvas_height: number; series_pixels: number; series: Array<{ name: string; points: number; drawn: number }> }>;
}

/** The DOM after the page's scripts ran, with every network request refused. */
function dumpDom(file: string): string {
  const r = spawnSync(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--host-resolver-rules=MAP * ~NOTFOUND',
      '--virtual-time-budget=10000',
      '--window-size=1200,2000',
      '--dump-dom',
      `file://${file}`,
    ],
    { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('corfu bench --report', () => {
  it('is installed wherever CI says it must be', () => {
    if (process.env['REQUIRE_CHROMIUM'] === '1') expect(chromium, 'chromium is not installed but REQUIRE_CHROMIUM=1').toBeDefined();
  });

  it.skipIf(chromium === undefined)('renders the throughput, latency and CPU charts with the run’s points, offline', () => {
    const json = join(dir, 'append.json');
    const report = join(dir, 'append.html');
    const r = corfu(
      'bench',
      'append',
      '--local',
      '--units',
      '2',
      '--replicas',
      '2',
      '--unit-size',
      '64M',
      '--clients',
      '2',
      '--depth',
      '2',
      '--seconds',
      '1.5',
      '--warmup',
      '0.2',
      '--json',
      json,
      '--report',
      report,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = resultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    const run = result.runs[0]!;

    const html = readFileSync(report, 'utf8');
    // Self-contained: nothing is fetched (no external script, style, image or font).
    expect(html).not.toMatch(/<(script|link|img)\b[^>]*\b(src|href)=/i);
    expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);

    const dom = dumpDom(report);
    expect(dom).toMatch(/<body[^>]*data-charts-rendered="yes"/);
    const status = JSON.parse(/<div id="render-status"[^>]*>([^<]*)<\/div>/.exec(dom)![1]!) as RenderStatus;
    const byId = new Map(status.charts.map((c) => [c.id, c]));
    expect([...byId.keys()].sort()).toEqual(['chart-cpu-0', 'chart-latency', 'chart-throughput']);
    for (const c of status.charts) {
      expect(c.canvas_width, c.id).toBeGreaterThan(0);
      expect(c.canvas_height, c.id).toBeGreaterThan(0);
      expect(c.series_pixels, c.id).toBeGreaterThan(0);
      for (const s of c.series) expect(s.drawn, `${c.id} ${s.name}`).toBeGreaterThan(0);
    }
    // The charts hold the run's data: a point per second, per percentile, per CPU sample.
    expect(byId.get('chart-throughput')!.series).toEqual([{ name: run.label, points: run.series.length, drawn: expect.any(Number) }]);
    expect(byId.get('chart-latency')!.series[0]!.points).toBe(run.percentiles.length);
    const cpu = byId.get('chart-cpu-0')!;
    expect(cpu.series.map((s) => s.name).sort()).toEqual(run.cpu.map((c) => c.name).sort());
    for (const s of cpu.series) expect(s.points, s.name).toBe(run.cpu_series.length);
  });
});
