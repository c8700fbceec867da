// `corfu manager` with the projections in a real etcd: one manager leads
// through etcd's election (a lease), a standby takes over within the lease's
// TTL when the leader is killed, and the new leader heals a dead unit.

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { openProjectionStore } from '../src/layout/index.js';
import type { ProjectionStore } from '../src/layout/store.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';
import { until } from './helpers/until.js';

const harness = cliHarness('corfu-manager-etcd-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
let etcd: EtcdServer;
let layout = '';
let store: ProjectionStore;
const procs = new Map<string, Started>();

function listening(s: Started): string {
  return s.out.find((l) => l.startsWith('listening '))!.split(' ')[1]!;
}

async function startUnit(i: number): Promise<string> {
  const path = join(harness.dir, `unit-${i}.img`);
  Store.format(path, { sizeBytes: 32 * 1024 * 1024, unitId: i });
  const s = await harness.startCorfu(['unit', '--device', path, '--listen', '127.0.0.1:0'], /^listening /);
  procs.set(listening(s), s);
  return listening(s);
}

const leads = (m: Started): boolean => m.out.includes('manager: active');

beforeAll(async () => {
  etcd = await startEtcd();
  layout = etcd.url('corfu-manager-test');
  store = await openProjectionStore(layout);
}, 60_000);

afterAll(async () => {
  await store?.close();
  await etcd?.close();
});

describe('corfu manager on an etcd store', () => {
  it('leads through the election; a standby takes over a killed leader and replaces a dead unit', async () => {
    const units = await Promise.all([0, 1].map((i) => startUnit(i)));
    const spare = await startUnit(2);
    const seq = await harness.startCorfu(['sequencer', '--listen', '127.0.0.1:0'], /^listening /);
    const init = harness.corfu('layout', 'init', '--store', layout, '--sequencer', listening(seq), '--stripe', units.join(','));
    expect(init.stderr).toBe('');
    const flags = ['manager', '--layout', layout, '--spare', spare, '--probe-interval', '200', '--probe-timeout', '200', '--misses', '3'];
    const first = await harness.startCorfu(flags, /^manager: standby/);
    await until(() => leads(first), 'the first manager to lead', { timeoutMs: 20_000 });
    const second = await harness.startCorfu(flags, /^manager: standby/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(leads(second)).toBe(false);

    first.proc.kill('SIGKILL');
    await first.exited;
    // Within the lease's TTL (5 s) and a little.
    await until(() => leads(second), 'the standby to take over', { timeoutMs: 15_000 });

    const victim = units[0]!;
    procs.get(victim)!.proc.kill('SIGKILL');
    await until(async () => (await store.latest())!.units.includes(spare), 'the new leader to replace the dead unit', { timeoutMs: 20_000 });
    expect((await store.latest())!.units).not.toContain(victim);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);
});
