// What the simulated actors share: the clock, the network, the store, the
// checkers, the planted bugs, and the fault hooks the fault injector arms.

import type { Bugs } from './bugs.js';
import type { Checkers, TxChecks } from './checkers.js';
import type { History } from './history.js';
import type { Network } from './network.js';
import type { EventQueue } from './queue.js';
import type { MemProjectionStore } from './store.js';

/** The simulated clients' options (CorfuClient's ConnectOptions), in virtual ms. */
export interface ClientTimings {
  /** Deadline of a whole call. */
  readonly deadlineMs: number;
  /** The longest wait for one answer (the transport's timeout). */
  readonly timeoutMs: number;
  readonly holeTimeoutMs: number;
  readonly maxRefreshes: number;
  readonly refreshDelayMs: number;
}

export interface World {
  readonly queue: EventQueue;
  readonly net: Network;
  readonly store: MemProjectionStore;
  readonly check: Checkers;
  /** The transaction checks (transaction seeds; idle elsewhere). */
  readonly tx: TxChecks;
  readonly bugs: Bugs;
  readonly history: History;
  readonly timings: ClientTimings;
  /** The clients' streamRecoveryRange (addresses per STREAM_SEED) this seed. */
  readonly streamRecoveryRange: number;
  /** Whether clients' single appends take the product's append path (append-path.ts) this seed. */
  readonly nativeAppends: boolean;
  /** Clients armed to crash right after a token / instead of writing below the head. */
  readonly armedAfterToken: ReadonlySet<string>;
  readonly armedMidChain: ReadonlySet<string>;
  /** Client code was started outside a runtime's own events: let its promises run before the next event (run.ts). */
  wake(): void;
  /** A simulated round trip to the projection store, ms. */
  storeDelay(): number;
  /** Fault hook: crash `client` now (it was handed a token)? Disarms it. */
  crashAfterToken(client: string): boolean;
  /** Fault hook: crash `client` now (it is about to write below the head)? Disarms it. */
  crashMidChain(client: string): boolean;
}
