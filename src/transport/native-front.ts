// What the servers' native fronts (the addon's TCP loops: native/engine/src/front) share
// on the JS side: the bind error, and the events turned into calls on a handler. The
// sequencer's (src/sequencer/front.ts) and the storage unit's (src/unit/front.ts)
// wrappers are built on these.

import { invariant } from '../../bindings/invariant.js';
import type { NativeFrontEvent } from '../../bindings/native-types.js';

/** The bind failed: `code` is the errno's name (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
export class FrontBindError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'FrontBindError';
  }
}

/** Starts a front; the addon's bind error (its message starts with the errno's name) becomes a FrontBindError. */
export function bindFront<T>(start: () => T): T {
  try {
    return start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = /^(E[A-Z]+):/.exec(message)?.[1] ?? 'EIO';
    throw new FrontBindError(message, code);
  }
}

/** What every front reports, on the JS thread. */
export interface FrontEvents {
  opened(conn: number, remote: string): void;
  /** A whole frame the front does not answer; the connection owes its answer until replied. */
  frame(conn: number, bytes: Buffer): void;
  /** `why`: the front closed it (a protocol error, a frame too slow). */
  closed(conn: number, why: string | undefined): void;
  /** The connection cap was reached. */
  full(): void;
}

/**
 * The addon's event callback for `handler`; `extra` takes the front's own kinds (the
 * sequencer's "tail", the unit's "notice"). `stopped` is called once the loop has ended.
 */
export function frontEvents(name: string, handler: FrontEvents, stopped: () => void, extra: Readonly<Record<string, (e: NativeFrontEvent) => void>> = {}): (e: NativeFrontEvent) => void {
  return (e) => {
    switch (e.kind) {
      case 'frame':
        handler.frame(e.conn, e.bytes ?? Buffer.alloc(0));
        return;
      case 'opened':
        handler.opened(e.conn, e.text ?? '?');
        return;
      case 'closed':
        handler.closed(e.conn, e.text);
        return;
      case 'full':
        handler.full();
        return;
      case 'stopped':
        stopped();
        return;
      default: {
        const own = extra[e.kind];
        invariant(own !== undefined, () => `the ${name}'s native front sent an unknown event ${e.kind}`);
        own(e);
      }
    }
  };
}
