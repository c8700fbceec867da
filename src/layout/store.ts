// The projection store: the sequence of projections, one write-once slot per
// epoch (DESIGN.md invariant 4, "One projection per epoch"). This is the
// CORFU paper's auxiliary; `file:DIR` is the embedded store, etcd comes later.

import type { Projection } from './projection.js';

export interface ProposeResult {
  /**
   * True only for the one call that filled the slot. Every later proposal
   * for the same epoch gets false — including an identical re-proposal (for
   * example a proposer retrying after a crash): compare `winner` with what
   * you proposed (`projectionsEqual`) to tell "mine won earlier" from "lost".
   */
  readonly accepted: boolean;
  /** The projection that holds the slot: the proposal itself when accepted. */
  readonly winner: Projection;
}

export interface ProjectionStore {
  /** The projection of `epoch`, or undefined when that slot is empty. */
  get(epoch: number): Promise<Projection | undefined>;
  /** The projection with the highest epoch, or undefined when the store is empty. */
  latest(): Promise<Projection | undefined>;
  /**
   * Proposes `projection` for slot `projection.epoch`; the first proposal
   * wins, atomically across processes. The proposal is validated first
   * (ERR_BAD_REQUEST). The store does not require epochs to be consecutive:
   * the caller proposes `latest().epoch + 1`.
   */
  propose(projection: Projection): Promise<ProposeResult>;
  /** Releases resources (connections); a no-op for the file store. */
  close(): Promise<void>;
}
