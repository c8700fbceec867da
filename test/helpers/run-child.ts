// Runs a child process to its end and collects everything it printed, stdout and stderr
// interleaved as they came: what the fault runs (test/faults/run-compiled.ts) and the clean
// simulator campaign (test/sim/sim.clean.test.ts) share. A child that outlives its budget
// gets `budgetSignal`.

import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildRun {
  /** Exit code (null: ended by a signal). */
  readonly code: number | null;
  readonly out: string;
}

export interface ChildOptions {
  readonly cwd: string;
  readonly budgetMs: number;
  /** SIGTERM lets a child clean up (the fault runs remove their namespaces and devices); SIGKILL does not wait. */
  readonly budgetSignal: NodeJS.Signals;
  /** Hears the child once it is spawned (to kill it if the test ends first). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

export async function runChild(command: string, args: readonly string[], options: ChildOptions): Promise<ChildRun> {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  options.onSpawn?.(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const timer = setTimeout(() => child.kill(options.budgetSignal), options.budgetMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, out };
}
