// One simulated run: one seed -> one cluster (3-5 units, a sequencer, the
// projection store, 2-5 clients), a workload, the faults the seed draws,
// then every fault healed, a liveness probe per client and a full read of the
// log. Returns the violations the checkers found and the trace hash.
//
// Phases:
//   workload  clients run `ops` operations between them; faults are injected;
//             a manager (the operator) replaces a dead sequencer and finishes
//             a reconfiguration that died half-way.
//   heal      faults stop, partitions heal, crashed units and clients restart,
//             in-flight operations finish; the manager makes the layout usable.
//   probe     every client appends, reads it back and asks the tail (liveness).
//   final     a fresh client reads every address below the tail.

import { parseProjection } from '../../src/layout/projection.js';
import type { Projection } from '../../src/layout/projection.js';
import type { Request } from '../../src/wire/messages.js';
import { Bugs } from './bugs.js';
import { Checkers, type Violation } from './checkers.js';
import { SimClient } from './client.js';
import type { ClientTimings, World } from './context.js';
import { drawProfile, noFaults, type FaultCounts, type FaultProfile } from './faults.js';
import { History } from './history.js';
import { Fixes } from './known-issues.js';
import { Network } from './network.js';
import { Prng } from './prng.js';
import { EventQueue } from './queue.js';
import { nextProjection, type Change } from '../../src/layout/next.js';
import { SimSequencer } from './sequencer.js';
import { MemProjectionStore } from './store.js';
import { Trace } from './trace.js';
import { SimUnit } from './unit.js';
import { checkHistory } from './linearizability.js';

export interface RunOptions {
  readonly seed: number;
  readonly bugs?: readonly string[];
  /** Client operations in the workload phase (default 100). */
  readonly ops?: number;
  /** Keep the last N trace lines for the report (default 0). */
  readonly keepTrace?: number;
  /**
   * Trims pick any address below the tail, even one an append is still
   * writing (default: settled addresses only, see Checkers.settled). Then an
   * append whose acknowledgement was lost can land twice, which no client
   * protocol can rule out: expect linearizability/payload-at-two-addresses.
   */
  readonly wildTrims?: boolean;
  /** The simulator's proposed fixes for the src/ bugs it found to switch on (known-issues.ts); default none. */
  readonly fixes?: readonly string[];
}

export interface RunStats {
  ops: number;
  okOps: number;
  failedOps: number;
  unknownOps: number;
  ackedAppends: number;
  events: number;
  virtualMs: number;
  messages: number;
  reconfigurations: number;
  epochs: number;
  faults: FaultCounts;
}

export interface RunResult {
  readonly seed: number;
  readonly traceHash: string;
  readonly violations: readonly Violation[];
  readonly stats: RunStats;
  readonly setup: string;
  readonly traceTail: readonly string[];
}

const TIMINGS: ClientTimings = { timeoutMs: 40, holeTimeoutMs: 15, maxRefreshes: 100, refreshDelayMs: 5 };
const FAULT_TICK_MS = 5;
const MANAGER_TICK_MS = 25;
const MAX_VIRTUAL_MS = 600_000;
const MAX_EVENTS = 3_000_000;

export async function runSeed(options: RunOptions): Promise<RunResult> {
  const sim = new Sim(options);
  await sim.run();
  return sim.result();
}

class Sim implements World {
  readonly seed: number;
  readonly queue = new EventQueue();
  readonly trace: Trace;
  readonly net: Network;
  readonly check = new Checkers();
  readonly bugs: Bugs;
  readonly history = new History();
  readonly store: MemProjectionStore;
  readonly timings = TIMINGS;
  readonly fixes: Fixes;
  readonly units = new Map<string, SimUnit>();
  readonly sequencers = new Map<string, SimSequencer>();
  readonly clients: SimClient[] = [];
  readonly profile: FaultProfile;
  readonly faults = noFaults();
  readonly #setupRng: Prng;
  readonly #faultRng: Prng;
  readonly #workRng: Prng;
  readonly #miscRng: Prng;
  readonly #targetOps: number;
  readonly #wildTrims: boolean;
  #opsIssued = 0;
  #requestId = 1;
  #phase: 'workload' | 'heal' | 'probe' | 'final' | 'done' = 'workload';
  #reconfiguring = 0;
  #reconfigurations = 0;
  #nextSequencer = 1;
  #sequencerCrashAt: number | undefined;
  #unitsAheadSince: number | undefined;
  readonly #armedMidChain = new Set<string>();
  readonly #armedAfterToken = new Set<string>();
  #setup = '';
  /** Destroyed unit -> its replacement. */
  readonly #replacements = new Map<string, string>();

  constructor(options: RunOptions) {
    this.seed = options.seed;
    this.fixes = new Fixes(options.fixes ?? []);
    this.bugs = new Bugs(options.bugs ?? []);
    this.trace = new Trace(options.keepTrace ?? 0);
    this.#targetOps = options.ops ?? 100;
    this.#wildTrims = options.wildTrims ?? false;
    this.#setupRng = new Prng(this.seed, 0);
    this.#faultRng = new Prng(this.seed, 2);
    this.#workRng = new Prng(this.seed, 3);
    this.#miscRng = new Prng(this.seed, 4);
    this.net = new Network(this.queue, new Prng(this.seed, 1), this.trace);
    this.net.onCodecMismatch = (what) => this.check.fail('codec', what);
    this.store = new MemProjectionStore(this.bugs, this.check);
    this.check.now = () => this.queue.now;
    this.check.disks = () => new Map([...this.units].filter(([, u]) => !u.destroyed).map(([n, u]) => [n, u.disk]));
    this.profile = drawProfile(this.#setupRng);
    this.net.faults = { ...this.profile.net };
  }

  // ---- World --------------------------------------------------------------------

  nextRequestId(): number {
    const id = this.#requestId;
    this.#requestId = (this.#requestId + 1) >>> 0 || 1;
    return id;
  }

  storeDelay(): number {
    return 0.1 + this.#miscRng.below(20) / 10;
  }

  crashAfterToken(client: string): boolean {
    if (!this.#armedAfterToken.delete(client)) return false;
    this.faults['client-crash-after-token']++;
    this.#scheduleClientRestart(client);
    return true;
  }

  crashMidChain(client: string): boolean {
    if (!this.#armedMidChain.delete(client)) return false;
    this.faults['client-crash-mid-chain']++;
    this.#scheduleClientRestart(client);
    return true;
  }

  // ---- setup ---------------------------------------------------------------------------

  #build(): void {
    const rng = this.#setupRng;
    const nUnits = rng.between(3, 5);
    const units = Array.from({ length: nUnits }, (_, i) => `u${i}:7000`);
    const chainLen = Math.min(nUnits, this.profile.unitLossRate > 0 ? rng.pick([2, 2, 3]) : rng.pick([1, 2, 2, 2, 3, 3]));
    const stripes = randomStripes(rng, units, chainLen);
    const p1 = parseProjection({ epoch: 1, sequencer: 'seq0:6000', units, segments: [{ start: 0, end: null, stripes: stripes.map((chain) => ({ chain })) }] });
    for (const u of units) this.units.set(u, new SimUnit(u, 1, this.net, this.bugs, this.check));
    this.sequencers.set('seq0:6000', new SimSequencer('seq0:6000', 1, this.net, this.bugs, this.check, this.fixes));
    this.store.proposeSync(p1);
    const nClients = rng.between(2, 5);
    for (let i = 0; i < nClients; i++) this.clients.push(new SimClient(this, `c${i}`, p1));
    const p = this.profile;
    this.#setup =
      `${nUnits} units, chains of ${chainLen} x ${stripes.length} stripes, ${nClients} clients; ` +
      `drop ${pct(p.net.drop)} dup ${pct(p.net.duplicate)} spike ${pct(p.net.spike)}; partitions ${p.partitionRate.toFixed(2)} ` +
      `unit crashes ${p.unitCrashRate.toFixed(2)} client crashes ${p.clientCrashRate.toFixed(2)} reconfigs ${p.reconfigRate.toFixed(2)} /100ms; ` +
      `sequencer crash ${p.sequencerCrash > 0 ? 'yes' : 'no'}; trims ${p.trims ? 'yes' : 'no'}`;
    if (this.#faultRng.chance(p.sequencerCrash)) this.#sequencerCrashAt = this.#faultRng.between(10, 300);
  }

  // ---- the run ----------------------------------------------------------------------------

  async run(): Promise<void> {
    this.#build();
    for (const c of this.clients) this.#clientLoop(c);
    this.queue.after(FAULT_TICK_MS, () => this.#faultTick());
    this.queue.after(MANAGER_TICK_MS, () => this.#managerTick());
    if (this.#sequencerCrashAt !== undefined) this.queue.after(this.#sequencerCrashAt, () => this.#crashSequencer());

    // workload
    await this.#runUntil(() => this.#opsIssued >= this.#targetOps && this.#idle());
    if (this.#stopped()) return;
    // heal
    this.#phase = 'heal';
    this.#healEverything();
    await this.#runUntil(() => this.#idle() && this.#usable());
    if (this.#stopped()) return;
    // probe: every client appends, reads it back, asks the tail
    this.#phase = 'probe';
    let probing = 0;
    for (const c of this.clients) {
      probing++;
      this.#probe(c, () => probing--);
    }
    await this.#runUntil(() => probing === 0);
    if (this.#stopped()) return;
    // final: read the whole log
    this.#phase = 'final';
    let reading = true;
    this.#finalRead(() => (reading = false));
    await this.#runUntil(() => !reading);
    this.#phase = 'done';
    for (const v of checkHistory(this.history.ops)) this.check.fail(v.kind, v.message);
  }

  #stopped(): boolean {
    return this.#phase === 'done';
  }

  async #runUntil(done: () => boolean): Promise<void> {
    while (!done()) {
      const ev = this.queue.pop();
      if (ev === undefined) {
        this.check.fail('stuck', `nothing left to happen in phase ${this.#phase}`);
        this.#phase = 'done';
        return;
      }
      if (this.queue.now > MAX_VIRTUAL_MS || this.trace.events > MAX_EVENTS) {
        this.check.fail('stuck', `phase ${this.#phase} did not finish by ${this.queue.now.toFixed(0)} ms / ${this.trace.events} events`);
        this.#phase = 'done';
        return;
      }
      const r = ev.run();
      if (r !== undefined) await r;
    }
  }

  #idle(): boolean {
    return this.clients.every((c) => !c.alive || c.busy === 0) && this.#reconfiguring === 0;
  }

  /** The latest projection's sequencer is alive and every unit is at its epoch. */
  #usable(): boolean {
    const latest = this.store.latestSync();
    if (latest === undefined) return false;
    const seq = this.sequencers.get(latest.sequencer);
    if (seq?.alive !== true || seq.epoch !== latest.epoch) return false;
    return latest.units.every((name) => this.units.get(name)?.up === true) && [...this.units.values()].every((u) => u.disk.epoch <= latest.epoch);
  }

  // ---- workload ------------------------------------------------------------------------------

  #clientLoop(c: SimClient): void {
    if (this.#phase !== 'workload' || !c.alive || this.#opsIssued >= this.#targetOps) return;
    const rng = this.#workRng;
    const incarnation = c.incarnation;
    this.queue.after(rng.below(40) / 10, () => {
      if (!c.alive || c.incarnation !== incarnation || this.#opsIssued >= this.#targetOps) return;
      this.#opsIssued++;
      const next = (): void => {
        if (c.alive && c.incarnation === incarnation) this.#clientLoop(c);
      };
      const x = rng.float();
      const hi = this.check.maxToken + 2;
      const anyAddress = (): number => (rng.chance(0.5) ? Math.max(0, hi - rng.below(8)) : rng.below(hi + 1));
      const trims = this.profile.trims;
      if (x < 0.5) {
        const payload = Buffer.from(`${c.node}.${c.incarnation}.${this.#opsIssued}`);
        c.run('append', payload.toString('latin1'), (caller) => c.append(payload, caller), next);
      } else if (x < 0.77) {
        const a = anyAddress();
        c.run('read', a, (caller) => c.read(a, caller), next);
      } else if (x < 0.87) {
        c.run('tail', undefined, (caller) => c.tail(caller), next);
      } else if (x < 0.91) {
        const a = anyAddress();
        c.run('fill', a, (caller) => c.fill(a, caller), next);
      } else if (x < 0.96 && trims && this.#wildTrims) {
        const a = rng.below(Math.max(1, this.check.maxToken));
        this.faults.trim++;
        c.run('trim', a, () => c.trim(a), next);
      } else if (x < 0.98 && trims && this.#wildTrims) {
        const a = Math.min(Math.max(0, this.check.maxToken), this.#prefixMark + rng.between(1, 4));
        this.#prefixMark = Math.max(this.#prefixMark, a);
        this.faults['prefix-trim']++;
        c.run('prefixTrim', a, () => c.prefixTrim(a), next);
      } else if (x < 0.96 && trims && this.check.settled.size > 0) {
        // Trims touch settled addresses only (see Checkers.settled).
        const settled = [...this.check.settled];
        const a = settled[rng.below(settled.length)]!;
        this.faults.trim++;
        c.run('trim', a, () => c.trim(a), next);
      } else if (x < 0.98 && trims && this.check.settled.has(this.#prefixMark)) {
        let a = this.#prefixMark;
        const limit = a + rng.between(1, 4);
        while (a < limit && this.check.settled.has(a)) a++;
        this.#prefixMark = a;
        this.faults['prefix-trim']++;
        c.run('prefixTrim', a, () => c.prefixTrim(a), next);
      } else {
        const a = anyAddress();
        c.run('read', a, (caller) => c.read(a, caller), next);
      }
    });
  }

  #prefixMark = 0;

  // ---- faults ----------------------------------------------------------------------------------

  #faultTick(): void {
    if (this.#phase !== 'workload') return;
    const rng = this.#faultRng;
    const p = this.profile;
    const per = (rate: number): boolean => rng.chance((rate * FAULT_TICK_MS) / 100);
    if (per(p.partitionRate)) this.#partition();
    if (per(p.unitCrashRate)) this.#crashUnit();
    if (per(p.clientCrashRate)) this.#crashClient();
    if (per(p.reconfigRate)) this.#voluntaryReconfig();
    if (per(p.unitLossRate)) this.#loseUnit();
    if (rng.chance(p.midChainCrashRate)) {
      const c = rng.pick(this.clients);
      if (c.alive) this.#armedMidChain.add(c.node);
    }
    if (rng.chance(p.afterTokenCrashRate)) {
      const c = rng.pick(this.clients);
      if (c.alive) this.#armedAfterToken.add(c.node);
    }
    this.queue.after(FAULT_TICK_MS, () => this.#faultTick());
  }

  #nodes(): string[] {
    return [...this.units.keys(), ...[...this.sequencers.values()].filter((s) => s.alive).map((s) => s.name), ...this.clients.map((c) => c.node)];
  }

  #partition(): void {
    const rng = this.#faultRng;
    const nodes = this.#nodes();
    const victim = rng.pick(nodes);
    const others = nodes.filter((n) => n !== victim && (rng.chance(0.5) || nodes.length < 4));
    if (others.length === 0) return;
    const oneWay = rng.chance(0.35);
    const inbound = rng.chance(0.5);
    const edges: Array<[string, string]> = [];
    for (const o of others) {
      if (!oneWay || inbound) edges.push([o, victim]);
      if (!oneWay || !inbound) edges.push([victim, o]);
    }
    this.faults[oneWay ? 'partition-one-way' : 'partition-symmetric']++;
    for (const [a, b] of edges) this.net.cut(a, b);
    this.trace.event(this.queue.now, ['partition', victim, others.length, oneWay ? 1 : 0], () => `partition ${victim} ${oneWay ? (inbound ? '<-' : '->') : '<->'} ${others.join(',')}`);
    this.queue.after(rng.between(10, 200), () => {
      for (const [a, b] of edges) this.net.heal(a, b);
      this.trace.event(this.queue.now, ['heal', victim]);
    });
  }

  #crashUnit(): void {
    const rng = this.#faultRng;
    const up = [...this.units.values()].filter((u) => u.up && !u.destroyed);
    if (up.length === 0) return;
    const u = rng.pick(up);
    u.crash();
    this.faults['unit-crash']++;
    this.trace.event(this.queue.now, ['crash', u.name]);
    this.queue.after(rng.between(5, 200), () => {
      if (u.up || u.destroyed) return;
      u.restart();
      this.trace.event(this.queue.now, ['restart', u.name]);
    });
  }

  #crashClient(): void {
    const rng = this.#faultRng;
    const alive = this.clients.filter((c) => c.alive);
    if (alive.length <= 1) return;
    const c = rng.pick(alive);
    c.crash();
    this.faults['client-crash']++;
    this.#scheduleClientRestart(c.node);
  }

  #scheduleClientRestart(node: string): void {
    this.trace.event(this.queue.now, ['client-crash', node]);
    this.queue.after(this.#faultRng.between(5, 100), () => this.#restartClient(node));
  }

  #restartClient(node: string): void {
    const c = this.clients.find((x) => x.node === node);
    if (c === undefined || c.alive) return;
    const latest = this.store.latestSync();
    if (latest === undefined) return;
    c.restart(latest);
    this.trace.event(this.queue.now, ['client-restart', node]);
    this.#clientLoop(c);
  }

  #crashSequencer(): void {
    if (this.#phase !== 'workload') return;
    const latest = this.store.latestSync();
    const s = latest === undefined ? undefined : this.sequencers.get(latest.sequencer);
    if (s === undefined || !s.alive) return;
    s.crash();
    this.faults['sequencer-crash']++;
    this.trace.event(this.queue.now, ['crash', s.name]);
  }

  #newSequencer(): string {
    const name = `seq${this.#nextSequencer++}:6000`;
    this.sequencers.set(name, new SimSequencer(name, 0, this.net, this.bugs, this.check, this.fixes));
    return name;
  }

  #voluntaryReconfig(): void {
    const rng = this.#faultRng;
    const change = (): Change[] => {
      const x = rng.float();
      if (x < 0.3) return [];
      if (x < 0.5) return [{ kind: 'move-sequencer', sequencer: this.#newSequencer() }];
      const live = this.#liveUnits();
      if (live.length === 0) return [];
      // Seeds that lose units keep two replicas everywhere (one lost replica must not be all of them).
      const len = this.profile.unitLossRate > 0 ? rng.pick([2, 2, 3]) : rng.pick([1, 2, 2, 3]);
      return [{ kind: 'add-segment', stripes: randomStripes(rng, live, Math.min(live.length, len)) }];
    };
    this.faults.reconfigure++;
    this.#startReconfig(change());
    if (rng.chance(this.profile.concurrentReconfig)) {
      this.faults['reconfigure-concurrent']++;
      this.#startReconfig(change());
    }
  }

  /** The units of the latest projection that are not destroyed. */
  #liveUnits(): string[] {
    const latest = this.store.latestSync();
    return (latest?.units ?? []).filter((u) => this.units.get(u)?.destroyed === false);
  }

  /** A unit's device is lost for good; the manager replaces it with a fresh unit (replace-unit). */
  #loseUnit(): void {
    const rng = this.#faultRng;
    const latest = this.store.latestSync();
    if (latest === undefined) return;
    const candidates = this.#liveUnits();
    if (this.#reconfiguring > 0 || candidates.length < 2 || [...this.units.values()].some((u) => u.destroyed && latest.units.includes(u.name))) return;
    const victim = rng.pick(candidates);
    const replacement = `u${this.units.size}:7000`;
    try {
      // Only when every address it holds has another replica (nextProjection refuses otherwise).
      nextProjection(latest, [{ kind: 'replace-unit', old: victim, replacement }], this.check.maxToken + 1_000_000);
    } catch {
      return;
    }
    this.units.get(victim)!.destroy();
    this.units.set(replacement, new SimUnit(replacement, 0, this.net, this.bugs, this.check));
    this.#replacements.set(victim, replacement);
    this.faults['unit-lost']++;
    this.trace.event(this.queue.now, ['lost', victim, replacement]);
  }

  /** Runs a reconfiguration on a random live client. */
  #startReconfig(changes: Change[]): void {
    const alive = this.clients.filter((c) => c.alive);
    if (alive.length === 0) return;
    const c = this.#faultRng.pick(alive);
    this.#reconfiguring++;
    this.#reconfigurations++;
    const incarnation = c.incarnation;
    let ended = false;
    const end = (r?: { ok: true; value: unknown } | { ok: false; error: unknown }): void => {
      if (ended) return;
      ended = true;
      this.#reconfiguring--;
      if (r !== undefined) {
        const what = r.ok ? `epoch ${(r.value as Projection).epoch}` : String((r.error as Error).message);
        this.trace.event(this.queue.now, ['reconfigured', c.node, r.ok ? 1 : 0], () => `reconfigure by ${c.node} ${JSON.stringify(changes)}: ${what}`);
      }
    };
    c.run('reconfigure', JSON.stringify(changes), () => c.reconfigure(changes), end);
    // A client that dies mid-reconfiguration never calls back.
    const watch = (): void => {
      if (ended) return;
      if (!c.alive || c.incarnation !== incarnation) end();
      else this.queue.after(MANAGER_TICK_MS, watch);
    };
    this.queue.after(MANAGER_TICK_MS, watch);
  }

  /** The operator: replaces a dead sequencer, completes a reconfiguration that died half-way. */
  #managerTick(): void {
    if (this.#phase === 'done' || this.#phase === 'final') return;
    this.queue.after(MANAGER_TICK_MS, () => this.#managerTick());
    if (this.#reconfiguring > 0) return;
    const latest = this.store.latestSync();
    if (latest === undefined) return;
    // Everything that keeps the layout from working, fixed in one reconfiguration
    // (a failover alone would wait forever on a lost unit's seal, and the other way round).
    const changes: Change[] = latest.units
      .filter((u) => this.units.get(u)?.destroyed === true)
      .map((old) => ({ kind: 'replace-unit', old, replacement: this.#replacements.get(old)! }));
    const seqDead = this.sequencers.get(latest.sequencer)?.alive !== true;
    if (seqDead) {
      this.faults.failover++;
      const seq = this.#newSequencer();
      this.#startReconfig([...changes, { kind: 'move-sequencer', sequencer: seq }]);
      if (this.#phase === 'workload' && this.#faultRng.chance(this.profile.concurrentReconfig)) {
        this.faults['reconfigure-concurrent']++;
        this.#startReconfig([...changes, { kind: 'move-sequencer', sequencer: this.#faultRng.chance(0.5) ? seq : this.#newSequencer() }]);
      }
      return;
    }
    if (changes.length > 0) {
      this.#startReconfig(changes);
      return;
    }
    // A reconfiguration that died (or failed) half-way: units or the sequencer sealed past the latest epoch.
    const ahead = [...this.units.values()].some((u) => u.disk.epoch > latest.epoch) || (this.sequencers.get(latest.sequencer)?.epoch ?? 0) > latest.epoch;
    if (!ahead) {
      this.#unitsAheadSince = undefined;
      return;
    }
    this.#unitsAheadSince ??= this.queue.now;
    if (this.queue.now - this.#unitsAheadSince >= 2 * MANAGER_TICK_MS) {
      this.#unitsAheadSince = undefined;
      this.#startReconfig([]);
    }
  }

  #healEverything(): void {
    this.net.faulty = false;
    this.net.healAll();
    this.#armedAfterToken.clear();
    this.#armedMidChain.clear();
    for (const u of this.units.values()) if (!u.up && !u.destroyed) u.restart();
    for (const c of this.clients) if (!c.alive) this.#restartClient(c.node);
    this.trace.event(this.queue.now, ['heal-all']);
  }

  // ---- probe and final read ------------------------------------------------------------------------

  #probe(c: SimClient, done: () => void): void {
    const payload = Buffer.from(`${c.node}.${c.incarnation}.probe`);
    const failed = (what: string, r: { ok: false; error: unknown }): void => {
      const e = r.error as { code?: string; message?: string };
      this.check.fail('liveness', `${c.node}: ${what} failed after every fault healed: ${e.code ?? ''} ${e.message ?? String(r.error)}`);
      done();
    };
    c.run('append', payload.toString('latin1'), (caller) => c.append(payload, caller), (r) => {
      if (!r.ok) return failed('append', r);
      const address = r.value;
      c.run('read', address, (caller) => c.read(address, caller), (r2) => {
        if (!r2.ok) return failed(`read ${address}`, r2);
        c.run('tail', undefined, (caller) => c.tail(caller), (r3) => {
          if (!r3.ok) return failed('tail', r3);
          done();
        });
      });
    });
  }

  #finalRead(done: () => void): void {
    const reader = new SimClient(this, 'final', this.store.latestSync()!);
    this.clients.push(reader);
    reader.run('tail', undefined, (caller) => reader.tail(caller), (r) => {
      if (!r.ok) {
        this.check.fail('liveness', `final reader: tail() failed: ${String((r.error as Error).message)}`);
        return done();
      }
      const end = Math.max(r.value, this.check.maxAcked + 1);
      const next = (a: number): void => {
        if (a >= end) return done();
        reader.run('read', a, (caller) => reader.read(a, caller), (rr) => {
          if (!rr.ok) {
            const code = (rr.error as { code?: string }).code;
            if (code !== 'ERR_TRIMMED') this.check.fail('liveness', `final reader: read ${a} failed: ${code ?? String(rr.error)}`);
          }
          next(a + 1);
        });
      };
      next(0);
    });
  }

  // ---- result ---------------------------------------------------------------------------------------

  result(): RunResult {
    const ops = this.history.ops;
    const latest = this.store.latestSync();
    const stats: RunStats = {
      ops: ops.length,
      okOps: ops.filter((o) => o.status === 'ok').length,
      failedOps: ops.filter((o) => o.status === 'fail').length,
      unknownOps: ops.filter((o) => o.status === 'unknown' || o.status === 'pending').length,
      ackedAppends: this.check.acked.size,
      events: this.trace.events,
      virtualMs: Math.round(this.queue.now),
      messages: this.net.stats.sent,
      reconfigurations: this.#reconfigurations,
      epochs: latest?.epoch ?? 0,
      faults: {
        ...this.faults,
        drop: this.net.stats.dropped,
        duplicate: this.net.stats.duplicated,
        'delay-spike': this.net.stats.spiked,
      },
    };
    this.trace.mix(this.check.violations.length);
    return {
      seed: this.seed,
      traceHash: this.trace.hash,
      violations: this.check.violations,
      stats,
      setup: this.#setup,
      traceTail: this.trace.tail(),
    };
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Stripes over `units`, each a chain of `chainLen` distinct units (head first), in a random rotation. */
function randomStripes(rng: Prng, units: readonly string[], chainLen: number): string[][] {
  const order = [...units];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const n = rng.between(1, units.length);
  return Array.from({ length: n }, (_, s) => Array.from({ length: chainLen }, (_, j) => order[(s * chainLen + j) % order.length]!));
}

export type { Request, Projection };
