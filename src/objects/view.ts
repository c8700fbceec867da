// One object's in-memory view: its stream played forward into immutable snapshots
// (docs/objects.md, "Views"). A snapshot is the object at one log address: its state
// (when the view knows the object's type) and the version of every key, the address
// of the last committed write to it. Versions are what transactions are decided on,
// so a view without the type (an object this runtime never opened, read only to
// decide a transaction) keeps them too.
//
// The view is incremental: it remembers where it got to, and a later read replays
// only what is new. It keeps the last `retain` snapshots, each sharing structure with
// the one before (immutable maps), so a read at an older address (a transaction's
// snapshot, getAt) is a lookup, not a rebuild; older than that, the host replays the
// stream again into a throwaway view (counted in the runtime's stats).
//
// Deadlock freedom: a commit at address c is decided from the versions of the objects
// it read as of c - 1, so deciding one entry waits only on entries below it. A view
// marks itself applied through c - 1 before it waits on c's decision, and a wait for
// "applied through a" ends as soon as that holds, whoever holds the view's lock: it is
// never queued behind a replay that is itself waiting on a decision (two transactions
// at once in one runtime once deadlocked exactly so: test/objects.test.ts).
//
// Failover: "applied through a" past the last entry applied is a claim from what the
// sequencer knew (its stream tails, its tail). A sequencer that replaces it starts at the
// units' tails, and may hand out again addresses the old one handed out but nobody
// wrote: entries can appear below such a claim. A claim made under an older layout epoch
// than the client's is dropped and the stream read again from the last entry applied
// (#revalidate); what lies at or below an entry applied is final (#finalThrough).

import { List, Map as ImmutableMap } from 'immutable';

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { CallOptions } from '../client/budget.js';
import type { StreamEntry, StreamReader } from '../client/stream-reader.js';
import { decodeRecord, WHOLE_OBJECT, type CommitRecord, type ObjectRecord } from './records.js';
import type { ObjectType } from './types.js';

export interface Snapshot<S> {
  /** The address of the entry that made this snapshot; -1 for the initial one. */
  readonly at: number;
  /** The object's state; undefined in a view without the type. */
  readonly state: S | undefined;
  /** Per key: the address of the last committed write to it. */
  readonly versions: ImmutableMap<string, number>;
  /** The last committed write that changed the whole object (an update with no keys). */
  readonly wholeVersion: number;
  /** The last committed write of anything in the object. */
  readonly objectVersion: number;
}

/** A key's version in a snapshot: the last write to it or to the whole object; WHOLE_OBJECT: the last write of anything. */
export function versionOf(snap: Snapshot<unknown>, key: string): number {
  if (key === WHOLE_OBJECT) return snap.objectVersion;
  return Math.max(snap.versions.get(key) ?? -1, snap.wholeVersion);
}

/** Failures of an entry itself (it will never apply), as opposed to failing to reach the log. */
const UNAPPLICABLE: ReadonlySet<string> = new Set(['ERR_CORRUPT', 'ERR_BAD_REQUEST']);

export type Decision = { readonly committed: true } | { readonly committed: false; readonly why: string };

/** What a view needs from its runtime. */
export interface ViewHost {
  /** The decision on the commit at `address` (shared, deterministic). */
  decide(address: number, record: CommitRecord): Promise<Decision>;
  /** Counts entries this runtime replayed. */
  replayed(n: number): void;
  /** The object's newest whole checkpoint, if it has one (checkpoint.ts); at or below `atMost` when given. */
  loadCheckpoint<S>(name: string, type: ObjectType<S, unknown> | undefined, options?: CallOptions, atMost?: number): Promise<Snapshot<S> | undefined>;
  /** A fresh reader of the object's stream. */
  reader(name: string): StreamReader;
  /** The epoch of the layout the runtime's client works under now. */
  epoch(): number;
}

/** Snapshots a view keeps by default. */
export const DEFAULT_RETAINED_SNAPSHOTS = 10_000;

export class ObjectView<S, U> {
  readonly name: string;
  readonly type: ObjectType<S, U> | undefined;
  readonly #host: ViewHost;
  #reader: StreamReader;
  /** Whether the newest checkpoint was looked for (on first use). */
  #started = false;
  readonly #retain: number;
  /** Ascending by `at`; never empty. */
  #snapshots: List<Snapshot<S>>;
  /** Every entry of the stream at or below this address is applied (above #finalThrough: a claim, see there). */
  #appliedThrough = -1;
  /**
   * Of that, what no later layout can change: at or below an entry applied (or a
   * checkpoint's snapshot), addresses are written or will never be handed out again.
   * Above it, "applied through" only says what the sequencer of epoch #claimEpoch knew:
   * a sequencer that replaces it may start lower (at the units' tails) and hand out again
   * addresses the old one handed out but nobody wrote. Such a claim is dropped (the view
   * reads the stream again from here) once the runtime's client is at a newer epoch (the
   * simulator's `claims-outlive-failover`).
   */
  #finalThrough = -1;
  #claimEpoch = -1;
  #tail: Promise<void> = Promise.resolve();
  /** Set when an entry could not be applied: the view stops there for good (its reader has moved past it). */
  #broken: CorfuError | undefined;
  /**
   * Entries the reader delivered that are not applied yet, in order: a decision failed (a
   * timeout, say) at the first of them. Applied first by the next read. (Only that one
   * entry used to be kept: the rest of a readUpTo's batch was lost, and the view later
   * went past them as applied: the simulator's `view-drops-batch`.)
   */
  #unapplied: StreamEntry[] = [];
  /** A sync waiting for its turn, which reads arriving meanwhile share (sync()). */
  #queuedSync: Promise<number> | undefined;
  /** Waits for "applied through address", resolved as the view advances. */
  #waiting: Array<{ readonly address: number; readonly resolve: () => void }> = [];

  constructor(host: ViewHost, name: string, type: ObjectType<S, U> | undefined, retain = DEFAULT_RETAINED_SNAPSHOTS) {
    invariant(Number.isSafeInteger(retain) && retain >= 1, () => `object view: retain ${retain}`);
    this.#host = host;
    this.name = name;
    this.type = type;
    this.#reader = host.reader(name);
    this.#retain = retain;
    this.#snapshots = List([{ at: -1, state: type?.initial(), versions: ImmutableMap<string, number>(), wholeVersion: -1, objectVersion: -1 }]);
  }

  get appliedThrough(): number {
    return this.#appliedThrough;
  }

  /** The newest snapshot, without reading anything (a stale read). */
  current(): Snapshot<S> {
    return this.#snapshots.last()!;
  }

  /** The snapshot at `address` (the newest at or below it); undefined if it is older than those kept. */
  snapshotAt(address: number): Snapshot<S> | undefined {
    invariant(address <= this.#appliedThrough, () => `object ${this.name}: a snapshot at ${address} asked before it was applied (through ${this.#appliedThrough})`);
    const snaps = this.#snapshots;
    if (snaps.first()!.at > address) return undefined;
    let lo = 0;
    let hi = snaps.size - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (snaps.get(mid)!.at <= address) lo = mid;
      else hi = mid - 1;
    }
    return snaps.get(lo);
  }

  /**
   * Plays the stream forward to its tail now: a linearizable read follows. Answers the
   * address it is applied through. Reads that arrive while a sync waits for its turn
   * share it: it has not asked the sequencer yet, so its answer is fresh for them too
   * (one STREAM_TAILS serves a whole burst of reads instead of one each).
   */
  sync(options?: CallOptions): Promise<number> {
    if (this.#queuedSync !== undefined) return this.#queuedSync;
    const queued = this.#exclusive(options, async () => {
      // From here on it is asking: a read arriving now needs a sync of its own.
      if (this.#queuedSync === queued) this.#queuedSync = undefined;
      const epoch = this.#host.epoch();
      for (let e = await this.#reader.readNext(options); e !== undefined; e = await this.#reader.readNext(options)) await this.#applyAll([e]);
      // readNext found nothing more: no entry of the stream lies below the log's tail it saw.
      this.#claim(this.#reader.syncedBelow - 1, epoch);
      return this.#appliedThrough;
    });
    this.#queuedSync = queued;
    void queued.then(
      () => {
        if (this.#queuedSync === queued) this.#queuedSync = undefined;
      },
      () => {
        if (this.#queuedSync === queued) this.#queuedSync = undefined;
      },
    );
    return queued;
  }

  /** Plays the stream forward through `address` (or waits for whoever is playing it to get there). */
  async applyThrough(address: number, options?: CallOptions): Promise<void> {
    if (this.#started && this.holds(address)) return;
    const work = this.#exclusive(options, async () => {
      if (this.#appliedThrough >= address) return;
      const epoch = this.#host.epoch();
      await this.#applyAll(await this.#reader.readUpTo(address, options));
      // After a failover, a snapshot taken under the old sequencer may lie at or above the new
      // one's tail: it may hand those addresses out again. Nothing can be said of them yet.
      if (address > this.#finalThrough && address >= this.#reader.syncedBelow) {
        throw new CorfuError('ERR_CONFLICT', `object ${this.name}: ${address} is not below the log's tail (${this.#reader.syncedBelow}) after a sequencer failover; read at a newer snapshot`);
      }
      this.#claim(address, epoch);
    });
    // Whichever comes first: our own turn, or the replay in progress passing the address.
    await Promise.race([work, this.#until(address)]);
  }

  /**
   * applyThrough until the view is applied through `address` when it returns: a claim
   * made under an older epoch may be dropped meanwhile (#revalidate), between the wait and
   * its caller's next step. Then snapshotAt(address) may follow.
   */
  async playThrough(address: number, options?: CallOptions): Promise<void> {
    do await this.applyThrough(address, options);
    while (!this.holds(address));
  }

  /** Whether the view is applied through `address`, by entries applied or by a claim of the client's epoch now. */
  holds(address: number): boolean {
    return this.#appliedThrough >= address && (address <= this.#finalThrough || this.#claimEpoch >= this.#host.epoch());
  }

  /** Resolves once the view is applied through `address` (a claim of an older epoch does not count: see #finalThrough). */
  #until(address: number): Promise<void> {
    if (this.holds(address)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ address, resolve }));
  }

  /** "Applied through `to`", from what the sequencer of `epoch` knew (#finalThrough). */
  #claim(to: number, epoch: number): void {
    if (to < this.#appliedThrough) return;
    this.#claimEpoch = epoch;
    this.#advance(to);
  }

  /** Once the client is at a newer epoch: drops a claim beyond what is final (an older epoch's sequencer made it); the stream is read again from there. */
  #revalidate(): void {
    const epoch = this.#host.epoch();
    if (this.#claimEpoch >= epoch) return;
    // The reader's knowledge (the tail it last saw, what it found no entry at) is the old
    // sequencer's too: a fresh one, from the last entry applied.
    this.#claimEpoch = epoch;
    this.#appliedThrough = this.#finalThrough;
    this.#reader = this.#host.reader(this.name);
    this.#reader.seek(this.#finalThrough + 1);
    this.#unapplied = [];
  }

  /** Moves "applied through" up to `to` (never down: only #revalidate drops a claim) and wakes the waits that hold now. */
  #advance(to: number): void {
    if (to > this.#appliedThrough) this.#appliedThrough = to;
    // Also when it did not move: what was a claim of an older epoch may hold now (an entry
    // applied made it final, or a claim of this epoch renewed it).
    if (this.#waiting.length === 0) return;
    const woken = this.#waiting.filter((w) => this.holds(w.address));
    if (woken.length === 0) return;
    this.#waiting = this.#waiting.filter((w) => !this.holds(w.address));
    for (const w of woken) w.resolve();
  }

  #exclusive<T>(options: CallOptions | undefined, body: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(async () => {
      if (this.#broken !== undefined) throw this.#broken;
      if (!this.#started) {
        // A new view starts from the object's newest checkpoint, if any: only what follows it is replayed.
        const snap = await this.#host.loadCheckpoint(this.name, this.type, options);
        this.#started = true;
        if (snap !== undefined && snap.at > this.#appliedThrough) this.#restartAt(snap);
      }
      this.#revalidate();
      await this.#applyAll([]);
      try {
        return await body();
      } catch (err) {
        if (!(err instanceof CorfuError) || err.code !== 'ERR_TRIMMED') throw err;
        // The stream was trimmed past this view: go on from a newer checkpoint, once.
        const snap = await this.#host.loadCheckpoint(this.name, this.type, options);
        if (snap === undefined || snap.at <= this.#appliedThrough) {
          throw new CorfuError('ERR_TRIMMED', `object ${this.name}: its stream is trimmed past this view (applied through ${this.#appliedThrough}) and no newer checkpoint is there: ${err.message}`, {
            cause: err,
          });
        }
        this.#restartAt(snap);
        return body();
      }
    });
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Continues from a checkpoint's snapshot: a fresh reader from just after it. */
  #restartAt(snap: Snapshot<S>): void {
    invariant(snap.at > this.#appliedThrough, () => `object ${this.name}: a checkpoint at ${snap.at} is not past ${this.#appliedThrough}`);
    // What lies between the snapshots kept and the checkpoint is unknown here: a read there rebuilds.
    this.#snapshots = List([snap]);
    // Its parts and marker were written above it: it is final.
    this.#finalThrough = Math.max(this.#finalThrough, snap.at);
    this.#advance(snap.at);
    this.#reader = this.#host.reader(this.name);
    this.#reader.seek(snap.at + 1);
    this.#unapplied = [];
  }

  /** Applies what is left unapplied, then `entries` (delivered by the reader), in order; what a failure leaves stays for the next read. */
  async #applyAll(entries: readonly StreamEntry[]): Promise<void> {
    this.#unapplied.push(...entries);
    while (this.#unapplied.length > 0) {
      await this.#apply(this.#unapplied[0]!);
      this.#unapplied.shift();
    }
  }

  async #apply(e: StreamEntry): Promise<void> {
    invariant(e.address > this.#appliedThrough, () => `object ${this.name}: entry ${e.address} delivered after ${this.#appliedThrough} was applied`);
    // Everything below this entry is applied: a decision waiting on it may go on. Below a
    // written address, nothing is handed out again: final.
    this.#finalThrough = Math.max(this.#finalThrough, e.address - 1);
    this.#advance(e.address - 1);
    this.#host.replayed(1);
    try {
      await this.#applyRecord(e);
    } catch (err) {
      // The reader has delivered this entry: it stays first in #unapplied and is applied
      // again next time, or, when it cannot be applied at all, the view stops here for
      // good (going on would skip it silently).
      if (err instanceof CorfuError && !UNAPPLICABLE.has(err.code)) throw err;
      this.#broken =
        err instanceof CorfuError
          ? new CorfuError(err.code, `object ${this.name} cannot go past its entry at ${e.address}: ${err.message}`, { cause: err })
          : new CorfuError('ERR_CORRUPT', `object ${this.name}: applying its entry at ${e.address} threw: ${String(err)}`, { cause: err });
      throw this.#broken;
    }
    this.#finalThrough = Math.max(this.#finalThrough, e.address);
    this.#advance(e.address);
  }

  async #applyRecord(e: StreamEntry): Promise<void> {
    const record = decodeRecord(e.payload);
    const decision = record.kind === 'commit' ? await this.#host.decide(e.address, record) : undefined;
    const next = this.next(this.current(), e.address, record, decision);
    if (next !== undefined) {
      this.#snapshots = this.#snapshots.push(next);
      if (this.#snapshots.size > this.#retain) this.#snapshots = this.#snapshots.shift();
    }
  }

  /**
   * The snapshot after the record at `at` (a commit with its decision); undefined when it
   * changes nothing here. TypeScript-private rather than #private only so that the
   * simulator can plant bugs in it (test/sim/patches.ts); nothing else calls it.
   */
  private next(prev: Snapshot<S>, at: number, record: ObjectRecord, decision: Decision | undefined): Snapshot<S> | undefined {
    if (record.kind === 'update') return this.#write(prev, at, record.keys, record.update);
    if (decision?.committed !== true) return undefined;
    let next = prev;
    for (const w of record.writes) if (w.object === this.name) next = this.#write(next, at, w.keys, w.update);
    return next === prev ? undefined : next;
  }

  #write(prev: Snapshot<S>, at: number, keys: readonly string[], update: Uint8Array): Snapshot<S> {
    let state = prev.state;
    if (this.type !== undefined) {
      let decoded: U;
      try {
        decoded = this.type.codec.decode(update);
      } catch (err) {
        throw new CorfuError('ERR_CORRUPT', `object ${this.name}: the update at ${at} does not decode as a ${this.type.kind} update: ${(err as Error).message}`, { cause: err });
      }
      state = this.type.apply(state as S, decoded);
    }
    const whole = keys.length === 0 || keys.includes(WHOLE_OBJECT);
    const versions = whole ? prev.versions : prev.versions.withMutations((m) => keys.forEach((k) => m.set(k, at)));
    return { at, state, versions, wholeVersion: whole ? at : prev.wholeVersion, objectVersion: at };
  }
}
