// What a server (storage unit, sequencer) allows one peer to hold, shared by
// both TCP drivers. docs/protocol.md, "Server limits", is the contract.
//
// - MAX_CONNECTIONS: open connections at once. One more is closed as soon as it
//   is accepted (nothing is sent: there is no request to answer); the
//   listener and every other connection are untouched. Kept well below the
//   file-descriptor limit so the process never runs out of descriptors.
// - FRAME_TIMEOUT_MS: once the first byte of a frame has arrived, the whole
//   frame must arrive within this time, or the connection is closed (a
//   slowloris peer, or a length field that promises bytes never sent). Time
//   the server itself is not reading (backpressure) does not count, and every
//   whole frame starts the clock again, so a busy stream of large frames is
//   never cut.
// - Idle connections (no partial frame) are kept: a pooled client is idle
//   for long stretches, and closing it races its next request. TCP keepalive
//   (KEEPALIVE_DELAY_MS) reclaims connections whose peer vanished.

import type { Server, Socket } from 'node:net';

import { CorfuError } from '../../bindings/errors.js';

/** Default cap on open connections per server. */
export const MAX_CONNECTIONS = 1024;

/** Default time for one frame to arrive whole, from its first byte. */
export const FRAME_TIMEOUT_MS = 10_000;

/** TCP keepalive probes start after this much silence. */
export const KEEPALIVE_DELAY_MS = 60_000;

export interface ServerLimitOptions {
  /** Open connections at once; one more is closed on accept. Default MAX_CONNECTIONS. */
  readonly maxConnections?: number;
  /** A frame must arrive whole within this many ms of its first byte. Default FRAME_TIMEOUT_MS. */
  readonly frameTimeoutMs?: number;
}

export interface ServerLimits {
  readonly maxConnections: number;
  readonly frameTimeoutMs: number;
}

export function serverLimits(options: ServerLimitOptions): ServerLimits {
  const positive = (value: number | undefined, fallback: number, what: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1) throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a positive integer, got ${value}`);
    return value;
  };
  return {
    maxConnections: positive(options.maxConnections, MAX_CONNECTIONS, 'maxConnections'),
    frameTimeoutMs: positive(options.frameTimeoutMs, FRAME_TIMEOUT_MS, 'frameTimeoutMs'),
  };
}

/**
 * Applies the connection cap to a listener. `onFull` is called once each time
 * the cap is reached (not once per refused connection), for a log line.
 */
export function capConnections(server: Server, maxConnections: number, onFull: () => void): void {
  server.maxConnections = maxConnections;
  let full = false;
  server.on('drop', () => {
    if (!full) onFull();
    full = true;
  });
  server.on('connection', (socket: Socket) => {
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    socket.once('close', () => {
      full = false;
    });
  });
}

/** The frame-timeout clock of one connection. */
export class FrameDeadline {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ms: number,
    readonly onExpire: () => void,
  ) {}

  /**
   * Call after each pass over the decoder. `partial`: the decoder holds bytes
   * of an unfinished frame and the socket is being read. `progressed`: at
   * least one whole frame was taken since the last call.
   */
  update(partial: boolean, progressed: boolean): void {
    if (!partial) {
      this.clear();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.onExpire, this.ms);
      this.#timer.unref();
    } else if (progressed) {
      this.#timer.refresh();
    }
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
