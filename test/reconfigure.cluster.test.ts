// Reconfiguration and crashes on a real cluster: `corfu unit` and `corfu
// sequencer` processes on 127.0.0.1, files as devices, the projection store in
// a temp dir, CorfuClients appending the whole time. What a user relies on:
// no acknowledged append is ever lost or given an address twice, whatever is
// killed or reconfigured underneath.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient } from '../src/client/index.js';
import { FileProjectionStore } from '../src/layout/index.js';
import { splitHostPort } from '../src/transport/address.js';
import { Connection } from '../src/transport/connection.js';
import { CLI } from './helpers/cli.js';
import { ownLoopback } from './helpers/ports.js';
import { until } from './helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-reconf-'));
const layoutDir = join(dir, 'layout');
const STORE = `file:${layoutDir}`;
const children = new Set<ChildProcess>();
const clients: CorfuClient[] = [];
const unitProcs = new Map<string, ChildProcess>();
const devices: string[] = [];
let units: string[] = [];
let sequencers: string[] = [];
const sequencerProcs = new Map<string, ChildProcess>();

function spawnListening(args: string[]): Promise<{ address: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let stdout = '';
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = /^listening (\S+)$/m.exec(stdout);
      if (m) resolve({ address: m[1]!, proc });
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before listening: ${stderr}`)));
  });
}

/** Units listen on a loopback address of this process's own, so a killed one can come back on its port. */
const UNIT_HOST = ownLoopback();

async function startUnit(i: number, listen = `${UNIT_HOST}:0`): Promise<string> {
  const { address, proc } = await spawnListening(['unit', '--device', devices[i]!, '--listen', listen]);
  unitProcs.set(address, proc);
  return address;
}

function kill9(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** `corfu ARGS` to completion, asynchronously (so two can race). */
function corfu(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
}

function payload(writer: number, i: number): Buffer {
  return Buffer.from(`writer ${writer} entry ${i} `.padEnd(40 + ((writer * 31 + i) % 90), String.fromCharCode(97 + ((writer + i) % 26))));
}

/** Appending clients: every acknowledged address with its payload; rejections counted, not thrown. */
class Load {
  readonly acked = new Map<number, Buffer>();
  failures = 0;
  lastError = '';
  #stop = false;
  readonly #done: Promise<void>[];

  constructor(cs: readonly CorfuClient[], depth: number) {
    this.#done = cs.flatMap((c, k) =>
      Array.from({ length: depth }, async (_, d) => {
        for (let i = 0; !this.#stop; i++) {
          const p = payload(k * 100 + d, i);
          try {
            const a = await c.append(p);
            expect(this.acked.has(a), `address ${a} acknowledged twice`).toBe(false);
            this.acked.set(a, p);
          } catch (err) {
            this.failures++;
            this.lastError = String(err);
            if ((err as { code?: string }).code === 'ERR_CLOSED') return;
          }
        }
      }),
    );
  }

  /** Resolves once `n` more appends have been acknowledged. */
  async progress(n: number, timeoutMs = 15_000): Promise<void> {
    const target = this.acked.size + n;
    const t0 = Date.now();
    while (this.acked.size < target) {
      if (Date.now() - t0 > timeoutMs) {
        this.#stop = true;
        throw new Error(`no progress: ${this.acked.size}/${target} acked, ${this.failures} failures (${this.lastError})`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#done);
  }
}

async function clientsN(n: number): Promise<CorfuClient[]> {
  const cs = await Promise.all(Array.from({ length: n }, () => CorfuClient.connect({ layout: STORE, timeoutMs: 2000, holeTimeoutMs: 100 })));
  clients.push(...cs);
  return cs;
}

/** Every acknowledged entry reads back with its exact bytes (through a fresh client on the latest layout). */
async function verify(acked: ReadonlyMap<number, Buffer>): Promise<void> {
  const [reader] = await clientsN(1);
  const addresses = [...acked.keys()];
  for (let i = 0; i < addresses.length; i += 256) {
    await Promise.all(
      addresses.slice(i, i + 256).map(async (a) => {
        const e = await reader!.read(a);
        expect(e.kind, `address ${a}`).toBe('data');
        if (e.kind === 'data') expect(Buffer.from(e.payload).equals(acked.get(a)!), `address ${a}`).toBe(true);
      }),
    );
  }
}

async function sequencerTail(address: string, epoch: number): Promise<number> {
  const conn = new Connection({ ...splitHostPort(address), timeoutMs: 3000 });
  try {
    const res = await conn.call({ type: 'request', op: 'TAIL', epoch });
    if (res.op !== 'TAIL') throw new Error(`TAIL answered ${res.op}`);
    return res.tail;
  } finally {
    await conn.close();
  }
}

beforeAll(async () => {
  for (let i = 0; i < 7; i++) {
    devices.push(join(dir, `unit-${i}.img`));
    execFileSync(process.execPath, [CLI, 'format', devices[i]!, '--size', '64M', '--unit-id', String(i)], { stdio: 'ignore' });
  }
  // Units 0-3 make the first layout; 4-6 are spares.
  units = await Promise.all(devices.map((_, i) => startUnit(i)));
  const started = await Promise.all([0, 1].map(() => spawnListening(['sequencer', '--listen', '127.0.0.1:0'])));
  sequencers = started.map((s) => s.address);
  for (const s of started) sequencerProcs.set(s.address, s.proc);
  const init = await corfu('layout', 'init', '--store', STORE, '--sequencer', sequencers[0]!, '--stripe', `${units[0]},${units[1]}`, '--stripe', `${units[2]},${units[3]}`);
  expect(init.code, init.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('a cluster under load', () => {
  it('kill -9 a unit while appends run and restart it: no append fails, every acknowledged entry reads back', async () => {
    const load = new Load(await clientsN(4), 8);
    await load.progress(500);
    const victim = units[1]!; // the tail of stripe 0: every append to it waits on it
    const resendsBefore = clients.reduce((n, c) => n + c.stats.resends, 0);
    await kill9(unitProcs.get(victim)!);
    const down = load.acked.size;
    // Down until the appends have noticed: requests to it lost and resent.
    await until(() => clients.reduce((n, c) => n + c.stats.resends, 0) > resendsBefore, 'appends resending to the dead unit');
    await startUnit(1, victim);
    await load.progress(500);
    await load.stop();
    expect(load.failures, load.lastError).toBe(0);
    console.log(`kill -9 ${victim}: ${down} acked before, ${load.acked.size} in all`);
    await verify(load.acked);
  }, 60_000);

  it('corfu layout reconfigure under load: replace a live unit, move a dead sequencer, add a segment; nothing acknowledged is lost', async () => {
    const load = new Load(await clientsN(4), 8);
    await load.progress(300);

    // 1. Replace unit 3 (alive) by unit 4: stripe 1's older addresses stay on unit 2 alone.
    let r = await corfu('layout', 'reconfigure', '--store', STORE, '--replace', `${units[3]}=${units[4]}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${units[2]} -> ${units[4]}`);
    await load.progress(300);

    // 2. The sequencer dies; a spare takes over above every written address.
    await kill9(sequencerProcs.get(sequencers[0]!)!);
    const highest = Math.max(...load.acked.keys());
    r = await corfu('layout', 'reconfigure', '--store', STORE, '--sequencer', sequencers[1]!);
    expect(r.code, r.stderr).toBe(0);
    const epoch = (await new FileProjectionStore(layoutDir).latest())!.epoch;
    expect(await sequencerTail(sequencers[1]!, epoch)).toBeGreaterThan(highest);
    await load.progress(300);

    // 3. Stripe the log over three chains from the tail on.
    r = await corfu('layout', 'reconfigure', '--store', STORE, '--add-segment', '--stripe', `${units[0]},${units[1]}`, '--stripe', `${units[2]},${units[4]}`, '--stripe', `${units[5]},${units[1]}`);
    expect(r.code, r.stderr).toBe(0);
    await load.progress(300);
    await load.stop();

    const latest = (await new FileProjectionStore(layoutDir).latest())!;
    expect(latest.segments.length).toBeGreaterThanOrEqual(3);
    expect(latest.segments.at(-1)!.stripes).toHaveLength(3);
    expect(load.failures, load.lastError).toBe(0);
    console.log(`reconfigure x3 under load: epoch ${latest.epoch}, ${load.acked.size} acked`);
    await verify(load.acked);
  }, 90_000);

  it('a dead unit is replaced under load: appends to its chain resume on the new layout, older entries read from the survivors', async () => {
    const load = new Load(await clientsN(4), 8);
    await load.progress(300);
    const dead = units[4]!; // in stripe 1 of the last two segments, as the tail
    await kill9(unitProcs.get(dead)!);
    const r = await corfu('layout', 'reconfigure', '--store', STORE, '--replace', `${dead}=${units[6]}`);
    expect(r.code, r.stderr).toBe(0);
    const latest = (await new FileProjectionStore(layoutDir).latest())!;
    expect(latest.units).not.toContain(dead);
    await load.progress(500);
    await load.stop();
    expect(load.failures, load.lastError).toBe(0);
    await verify(load.acked);
  }, 90_000);

  it('two reconfigurations at once: exactly one installs the next epoch, the other is told so', async () => {
    const before = (await new FileProjectionStore(layoutDir).latest())!.epoch;
    const [a, b] = await Promise.all([
      corfu('layout', 'reconfigure', '--store', STORE, '--expect-epoch', String(before), '--replace', `${units[5]}=${units[3]}`),
      corfu('layout', 'reconfigure', '--store', STORE, '--expect-epoch', String(before)),
    ]);
    expect([a.code, b.code].sort(), `${a.stderr}\n${b.stderr}`).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stderr).toMatch(/another reconfiguration won epoch|the layout is at epoch/);
    const epochs = readdirSync(layoutDir).filter((f) => /\d/.test(f));
    const latest = (await new FileProjectionStore(layoutDir).latest())!;
    expect(latest.epoch).toBe(before + 1);
    expect(epochs.length).toBe(before + 1);
  }, 30_000);
});

describe('corfu layout reconfigure: bad input', () => {
  it('bad flags are usage errors (exit 2, one line); an empty store or a stale --expect-epoch is exit 1', async () => {
    for (const args of [['--replace', 'nonsense'], ['--replace', '127.0.0.1:1=127.0.0.1:1'], ['--add-segment'], ['--stripe', '127.0.0.1:1,127.0.0.1:2'], ['--expect-epoch', 'zero']]) {
      const r = await corfu('layout', 'reconfigure', '--store', STORE, ...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    }
    const empty = await corfu('layout', 'reconfigure', '--store', `file:${join(dir, 'no-layout')}`);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/ERR_BAD_REQUEST: the projection store is empty/);
    const stale = await corfu('layout', 'reconfigure', '--store', STORE, '--expect-epoch', '99');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/ERR_SEALED: the layout is at epoch \d+, not 99/);
  });
});
