// The `corfu` command with its layout in etcd, as a user runs it: a real etcd,
// `corfu up --store etcd://...` and a client appending through that layout;
// `layout init/show/reconfigure --store etcd://...` against units and
// sequencers started by hand; and the errors of bad or unreachable etcd URLs.

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient } from '../src/client/client.js';
import { openProjectionStore, type Projection } from '../src/layout/index.js';
import { cliHarness } from './helpers/cli.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';
import { refusedAddress } from './helpers/ports.js';
import { until } from './helpers/until.js';

const { dir, corfu, oneLine, startCorfu } = cliHarness('corfu-cli-etcd-', { runTimeoutMs: 30000, readyTimeoutMs: 30000 });

let etcd: EtcdServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.close();
});

function showJson(store: string): Projection {
  const r = corfu('layout', 'show', '--store', store, '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Projection;
}

function listening(started: { out: string[] }): string {
  return started.out[0]!.split(' ')[1]!;
}

describe('corfu up --store etcd://...', () => {
  it('keeps the layout in etcd; a client and the debug verbs append and read through it; SIGTERM stops it cleanly', async () => {
    const store = etcd.url('corfu/up');
    const up = await startCorfu(['up', '--dir', join(dir, 'up'), '--store', store, '--units', '2', '--replicas', '2', '--size', '16M'], /^serving/);
    expect(up.out.join('\n')).toContain(`layout URL: ${store}`);
    const layout = showJson(store);
    expect(layout.epoch).toBe(1);
    expect(layout.units).toHaveLength(2);

    const client = await CorfuClient.connect({ layout: store });
    try {
      const address = await client.append(Buffer.from('through etcd'));
      const entry = await client.read(address);
      expect(entry.kind === 'data' && Buffer.from(entry.payload).toString()).toBe('through etcd');

      const appended = corfu('append', 'from the command line', '--layout', store);
      expect(appended.stderr).toBe('');
      expect(appended.code).toBe(0);
      const at = Number(appended.stdout.trim());
      expect(at).toBeGreaterThan(address);
      const read = corfu('read', String(at), '--layout', store);
      expect(read.code, read.stderr).toBe(0);
      expect(read.stdout.trimEnd().split('\n').at(-1)).toBe('from the command line');
      const status = JSON.parse(corfu('status', '--layout', store, '--json').stdout) as { epoch: number; units: { up: boolean }[] };
      expect(status.epoch).toBe(1);
      expect(status.units.map((u) => u.up)).toEqual([true, true]);
    } finally {
      await client.close();
    }

    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  });

  it('refuses a store that already holds a layout for a directory without its unit files', () => {
    const r = corfu('up', '--dir', join(dir, 'elsewhere'), '--store', etcd.url('corfu/up'), '--units', '2', '--replicas', '2', '--size', '16M');
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/already holds a layout \(epoch 1\) but .*elsewhere has no unit files/);
  });
});

describe('corfu layout init/show/reconfigure --store etcd://...', () => {
  it('init writes epoch 1, show prints it, reconfigure moves the sequencer (a watch hears epoch 2), and appends go on', async () => {
    const store = etcd.url('corfu/manual');
    const dev = join(dir, 'solo.img');
    expect(corfu('format', dev, '--size', '16M').code).toBe(0);
    const unit = await startCorfu(['unit', '--device', dev, '--listen', '127.0.0.1:0'], /^listening /);
    const seq1 = await startCorfu(['sequencer', '--listen', '127.0.0.1:0'], /^listening /);
    const seq2 = await startCorfu(['sequencer', '--listen', '127.0.0.1:0'], /^listening /);

    const init = corfu('layout', 'init', '--store', store, '--sequencer', listening(seq1), '--stripe', listening(unit));
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const show = corfu('layout', 'show', '--store', store);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^epoch\s+1$/m);
    expect(show.stdout).toContain(`sequencer  ${listening(seq1)}`);

    const watcher = await openProjectionStore(store);
    const heard: number[] = [];
    const stop = watcher.watch((p) => heard.push(p.epoch));
    try {
      await until(() => heard.includes(1), 'the watch to report epoch 1');
      const moved = corfu('layout', 'reconfigure', '--store', store, '--sequencer', listening(seq2));
      expect(moved.stderr).toBe('');
      expect(moved.code).toBe(0);
      await until(() => heard.includes(2), 'the watch to report epoch 2');
      const p = showJson(store);
      expect(p.epoch).toBe(2);
      expect(p.sequencer).toBe(listening(seq2));

      const appended = corfu('append', 'after the move', '--layout', store);
      expect(appended.code, appended.stderr).toBe(0);
      const read = corfu('read', appended.stdout.trim(), '--layout', store);
      expect(read.stdout.trimEnd().split('\n').at(-1)).toBe('after the move');
    } finally {
      stop();
      await watcher.close();
    }
    for (const p of [unit, seq1, seq2]) p.proc.kill('SIGTERM');
  });

  it('a malformed etcd URL is a usage error naming the part at fault', () => {
    for (const [args, message] of [
      [['layout', 'show', '--store', `etcd://${etcd.endpoint}`], /no key prefix/],
      [['layout', 'show', '--store', 'etcd://127.0.0.1:99999/corfu'], /invalid port '99999'/],
      [['tail', '--layout', 'etcd://127.0.0.1/corfu'], /endpoint '127\.0\.0\.1' has no port/],
      [['up', '--dir', join(dir, 'bad'), '--store', 'etcd:/corfu'], /expected etcd:\/\/HOST:PORT/],
    ] as const) {
      const r = corfu(...args);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r.stderr)).toMatch(message);
    }
  });

  it('an etcd that cannot be reached is exit 1, ERR_UNAVAILABLE; an empty prefix has no layout', async () => {
    const down = await refusedAddress();
    try {
      const r = corfu('layout', 'show', '--store', `etcd://${down.address}/corfu`);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(new RegExp(`^error ERR_UNAVAILABLE: .*etcd at ${down.address.replaceAll('.', '\\.')} is not reachable`));
    } finally {
      await down.close();
    }
    const empty = corfu('layout', 'show', '--store', etcd.url('corfu/nothing-here'));
    expect(empty.code).toBe(1);
    expect(oneLine(empty.stderr)).toMatch(/no projection in etcd:\/\/.*corfu\/nothing-here yet/);
  });
});
