// Running the built `corfu` command as a user does: real processes, a temp dir per test
// file, every long-running process killed when the file ends.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, expect } from 'vitest';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface Started {
  proc: ChildProcess;
  out: string[];
  /** What it printed on stderr so far, one line each. */
  err: string[];
  exited: Promise<number | null>;
}

export interface CliHarness {
  dir: string;
  /** Runs `corfu ARGS` to completion. */
  corfu: (...args: string[]) => { code: number | null; stdout: string; stderr: string };
  /** Asserts `stderr` is exactly one line and no stack trace; returns it. */
  oneLine: (stderr: string) => string;
  /** Starts a long-running `corfu ...`; resolves once a stdout line matches `ready`. */
  startCorfu: (args: string[], ready: RegExp) => Promise<Started>;
}

export function cliHarness(prefix: string, opts: { runTimeoutMs: number; readyTimeoutMs: number }): CliHarness {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const procs: ChildProcess[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function corfu(...args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: opts.runTimeoutMs });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  function oneLine(stderr: string): string {
    const lines = stderr.trimEnd().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(stderr).not.toMatch(/^\s+at /m);
    return lines[0]!;
  }

  function startCorfu(args: string[], ready: RegExp): Promise<Started> {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(proc);
    const out: string[] = [];
    const errLines: string[] = [];
    createInterface({ input: proc.stderr }).on('line', (line) => errLines.push(line));
    const err = (): string => errLines.join('\n');
    const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${ready}; out: ${out.join('\n')}; err: ${err()}`)), opts.readyTimeoutMs);
      createInterface({ input: proc.stdout }).on('line', (line) => {
        out.push(line);
        if (ready.test(line)) {
          clearTimeout(timer);
          resolve({ proc, out, err: errLines, exited });
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited ${String(code)} before ready; out: ${out.join('\n')}; err: ${err()}`));
      });
    });
  }

  return { dir, corfu, oneLine, startCorfu };
}
