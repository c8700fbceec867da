// What a CorfuClient needs from the world besides its projection store: a
// clock with timers, a way to reach servers, and "later in this turn". The
// default is Node's; the seeded simulator (test/sim) passes its own, so the
// simulator runs this same client — resends, refreshes, token coalescing,
// per-unit batching, the hole timer — on virtual time.

import { systemClock, type Clock } from '../transport/clock.js';
import { tcpDialer, type Dialer } from '../transport/dialer.js';

export interface ClientRuntime {
  readonly clock: Clock;
  readonly dialer: Dialer;
  /**
   * Runs `fn` once the work already started in this turn is done (Node's
   * setImmediate): the chain operations woken by one answer reach their next
   * send through several awaits each, and one batch must catch them all.
   */
  defer(fn: () => void): void;
}

export const nodeRuntime: ClientRuntime = {
  clock: systemClock,
  dialer: tcpDialer,
  defer: (fn) => {
    setImmediate(fn);
  },
};
