// The projection store in memory: one write-once slot per epoch, the first
// proposal wins and every later one (even an identical one) gets
// `accepted: false` and the winner — the semantics of src/layout/store.ts.
// The simulator's own actors call the synchronous methods; simulated processes
// (clients, reconfigurations) reach it through a SimStoreView, with a delay.

import { parseProjection } from '../../src/layout/projection.js';
import type { Projection } from '../../src/layout/projection.js';
import type { ProjectionStore, ProposeResult } from '../../src/layout/store.js';
import type { Clock } from '../../src/transport/clock.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';

export class MemProjectionStore implements ProjectionStore {
  readonly #slots = new Map<number, Projection>();
  #latest: Projection | undefined;
  readonly #bugs: Bugs;
  readonly #check: Checkers;
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
    if (this.#latest === undefined || p.epoch >= this.#latest.epoch) this.#latest = p;
    this.#check.projection(p, 'store.propose (accepted)');
    return { accepted: true, winner: p };
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

  async close(): Promise<void> {}
}
