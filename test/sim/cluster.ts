// The simulated world of one seed: the clock, the network, the units, the
// sequencers, the projection store, the clients, the checkers, the planted
// bugs, and the seed's random streams (one per concern, so
// drawing more in one place does not shift the others). The actors reach it
// through the World interface (context.ts); the workload, the fault injector
// and the healer (workload.ts, inject.ts, operator.ts) act on it; the manager
// (manager.ts) heals the layout.

import { parseProjection } from '../../src/layout/projection.js';
import type { Projection } from '../../src/layout/projection.js';
import type { Change } from '../../src/layout/next.js';
import { Bank, BANK_TYPES, drawTx, type TxProfile } from './bank.js';
import { Bugs } from './bugs.js';
import { Checkers, TxChecks } from './checkers.js';
import { SimClient } from './client.js';
import { SimManager } from './manager.js';
import type { ClientTimings, World } from './context.js';
import { drawProfile, noFaults, type FaultProfile } from './faults.js';
import { History } from './history.js';
import { Network } from './network.js';
import { Prng } from './prng.js';
import { EventQueue } from './queue.js';
import { SimSequencer } from './sequencer.js';
import { MemProjectionStore } from './store.js';
import { Trace } from './trace.js';
import { SimUnit } from './unit.js';

export interface ClusterOptions {
  readonly seed: number;
  readonly bugs?: readonly string[];
  readonly keepTrace?: number;
  /** Transactions on (or off) whatever the seed draws (the planted transaction bugs are hunted with them on). */
  readonly transactions?: boolean;
  /** Clients' single appends on the product's append path (append-path.ts), whatever the seed draws. */
  readonly nativeAppends?: boolean;
}

export const TIMINGS: ClientTimings = { deadlineMs: 1000, timeoutMs: 40, holeTimeoutMs: 15, maxRefreshes: 100, refreshDelayMs: 5 };
/** How often the operator looks at the layout. */
export const MANAGER_TICK_MS = 25;

export type Phase = 'workload' | 'heal' | 'probe' | 'rebuild' | 'final' | 'done';

/** The streams the workload writes and reads (docs/streams.md). */
export const STREAM_NAMES: readonly string[] = ['red', 'green', 'blue'];

/** Whether and how a seed's workload uses streams (workload.ts), drawn from its own random stream. */
export interface StreamProfile {
  readonly on: boolean;
  /** The share of appends that are appendTo (to 1-2 of STREAM_NAMES), and of reads that are stream reads. */
  readonly appendShare: number;
  readonly readShare: number;
  /** The clients' streamRecoveryRange: small ones make a recovery seed several ranges. */
  readonly recoveryRange: number;
}

function drawStreams(rng: Prng): StreamProfile {
  const on = rng.chance(0.5);
  return { on, appendShare: rng.pick([0.25, 0.33, 0.5]), readShare: rng.pick([0.2, 0.33]), recoveryRange: rng.pick([4, 16, 64, 4096]) };
}

export class Cluster implements World {
  readonly seed: number;
  readonly queue = new EventQueue();
  readonly trace: Trace;
  readonly net: Network;
  readonly check = new Checkers();
  readonly bugs: Bugs;
  readonly history = new History();
  readonly store: MemProjectionStore;
  readonly timings = TIMINGS;
  get streamRecoveryRange(): number {
    return this.streams.recoveryRange;
  }
  readonly units = new Map<string, SimUnit>();
  readonly sequencers = new Map<string, SimSequencer>();
  readonly clients: SimClient[] = [];
  /** Every address below this was read by the final reader (the follower must get there too). */
  finalTail = 0;
  /** The client that also follows the log from 0 (workload.ts), on half the seeds. */
  follower: SimClient | undefined;
  readonly profile: FaultProfile;
  /** Faults injected, by kind (network counts are filled in at the end). */
  readonly faults = noFaults();
  readonly setupRng: Prng;
  readonly faultRng: Prng;
  readonly workRng: Prng;
  /**
   * The workload's stream draws (StreamProfile, which appends become appendTo, which reads
   * stream reads): a stream forked off the seed, so a seed without streams draws exactly
   * what it drew before streams were simulated.
   */
  readonly streamRng: Prng;
  readonly streams: StreamProfile;
  /** Transactions (bank.ts): on about a fifth of the seeds, drawn from another stream forked off the seed. */
  readonly txRng: Prng;
  readonly txProfile: TxProfile;
  readonly tx: TxChecks;
  readonly bank: Bank | undefined;
  /**
   * The clients' single appends take the product's append path, the addon's machine
   * (append-path.ts), on about half the seeds: drawn from a stream forked off the seed,
   * so a seed without it runs as it did before the path existed. Always with its planted bug.
   */
  readonly nativeAppends: boolean;
  readonly #miscRng: Prng;
  phase: Phase = 'workload';
  /** Reconfigurations running now, and started in all. */
  reconfiguring = 0;
  reconfigurations = 0;
  /** Units the manager may put in place of dead ones, and sequencers it may fail over to. */
  readonly spares: string[] = [];
  /** The units of the first projection. */
  firstUnits: readonly string[] = [];
  readonly standbySequencers: string[] = [];
  manager!: SimManager;
  readonly armedMidChain = new Set<string>();
  readonly armedAfterToken = new Set<string>();
  /** Called when a client restarts (the workload resumes it). */
  onClientRestart: (c: SimClient) => void = () => {};
  setup = '';
  #nextSequencer = 1;

  constructor(options: ClusterOptions) {
    this.seed = options.seed;
    this.bugs = new Bugs(options.bugs ?? []);
    this.trace = new Trace(options.keepTrace ?? 0);
    this.setupRng = new Prng(this.seed, 0);
    this.faultRng = new Prng(this.seed, 2);
    this.workRng = new Prng(this.seed, 3);
    this.streamRng = this.workRng.fork(this.seed, 7);
    this.streams = drawStreams(this.streamRng);
    this.txRng = this.workRng.fork(this.seed, 8);
    const drawn = drawTx(this.txRng);
    this.txProfile = options.transactions === undefined ? drawn : { ...drawn, on: options.transactions };
    this.tx = new TxChecks(
      (kind, message) => this.check.fail(kind, message),
      BANK_TYPES,
      (address) => this.check.reissued(address),
    );
    this.bank = this.txProfile.on ? new Bank(this.txProfile, this.txRng, this.tx, (kind, message) => this.check.fail(kind, message)) : undefined;
    this.nativeAppends = options.nativeAppends ?? (this.workRng.fork(this.seed, 9).chance(0.5) || this.bugs.has('native-ack-without-tail'));
    this.#miscRng = new Prng(this.seed, 4);
    this.net = new Network(this.queue, new Prng(this.seed, 1), this.trace);
    this.store = new MemProjectionStore(this.bugs, this.check);
    this.check.now = () => this.queue.now;
    this.check.disks = () => new Map([...this.units].filter(([, u]) => !u.destroyed).map(([n, u]) => [n, u.disk]));
    this.check.diskOf = (name) => {
      const u = this.units.get(name);
      return u === undefined || u.destroyed ? undefined : u.disk;
    };
    this.check.unitsOf = (epoch) => this.store.getSync(epoch)?.units;
    this.profile = drawProfile(this.setupRng);
    this.net.faults = { ...this.profile.net };
  }

  /** Set by wake(); run.ts drains the microtasks before the next event. */
  woken = false;

  // ---- World ----------------------------------------------------------------------

  wake(): void {
    this.woken = true;
  }

  storeDelay(): number {
    return 0.1 + this.#miscRng.below(20) / 10;
  }

  crashAfterToken(client: string): boolean {
    if (!this.armedAfterToken.delete(client)) return false;
    this.faults['client-crash-after-token']++;
    this.scheduleClientRestart(client);
    return true;
  }

  crashMidChain(client: string): boolean {
    if (!this.armedMidChain.delete(client)) return false;
    this.faults['client-crash-mid-chain']++;
    this.scheduleClientRestart(client);
    return true;
  }

  // ---- setup ------------------------------------------------------------------------

  /** 3-5 units, chains of 1-3 (2-3 when units may be lost), a sequencer, 2-5 clients, projection epoch 1. */
  build(): void {
    const rng = this.setupRng;
    const nUnits = rng.between(3, 5);
    const units = Array.from({ length: nUnits }, (_, i) => `u${i}:7000`);
    this.firstUnits = units;
    const chainLen = Math.min(nUnits, this.profile.unitLossRate > 0 ? rng.pick([2, 2, 3]) : rng.pick([1, 2, 2, 2, 3, 3]));
    const stripes = randomStripes(rng, units, chainLen);
    const p1 = parseProjection({ epoch: 1, sequencer: 'seq0:6000', units, segments: [{ start: 0, end: null, stripes: stripes.map((chain) => ({ chain })) }] });
    for (const u of units) this.units.set(u, new SimUnit(u, 1, this.net, this.bugs, this.check));
    this.sequencers.set('seq0:6000', new SimSequencer('seq0:6000', 1, this.net, this.queue, this.bugs, this.check));
    this.store.proposeSync(p1);
    const nClients = rng.between(2, 5);
    for (let i = 0; i < nClients; i++) this.clients.push(new SimClient(this, `c${i}`));
    if (rng.chance(0.5)) this.follower = this.clients[0];
    // Spares and standbys for the manager; more spares when the seed loses units.
    const nSpares = this.profile.unitLossRate > 0 ? rng.between(2, 3) : rng.between(1, 2);
    for (let i = 0; i < nSpares; i++) {
      const name = `s${i}:7000`;
      this.units.set(name, new SimUnit(name, 0, this.net, this.bugs, this.check));
      this.spares.push(name);
    }
    for (let i = 0; i < rng.between(1, 2); i++) {
      const name = `sb${i}:6000`;
      this.sequencers.set(name, new SimSequencer(name, 0, this.net, this.queue, this.bugs, this.check));
      this.standbySequencers.push(name);
    }
    this.manager = new SimManager(
      this,
      { probeIntervalMs: 50, probeTimeoutMs: 30, misses: 3, graceMs: rng.pick([0, 0, 20, 60]), rebuildBatchAddresses: rng.pick([2, 8, 256]) },
      new Prng(this.seed, 5),
      new Prng(this.seed, 6),
    );
    const p = this.profile;
    this.setup =
      `${nUnits} units, chains of ${chainLen} x ${stripes.length} stripes, ${nClients} clients; ` +
      `drop ${pct(p.net.drop)} dup ${pct(p.net.duplicate)} spike ${pct(p.net.spike)}; partitions ${p.partitionRate.toFixed(2)} ` +
      `unit crashes ${p.unitCrashRate.toFixed(2)} losses ${p.unitLossRate.toFixed(2)} client crashes ${p.clientCrashRate.toFixed(2)} ` +
      `reconfigs ${p.reconfigRate.toFixed(2)} /100ms; sequencer crash ${p.sequencerCrash > 0 ? 'yes' : 'no'}; trims ${p.trims ? 'yes' : 'no'}; ` +
      `follower ${this.follower === undefined ? 'no' : this.follower.node}; ${nSpares} spares, ${this.standbySequencers.length} standby sequencers; ` +
      `streams ${this.streams.on ? `${pct(this.streams.appendShare)} of appends, ${pct(this.streams.readShare)} of reads, recovery range ${this.streams.recoveryRange}` : 'no'}; ` +
      `transactions ${this.txProfile.on ? `${pct(this.txProfile.share)} of operations, accounts ${this.txProfile.accounts.join(' ')}` : 'no'}; ` +
      `native appends ${this.nativeAppends ? 'yes' : 'no'}`;
  }

  // ---- helpers for the workload, the injector and the operator -----------------------

  /** No client operation and no reconfiguration (an operator's or the manager's) is running. */
  idle(): boolean {
    return this.clients.every((c) => !c.alive || c.busy === 0) && this.reconfiguring === 0 && !this.manager.reconfiguring;
  }

  /** The latest projection works: its sequencer is alive at its epoch, its units are up and at its epoch. */
  usable(): boolean {
    const latest = this.store.latestSync();
    if (latest === undefined) return false;
    const seq = this.sequencers.get(latest.sequencer);
    if (seq?.alive !== true || seq.epoch !== latest.epoch) return false;
    return latest.units.every((name) => this.units.get(name)?.up === true && this.units.get(name)!.disk.epoch === latest.epoch);
  }

  /** The latest layout has no unit being rebuilt: every chain's replicas are whole. */
  rebuilt(): boolean {
    const latest = this.store.latestSync();
    return latest !== undefined && latest.segments.every((s) => s.stripes.every((t) => t.rebuilding === undefined));
  }

  /** A new spare unit (an operator brings a box); the manager learns of it when it (re)starts. */
  addSpare(): string {
    const name = `s${this.spares.length}:7000`;
    this.units.set(name, new SimUnit(name, 0, this.net, this.bugs, this.check));
    this.spares.push(name);
    return name;
  }

  /** A new standby sequencer (an operator starts one); the manager learns of it when it (re)starts. */
  addStandbySequencer(): string {
    const name = `sb${this.standbySequencers.length}:6000`;
    this.sequencers.set(name, new SimSequencer(name, 0, this.net, this.queue, this.bugs, this.check));
    this.standbySequencers.push(name);
    return name;
  }

  /** The layout and every server's state, for a report. */
  describe(): string {
    const latest = this.store.latestSync();
    const units = [...this.units.values()].map((u) => `${u.name}${u.destroyed ? ' lost' : u.up ? '' : ' down'} e${u.disk.epoch}`);
    const seqs = [...this.sequencers.values()].map((s) => `${s.name}${s.alive ? '' : ' dead'} e${s.epoch}`);
    return `layout ${latest === undefined ? 'none' : JSON.stringify(latest)}; units ${units.join(', ')}; sequencers ${seqs.join(', ')}; manager ${this.manager.alive ? 'up' : 'down'}`;
  }

  /** Spares the manager can still use: outside the layout, not destroyed, and empty (one that served in a chain is not). */
  freeSpares(): string[] {
    const latest = this.store.latestSync();
    return this.spares.filter((s) => latest?.units.includes(s) !== true && this.units.get(s)?.destroyed === false && this.units.get(s)?.empty === true);
  }

  /** The units of the latest projection that are not destroyed. */
  liveUnits(): string[] {
    const latest = this.store.latestSync();
    return (latest?.units ?? []).filter((u) => this.units.get(u)?.destroyed === false);
  }

  /** A fresh sequencer process (epoch 0, counter 0): a reconfiguration bootstraps it. */
  newSequencer(): string {
    const name = `seq${this.#nextSequencer++}:6000`;
    this.sequencers.set(name, new SimSequencer(name, 0, this.net, this.queue, this.bugs, this.check));
    return name;
  }

  scheduleClientRestart(node: string): void {
    this.trace.event(this.queue.now, ['client-crash', node]);
    this.queue.after(this.faultRng.between(5, 100), () => this.restartClient(node));
  }

  /** A crashed client comes back as a new process: it reads the latest projection and goes on. */
  restartClient(node: string): void {
    const c = this.clients.find((x) => x.node === node);
    if (c === undefined || c.alive) return;
    c.restart();
    this.trace.event(this.queue.now, ['client-restart', node]);
    this.onClientRestart(c);
  }

  /** Runs a reconfiguration on a random live client (as `corfu layout reconfigure` would). */
  startReconfig(changes: Change[]): void {
    const alive = this.clients.filter((c) => c.alive);
    if (alive.length === 0) return;
    const c = this.faultRng.pick(alive);
    this.reconfiguring++;
    this.reconfigurations++;
    const incarnation = c.incarnation;
    let ended = false;
    const end = (r?: { ok: true; value: unknown } | { ok: false; error: unknown }): void => {
      if (ended) return;
      ended = true;
      this.reconfiguring--;
      if (r !== undefined) {
        const what = r.ok ? `epoch ${(r.value as Projection).epoch}` : String((r.error as Error).message);
        this.trace.event(this.queue.now, ['reconfigured', c.node, r.ok ? 1 : 0], () => `reconfigure by ${c.node} ${JSON.stringify(changes)}: ${what}`);
      }
    };
    c.reconfigure(changes, end);
    // A client that dies mid-reconfiguration never calls back.
    const watch = (): void => {
      if (ended) return;
      if (!c.alive || c.incarnation !== incarnation) end();
      else this.queue.after(MANAGER_TICK_MS, watch);
    };
    this.queue.after(MANAGER_TICK_MS, watch);
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Stripes over `units`, each a chain of `chainLen` distinct units (head first), in a random rotation. */
export function randomStripes(rng: Prng, units: readonly string[], chainLen: number): string[][] {
  const order = [...units];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const n = rng.between(1, units.length);
  return Array.from({ length: n }, (_, s) => Array.from({ length: chainLen }, (_, j) => order[(s * chainLen + j) % order.length]!));
}
