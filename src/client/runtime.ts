// What a CorfuClient needs from the world besides its projection store: a
// clock with timers, a way to reach servers, and "later in this turn". The
// default is Node's; the seeded simulator (test/sim) passes its own, so the
// simulator runs this same client — resends, refreshes, token coalescing,
// per-unit batching, the hole timer — on virtual time.

import { systemClock, type Clock } from '../transport/clock.js';
import { tcpDialer, type Dialer } from '../transport/dialer.js';
import type { AppendPath } from './append-path.js';
import { NativeAppends } from './native-appends.js';

export interface ClientRuntime {
  readonly clock: Clock;
  readonly dialer: Dialer;
  /**
   * Runs `fn` once the work already started in this turn is done (Node's
   * setImmediate): the chain operations woken by one answer reach their next
   * send through several awaits each, and one batch must catch them all.
   */
  defer(fn: () => void): void;
  /**
   * The append path for single appends (append-path.ts), asked once per client on its
   * first append; absent or undefined: every append takes the JS path. Node's: the
   * addon's thread, when the addon loads. A runtime with TLS or a token has none (the
   * native path dials plain TCP).
   */
  appendPath?(): AppendPath | undefined;
}

export const nodeRuntime: ClientRuntime = {
  clock: systemClock,
  dialer: tcpDialer,
  defer: (fn) => {
    setImmediate(fn);
  },
  appendPath: () => NativeAppends.shared(),
};
