// trim, prefixTrim and appendBatch of CorfuClient on a real cluster: 4 `corfu
// unit` processes (2 chains of 2) and a `corfu sequencer`, files as devices,
// on a loopback address of this process's own (so a killed unit comes back on
// its port). Clients race appends, batches, reads, trims, prefix trims and
// tails while units are killed (-9) and restarted; every call goes into a
// history the linearizability checker (test/check) must accept, and the facts
// a user relies on are asserted directly too.
//
// Trims touch only acknowledged addresses, as an application trims what it
// has consumed: a single trim picks an acknowledged address, and a prefix trim
// stops at the first address not yet acknowledged.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient } from '../src/client/index.js';
import { chainFor, FileProjectionStore, headOf, tailOf } from '../src/layout/index.js';
import { describeOp } from './check/history.js';
import { checkHistory, formatViolations } from './check/linearizability.js';
import { CLI } from './helpers/cli.js';
import { ownLoopback } from './helpers/ports.js';
import { isFailure, RecordedLog, type ReadOutcome } from './helpers/recorded-client.js';
import { Servers, type Server } from './helpers/servers.js';
import { until } from './helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-trim-'));
const layoutDir = join(dir, 'layout');
const LAYOUT = `file:${layoutDir}`;
const HOST = ownLoopback();
const servers = new Servers();
const clients: CorfuClient[] = [];
const devices = [0, 1, 2, 3].map((i) => join(dir, `unit-${i}.img`));
/** The unit serving each device (replaced when it is restarted). */
const units: Server[] = [];

beforeAll(async () => {
  for (const [i, d] of devices.entries()) execFileSync(process.execPath, [CLI, 'format', d, '--size', '64M', '--unit-id', String(i)], { stdio: 'ignore' });
  const [started, sequencer] = await Promise.all([
    Promise.all(devices.map((d) => servers.start(['unit', '--device', d, '--listen', `${HOST}:0`]))),
    servers.start(['sequencer', '--listen', `${HOST}:0`]),
  ]);
  units.push(...started);
  const a = units.map((u) => u.address);
  const init = spawnSync(process.execPath, [CLI, 'layout', 'init', '--store', LAYOUT, '--sequencer', sequencer.address, '--stripe', `${a[0]},${a[1]}`, '--stripe', `${a[2]},${a[3]}`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(init.status, init.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function client(shareConnections: boolean): Promise<CorfuClient> {
  const c = await CorfuClient.connect({ layout: LAYOUT, timeoutMs: 2000, holeTimeoutMs: 100, shareConnections });
  clients.push(c);
  return c;
}

/** kill -9 the unit of device `i`, wait until clients have lost requests to it, restart it on the same address. */
async function crashAndRestart(i: number): Promise<void> {
  const victim = units[i]!;
  const resends = (): number => clients.reduce((n, c) => n + c.stats.resends, 0);
  const before = resends();
  await servers.kill9(victim.proc);
  await until(() => resends() > before, `requests to the killed unit ${victim.address} lost and resent`);
  units[i] = await servers.start(['unit', '--device', devices[i]!, '--listen', victim.address]);
}

/** mulberry32: seeded, so every run makes the same choices (the timings still differ). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The racing clients' shared view: what was acknowledged, what is safe to trim. */
class Consumed {
  /** Every acknowledged append: address -> payload. */
  readonly acked = new Map<number, Uint8Array>();
  readonly order: number[] = [];
  /** Every address below is acknowledged: a prefix trim may go up to here. */
  low = 0;
  /** The highest prefix trim issued so far. */
  prefixIssued = 0;

  ack(address: number, payload: Uint8Array): void {
    if (this.acked.has(address)) throw new Error(`address ${address} acknowledged twice`);
    this.acked.set(address, payload);
    this.order.push(address);
    while (this.acked.has(this.low)) this.low++;
  }

  /** Mostly recent addresses (where appends, reads and trims meet), sometimes any. */
  pick(random: () => number): number {
    const n = this.order.length;
    const k = random() < 0.7 ? n - 1 - Math.floor(random() * Math.min(n, 100)) : Math.floor(random() * n);
    return this.order[k]!;
  }
}

describe('trim, prefixTrim and appendBatch on a real cluster', () => {
  it('racing clients with kill -9 and restarts of units: the history is linearizable; trimmed reads ERR_TRIMMED, the rest reads back', async () => {
    const log = new RecordedLog();
    const seen = new Consumed();
    const tally = { appends: 0, batches: 0, dataReads: 0, trimmedReads: 0, trims: 0, prefixTrims: 0, tails: 0 };
    const batchProblems: string[] = [];
    const cs = await Promise.all([true, false, true, false].map((share) => client(share)));
    let stop = false;
    let payloads = 0;
    const payload = (who: string): Buffer => {
      const text = `${who}#${payloads++} `;
      return Buffer.from(text.padEnd(text.length + ((payloads * 37) % 150), String.fromCharCode(97 + (payloads % 26))));
    };

    const worker = async (c: CorfuClient, who: string, random: () => number): Promise<void> => {
      while (!stop) {
        const r = random();
        if (r < 0.35 || seen.order.length === 0) {
          const p = payload(who);
          const a = await log.append(c, who, p);
          if (!isFailure(a)) {
            seen.ack(a, p);
            tally.appends++;
          }
        } else if (r < 0.5) {
          const ps = Array.from({ length: 2 + Math.floor(random() * 6) }, () => payload(who));
          const as = await log.appendBatch(c, who, ps);
          if (isFailure(as)) continue;
          tally.batches++;
          // One token range for the batch: consecutive addresses in order (nothing raced for them).
          if (!as.every((a, i) => a === as[0]! + i)) batchProblems.push(`${who}: appendBatch of ${ps.length} returned ${as.join(',')}`);
          as.forEach((a, i) => seen.ack(a, ps[i]!));
        } else if (r < 0.75) {
          const res = await log.read(c, who, seen.pick(random));
          if (!isFailure(res)) tally[res.kind === 'trimmed' ? 'trimmedReads' : 'dataReads']++;
        } else if (r < 0.85) {
          if ((await log.trim(c, who, seen.pick(random))) === true) tally.trims++;
        } else if (r < 0.9 && seen.low > seen.prefixIssued) {
          const bound = seen.prefixIssued + 1 + Math.floor(random() * (seen.low - seen.prefixIssued));
          seen.prefixIssued = bound;
          if ((await log.prefixTrim(c, who, bound)) === true) tally.prefixTrims++;
        } else if (!isFailure(await log.tail(c, who))) {
          tally.tails++;
        }
      }
    };
    const workers = cs.flatMap((c, k) => [0, 1, 2].map((w) => worker(c, `c${k}.${w}`, rng(1000 * k + w + 1))));
    const progress = (n: number): Promise<void> => {
      const target = seen.acked.size + n;
      return until(() => seen.acked.size >= target, `${n} more acknowledged appends (${seen.acked.size}/${target}; errors ${JSON.stringify([...log.errors])})`, { timeoutMs: 30_000 });
    };

    // The race: the head of chain 0, then the tail of chain 1, die and come back.
    await progress(400);
    await crashAndRestart(0);
    await progress(400);
    await crashAndRestart(3);
    await progress(400);
    stop = true;
    await Promise.all(workers);

    expect(log.bugs).toEqual([]);
    expect(batchProblems).toEqual([]);
    for (const [kind, n] of Object.entries(tally)) expect(n, `${kind} that succeeded`).toBeGreaterThan(0);

    // Every address up to the tail, read by a fresh client (holes of failed appends get filled).
    const reader = await client(false);
    const tail = await log.tail(reader, 'final');
    if (isFailure(tail)) throw new Error(`tail() failed: ${tail.failed}`);
    const finalRead = new Map<number, ReadOutcome>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let a = next++; a < tail; a = next++) {
          const r = await log.read(reader, 'final', a);
          if (isFailure(r)) throw new Error(`final read of ${a} failed: ${r.failed}`);
          finalRead.set(a, r);
        }
      }),
    );

    // The user-facing facts, directly: an acknowledged trim, or a prefix trim past it, leaves the
    // address ERR_TRIMMED; one only maybe trimmed (its call failed) reads trimmed or its bytes;
    // the rest reads back exactly.
    const ops = log.operations();
    const trimmedSure = new Set<number>();
    const trimmedMaybe = new Set<number>();
    let prefixSure = 0;
    let prefixMaybe = 0;
    for (const op of ops) {
      if (op.op === 'trim') (op.end?.status === 'ok' ? trimmedSure : trimmedMaybe).add(op.address);
      if (op.op === 'prefixTrim' && op.end?.status === 'ok') prefixSure = Math.max(prefixSure, op.address);
      if (op.op === 'prefixTrim' && op.end?.status !== 'fail') prefixMaybe = Math.max(prefixMaybe, op.address);
    }
    expect(tail).toBeGreaterThan(Math.max(...seen.acked.keys()));
    for (const [address, p] of seen.acked) {
      const r = finalRead.get(address)!;
      const shouldBeTrimmed = trimmedSure.has(address) || address < prefixSure;
      const mayBeTrimmed = shouldBeTrimmed || trimmedMaybe.has(address) || address < prefixMaybe;
      if (shouldBeTrimmed) expect(r.kind, `address ${address}`).toBe('trimmed');
      else if (r.kind !== 'trimmed' || !mayBeTrimmed) {
        expect(r.kind, `address ${address}`).toBe('data');
        if (r.kind === 'data') expect(same(r.payload, p), `address ${address} holds its payload`).toBe(true);
      }
    }

    const check = checkHistory(ops, { readsMayFill: true });
    if (!check.ok) throw new Error(`not linearizable:\n${formatViolations(check.violations)}`);
    console.log(
      `trim race: ${ops.length} operations (${JSON.stringify(tally)}), final tail ${tail}, prefix trimmed to ${prefixSure}, ` +
        `${trimmedSure.size} addresses trimmed; errors ${JSON.stringify([...log.errors])}`,
    );
  }, 120_000);

  it('appendBatch returns consecutive addresses that read back; trim and prefixTrim read ERR_TRIMMED, also after a kill -9 of the chain tail; the rest reads back', async () => {
    const log = new RecordedLog();
    const c = await client(true);
    const other = await client(false);
    const payloads = Array.from({ length: 16 }, (_, i) => Buffer.from(`batch entry ${i} `.padEnd(40 + i * 13, 'x')));
    const batch = await log.appendBatch(c, 'q', payloads);
    if (isFailure(batch)) throw new Error(`appendBatch failed: ${batch.failed}`);
    expect(batch).toEqual(Array.from({ length: 16 }, (_, i) => batch[0]! + i));
    const readBack = async (who: CorfuClient, address: number): Promise<ReadOutcome> => {
      const r = await log.read(who, 'q', address);
      if (isFailure(r)) throw new Error(`read ${address} failed: ${r.failed}`);
      return r;
    };
    const expectData = async (who: CorfuClient, i: number): Promise<void> => {
      const r = await readBack(who, batch[i]!);
      expect(r.kind, `batch[${i}] at ${batch[i]}`).toBe('data');
      if (r.kind === 'data') expect(same(r.payload, payloads[i]!), `batch[${i}] bytes`).toBe(true);
    };
    for (let i = 0; i < 16; i++) await expectData(other, i);

    // A single trim: that address only.
    expect(await log.trim(c, 'q', batch[3]!)).toBe(true);
    expect(await readBack(other, batch[3]!)).toEqual({ kind: 'trimmed' });
    for (const i of [2, 4]) await expectData(other, i);

    // A prefix trim: everything below it, on every chain, the entries of the earlier test too;
    // then a single trim above it.
    const bound = batch[8]!;
    expect(await log.prefixTrim(c, 'q', bound)).toBe(true);
    expect(await log.trim(c, 'q', batch[12]!)).toBe(true);
    const afterTrims = async (who: CorfuClient): Promise<void> => {
      const below = await Promise.all(Array.from({ length: bound }, (_, a) => readBack(who, a)));
      const notTrimmed = below.flatMap((r, a) => (r.kind === 'trimmed' ? [] : [a]));
      expect(notTrimmed, 'addresses below the prefix trim that did not read ERR_TRIMMED').toEqual([]);
      expect(await readBack(who, batch[12]!)).toEqual({ kind: 'trimmed' });
      for (let i = 8; i < 16; i++) if (i !== 12) await expectData(who, i);
    };
    await afterTrims(other);

    // Trims are durable: kill -9 the tail of batch[12]'s chain (reads go to the tail) and restart it.
    const projection = (await new FileProjectionStore(layoutDir).latest())!;
    const chain = chainFor(projection, batch[12]!);
    const tailUnit = units.findIndex((u) => u.address === tailOf(chain));
    expect(tailUnit).toBeGreaterThanOrEqual(0);
    expect(headOf(chain)).not.toBe(tailOf(chain));
    await servers.kill9(units[tailUnit]!.proc);
    units[tailUnit] = await servers.start(['unit', '--device', devices[tailUnit]!, '--listen', tailOf(chain)]);
    await afterTrims(await client(false));

    expect(log.bugs).toEqual([]);
    const check = checkHistory(log.operations(), { readsMayFill: true });
    if (!check.ok) throw new Error(`not linearizable:\n${formatViolations(check.violations)}`);
    // The history holds what the assertions above saw (the checker saw every one of these calls).
    expect(
      log
        .operations()
        .filter((op) => op.end?.status !== 'ok')
        .map(describeOp),
    ).toEqual([]);
  }, 60_000);
});
