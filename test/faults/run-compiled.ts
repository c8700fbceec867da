// What the two fault-run tests (faults.test.ts, hosts.test.ts) share: compile
// test/faults into a directory of its own (the two may run at once), run one
// of its entry points as a child process, and collect everything it printed.
// A child that outlives its budget gets SIGTERM, on which the runs clean up
// (namespaces, loop devices, etcd's data) before they exit.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runChild, type ChildRun } from '../helpers/run-child.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Compiles test/faults into `outDir` (under the repository), runs `outDir/test/faults/MAIN ARGS`, SIGTERMs it after `budgetMs`. */
export async function runCompiled(outDir: string, main: string, args: readonly string[], budgetMs: number): Promise<ChildRun> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'test', 'faults', 'tsconfig.json'), '--outDir', join(ROOT, outDir)], { cwd: ROOT, stdio: 'inherit' });
  return runChild(process.execPath, [join(ROOT, outDir, 'test', 'faults', main), ...args], { cwd: ROOT, budgetMs, budgetSignal: 'SIGTERM' });
}
