// `corfu bench compare` with its peers, for about a second each: the engine against
// fio, the sequencer against Redis INCR, appends against Redis XADD (appendfsync
// always), on a local cluster it starts and removes. Checks the comparison table
// (both figures, the ratio, how many copies each side keeps), that every run shows
// its load generator's CPU, and that the peers are gone afterwards. No timing.
//
// The peers (fio, redis-server and redis-benchmark): .ci/run installs them and sets
// REQUIRE_BENCH_PEERS=1, so in CI their absence fails the test instead of skipping it.

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { resultSchema } from '../src/bench/schema.js';
import { cliHarness } from './helpers/cli.js';

const { dir, corfu } = cliHarness('corfu-bench-compare-', { runTimeoutMs: 180_000, readyTimeoutMs: 30_000 });
const onPath = (p: string): boolean => spawnSync('/bin/sh', ['-c', `command -v ${p}`]).status === 0;
const peers = ['fio', 'redis-server', 'redis-benchmark'].every(onPath);

/** A second's run of 2 connections or clients, after a fifth of a second's warm-up. */
const SHORT = ['--seconds', '1', '--warmup', '0.2', '--clients', '2'];

const redisDirs = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('corfu-bench-redis-'));

describe('corfu bench compare', () => {
  it('has its peers wherever CI says it must', () => {
    if (process.env['REQUIRE_BENCH_PEERS'] === '1') expect(peers, 'fio, redis-server or redis-benchmark is missing but REQUIRE_BENCH_PEERS=1').toBe(true);
  });

  it.skipIf(!peers)('runs Corfu and each peer back to back and prints both figures, the ratio and the copies each keeps', () => {
    const json = join(dir, 'compare.json');
    const report = join(dir, 'compare.html');
    const before = redisDirs();
    const r = corfu(
      'bench',
      'compare',
      ...SHORT,
      '--depth',
      '4',
      '--entry-size',
      '64',
      '--device-size',
      '64M',
      '--units',
      '2',
      '--replicas',
      '2',
      '--unit-size',
      '64M',
      '--json',
      json,
      '--report',
      report,
    );
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    const res = resultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(res.comparison.map((c) => c.pair)).toEqual([
      'engine vs fio, 4 KiB sequential writes, native writer',
      'engine vs fio, 4 KiB sequential writes, from JS',
      'engine vs fio, 4 KiB random reads, native reader',
      'engine vs fio, 4 KiB random reads, from JS',
      'sequencer vs Redis INCR',
      'appends vs Redis XADD',
    ]);
    for (const c of res.comparison) {
      expect(c.corfu_per_s, c.pair).toBeGreaterThan(0);
      expect(c.peer_per_s, c.pair).toBeGreaterThan(0);
      expect(c.ratio, c.pair).toBeCloseTo(c.corfu_per_s / c.peer_per_s, 2);
    }
    const xadd = res.comparison.at(-1)!;
    expect(xadd.peer_copies).toMatch(/^1 copy on 1 node \(appendonly yes, appendfsync always\)$/);
    expect(xadd.corfu_copies).toMatch(/^2 copies on 2 nodes/);
    expect(res.config).toMatchObject({ entry_size_bytes: 64, clients: 2, depth: 4, duration_s: 1 });
    // Every Corfu and Redis run shows its load generator's CPU.
    for (const run of res.runs.filter((x) => x.system === 'corfu' || x.system === 'redis')) {
      const gen = run.cpu.find((c) => c.role === (run.system === 'redis' ? 'load-generator' : 'bench'));
      expect(gen, run.label).toBeDefined();
      expect(gen!.cpu_s, run.label).toBeGreaterThan(0);
    }
    expect(res.runs.find((x) => x.op === 'xadd')!.cpu.map((c) => c.name)).toEqual(['redis-server', 'redis-benchmark']);
    // The table on stdout says it, and so does the report.
    expect(r.stdout).toMatch(/^appends vs Redis XADD +[\d,]+\/s +[\d,]+\/s +\d+\.\d{3} /m);
    expect(r.stdout).toContain('Redis keeps one copy of each entry on one node; Corfu keeps 2');
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('appends vs Redis XADD');
    expect(html).toContain('1 copy on 1 node');
    // The report draws its charts (Chromium, where installed: test/bench.report.test.ts says more).
    if (onPath('chromium')) {
      const dom = spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP * ~NOTFOUND', '--virtual-time-budget=10000', '--dump-dom', `file://${report}`], {
        encoding: 'utf8',
        timeout: 90_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(dom.stdout).toMatch(/<body[^>]*data-charts-rendered="yes"/);
    }
    // The Redis servers and their directories are gone.
    expect(redisDirs()).toEqual(before);
  });

  it.skipIf(!peers)('with --batch: Corfu appends in appendBatch calls, and Redis pipelines as many XADDs per connection', () => {
    const json = join(dir, 'compare-batch.json');
    const r = corfu('bench', 'compare', '--pairs', 'append', ...SHORT, '--depth', '2', '--batch', '8', '--units', '2', '--unit-size', '64M', '--json', json);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    const res = resultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(res.config).toMatchObject({ clients: 2, depth: 2, batch_entries: 8 });
    const [row] = res.comparison;
    expect(row!.pair).toBe('appends vs Redis XADD');
    expect(row!.ratio).toBeCloseTo(row!.corfu_per_s / row!.peer_per_s, 2);
    // 2 x 2 x 8 entries in flight on each side.
    expect(row!.conditions).toContain('32 in flight on both sides: Corfu 2 CorfuClient(s) x 2 appendBatch calls of 8 entries');
    expect(row!.conditions).toContain('redis-benchmark -c 2 -P 16');
    const xadd = res.runs.find((x) => x.op === 'xadd')!;
    expect(xadd.notes.join('\n')).toContain('-c 2 -P 16');
  });
});
