// `corfu manager --layout URL [--spare HOST:PORT]... [--standby-sequencer HOST:PORT]...`:
// the cluster's manager (src/manager). It campaigns to be the one active
// manager (a lock beside a file: store's projections; etcd's election on a
// lease with an etcd store); a standby prints
// `manager: standby` and waits. Once active (`manager: active`), it probes
// every server, replaces dead units (by empty spares) and a dead sequencer,
// copies a replaced unit's older entries onto its replacement (rebuild), and
// re-seals units that fell behind, until SIGTERM or SIGINT. Its decisions (and, at
// debug, every probe miss) are logged on stderr (src/cli/log.ts), each with the epoch of
// the layout it acted on. With --admin it prints `admin HOST:PORT` first; on a signal
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
import { runServer, type LogFlags, type ServerLogger } from './log.js';
import { cliRuntime, cliStoreOptions } from './security.js';
import { armStopDeadline } from './stop-signal.js';

export interface ManagerFlags extends AdminFlags, LogFlags {
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

export async function managerVerb(flags: ManagerFlags): Promise<void> {
  await runServer('manager', flags, (log) => adminAndManage(flags, log));
}

async function adminAndManage(flags: ManagerFlags, logger: ServerLogger): Promise<void> {
  const state: ManagerState = { storeOpen: false, epoch: undefined, active: false, driver: undefined, storeError: undefined };
  const admin = managerAdmin(state, flags.layout);
  const listener = await startAdmin(flags, admin);
  try {
    await manage(flags, logger, state, admin.observer, listener);
  } finally {
    await listener?.close();
  }
}

async function manage(flags: ManagerFlags, logger: ServerLogger, state: ManagerState, observer: ManagerObserver, listener: AdminListener | undefined): Promise<void> {
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
  let stopSignal: string | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    logger.info({ signal }, `${signal}: stopping`);
    armStopDeadline(logger, flags.drain);
    void drain(listener, flags.drain, signal).then(() => stop.abort());
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  exitWithParentIfAsked();
  logger.info(
    { layout: flags.layout, spares: flags.spare.join(','), standbySequencers: flags.standbySequencer.join(','), probeIntervalMs: flags.probeInterval, misses: flags.misses },
    `standby: campaigning to manage ${flags.layout} (${flags.spare.length} spare(s), ${flags.standbySequencer.length} standby sequencer(s))`,
  );
  process.stdout.write('manager: standby\n');
  let leadership;
  try {
    leadership = await election.campaign(stop.signal);
  } catch (err) {
    unwatch();
    state.storeOpen = false;
    await store.close();
    if (stop.signal.aborted) {
      logger.info({}, 'stopped (was standby)');
      return;
    }
    throw err;
  }
  state.active = true;
  logger.info({}, 'active: this manager holds the lock');
  process.stdout.write('manager: active\n');
  // The epoch of the layout each decision was made on: set once the driver exists.
  const current: { driver?: ManagerDriver } = {};
  const log = (level: 'debug' | 'info' | 'warn', message: string, fields: Readonly<Record<string, string | number>> = {}): void => {
    logger[level]({ ...(current.driver === undefined ? {} : { epoch: current.driver.machine.layout.epoch }), ...fields }, message);
  };
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
  current.driver = driver;
  log('info', `managing epoch ${driver.machine.layout.epoch}: ${driver.machine.layout.units.length} unit(s), sequencer ${driver.machine.layout.sequencer}`);
  // (A signal may have come while the driver started: then the wait is already over.)
  const stopped = stop.signal.aborted ? Promise.resolve() : new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  await Promise.race([stopped, leadership.lost]);
  if (!stop.signal.aborted) {
    log('warn', 'lost the manager lock: stopping');
    state.active = false;
    listener?.drain('lost the manager lock');
  }
  await driver.stop();
  log('info', 'stopped probing and acting');
  await leadership.release();
  log('info', 'released the manager lock');
  unwatch();
  state.storeOpen = false;
  await store.close();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  log('info', `stopped (${stopSignal ?? 'lost the lock'})`);
}
