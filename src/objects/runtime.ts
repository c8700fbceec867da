// CorfuRuntime: replicated objects whose state is their stream (docs/objects.md).
//
//   const rt = await CorfuRuntime.connect({ layout: 'file:.corfu/layout' });
//   const accounts = rt.map<number>('accounts');
//   await accounts.put('alice', 100);
//   await rt.transaction(async (tx) => {
//     const a = (await tx.get(accounts, 'alice')) ?? 0;
//     tx.put(accounts, 'alice', a - 10);
//     tx.put(accounts, 'bob', ((await tx.get(accounts, 'bob')) ?? 0) + 10);
//   });
//
// Above the client: it uses CorfuClient's public API only (appendTo, stream, tail).
// One runtime keeps one view per object name (view.ts), shared by every handle to it,
// and one decision per commit address (decide.ts), shared by every view that replays
// that commit.

import { CorfuError } from '../../bindings/errors.js';
import type { CallOptions } from '../client/budget.js';
import { CorfuClient, type ConnectOptions } from '../client/client.js';
import { decide } from './decide.js';
import { loadCheckpoint, writeCheckpoint, type WrittenCheckpoint } from './checkpoint.js';
import { CorfuCounter, CorfuMap, CorfuObject, type ObjectHandle } from './handles.js';
import { KvStore } from './kv.js';
import type { CommitRecord } from './records.js';
import { Transaction, type TransactionOptions } from './transaction.js';
import { counterType, customType, mapType, type Codec, type MapUpdate, type ObjectDefinition, type ObjectType } from './types.js';
import { DEFAULT_RETAINED_SNAPSHOTS, ObjectView, versionOf, type Decision, type Snapshot, type ViewHost } from './view.js';

/** The runtime's own options (RuntimeOptions without the client's): also for CorfuRuntime.wrap. */
export interface RuntimeSettings {
  /** Snapshots each object's view keeps for reads in the past (default 10,000). */
  readonly retainSnapshots?: number;
  /**
   * Compaction policy: when the fullest unit holds more than this many bytes, checkpoint
   * every object this runtime opened and trim the log below them (compact()). Looked at
   * after this runtime's writes, at most once per `compactCheckMs`. Off by default: the
   * trim takes everything else below the checkpoints too.
   */
  readonly compactAboveBytes?: number;
  /** Default 1000 ms. */
  readonly compactCheckMs?: number;
  /**
   * Told of every decision this runtime reaches on a commit record (each time it decides
   * one: a decision dropped from its cache is decided again). For observers and tests:
   * every runtime must reach the same decision on the same record.
   */
  readonly onDecision?: (address: number, record: CommitRecord, decision: Decision) => void;
}

export interface RuntimeOptions extends ConnectOptions, RuntimeSettings {}

/** The stream an object's updates go to. */
export function objectStream(name: string): string {
  return `corfu.object.${name}`;
}

/** Decisions kept for commits already replayed; older ones are decided again if asked (deterministic). */
const MAX_DECISIONS = 100_000;

export class CorfuRuntime {
  readonly client: CorfuClient;
  readonly #retain: number;
  readonly #views = new Map<string, ObjectView<unknown, unknown>>();
  readonly #decisions = new Map<number, Promise<Decision>>();
  /** Counters for tests and observers. */
  readonly stats = { replayed: 0, decided: 0, committed: 0, aborted: 0, rebuilds: 0, checkpointsWritten: 0, checkpointsLoaded: 0, compactions: 0 };
  /** The last failure of an automatic compaction (it is tried again at the next check). */
  lastCompactionError: unknown;
  readonly #compactAbove: number | undefined;
  readonly #compactCheckMs: number;
  #lastCheck = -Infinity;
  #compacting: Promise<void> | undefined;
  readonly #onDecision: RuntimeSettings['onDecision'];
  readonly #host: ViewHost = {
    decide: (address, record) => this.#decide(address, record),
    replayed: (n) => {
      this.stats.replayed += n;
    },
    loadCheckpoint: async (name, type, options, atMost) => {
      const snap = await this.loadCheckpointOf(name, type, options, atMost);
      if (snap !== undefined) this.stats.checkpointsLoaded++;
      return snap;
    },
    reader: (name) => this.client.stream(objectStream(name)),
    epoch: () => this.client.epoch,
  };

  private constructor(client: CorfuClient, retain: number, compactAbove: number | undefined, compactCheckMs: number, onDecision: RuntimeSettings['onDecision']) {
    this.client = client;
    this.#retain = retain;
    this.#compactAbove = compactAbove;
    this.#compactCheckMs = compactCheckMs;
    this.#onDecision = onDecision;
  }

  static async connect(options: RuntimeOptions): Promise<CorfuRuntime> {
    CorfuRuntime.#check(options);
    return CorfuRuntime.wrap(await CorfuClient.connect(options), options);
  }

  /**
   * A runtime over a client already connected (the deterministic simulator gives each
   * simulated process one client, test/sim/client.ts). close() closes the client.
   */
  static wrap(client: CorfuClient, settings: RuntimeSettings = {}): CorfuRuntime {
    const { retain, compactAboveBytes, compactCheckMs } = CorfuRuntime.#check(settings);
    if (settings.onDecision !== undefined && typeof settings.onDecision !== 'function') throw new CorfuError('ERR_BAD_REQUEST', 'onDecision must be a function');
    return new CorfuRuntime(client, retain, compactAboveBytes, compactCheckMs, settings.onDecision);
  }

  static #check(settings: RuntimeSettings): { retain: number; compactAboveBytes: number | undefined; compactCheckMs: number } {
    const retain = settings.retainSnapshots ?? DEFAULT_RETAINED_SNAPSHOTS;
    if (!Number.isSafeInteger(retain) || retain < 1) throw new CorfuError('ERR_BAD_REQUEST', `retainSnapshots must be a positive integer, got ${String(retain)}`);
    const { compactAboveBytes, compactCheckMs = 1000 } = settings;
    if (compactAboveBytes !== undefined && (!Number.isSafeInteger(compactAboveBytes) || compactAboveBytes < 1)) {
      throw new CorfuError('ERR_BAD_REQUEST', `compactAboveBytes must be a positive integer, got ${String(compactAboveBytes)}`);
    }
    if (!Number.isSafeInteger(compactCheckMs) || compactCheckMs < 0) throw new CorfuError('ERR_BAD_REQUEST', `compactCheckMs must be a non-negative integer, got ${String(compactCheckMs)}`);
    return { retain, compactAboveBytes, compactCheckMs };
  }

  /** @internal Called after each write of this runtime: runs the compaction policy. */
  wrote(): void {
    if (this.#compactAbove === undefined || this.#compacting !== undefined) return;
    const now = this.client.now();
    if (now - this.#lastCheck < this.#compactCheckMs) return;
    this.#lastCheck = now;
    const above = this.#compactAbove;
    this.#compacting = (async () => {
      try {
        const { usedBytes } = await this.client.usage();
        if (usedBytes > above) await this.compact();
      } catch (err) {
        this.lastCompactionError = err;
      } finally {
        this.#compacting = undefined;
      }
    })();
  }

  /** A replicated map with string keys; values go through the codec (JSON by default). */
  map<V>(name: string, options: { readonly codec?: Codec<MapUpdate<V>> } = {}): CorfuMap<V> {
    return new CorfuMap<V>(this, name, this.view(name, mapType<V>(options.codec)));
  }

  counter(name: string): CorfuCounter {
    return new CorfuCounter(this, name, this.view(name, counterType()));
  }

  /** An object of the caller's own type: its state is `initial()` with every update applied in log order. */
  object<S, U>(name: string, definition: ObjectDefinition<S, U>): CorfuObject<S, U> {
    return new CorfuObject<S, U>(this, name, this.view(name, customType(definition)));
  }

  /** A key-value store (a map with multi-key atomic puts and consistent multi-key reads). */
  kv<V>(name: string): KvStore<V> {
    return new KvStore<V>(this.map<V>(name));
  }

  /**
   * Runs `body` as one optimistic transaction across any objects (docs/objects.md):
   * its reads see one snapshot, its writes commit together or not at all. A conflict
   * throws ERR_CONFLICT naming what changed, after `retries` more attempts (default 0).
   */
  async transaction<T>(body: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const retries = options.retries ?? 0;
    if (!Number.isSafeInteger(retries) || retries < 0) throw new CorfuError('ERR_BAD_REQUEST', `retries must be a non-negative integer, got ${String(retries)}`);
    for (let attempt = 0; ; attempt++) {
      const tx = await Transaction.begin(this, options);
      try {
        // A read can meet a conflict too: its snapshot past the tail after a failover (view.ts).
        const result = await body(tx);
        await tx.commit();
        return result;
      } catch (err) {
        if (!(err instanceof CorfuError) || err.code !== 'ERR_CONFLICT' || attempt >= retries) throw err;
      }
    }
  }

  /**
   * Writes a checkpoint of the object (checkpoint.ts): its state and versions as of the
   * log's tail now. A runtime that opens it later starts there. Resolves with the
   * snapshot address it holds.
   */
  async checkpoint(object: ObjectHandle<unknown, unknown> | ObjectHandle<never, never>, options?: CallOptions): Promise<WrittenCheckpoint> {
    const handle = object as ObjectHandle<unknown, unknown>;
    if (handle.runtime !== this) throw new CorfuError('ERR_BAD_REQUEST', 'checkpoint takes an object of this runtime');
    // The state as of everything the sync played, not only as of the last entry that changed it: a
    // checkpoint at that older address would lose to a compaction's for the loader, below its trim
    // (the simulator's `checkpoint-at-last-change`).
    const through = await handle.view.sync(options);
    const snap = await this.snapshotAt(handle.view, through, options);
    const written = await writeCheckpoint(this.client, handle.name, handle.type, { ...snap, at: through }, options);
    this.stats.checkpointsWritten++;
    return written;
  }

  /**
   * Checkpoints every object at one snapshot address and trims the log below it
   * (docs/objects.md, "Compaction"). The objects are those given, by default every
   * object this runtime has opened: **whatever else the log holds below the snapshot is
   * trimmed too**, so run it from a runtime that opens every object of the log. Resolves
   * with the address everything below which was trimmed.
   */
  async compact(options: CallOptions & { readonly objects?: ReadonlyArray<ObjectHandle<never, never> | ObjectHandle<unknown, unknown>> } = {}): Promise<number> {
    const { objects, ...call } = options;
    const views = objects === undefined ? [...this.#views.values()].filter((v) => v.type !== undefined) : objects.map((h) => (h as ObjectHandle<unknown, unknown>).view);
    if (views.length === 0) throw new CorfuError('ERR_BAD_REQUEST', 'compact: no objects to checkpoint');
    // One snapshot for all: every object played through the same address.
    const snapshot = (await this.client.tail(call)) - 1;
    do await Promise.all(views.map((v) => v.playThrough(snapshot, call)));
    while (views.some((v) => !v.holds(snapshot)));
    const snaps = views.map((v) => v.snapshotAt(snapshot));
    for (const [i, v] of views.entries()) {
      const snap = snaps[i];
      if (snap === undefined) throw new CorfuError('ERR_TRIMMED', `compact: object ${v.name} keeps no snapshot at ${snapshot}`);
      await writeCheckpoint(this.client, v.name, v.type, { ...snap, at: snapshot }, call);
      this.stats.checkpointsWritten++;
    }
    // Everything at or below the snapshot is in the checkpoints; the markers and parts are above it.
    await this.client.prefixTrim(snapshot + 1, call);
    this.stats.compactions++;
    return snapshot + 1;
  }

  /** Closes the client (after a compaction in progress ends); views stop with it. */
  async close(): Promise<void> {
    await this.#compacting;
    await this.client.close();
  }

  // ---- for the handles and transactions (not part of the API) --------------------

  /** The view of `name`, typed as asked; one kind per name. */
  view<S, U>(name: string, type: ObjectType<S, U> | undefined): ObjectView<S, U> {
    if (typeof name !== 'string' || name === '') throw new CorfuError('ERR_BAD_REQUEST', `an object name must be a non-empty string, got ${JSON.stringify(name)}`);
    const existing = this.#views.get(name) as ObjectView<S, U> | undefined;
    if (existing !== undefined) {
      if (type === undefined || existing.type?.kind === type.kind) return existing;
      if (existing.type !== undefined) throw new CorfuError('ERR_BAD_REQUEST', `object ${name} is a ${existing.type.kind} in this runtime; it cannot be opened as a ${type.kind}`);
      // A view kept only for versions (to decide transactions): replay it again with the type.
    }
    const view = new ObjectView<S, U>(this.#host, name, type, this.#retain);
    this.#views.set(name, view as ObjectView<unknown, unknown>);
    return view;
  }

  /** The snapshot of `view` at `address` (replayed into a throwaway view when older than the view keeps). */
  async snapshotAt<S, U>(view: ObjectView<S, U>, address: number, options?: CallOptions): Promise<Snapshot<S>> {
    await view.playThrough(address, options);
    const kept = view.snapshotAt(address);
    if (kept !== undefined) return kept;
    this.stats.rebuilds++;
    // From the newest checkpoint at or below the address, if there is one, else from the stream's start.
    const fresh = new ObjectView<S, U>({ ...this.#host, loadCheckpoint: (n, t, o) => this.#host.loadCheckpoint(n, t, o, address) }, view.name, view.type, 1);
    await fresh.playThrough(address, options);
    return fresh.snapshotAt(address)!;
  }

  /** The decision on the commit record at `address`: the one every replaying client reaches. */
  decideAt(address: number, record: CommitRecord): Promise<Decision> {
    return this.#decide(address, record);
  }

  #decide(address: number, record: CommitRecord): Promise<Decision> {
    let decision = this.#decisions.get(address);
    if (decision === undefined) {
      decision = this.decideRecord(address, record);
      this.#decisions.set(address, decision);
      void decision.then(
        (d) => {
          this.stats.decided++;
          if (d.committed) this.stats.committed++;
          else this.stats.aborted++;
          this.#onDecision?.(address, record, d);
        },
        // A failed decision (the log unreachable) is not kept: the next replay asks again.
        () => this.#decisions.delete(address),
      );
      if (this.#decisions.size > MAX_DECISIONS) this.#decisions.delete(this.#decisions.keys().next().value!);
    }
    return decision;
  }

  // TypeScript-private rather than #private only so that the simulator can plant bugs in
  // them (test/sim/patches.ts); nothing else calls them.

  /** A fresh decision on the commit at `address` (decide.ts), from versions as of the entry below it. */
  private decideRecord(address: number, record: CommitRecord): Promise<Decision> {
    return decide(address, record, async (object, key, at) => versionOf(await this.snapshotAt(this.view(object, undefined), at), key));
  }

  /** The newest whole checkpoint of `name` (at or below `atMost`), as a snapshot (checkpoint.ts). */
  private loadCheckpointOf<S>(name: string, type: ObjectType<S, unknown> | undefined, options?: CallOptions, atMost?: number): Promise<Snapshot<S> | undefined> {
    return loadCheckpoint(this.client, name, type, options, atMost);
  }
}
