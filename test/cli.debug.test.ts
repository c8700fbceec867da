// The debug verbs (`corfu append/read/tail/fill/trim/status`) and
// `corfu up --demo N`, as a user runs them: real processes
// (node dist/src/cli/main.js), temp dirs, ephemeral ports on 127.0.0.1.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { splitHostPort } from '../src/transport/address.js';
import { Connection } from '../src/transport/connection.js';
import { CLI, cliHarness } from './helpers/cli.js';
import { until } from './helpers/until.js';

const { dir, corfu, oneLine, startCorfu } = cliHarness('corfu-debug-', { runTimeoutMs: 20000, readyTimeoutMs: 25000 });

describe('debug verbs against `corfu up`', () => {
  let layout = '';
  let addr = -1;

  it('starts a cluster and prints its layout URL', async () => {
    const up = await startCorfu(['up', '--dir', join(dir, 'c1'), '--units', '4', '--replicas', '2', '--size', '16M'], /^serving/);
    const line = up.out.find((l) => l.startsWith('layout URL:'));
    expect(line).toBeDefined();
    layout = line!.replace(/^layout URL:\s*/, '').trim();
    expect(layout).toMatch(/^file:/);
  });

  it('append prints an address; read prints the payload; tail is above it', () => {
    const a = corfu('append', 'hello', '--layout', layout);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/^\d+$/);
    addr = Number(a.stdout.trim());

    const r = corfu('read', String(addr), '--layout', layout);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data, 5 bytes/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('hello');

    const j = corfu('read', String(addr), '--layout', layout, '--json');
    expect(JSON.parse(j.stdout)).toEqual({ address: addr, kind: 'data', bytes: 5, utf8: 'hello' });

    const t = corfu('tail', '--layout', layout);
    expect(t.code, t.stderr).toBe(0);
    expect(Number(t.stdout.trim())).toBeGreaterThanOrEqual(addr + 1);
  });

  it('append reads stdin when no DATA is given; binary payloads print as hex', () => {
    const r = spawnSync(process.execPath, [CLI, 'append', '--layout', layout], { input: Buffer.from([0, 1, 0xff]), cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const read = corfu('read', r.stdout.trim(), '--layout', layout);
    expect(read.stdout).toMatch(/3 bytes \(hex\)\n0001ff\n$/);
  });

  it('fill past the tail is ERR_UNWRITTEN and writes nothing; fill of a hole below the tail makes it junk', async () => {
    const tail = Number(corfu('tail', '--layout', layout).stdout.trim());
    const past = corfu('fill', String(tail + 3), '--layout', layout);
    expect(past.code).toBe(1);
    expect(oneLine(past.stderr)).toMatch(/^error ERR_UNWRITTEN: fill \d+: the address is at or above the tail/);
    // Nothing was written there: the next appends take tail .. tail+3, all of them data.
    const appended = [0, 1, 2, 3].map((i) => Number(corfu('append', `x${i}`, '--layout', layout).stdout.trim()));
    expect(appended).toEqual([tail, tail + 1, tail + 2, tail + 3]);
    expect(
      corfu('read', String(tail + 3), '--layout', layout)
        .stdout.trimEnd()
        .split('\n')
        .at(-1),
    ).toBe('x3');
    // A hole: a token taken from the sequencer and never written.
    const p = JSON.parse(corfu('layout', 'show', '--store', layout, '--json').stdout) as { epoch: number; sequencer: string };
    const conn = new Connection({ ...splitHostPort(p.sequencer), timeoutMs: 5000 });
    const token = await conn.call({ type: 'request', op: 'TOKEN', epoch: p.epoch, count: 1 });
    await conn.close();
    const hole = token.op === 'TOKEN' ? token.first : -1;
    const f = corfu('fill', String(hole), '--layout', layout);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toMatch(/junk/);
    expect(corfu('read', String(hole), '--layout', layout).stdout).toMatch(/junk/);
  });

  it('trim ADDR, then read ADDR fails with ERR_TRIMMED (exit 1)', () => {
    const t = corfu('trim', String(addr), '--layout', layout);
    expect(t.code, t.stderr).toBe(0);
    const r = corfu('read', String(addr), '--layout', layout);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^error ERR_TRIMMED: /);
  });

  it('status shows the epoch, the entry limit, the sequencer and 4 units up with their tails and space', () => {
    const s = corfu('status', '--layout', layout);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^epoch\s+1 /m);
    expect(s.stdout).toMatch(/^max entry\s+65536 bytes$/m);
    expect(s.stdout).toMatch(/^sequencer\s+\S+\s+up\s+epoch 1\s+tail \d+/m);
    expect(s.stdout.match(/^unit \d+\s+\S+\s+up\s+epoch 1\s+tail \d+\s+trim mark \d+\s+used [\d.]+ MiB of [\d.]+ MiB\s+sync always/gm)).toHaveLength(4);
    expect(s.stdout).toMatch(/units up\s+4\/4/);
    expect(s.stdout).toMatch(/^redundancy every chain is whole$/m);
    const j = JSON.parse(corfu('status', '--layout', layout, '--json').stdout) as { epoch: number; maxEntryBytes: number; units: { up: boolean; maxEntryBytes: number }[] };
    expect(j.epoch).toBe(1);
    expect(j.maxEntryBytes).toBe(65536);
    expect(j.units.filter((u) => u.up && u.maxEntryBytes === 65536)).toHaveLength(4);
  });

  it('a bad address is a usage error (exit 2); reading past the tail is ERR_UNWRITTEN', () => {
    for (const bad of ['abc', '-1', '1.5', '99999999999999999999']) {
      const r = corfu('read', bad, '--layout', layout);
      expect(r.code, bad).toBe(2);
      oneLine(r.stderr);
    }
    expect(corfu('trim', 'x', '--layout', layout).code).toBe(2);
    expect(corfu('read', '--bogus', '1', '--layout', layout).code).toBe(2);
    const r = corfu('read', '1000000', '--layout', layout);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^error ERR_UNWRITTEN: /);
  });

  it('kv put/get/del/dump: several pairs are one multiPut, several keys one snapshot; missing keys exit 1; bad arguments exit 2', () => {
    const put = corfu('kv', 'put', 'colour', 'blue', 'size', 'L', '--layout', layout);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toMatch(/^\d+$/);
    expect(corfu('kv', 'put', 'shape', 'round', '--layout', layout).code).toBe(0);
    const one = corfu('kv', 'get', 'colour', '--layout', layout);
    expect(one.stdout).toBe('blue\n');
    const many = corfu('kv', 'get', 'size', 'colour', '--layout', layout, '--json');
    expect(JSON.parse(many.stdout)).toEqual({ size: 'L', colour: 'blue' });
    expect(corfu('kv', 'del', 'shape', '--layout', layout).code).toBe(0);
    const missing = corfu('kv', 'get', 'shape', 'size', '--layout', layout);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('shape\t\nsize\tL\n');
    expect(missing.stderr).toBe('corfu: not found: shape\n');
    expect(corfu('kv', 'dump', '--layout', layout).stdout).toBe('colour\tblue\nsize\tL\n');
    // Another store is another object.
    expect(corfu('kv', 'dump', '--layout', layout, '--store', 'other', '--json').stdout).toBe('{}\n');
    const odd = corfu('kv', 'put', 'lonely', '--layout', layout);
    expect(odd.code).toBe(2);
    expect(oneLine(odd.stderr)).toMatch(/kv put takes KEY VALUE pairs, got 1 argument/);
  });

  it('no layout: exit 1 with a hint to run corfu up', () => {
    for (const args of [['tail'], ['status'], ['append', 'x', '--layout', `file:${join(dir, 'nothing')}`]]) {
      const r = corfu(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(oneLine(r.stderr)).toMatch(/corfu up/);
    }
  });
});

describe('corfu up --demo', () => {
  it('appends, verifies, prints appends/s and p50/p99, serves, and stops with exit 0 on SIGTERM', async () => {
    const up = await startCorfu(['up', '--dir', join(dir, 'c2'), '--units', '4', '--replicas', '2', '--size', '16M', '--demo', '2000', '--entry-bytes', '64'], /^serving/);
    const text = up.out.join('\n');
    expect(text).toMatch(/[\d,]+ appends\/s/);
    expect(text).toMatch(/p50 \d+\.\d+\s+p99 \d+\.\d+/);
    expect(text).toMatch(/verified 2,000 entries/);
    expect(text).toMatch(/^append 2000\/2000$/m); // not a TTY: plain progress lines
    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  });

  it("--chaos: a unit killed with kill -9 halfway is replaced by the spare, every entry verifies; the next run reuses the layout and formats the dead unit's file as the spare", async () => {
    const c3 = join(dir, 'c3');
    const args = ['up', '--dir', c3, '--units', '2', '--replicas', '2', '--spares', '1', '--size', '16M', '--entry-bytes', '64'];
    const up = await startCorfu([...args, '--demo', '3000', '--chaos'], /^serving/);
    const text = up.out.join('\n');
    expect(text).toMatch(/^manager: {4}active, 1 spare unit \(127\.0\.0\.1:\d+\)/m);
    expect(text).toMatch(/^chaos: killed unit-0 \(127\.0\.0\.1:\d+\) with kill -9 after 1,500 appends/m);
    expect(text).toMatch(/verified 3,000 entries/);
    expect(text).toMatch(/^chaos: the manager moved the log from epoch \d+ to \d+/m);
    // Until the manager has copied the old chain onto the spare, status says so; then every chain is whole.
    const layoutUrl = `file:${join(c3, 'layout')}`;
    await until(() => /^redundancy every chain is whole$/m.test(corfu('status', '--layout', layoutUrl).stdout), 'the rebuild of the spare', { timeoutMs: 30_000 });
    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);

    // The layout names the spare's file now; unit-0.img, out of it, becomes the spare.
    const again = await startCorfu([...args, '--demo', '100'], /^serving/);
    const out = again.out.join('\n');
    expect(out).toMatch(/unit-0\.img again: the layout no longer uses it, it is a spare now/);
    expect(out).toMatch(/the previous run's first entry \(address \d+\) was re-read and verified/);
    expect(out).toMatch(/verified 100 entries/);
    again.proc.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 60_000);
});
