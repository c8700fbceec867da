// The sequencer's native front (native/engine/src/seq_front): the addon's TCP loop,
// which answers TOKEN on its own thread and hands every other frame, whole, to this
// process's JS thread. This module wraps the addon object: it starts it, turns its
// events into calls on a handler, and is the state machine's TokenSource (the front's
// gate holds the epoch and the counter, so a TOKEN it answers and a STREAM_TOKEN the
// state machine answers take from the same counter).
//
// The server (server.ts) uses it when nothing needs Node's sockets: no TLS, no
// authentication, no injected TokenSource. docs/architecture.md, "The sequencer's
// native front", says why and what it measured.

import { loadNative } from '../../bindings/native.js';
import type { NativeSequencerFrontInstance } from '../../bindings/native-types.js';
import { NativeFrontBase, startFront, type FrontEvents } from '../transport/native-front.js';
import { MAX_TOKENS_PER_REQUEST } from '../wire/messages.js';
import type { TokenSource } from './state.js';

export interface FrontOptions {
  readonly host: string;
  readonly port: number;
  readonly epoch: number;
  readonly startTail: number;
  readonly maxConnections: number;
  readonly frameTimeoutMs: number;
  readonly maxBufferedBytes: number;
  readonly keepaliveIdleS: number;
}

export { FrontBindError } from '../transport/native-front.js';

/** What the front reports, on the JS thread. A frame's connection waits for `reply(conn, …, true)`. */
export interface FrontHandler extends FrontEvents {
  /** TOKENs moved the tail while waiters were set. */
  tailMoved(): void;
}

export class NativeFront extends NativeFrontBase<NativeSequencerFrontInstance> implements TokenSource {
  static start(o: FrontOptions, handler: FrontHandler): NativeFront {
    return new NativeFront(
      startFront('sequencer', handler, { tail: () => handler.tailMoved() }, (onEvent) => loadNative().SequencerFront.start({ ...o, maxTokensPerRequest: MAX_TOKENS_PER_REQUEST }, onEvent)),
    );
  }

  /** TOKEN requests the front answered itself. */
  get answered(): number {
    return this.front.answered();
  }

  /** Tokens those requests handed out. */
  get tokens(): number {
    return this.front.tokens();
  }

  /** Sends `bytes` on `conn`; `resume` once the frame it holds is answered (or parked). */
  reply(conn: number, bytes: Buffer, resume: boolean): void {
    this.front.reply(conn, bytes, resume);
  }

  setWaiters(any: boolean): void {
    this.front.setWaiters(any);
  }

  tailSeen(): void {
    this.front.tailSeen();
  }

  /** Around an epoch change: no TOKEN is answered by the front in between. */
  closeEpoch(): void {
    this.front.closeEpoch();
  }

  openEpoch(epoch: number): void {
    this.front.openEpoch(epoch);
  }

  next(n: number): number {
    return this.front.next(n);
  }

  peek(): number {
    return this.front.peek();
  }

  reset(start: number): void {
    this.front.reset(start);
  }
}
