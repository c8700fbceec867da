// The projection store in memory: one write-once slot per epoch, the first
// proposal wins and every later one (even an identical one) gets
// `accepted: false` and the winner — the semantics of src/layout/store.ts.
// The simulator calls the synchronous methods (after a simulated delay); the
// async ProjectionStore interface is implemented on top of them.

import { parseProjection } from '../../src/layout/projection.js';
import type { Projection } from '../../src/layout/projection.js';
import type { ProjectionStore, ProposeResult } from '../../src/layout/store.js';
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
