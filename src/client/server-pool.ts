// One connection (and one request batcher) per server per process, shared by
// every CorfuClient in the process that asks for the same settings — as an
// HTTP agent shares sockets. A service that opens several clients, or a
// benchmark running 16 of them, then sends each unit one vectored frame per
// event-loop turn instead of one per client: on loopback every frame costs the
// sender the receiver's TCP processing too, and that dominated the client's
// CPU (docs/benchmarks.md).
//
// Leases are counted; the connection closes when its last client releases it.
// A client that wants its own sockets passes `shareConnections: false`. A pool
// belongs to one runtime (runtime.ts): clients on another runtime (the
// simulator's) never share its connections.

import { splitHostPort } from '../transport/address.js';
import { Connection } from '../transport/connection.js';
import { nodeRuntime, type ClientRuntime } from './runtime.js';
import { UnitBatcher } from './unit-batcher.js';

/** A client's requests on the wire per server, and calls that may wait beyond them. */
export const DEFAULT_MAX_IN_FLIGHT = 256;
export const DEFAULT_MAX_QUEUED = 1 << 16;

export interface ServerSettings {
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  /** Calls that may wait for a free in-flight slot. */
  readonly maxQueued: number;
}

export interface Lease {
  /** The server and settings this connection is shared under. */
  readonly key: string;
  readonly connection: Connection;
  readonly batcher: UnitBatcher;
}

interface Entry extends Lease {
  leases: number;
}

/**
 * Reconnect backoff scaled to the request deadline: from 1% of it (at most
 * 50 ms) doubling up to half of it (at most 2 s), so a dropped server is
 * retried several times within one call's deadline whatever the deadline is.
 */
function reconnectDelays(timeoutMs: number): { reconnectMinMs: number; reconnectMaxMs: number } {
  const reconnectMinMs = Math.max(1, Math.min(50, Math.floor(timeoutMs / 100)));
  return { reconnectMinMs, reconnectMaxMs: Math.max(reconnectMinMs, Math.min(2000, Math.floor(timeoutMs / 2))) };
}

export class ServerPool {
  readonly #entries = new Map<string, Entry>();
  readonly #runtime: ClientRuntime;

  constructor(runtime: ClientRuntime = nodeRuntime) {
    this.#runtime = runtime;
  }

  /** The shared connection to `hostPort` under `settings`; release it with `release`. */
  acquire(hostPort: string, settings: ServerSettings): Lease {
    const key = `${hostPort}/${settings.timeoutMs}/${settings.maxInFlight}/${settings.maxQueued}`;
    let entry = this.#entries.get(key);
    if (entry === undefined || entry.connection.state === 'closed') {
      const runtime = this.#runtime;
      const connection = new Connection({ ...splitHostPort(hostPort), ...settings, ...reconnectDelays(settings.timeoutMs), clock: runtime.clock, dialer: runtime.dialer });
      entry = { key, connection, batcher: new UnitBatcher(connection, settings.timeoutMs, (fn) => runtime.defer(fn)), leases: 0 };
      this.#entries.set(key, entry);
    }
    entry.leases++;
    return entry;
  }

  /** Gives back one lease; the last one closes the connection. */
  async release(lease: Lease): Promise<void> {
    const entry = this.#entries.get(lease.key);
    // Gone, or replaced after its connection closed: this lease holds nothing here any more.
    if (entry === undefined || entry.connection !== lease.connection) return;
    if (--entry.leases > 0) return;
    this.#entries.delete(lease.key);
    await entry.connection.close();
  }
}

const pools = new WeakMap<ClientRuntime, ServerPool>();

/** The pool every client on `runtime` shares (one per process for Node's runtime). */
export function sharedPool(runtime: ClientRuntime): ServerPool {
  let pool = pools.get(runtime);
  if (pool === undefined) pools.set(runtime, (pool = new ServerPool(runtime)));
  return pool;
}
