// `corfu up` and `corfu layout init/show` as a user runs them: real processes
// (node dist/src/cli/main.js), temp dirs, ephemeral ports on 127.0.0.1.

import { connect } from 'node:net';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { cliHarness } from './helpers/cli.js';
import { unwrittenExtents } from './helpers/devices.js';
import { refusedAddress } from './helpers/ports.js';

import { chainFor, headOf, tailOf, type Projection } from '../src/layout/index.js';
import { Connection, throwIfError } from '../src/transport/connection.js';

const { dir, corfu, oneLine, startCorfu } = cliHarness('corfu-cluster-', { runTimeoutMs: 30000, readyTimeoutMs: 20000 });

function conn(address: string): Connection {
  const i = address.lastIndexOf(':');
  return new Connection({ host: address.slice(0, i), port: Number(address.slice(i + 1)), timeoutMs: 3000 });
}

function refuses(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return new Promise((res) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    s.once('connect', () => {
      s.destroy();
      res(false);
    });
    s.once('error', () => res(true));
  });
}

function showJson(store: string): Projection {
  const r = corfu('layout', 'show', '--store', store, '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Projection;
}

describe('corfu up', () => {
  const cluster = join(dir, 'cluster');
  const store = `file:${join(cluster, 'layout')}`;
  const payload = Buffer.from('written before the restart');
  let first: Projection;

  it('formats, starts 4 units and a sequencer, prints 2 stripes of 2 and a file: URL', async () => {
    const up = await startCorfu(['up', '--dir', cluster, '--units', '4', '--replicas', '2', '--size', '16M'], /^serving/);
    const text = up.out.join('\n');
    expect(text).toMatch(/^epoch\s+1$/m);
    // The device files it made were written with zeros (format --zero): no unwritten extents.
    for (const file of ['unit-0.img', 'unit-3.img', 'spare-0.img']) expect(unwrittenExtents(join(cluster, file)) ?? 0, file).toBe(0);
    const stripes = text.split('\n').filter((l) => /^\s+stripe \d+\s+\S+ -> \S+\s/.test(l));
    expect(stripes).toHaveLength(2);
    expect(text).toContain(`layout URL: ${store}`);
    expect(text).toContain(`CorfuClient.connect({ layout: '${store}' })`);

    first = showJson(store);
    expect(first.epoch).toBe(1);
    expect(first.units).toHaveLength(4);
    expect(first.segments).toHaveLength(1);
    expect(first.segments[0]!.stripes.map((s) => s.chain.length)).toEqual([2, 2]);

    // A raw chain write of address 0: head, then tail.
    const chain = chainFor(first, 0);
    for (const unit of [headOf(chain), tailOf(chain)]) {
      const c = conn(unit);
      const res = throwIfError(await c.request({ type: 'request', op: 'WRITE', epoch: 1, entries: [{ address: 0, payload }] }));
      await c.close();
      expect(res.op).toBe('WRITE');
      if (res.op === 'WRITE') expect(res.statuses[0]).toBe(0);
    }

    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    for (const unit of first.units) expect(await refuses(unit)).toBe(true);
    expect(await refuses(first.sequencer)).toBe(true);
  });

  it('a second run reuses the files, writes epoch 2 and serves what was written before', async () => {
    const up = await startCorfu(['up', '--dir', cluster, '--units', '4', '--replicas', '2', '--size', '16M'], /^serving/);
    const text = up.out.join('\n');
    expect(text).not.toContain('formatted');
    expect(text).toMatch(/^epoch\s+2$/m);
    const second = showJson(store);
    expect(second.epoch).toBe(2);
    expect(second.units).toHaveLength(4);

    const tail = conn(tailOf(chainFor(second, 0)));
    const read = throwIfError(await tail.request({ type: 'request', op: 'READ', epoch: 2, addresses: [0] }));
    await tail.close();
    expect(read.op).toBe('READ');
    if (read.op === 'READ') expect(Buffer.from(read.payloads[0]!).toString()).toBe(payload.toString());

    // The sequencer starts above what the units hold.
    const seq = conn(second.sequencer);
    const t = throwIfError(await seq.request({ type: 'request', op: 'TAIL', epoch: 2 }));
    await seq.close();
    if (t.op === 'TAIL') expect(t.tail).toBeGreaterThanOrEqual(1);

    up.proc.kill('SIGINT');
    expect(await up.exited).toBe(0);
  });

  it('a layout reconfigured into a new segment survives a restart: entries there are read back from the same unit files', async () => {
    let up = await startCorfu(['up', '--dir', cluster, '--units', '4', '--replicas', '2', '--size', '16M'], /^serving/);
    const before = showJson(store);
    const [u0, u1, u2, u3] = before.units as [string, string, string, string];
    // Restripe from the tail on: one chain over the other pairing of the same units.
    const r = corfu('layout', 'reconfigure', '--store', store, '--add-segment', '--stripe', `${u0},${u2},${u1},${u3}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const appended: Array<[number, string]> = [];
    for (let i = 0; i < 5; i++) {
      const a = corfu('append', `restriped ${i}`, '--layout', store);
      expect(a.code, a.stderr).toBe(0);
      appended.push([Number(a.stdout.trim()), `restriped ${i}`]);
    }
    const reconfigured = showJson(store);
    expect(reconfigured.segments).toHaveLength(2);
    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);

    up = await startCorfu(['up', '--dir', cluster, '--units', '4', '--replicas', '4', '--size', '16M'], /^serving/);
    const after = showJson(store);
    expect(after.segments.map((seg) => [seg.start, seg.end, seg.stripes.length])).toEqual(reconfigured.segments.map((seg) => [seg.start, seg.end, seg.stripes.length]));
    for (const [address, text] of appended) {
      const got = corfu('read', String(address), '--layout', store);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toContain(text);
    }
    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  });

  it('when corfu up is killed outright (kill -9), its units and sequencer stop on their own', async () => {
    const orphanDir = join(dir, 'orphan');
    // (--no-zero: its files are only reserved, as unwritten extents.)
    const up = await startCorfu(['up', '--dir', orphanDir, '--units', '2', '--replicas', '1', '--size', '16M', '--no-zero'], /^serving/);
    const unwritten = unwrittenExtents(join(orphanDir, 'unit-1.img'));
    if (unwritten !== undefined) expect(unwritten).toBeGreaterThan(0);
    const p = showJson(`file:${join(orphanDir, 'layout')}`);
    for (const unit of p.units) expect(await refuses(unit)).toBe(false);
    up.proc.kill('SIGKILL');
    await up.exited;
    const addresses = [...p.units, p.sequencer];
    const deadline = performance.now() + 15_000;
    let alive = addresses;
    while (alive.length > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const refused = await Promise.all(alive.map(refuses));
      alive = alive.filter((_, i) => !refused[i]);
    }
    expect(alive, 'servers still listening after their corfu up was killed').toEqual([]);
  });
});

describe('corfu layout init', () => {
  it('rejects a malformed --stripe with exit 2 and one line', () => {
    const r = corfu('layout', 'init', '--store', `file:${join(dir, 'bad')}`, '--sequencer', '127.0.0.1:7000', '--stripe', '127.0.0.1:7001,nonsense');
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/--stripe.*HOST:PORT/);
  });

  it('fails with exit 1 naming a unit that is not listening', async () => {
    const down = await refusedAddress();
    try {
      const r = corfu('layout', 'init', '--store', `file:${join(dir, 'down')}`, '--sequencer', '127.0.0.1:7000', '--stripe', down.address);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(new RegExp(`^error ERR_UNAVAILABLE: cannot seal unit ${down.address.replaceAll('.', '\\.')} to epoch 1: it is not reachable`));
    } finally {
      await down.close();
    }
  });

  it('seals a running unit and sequencer and writes epoch 1; show prints it', async () => {
    const dev = join(dir, 'solo.img');
    expect(corfu('format', dev, '--size', '16M').code).toBe(0);
    const unit = await startCorfu(['unit', '--device', dev, '--listen', '127.0.0.1:0'], /^listening /);
    const seq = await startCorfu(['sequencer', '--listen', '127.0.0.1:0'], /^listening /);
    const unitAddr = unit.out[0]!.split(' ')[1]!;
    const seqAddr = seq.out[0]!.split(' ')[1]!;
    const storeUrl = `file:${join(dir, 'solo-layout')}`;
    const r = corfu('layout', 'init', '--store', storeUrl, '--sequencer', seqAddr, '--stripe', unitAddr);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const show = corfu('layout', 'show', '--store', storeUrl);
    expect(show.stdout).toMatch(/^epoch\s+1$/m);
    expect(show.stdout).toContain(`stripe 0  ${unitAddr}`);
    // The same init again is an idempotent retry: everything is already at epoch 1 with this projection.
    const again = corfu('layout', 'init', '--store', storeUrl, '--sequencer', seqAddr, '--stripe', unitAddr);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    unit.proc.kill('SIGTERM');
    seq.proc.kill('SIGTERM');
    expect(await unit.exited).toBe(0);
    expect(await seq.exited).toBe(0);
  });
});
