// The manager's admin sources: metrics (an observer of the driver's probes,
// reconfigurations, re-seals and rebuilds, and gauges read at scrape time),
// readiness and /status. A standby manager is ready too: it is doing its job
// (waiting to take over); leadership is in /status and corfu_manager_active.

import { Counter, Gauge } from 'prom-client';

import type { ManagerDriver } from '../manager/driver.js';
import type { ManagerObserver } from '../manager/observer.js';
import type { AdminSources } from './listener.js';
import { serverRegistry } from './registry.js';

/** What the CLI knows of its manager; it updates the fields as things happen. */
export interface ManagerState {
  /** The projection store is open (it is closed on the way out). */
  storeOpen: boolean;
  /** The latest projection epoch seen (read at start, then the store's watch). */
  epoch: number | undefined;
  /** This manager holds the lock (won the election, not lost it since). */
  active: boolean;
  /** Set once the active manager's driver runs. */
  driver: ManagerDriver | undefined;
  /** The last error the store's watch reported, cleared by the next projection. */
  storeError: string | undefined;
}

export interface ManagerAdmin extends AdminSources {
  readonly observer: ManagerObserver;
}

export function managerAdmin(state: ManagerState, layout: string): ManagerAdmin {
  const registry = serverRegistry();
  const registers = [registry];
  const probes = new Counter({ name: 'corfu_manager_probes_total', help: 'probes of servers, by role (unit, sequencer) and outcome (answered, missed)', labelNames: ['role', 'outcome'], registers });
  const reconfigurations = new Counter({
    name: 'corfu_manager_reconfigurations_total',
    help: 'reconfigurations it started, by outcome (installed: its proposal won; adopted: another won; failed)',
    labelNames: ['outcome'],
    registers,
  });
  const reseals = new Counter({ name: 'corfu_manager_reseals_total', help: 'units sealed again to the latest epoch, by outcome (ok, failed)', labelNames: ['outcome'], registers });
  const rebuilds = new Counter({ name: 'corfu_manager_rebuilds_total', help: 'rebuild passes ended, by outcome (done; stopped: it runs again later)', labelNames: ['outcome'], registers });
  const rebuildBytes = new Counter({ name: 'corfu_manager_rebuild_copied_bytes_total', help: 'payload bytes rebuild passes copied onto replacement units', registers });
  const rebuildDone = new Gauge({ name: 'corfu_manager_rebuild_addresses_done', help: 'addresses the current (or last) rebuild pass has copied', registers });
  const rebuildTotal = new Gauge({ name: 'corfu_manager_rebuild_addresses', help: 'addresses the current (or last) rebuild pass copies in all', registers });
  const rebuilding = new Gauge({ name: 'corfu_manager_rebuilding', help: '1 while a rebuild pass runs', registers });
  new Gauge({
    name: 'corfu_manager_active',
    help: '1 when this manager holds the lock (active), 0 when standby',
    registers,
    collect(this: Gauge) {
      this.set(state.active ? 1 : 0);
    },
  });
  new Gauge({
    name: 'corfu_manager_projection_epoch',
    help: 'the latest projection epoch it has seen',
    registers,
    collect(this: Gauge) {
      this.reset();
      if (state.epoch !== undefined) this.set(state.epoch);
    },
  });
  new Gauge({
    name: 'corfu_manager_servers_down',
    help: 'servers of the latest projection its failure detector holds down, by role (active manager only)',
    labelNames: ['role'],
    registers,
    collect(this: Gauge<'role'>) {
      this.reset();
      const m = state.driver?.machine;
      if (m === undefined) return;
      this.set({ role: 'unit' }, m.layout.units.filter((u) => m.detector.isDown(u)).length);
      this.set({ role: 'sequencer' }, m.detector.isDown(m.layout.sequencer) ? 1 : 0);
    },
  });

  // A pass reports the bytes it copied so far; the counter takes the growth.
  let passBytes = 0;
  let rebuildUnit: string | undefined;
  const observer: ManagerObserver = {
    probed: (role, answered) => probes.inc({ role, outcome: answered ? 'answered' : 'missed' }),
    reconfigured: (outcome) => reconfigurations.inc({ outcome }),
    resealed: (ok) => reseals.inc({ outcome: ok ? 'ok' : 'failed' }),
    rebuildProgress: (unit, done, total, bytes) => {
      if (unit !== rebuildUnit || bytes < passBytes) passBytes = 0;
      rebuildUnit = unit;
      rebuildBytes.inc(bytes - passBytes);
      passBytes = bytes;
      rebuildDone.set(done);
      rebuildTotal.set(total);
      rebuilding.set(1);
    },
    rebuildEnded: (_unit, ok) => {
      rebuilds.inc({ outcome: ok ? 'done' : 'stopped' });
      rebuilding.set(0);
      passBytes = 0;
      rebuildUnit = undefined;
    },
  };
  return {
    registry,
    observer,
    checks: [
      { name: 'store', check: () => (!state.storeOpen ? 'the projection store is not open' : state.storeError === undefined ? undefined : `the projection store: ${state.storeError}`) },
      { name: 'epoch', check: () => (state.epoch === undefined ? 'no projection read yet' : undefined) },
    ],
    status: () => {
      const m = state.driver?.machine;
      return {
        role: 'manager',
        layout,
        leadership: state.active ? 'active' : 'standby',
        epoch: state.epoch ?? null,
        reconfiguring: m?.reconfiguring ?? false,
        down: m === undefined ? [] : [...m.layout.units, m.layout.sequencer].filter((s) => m.detector.isDown(s)),
        rebuilding: rebuildUnit ?? null,
      };
    },
  };
}
