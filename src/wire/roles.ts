// Which role may send each request: the one table both servers enforce
// (src/transport/auth.ts) and docs/protocol.md, "Roles", lists.
//
// `client` is what an application's CorfuClient (and CorfuRuntime) sends to append,
// read, fill holes, trim single entries, follow the log and keep streams: STREAM_SEED
// is a client's too, since the first client that meets ERR_RECOVERING after a
// failover rebuilds the sequencer's stream tails. `admin` is everything that moves
// the cluster's state for everyone: sealing a unit or the sequencer to a new epoch,
// bootstrapping the sequencer's counter, and PREFIX_TRIM, which discards the whole
// log below an address. An admin may send every request. AUTH is answered whatever
// the connection's role: it is how a connection gets one.

import type { Op } from './frame.js';
import type { Role } from './messages.js';

/** `open`: any peer, authenticated or not. */
export type OpRole = Role | 'open';

export const OP_ROLES: Readonly<Record<Op, OpRole>> = {
  AUTH: 'open',
  WRITE: 'client',
  READ: 'client',
  FILL: 'client',
  TRIM: 'client',
  TAIL: 'client',
  TOKEN: 'client',
  PING: 'client',
  INFO: 'client',
  WAIT_TAIL: 'client',
  STREAM_TOKEN: 'client',
  STREAM_TAILS: 'client',
  STREAM_SEED: 'client',
  PREFIX_TRIM: 'admin',
  SEAL: 'admin',
  BOOTSTRAP: 'admin',
};

/** Whether a connection with `role` (undefined: not authenticated) may send `op`. */
export function maySend(role: Role | undefined, op: Op): boolean {
  const needed = OP_ROLES[op];
  if (needed === 'open') return true;
  if (role === 'admin') return true;
  return role === 'client' && needed === 'client';
}
