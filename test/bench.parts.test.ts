// The pure parts of `corfu bench`, without a cluster: the latency curve, the per-second
// series, merging several generators' recordings, redis-benchmark's CSV, the CPU of a
// process from /proc, finding the process behind a listening port, describing a device.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseRedisBenchmarkCsv } from '../bench/peers/redis.js';
import { CpuMeter } from '../src/bench/cpu.js';
import { newHistogram, percentileCurve, recordUs, summarize } from '../src/bench/histogram.js';
import { pidsListeningOn, localPort } from '../src/bench/listeners.js';
import { deviceInfo } from '../src/bench/machine.js';
import { mergeRecorded } from '../src/bench/merge.js';
import { OpRecorder, Window } from '../src/bench/recorder.js';
import { PerSecondSeries } from '../src/bench/series.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-bench-parts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('latency', () => {
  it('summarizes in µs and never reports a percentile above the maximum', () => {
    const h = newHistogram();
    for (let us = 1; us <= 1000; us++) recordUs(h, us);
    recordUs(h, 123_457);
    const s = summarize(h);
    expect(s).toMatchObject({ count: 1001, min_us: 1, max_us: 123_457 });
    expect(s.p50_us).toBeGreaterThanOrEqual(499);
    expect(s.p50_us).toBeLessThanOrEqual(502);
    for (const p of [s.p50_us, s.p90_us, s.p99_us, s.p999_us]) expect(p).toBeLessThanOrEqual(s.max_us);
  });

  it('draws the curve in nines up to what the count resolves, then the maximum', () => {
    const h = newHistogram();
    for (let i = 0; i < 10_000; i++) recordUs(h, 100 + (i % 1000));
    const curve = percentileCurve(h);
    expect(curve[0]!.percentile).toBe(50);
    expect(curve.at(-1)).toEqual({ percentile: 100, latency_us: h.maxValue });
    // 10,000 samples resolve 99.98 % but not 99.999 %.
    expect(curve.at(-2)!.percentile).toBeGreaterThanOrEqual(99.98);
    expect(curve.at(-2)!.percentile).toBeLessThan(99.999);
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i]!.percentile).toBeGreaterThan(curve[i - 1]!.percentile);
      expect(curve[i]!.latency_us).toBeGreaterThanOrEqual(curve[i - 1]!.latency_us);
    }
  });
});

describe('the per-second series', () => {
  it('counts each second, zeros for empty ones, and folds a sliver at the end into the last second', () => {
    const s = new PerSecondSeries();
    for (let i = 0; i < 10; i++) s.record(100 + i, 50);
    for (let i = 0; i < 20; i++) s.record(2500 + i, 70);
    s.record(3020, 90); // in the sliver after 3 s
    const points = s.finish(3030);
    expect(points.map((p) => p.ops)).toEqual([10, 0, 21]);
    expect(points[1]).toMatchObject({ ops_per_s: 0, p50_us: 0 });
    expect(points[2]!.t_s).toBe(3.03);
    expect(points[2]!.ops_per_s).toBe(Math.round(21 / 1.03));
  });

  it("makes the run's distribution from its seconds: every operation inside the window once, the sliver's too", () => {
    const w = new Window();
    w.open(0);
    const rec = new OpRecorder(w);
    const direct = newHistogram();
    const ops: [number, number][] = [];
    for (let i = 0; i < 3000; i++) ops.push([i + 0.5, 10 + ((i * 7919) % 5000)]);
    ops.push([3010, 99_000]); // in the sliver after 3 s
    ops.push([3050, 1]); // after the window closes: not counted
    w.close(3020);
    for (const [t1, us] of ops) {
      rec.recordLatency(t1, us);
      if (t1 <= 3020) recordUs(direct, us);
    }
    const out = rec.finish();
    expect(out.ops).toBe(3001);
    expect(out.latency_us).toEqual(summarize(direct));
    expect(out.latency_us.max_us).toBe(99_000);
    expect(out.percentiles).toEqual(percentileCurve(direct));
  });

  it('keeps a last partial second of its own when it is long enough', () => {
    const s = new PerSecondSeries();
    s.record(500, 10);
    s.record(1200, 10);
    const points = s.finish(1500);
    expect(points.map((p) => [p.t_s, p.ops, p.ops_per_s])).toEqual([
      [1, 1, 1],
      [1.5, 1, 2],
    ]);
  });
});

describe('merging generator processes', () => {
  it('adds histograms and series exactly', () => {
    const record = (values: number[][]): ReturnType<OpRecorder['finish']> => {
      const w = new Window();
      w.open(0);
      const rec = new OpRecorder(w, true);
      values.forEach((second, i) => second.forEach((us) => rec.recordLatency(i * 1000 + 10, us)));
      w.close(values.length * 1000);
      return rec.finish();
    };
    const a = record([
      [10, 20],
      [30, 40, 50],
    ]);
    const b = record([[1000], [2000, 3000]]);
    const all = record([
      [10, 20, 1000],
      [30, 40, 50, 2000, 3000],
    ]);
    const merged = mergeRecorded([a, b]);
    expect(merged.ops).toBe(8);
    expect(merged.latency_us).toEqual(all.latency_us);
    expect(merged.percentiles).toEqual(all.percentiles);
    expect(merged.series).toEqual(all.series);
  });
});

describe("redis-benchmark's CSV", () => {
  it('reads the last row, in µs', () => {
    const csv = [
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
      '"XADD corfu-bench * e xxxx","246913.58","0.116","0.040","0.119","0.175","0.215","4.863"',
    ].join('\n');
    expect(parseRedisBenchmarkCsv(csv)).toEqual({ test: 'XADD corfu-bench * e xxxx', rps: 246913.58, avgUs: 116, minUs: 40, p50Us: 119, p95Us: 175, p99Us: 215, maxUs: 4863 });
  });

  it('refuses output without a result', () => {
    expect(() => parseRedisBenchmarkCsv('Could not connect to Redis at 127.0.0.1:1: Connection refused')).toThrow(/no CSV result/);
  });
});

describe('processes and devices', () => {
  it('measures the CPU of a process from /proc', () => {
    const meter = new CpuMeter([{ role: 'bench', name: 'me', pid: process.pid }]);
    meter.start(performance.now());
    const until = Date.now() + 150;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const [row] = meter.stop(performance.now(), 10);
    expect(row!.name).toBe('me');
    expect(row!.cpu_s).toBeGreaterThan(0);
    expect(row!.cpu_s).toBeCloseTo(row!.user_s + row!.system_s, 3);
    expect(row!.cpu_us_per_op).toBeCloseTo((row!.cpu_s / 10) * 1e6, -1);
  });

  it('finds the process listening on a loopback port', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      expect(localPort(`127.0.0.1:${port}`)).toBe(port);
      expect(localPort(`10.1.2.3:${port}`)).toBeUndefined();
      expect(pidsListeningOn([port]).get(port)).toBe(process.pid);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('describes the filesystem and block device under a file', () => {
    const file = join(dir, 'f.img');
    writeFileSync(file, 'x');
    const d = deviceInfo(file);
    expect(d).toMatchObject({ path: file, kind: 'file' });
    expect(d.filesystem).not.toBeNull();
    expect(d.mount_point).not.toBeNull();
    expect(deviceInfo(join(dir, 'missing')).kind).toBe('missing');
  });
});
