// The fault injector: every FAULT_TICK_MS of the workload phase it draws, from
// the seed's fault stream and profile (faults.ts), which faults happen now —
// partitions (symmetric or one-way, healed later), unit crashes (restarted
// later) and losses (replaced by the manager), client crashes (anywhere, or
// armed to hit right after a token or between two replicas), voluntary
// reconfigurations (some with a concurrent competitor), crashes of the
// manager's process — and the one sequencer crash of the run, if the seed has
// one. Lost units and a dead sequencer are for the manager to heal.

import { nextProjection, type Change } from '../../src/layout/next.js';
import { randomStripes, type Cluster } from './cluster.js';
import { MANAGER_NODE } from './manager.js';

export const FAULT_TICK_MS = 5;

export class FaultInjector {
  readonly #cl: Cluster;

  constructor(cl: Cluster) {
    this.#cl = cl;
  }

  start(): void {
    const cl = this.#cl;
    cl.queue.after(FAULT_TICK_MS, () => this.#tick());
    if (cl.faultRng.chance(cl.profile.sequencerCrash)) cl.queue.after(cl.faultRng.between(10, 300), () => this.#crashSequencer());
  }

  #tick(): void {
    const cl = this.#cl;
    if (cl.phase !== 'workload') return;
    const rng = cl.faultRng;
    const p = cl.profile;
    const per = (rate: number): boolean => rng.chance((rate * FAULT_TICK_MS) / 100);
    if (per(p.partitionRate)) this.#partition();
    if (per(p.unitCrashRate)) this.#crashUnit();
    if (per(p.clientCrashRate)) this.#crashClient();
    if (per(p.reconfigRate)) this.#voluntaryReconfig();
    if (per(p.unitLossRate)) this.#loseUnit();
    if (per(p.clientCrashRate / 2)) this.#crashManager();
    if (rng.chance(p.midChainCrashRate)) {
      const c = rng.pick(cl.clients);
      if (c.alive) cl.armedMidChain.add(c.node);
    }
    if (rng.chance(p.afterTokenCrashRate)) {
      const c = rng.pick(cl.clients);
      if (c.alive) cl.armedAfterToken.add(c.node);
    }
    cl.queue.after(FAULT_TICK_MS, () => this.#tick());
  }

  #partition(): void {
    const cl = this.#cl;
    const rng = cl.faultRng;
    const nodes = [...cl.units.keys(), ...[...cl.sequencers.values()].filter((s) => s.alive).map((s) => s.name), ...cl.clients.map((c) => c.node), MANAGER_NODE];
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
    cl.faults[oneWay ? 'partition-one-way' : 'partition-symmetric']++;
    for (const [a, b] of edges) cl.net.cut(a, b);
    cl.trace.event(cl.queue.now, ['partition', victim, others.length, oneWay ? 1 : 0], () => `partition ${victim} ${oneWay ? (inbound ? '<-' : '->') : '<->'} ${others.join(',')}`);
    cl.queue.after(rng.between(10, 200), () => {
      for (const [a, b] of edges) cl.net.heal(a, b);
      cl.trace.event(cl.queue.now, ['heal', victim]);
    });
  }

  #crashUnit(): void {
    const cl = this.#cl;
    const rng = cl.faultRng;
    const up = [...cl.units.values()].filter((u) => u.up && !u.destroyed);
    if (up.length === 0) return;
    const u = rng.pick(up);
    u.crash();
    cl.faults['unit-crash']++;
    cl.trace.event(cl.queue.now, ['crash', u.name]);
    cl.queue.after(rng.between(5, 200), () => {
      if (u.up || u.destroyed) return;
      u.restart();
      cl.trace.event(cl.queue.now, ['restart', u.name]);
    });
  }

  /** A unit's device is lost for good; the manager replaces it with a spare (and then there is one spare fewer). */
  #loseUnit(): void {
    const cl = this.#cl;
    const rng = cl.faultRng;
    const latest = cl.store.latestSync();
    if (latest === undefined) return;
    const candidates = cl.liveUnits();
    // One lost unit at a time, only while a spare is left to replace it, and not while a
    // reconfiguration runs (the layout it installs may leave the victim the only whole replica
    // of a chain: losing it then would be more failures than the chain has replicas).
    if (cl.reconfiguring > 0 || cl.manager.reconfiguring || candidates.length < 2 || cl.freeSpares().length === 0 || [...cl.units.values()].some((u) => u.destroyed && latest.units.includes(u.name)))
      return;
    const victim = rng.pick(candidates);
    try {
      // Only when every address it holds has another replica (nextProjection refuses otherwise).
      nextProjection(latest, [{ kind: 'replace-unit', old: victim, replacement: cl.freeSpares()[0]! }], cl.check.maxToken + 1_000_000);
    } catch {
      return;
    }
    cl.units.get(victim)!.destroy();
    cl.faults['unit-lost']++;
    cl.trace.event(cl.queue.now, ['lost', victim]);
  }

  /** The manager's process dies (at any step, a reconfiguration included) and comes back a little later. */
  #crashManager(): void {
    const cl = this.#cl;
    if (!cl.manager.alive) return;
    cl.manager.crash();
    cl.faults['manager-crash']++;
    cl.trace.event(cl.queue.now, ['crash', 'mgr']);
    cl.queue.after(cl.faultRng.between(5, 150), () => {
      if (cl.phase !== 'workload') return; // healEverything restarts it
      cl.manager.restart();
      cl.trace.event(cl.queue.now, ['restart', 'mgr']);
    });
  }

  #crashClient(): void {
    const cl = this.#cl;
    const alive = cl.clients.filter((c) => c.alive);
    if (alive.length <= 1) return;
    const c = cl.faultRng.pick(alive);
    c.crash();
    cl.faults['client-crash']++;
    cl.scheduleClientRestart(c.node);
  }

  #crashSequencer(): void {
    const cl = this.#cl;
    if (cl.phase !== 'workload') return;
    const latest = cl.store.latestSync();
    const s = latest === undefined ? undefined : cl.sequencers.get(latest.sequencer);
    if (s === undefined || !s.alive) return;
    s.crash();
    cl.faults['sequencer-crash']++;
    cl.trace.event(cl.queue.now, ['crash', s.name]);
  }

  /** An epoch bump, a sequencer move or a new segment; sometimes two at once. */
  #voluntaryReconfig(): void {
    const cl = this.#cl;
    const rng = cl.faultRng;
    const change = (): Change[] => {
      const x = rng.float();
      if (x < 0.3) return [];
      if (x < 0.5) return [{ kind: 'move-sequencer', sequencer: cl.newSequencer() }];
      const live = cl.liveUnits();
      if (live.length === 0) return [];
      // Seeds that lose units keep two replicas everywhere (one lost replica must not be all of them).
      const len = cl.profile.unitLossRate > 0 ? rng.pick([2, 2, 3]) : rng.pick([1, 2, 2, 3]);
      return [{ kind: 'add-segment', stripes: randomStripes(rng, live, Math.min(live.length, len)) }];
    };
    cl.faults.reconfigure++;
    cl.startReconfig(change());
    if (rng.chance(cl.profile.concurrentReconfig)) {
      cl.faults['reconfigure-concurrent']++;
      cl.startReconfig(change());
    }
  }
}
