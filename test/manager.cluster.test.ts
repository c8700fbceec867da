// `corfu manager` on a real cluster: `corfu unit` and `corfu sequencer`
// processes on 127.0.0.1 (files as devices), a spare unit and a standby
// sequencer, a file: projection store, clients appending the whole time. What
// an operator relies on: a kill -9 of a unit or of the sequencer is healed
// without anyone at the keyboard and nothing acknowledged is lost; a short
// stop is not a failure; one manager is active at a time, and a standby takes
// over when it dies.

import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { CorfuClient } from '../src/client/index.js';
import { FileProjectionStore } from '../src/layout/index.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { until } from './helpers/until.js';

const harness = cliHarness('corfu-manager-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const layoutDir = join(harness.dir, 'layout');
const layout = `file:${layoutDir}`;
const store = new FileProjectionStore(layoutDir);
const procs = new Map<string, Started>();
let units: string[] = [];
let spare = '';
let spare2 = '';
let sequencer = '';
let standby = '';
const clients: CorfuClient[] = [];
/** Appends acknowledged by the earlier tests, read again after later failures. */
const everAcked = new Map<number, string>();
/**
 * Fast detection for the test: a probe every 200 ms, dead after 3 misses. A killed unit's
 * probes fail at once (refused, reset); the 1 s timeout keeps a live unit that a loaded
 * machine stalls for a moment from being taken for dead (with 200 ms, one was, beside the
 * simulator campaign and a mutation run).
 */
const MANAGER_FLAGS = ['--probe-interval', '200', '--probe-timeout', '1000', '--misses', '3'];

function listening(s: Started): string {
  return s.out.find((l) => l.startsWith('listening '))!.split(' ')[1]!;
}

async function start(args: string[]): Promise<string> {
  const s = await harness.startCorfu(args, /^listening /);
  const address = listening(s);
  procs.set(address, s);
  return address;
}

async function startUnit(i: number): Promise<string> {
  const path = join(harness.dir, `unit-${i}.img`);
  Store.format(path, { sizeBytes: 64 * 1024 * 1024, unitId: i });
  return start(['unit', '--device', path, '--listen', '127.0.0.1:0']);
}

async function kill9(address: string): Promise<void> {
  const p = procs.get(address)!;
  p.proc.kill('SIGKILL');
  await p.exited;
}

/** A manager process, once it printed that it campaigns (`manager: standby`). */
function startManager(): Promise<Started> {
  return harness.startCorfu(['manager', '--layout', layout, '--spare', spare, '--spare', spare2, '--standby-sequencer', standby, ...MANAGER_FLAGS], /^manager: standby/);
}

const leads = (m: Started): boolean => m.out.includes('manager: active');

/** Appending clients: every acknowledged address with its payload. */
class Load {
  readonly acked = new Map<number, string>();
  failures = 0;
  #stop = false;
  readonly #done: Promise<void>[];

  constructor(cs: readonly CorfuClient[]) {
    this.#done = cs.flatMap((c, k) =>
      [0, 1, 2, 3].map(async (d) => {
        for (let i = 0; !this.#stop; i++) {
          const text = `c${k}.${d}.${i}`;
          try {
            this.acked.set(await c.append(Buffer.from(text)), text);
          } catch {
            this.failures++;
          }
        }
      }),
    );
  }

  /** Resolves once `n` more appends are acknowledged; returns how long that took. */
  async progress(n: number, what: string): Promise<number> {
    const target = this.acked.size + n;
    const t0 = performance.now();
    await until(() => this.acked.size >= target, what, { timeoutMs: 30_000 });
    return performance.now() - t0;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#done);
  }
}

async function verify(acked: ReadonlyMap<number, string>): Promise<void> {
  const reader = await CorfuClient.connect({ layout });
  clients.push(reader);
  const addresses = [...acked.keys()];
  for (let i = 0; i < addresses.length; i += 256) {
    await Promise.all(
      addresses.slice(i, i + 256).map(async (a) => {
        const e = await reader.read(a);
        expect(e.kind === 'data' ? Buffer.from(e.payload).toString() : 'junk', `address ${a}`).toBe(acked.get(a));
      }),
    );
  }
}

beforeAll(async () => {
  units = await Promise.all([0, 1, 2, 3].map((i) => startUnit(i)));
  spare = await startUnit(4);
  spare2 = await startUnit(5);
  sequencer = await start(['sequencer', '--listen', '127.0.0.1:0']);
  standby = await start(['sequencer', '--listen', '127.0.0.1:0']);
  const r = harness.corfu('layout', 'init', '--store', layout, '--sequencer', sequencer, '--stripe', units.slice(0, 2).join(','), '--stripe', units.slice(2).join(','));
  expect(r.stderr).toBe('');
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('corfu manager', () => {
  it('is the one active manager; a second one waits as a standby', async () => {
    const first = await startManager();
    await until(() => leads(first), 'the first manager to lead');
    const second = await startManager();
    // It keeps campaigning while the first leads (a few of its lock polls).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(leads(second)).toBe(false);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    procs.set('manager', first);
  });

  it('a short stop of a unit (SIGSTOP under the miss limit) changes nothing', async () => {
    const before = (await store.latest())!.epoch;
    const victim = procs.get(units[1]!)!;
    victim.proc.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 350)); // under 3 probes of 200 ms
    victim.proc.kill('SIGCONT');
    // Let the manager look a few more times: still nothing to do.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await store.latest())!.epoch).toBe(before);
  });

  it('replaces a unit killed with kill -9 by the spare while appends go on; nothing acknowledged is lost', async () => {
    const cs = await Promise.all([0, 1].map(() => CorfuClient.connect({ layout })));
    clients.push(...cs);
    const load = new Load(cs);
    await load.progress(300, 'appends before the kill');
    const victim = units[0]!;
    await kill9(victim);
    const t0 = performance.now();
    await until(async () => (await store.latest())!.units.includes(spare), 'the manager to replace the unit', { timeoutMs: 30_000 });
    const firstAfter = await load.progress(1, 'the first append after the kill');
    const replacedMs = performance.now() - t0;
    await load.progress(300, 'appends after the replacement');
    await load.stop();
    const p = (await store.latest())!;
    expect(p.units).not.toContain(victim);
    console.log(
      `unit kill -9 -> replaced in epoch ${p.epoch} within ${replacedMs.toFixed(0)} ms (first append ${firstAfter.toFixed(0)} ms after the replacement was seen); ${load.failures} appends failed`,
    );
    await verify(load.acked);
    for (const [a, v] of load.acked) everAcked.set(a, v);
  }, 90_000);

  it('rebuilds the replacement from the surviving replica; then a kill -9 of that survivor loses nothing either', async () => {
    // The previous test replaced units[0] by the spare: the older entries of units[0]'s chain
    // are on units[1] alone until the manager copies them onto the spare.
    await until(async () => (await store.latest())!.segments.every((s) => s.stripes.every((t) => t.rebuilding === undefined)), 'the manager to rebuild the spare', {
      timeoutMs: 30_000,
    });
    const manager = procs.get('manager')!;
    expect(
      manager.err.some((l) => /rebuild of .* done/.test(l)),
      manager.err.join('\n'),
    ).toBe(true);
    // Its last progress report, for corfu status: the spare, every address copied.
    const report = (await store.getStatus('rebuild')) as { unit: string; done: boolean; addressesDone: number; addressesTotal: number };
    expect(report).toMatchObject({ unit: spare, done: true });
    expect(report.addressesDone).toBe(report.addressesTotal);
    const cs = await Promise.all([0, 1].map(() => CorfuClient.connect({ layout })));
    clients.push(...cs);
    const load = new Load(cs);
    await load.progress(200, 'appends before the second kill');
    // The survivor of the first failure: the only replica that held the chain's oldest entries.
    await kill9(units[1]!);
    await until(async () => (await store.latest())!.units.includes(spare2), 'the manager to replace the second unit', { timeoutMs: 30_000 });
    await load.progress(200, 'appends after the second replacement');
    await load.stop();
    await until(async () => (await store.latest())!.segments.every((s) => s.stripes.every((t) => t.rebuilding === undefined)), 'the second rebuild', { timeoutMs: 30_000 });
    const p = (await store.latest())!;
    expect(p.units).not.toContain(units[0]);
    expect(p.units).not.toContain(units[1]);
    // Every entry acknowledged since the first test, the oldest ones now only on the two rebuilt spares.
    await verify(load.acked);
    await verify(everAcked);
  }, 120_000);

  it('moves a sequencer killed with kill -9 to the standby; no token below an acknowledged address', async () => {
    const cs = await Promise.all([0, 1].map(() => CorfuClient.connect({ layout })));
    clients.push(...cs);
    const load = new Load(cs);
    await load.progress(200, 'appends before the kill');
    await kill9(sequencer);
    await until(async () => (await store.latest())!.sequencer === standby, 'the manager to move the sequencer', { timeoutMs: 30_000 });
    const before = Math.max(...load.acked.keys());
    await load.progress(200, 'appends after the failover');
    await load.stop();
    const after = [...load.acked.keys()].filter((a) => a > before);
    expect(after.length).toBeGreaterThan(0);
    await verify(load.acked);
  }, 90_000);

  it('a standby takes over when the active manager is killed', async () => {
    const active = procs.get('manager')!;
    const standbyManager = await startManager();
    expect(leads(standbyManager)).toBe(false);
    active.proc.kill('SIGKILL');
    await active.exited;
    await until(() => leads(standbyManager), 'the standby to take over', { timeoutMs: 15_000 });
    standbyManager.proc.kill('SIGTERM');
    expect(await standbyManager.exited).toBe(0);
  });
});
