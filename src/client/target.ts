// Which chain a chain operation talks to: one log address under one
// projection, resolved through the pure address mapping of src/layout. Pure.

import { headOf, locate, type Projection } from '../layout/index.js';

/** One log address pinned to the chain (and epoch) that holds it. */
export interface ChainTarget {
  readonly address: number;
  /** The projection's epoch: every request of the operation carries it. */
  readonly epoch: number;
  /** Head first, tail last: writes, fills and trims walk all of it. */
  readonly chain: readonly string[];
  readonly head: string;
  /**
   * Where reads go: the chain's last whole replica — its tail, unless units
   * at the tail end are still being rebuilt (Stripe.rebuilding).
   */
  readonly tail: string;
}

/**
 * The chain holding `address` under `projection`. Throws
 * CorfuError('ERR_BAD_REQUEST') for an address outside every segment (as
 * `locate` does).
 */
export function chainTarget(projection: Projection, address: number): ChainTarget {
  const { chain, readFrom } = locate(projection, address);
  return { address, epoch: projection.epoch, chain, head: headOf(chain), tail: readFrom };
}
