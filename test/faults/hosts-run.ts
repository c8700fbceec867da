// Multi-host fault runs (issue 8 §4, "Proof on real processes, across
// machines"): the cluster of hosts.ts — three boxes of units on direct-I/O loop
// devices, etcd, a sequencer and a standby, `corfu manager` and a standby
// manager — with two client drivers appending (and reading, filling, asking
// the tail) the whole time, and one scenario of real faults per fresh cluster:
//
//   unit-rebuild  1a kill -9 a unit: the manager replaces it by a spare and
//                    rebuilds the spare from the chain's other copy;
//                 1b then kill -9 that other copy (of the oldest segment): its
//                    addresses are now only on the rebuilt spare, which is the
//                    next rebuild's source.
//   sequencer     2  kill -9 the sequencer: the manager moves the log to the
//                    standby; no token below an acknowledged address.
//   manager       3a kill -9 a unit, and kill -9 the active manager the moment it
//                    logs `reconfiguring`: the standby manager finishes it;
//                 3b kill -9 another unit, and kill -9 the (new) active manager
//                    the moment it logs `rebuild of … starting`: a fresh standby
//                    finishes the rebuild.
//   partition     4  nft drops every packet between the active manager and the
//                    boxes (both ways, in its namespace; etcd still reachable):
//                    no reconfiguration, while partitioned nor after.
//   box-power     5  kill -9 every process of box b0 (two units, a spare and the
//                    active sequencer): the manager replaces them all in one
//                    epoch and rebuilds; then the box comes back (its units
//                    restarted on the same devices) and is not taken back
//                    (its units hold entries: only empty spares are used).
//
// Before the load, a prefill (driver.ts --mode prefill) appends --prefill bytes
// of 4 KiB entries so that a rebuild has something to copy. At the end: every
// acknowledged append is read back through a fresh client and compared byte
// for byte (the prefill against its sha256), and the load's histories and the
// final read go through the linearizability checker (campaign.ts analyze()).
//
// Per step: from the fault to the first acknowledged append invoked after it
// (and to one on every stripe), each rebuild's bytes and time (the manager's
// `rebuild of X starting` / `done` lines), the epochs installed and why.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Operation } from '../check/history.js';
import { locate } from '../../src/layout/mapping.js';
import type { Projection } from '../../src/layout/index.js';
import { analyze, newScheduleResult, sourceVersion, stopDrivers } from './campaign.js';
import { CTL, DRIVER, type Crash } from './cluster.js';
import { deserializeOps, type DriverOutput } from './history-io.js';
import { BOXES, CLIENT_ROLES, HostsCluster, type ManagerLine } from './hosts.js';
import { Proc } from './procs.js';
import { Resources, ROOT } from './resources.js';
import { nowMs, run, sleep } from './util.js';

export const SCENARIOS = ['unit-rebuild', 'sequencer', 'manager', 'partition', 'box-power'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface HostsRunOptions {
  readonly scenarios: readonly ScenarioName[];
  /** Bytes appended (4 KiB entries) before the load starts. */
  readonly prefillBytes: number;
  readonly deviceBytes: number;
  readonly clientsPerDriver: number;
  readonly depth: number;
  /** Operations a second, per driver (two drivers). */
  readonly rate: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly misses: number;
  /** How long scenario 4 holds the partition. */
  readonly partitionMs: number;
  readonly seed: number;
  readonly keep: boolean;
  readonly log: (line: string) => void;
}

export interface Check {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface RebuildRecord {
  readonly unit: string;
  readonly manager: string;
  readonly addresses: number;
  readonly bytes: number;
  readonly ms: number;
  /** Payload bytes copied a second. */
  readonly rate: number;
}

export interface StepResult {
  readonly step: string;
  readonly fault: string;
  /** Monotonic ms (util.nowMs) of the fault; the times below are relative to it. */
  faultAt: number;
  endedAt: number;
  /** From the fault to the first acknowledged append invoked after it, on any stripe / on every stripe. */
  firstAckMs: number | null;
  everyStripeMs: number | null;
  /** The same per stripe. */
  stripeMs: Array<number | null>;
  epochBefore: number;
  epochAfter: number;
  replaced: string[];
  rebuilds: RebuildRecord[];
  /** The managers' decisions during the step, `+ms manager: text`. */
  events: string[];
  checks: Check[];
  notes: string[];
}

export interface ScenarioResult {
  readonly name: ScenarioName;
  readonly id: string;
  ok: boolean;
  error?: string;
  steps: StepResult[];
  prefill: { entries: number; bytes: number; ms: number; tail: number; checked: number; lost: string[] };
  operations: number;
  acked: number;
  unknownAppends: number;
  lost: number;
  lostExamples: string[];
  violations: number;
  violationKinds: Record<string, number>;
  violationText: string;
  reusedTokens: number;
  tailBelowFill: number;
  crashes: Crash[];
  hangs: string[];
  clientBugs: string[];
  clientErrors: Record<string, number>;
  epochInitial: number;
  epochFinal: number;
  finalLayout: string;
  durationMs: number;
  artifacts?: string;
}

export interface HostsRunResult {
  source: string;
  options: Omit<HostsRunOptions, 'log'>;
  scenarios: ScenarioResult[];
  ok: boolean;
}

const noRebuilding = (p: Projection): boolean => p.segments.every((s) => s.stripes.every((t) => t.rebuilding === undefined || t.rebuilding.length === 0));

/** What a scenario works with. */
class Ctx {
  readonly cluster: HostsCluster;
  readonly opts: HostsRunOptions;
  readonly steps: StepResult[] = [];
  /** Checks that need the histories, run at the end. */
  readonly post: Array<(ops: readonly Operation[]) => void> = [];
  readonly acked = new Map<string, number>();

  constructor(cluster: HostsCluster, opts: HostsRunOptions) {
    this.cluster = cluster;
    this.opts = opts;
  }

  log(line: string): void {
    this.opts.log(`    ${line}`);
  }

  step(step: string, fault: string, epochBefore: number): StepResult {
    const s: StepResult = {
      step,
      fault,
      faultAt: nowMs(),
      endedAt: NaN,
      firstAckMs: null,
      everyStripeMs: null,
      stripeMs: [],
      epochBefore,
      epochAfter: epochBefore,
      replaced: [],
      rebuilds: [],
      events: [],
      checks: [],
      notes: [],
    };
    this.steps.push(s);
    this.log(`step ${step}: ${fault}`);
    return s;
  }

  check(s: StepResult, what: string, ok: boolean, detail: string): void {
    s.checks.push({ what, ok, detail });
    this.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${detail}`);
  }

  note(s: StepResult, text: string): void {
    s.notes.push(text);
    this.log(`note ${text}`);
  }

  end(s: StepResult, p: Projection): void {
    s.endedAt = nowMs();
    s.epochAfter = p.epoch;
  }

  /** Polls the layout until `pred` holds; fails the scenario after `timeoutMs`. */
  async waitLayout(pred: (p: Projection) => boolean, timeoutMs: number, what: string): Promise<Projection> {
    const end = nowMs() + timeoutMs;
    let last: Projection | undefined;
    let lastError = '';
    for (;;) {
      try {
        last = await this.cluster.latest();
        if (pred(last)) return last;
      } catch (err) {
        lastError = String(err);
      }
      if (nowMs() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (layout epoch ${last?.epoch ?? '?'}${lastError === '' ? '' : `; ${lastError}`})`);
      await sleep(100);
    }
  }

  /** Waits until every driver acknowledged `n` more appends. */
  async progress(n: number, timeoutMs: number, what: string): Promise<void> {
    const base = new Map(this.acked);
    const end = nowMs() + timeoutMs;
    while (![...this.acked.entries()].every(([l, k]) => k >= base.get(l)! + n)) {
      if (nowMs() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (acked ${[...this.acked.entries()].map(([l, k]) => `${l} ${base.get(l)}->${k}`).join(', ')})`);
      await sleep(50);
    }
  }

  /** Arms a kill -9 of `proc` on its first stderr line matching `re`; resolves with the time and the line. */
  killOnLine(proc: Proc, re: RegExp): Promise<{ at: number; line: string }> {
    return new Promise((resolve) => {
      let done = false;
      proc.onErrLine((line) => {
        if (done || !re.test(line)) return;
        done = true;
        proc.expectExit = true;
        proc.signal('SIGKILL');
        resolve({ at: nowMs(), line });
      });
    });
  }

  /** Every unit of the layout with its INFO epoch (`b0:7001@3`). */
  async epochs(p: Projection): Promise<string> {
    const infos = await Promise.all(p.units.map(async (u) => [u, await this.cluster.info(u)] as const));
    return infos.map(([u, i]) => `${this.cluster.short(u)}@${typeof i === 'string' ? i : i.epoch}`).join(' ');
  }

  /** `b0:7001 -> b2:7003` for each unit of `before` that `after` no longer has. */
  replacements(before: Projection, after: Projection): string[] {
    const gone = before.units.filter((u) => !after.units.includes(u));
    const added = after.units.filter((u) => !before.units.includes(u));
    const out: string[] = [];
    for (const g of gone) {
      // The new unit takes the old one's place in the open segment's chains.
      const open = (p: Projection): Projection['segments'][number] => p.segments[p.segments.length - 1]!;
      let by: string | undefined;
      open(before).stripes.forEach((t, k) => {
        const j = t.chain.indexOf(g);
        if (j >= 0) by ??= open(after).stripes[k]?.chain[j];
      });
      out.push(`${this.cluster.short(g)} -> ${by === undefined || !added.includes(by) ? '?' : this.cluster.short(by)}`);
    }
    return out;
  }

  /** Chains (of the latest segment) whose replicas all sit on one box. */
  sameBoxChains(p: Projection): string[] {
    const seg = p.segments[p.segments.length - 1]!;
    return seg.stripes.filter((t) => new Set(t.chain.map((u) => this.cluster.boxOf(u))).size < Math.min(t.chain.length, BOXES)).map((t) => t.chain.map((u) => this.cluster.short(u)).join('>'));
  }
}

async function untilActive(m: Proc, timeoutMs: number): Promise<void> {
  if (m.sawLine('manager: active')) return;
  await m.waitLine(/^manager: active/, timeoutMs);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

// ---- the scenarios -------------------------------------------------------------------

async function unitRebuild(ctx: Ctx): Promise<void> {
  const c = ctx.cluster;
  const p0 = await c.latest();
  const [victim, other] = p0.segments[0]!.stripes[0]!.chain as [string, string];

  let s = ctx.step('1a', `kill -9 unit ${c.short(victim)} (head of stripe 0)`, p0.epoch);
  s.faultAt = nowMs();
  await c.slots.get(victim)!.proc!.kill9();
  const p1 = await ctx.waitLayout((p) => !p.units.includes(victim), 30_000, `the manager to replace ${c.short(victim)}`);
  s.replaced.push(...ctx.replacements(p0, p1));
  const p2 = await ctx.waitLayout(noRebuilding, 120_000, 'the rebuild to finish');
  ctx.end(s, p2);
  await ctx.progress(20, 30_000, 'appends after step 1a');

  s = ctx.step('1b', `kill -9 unit ${c.short(other)}: the other copy of the oldest segment's stripe 0 (the source of 1a's rebuild)`, p2.epoch);
  s.faultAt = nowMs();
  await c.slots.get(other)!.proc!.kill9();
  const p3 = await ctx.waitLayout((p) => !p.units.includes(other), 30_000, `the manager to replace ${c.short(other)}`);
  s.replaced.push(...ctx.replacements(p2, p3));
  const p4 = await ctx.waitLayout(noRebuilding, 120_000, 'the second rebuild to finish');
  ctx.end(s, p4);
  const chain0 = p4.segments[0]!.stripes[0]!.chain;
  ctx.check(s, "the oldest segment's stripe 0 is held only by rebuilt units", !chain0.includes(victim) && !chain0.includes(other), chain0.map((u) => c.short(u)).join('>'));
}

async function sequencer(ctx: Ctx): Promise<void> {
  const c = ctx.cluster;
  const p0 = await c.latest();
  const old = p0.sequencer;
  const s = ctx.step('2', `kill -9 the sequencer ${c.short(old)}`, p0.epoch);
  const killedAt = nowMs();
  s.faultAt = killedAt;
  await c.sequencers.get(old)!.proc!.kill9();
  const p1 = await ctx.waitLayout((p) => p.sequencer !== old, 30_000, 'the manager to move the sequencer');
  const seenAt = nowMs();
  ctx.note(s, `moved to ${c.short(p1.sequencer)} in epoch ${p1.epoch}`);
  const tok = await c.request(p1.sequencer, { type: 'request', op: 'TOKEN', epoch: p0.epoch, count: 1 });
  ctx.check(s, `the standby refuses a token at the old epoch ${p0.epoch}`, tok.ok && tok.response!['status'] === 'ERR_SEALED', tok.ok ? String(tok.response!['status']) : `no answer: ${tok.error}`);
  const tail = await c.request(p1.sequencer, { type: 'request', op: 'TAIL', epoch: p1.epoch });
  const tailNow = tail.ok && tail.response!['status'] === 'OK' ? Number(tail.response!['tail']) : -1;
  ctx.note(s, `the standby's TAIL at epoch ${p1.epoch} right after the move: ${tailNow}`);
  ctx.end(s, p1);
  // The standby's tokens start at the tail the seal found; the histories say what was acknowledged.
  ctx.post.push((ops) => {
    let before = -1;
    let first = Infinity;
    let firstBy = '';
    for (const op of ops) {
      if (op.op !== 'append' || op.end?.status !== 'ok') continue;
      const a = op.end.result;
      if (op.end.at <= killedAt) before = Math.max(before, a);
      if (op.invoke >= seenAt && a < first) {
        first = a;
        firstBy = op.client;
      }
    }
    ctx.check(s, "the standby's TAIL right after the move is above every append acknowledged before the kill", tailNow > before, `TAIL ${tailNow}, highest acknowledged before the kill ${before}`);
    ctx.check(
      s,
      'every append invoked after the move (a token of the standby) is above every append acknowledged before the kill',
      first !== Infinity && first > before,
      first === Infinity ? 'none acknowledged' : `lowest after ${first} (${firstBy}), highest before ${before}`,
    );
  });
}

async function manager(ctx: Ctx): Promise<void> {
  const c = ctx.cluster;
  const p0 = await c.latest();
  const active = c.activeManager();
  if (active === undefined) throw new Error('no active manager');
  const standby = c.managers.find((m) => m.alive && m !== active)!;
  const victim = p0.segments[0]!.stripes[1]!.chain[0]!;

  // 3a: the active manager dies the moment it logs the reconfiguration.
  let s = ctx.step('3a', `kill -9 unit ${c.short(victim)}; kill -9 the active manager (${active.name}) at its 'reconfiguring' line`, p0.epoch);
  const armed = ctx.killOnLine(active, /reconfiguring epoch/);
  const unitKilledAt = nowMs();
  await c.slots.get(victim)!.proc!.kill9();
  const { at, line } = await withTimeout(armed, 30_000, "the manager's reconfiguring line");
  s.faultAt = at;
  await active.exited;
  ctx.note(s, `unit killed ${Math.round(at - unitKilledAt)} ms before the manager; its last line: ${line.replace(/^\S+ \S+ /, '')}`);
  await sleep(300);
  const pk = await c.latest();
  const phase = pk.epoch > p0.epoch ? `epoch ${pk.epoch} was already proposed` : `the store still at epoch ${p0.epoch}`;
  ctx.note(s, `where the kill landed: ${phase}; units ${await ctx.epochs(p0)}`);
  await untilActive(standby, 30_000);
  ctx.note(s, `${standby.name} active ${Math.round(nowMs() - at)} ms after the kill`);
  const fresh = await c.startManager('m0');
  const p1 = await ctx.waitLayout((p) => !p.units.includes(victim), 30_000, `the standby to replace ${c.short(victim)}`);
  s.replaced.push(...ctx.replacements(p0, p1));
  const p2 = await ctx.waitLayout(noRebuilding, 120_000, 'the rebuild to finish');
  ctx.end(s, p2);
  ctx.check(s, 'the layout ends with every chain whole and no unit being rebuilt', noRebuilding(p2) && !p2.units.includes(victim), `epoch ${p2.epoch}`);
  await ctx.progress(20, 30_000, 'appends after step 3a');

  // 3b: the new active manager dies the moment its rebuild starts.
  const victim2 = p2.segments[p2.segments.length - 1]!.stripes[2]!.chain[0]!;
  s = ctx.step('3b', `kill -9 unit ${c.short(victim2)}; kill -9 the active manager (${standby.name}) at its 'rebuild of … starting' line`, p2.epoch);
  const armed2 = ctx.killOnLine(standby, /rebuild of \S+ starting/);
  const unit2KilledAt = nowMs();
  await c.slots.get(victim2)!.proc!.kill9();
  const k2 = await withTimeout(armed2, 60_000, "the manager's rebuild line");
  s.faultAt = k2.at;
  await standby.exited;
  ctx.note(s, `unit killed ${Math.round(k2.at - unit2KilledAt)} ms before the manager; its last line: ${k2.line.replace(/^\S+ \S+ /, '')}`);
  const pk2 = await c.latest();
  ctx.note(
    s,
    `where the kill landed: epoch ${pk2.epoch}, being rebuilt: ${[...new Set(pk2.segments.flatMap((g) => g.stripes.flatMap((t) => t.rebuilding ?? [])))].map((u) => c.short(u)).join(', ') || 'none'}`,
  );
  await untilActive(fresh, 30_000);
  ctx.note(s, `${fresh.name} active ${Math.round(nowMs() - k2.at)} ms after the kill`);
  const p3 = await ctx.waitLayout((p) => !p.units.includes(victim2) && noRebuilding(p), 120_000, 'the new manager to finish the rebuild');
  s.replaced.push(...ctx.replacements(p2, p3));
  ctx.end(s, p3);
  const finished = c.managerLines.some((l) => l.manager === fresh.name && /rebuild of \S+ done/.test(l.text));
  ctx.check(s, 'the rebuild was finished by the manager that took over', finished && noRebuilding(p3), `epoch ${p3.epoch}`);
  const fresh2 = await c.startManager('m1');
  await ctx.progress(20, 30_000, 'appends after step 3b');

  // 3c: the reconfiguration held at its bootstrap (the sequencer paused the moment the manager logs
  // `reconfiguring`), the manager killed while it waits: the units are sealed to the next epoch, the
  // sequencer gets the BOOTSTRAP when it continues, and no projection of that epoch exists.
  const victim3 = p3.segments[p3.segments.length - 1]!.stripes[0]!.chain[0]!;
  const seq = c.sequencers.get(p3.sequencer)!.proc!;
  s = ctx.step(
    '3c',
    `kill -9 unit ${c.short(victim3)}; SIGSTOP the sequencer ${c.short(p3.sequencer)} at the manager's 'reconfiguring' line, kill -9 the manager (${fresh.name}) 300 ms later, SIGCONT the sequencer`,
    p3.epoch,
  );
  let pausedAt = 0;
  const paused = new Promise<void>((resolve) => {
    let done = false;
    fresh.onErrLine((line) => {
      if (done || !/reconfiguring epoch/.test(line)) return;
      done = true;
      seq.signal('SIGSTOP');
      pausedAt = nowMs();
      resolve();
    });
  });
  await c.slots.get(victim3)!.proc!.kill9();
  await withTimeout(paused, 30_000, "the manager's reconfiguring line");
  await sleep(300);
  fresh.expectExit = true;
  fresh.signal('SIGKILL');
  s.faultAt = nowMs();
  await fresh.exited;
  const pk3 = await c.latest();
  ctx.note(s, `manager killed ${Math.round(s.faultAt - pausedAt)} ms after the pause; the store at epoch ${pk3.epoch}; units ${await ctx.epochs(p3)}`);
  seq.signal('SIGCONT');
  await sleep(200);
  const st = await c.request(p3.sequencer, { type: 'request', op: 'TAIL', epoch: p3.epoch });
  const seqState = st.ok ? `${String(st.response!['status'])}${st.response!['status'] === 'ERR_SEALED' ? ` (at epoch ${String(st.response!['unitEpoch'])})` : ''}` : `no answer (${st.error})`;
  ctx.note(s, `the sequencer continued; TAIL at epoch ${p3.epoch} -> ${seqState}`);
  const sealedAhead = pk3.epoch === p3.epoch && (await Promise.all(p3.units.filter((u) => u !== victim3).map((u) => c.info(u)))).every((i) => typeof i !== 'string' && i.epoch === p3.epoch + 1);
  ctx.check(s, 'the kill left the reconfiguration half done (every live unit sealed to the next epoch, no projection of it)', sealedAhead, `store at ${pk3.epoch}`);
  await untilActive(fresh2, 30_000);
  ctx.note(s, `${fresh2.name} active ${Math.round(nowMs() - s.faultAt)} ms after the kill`);
  const p4 = await ctx.waitLayout((p) => !p.units.includes(victim3) && noRebuilding(p), 120_000, 'the new manager to finish the reconfiguration and the rebuild');
  s.replaced.push(...ctx.replacements(p3, p4));
  ctx.end(s, p4);
  ctx.check(s, 'the layout ends with every chain whole and no unit being rebuilt', noRebuilding(p4) && !p4.units.includes(victim3), `epoch ${p4.epoch}`);
}

async function partition(ctx: Ctx): Promise<void> {
  const c = ctx.cluster;
  const p0 = await c.latest();
  const active = c.activeManager();
  if (active === undefined) throw new Error('no active manager');
  const role = active.ns.slice(c.net.prefix.length + 1);
  const boxes = `{ ${Array.from({ length: BOXES }, (_, k) => c.boxIp(k)).join(', ')} }`;
  const s = ctx.step('4', `partition the active manager (${active.name}, ${role}) from every box for ${ctx.opts.partitionMs} ms (nft drop both ways; etcd still reachable)`, p0.epoch);
  const linesBefore = c.managerLines.length;
  await c.net.nft(role, `add rule inet cf in ip saddr ${boxes} counter drop\nadd rule inet cf out ip daddr ${boxes} counter drop\n`);
  s.faultAt = nowMs();
  const unit = p0.units[0]!;
  const [cut, store] = await Promise.all([c.net.canConnect(role, unit, 700), c.net.canConnect(role, c.etcdAddress, 700)]);
  ctx.check(s, 'the partition took effect', !cut && store, `${role}->${c.short(unit)} ${cut ? 'OPEN' : 'blocked'}, ${role}->etcd ${store ? 'open' : 'BLOCKED'}`);
  let maxEpoch = p0.epoch;
  const holdEnd = s.faultAt + ctx.opts.partitionMs;
  while (nowMs() < holdEnd) {
    maxEpoch = Math.max(maxEpoch, (await c.latest()).epoch);
    await sleep(250);
  }
  const unitEpochs = await ctx.epochs(p0);
  ctx.check(s, 'no new epoch while partitioned', maxEpoch === p0.epoch, `layout epoch ${p0.epoch} -> ${maxEpoch}; units ${unitEpochs}`);
  const dropped = await c.net.counted(role);
  await c.net.flushRules(role);
  const healedAt = nowMs();
  ctx.note(s, `healed after ${Math.round(healedAt - s.faultAt)} ms; ${dropped} packets dropped`);
  await sleep(Math.max(3000, 8 * ctx.opts.probeIntervalMs));
  const p1 = await c.latest();
  ctx.check(s, 'no new epoch after the heal', p1.epoch === p0.epoch, `epoch ${p1.epoch} ${Math.round(nowMs() - healedAt)} ms after the heal`);
  const saw = c.managerLines
    .slice(linesBefore)
    .filter((l) => l.manager === active.name)
    .map((l) => l.text);
  const idle = saw.find((t) => /not reconfiguring/.test(t));
  ctx.check(s, 'the manager said why it did nothing', idle !== undefined, idle?.replace(/^\S+ \S+ /, '') ?? `its lines: ${saw.join(' | ') || 'none'}`);
  ctx.check(
    s,
    'the partitioned manager stayed the active one',
    active.alive && c.activeManager() === active && !saw.some((t) => /lost the manager lock/.test(t)),
    `${active.name} ${active.alive ? 'alive' : 'exited'}`,
  );
  ctx.end(s, p1);
}

async function boxPower(ctx: Ctx): Promise<void> {
  const c = ctx.cluster;
  const p0 = await c.latest();
  const box = c.boxOf(p0.sequencer);
  const s = ctx.step('5', `power off box b${box} (kill -9 every process in its namespace), then bring it back`, p0.epoch);
  s.faultAt = nowMs();
  const killed = await c.powerOff(box);
  ctx.note(s, `killed ${killed.join(', ')}`);
  const onBox = (u: string): boolean => c.boxOf(u) === box;
  const p1 = await ctx.waitLayout((p) => !p.units.some(onBox) && !onBox(p.sequencer), 30_000, `the manager to replace every server of b${box}`);
  s.replaced.push(...ctx.replacements(p0, p1));
  // (The layout read may already be a later epoch, a rebuild's: the manager's log says what epoch p0 + 1 did.)
  const first = c.managerLines.find((l) => l.at >= s.faultAt && /reconfiguring epoch/.test(l.text));
  const boxServers = [...p0.units.filter(onBox), p0.sequencer];
  const all =
    first !== undefined && first.text.includes(`epoch ${p0.epoch} -> ${p0.epoch + 1}:`) && boxServers.every((u) => first.text.includes(`${u} is down: ${u === p0.sequencer ? 'moved' : 'replaced'}`));
  ctx.check(s, 'one reconfiguration replaced every server of the box', all, first === undefined ? 'no reconfiguration logged' : first.text.replace(/^\S+ \S+ /, ''));

  // The box comes back: its units restart on the same devices, its sequencer too.
  const back = [...c.slots.values()].filter((sl) => sl.box === box);
  await Promise.all([...back.map((sl) => c.startUnit(sl.address)), c.startSequencer(box)]);
  const backAt = nowMs();
  const infos = await Promise.all(back.map(async (sl) => `${c.short(sl.address)} ${JSON.stringify(await c.info(sl.address))}`));
  ctx.note(s, `b${box} back ${Math.round(backAt - s.faultAt)} ms after the power-off: ${infos.join(', ')}`);
  const p2 = await ctx.waitLayout(noRebuilding, 180_000, 'the rebuilds to finish');
  await sleep(Math.max(2000, 8 * ctx.opts.probeIntervalMs));
  const p3 = await c.latest();
  const taken = p3.units.filter((u) => onBox(u) && p0.units.includes(u));
  ctx.check(
    s,
    'the returned units (holding old entries) are not taken back',
    taken.length === 0 && p3.epoch === p2.epoch,
    `epoch ${p2.epoch} -> ${p3.epoch}${taken.length > 0 ? `; taken back: ${taken.join(', ')}` : ''}`,
  );
  const same = ctx.sameBoxChains(p3);
  if (same.length > 0) ctx.note(s, `chains with every replica on one box after the replacement: ${same.join(', ')} (the manager picks spares in the order given, not by box)`);
  ctx.end(s, p3);
}

const RUN: Record<ScenarioName, (ctx: Ctx) => Promise<void>> = {
  'unit-rebuild': unitRebuild,
  sequencer,
  manager,
  partition,
  'box-power': boxPower,
};

// ---- one scenario on a fresh cluster -----------------------------------------------

function rebuildsOf(lines: readonly ManagerLine[]): Array<RebuildRecord & { at: number }> {
  const started = new Map<string, number>();
  const out: Array<RebuildRecord & { at: number }> = [];
  for (const l of lines) {
    const m = /^(\S+) \S+ rebuild of (\S+) (starting|done \((\d+) addresses, (\d+) bytes copied)/.exec(l.text);
    if (m === null) continue;
    const t = Date.parse(m[1]!);
    const key = `${l.manager} ${m[2]}`;
    if (m[3] === 'starting') started.set(key, t);
    else {
      const t0 = started.get(key);
      if (t0 === undefined) continue;
      const ms = t - t0;
      const bytes = Number(m[5]);
      out.push({ unit: m[2]!, manager: l.manager, addresses: Number(m[4]), bytes, ms, rate: ms > 0 ? Math.round((bytes / ms) * 1000) : 0, at: l.at });
    }
  }
  return out;
}

const DECISIONS =
  /reconfiguring epoch|installed epoch|was installed by another|sealed past|not reconfiguring|reconfiguration failed|rebuild of \S+ (starting|done|stopped)|hold entries|answer again|no empty spare|only whole replica|lost the manager lock|sealing it/;

/** Fills in each step's recovery times, events and rebuilds. */
function measure(steps: StepResult[], ops: readonly Operation[], last: Projection, c: HostsCluster): void {
  const appends = ops.filter((op) => op.op === 'append' && op.end?.status === 'ok') as Array<Extract<Operation, { op: 'append' }> & { end: { status: 'ok'; at: number; result: number } }>;
  const rebuilds = rebuildsOf(c.managerLines);
  const stripes = last.segments[last.segments.length - 1]!.stripes.length;
  for (const [i, s] of steps.entries()) {
    const first = new Array<number | null>(stripes).fill(null);
    let any: number | null = null;
    for (const op of appends) {
      if (op.invoke < s.faultAt) continue;
      const dt = op.end.at - s.faultAt;
      any = any === null ? dt : Math.min(any, dt);
      const k = locate(last, op.end.result).stripeIndex;
      first[k] = first[k] === null ? dt : Math.min(first[k]!, dt);
    }
    s.firstAckMs = any === null ? null : Math.round(any);
    s.stripeMs = first.map((v) => (v === null ? null : Math.round(v)));
    s.everyStripeMs = first.some((v) => v === null) ? null : Math.round(Math.max(...(first as number[])));
    const until = steps[i + 1]?.faultAt ?? Infinity;
    const from = i === 0 ? -Infinity : steps[i - 1]!.endedAt + 1000;
    s.rebuilds = rebuilds.filter((r) => r.at >= s.faultAt && r.at < until).map(({ at: _at, ...r }) => r);
    const window = c.managerLines.filter((l) => l.at >= Math.max(from, s.faultAt - 2000) && l.at < Math.min(until, (Number.isNaN(s.endedAt) ? Infinity : s.endedAt) + 1000) && DECISIONS.test(l.text));
    // Re-seals come one a unit a tick until the next probe: counted, not listed.
    const reseals = window.filter((l) => /sealing it$/.test(l.text));
    s.events = window.filter((l) => !/sealing it$/.test(l.text)).map((l) => `${l.at >= s.faultAt ? '+' : ''}${Math.round(l.at - s.faultAt)} ms ${l.manager}: ${l.text.replace(/^\S+ \S+ /, '')}`);
    if (reseals.length > 0) {
      s.events.push(
        `(${reseals.length} 'unit … is at epoch N, behind M: sealing it' lines, +${Math.round(reseals[0]!.at - s.faultAt)} to +${Math.round(reseals[reseals.length - 1]!.at - s.faultAt)} ms)`,
      );
    }
  }
}

function describeLayout(p: Projection, c: HostsCluster): string {
  return `epoch ${p.epoch}, sequencer ${c.short(p.sequencer)}, ${p.segments.length} segments; open: ${p.segments[p.segments.length - 1]!.stripes.map((t) => t.chain.map((u) => c.short(u)).join('>')).join(' ')}`;
}

export async function runScenario(name: ScenarioName, opts: HostsRunOptions): Promise<ScenarioResult> {
  const t0 = nowMs();
  const res = new Resources();
  const art = join(res.dir, 'art');
  mkdirSync(art);
  const result: ScenarioResult = {
    name,
    id: res.id,
    ok: false,
    steps: [],
    prefill: { entries: 0, bytes: 0, ms: 0, tail: 0, checked: 0, lost: [] },
    operations: 0,
    acked: 0,
    unknownAppends: 0,
    lost: 0,
    lostExamples: [],
    violations: 0,
    violationKinds: {},
    violationText: '',
    reusedTokens: 0,
    tailBelowFill: 0,
    crashes: [],
    hangs: [],
    clientBugs: [],
    clientErrors: {},
    epochInitial: 0,
    epochFinal: 0,
    finalLayout: '',
    durationMs: 0,
  };
  opts.log(`scenario ${name} [${res.id}]`);
  const cluster = new HostsCluster(res, art, { deviceBytes: opts.deviceBytes, probeIntervalMs: opts.probeIntervalMs, probeTimeoutMs: opts.probeTimeoutMs, misses: opts.misses });
  const ctx = new Ctx(cluster, opts);
  const drivers: Proc[] = [];
  try {
    await cluster.start();
    const m0 = await cluster.startManager('m0');
    await untilActive(m0, 30_000);
    const m1 = await cluster.startManager('m1');
    await sleep(1000);
    if (m1.sawLine('manager: active')) throw new Error('setup: both managers are active');
    result.epochInitial = (await cluster.latest()).epoch;

    // The prefill: something for a rebuild to copy.
    const prefillOut = join(art, 'prefill.json');
    let low = 0;
    if (opts.prefillBytes > 0) {
      const pf = await run(
        'ip',
        [
          'netns',
          'exec',
          cluster.net.ns('c0'),
          process.execPath,
          DRIVER,
          '--mode',
          'prefill',
          '--store',
          cluster.layout,
          '--label',
          'pf',
          '--out',
          prefillOut,
          '--bytes',
          String(opts.prefillBytes),
          '--entry-bytes',
          '4096',
          '--timeout-ms',
          '2000',
        ],
        { timeoutMs: 300_000 },
      );
      if (pf.code !== 0) throw new Error(`prefill failed (${pf.code ?? pf.signal}): ${pf.stderr.slice(-800)}`);
      const m = /^done (\d+) (\d+) (\d+) (\d+)$/m.exec(pf.stdout);
      if (m === null) throw new Error(`prefill: ${pf.stdout.slice(-300)}`);
      low = Number(m[3]);
      result.prefill = { ...result.prefill, entries: Number(m[1]), bytes: Number(m[1]) * 4096, ms: Number(m[4]), tail: low };
      if (Number(m[2]) > 0) throw new Error(`prefill: ${m[2]} appends failed on a healthy cluster`);
      opts.log(`  prefill: ${m[1]} entries of 4 KiB in ${m[4]} ms; tail ${low}`);
    }

    for (const [k, label] of CLIENT_ROLES.entries()) {
      const d = new Proc(
        `driver-${label}`,
        cluster.net.ns(label),
        [
          DRIVER,
          ...['--mode', 'load', '--store', cluster.layout, '--label', label, '--out', join(art, `history-${label}.json`)],
          ...['--clients', String(opts.clientsPerDriver), '--depth', String(opts.depth), '--rate', String(opts.rate)],
          ...['--seed', String((opts.seed * 31 + SCENARIOS.indexOf(name) * 7 + k) >>> 0), '--timeout-ms', '1000', '--hole-timeout-ms', '200'],
          ...['--low', String(low), '--trims', 'off'],
        ],
        art,
      );
      cluster.procs.push(d);
      drivers.push(d);
      ctx.acked.set(label, 0);
      d.onLine((line) => {
        const m = /^progress (\d+) (\d+)$/.exec(line);
        if (m) ctx.acked.set(label, Number(m[1]));
      });
    }
    await Promise.all(drivers.map((d) => d.waitLine(/^ready$/, 30_000)));
    await ctx.progress(30, 30_000, 'warm-up: both drivers acknowledge 30 appends');

    await RUN[name](ctx);

    // Settle: both client namespaces append again after the last step.
    try {
      await ctx.progress(10, 30_000, 'progress after the scenario');
    } catch (err) {
      result.hangs.push(String(err));
    }
    const outputs = await stopDrivers(drivers, art, CLIENT_ROLES, result.hangs);
    let maxAcked = -1;
    for (const o of outputs) for (const op of o.ops) if (op.op === 'append' && op.end?.status === 'ok') maxAcked = Math.max(maxAcked, op.end.result as number);
    const last = await cluster.latest();
    result.epochFinal = last.epoch;
    result.finalLayout = describeLayout(last, cluster);

    // The final read: every address, through a fresh client in ctl.
    const finalOut = join(art, 'history-final.json');
    const fin = await run(
      'ip',
      [
        ...['netns', 'exec', cluster.net.ns(CTL), process.execPath, DRIVER, '--mode', 'final', '--store', cluster.layout, '--label', 'final', '--out', finalOut],
        ...['--upto', String(maxAcked + 1), '--timeout-ms', '2000', '--low', String(low), ...(opts.prefillBytes > 0 ? ['--prefill', prefillOut] : [])],
      ],
      { timeoutMs: 300_000 },
    );
    writeFileSync(join(art, 'final.log'), `${fin.stdout}\n${fin.stderr}`);
    if (fin.code !== 0) throw new Error(`final read failed (${fin.code ?? fin.signal}): ${fin.stderr.slice(-800)}`);
    const final = JSON.parse(readFileSync(finalOut, 'utf8')) as DriverOutput;
    result.prefill.checked = final.prefillChecked ?? 0;
    result.prefill.lost = final.prefillLost ?? [];

    const sr = newScheduleResult(0, res.id, { units: cluster.slots.size, stripes: [], deviceBytes: opts.deviceBytes }, []);
    analyze(sr, [...outputs, final], []);
    Object.assign(result, {
      operations: sr.operations,
      acked: sr.acked,
      unknownAppends: sr.unknownAppends,
      lost: sr.lost,
      lostExamples: sr.lostExamples,
      violations: sr.violations,
      violationKinds: sr.violationKinds,
      violationText: sr.violationText,
      reusedTokens: sr.reusedTokens,
      tailBelowFill: sr.tailBelowFill,
      clientBugs: sr.clientBugs,
      clientErrors: sr.clientErrors,
    });
    if (sr.unreadable > 0) result.hangs.push(`${sr.unreadable} addresses the final read could not read`);
    const loadOps = outputs.flatMap((o, i) => deserializeOps(o.ops, i * 10_000_000));
    for (const p of ctx.post) p(loadOps);
    measure(ctx.steps, loadOps, last, cluster);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    opts.log(`  scenario ${name} error: ${result.error}`);
  } finally {
    result.steps = ctx.steps;
    for (const d of drivers) d.expectExit = true;
    await cluster.stopAll();
    result.crashes = [...cluster.crashes];
    result.durationMs = Math.round(nowMs() - t0);
    result.ok = scenarioOk(result);
    writeFileSync(join(art, 'managers.log'), cluster.managerLines.map((l) => `${l.at.toFixed(1)} ${l.manager} ${l.text}`).join('\n'));
    if (!result.ok || opts.keep) {
      const keep = join(ROOT, `keep-cf-${res.id}`);
      try {
        renameSync(art, keep);
        writeFileSync(join(keep, 'result.json'), JSON.stringify(result, null, 2));
        result.artifacts = keep;
      } catch {
        // the logs are lost with the run dir
      }
    }
    res.release();
  }
  for (const s of result.steps) {
    opts.log(
      `  ${s.step}: first ack ${fmtMs(s.firstAckMs)}, every stripe ${fmtMs(s.everyStripeMs)}; epochs ${s.epochBefore} -> ${s.epochAfter}${s.rebuilds.length > 0 ? `; ${s.rebuilds.map(fmtRebuild).join(', ')}` : ''}`,
    );
    for (const e of s.events) opts.log(`      ${e}`);
  }
  opts.log(
    `  scenario ${name}: ${result.operations} ops, ${result.acked} acked (+${result.prefill.entries} prefilled), ${result.unknownAppends} unknown, lost ${result.lost} + ${result.prefill.lost.length} prefilled, ` +
      `violations ${result.violations}, crashes ${result.crashes.length}, hangs ${result.hangs.length}, ${(result.durationMs / 1000).toFixed(1)} s — ${result.ok ? 'OK' : 'FAILED'}` +
      (result.artifacts ? ` (kept ${result.artifacts})` : ''),
  );
  if (result.violationText !== '') opts.log(result.violationText);
  for (const c of result.crashes) opts.log(`  CRASH ${c.proc} exit ${c.exit}: ${c.stderr.slice(-500)}`);
  for (const h of result.hangs) opts.log(`  HANG ${h}`);
  for (const l of [...result.lostExamples, ...result.prefill.lost.slice(0, 10)]) opts.log(`  LOST ${l}`);
  return result;
}

function scenarioOk(r: ScenarioResult): boolean {
  return (
    r.error === undefined &&
    r.lost === 0 &&
    r.prefill.lost.length === 0 &&
    r.violations === 0 &&
    r.crashes.length === 0 &&
    r.hangs.length === 0 &&
    r.clientBugs.length === 0 &&
    r.steps.every((s) => s.checks.every((c) => c.ok))
  );
}

export async function runHosts(opts: HostsRunOptions, onResult: (r: ScenarioResult) => void = () => {}): Promise<HostsRunResult> {
  const source = sourceVersion();
  opts.log(`code under test: ${source}`);
  opts.log(
    `multi-host fault runs: ${opts.scenarios.join(', ')}; manager --probe-interval ${opts.probeIntervalMs} --probe-timeout ${opts.probeTimeoutMs} --misses ${opts.misses}; ` +
      `prefill ${opts.prefillBytes} bytes; 2 drivers x ${opts.clientsPerDriver} clients x depth ${opts.depth} at ${opts.rate} ops/s each`,
  );
  const scenarios: ScenarioResult[] = [];
  for (const name of opts.scenarios) {
    const r = await runScenario(name, opts);
    scenarios.push(r);
    onResult(r);
  }
  const { log: _log, ...options } = opts;
  return { source, options, scenarios, ok: scenarios.every((s) => s.ok) };
}

// ---- the table ----------------------------------------------------------------------

function fmtMs(ms: number | null): string {
  return ms === null ? 'never' : `${ms} ms`;
}

function fmtRebuild(r: RebuildRecord): string {
  return `${(r.bytes / 1e6).toFixed(1)} MB in ${(r.ms / 1000).toFixed(2)} s = ${(r.rate / 1e6).toFixed(1)} MB/s`;
}

export function formatHosts(r: HostsRunResult, short: (a: string) => string = (a) => a): string {
  const head = ['step', 'fault', 'first ack', 'every stripe', 'rebuild', 'epochs', 'lost', 'checks'];
  const rows: string[][] = [];
  for (const s of r.scenarios) {
    const lost = `${s.lost + s.prefill.lost.length}`;
    if (s.steps.length === 0) rows.push([s.name, s.error ?? 'no step ran', '-', '-', '-', '-', lost, s.ok ? 'ok' : 'FAILED']);
    for (const st of s.steps) {
      const failed = st.checks.filter((c) => !c.ok).length;
      rows.push([
        st.step,
        st.fault.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, short),
        fmtMs(st.firstAckMs),
        fmtMs(st.everyStripeMs),
        st.rebuilds.length === 0 ? '-' : st.rebuilds.map(fmtRebuild).join('; '),
        `${st.epochBefore} -> ${st.epochAfter}`,
        lost,
        `${st.checks.length - failed}/${st.checks.length}`,
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const lines = [fmt(head), fmt(widths.map((n) => '-'.repeat(n))), ...rows.map(fmt)];
  lines.push('');
  for (const s of r.scenarios) {
    lines.push(
      `${s.name.padEnd(12)}  ${s.acked} appends acknowledged + ${s.prefill.entries} prefilled (${s.prefill.checked} checked), ${s.unknownAppends} unknown; ` +
        `lost ${s.lost} + ${s.prefill.lost.length}; checker violations ${s.violations}; crashes ${s.crashes.length}; hangs ${s.hangs.length}; ${(s.durationMs / 1000).toFixed(0)} s: ${s.ok ? 'OK' : `FAILED${s.error === undefined ? '' : ` (${s.error})`}`}`,
    );
  }
  lines.push('', 'first ack: from the fault to the first acknowledged append invoked after it; every stripe: until each stripe had one.');
  lines.push(`verdict: ${r.ok ? 'OK' : 'FAILED'}`);
  return lines.join('\n');
}
