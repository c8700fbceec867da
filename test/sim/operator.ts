// The operator (the `corfu manager` of DESIGN.md, which does not exist yet):
// every MANAGER_TICK_MS it looks at the latest projection with the
// simulator's global knowledge and, when nothing else is reconfiguring, fixes
// what keeps the layout from working in ONE reconfiguration — lost units are
// replaced and a dead sequencer is moved together (a failover alone would wait
// forever on a lost unit's seal) — or, when units or the sequencer were sealed
// past the latest epoch by a reconfiguration that died or failed half-way,
// bumps the epoch. It also heals everything when the workload ends.

import type { Change } from '../../src/layout/next.js';
import { MANAGER_TICK_MS, type Cluster } from './cluster.js';

export class Operator {
  readonly #cl: Cluster;
  #aheadSince: number | undefined;

  constructor(cl: Cluster) {
    this.#cl = cl;
  }

  start(): void {
    this.#cl.queue.after(MANAGER_TICK_MS, () => this.#tick());
  }

  #tick(): void {
    const cl = this.#cl;
    // It keeps watching through the final read: a reconfiguration that failed half-way just
    // before it leaves units sealed past the latest epoch, and only the operator bumps it.
    if (cl.phase === 'done') return;
    cl.queue.after(MANAGER_TICK_MS, () => this.#tick());
    if (cl.reconfiguring > 0) return;
    const latest = cl.store.latestSync();
    if (latest === undefined) return;
    const changes: Change[] = latest.units
      .filter((u) => cl.units.get(u)?.destroyed === true)
      .map((old) => ({ kind: 'replace-unit', old, replacement: cl.replacements.get(old)! }));
    if (cl.sequencers.get(latest.sequencer)?.alive !== true) {
      cl.faults.failover++;
      const seq = cl.newSequencer();
      cl.startReconfig([...changes, { kind: 'move-sequencer', sequencer: seq }]);
      if (cl.phase === 'workload' && cl.faultRng.chance(cl.profile.concurrentReconfig)) {
        cl.faults['reconfigure-concurrent']++;
        cl.startReconfig([...changes, { kind: 'move-sequencer', sequencer: cl.faultRng.chance(0.5) ? seq : cl.newSequencer() }]);
      }
      return;
    }
    if (changes.length > 0) {
      cl.startReconfig(changes);
      return;
    }
    const ahead = [...cl.units.values()].some((u) => u.disk.epoch > latest.epoch) || (cl.sequencers.get(latest.sequencer)?.epoch ?? 0) > latest.epoch;
    if (!ahead) {
      this.#aheadSince = undefined;
      return;
    }
    this.#aheadSince ??= cl.queue.now;
    if (cl.queue.now - this.#aheadSince >= 2 * MANAGER_TICK_MS) {
      this.#aheadSince = undefined;
      cl.startReconfig([]);
    }
  }

  /** The end of the workload: no more faults, partitions healed, crashed units and clients back. */
  healEverything(): void {
    const cl = this.#cl;
    cl.net.faulty = false;
    cl.net.healAll();
    cl.armedAfterToken.clear();
    cl.armedMidChain.clear();
    for (const u of cl.units.values()) if (!u.up && !u.destroyed) u.restart();
    for (const c of cl.clients) if (!c.alive) cl.restartClient(c.node);
    cl.trace.event(cl.queue.now, ['heal-all']);
  }
}
