// The bank workload on real processes (docs/objects.md): N accounts; three worker
// processes move money between them in transactions (test/fixtures/bank-worker.mjs)
// while this process takes snapshot reads of every balance, which must always add up
// to the same total. Midway a unit is killed (-9) and restarted on its address, and
// then the sequencer is killed (-9) and replaced by a standby. At the end every
// transfer a worker saw commit is applied exactly once, none that aborted is, and the
// balances are the opening ones plus the transfers that took effect.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, expect, it } from 'vitest';

import { reconfigure } from '../src/client/reconfigure-driver.js';
import { FileProjectionStore } from '../src/layout/index.js';
import { CorfuRuntime } from '../src/objects/index.js';
import { startCluster } from './helpers/cluster.js';
import { ownLoopback } from './helpers/ports.js';
import { Servers } from './helpers/servers.js';

const WORKER = fileURLToPath(new URL('./fixtures/bank-worker.mjs', import.meta.url));
const ACCOUNTS = 8;
const OPENING = 1000;
const WORKERS = 3;
const TRANSFERS = 60;

const dir = mkdtempSync(join(tmpdir(), 'corfu-bank-'));
let LAYOUT = '';
const HOST = ownLoopback();
const servers = new Servers();
const workers = new Set<ChildProcess>();
let rt: CorfuRuntime | undefined;

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await rt?.close();
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

interface Transfer {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly outcome: 'committed' | 'aborted' | 'unknown';
  readonly code?: string;
}

/** Starts a worker; resolves its transfers when it exits, and reports each line as it comes. */
function startWorker(id: number, onLine: () => void): { ready: Promise<void>; done: Promise<Transfer[]> } {
  const proc = spawn(process.execPath, [WORKER, LAYOUT, String(id), String(TRANSFERS), String(ACCOUNTS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  workers.add(proc);
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const lines: Transfer[] = [];
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line === 'ready') return readyResolve();
    lines.push(JSON.parse(line) as Transfer);
    onLine();
  });
  const done = new Promise<Transfer[]>((resolve, reject) =>
    proc.once('exit', (code) => {
      workers.delete(proc);
      if (code === 0) resolve(lines);
      else reject(new Error(`bank worker ${id} exited ${code}: ${stderr}`));
    }),
  );
  return { ready, done };
}

it('transfers under kill -9 of a unit and of the sequencer: every snapshot adds up, every committed transfer is applied exactly once', async () => {
  const c = await startCluster(servers, dir, { name: 'bank', chains: 2, replicas: 2, sequencers: 2, host: HOST });
  const { units, devices } = c;
  const [sequencer, standby] = c.sequencers;
  LAYOUT = c.layout;

  rt = await CorfuRuntime.connect({ layout: LAYOUT, deadlineMs: 30_000, holeTimeoutMs: 100 });
  const balances = rt.map<number>('balances');
  const opening = Object.fromEntries(Array.from({ length: ACCOUNTS }, (_, i) => [`acct${i}`, OPENING]));
  await balances.putAll(opening);
  const total = ACCOUNTS * OPENING;

  let finished = 0;
  const all = WORKERS * TRANSFERS;
  const started = Array.from({ length: WORKERS }, (_, i) => startWorker(i, () => finished++));
  await Promise.all(started.map((w) => w.ready));

  // Snapshot reads all along: a read-only transaction of every balance.
  const sums: number[] = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      // A layout change while it reads aborts a read-only transaction too (its snapshot may
      // not outlive the epoch): ERR_CONFLICT, and the reader tries again.
      const sum = await rt.transaction(
        async (tx) => {
          let s = 0;
          for (let i = 0; i < ACCOUNTS; i++) s += (await tx.get(balances, `acct${i}`)) ?? 0;
          return s;
        },
        { retries: 20 },
      );
      sums.push(sum);
    }
  })();

  const waitFor = async (n: number): Promise<void> => {
    while (finished < n) await new Promise((r) => setTimeout(r, 20));
  };
  // A unit dies and comes back on its address (its device recovers what it acknowledged).
  await waitFor(all / 3);
  const victim = units[1]!;
  await servers.kill9(victim.proc);
  await new Promise((r) => setTimeout(r, 300));
  units[1] = await servers.start(['unit', '--device', devices[1]!, '--listen', victim.address]);
  // The sequencer dies; a reconfiguration moves it to the standby, which rebuilds its stream tails.
  await waitFor((2 * all) / 3);
  await servers.kill9(sequencer!.proc);
  await reconfigure(new FileProjectionStore(c.layoutDir), [{ kind: 'move-sequencer', sequencer: standby!.address }], { timeoutMs: 3000 });

  const results = (await Promise.all(started.map((w) => w.done))).flat();
  reading = false;
  await reader;

  expect(results).toHaveLength(all);
  expect(sums.length).toBeGreaterThan(5);
  expect(new Set(sums)).toEqual(new Set([total]));

  // What took effect, from a fresh runtime that replays everything.
  const check = await CorfuRuntime.connect({ layout: LAYOUT });
  try {
    const applied = new Map((await check.map<{ from: string; to: string; amount: number }>('transfers').entries()).map(([id, t]) => [id, t]));
    for (const t of results) {
      if (t.outcome === 'committed') expect(applied.has(t.id), `${t.id} committed but not applied`).toBe(true);
      if (t.outcome === 'aborted') expect(applied.has(t.id), `${t.id} aborted but applied`).toBe(false);
    }
    const expected = new Map(Object.entries(opening));
    for (const t of applied.values()) {
      expected.set(t.from, expected.get(t.from)! - t.amount);
      expected.set(t.to, expected.get(t.to)! + t.amount);
    }
    // Exactly once: the balances are the opening ones plus each applied transfer once.
    expect(new Map(await check.map<number>('balances').entries())).toEqual(expected);
    const committed = results.filter((t) => t.outcome === 'committed').length;
    expect(committed).toBeGreaterThan(all / 2);
    console.log(
      `bank: ${all} transfers, ${committed} committed, ${results.filter((t) => t.outcome === 'aborted').length} aborted after retries, ` +
        `${results.filter((t) => t.outcome === 'unknown').length} unknown (${applied.size} applied); ${sums.length} snapshot reads, all ${total}`,
    );
  } finally {
    await check.close();
  }
}, 180_000);
