// A Redis figure as a run of the result: redis-server started for it (bench/peers/redis.ts),
// a calibration run of redis-benchmark that also warms it up, then a measured run
// sized to last about as long as Corfu's window (redis-benchmark counts requests, not
// seconds). CPU: redis-server's from /proc over the measured run, redis-benchmark's
// (the load generator) from this process's waited-for children.

import { performance } from 'node:perf_hooks';

import { runRedisBenchmark, startRedis, type RedisDurability, type RedisLoad } from '../../bench/peers/redis.js';
import { CpuMeter, type ProcessCpu } from './cpu.js';
import type { RunFigures } from './schema.js';

export interface RedisRunSpec {
  readonly label: string;
  readonly op: string;
  readonly durability: RedisDurability;
  readonly clients: number;
  readonly pipeline: number;
  readonly test: RedisLoad['test'];
  readonly seconds: number;
  /** Payload bytes per request (null: none). */
  readonly bytesPerOp: number | null;
  readonly notes: readonly string[];
}

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;

export async function redisRun(spec: RedisRunSpec): Promise<{ run: RunFigures; version: string }> {
  const server = await startRedis(spec.durability);
  try {
    const load = { port: server.port, clients: spec.clients, pipeline: spec.pipeline, test: spec.test };
    // Calibration (and warm-up): enough requests for every connection to fill its pipeline many times.
    const calibration = await runRedisBenchmark({ ...load, requests: Math.max(2000, spec.clients * spec.pipeline * 50) });
    const requests = Math.max(1000, Math.round(calibration.rps * spec.seconds));
    const meter = new CpuMeter([{ role: 'peer', name: 'redis-server', pid: server.pid }]);
    meter.start(performance.now());
    const sampler = setInterval(() => meter.sample(performance.now()), 1000);
    const r = await runRedisBenchmark({ ...load, requests }).finally(() => clearInterval(sampler));
    const serverCpu = meter.stop(performance.now(), requests);
    const genCpu = r.cpuUserS + r.cpuSystemS;
    const generator: ProcessCpu = {
      role: 'load-generator',
      name: 'redis-benchmark',
      pid: r.pid,
      user_s: round(r.cpuUserS, 3),
      system_s: round(r.cpuSystemS, 3),
      cpu_s: round(genCpu, 3),
      cpu_share: r.wallS > 0 ? round(genCpu / r.wallS, 3) : 0,
      cpu_us_per_op: round((genCpu * 1e6) / requests, 1),
    };
    const durationS = r.rps > 0 ? requests / r.rps : r.wallS;
    const run: RunFigures = {
      label: spec.label,
      system: 'redis',
      op: spec.op,
      duration_s: round(durationS, 6),
      ops: requests,
      ops_per_s: round(r.rps, 1),
      items_per_op: 1,
      items_per_s: round(r.rps, 1),
      bytes_per_s: spec.bytesPerOp === null ? null : round(r.rps * spec.bytesPerOp),
      latency_us: { count: requests, min_us: r.minUs, mean_us: r.avgUs, p50_us: r.p50Us, p90_us: null, p99_us: r.p99Us, p999_us: null, max_us: r.maxUs },
      percentiles: [
        { percentile: 50, latency_us: r.p50Us },
        { percentile: 95, latency_us: r.p95Us },
        { percentile: 99, latency_us: r.p99Us },
        { percentile: 100, latency_us: r.maxUs },
      ],
      series: [],
      histogram_hdr: null,
      cpu: [...serverCpu, generator],
      cpu_series: meter.seconds,
      generator: 'redis-benchmark',
      notes: [...spec.notes, `redis-benchmark ${r.args.join(' ')} (after a calibration run of ${calibration.requests} requests)`, `${server.version}`],
    };
    return { run, version: server.version };
  } finally {
    await server.stop();
  }
}
