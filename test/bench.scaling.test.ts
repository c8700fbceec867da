// `corfu bench scaling` run as a user runs it, on a tiny matrix (two stripe counts at
// one replica, two entry sizes on one unit, one read cell, two repeats of half a second): the JSON
// matches its schema, every cell ran --repeats times and its median lies within its
// range, each run is a whole `corfu-bench/1` result of its cell's cluster, and the
// matrix ran once per repeat, cells in order. The report opens in headless Chromium
// and draws a chart per study with a point per cell. Then the bad flags. No timing is
// asserted.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { medianIndex, spread } from '../src/bench/scaling.js';
import { scalingResultSchema, type ScalingResult, type Spread } from '../src/bench/schema.js';
import { chromium, expectSelfContained, renderedCharts } from './helpers/chromium.js';
import { cliHarness } from './helpers/cli.js';

const { dir, corfu, oneLine } = cliHarness('corfu-bench-scaling-', { runTimeoutMs: 120_000, readyTimeoutMs: 30_000 });

const within = (s: Spread | null): void => {
  expect(s).not.toBeNull();
  expect(s!.min).toBeLessThanOrEqual(s!.median);
  expect(s!.median).toBeLessThanOrEqual(s!.max);
};

describe('corfu bench scaling on a tiny matrix', () => {
  const json = join(dir, 'scaling.json');
  const report = join(dir, 'scaling.html');
  let doc: ScalingResult;
  let stdout = '';

  beforeAll(() => {
    const r = corfu(
      'bench',
      'scaling',
      ...['--stripes', '1,2', '--replicas', '1', '--sizes', '64,4K', '--sizes-cluster', '1x1', '--read-stripes', '1', '--repeats', '2'],
      ...['--seconds', '0.5', '--warmup', '0', '--sync', 'none', '--clients', '2', '--depth', '2', '--prefill', '200', '--unit-size', '64M'],
      ...['--json', json, '--report', report],
    );
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    stdout = r.stdout;
    doc = scalingResultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
  }, 120_000);

  it('every cell ran --repeats times, each run a whole result of its cluster; the median lies within the range', () => {
    expect(doc.studies.map((s) => [s.study, s.cells.map((c) => c.cell)])).toEqual([
      ['stripes', ['1x1', '2x1']],
      ['sizes', ['64 B', '4 KiB']],
      ['reads', ['1x2']],
    ]);
    expect(doc.config).toMatchObject({ repeats: 2, sync: 'none', clients: 2, depth: 2, duration_s: 0.5, sizes_bytes: [64, 4096], sizes_stripes: 1, sizes_replicas: 1 });
    for (const s of doc.studies) {
      for (const c of s.cells) {
        const what = `${s.study} ${c.cell}`;
        expect(c.runs, what).toHaveLength(2);
        expect(
          c.runs.map((k) => doc.runs[k]!.repeat),
          what,
        ).toEqual([1, 2]);
        expect(c.runs, what).toContain(c.median_run);
        for (const spreadOf of [c.ops_per_s, c.bytes_per_s, c.p50_us, c.p99_us]) within(spreadOf);
        const figures = c.runs.map((k) => doc.runs[k]!.result.runs[0]!);
        expect(c.ops_per_s.min, what).toBe(Math.min(...figures.map((r) => r.ops_per_s)));
        expect(c.ops_per_s.max, what).toBe(Math.max(...figures.map((r) => r.ops_per_s)));
        expect(c.busiest, what).not.toBeNull();
        for (const k of c.runs) {
          const res = doc.runs[k]!.result;
          expect(res.workload, what).toBe(s.workload);
          expect(res.target, what).toMatchObject({ kind: 'local', stripes: c.stripes, replicas: c.replicas, sync: 'none' });
          expect(res.target!.units, what).toHaveLength(c.units);
          expect(res.config, what).toMatchObject({ entry_size_bytes: c.entry_size_bytes, clients: 2, depth: 2, duration_s: 0.5 });
          expect(res.runs[0]!.ops, what).toBeGreaterThan(0);
        }
      }
    }
    expect(doc.studies.find((s) => s.study === 'sizes')!.cells.map((c) => [c.stripes, c.replicas, c.entry_size_bytes])).toEqual([
      [1, 1, 64],
      [1, 1, 4096],
    ]);
    const read = doc.runs.find((r) => r.study === 'reads')!.result;
    expect(read.config).toMatchObject({ pattern: 'random', prefill_entries: 200 });
    expect(read.runs[0]!.op).toBe('read');
  });

  it('runs the whole matrix once per repeat, cells in order', () => {
    const sweep = ['stripes 1x1', 'stripes 2x1', 'sizes 64 B', 'sizes 4 KiB', 'reads 1x2'];
    expect(doc.runs.map((r) => `${r.study} ${r.cell} #${r.repeat}`)).toEqual([...sweep.map((c) => `${c} #1`), ...sweep.map((c) => `${c} #2`)]);
  });

  it('prints a line per run, then a table per study', () => {
    expect(stdout).toMatch(/^\[10\/10\] reads 1x2, repeat 2: [\d,]+ reads\/s/m);
    expect(stdout).toMatch(/^stripes x replicas +units +appends\/s +range +p50 ms +p99 ms +busiest process \(median run\)/m);
    expect(stdout).toMatch(/^entry size +appends\/s +range +MB\/s +range/m);
    expect(stdout).toMatch(/^stripes x replicas +units +reads\/s +range/m);
    expect(stdout).toMatch(/^4 KiB +[\d,]+ +[\d,]+-[\d,]+ +\d+\.\d\d/m);
  });

  it.skipIf(chromium === undefined)('the report draws a chart per study, a point per cell for the median and each end of the range, offline', () => {
    expectSelfContained(readFileSync(report, 'utf8'));
    const byId = renderedCharts(report);
    expect([...byId.keys()]).toEqual(['chart-stripes', 'chart-sizes', 'chart-reads']);
    const points = (id: string): Array<[string, number]> => byId.get(id)!.series.map((s) => [s.name, s.points]);
    expect(points('chart-stripes')).toEqual([
      ['1 replica(s)', 2],
      ['1 replica(s), min', 2],
      ['1 replica(s), max', 2],
    ]);
    expect(points('chart-sizes')).toEqual([
      ['appends/s', 2],
      ['appends/s, min', 2],
      ['appends/s, max', 2],
      ['MB/s', 2],
      ['MB/s, min', 2],
      ['MB/s, max', 2],
    ]);
    expect(points('chart-reads')).toEqual([
      ['2 replica(s)', 1],
      ['2 replica(s), min', 1],
      ['2 replica(s), max', 1],
    ]);
  });
});

describe('corfu bench scaling: the median and the median run', () => {
  it('of an odd count, the middle; of an even count, the mean of the middle two (and the lower as the run)', () => {
    expect(spread([30, 10, 20])).toEqual({ median: 20, min: 10, max: 30 });
    expect(spread([40, 10, 20, 30])).toEqual({ median: 25, min: 10, max: 40 });
    expect(spread([7])).toEqual({ median: 7, min: 7, max: 7 });
    expect(medianIndex([30, 10, 20])).toBe(2);
    expect(medianIndex([40, 10, 20, 30])).toBe(2);
    expect(medianIndex([5, 5])).toBe(0);
  });
});

describe('corfu bench scaling: a unit that fills up', () => {
  it('stops the study with ERR_FULL, naming the cell and --unit-size', () => {
    const r = corfu('bench', 'scaling', '--studies', 'sizes', '--sizes', '64K', '--sizes-cluster', '1x1', '--repeats', '1', '--seconds', '2', '--warmup', '0', '--sync', 'none', '--unit-size', '8M');
    expect(oneLine(r.stderr)).toMatch(/^error ERR_FULL: sizes 64 KiB: .*give a larger --unit-size \(now 8 MiB\)/);
    expect(r.code).toBe(1);
  });
});

describe('corfu bench scaling: bad flags are one line and a non-zero exit, before anything runs', () => {
  it.each([
    ['--repeats 0', ['--repeats', '0'], /--repeats/],
    ['a stripe count of 0', ['--stripes', '0,2'], /--stripes.*whole numbers of at least 1/],
    ['a stripe count twice', ['--stripes', '1,1'], /--stripes.*each once/],
    ['a replica count that is not a number', ['--replicas', '1,two'], /--replicas/],
    ['an entry size above 64K', ['--sizes', '64,128K'], /--sizes.*at most|--sizes.*to 64K/],
    ['an unknown study', ['--studies', 'stripes,writes'], /--studies.*stripes, sizes, reads/],
    ['a sizes cluster without replicas', ['--sizes-cluster', '2'], /--sizes-cluster.*STRIPESxREPLICAS/],
    ['an unknown sync mode', ['--sync', 'sometimes'], /--sync/],
    ['--seconds 0', ['--seconds', '0'], /--seconds/],
    ['an entry too small for the reads to check', ['--entry-size', '4'], /--entry-size must be at least 8/],
    ['more generator processes than clients', ['--clients', '2', '--procs', '3'], /--procs \(3\) cannot exceed/],
  ])('%s', (_what, args, message) => {
    const r = corfu('bench', 'scaling', ...args);
    expect(oneLine(r.stderr)).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});
