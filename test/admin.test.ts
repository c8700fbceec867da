// The admin listener of real `corfu unit`, `corfu sequencer` and `corfu
// manager` processes on 127.0.0.1: liveness, readiness (and its flip to 503 on
// SIGTERM while the server still answers its peers), Prometheus metrics checked
// by promtool, /status; `corfu status` over the cluster; the client's registry.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { expectPromtoolClean, get, sample } from './helpers/admin.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { until } from './helpers/until.js';

import { CorfuClient } from '../src/client/client.js';
import { clientMetrics } from '../src/client/metrics.js';
import { splitHostPort } from '../src/transport/address.js';
import { Connection } from '../src/transport/connection.js';

const { dir, corfu, oneLine, startCorfu } = cliHarness('corfu-admin-', { runTimeoutMs: 30_000, readyTimeoutMs: 20_000 });

const DRAIN_MS = 1500;
/**
 * The manager's drain, longer than the others': the test asks it three questions while it
 * drains, and on a loaded machine (four test files at once) 1.5 s ran out before the first
 * poll saw 503 (the manager had exited: "other side closed").
 */
const MANAGER_DRAIN_MS = 4000;

function addressOf(s: Started, what: 'admin' | 'listening'): string {
  const line = s.out.find((l) => l.startsWith(`${what} `));
  if (line === undefined) throw new Error(`no '${what}' line in ${s.out.join(' | ')}`);
  return line.slice(what.length + 1);
}

/** SIGTERM: /readyz turns 503 (draining) while the wire port still answers; then the process exits 0, in bounded time. */
async function expectDrainFlip(s: Started, admin: string, wire: string): Promise<void> {
  const sentAt = performance.now();
  s.proc.kill('SIGTERM');
  let seen = '';
  await until(
    async () => {
      const r = await get(admin, '/readyz');
      seen = r.body;
      return r.status === 503;
    },
    'readyz to turn 503 after SIGTERM',
    { timeoutMs: DRAIN_MS },
  );
  expect(seen).toMatch(/^\[-\]shutdown failed: draining: SIGTERM received/m);
  expect((await get(admin, '/livez')).status).toBe(200);
  // Not ready, still serving: a peer's request made now is answered.
  const conn = new Connection({ ...splitHostPort(wire), timeoutMs: 3000 });
  try {
    expect((await conn.request({ type: 'request', op: 'PING', epoch: 0 })).status).toBe('OK');
  } finally {
    await conn.close();
  }
  expect(await s.exited).toBe(0);
  expect(performance.now() - sentAt).toBeLessThan(DRAIN_MS + 10_000);
}

describe('admin listeners of a one-unit cluster', () => {
  const device = join(dir, 'unit-0.img');
  const store = `file:${join(dir, 'layout')}`;
  let unit: Started;
  let sequencer: Started;
  let manager: Started | undefined;
  const stopped = new Set<Started>();

  afterAll(async () => {
    for (const s of [manager, sequencer, unit]) {
      if (s === undefined || stopped.has(s)) continue;
      s.proc.kill('SIGKILL');
      await s.exited;
    }
  });

  it('a unit: admin before listening; live and ready; /status names it; metrics count writes and reads and pass promtool', async () => {
    expect(corfu('format', device, '--size', '16M', '--unit-id', '7').code).toBe(0);
    unit = await startCorfu(['unit', '--device', device, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--drain', String(DRAIN_MS)], /^listening /);
    expect(unit.out[0]).toMatch(/^admin 127\.0\.0\.1:\d+$/);
    const admin = addressOf(unit, 'admin');
    expect(await get(admin, '/livez')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(admin, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await get(admin, '/readyz?verbose')).body).toBe('[+]listener ok\n[+]store ok\n[+]epoch ok\n[+]shutdown ok\nreadyz check passed\n');
    expect((await get(admin, '/nope')).status).toBe(404);

    const wire = addressOf(unit, 'listening');
    const conn = new Connection({ ...splitHostPort(wire), timeoutMs: 5000 });
    try {
      const w = await conn.request({ type: 'request', op: 'WRITE', epoch: 0, entries: [0, 1, 2].map((address) => ({ address, payload: Buffer.alloc(100, address) })) });
      expect(w.status).toBe('OK');
      // Address 1 again: one entry refused with ERR_WRITTEN.
      await conn.request({ type: 'request', op: 'WRITE', epoch: 0, entries: [{ address: 1, payload: Buffer.alloc(100, 9) }] });
      expect((await conn.request({ type: 'request', op: 'READ', epoch: 0, addresses: [0, 1, 5] })).status).toBe('OK');
    } finally {
      await conn.close();
    }

    const status = JSON.parse((await get(admin, '/status')).body) as Record<string, unknown>;
    expect(status).toMatchObject({ role: 'unit', unitId: 7, epoch: 0, tail: 3, trimMark: 0, sync: 'always', storeOpen: true, draining: null, listen: wire });
    expect(status.clusterId).toMatch(/^[0-9a-f]{32}$/);
    expect(status.usedBytes).toBeGreaterThan(0);
    expect((status.usedBytes as number) + (status.freeBytes as number)).toBe(status.capacityBytes);
    // The in-memory index: three addresses in one run, no checkpoint yet (one is written at a clean close).
    const index = status.index as Record<string, unknown>;
    expect(index).toMatchObject({ addresses: 3, checkpointPage: null, checkpointBytes: 0 });
    expect(index.bytes).toBeGreaterThan(0);

    const m = await get(admin, '/metrics');
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(m.body, 'corfu_unit_write_entries_total')).toBe(4);
    expect(sample(m.body, 'corfu_unit_write_bytes_total')).toBe(400);
    expect(sample(m.body, 'corfu_unit_read_entries_total')).toBe(3);
    expect(sample(m.body, 'corfu_unit_read_bytes_total')).toBe(200);
    expect(sample(m.body, 'corfu_unit_write_latency_seconds_count')).toBe(2);
    expect(sample(m.body, 'corfu_unit_entry_errors_total', 'op="WRITE",code="ERR_WRITTEN"')).toBe(1);
    expect(sample(m.body, 'corfu_unit_entry_errors_total', 'op="READ",code="ERR_UNWRITTEN"')).toBe(1);
    expect(sample(m.body, 'corfu_unit_requests_total', 'op="WRITE"')).toBe(2);
    expect(sample(m.body, 'corfu_unit_epoch')).toBe(0);
    expect(sample(m.body, 'corfu_unit_tail')).toBe(3);
    expect(sample(m.body, 'corfu_unit_used_bytes')).toBe(status.usedBytes);
    expect(sample(m.body, 'corfu_unit_free_bytes')).toBe(status.freeBytes);
    expect(sample(m.body, 'corfu_unit_index_addresses')).toBe(3);
    expect(sample(m.body, 'corfu_unit_index_bytes')).toBe(index.bytes);
    expect(sample(m.body, 'corfu_unit_index_checkpoint_bytes')).toBe(0);
    expect(m.body).toMatch(/^corfu_unit_info\{cluster_id="[0-9a-f]{32}",unit_id="7",sync="always"\} 1$/m);
    expect(m.body).toMatch(/^process_cpu_seconds_total /m);
    expectPromtoolClean(m.body);
  });

  it('a sequencer is not ready until bootstrapped (layout init); then its tokens are counted', async () => {
    sequencer = await startCorfu(['sequencer', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--drain', String(DRAIN_MS)], /^listening /);
    const admin = addressOf(sequencer, 'admin');
    const before = await get(admin, '/readyz');
    expect(before.status).toBe(503);
    expect(before.body).toMatch(/^\[-\]bootstrapped failed: no BOOTSTRAP yet/m);
    expect(before.body).not.toMatch(/listener/); // only the failed checks, unless verbose
    expect((await get(admin, '/readyz?verbose')).body).toMatch(/^\[\+\]listener ok\n\[-\]bootstrapped failed: .*\n\[\+\]shutdown ok\nreadyz check failed\n$/);
    expect(JSON.parse((await get(admin, '/status')).body)).toMatchObject({ role: 'sequencer', bootstrapped: false, epoch: 0 });

    const init = corfu('layout', 'init', '--store', store, '--sequencer', addressOf(sequencer, 'listening'), '--stripe', addressOf(unit, 'listening'));
    expect(init.code, init.stderr).toBe(0);
    expect(await get(admin, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    const client = await CorfuClient.connect({ layout: store, timeoutMs: 3000 });
    try {
      for (let i = 0; i < 5; i++) await client.append(Buffer.from(`entry ${i}`));
    } finally {
      await client.close();
    }
    const status = JSON.parse((await get(admin, '/status')).body) as Record<string, unknown>;
    expect(status).toMatchObject({ role: 'sequencer', bootstrapped: true, epoch: 1, tokensIssued: 5, tail: 8, streams: 0 });
    const m = (await get(admin, '/metrics')).body;
    expect(sample(m, 'corfu_sequencer_tokens_total')).toBe(5);
    expect(sample(m, 'corfu_sequencer_tail')).toBe(8);
    expect(sample(m, 'corfu_sequencer_epoch')).toBe(1);
    expect(sample(m, 'corfu_sequencer_bootstrapped')).toBe(1);
    expect(sample(m, 'corfu_sequencer_requests_total', 'op="BOOTSTRAP"')).toBe(1);
    expect(sample(m, 'corfu_sequencer_requests_total', 'op="TOKEN"')).toBeGreaterThanOrEqual(1);
    expectPromtoolClean(m);

    // The unit was sealed by layout init: a request of the old epoch is refused whole.
    const conn = new Connection({ ...splitHostPort(addressOf(unit, 'listening')), timeoutMs: 5000 });
    try {
      expect((await conn.request({ type: 'request', op: 'TAIL', epoch: 0 })).status).toBe('ERR_SEALED');
    } finally {
      await conn.close();
    }
    const u = (await get(addressOf(unit, 'admin'), '/metrics')).body;
    expect(sample(u, 'corfu_unit_request_errors_total', 'op="TAIL",code="ERR_SEALED"')).toBe(1);
    expect(sample(u, 'corfu_unit_requests_total', 'op="SEAL"')).toBe(1);
    expect(sample(u, 'corfu_unit_epoch')).toBe(1);
    expect(sample(u, 'corfu_unit_write_entries_total')).toBe(4 + 5);
  });

  it('a manager: ready, active at the projection epoch; its probes are counted; promtool takes its metrics', async () => {
    manager = await startCorfu(['manager', '--layout', store, '--probe-interval', '100', '--admin', '127.0.0.1:0', '--drain', String(MANAGER_DRAIN_MS)], /^manager: active$/);
    expect(manager.out[0]).toMatch(/^admin 127\.0\.0\.1:\d+$/);
    const admin = addressOf(manager, 'admin');
    expect((await get(admin, '/readyz?verbose')).body).toBe('[+]store ok\n[+]epoch ok\n[+]shutdown ok\nreadyz check passed\n');
    expect(JSON.parse((await get(admin, '/status')).body)).toMatchObject({ role: 'manager', leadership: 'active', epoch: 1, down: [] });
    let m = '';
    await until(
      async () => {
        m = (await get(admin, '/metrics')).body;
        return (sample(m, 'corfu_manager_probes_total', 'role="unit",outcome="answered"') ?? 0) >= 2 && (sample(m, 'corfu_manager_probes_total', 'role="sequencer",outcome="answered"') ?? 0) >= 2;
      },
      'the manager to probe the unit and the sequencer twice',
      { timeoutMs: 10_000 },
    );
    expect(sample(m, 'corfu_manager_active')).toBe(1);
    expect(sample(m, 'corfu_manager_projection_epoch')).toBe(1);
    expect(sample(m, 'corfu_manager_servers_down', 'role="unit"')).toBe(0);
    expectPromtoolClean(m);
  });

  it('corfu status: every server, the segments, nothing under-replicated (table and -o json)', () => {
    const t = corfu('status', '--layout', store);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^unit 0\s+127\.0\.0\.1:\d+\s+up\s+epoch 1\s+tail \d+\s+trim mark 0\s+used [\d.]+ MiB of [\d.]+ MiB\s+sync always$/m);
    expect(t.stdout).toMatch(/^segment 0\s+\[0, open\)\s+stripe 0\s+127\.0\.0\.1:\d+\s+1\/1 whole$/m);
    expect(t.stdout).toMatch(/^under-replicated\s+none$/m);
    const j = JSON.parse(corfu('status', '--layout', store, '-o', 'json').stdout) as { segments: { stripes: { healthy: number; underReplicated: boolean }[] }[]; underReplicated: unknown[] };
    expect(j.segments[0]!.stripes[0]).toMatchObject({ healthy: 1, underReplicated: false });
    expect(j.underReplicated).toEqual([]);
    const bad = corfu('status', '--layout', store, '-o', 'yaml');
    expect(bad.code).toBe(2);
    oneLine(bad.stderr);
  });

  it('SIGTERM: the manager turns not ready (draining) and exits 0', async () => {
    const admin = addressOf(manager!, 'admin');
    const sentAt = performance.now();
    manager!.proc.kill('SIGTERM');
    await until(async () => (await get(admin, '/readyz')).status === 503, "the manager's readyz to turn 503", { timeoutMs: MANAGER_DRAIN_MS });
    expect((await get(admin, '/readyz')).body).toMatch(/^\[-\]shutdown failed: draining: SIGTERM received/m);
    expect(JSON.parse((await get(admin, '/status')).body)).toMatchObject({ draining: 'SIGTERM received: shutting down' });
    expect(await manager!.exited).toBe(0);
    stopped.add(manager!);
    expect(performance.now() - sentAt).toBeLessThan(MANAGER_DRAIN_MS + 10_000);
  });

  it('SIGTERM: the sequencer turns not ready, still answers while draining, exits 0', async () => {
    await expectDrainFlip(sequencer, addressOf(sequencer, 'admin'), addressOf(sequencer, 'listening'));
    stopped.add(sequencer);
  });

  it('SIGTERM: the unit turns not ready, still answers while draining, closes its store, exits 0', async () => {
    await expectDrainFlip(unit, addressOf(unit, 'admin'), addressOf(unit, 'listening'));
    stopped.add(unit);
    // The store was closed: the device is free for another process to open.
    const inspect = corfu('inspect', device, '--json');
    expect(inspect.code, inspect.stderr).toBe(0);
  });

  it('corfu status with the unit gone: the stripe is under-replicated', () => {
    const t = corfu('status', '--layout', store);
    expect(t.stdout).toMatch(/^unit 0\s+127\.0\.0\.1:\d+\s+down/m);
    expect(t.stdout).toMatch(/^segment 0\s+\[0, open\)\s+stripe 0\s+127\.0\.0\.1:\d+\s+0\/1 whole \(127\.0\.0\.1:\d+ down\)$/m);
    expect(t.stdout).toMatch(/^under-replicated\s+segment 0 stripe 0$/m);
    const j = JSON.parse(corfu('status', '--layout', store, '--json').stdout) as { underReplicated: unknown[] };
    expect(j.underReplicated).toEqual([{ segment: 0, stripe: 0 }]);
  });
});

describe('--admin flag errors', () => {
  it('a bad --admin value is the same one-line usage error (exit 2) as a bad --listen', () => {
    const listen = corfu('sequencer', '--listen', 'nonsense:port');
    const admin = corfu('sequencer', '--admin', 'nonsense:port');
    expect(listen.code).toBe(2);
    expect(admin.code).toBe(2);
    expect(oneLine(admin.stderr).replace('--admin', '--listen')).toBe(oneLine(listen.stderr));
    for (const verb of [
      ['unit', '--device', 'x', '--listen', '0'],
      ['manager', '--layout', 'file:x'],
    ]) {
      const r = corfu(...verb, '--admin', '127.0.0.1:70000');
      expect(r.code, verb[0]).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/--admin <host:port>.*expected HOST:PORT/);
    }
  });

  it('an admin port in use: one line, exit 1', async () => {
    const first = await startCorfu(['sequencer', '--admin', '127.0.0.1:0'], /^listening /);
    try {
      const r = corfu('sequencer', '--admin', addressOf(first, 'admin'));
      expect(r.code).toBe(1);
      // One fatal line in the server's JSON log (src/cli/log.ts).
      const line = JSON.parse(oneLine(r.stderr)) as { level: string; msg: string; exitCode: number };
      expect(line).toMatchObject({ level: 'fatal', exitCode: 1 });
      expect(line.msg).toMatch(/^cannot listen for admin requests on 127\.0\.0\.1:\d+: the address is already in use$/);
    } finally {
      first.proc.kill('SIGTERM');
      expect(await first.exited).toBe(0);
    }
  });
});

describe('corfu up', () => {
  it('gives every server an admin port, prints them and writes Prometheus file_sd targets; the standby sequencer alone is not ready', async () => {
    const cluster = join(dir, 'up');
    const up = await startCorfu(['up', '--dir', cluster, '--units', '2', '--replicas', '2', '--spares', '0', '--size', '16M'], /^serving/);
    try {
      const text = up.out.join('\n');
      for (const name of ['unit-0', 'unit-1', 'sequencer', 'sequencer-standby', 'manager']) expect(text).toMatch(new RegExp(`^  ${name}\\s+http://127\\.0\\.0\\.1:\\d+$`, 'm'));
      const targetsFile = join(cluster, 'admin.json');
      expect(existsSync(targetsFile)).toBe(true);
      const targets = JSON.parse(readFileSync(targetsFile, 'utf8')) as { targets: string[]; labels: { corfu_server: string; corfu_role: string } }[];
      expect(targets.map((t) => t.labels.corfu_server).sort()).toEqual(['manager', 'sequencer', 'sequencer-standby', 'unit-0', 'unit-1']);
      for (const t of targets) {
        const r = await get(t.targets[0]!, '/readyz');
        expect(r.status, `${t.labels.corfu_server}: ${r.body}`).toBe(t.labels.corfu_server === 'sequencer-standby' ? 503 : 200);
      }
      for (const t of targets) expectPromtoolClean((await get(t.targets[0]!, '/metrics')).body);
    } finally {
      up.proc.kill('SIGTERM');
      expect(await up.exited).toBe(0);
    }
  });
});

describe('clientMetrics', () => {
  it("a client's registry counts its calls by outcome and times them; its stats are read at scrape time; promtool takes it", async () => {
    const store = `file:${join(dir, 'up', 'layout')}`;
    const up = await startCorfu(['up', '--dir', join(dir, 'up'), '--units', '2', '--replicas', '2', '--spares', '0', '--size', '16M'], /^serving/);
    try {
      const client = await CorfuClient.connect({ layout: store, timeoutMs: 3000 });
      try {
        const registry = clientMetrics(client);
        const addresses = [];
        for (let i = 0; i < 4; i++) addresses.push(await client.append(Buffer.from(`metric ${i}`)));
        for (const a of addresses) await client.read(a);
        await expect(client.fill(10_000_000)).rejects.toMatchObject({ code: 'ERR_UNWRITTEN' });
        const text = await registry.metrics();
        expect(sample(text, 'corfu_client_calls_total', 'op="append",outcome="ok"')).toBe(4);
        expect(sample(text, 'corfu_client_calls_total', 'op="read",outcome="ok"')).toBe(4);
        expect(sample(text, 'corfu_client_calls_total', 'op="fill",outcome="ERR_UNWRITTEN"')).toBe(1);
        expect(sample(text, 'corfu_client_call_latency_seconds_count', 'op="append"')).toBe(4);
        expect(sample(text, 'corfu_client_tokens_total')).toBe(client.stats.tokens);
        expect(client.stats.tokens).toBeGreaterThanOrEqual(4);
        expect(sample(text, 'corfu_client_epoch')).toBe(client.epoch);
        expectPromtoolClean(text);
      } finally {
        await client.close();
      }
    } finally {
      up.proc.kill('SIGTERM');
      expect(await up.exited).toBe(0);
    }
  });
});
