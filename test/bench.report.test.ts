// `corfu bench ... --report FILE.html`: the page opens in headless Chromium with no
// network and draws its charts. The page's own script checks what it drew (each
// chart's canvas has a size, each series was drawn, pixels of the series' colours are
// on it) and writes that into the DOM, which `chromium --dump-dom` prints; this test
// reads it and compares the points per series with the JSON of the same run.
//
// Chromium: test/helpers/chromium.ts (required in CI, skipped where it is missing).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { resultSchema } from '../src/bench/schema.js';
import { chromium, expectSelfContained, renderedCharts } from './helpers/chromium.js';
import { cliHarness } from './helpers/cli.js';

const { dir, corfu } = cliHarness('corfu-bench-report-', { runTimeoutMs: 120_000, readyTimeoutMs: 30_000 });

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

    expectSelfContained(readFileSync(report, 'utf8'));

    const byId = renderedCharts(report);
    expect([...byId.keys()].sort()).toEqual(['chart-cpu-0', 'chart-latency', 'chart-throughput']);
    // The charts hold the run's data: a point per second, per percentile, per CPU sample.
    expect(byId.get('chart-throughput')!.series).toEqual([{ name: run.label, points: run.series.length, drawn: expect.any(Number) }]);
    expect(byId.get('chart-latency')!.series[0]!.points).toBe(run.percentiles.length);
    const cpu = byId.get('chart-cpu-0')!;
    expect(cpu.series.map((s) => s.name).sort()).toEqual(run.cpu.map((c) => c.name).sort());
    for (const s of cpu.series) expect(s.points, s.name).toBe(run.cpu_series.length);
  });
});
