// `corfu manager --layout URL [--spare HOST:PORT]... [--standby-sequencer HOST:PORT]...`:
// the cluster's manager (src/manager). It campaigns to be the one active
// manager (a lock beside a file: store's projections; etcd's election on a
// lease with an etcd store); a standby prints
// `manager: standby` and waits. Once active (`manager: active`), it probes
// every server, replaces dead units (by empty spares) and a dead sequencer,
// copies a replaced unit's older entries onto its replacement (rebuild), and
// re-seals units that fell behind, until SIGTERM or SIGINT. Its decisions are logged one a
// line on stderr. With --admin it prints `admin HOST:PORT` first; on a signal
// /readyz turns 503 and it goes on for --drain ms before it stops.

import { exitWithParentIfAsked } from './exit-with-parent.js';

import type { AdminListener } from '../admin/listener.js';
import type { EtcdProjectionStore } from '../layout/etcd-store.js';
import type { ManagerObserver } from '../manager/observer.js';
import { FileProjectionStore } from '../layout/file-store.js';
import { openProjectionStore } from '../layout/open.js';
import { ManagerDriver } from '../manager/driver.js';
import { FileLockElection, type Election } from '../manager/election.js';
import { MANAGER_DEFAULTS } from '../manager/machine.js';
import { managerAdmin, type ManagerState } from '../admin/manager.js';
import { drain, startAdmin, type AdminFlags } from './admin.js';
import { FatalError } from './fatal-error.js';
import { cliRuntime, cliStoreOptions } from './security.js';

export interface ManagerFlags extends AdminFlags {
  readonly layout: string;
  readonly spare: readonly string[];
  readonly standbySequencer: readonly string[];
  readonly probeInterval: number;
  readonly probeTimeout: number;
  readonly misses: number;
  readonly grace: number;
  readonly maxEpochsPerMinute: number;
  readonly rebuildRate?: number;
}

function log(level: 'info' | 'warn', message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
}

export async function managerVerb(flags: ManagerFlags): Promise<void> {
  const state: ManagerState = { storeOpen: false, epoch: undefined, active: false, driver: undefined, storeError: undefined };
  const admin = managerAdmin(state, flags.layout);
  const listener = await startAdmin(flags, admin);
  try {
    await manage(flags, state, admin.observer, listener);
  } finally {
    await listener?.close();
  }
}

async function manage(flags: ManagerFlags, state: ManagerState, observer: ManagerObserver, listener: AdminListener | undefined): Promise<void> {
  const store = await openProjectionStore(flags.layout, cliStoreOptions());
  state.storeOpen = true;
  // The epoch for /readyz and /status, standby or active: the store's latest, then its watch.
  const unwatch = store.watch(
    (p) => {
      state.epoch = Math.max(state.epoch ?? 0, p.epoch);
      state.storeError = undefined;
    },
    (err) => (state.storeError = err.message),
  );
  try {
    const latest = await store.latest();
    if (latest !== undefined) state.epoch = Math.max(state.epoch ?? 0, latest.epoch);
  } catch (err) {
    state.storeError = err instanceof Error ? err.message : String(err);
  }
  let election: Election;
  if (store instanceof FileProjectionStore) election = new FileLockElection(store.dir);
  else if (flags.layout.startsWith('etcd://')) {
    // Loaded only for etcd: etcd3 and gRPC take most of a second to load.
    const { EtcdElection } = await import('../manager/etcd-election.js');
    election = new EtcdElection(store as EtcdProjectionStore);
  } else throw new FatalError(`corfu manager: no election for the store ${flags.layout}`);

  const stop = new AbortController();
  let signalled = false;
  const onSignal = (sig: string): void => {
    if (signalled) return;
    signalled = true;
    void drain(listener, flags.drain, sig).then(() => stop.abort());
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  exitWithParentIfAsked();
  process.stdout.write('manager: standby\n');
  let leadership;
  try {
    leadership = await election.campaign(stop.signal);
  } catch (err) {
    unwatch();
    state.storeOpen = false;
    await store.close();
    if (stop.signal.aborted) return;
    throw err;
  }
  state.active = true;
  process.stdout.write('manager: active\n');
  const driver = await ManagerDriver.start(store, {
    ...MANAGER_DEFAULTS,
    probeIntervalMs: flags.probeInterval,
    probeTimeoutMs: flags.probeTimeout,
    misses: flags.misses,
    graceMs: flags.grace,
    maxEpochsPerMinute: flags.maxEpochsPerMinute,
    reconfigureTimeoutMs: Math.max(flags.probeTimeout, 1000),
    spares: flags.spare,
    standbySequencers: flags.standbySequencer,
    ...(flags.rebuildRate === undefined ? {} : { rebuildRateBytesPerSec: flags.rebuildRate }),
    random: Math.random,
    log,
    observer,
    // The manager seals, bootstraps and rebuilds: its credentials must carry the admin role.
    runtime: cliRuntime(),
  });
  state.driver = driver;
  // (A signal may have come while the driver started: then the wait is already over.)
  const stopped = stop.signal.aborted ? Promise.resolve() : new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  await Promise.race([stopped, leadership.lost]);
  if (!stop.signal.aborted) {
    log('warn', 'lost the manager lock: stopping');
    state.active = false;
    listener?.drain('lost the manager lock');
  }
  await driver.stop();
  await leadership.release();
  unwatch();
  state.storeOpen = false;
  await store.close();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
