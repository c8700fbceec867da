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

/** What every addon front object has. */
export interface AddonFront {
  readonly host: string;
  readonly port: number;
  connections(): number;
  closeConnection(conn: number): void;
  stop(graceMs: number): void;
}

/**
 * Starts an addon front with `start(onEvent)`, its events going to `handler` (`extra`:
 * the front's own kinds). `stopped` resolves once its loop has ended. A failed bind
 * throws FrontBindError.
 */
export function startFront<F extends AddonFront>(
  name: string,
  handler: FrontEvents,
  extra: Readonly<Record<string, (e: NativeFrontEvent) => void>>,
  start: (onEvent: (e: NativeFrontEvent) => void) => F,
): { front: F; stopped: Promise<void> } {
  let onStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (onStopped = resolve));
  const front = bindFront(() => start(frontEvents(name, handler, onStopped, extra)));
  return { front, stopped };
}

/** A started front, as its server sees it: its address, its connections, its stop. */
export class NativeFrontBase<F extends AddonFront> {
  protected readonly front: F;
  /** Resolves when the front's loop has ended. */
  readonly stopped: Promise<void>;
  #stopping = false;

  protected constructor(started: { front: F; stopped: Promise<void> }) {
    this.front = started.front;
    this.stopped = started.stopped;
  }

  get host(): string {
    return this.front.host;
  }

  get port(): number {
    return this.front.port;
  }

  get connections(): number {
    return this.front.connections();
  }

  closeConnection(conn: number): void {
    this.front.closeConnection(conn);
  }

  /**
   * Stops accepting; each connection gets every answer it is owed, then a FIN; those
   * still open after `graceMs` are cut. Idempotent; resolves when the loop has ended.
   */
  stop(graceMs: number): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.front.stop(graceMs);
    }
    return this.stopped;
  }
}

/**
 * The addon's event callback for `handler`; `extra` takes the front's own kinds (the
 * sequencer's "tail", the unit's "notice"). `stopped` is called once the loop has ended.
 */
function frontEvents(name: string, handler: FrontEvents, stopped: () => void, extra: Readonly<Record<string, (e: NativeFrontEvent) => void>> = {}): (e: NativeFrontEvent) => void {
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
