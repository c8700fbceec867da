// The closed loop every Corfu workload runs: `workers` loops, each starting its next
// operation when its last one ends (so `workers` operations are in flight at all
// times), a warm-up that is not counted, then a measured window of `seconds` or of
// `count` operations. While it runs: the progress bar, and a CPU sample of every
// process once a second. An operation that fails stops every loop and fails the run:
// a benchmark that swallowed errors would report the speed of failing.

import { performance } from 'node:perf_hooks';

import { CpuMeter, type ProcessCpu, type ProcessRef, type CpuSecond } from './cpu.js';
import { startProgress, type Progress } from './progress.js';
import type { Window } from './recorder.js';

export type Goal = { readonly seconds: number } | { readonly count: number };

export interface LoopOptions {
  readonly label: string;
  readonly workers: number;
  readonly warmupS: number;
  readonly goal: Goal;
  readonly window: Window;
  readonly processes: readonly ProcessRef[];
  readonly progress: boolean;
  /** Operations measured so far: the progress bar's count, and the CPU per operation. */
  readonly measured: () => number;
  /** One operation of worker `w` (this or `start`). */
  readonly op?: (w: number) => Promise<void>;
  /**
   * One operation of worker `w`, which calls `ok` when it ends or `failed` (this or `op`):
   * for a workload whose operation is so cheap that an async frame and its awaits per
   * operation would be a visible part of the CPU the run reports (single appends).
   */
  readonly start?: (w: number, ok: () => void, failed: (err: unknown) => void) => void;
  /** Work beside the loops (a follower): started with them, told to stop at the end, awaited. */
  readonly background?: ReadonlyArray<{ run: () => Promise<void>; stop: () => void }>;
  /** Called once the loops have stopped and the window is closed: followers catch up here. */
  readonly drain?: () => Promise<void>;
}

export interface LoopResult {
  readonly duration_s: number;
  readonly cpu: ProcessCpu[];
  readonly cpu_series: CpuSecond[];
}

const TICK_MS = 250;

/**
 * What a run shows while it runs, and measures around its window: the progress bar every
 * TICK_MS and, while the window is open, each process's share of a CPU once a second. The
 * Node loops (closedLoop) and the native TOKEN generator (native-tokens.ts) share it.
 */
export class RunWatch {
  readonly cpu: CpuMeter;
  readonly #window: Window;
  readonly #measured: () => number;
  readonly #progress: Progress;
  readonly #ticker: NodeJS.Timeout;
  #lastCpuSample = 0;

  constructor(o: { label: string; goal: Goal; progress: boolean; processes: readonly ProcessRef[]; window: Window; measured: () => number }) {
    this.cpu = new CpuMeter(o.processes);
    this.#window = o.window;
    this.#measured = o.measured;
    this.#progress = startProgress(o.label, o.goal, o.progress);
    this.#ticker = setInterval(() => {
      const now = performance.now();
      this.#progress.update(this.#measured(), this.#window.seconds(now), this.#window.start === Infinity);
      if (this.#window.isOpen && now - this.#lastCpuSample >= 1000) {
        this.cpu.sample(now);
        this.#lastCpuSample = now;
      }
    }, TICK_MS);
  }

  /** Opens the window at `now`: the CPU figures start there. */
  open(now: number): void {
    this.#window.open(now);
    this.cpu.start(now);
    this.#lastCpuSample = now;
  }

  /** Closes the window at `now`: each process's CPU over it, per operation of `ops`. */
  close(now: number, ops: number): ProcessCpu[] {
    this.#window.close(now);
    return this.cpu.stop(now, ops);
  }

  /** Stops the ticker; the bar shows the last count. */
  stop(): void {
    clearInterval(this.#ticker);
    this.#progress.update(this.#measured(), this.#window.seconds(performance.now()), false);
    this.#progress.stop();
  }
}

export async function closedLoop(o: LoopOptions): Promise<LoopResult> {
  const w = o.window;
  const watch = new RunWatch(o);
  const count = 'count' in o.goal ? o.goal.count : Infinity;
  let stopped = false;
  let issued = 0;
  let failure: { err: unknown } | undefined;
  const fail = (err: unknown): void => {
    failure ??= { err };
    stopped = true;
  };

  /** Whether a worker starts another operation (one more toward a count goal). */
  const another = (): boolean => {
    if (stopped) return false;
    if (w.isOpen) {
      if (issued >= count) return false;
      issued++;
    }
    return true;
  };
  const loop = async (op: (w: number) => Promise<void>, worker: number): Promise<void> => {
    while (another()) await op(worker);
  };
  const chain = (start: NonNullable<LoopOptions['start']>, worker: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const next = (): void => {
        if (!another()) return resolve();
        try {
          start(worker, next, reject);
        } catch (err) {
          reject(err);
        }
      };
      next();
    });
  if ((o.op === undefined) === (o.start === undefined)) throw new Error('closedLoop: give exactly one of op and start');
  const loops = Array.from({ length: o.workers }, (_, i) => (o.op !== undefined ? loop(o.op, i) : chain(o.start!, i)).catch(fail));
  const background = (o.background ?? []).map((b) => b.run().catch(fail));

  let rows: ProcessCpu[] = [];
  // The window ends when the time is up (or, with a count, when its last operation is
  // in): the CPU figures end there too, before stragglers and followers catch up.
  const closeWindow = (): void => {
    if (w.start === Infinity || w.end !== Infinity) return;
    rows = watch.close(performance.now(), o.measured());
  };
  try {
    await Promise.race([sleep(o.warmupS * 1000), Promise.all(loops)]);
    if (!stopped) {
      watch.open(performance.now());
      if ('seconds' in o.goal) {
        await Promise.race([sleep(o.goal.seconds * 1000), Promise.all(loops)]);
        closeWindow();
        stopped = true;
      }
    }
    await Promise.all(loops);
    closeWindow();
    stopped = true;
    if (o.drain !== undefined && failure === undefined) await o.drain().catch(fail);
    for (const b of o.background ?? []) b.stop();
    await Promise.all(background);
    if (failure !== undefined) throw failure.err;
    return { duration_s: Math.round(w.seconds(Infinity) * 1e6) / 1e6, cpu: rows, cpu_series: watch.cpu.seconds };
  } finally {
    watch.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
