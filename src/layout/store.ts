// The projection store: the sequence of projections, one write-once slot per
// epoch (docs/design.md invariant 4, "One projection per epoch"). This is the
// CORFU paper's auxiliary. `file:DIR` is the embedded store (file-store.ts),
// `etcd://...` keeps the slots in etcd (etcd-store.ts); both pass one
// conformance suite (test/helpers/projection-store-suite.ts).

import { CorfuError } from '../../bindings/errors.js';
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
  /**
   * Reports new projections as they are proposed, without waiting for an
   * ERR_SEALED: first the latest one (if any), then every projection that
   * becomes the latest after it, each at least once and in epoch order (a
   * slot filled below an epoch already reported was never the latest and is
   * not reported). A caller ignores epochs it already has. Lost connections,
   * etcd compactions and restarts are handled inside: the store re-reads and
   * goes on. `onError` (optional) hears what could not be reported: a
   * corrupt slot (ERR_CORRUPT, then skipped), a store it cannot reach
   * (ERR_UNAVAILABLE, while it keeps trying). Returns the unsubscribe
   * function (idempotent); close() ends every watch of the store.
   */
  watch(onProjection: (projection: Projection) => void, onError?: WatchErrorHandler): () => void;
  /**
   * A status record beside the projections, last writer wins (not write-once): progress a
   * process reports for others to show (the manager's rebuild, for `corfu status`). Never
   * an input to a decision. `name` is lowercase letters and dashes; `value` is JSON.
   */
  putStatus(name: string, value: unknown): Promise<void>;
  /** The last status record put under `name`, or undefined. A damaged one is ERR_CORRUPT. */
  getStatus(name: string): Promise<unknown>;
  /** Ends every watch and releases connections. Idempotent; later calls fail with ERR_CLOSED. */
  close(): Promise<void>;
}

/** Checks a status record's name (`putStatus`, `getStatus`): lowercase letters and dashes. */
export function checkStatusName(name: unknown): string {
  if (typeof name !== 'string' || !/^[a-z][a-z-]{0,63}$/.test(name)) {
    throw new CorfuError('ERR_BAD_REQUEST', `a status name is 1 to 64 lowercase letters and dashes, got ${JSON.stringify(name)}`);
  }
  return name;
}

export type WatchErrorHandler = (error: CorfuError) => void;
