// The `tokens` workload's native generator (`--generator native`, the default): the
// addon's TokenLoad (native/engine/src/token_load.rs) keeps `depth` TOKEN requests in
// flight on each of `connections` sockets from one thread of this process, and this
// module runs its window the way closedLoop runs a Node one: a warm-up, the measured
// seconds, and the same RunWatch (the progress bar, a CPU sample of every process each
// second). Its latencies
// come back per second as (whole µs, count) and go into the same recorder, so the JSON,
// the report and the merge are the same as with the Node generator.
//
// Why: a Node generator spends 1-2 µs of CPU per TOKEN, more than the sequencer's TOKEN
// path (0.5-0.7 µs): on two cores it set the figure, not the sequencer. Redis's side of
// `bench compare` is driven by redis-benchmark, which is C. Its CPU is this process's,
// shown as `bench` like every generator's.

import { performance } from 'node:perf_hooks';

import { CorfuError } from '../../bindings/errors.js';
import { loadNative } from '../../bindings/native.js';
import type { NativeTokenLoadInstance } from '../../bindings/native-types.js';
import type { ProcessRef } from './cpu.js';
import { RunWatch, type LoopResult } from './driver.js';
import { OpRecorder, Window, type Recorded } from './recorder.js';

export interface NativeTokensOptions {
  readonly host: string;
  readonly port: number;
  readonly epoch: number;
  readonly connections: number;
  readonly depth: number;
  readonly batch: number;
  /** Poll without sleeping: the sequencer's answers then seldom wake a sleeping thread. */
  readonly busyPoll: boolean;
  readonly seconds: number;
  readonly warmupS: number;
  readonly processes: readonly ProcessRef[];
  readonly progress: boolean;
}

export interface NativeTokensOutput {
  readonly rec: Recorded;
  readonly loop: LoopResult;
  readonly firstToken: number | null;
  readonly tailAfter: number;
}

export async function nativeTokens(o: NativeTokensOptions): Promise<NativeTokensOutput> {
  let load: NativeTokenLoadInstance;
  try {
    load = loadNative().TokenLoad.start({ host: o.host, port: o.port, epoch: o.epoch, connections: o.connections, depth: o.depth, count: o.batch, busyPoll: o.busyPoll });
  } catch (err) {
    throw new CorfuError('ERR_UNAVAILABLE', `the native TOKEN generator cannot reach ${o.host}:${o.port}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const window = new Window();
  const watch = new RunWatch({ label: 'tokens', goal: { seconds: o.seconds }, progress: o.progress, processes: o.processes, window, measured: () => load.measured() });
  let closed = false;
  try {
    await sleepUnlessFailed(load, o.warmupS * 1000);
    load.open();
    watch.open(performance.now());
    await sleepUnlessFailed(load, o.seconds * 1000);
    const now = performance.now();
    const result = load.close();
    closed = true;
    const rows = watch.close(now, result.ops);
    if (result.failure !== undefined && result.failure !== null) throw new CorfuError('ERR_IO', `TOKEN(${o.batch}) at ${o.host}:${o.port}: ${result.failure}`);
    const rec = new OpRecorder(window);
    result.seconds.forEach((second, s) => {
      // Each second's operations, at its middle (or the window's end, for a last part-second).
      const at = Math.min(window.start + s * 1000 + 500, window.end);
      second.latencyUs.forEach((us, i) => rec.recordLatency(at, us, second.counts[i]));
    });
    return {
      rec: rec.finish(),
      loop: { duration_s: Math.round(window.seconds(Infinity) * 1e6) / 1e6, cpu: rows, cpu_series: watch.cpu.seconds },
      firstToken: result.firstToken ?? null,
      tailAfter: result.tailAfter,
    };
  } finally {
    if (!closed) load.close();
    watch.stop();
  }
}

/** Waits `ms`, or fails as soon as the generator reports a failure. */
async function sleepUnlessFailed(load: NativeTokenLoadInstance, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const failure = load.failure();
    if (failure !== null) throw new CorfuError('ERR_IO', `the native TOKEN generator: ${failure}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, end - performance.now())));
  }
}
