// The cluster's manager in the simulator: the REAL ManagerDriver and Manager
// machine (src/manager) in a process of its own ('mgr'), on a SimRuntime
// (virtual timers, links over the simulated network) with a view of the
// projection store. It can crash (the process dies at once, whatever it was
// doing, a reconfiguration half-way included) and come back as a new
// incarnation, which reads the store and goes on from what it finds. Its
// timings are the real defaults scaled down to the simulator's clock.

import { InvariantError } from '../../bindings/invariant.js';
import { ManagerDriver, REBUILD_STATUS } from '../../src/manager/driver.js';
import { MANAGER_DEFAULTS } from '../../src/manager/machine.js';
import type { Cluster } from './cluster.js';
import type { Prng } from './prng.js';
import { SimRuntime } from './runtime.js';
import { SimStoreView } from './store.js';

export const MANAGER_NODE = 'mgr';

export interface SimManagerTimings {
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly misses: number;
  readonly rebuildBatchAddresses: number;
  readonly graceMs: number;
}

/** The chance the manager dies right after a rebuild's progress record. */
const MID_REBUILD_CRASH = 0.15;

/** The manager's storm guard in the simulator (epochs it may start in a minute). */
const MAX_EPOCHS_PER_MINUTE = 120;

export class SimManager {
  readonly #cl: Cluster;
  readonly #timings: SimManagerTimings;
  readonly #rng: Prng;
  #runtime: SimRuntime | undefined;
  #driver: ManagerDriver | undefined;
  incarnation = 0;
  /** Reconfigurations it started, and installed. */
  started = 0;
  installed = 0;

  /** Decides the crashes right after a rebuild's progress record (its own stream: the manager's decisions keep theirs). */
  readonly #crashRng: Prng;

  constructor(cl: Cluster, timings: SimManagerTimings, rng: Prng, crashRng: Prng) {
    this.#cl = cl;
    this.#timings = timings;
    this.#rng = rng;
    this.#crashRng = crashRng;
  }

  get alive(): boolean {
    return this.#runtime?.alive === true;
  }

  /** Whether it is in the middle of a reconfiguration. */
  get reconfiguring(): boolean {
    return this.alive && this.#driver?.machine.reconfiguring === true;
  }

  start(): void {
    const cl = this.#cl;
    const runtime = new SimRuntime(MANAGER_NODE, cl.queue, cl.net, () => cl.wake());
    this.#runtime = runtime;
    this.#driver = undefined;
    const store = new SimStoreView(cl.store, runtime.clock, () => cl.storeDelay());
    // Every projection this incarnation proposes, for the epoch-rate invariant.
    const propose = store.propose.bind(store);
    const incarnation = this.incarnation;
    store.propose = (p) => {
      cl.check.managerProposed(incarnation, MAX_EPOCHS_PER_MINUTE);
      cl.check.rebuildReported(cl.store.latestSync(), p, cl.store.statusSync(REBUILD_STATUS));
      return propose(p);
    };
    // Sometimes the manager dies right after it recorded a rebuild's progress: the next
    // incarnation resumes from that record (a random crash rarely lands inside a rebuild).
    const putStatus = store.putStatus.bind(store);
    store.putStatus = async (name, value) => {
      await putStatus(name, value);
      if ((value as { done?: unknown }).done !== false || runtime !== this.#runtime || !runtime.alive || this.#crashRng.float() >= MID_REBUILD_CRASH) return;
      this.crash();
      cl.faults['manager-crash-mid-rebuild']++;
      cl.trace.event(cl.queue.now, ['crash', 'mgr', 'mid-rebuild']);
      cl.queue.after(this.#crashRng.between(5, 100), () => {
        if (cl.phase === 'done' || this.alive) return;
        this.restart();
        cl.trace.event(cl.queue.now, ['restart', 'mgr']);
      });
    };
    const t = this.#timings;
    cl.wake();
    void ManagerDriver.start(store, {
      ...MANAGER_DEFAULTS,
      probeIntervalMs: t.probeIntervalMs,
      probeTimeoutMs: t.probeTimeoutMs,
      misses: t.misses,
      graceMs: t.graceMs,
      // The simulator's runs last seconds: a bound it can reach, so the checker sees a storm.
      maxEpochsPerMinute: MAX_EPOCHS_PER_MINUTE,
      backoffMinMs: 5,
      backoffMaxMs: 60,
      reconfigureTimeoutMs: cl.timings.timeoutMs,
      // Small batches and a status record after each: a rebuild cut short leaves a resume
      // point with gaps behind it (batches finish out of order), and the next pass uses it.
      rebuildBatchAddresses: t.rebuildBatchAddresses,
      rebuildStatusEveryMs: 0,
      // The spares, and every unit the cluster started with: an operator may list every box.
      // A unit back from a replacement holds entries, and the manager must pass it over.
      spares: [...cl.spares, ...cl.firstUnits],
      standbySequencers: cl.standbySequencers,
      random: () => this.#rng.float(),
      runtime,
      onFatal: (err) => {
        cl.check.fail(err instanceof InvariantError ? 'invariant' : 'exception', `manager: ${String((err as Error).stack ?? err)}`);
        this.crash();
      },
      log: (level, message) => {
        if (/^reconfiguring/.test(message)) this.started++;
        if (/^installed epoch/.test(message)) this.installed++;
        cl.trace.event(cl.queue.now, ['mgr', level], () => `mgr ${level} ${message}`);
      },
    }).then(
      (d) => {
        if (runtime === this.#runtime && runtime.alive) this.#driver = d;
        else void d.stop();
      },
      (err: unknown) => cl.check.fail('exception', `manager failed to start: ${String((err as Error).stack ?? err)}`),
    );
  }

  /** The process dies; `restart` brings a new one. */
  crash(): void {
    if (!this.alive) return;
    this.#runtime!.kill();
    this.incarnation++;
  }

  restart(): void {
    if (this.alive) return;
    this.start();
  }
}
