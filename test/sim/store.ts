// The projection store in memory: one write-once slot per epoch, the first
// proposal wins and every later one (even an identical one) gets
// `accepted: false` and the winner — the semantics of src/layout/store.ts.
// The simulator's own actors call the synchronous methods; simulated processes
// (clients, reconfigurations) reach it through a SimStoreView, with a delay.
// watch: the store tells its watchers of each new latest projection at once;
// a view delivers them one after another, each after a simulated delay.

import { parseProjection } from '../../src/layout/projection.js';
import type { Projection } from '../../src/layout/projection.js';
import { checkStatusName, type ProjectionStore, type ProposeResult, type WatchErrorHandler } from '../../src/layout/store.js';
import { WatchCursor } from '../../src/layout/watch-cursor.js';
import type { Clock } from '../../src/transport/clock.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';

export class MemProjectionStore implements ProjectionStore {
  readonly #slots = new Map<number, Projection>();
  #latest: Projection | undefined;
  readonly #bugs: Bugs;
  readonly #check: Checkers;
  readonly #watchers = new Set<(projection: Projection) => void>();
  proposals = 0;

  constructor(bugs: Bugs, check: Checkers) {
    this.#bugs = bugs;
    this.#check = check;
  }

  getSync(epoch: number): Projection | undefined {
    const p = this.#slots.get(epoch);
    if (p !== undefined) this.#check.projection(p, 'store.get');
    return p;
  }

  latestSync(): Projection | undefined {
    if (this.#latest !== undefined) this.#check.projection(this.#latest, 'store.latest');
    return this.#latest;
  }

  /** Validates like the real stores (throws CorfuError ERR_BAD_REQUEST). */
  proposeSync(projection: Projection): ProposeResult {
    const p = parseProjection(projection);
    this.proposals++;
    const existing = this.#slots.get(p.epoch);
    if (existing !== undefined && !this.#bugs.has('store-accepts-second')) {
      this.#check.projection(existing, 'store.propose (winner)');
      return { accepted: false, winner: existing };
    }
    this.#slots.set(p.epoch, p);
    const newLatest = this.#latest === undefined || p.epoch >= this.#latest.epoch;
    if (newLatest) this.#latest = p;
    this.#check.projection(p, 'store.propose (accepted)');
    if (newLatest) for (const watcher of [...this.#watchers]) watcher(p);
    return { accepted: true, winner: p };
  }

  /** Calls `onProjection` with the latest projection now (if any), then with each new latest as it is proposed. */
  watchSync(onProjection: (projection: Projection) => void): () => void {
    this.#watchers.add(onProjection);
    if (this.#latest !== undefined) onProjection(this.#latest);
    return () => this.#watchers.delete(onProjection);
  }

  watch(onProjection: (projection: Projection) => void, onError?: WatchErrorHandler): () => void {
    const cursor = new WatchCursor(onProjection, onError);
    const unsubscribe = this.watchSync((p) => cursor.offer(p));
    return () => {
      cursor.stop();
      unsubscribe();
    };
  }

  async get(epoch: number): Promise<Projection | undefined> {
    return this.getSync(epoch);
  }

  async latest(): Promise<Projection | undefined> {
    return this.latestSync();
  }

  async propose(projection: Projection): Promise<ProposeResult> {
    return this.proposeSync(projection);
  }

  readonly #status = new Map<string, string>();

  statusSync(name: string): unknown {
    const text = this.#status.get(checkStatusName(name));
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  }

  putStatusSync(name: string, value: unknown): void {
    this.#status.set(checkStatusName(name), JSON.stringify(value));
  }

  async putStatus(name: string, value: unknown): Promise<void> {
    this.putStatusSync(name, value);
  }

  async getStatus(name: string): Promise<unknown> {
    return this.statusSync(name);
  }

  async close(): Promise<void> {}
}

/**
 * One process's view of the store: every call takes a simulated round trip on
 * that process's clock (a crashed process never gets its answer). `view`
 * rewrites what `latest` returns — the planted client bugs that keep a client
 * on an old layout (patches.ts).
 */
export class SimStoreView implements ProjectionStore {
  readonly #store: MemProjectionStore;
  readonly #clock: Clock;
  readonly #delay: () => number;
  readonly #view: ((latest: Projection | undefined) => Projection | undefined) | undefined;

  constructor(store: MemProjectionStore, clock: Clock, delay: () => number, view?: (latest: Projection | undefined) => Projection | undefined) {
    this.#store = store;
    this.#clock = clock;
    this.#delay = delay;
    this.#view = view;
  }

  #later<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#clock.setTimeout(() => {
        try {
          resolve(fn());
        } catch (err) {
          reject(err);
        }
      }, this.#delay());
    });
  }

  get(epoch: number): Promise<Projection | undefined> {
    return this.#later(() => this.#store.getSync(epoch));
  }

  latest(): Promise<Projection | undefined> {
    return this.#later(() => {
      const latest = this.#store.latestSync();
      return this.#view === undefined ? latest : this.#view(latest);
    });
  }

  propose(projection: Projection): Promise<ProposeResult> {
    return this.#later(() => this.#store.proposeSync(projection));
  }

  putStatus(name: string, value: unknown): Promise<void> {
    return this.#later(() => this.#store.putStatusSync(name, value));
  }

  getStatus(name: string): Promise<unknown> {
    return this.#later(() => this.#store.statusSync(name));
  }

  watch(onProjection: (projection: Projection) => void, onError?: WatchErrorHandler): () => void {
    const cursor = new WatchCursor(onProjection, onError);
    // In order, one simulated delay each; a bounded backlog keeps the newest.
    const backlog: Projection[] = [];
    let sending = false;
    const pump = (): void => {
      if (sending || cursor.stopped) return;
      const next = backlog.shift();
      if (next === undefined) return;
      sending = true;
      this.#clock.setTimeout(() => {
        sending = false;
        const seen = this.#view === undefined ? next : this.#view(next);
        if (seen !== undefined) cursor.offer(seen);
        pump();
      }, this.#delay());
    };
    const unsubscribe = this.#store.watchSync((p) => {
      if (backlog.length >= WATCH_BACKLOG) backlog.shift();
      backlog.push(p);
      pump();
    });
    return () => {
      cursor.stop();
      unsubscribe();
    };
  }

  async close(): Promise<void> {}
}

const WATCH_BACKLOG = 64;
