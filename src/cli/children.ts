// The `corfu` servers a local cluster runs as children of this process (`corfu up`,
// and `corfu bench --local`): each started with this very CLI, its stderr in a log file,
// ready once it prints its `listening HOST:PORT` line, and told to exit with its parent
// (EXIT_WITH_PARENT_ENV) so a crashed parent leaves no orphans behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { EXIT_WITH_PARENT_ENV } from './exit-with-parent.js';
import { FatalError } from './fatal-error.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const LISTEN_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export interface Child {
  readonly name: string;
  readonly log: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  address?: string;
  /** Its admin listener (`admin HOST:PORT`, printed before it is ready). */
  admin?: string;
}

/** The last line of a child's log; its message when it is a JSON log line (src/cli/log.ts). */
function lastLine(path: string): string {
  let line: string;
  try {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    line = lines[lines.length - 1] ?? '';
  } catch {
    return '';
  }
  try {
    const o = JSON.parse(line) as { msg?: unknown; code?: unknown };
    if (typeof o.msg === 'string') return typeof o.code === 'string' ? `${o.code}: ${o.msg}` : o.msg;
  } catch {
    // Not a log line (a crash's stack): as it is.
  }
  return line;
}

export function startChild(name: string, args: string[], logDir: string, registry: Child[], ready = /^listening (\S+)$/): Promise<Child> {
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', fd], env: { ...process.env, [EXIT_WITH_PARENT_ENV]: '1' } });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<number | null>((res) => proc.once('exit', (code, signal) => res(code ?? (signal === null ? null : -1))));
  const child: Child = { name, log, proc, exited };
  registry.push(child);
  return new Promise<Child>((resolveChild, reject) => {
    const timer = setTimeout(() => reject(new FatalError(`${name} did not print ${String(ready)} within ${LISTEN_TIMEOUT_MS} ms; see ${log}`)), LISTEN_TIMEOUT_MS);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      const admin = /^admin (\S+)$/.exec(line);
      if (admin?.[1] !== undefined) child.admin = admin[1];
      const m = ready.exec(line);
      if (m !== null && child.address === undefined) {
        child.address = m[1] ?? name;
        clearTimeout(timer);
        resolveChild(child);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (child.address === undefined) {
        const why = lastLine(log);
        reject(new FatalError(`${name} exited (code ${String(code)}) before listening${why === '' ? '' : `: ${why}`} (see ${log})`));
      }
    });
    // Keep draining stdout so the child never blocks on a full pipe.
    proc.stdout!.resume();
  });
}

export async function stopAll(children: readonly Child[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
      child.proc.kill('SIGTERM');
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await child.exited;
      clearTimeout(timer);
    }),
  );
}
