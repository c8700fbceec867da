// What the simulated actors share: the clock, the network, the store, the
// checkers, the planted bugs, and the fault hooks the fault injector arms.

import type { UnitRequest } from '../../src/client/chain.js';
import type { ChainTarget } from '../../src/client/target.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';
import type { History } from './history.js';
import type { Network } from './network.js';
import type { EventQueue } from './queue.js';
import type { MemProjectionStore } from './store.js';

export interface ClientTimings {
  /** Deadline of one request (the transport's timeout). */
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
  readonly bugs: Bugs;
  readonly history: History;
  readonly timings: ClientTimings;
  nextRequestId(): number;
  storeDelay(): number;
  /** Fault hook: crash `client` right after it took a token? */
  crashAfterToken(client: string): boolean;
  /** Fault hook: crash `client` instead of sending this request to a replica below the head? */
  crashMidChain(client: string, req: UnitRequest, target: ChainTarget): boolean;
}
