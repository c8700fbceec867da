// `corfu bench` workloads, each run for about a second as a user runs them: against a
// `corfu up` cluster (--layout) and against one the benchmark starts and removes
// (--local). Each checks that the JSON is complete (the schema, every run with
// figures, the configuration, the target and the machine) and that every entry the
// run appended reads back byte for byte (--verify). No timing is asserted: a
// benchmark's figures are not a test's business. Then the bad flags: one line each,
// a non-zero exit.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { resultSchema, type BenchResult } from '../src/bench/schema.js';
import { CLI, cliHarness, type Started } from './helpers/cli.js';

const { dir, corfu, oneLine, startCorfu } = cliHarness('corfu-bench-smoke-', { runTimeoutMs: 120_000, readyTimeoutMs: 60_000 });
const hasFio = spawnSync('/bin/sh', ['-c', 'command -v fio']).status === 0;

/** About a second of load after a short warm-up: enough to exercise every path, no more. */
const SHORT = ['--seconds', '1', '--warmup', '0.2'];

function run(name: string, ...args: string[]): BenchResult {
  const json = join(dir, `${name}.json`);
  const r = corfu('bench', ...args, '--json', json);
  expect(r.stderr).toBe('');
  expect(r.code, r.stdout).toBe(0);
  return resultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
}

/** What every result of a Corfu workload holds, whatever the workload. */
function expectComplete(res: BenchResult, workload: BenchResult['workload']): void {
  expect(res.workload).toBe(workload);
  expect(res.machine.cpus).toBeGreaterThan(0);
  expect(res.machine.kernel).not.toBe('');
  expect(res.target).not.toBeNull();
  for (const run of res.runs) {
    expect(run.ops, run.label).toBeGreaterThan(0);
    expect(run.duration_s, run.label).toBeGreaterThan(0);
    expect(run.latency_us!.count, run.label).toBe(run.ops);
    expect(run.series.length, run.label).toBeGreaterThan(0);
    expect(
      run.series.reduce((a, s) => a + s.ops, 0),
      run.label,
    ).toBe(run.ops);
    expect(run.percentiles.at(-1)!.percentile, run.label).toBe(100);
    expect(run.histogram_hdr, run.label).toMatch(/^[A-Za-z0-9+/=]+$/);
    // The CPU of this process, every unit and the sequencer: all found on this machine.
    const roles = run.cpu.map((c) => c.role).sort();
    expect(roles, run.label).toEqual(['bench', 'sequencer', ...Array<string>(res.target!.units.length).fill('unit')].sort());
  }
}

function expectReadBack(res: BenchResult): void {
  const v = res.verify!;
  expect(v.appended).toBeGreaterThan(0);
  expect(v).toMatchObject({ read_back: v.appended, missing: 0, mismatched: 0, first_problem: null });
}

describe('corfu bench workloads on a running cluster (--layout)', () => {
  let layout = '';
  let cluster: Started;

  beforeAll(async () => {
    cluster = await startCorfu(['up', '--dir', join(dir, 'cluster'), '--units', '4', '--replicas', '2', '--spares', '0', '--size', '64M'], /^serving/);
    layout = /^layout URL: (\S+)$/m.exec(cluster.out.join('\n'))![1]!;
  });

  it('append: figures, configuration, target and machine, and every appended entry reads back', () => {
    const res = run('append', 'append', '--layout', layout, '--clients', '2', '--depth', '4', '--entry-size', '100', ...SHORT, '--verify');
    expectComplete(res, 'append');
    expect(res.config).toMatchObject({ clients: 2, depth: 4, entry_size_bytes: 100, duration_s: 1, warmup_s: 0.2, verify: true });
    expect(res.target).toMatchObject({ kind: 'layout', layout, stripes: 2, replicas: 2, sync: 'always' });
    // The units' device files, found from their processes, are described (one filesystem: one entry).
    expect(res.machine.devices.length).toBeGreaterThan(0);
    expect(res.machine.devices[0]!.path).toMatch(/unit-\d\.img$/);
    expect(res.runs.map((r) => r.op)).toEqual(['append']);
    expectReadBack(res);
    // Warm-up appends are read back too.
    expect(res.verify!.appended).toBeGreaterThanOrEqual(res.runs[0]!.ops);
  });

  it('append --count: measures exactly that many appends', () => {
    const res = run('count', 'append', '--layout', layout, '--clients', '1', '--depth', '4', '--count', '300', '--warmup', '0', '--verify');
    expect(res.runs[0]!.ops).toBe(300);
    expect(res.config).toMatchObject({ count: 300, duration_s: null });
    expectReadBack(res);
  });

  it('append --batch: each call an appendBatch, every entry counted, every entry read back', () => {
    const res = run('batch', 'append', '--layout', layout, '--clients', '2', '--depth', '2', '--batch', '16', ...SHORT, '--verify');
    expectComplete(res, 'append');
    expect(res.config).toMatchObject({ batch_entries: 16 });
    // Entries are counted, 16 per call, and each call's entries all land in the window or none.
    expect(res.runs[0]!.ops % 16).toBe(0);
    expectReadBack(res);
    expect(res.verify!.appended % 16).toBe(0);
  });

  it('append --procs 2 --batch 4: generator processes append in batches too', () => {
    const res = run('batch-procs', 'append', '--layout', layout, '--clients', '2', '--depth', '1', '--procs', '2', '--batch', '4', ...SHORT, '--verify');
    expect(res.runs[0]!.ops % 4).toBe(0);
    expectReadBack(res);
  });

  it('append --procs 2: clients in two generator processes, each reading back its own entries', () => {
    const res = run('append-procs', 'append', '--layout', layout, '--clients', '2', '--depth', '2', '--procs', '2', ...SHORT, '--verify');
    const r = res.runs[0]!;
    expect(r.ops).toBeGreaterThan(0);
    expect(r.generator).toBe('2 processes');
    expect(r.cpu.filter((c) => c.role === 'load-generator').map((c) => c.name)).toEqual(['generator-1', 'generator-2']);
    expectReadBack(res);
    expect(res.verify!.appended).toBeGreaterThanOrEqual(r.ops);
  });

  it('mixed: appends and reads in one window, every appended entry reads back', () => {
    const res = run('mixed', 'mixed', '--layout', layout, '--clients', '2', '--depth', '4', '--read-fraction', '0.5', '--prefill', '200', ...SHORT, '--verify');
    expectComplete(res, 'mixed');
    expect(res.runs.map((r) => r.op)).toEqual(['append', 'read']);
    expect(res.config).toMatchObject({ read_fraction: 0.5, prefill_entries: 200 });
    expectReadBack(res);
  });

  it('tokens: the sequencer alone, with the batch size, from the native generator', () => {
    const res = run('tokens', 'tokens', '--layout', layout, '--clients', '2', '--depth', '8', '--batch', '4', ...SHORT);
    expectComplete(res, 'tokens');
    const r = res.runs[0]!;
    expect(r).toMatchObject({ op: 'token-request', items_per_op: 4, generator: 'native (one thread of this process)' });
    // Every token it was answered lies in the range the run saw, four per request at least.
    const extra = res.extra as { first_token: number; tail_after: number };
    expect(extra.tail_after - extra.first_token).toBeGreaterThanOrEqual(r.ops * 4);
    expect(r.items_per_s).toBeCloseTo(r.ops_per_s * 4, 0);
    expect(res.config).toMatchObject({ connections: 2, depth: 8, batch: 4 });
    expect(res.verify).toBeNull();
  });

  it('tokens --busy-poll: the native generator polling without sleeping counts the same way and says so', () => {
    const res = run('tokens-busy', 'tokens', '--layout', layout, '--clients', '2', '--depth', '8', '--busy-poll', ...SHORT);
    expectComplete(res, 'tokens');
    const r = res.runs[0]!;
    expect(r.generator).toBe('native (one thread of this process, polling without sleeping)');
    expect(r.ops).toBeGreaterThan(0);
    const extra = res.extra as { first_token: number; tail_after: number };
    expect(extra.tail_after - extra.first_token).toBeGreaterThanOrEqual(r.ops);
    expect(res.config).toMatchObject({ busy_poll: true });
    expect(r.notes.some((n) => n.startsWith('--busy-poll:'))).toBe(true);
  });

  it("tokens --procs 2: the load from two generator processes, merged, each one's CPU shown", () => {
    const res = run('tokens-procs', 'tokens', '--layout', layout, '--clients', '2', '--depth', '8', '--generator', 'node', '--procs', '2', ...SHORT);
    const r = res.runs[0]!;
    expect(r.ops).toBeGreaterThan(0);
    expect(r.latency_us!.count).toBe(r.ops);
    expect(r.series.reduce((a, s) => a + s.ops, 0)).toBe(r.ops);
    expect(r.generator).toBe('2 processes');
    expect(r.cpu.filter((c) => c.role === 'load-generator').map((c) => c.name)).toEqual(['generator-1', 'generator-2']);
    expect(res.config).toMatchObject({ generator_processes: 2 });
  });

  it('--sync with --layout asserts what the units run: a mismatch is one line, exit 2', () => {
    const r = corfu('bench', 'append', '--layout', layout, '--sync', 'none', ...SHORT);
    expect(oneLine(r.stderr)).toMatch(/run sync always, not none/);
    expect(r.code).toBe(2);
  });

  it('a layout whose servers are all down: one line, exit 1', async () => {
    cluster.proc.kill('SIGTERM');
    await cluster.exited;
    const r = corfu('bench', 'append', '--layout', layout, ...SHORT);
    expect(oneLine(r.stderr)).toMatch(/^error ERR_UNAVAILABLE: .*did not answer/);
    expect(r.code).toBe(1);
  });
});

describe('corfu bench workloads on a cluster of their own (--local)', () => {
  const local = ['--local', '--units', '2', '--replicas', '2', '--unit-size', '64M'];

  it('read --pattern random: over the entries the run appended first, each checked, all read back', () => {
    const res = run('read', 'read', ...local, '--clients', '2', '--depth', '4', '--prefill', '300', ...SHORT, '--verify');
    expectComplete(res, 'read');
    expect(res.target).toMatchObject({ kind: 'local', stripes: 1, replicas: 2, sync: 'always' });
    expect(res.runs.map((r) => r.op)).toEqual(['read']);
    expect(res.verify!.appended).toBe(300);
    expectReadBack(res);
  });

  it('read --pattern tail: followers deliver every acknowledged entry while clients append', () => {
    const res = run('tail', 'read', ...local, '--sync', 'none', '--pattern', 'tail', '--followers', '2', '--clients', '2', '--depth', '2', ...SHORT, '--verify');
    expectComplete(res, 'read');
    expect(res.target).toMatchObject({ sync: 'none' });
    expect(res.runs.map((r) => r.op)).toEqual(['delivery', 'append']);
    expect(res.extra['delivered_per_follower']).toEqual([res.verify!.appended, res.verify!.appended]);
    expectReadBack(res);
  });

  it('leaves nothing behind: the local cluster and its directory are gone', () => {
    const res = run('gone', 'append', ...local, '--seconds', '0.5', '--warmup', '0');
    const t = res.target!;
    expect(() => readFileSync(join(t.dir!, 'unit-0.img'))).toThrow(/ENOENT/);
    for (const u of t.units) expect(() => readFileSync(`/proc/${u.pid}/stat`)).toThrow(/ENOENT/);
  });
});

describe('corfu bench device', () => {
  it('the engine against fio on one file: runs, comparison rows and the device', () => {
    const file = join(dir, 'device.img');
    const res = run('device', 'device', file, '--size', '64M', '--seconds', '0.5', '--warmup', '0.1', ...(hasFio ? [] : ['--no-fio']));
    expect(res.workload).toBe('device');
    expect(res.runs.filter((r) => r.system === 'corfu-engine').map((r) => r.op)).toEqual(['write', 'write', 'read', 'read', 'append-batch', 'append-batch']);
    for (const r of res.runs) expect(r.ops, r.label).toBeGreaterThan(0);
    expect(res.machine.devices[0]).toMatchObject({ path: file, kind: 'file' });
    if (hasFio) {
      expect(res.runs.filter((r) => r.system === 'fio').map((r) => r.op)).toEqual(['write', 'randread']);
      expect(res.comparison.map((c) => c.pair)).toEqual([
        'engine vs fio, 4 KiB sequential writes, native writer',
        'engine vs fio, 4 KiB sequential writes, from JS',
        'engine vs fio, 4 KiB random reads, native reader',
        'engine vs fio, 4 KiB random reads, from JS',
      ]);
      for (const c of res.comparison) expect(c.ratio).toBeGreaterThan(0);
    }
    // A second run needs --force: the file exists now.
    const again = corfu('bench', 'device', file, '--seconds', '0.5');
    expect(oneLine(again.stderr)).toMatch(/exists: .*--force/);
    expect(again.code).toBe(2);
  });
});

describe('corfu bench: bad flags are one line and a non-zero exit', () => {
  it.each([
    ['--clients 0', ['append', '--local', '--clients', '0'], 2, /--clients/],
    ['an unknown workload', ['frobnicate', '--local'], 2, /unknown command 'frobnicate'/],
    ['--seconds and --count', ['append', '--local', '--seconds', '1', '--count', '5'], 2, /--seconds or --count/],
    ['neither --layout nor --local', ['tokens'], 2, /--layout URL .* or --local/],
    ['an unknown read pattern', ['read', '--local', '--pattern', 'sideways'], 2, /--pattern/],
    ['a layout store that holds no layout', ['append', '--layout', `file:${join(tmpdir(), 'corfu-bench-no-such-layout')}`], 1, /^error ERR_NO_LAYOUT: /],
    ['an entry too small to check', ['read', '--local', '--entry-size', '4'], 2, /--entry-size must be at least 8/],
    ['an unknown comparison', ['compare', '--pairs', 'engine,etcd'], 2, /--pairs/],
    ['more generator processes than connections', ['tokens', '--local', '--clients', '2', '--generator', 'node', '--procs', '3'], 2, /--procs \(3\) cannot exceed/],
    ['generator processes with the native generator', ['tokens', '--local', '--clients', '4', '--procs', '2'], 2, /--procs 2 runs Node generator processes: add --generator node/],
    ['a count with the native generator', ['tokens', '--local', '--count', '100'], 2, /--count needs --generator node/],
    ['an unknown generator', ['tokens', '--local', '--generator', 'rust'], 2, /--generator/],
    ['--busy-poll with the node generator', ['tokens', '--local', '--generator', 'node', '--busy-poll'], 2, /--busy-poll is a mode of the native generator/],
    ['a batch larger than one token range', ['append', '--local', '--batch', '65537'], 2, /--batch takes at most \d+ entries/],
    ['a batch of none', ['append', '--local', '--batch', '0'], 2, /--batch/],
    ['a compare batch without the append pair', ['compare', '--pairs', 'sequencer', '--batch', '4'], 2, /--batch applies to the append pair only/],
    ['a compare batch larger than one token range', ['compare', '--pairs', 'append', '--batch', '65537'], 2, /--batch takes at most \d+ entries/],
  ])('%s', (_what, args, code, message) => {
    const r = corfu('bench', ...args);
    expect(oneLine(r.stderr)).toMatch(message);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
  });

  it('a peer that is not installed: names it and its install command, before anything runs', () => {
    const empty = mkdtempSync(join(dir, 'no-peers-'));
    writeFileSync(join(empty, 'README'), 'an empty PATH: no redis-server, no fio\n');
    const r = spawnSync(process.execPath, [CLI, 'bench', 'compare', '--pairs', 'sequencer,engine', '--seconds', '1'], {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, PATH: empty },
      timeout: 60_000,
    });
    const line = oneLine(r.stderr);
    expect(line).toMatch(/^error: peer not installed: /);
    expect(line).toContain('redis-server not found');
    expect(line).toContain('fio not found');
    expect(line).toContain('apt-get install -y redis-server');
    expect(line).toContain('apt-get install -y fio');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
  });
});
