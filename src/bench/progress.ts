// The live view while a benchmark runs: a cli-progress bar on stderr with the
// throughput of the last second. Only on a terminal: piped or redirected output (a
// script, CI, a test) stays clean, and stdout carries only the results.

import { SingleBar } from 'cli-progress';

export interface Progress {
  /** `ops`: operations measured so far; `elapsedS`: of the measured window (0 in the warm-up). */
  update(ops: number, elapsedS: number, warming: boolean): void;
  stop(): void;
}

const NONE: Progress = { update: () => {}, stop: () => {} };

export function startProgress(label: string, goal: { seconds: number } | { count: number }, enabled: boolean): Progress {
  if (!enabled || process.stderr.isTTY !== true) return NONE;
  const bySeconds = 'seconds' in goal;
  // The bar counts tenths of a second, or operations.
  const total = bySeconds ? Math.round(goal.seconds * 10) : goal.count;
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {phase} | {elapsed_s} s | {rate} ops/s (last second) | {ops} ops`,
    hideCursor: true,
    barsize: 24,
    fps: 8,
  });
  bar.start(total, 0, { phase: 'warm-up', elapsed_s: '0.0', rate: '-', ops: 0 });
  // The rate over the last second: (time, ops) samples, the oldest dropped past 1 s.
  const samples: Array<{ t: number; ops: number }> = [];
  return {
    update(ops, elapsedS, warming) {
      const t = performance.now();
      samples.push({ t, ops });
      while (samples.length > 2 && t - samples[0]!.t > 1000) samples.shift();
      const first = samples[0]!;
      const rate = t > first.t ? Math.round(((ops - first.ops) * 1000) / (t - first.t)) : 0;
      const value = bySeconds ? Math.min(total, Math.round(elapsedS * 10)) : Math.min(total, ops);
      bar.update(value, { phase: warming ? 'warm-up' : 'measuring', elapsed_s: elapsedS.toFixed(1), rate: warming ? '-' : rate.toLocaleString('en-US'), ops: ops.toLocaleString('en-US') });
    },
    stop() {
      bar.stop();
    },
  };
}
