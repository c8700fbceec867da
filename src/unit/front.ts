// A storage unit's native front (native/engine/src/front + unit_front.rs): the addon's
// TCP loop, which reads every connection on its own thread, queues each WRITE straight
// to the store's I/O thread (each READ to its read service) and sends the answer that
// thread encodes, and hands every other frame, whole, to this process's JS thread. This module wraps the addon object:
// it starts it over a Store and turns its events into calls on a handler.
//
// The server (server.ts) uses it when nothing needs Node's sockets: no TLS, no
// authentication, and an engine that is a Store (a simulator's engine is not).
// docs/architecture.md, "The native fronts", says why and what it measured.

import type { NativeFrontEvent, NativeUnitFrontInstance, NativeUnitFrontMetrics } from '../../bindings/native-types.js';
import type { Store } from '../../bindings/store.js';
import { NativeFrontBase, startFront, type FrontEvents } from '../transport/native-front.js';

export interface UnitFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly frameTimeoutMs: number;
  readonly maxBufferedBytes: number;
  readonly keepaliveIdleS: number;
  readonly maxInFlightPerConnection: number;
  /** The WRITE latency histogram's bounds (seconds, ascending) the front counts into. */
  readonly latencyBoundsSeconds: readonly number[];
}

/**
 * What the front reports, on the JS thread. A `frame` event carries one or more whole
 * frames; the connection is not read until `resume` (they all decoded) or `closeConnection`,
 * and owes each its answer until `reply`.
 */
export interface UnitFrontHandler extends FrontEvents {
  /** A WRITE or READ the front answered with a whole-request error: the answer's frame, for the log. */
  refused(conn: number, answer: Buffer): void;
}

export class NativeUnitFront extends NativeFrontBase<NativeUnitFrontInstance> {
  /** Binds and serves; a failed bind throws FrontBindError. */
  static start(store: Store, o: UnitFrontOptions, handler: UnitFrontHandler): NativeUnitFront {
    const notice = (e: NativeFrontEvent): void => handler.refused(e.conn, e.bytes ?? Buffer.alloc(0));
    return new NativeUnitFront(startFront('unit', handler, { notice }, (onEvent) => store.startFront({ ...o, latencyBoundsSeconds: [...o.latencyBoundsSeconds] }, onEvent)));
  }

  /** The answer to a frame the front handed over. */
  reply(conn: number, bytes: Buffer): void {
    this.front.reply(conn, bytes);
  }

  /** The frames of a `frame` event all decoded: read the connection again. */
  resume(conn: number): void {
    this.front.resume(conn);
  }

  /** The WRITEs and READs the front answered since it started (counts, errors, latency buckets). */
  metrics(): NativeUnitFrontMetrics {
    return this.front.metrics();
  }
}
