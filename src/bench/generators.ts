// `--procs K`: the load from K child processes (generator-main.ts) instead of this one,
// so that one Node process's CPU is not what limits the figure. The connections (or
// clients) are split among them; they start their windows together (each says `ready`,
// then all get `go`), and their recordings are merged (merge.ts), their read-backs
// added. Their CPU is measured from /proc like every other process's, as
// `load-generator`s.

import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { CorfuError } from '../../bindings/errors.js';
import { CpuMeter, type ProcessRef } from './cpu.js';
import type { Goal, LoopResult } from './driver.js';
import type { GeneratorSpec } from './generator-main.js';
import { mergeRecorded } from './merge.js';
import { startProgress } from './progress.js';
import type { Recorded } from './recorder.js';
import type { VerifyFigures } from './schema.js';

const MAIN = fileURLToPath(new URL('./generator-main.js', import.meta.url));
const READY_TIMEOUT_MS = 15_000;

type ChildResult = Recorded & { duration_s: number; verify: VerifyFigures | null };

interface Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<ChildResult>;
  progress: number;
}

function startGenerator(spec: GeneratorSpec): Child {
  const proc = spawn(process.execPath, [MAIN, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const child: Partial<Child> & { progress: number } = { proc, progress: 0 };
  let ready!: () => void;
  let result!: (r: ChildResult) => void;
  let failed!: (e: Error) => void;
  const readyP = new Promise<void>((res) => (ready = res));
  const resultP = new Promise<ChildResult>((res, rej) => {
    result = res;
    failed = rej;
  });
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line === 'ready') ready();
    else if (line.startsWith('progress ')) child.progress = Number(line.slice(9));
    else if (line.startsWith('result ')) {
      const r = JSON.parse(line.slice(7)) as ChildResult & { failure: string | null };
      if (r.failure !== null) failed(new CorfuError('ERR_IO', `load generator ${proc.pid}: ${r.failure}`));
      else result(r);
    }
  });
  proc.once('exit', (code) => failed(new CorfuError('ERR_IO', `load generator ${proc.pid} exited (code ${String(code)}) without a result`)));
  // A failure before anyone awaits the result must not be an unhandled rejection.
  resultP.catch(() => {});
  return Object.assign(child, { ready: readyP, result: resultP }) as Child;
}

/** `total` split over `parts` as evenly as it goes: part `k`'s share. */
export function share(total: number, parts: number, k: number): number {
  return Math.floor(total / parts) + (k < total % parts ? 1 : 0);
}

/** A count goal split over the processes like the connections; a duration is everyone's. */
export function goalShare(goal: Goal, parts: number, k: number): Goal {
  return 'count' in goal ? { count: share(goal.count, parts, k) } : goal;
}

export interface GeneratorRun {
  readonly label: string;
  /** One spec per process. */
  readonly specs: readonly GeneratorSpec[];
  readonly warmupS: number;
  readonly goal: Goal;
  /** The other processes to measure (this one, the servers). */
  readonly processes: readonly ProcessRef[];
  readonly progress: boolean;
}

export async function runGenerators(o: GeneratorRun): Promise<{ rec: Recorded; loop: LoopResult; verify: VerifyFigures | null }> {
  const children: Child[] = [];
  try {
    for (const spec of o.specs) children.push(startGenerator(spec));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(children.map((c) => c.ready)),
      ...children.map((c) => c.result.then(() => undefined)),
      new Promise((_, rej) => (timer = setTimeout(() => rej(new CorfuError('ERR_TIMEOUT', `the load generators were not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS))),
    ]).finally(() => clearTimeout(timer));

    const refs: ProcessRef[] = [...o.processes, ...children.map((c, k) => ({ role: 'load-generator' as const, name: `generator-${k + 1}`, pid: c.proc.pid! }))];
    const cpu = new CpuMeter(refs);
    const bar = startProgress(`${o.label} x${o.specs.length}`, o.goal, o.progress);
    for (const c of children) c.proc.stdin!.write('go\n');
    const go = performance.now();
    let windowOpen = false;
    let windowClosed = false;
    let lastSample = 0;
    let rows: LoopResult['cpu'] = [];
    const ops = (): number => children.reduce((a, c) => a + c.progress, 0);
    // The children open their windows after the warm-up from `go`, and (with a duration) close them after it.
    const opener = setTimeout(() => {
      windowOpen = true;
      lastSample = performance.now();
      cpu.start(lastSample);
    }, o.warmupS * 1000);
    const closer =
      'seconds' in o.goal
        ? setTimeout(
            () => {
              windowClosed = true;
              rows = cpu.stop(performance.now(), 0);
            },
            (o.warmupS + o.goal.seconds) * 1000,
          )
        : undefined;
    const ticker = setInterval(() => {
      const now = performance.now();
      const elapsed = (now - go) / 1000 - o.warmupS;
      if (windowOpen && !windowClosed && now - lastSample >= 1000) {
        cpu.sample(now);
        lastSample = now;
      }
      bar.update(ops(), Math.max(0, elapsed), elapsed < 0);
    }, 250);
    let results;
    try {
      results = await Promise.all(children.map((c) => c.result));
    } finally {
      clearInterval(ticker);
      clearTimeout(opener);
      clearTimeout(closer);
      bar.stop();
    }
    if (!windowOpen) cpu.start(performance.now());
    if (!windowClosed) rows = cpu.stop(performance.now(), 0);
    const rec = mergeRecorded(results);
    const verifies = results.map((r) => r.verify).filter((v): v is VerifyFigures => v !== null);
    const verify =
      verifies.length === 0
        ? null
        : {
            appended: verifies.reduce((a, v) => a + v.appended, 0),
            read_back: verifies.reduce((a, v) => a + v.read_back, 0),
            missing: verifies.reduce((a, v) => a + v.missing, 0),
            mismatched: verifies.reduce((a, v) => a + v.mismatched, 0),
            first_problem: verifies.find((v) => v.first_problem !== null)?.first_problem ?? null,
          };
    return { rec, loop: { duration_s: Math.max(...results.map((r) => r.duration_s)), cpu: rows, cpu_series: cpu.seconds }, verify };
  } finally {
    // Each child exits once its stdin closes; one that does not is killed.
    await Promise.all(
      children.map(async (c) => {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
        const exited = new Promise((res) => c.proc.once('exit', res));
        c.proc.stdin!.end();
        const timer = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
