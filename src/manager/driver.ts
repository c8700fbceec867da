// Runs the manager machine (machine.ts) against real servers and a real
// projection store: the machine decides, this owns the clock, the probes, the
// reconfigurations and the store. Its clock and connections come from a
// ClientRuntime, so the seeded simulator runs this same driver on virtual time.
//
// - A tick every `tickMs` (a quarter of the probe interval): the machine
//   answers with the probes that are due. A unit is probed with INFO (its
//   epoch and tail, at any epoch); the sequencer with TAIL at the latest
//   epoch (ERR_SEALED still tells its epoch). No answer within
//   `probeTimeoutMs` is a miss.
// - The store's watch tells it of every new projection as it is proposed (an
//   operator's, or another manager's).
// - Reconfigurations run the ordinary driver (src/client/reconfigure-driver.ts),
//   one at a time; rebuilds run rebuild.ts under the latest layout.

import { z } from 'zod';

import { CorfuError } from '../../bindings/errors.js';
import { reconfigure } from '../client/reconfigure-driver.js';
import { nodeRuntime, type ClientRuntime } from '../client/runtime.js';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, sharedPool, type Lease, type ServerPool } from '../client/server-pool.js';
import type { Projection } from '../layout/projection.js';
import type { ProjectionStore } from '../layout/store.js';
import type { TimerHandle } from '../transport/clock.js';
import type { RequestBody } from '../transport/connection.js';
import type { ProbeAnswer } from './detector.js';
import { Manager, type ManagerAction, type ManagerOptions, type ServerRole } from './machine.js';
import type { ManagerObserver } from './observer.js';
import { Rebuild, type RebuildResume } from './rebuild.js';

export interface ManagerDriverOptions extends ManagerOptions {
  /** How long a probe waits for its answer before it counts as a miss. */
  readonly probeTimeoutMs: number;
  /** The per-request timeout of a reconfiguration. */
  readonly reconfigureTimeoutMs: number;
  readonly runtime?: ClientRuntime;
  /**
   * Hears every decision (the machine's `log` actions), probe misses (debug) and rebuild
   * progress; `fields` carries what a structured logger keys on (the unit's address).
   */
  readonly log: (level: 'debug' | 'info' | 'warn', message: string, fields?: Readonly<Record<string, string | number>>) => void;
  /** The rebuild's copy rate, payload bytes per second; unbounded when absent. */
  readonly rebuildRateBytesPerSec?: number;
  /** Addresses a rebuild copies per batch (rebuild.ts). Default 256. */
  readonly rebuildBatchAddresses?: number;
  /** How often a rebuild's progress (and resume point) is written to the store, at most. Default 1000 ms. */
  readonly rebuildStatusEveryMs?: number;
  /** Log a rebuild's progress every this many addresses. Default 10,000. */
  readonly rebuildProgressEvery?: number;
  /**
   * Hears a broken invariant (anything thrown that is not a CorfuError, such as a rebuild
   * finding different data on the unit than on its source): the driver stops acting first.
   * Without it the error is rethrown, and the process crashes, as a bug should.
   */
  readonly onFatal?: (error: unknown) => void;
  /** Hears probes, reconfigurations, re-seals and rebuild progress (metrics). */
  readonly observer?: ManagerObserver;
}

/** The status record (ProjectionStore.putStatus) the manager reports a rebuild's progress in. */
export const REBUILD_STATUS = 'rebuild';
/** How often a rebuild's progress is written there, at most, by default. */
const STATUS_EVERY_MS = 1000;

export interface RebuildStatus {
  readonly unit: string;
  /** The epoch of the layout the pass copies under. */
  readonly epoch: number;
  readonly addressesDone: number;
  readonly addressesTotal: number;
  readonly bytesCopied: number;
  readonly done: boolean;
  /** What is certainly copied: a pass started again on this format of the unit resumes there. */
  readonly resume?: RebuildResume;
}

/** The resume point a status record holds for `unit`, if it holds a well-formed one. */
function resumeOf(record: unknown, unit: string): RebuildResume | undefined {
  const parsed = RESUME_RECORD.safeParse(record);
  return parsed.success && parsed.data.unit === unit ? parsed.data.resume : undefined;
}

const RESUME_RECORD = z.object({
  unit: z.string(),
  resume: z.object({ formatId: z.string(), copiedBelow: z.record(z.string(), z.number().int().nonnegative()) }),
});

export class ManagerDriver {
  readonly #store: ProjectionStore;
  readonly #options: ManagerDriverOptions;
  readonly #runtime: ClientRuntime;
  readonly #pool: ServerPool;
  readonly #leases = new Map<string, Lease>();
  readonly #machine: Manager;
  #timer: TimerHandle | undefined;
  #stopped = false;
  /** The last rebuild report's write: each waits for the one before, so an older report never lands over a newer one. */
  #statusWritten: Promise<void> = Promise.resolve();
  #unwatch: (() => void) | undefined;

  private constructor(store: ProjectionStore, layout: Projection, options: ManagerDriverOptions) {
    this.#store = store;
    this.#options = options;
    this.#runtime = options.runtime ?? nodeRuntime;
    this.#pool = sharedPool(this.#runtime);
    this.#machine = new Manager(layout, options);
  }

  /** Reads the latest projection and starts managing it. */
  static async start(store: ProjectionStore, options: ManagerDriverOptions): Promise<ManagerDriver> {
    const layout = await store.latest();
    if (layout === undefined) throw new CorfuError('ERR_NO_LAYOUT', 'the projection store holds no projection: nothing to manage (corfu layout init first)');
    const d = new ManagerDriver(store, layout, options);
    d.#unwatch = store.watch(
      (p) => d.#apply(d.#machine.step({ layout: p })),
      (err) => options.log('warn', `projection store: ${err.message}`),
    );
    d.#tick();
    return d;
  }

  get machine(): Manager {
    return this.#machine;
  }

  /** Stops ticking and releases the connections; what is in flight finishes on its own. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unwatch?.();
    if (this.#timer !== undefined) this.#runtime.clock.clearTimeout(this.#timer);
    const leases = [...this.#leases.values()];
    this.#leases.clear();
    await Promise.all(leases.map((l) => this.#pool.release(l)));
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#runtime.clock.now();
    this.#apply(this.#machine.step({ tick: { now } }));
    this.#timer = this.#runtime.clock.setTimeout(() => this.#tick(), Math.max(1, Math.floor(this.#options.probeIntervalMs / 4)));
  }

  #apply(actions: readonly ManagerAction[]): void {
    if (this.#stopped) return;
    const fatal = (err: unknown): void => this.#fatal(err);
    for (const a of actions) {
      if ('probe' in a) this.#probe(a.probe.server, a.probe.role, a.probe.epoch).catch(fatal);
      else if ('reconfigure' in a) this.#reconfigure(a.reconfigure.changes).catch(fatal);
      else if ('reseal' in a) this.#reseal(a.reseal.unit, a.reseal.epoch).catch(fatal);
      else if ('rebuild' in a) this.#rebuild(a.rebuild.unit).catch(fatal);
      else this.#options.log(a.log.level, a.log.message);
    }
  }

  /** A broken invariant: stop acting on a state that cannot be trusted, then tell onFatal (or crash). */
  #fatal(err: unknown): void {
    const first = !this.#stopped;
    void this.stop();
    if (!first) return;
    if (this.#options.onFatal === undefined) throw err;
    this.#options.onFatal(err);
  }

  #connection(server: string): Lease {
    let lease = this.#leases.get(server);
    if (lease === undefined) {
      lease = this.#pool.acquire(server, { timeoutMs: this.#options.probeTimeoutMs, maxInFlight: DEFAULT_MAX_IN_FLIGHT, maxQueued: DEFAULT_MAX_QUEUED });
      this.#leases.set(server, lease);
    }
    return lease;
  }

  async #request(server: string, body: RequestBody) {
    return this.#connection(server).connection.request(body, { timeoutMs: this.#options.probeTimeoutMs });
  }

  async #probe(server: string, role: ServerRole, epoch: number): Promise<void> {
    let answer: ProbeAnswer | undefined;
    try {
      if (role === 'unit') {
        const res = await this.#request(server, { type: 'request', op: 'INFO', epoch: 0 });
        if (res.status === 'OK' && res.op === 'INFO') answer = { epoch: res.unitEpoch, tail: res.tail };
      } else {
        const res = await this.#request(server, { type: 'request', op: 'TAIL', epoch });
        if (res.status === 'OK' && res.op === 'TAIL') answer = { epoch, tail: res.tail };
        else if (res.status === 'ERR_SEALED') answer = { epoch: res.unitEpoch, tail: 0 };
      }
    } catch (err) {
      // No answer in time, refused, reset: a miss. Anything but a CorfuError is a bug
      // here, not a sign the server is down: it must not count toward replacing it.
      if (!(err instanceof CorfuError)) throw err;
      answer = undefined;
      this.#options.log('debug', `probe of ${role} ${server} missed: ${err.code}: ${err.message}`, { [role]: server, code: err.code });
    }
    this.#options.observer?.probed?.(role, answer !== undefined);
    this.#apply(this.#machine.step({ probed: { server, now: this.#runtime.clock.now(), answer } }));
  }

  async #reconfigure(changes: Parameters<typeof reconfigure>[1]): Promise<void> {
    try {
      const r = await reconfigure(this.#store, changes, { timeoutMs: this.#options.reconfigureTimeoutMs, runtime: this.#runtime });
      this.#options.observer?.reconfigured?.(r.adopted ? 'adopted' : 'installed');
      this.#apply(this.#machine.step({ reconfigured: { now: this.#runtime.clock.now(), projection: r.projection, adopted: r.adopted } }));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#options.observer?.reconfigured?.('failed');
      this.#apply(this.#machine.step({ reconfigureFailed: { now: this.#runtime.clock.now(), message } }));
    }
  }

  async #rebuild(unit: string): Promise<void> {
    let ok = false;
    let message: string;
    const step = Math.max(1, this.#options.rebuildProgressEvery ?? 10_000);
    let reported = 0;
    let statusAt = -Infinity;
    const epoch = this.#machine.layout.epoch;
    try {
      // Where an earlier pass on this unit got to (this manager's, or the one before it died).
      // Without it (none, or the store fails) the pass copies everything again: only slower.
      const resume = resumeOf(await this.#store.getStatus(REBUILD_STATUS).catch(() => undefined), unit);
      const r = await new Rebuild(this.#machine.layout, unit, {
        ...(resume === undefined ? {} : { resume }),
        ...(this.#options.rebuildBatchAddresses === undefined ? {} : { batchAddresses: this.#options.rebuildBatchAddresses }),
        timeoutMs: this.#options.probeTimeoutMs,
        runtime: this.#runtime,
        pool: this.#pool,
        ...(this.#options.rebuildRateBytesPerSec === undefined ? {} : { rateBytesPerSec: this.#options.rebuildRateBytesPerSec }),
        onProgress: (p) => {
          this.#options.observer?.rebuildProgress?.(unit, p.addressesDone, p.addressesTotal, p.bytesCopied);
          const now = this.#runtime.clock.now();
          if (now - statusAt >= (this.#options.rebuildStatusEveryMs ?? STATUS_EVERY_MS) || p.addressesDone === p.addressesTotal) {
            statusAt = now;
            void this.#status({ unit, epoch, addressesDone: p.addressesDone, addressesTotal: p.addressesTotal, bytesCopied: p.bytesCopied, done: false, resume: p.resume });
          }
          if (p.addressesDone - reported < step && p.addressesDone < p.addressesTotal) return;
          reported = p.addressesDone;
          this.#options.log('info', `rebuild of ${unit}: ${p.addressesDone} of ${p.addressesTotal} addresses, ${p.bytesCopied} bytes copied`, {
            unit,
            addressesDone: p.addressesDone,
            addressesTotal: p.addressesTotal,
            bytesCopied: p.bytesCopied,
          });
        },
      }).run();
      // Written before the layout says the unit is rebuilt, so `corfu status` never shows a finished rebuild as running.
      await this.#status({ unit, epoch, addressesDone: r.addresses, addressesTotal: r.addresses, bytesCopied: r.bytes, done: true, resume: r.resume });
      ok = true;
      message = `${r.addresses} addresses, ${r.bytes} bytes copied${r.trimMark > 0 ? `, trimmed below ${r.trimMark}` : ''}${r.resumed > 0 ? `, ${r.resumed} copied by an earlier pass` : ''}`;
    } catch (err) {
      if (!(err instanceof CorfuError)) throw err; // a broken invariant: crash rather than go on
      message = err.message;
    }
    this.#options.observer?.rebuildEnded?.(unit, ok);
    this.#apply(this.#machine.step({ rebuildDone: { unit, now: this.#runtime.clock.now(), ok, message } }));
  }

  /** The rebuild's progress, for `corfu status` (best effort: a store that fails only loses a report). */
  #status(value: RebuildStatus): Promise<void> {
    const report = { ...value, at: new Date(this.#runtime.clock.now()).toISOString() };
    this.#statusWritten = this.#statusWritten
      .then(() => this.#store.putStatus(REBUILD_STATUS, report))
      .catch((err: unknown) => {
        if (!(err instanceof CorfuError)) this.#fatal(err);
      });
    return this.#statusWritten;
  }

  async #reseal(unit: string, epoch: number): Promise<void> {
    let ok = false;
    try {
      const res = await this.#request(unit, { type: 'request', op: 'SEAL', epoch: epoch - 1, newEpoch: epoch });
      ok = res.status === 'OK' || (res.status === 'ERR_SEALED' && res.unitEpoch >= epoch);
      if (!ok) this.#options.log('warn', `sealing unit ${unit} to epoch ${epoch}: ${res.status}`, { unit });
    } catch (err) {
      this.#options.log('warn', `sealing unit ${unit} to epoch ${epoch}: ${(err as Error).message}`, { unit });
    }
    this.#options.observer?.resealed?.(ok);
    this.#apply(this.#machine.step({ resealed: { unit, epoch, now: this.#runtime.clock.now(), ok } }));
  }
}
