// What the test harness does at the end of the workload: no more faults,
// partitions healed, crashed units, clients and the manager back. Healing the
// layout itself — replacing lost units, moving a dead sequencer, bumping an
// epoch left sealed-ahead by a reconfiguration that died half-way — is the
// manager's job (manager.ts runs the product's src/manager), during the
// workload and after.

import type { Cluster } from './cluster.js';

export class Operator {
  readonly #cl: Cluster;

  constructor(cl: Cluster) {
    this.#cl = cl;
  }

  /** The end of the workload: no more faults, partitions healed, crashed units, clients and the manager back. */
  healEverything(): void {
    const cl = this.#cl;
    cl.net.faulty = false;
    cl.net.healAll();
    cl.armedAfterToken.clear();
    cl.armedMidChain.clear();
    for (const u of cl.units.values()) if (!u.up && !u.destroyed) u.restart();
    for (const c of cl.clients) if (!c.alive) cl.restartClient(c.node);
    // A unit lost for good with no spare left (crashed units took them), or a dead sequencer
    // with no standby left: bring a spare or a standby and restart the manager with it, as an
    // operator would.
    const latest = cl.store.latestSync();
    const lost = (latest?.units ?? []).filter((u) => cl.units.get(u)?.destroyed === true).length;
    let restartManager = false;
    if (lost > cl.freeSpares().length) {
      for (let i = cl.freeSpares().length; i < lost; i++) cl.addSpare();
      restartManager = true;
    }
    // The layout's sequencer died for good and no standby is left alive: bring one.
    const sequencerAlive = (name: string): boolean => cl.sequencers.get(name)?.alive === true;
    if (latest !== undefined && !sequencerAlive(latest.sequencer) && !cl.standbySequencers.some((s) => s !== latest.sequencer && sequencerAlive(s))) {
      cl.addStandbySequencer();
      restartManager = true;
    }
    if (restartManager) cl.manager.crash();
    cl.manager.restart();
    cl.trace.event(cl.queue.now, ['heal-all']);
  }
}
