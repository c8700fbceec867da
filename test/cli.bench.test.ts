// `corfu bench append` as a user runs it, against a real `corfu up` cluster.
// Checks the shape of the figures, never their values (a benchmark, not a test).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resultSchema } from '../src/bench/schema.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corfu-bench-test-'));
const procs: ChildProcess[] = [];

afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM'); // `corfu up` stops its units and sequencer
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
});

function corfu(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('corfu bench append', () => {
  let layout = '';

  beforeAll(async () => {
    const proc = spawn(process.execPath, [CLI, 'up', '--dir', join(dir, 'cluster'), '--units', '4', '--replicas', '2', '--size', '16M'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(proc);
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    layout = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`corfu up not serving in time: ${err}`)), 30_000);
      let url = '';
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const m = /^layout URL: (\S+)$/.exec(line);
        if (m !== null) url = m[1]!;
        if (line.startsWith('serving')) {
          clearTimeout(timer);
          resolve(url);
        }
      });
      proc.once('exit', (code) => reject(new Error(`corfu up exited ${String(code)}: ${err}`)));
    });
  });

  it('runs for a second and writes the figures and the configuration as JSON', () => {
    const json = join(dir, 'bench.json');
    const r = corfu('bench', 'append', '--layout', layout, '--clients', '2', '--depth', '4', '--entry-size', '128', '--seconds', '1', '--warmup', '0.2', '--json', json);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^appends\/s: +\d+$/m);
    expect(r.stdout).toMatch(/p50 [\d.]+ +p99 [\d.]+ +p99\.9 [\d.]+ +max [\d.]+/);
    const out = resultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    const run = out.runs[0]!;
    expect(run.op).toBe('append');
    expect(run.ops_per_s).toBeGreaterThan(0);
    for (const k of ['p50_us', 'p99_us', 'p999_us', 'max_us'] as const) expect(run.latency_us![k], k).toBeGreaterThan(0);
    expect(run.latency_us!.p50_us).toBeLessThanOrEqual(run.latency_us!.max_us);
    expect(out.config).toMatchObject({ clients: 2, depth: 4, entry_size_bytes: 128, duration_s: 1 });
    expect(out.target).toMatchObject({ kind: 'layout', stripes: 2, replicas: 2, sync: 'always' });
  });

  it.each([
    ['--clients', '0'],
    ['--depth', 'x'],
    ['--seconds', '-1'],
    ['--entry-size', 'big'],
    ['--bogus', '1'],
  ])('exits 2 with one line on %s %s', (flag, value) => {
    const r = corfu('bench', 'append', '--layout', layout, flag, value, '--seconds', flag === '--seconds' ? value : '1');
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('exits 2 without --layout', () => {
    const r = corfu('bench', 'append');
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
