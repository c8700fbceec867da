// What the two fault-run tests (faults.test.ts, hosts.test.ts) share: compile
// test/faults into a directory of its own (the two may run at once), run one
// of its entry points as a child process, and collect everything it printed.
// A child that outlives its budget gets SIGTERM, on which the runs clean up
// (namespaces, loop devices, etcd's data) before they exit.

import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CompiledRun {
  /** Exit code (null: ended by a signal). */
  readonly code: number | null;
  /** stdout and stderr, interleaved as they came. */
  readonly out: string;
}

/** Compiles test/faults into `outDir` (under the repository), runs `outDir/test/faults/MAIN ARGS`, SIGTERMs it after `budgetMs`. */
export async function runCompiled(outDir: string, main: string, args: readonly string[], budgetMs: number): Promise<CompiledRun> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'test', 'faults', 'tsconfig.json'), '--outDir', join(ROOT, outDir)], { cwd: ROOT, stdio: 'inherit' });
  const child = spawn(process.execPath, [join(ROOT, outDir, 'test', 'faults', main), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const timer = setTimeout(() => child.kill('SIGTERM'), budgetMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, out };
}
