// A client connection to one server (unit or sequencer) over TCP, speaking the
// wire frames of src/wire. This is a driver: it owns the link and the timers,
// both injectable (a Dialer and a Clock) so the seeded simulator runs it too.
//
//   const conn = new Connection({ host: '127.0.0.1', port: 7000 });
//   const res = await conn.request({ type: 'request', op: 'TAIL', epoch: 1 });
//   await conn.close();
//
// - The link is opened on demand: by the first call, and again by the first
//   call after it dropped. An idle connection to a dead server costs nothing.
// - Every request gets a fresh request id; many are in flight at once and each
//   response is matched to its request by id (pipelining).
// - At most `maxInFlight` requests are on the wire. Further calls wait in a
//   FIFO queue; a call that would make more than `maxInFlight + maxQueued`
//   outstanding fails at once with ERR_OVERLOADED (backpressure, not an
//   unbounded queue).
// - Each call has a deadline (`timeoutMs`, counted from the call, queueing
//   included). A call that misses it fails with ERR_UNAVAILABLE; a late answer
//   to it is dropped.
// - Failing fast: a connect that is refused, reset or not completed within
//   `connectTimeoutMs` fails every waiting call at once with ERR_UNAVAILABLE,
//   the connect error as its `cause` — refused is not a timeout. For a backoff
//   (`reconnectMinMs` doubling up to `reconnectMaxMs`) after each failed
//   connect, new calls fail the same way at once; the next call after it dials
//   again.
// - When an open link drops, the requests on it fail with ERR_UNAVAILABLE (they
//   may or may not have been executed: the caller decides whether to retry);
//   queued requests stay queued and a new connect starts at once.
// - Error *responses* (ERR_SEALED, ERR_WRITTEN, ...) are answers, not
//   failures: `request` resolves with them; `call` turns them into a thrown
//   CorfuError.
// - A frame from the server that does not decode, is not a response, or
//   answers with the wrong operation is a protocol error: the link is dropped
//   as above.
// - `close()` fails everything outstanding with ERR_CLOSED and releases the
//   link and every timer.

import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { tcpDialer, type Dialer, type Link } from './dialer.js';

import { CorfuError } from '../../bindings/errors.js';
import { FrameDecoder, encodeRequest } from '../wire/index.js';
import type { OkResponse, Request, Response } from '../wire/index.js';

/** A request without its id: the connection assigns one. */
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'requestId'> : never) : never;

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Requests on the wire at once. Default 256. */
  readonly maxInFlight?: number;
  /** Calls that may wait beyond the in-flight ones; one more fails at once with ERR_OVERLOADED. Default 4096. */
  readonly maxQueued?: number;
  /** Deadline of each call, from the call to its answer. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** The backoff after a first failed connect, during which calls fail at once. Default 50 ms. */
  readonly reconnectMinMs?: number;
  /** Cap of the doubling backoff. Default 2000 ms. */
  readonly reconnectMaxMs?: number;
  /** How long one connect attempt may take before it counts as failed. Default: `timeoutMs`. */
  readonly connectTimeoutMs?: number;
  /** How the connection reaches the server. Default: TCP. */
  readonly dialer?: Dialer;
  /** Time and timers. Default: the system clock. */
  readonly clock?: Clock;
}

export interface CallOptions {
  /** Overrides the connection's `timeoutMs` for this call. */
  readonly timeoutMs?: number;
}

/** idle: no link (none needed yet, or the last one dropped); backoff: a connect just failed, calls fail at once. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

interface Call {
  readonly body: RequestBody;
  readonly resolve: (response: Response) => void;
  readonly reject: (error: CorfuError) => void;
  timer: TimerHandle | undefined;
  /** Set once the call is on the wire. */
  requestId: number | undefined;
  done: boolean;
}

const MAX_REQUEST_ID = 0xffff_ffff;

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a positive integer, got ${value}`);
  return value;
}

/** The delay before reconnect attempt `attempt` (0-based): min * 2^attempt, capped. Pure. */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

export class Connection {
  readonly host: string;
  readonly port: number;
  readonly maxInFlight: number;
  readonly maxQueued: number;
  readonly timeoutMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly connectTimeoutMs: number;
  readonly #dialer: Dialer;
  readonly #clock: Clock;

  #state: ConnectionState = 'idle';
  #link: Link | undefined;
  /** Resolves once the current link reported onClose. */
  #linkClosed: Promise<void> = Promise.resolve();
  #connectTimer: TimerHandle | undefined;
  #decoder = new FrameDecoder();
  /** False after link.write returned false, until onDrain. */
  #writable = true;
  #nextId = 1;
  readonly #inFlight = new Map<number, Call>();
  /** FIFO of calls waiting for a slot (or for the link). Head index instead of shift(). */
  #queue: Call[] = [];
  #queueHead = 0;
  /** Calls in the queue that are still waiting (timed-out ones stay in the array until skipped). */
  #waiting = 0;
  /** Failed connects in a row: the backoff's exponent. */
  #attempt = 0;
  #backoffTimer: TimerHandle | undefined;
  /** Why the last connect failed: the cause of calls refused during the backoff. */
  #connectError: Error | undefined;
  #closed: Promise<void> | undefined;
  /** Connects made, for observers and tests. */
  #connects = 0;

  constructor(options: ConnectionOptions) {
    if (typeof options.host !== 'string' || options.host === '') throw new CorfuError('ERR_BAD_REQUEST', 'host must be a non-empty string');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new CorfuError('ERR_BAD_REQUEST', `port must be 1..65535, got ${options.port}`);
    }
    this.host = options.host;
    this.port = options.port;
    this.maxInFlight = positiveInt(options.maxInFlight, 256, 'maxInFlight');
    this.maxQueued = positiveInt(options.maxQueued, 4096, 'maxQueued');
    this.timeoutMs = positiveInt(options.timeoutMs, 5000, 'timeoutMs');
    this.reconnectMinMs = positiveInt(options.reconnectMinMs, 50, 'reconnectMinMs');
    this.reconnectMaxMs = Math.max(this.reconnectMinMs, positiveInt(options.reconnectMaxMs, 2000, 'reconnectMaxMs'));
    this.connectTimeoutMs = positiveInt(options.connectTimeoutMs, this.timeoutMs, 'connectTimeoutMs');
    this.#dialer = options.dialer ?? tcpDialer;
    this.#clock = options.clock ?? systemClock;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Requests on the wire now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#waiting;
  }

  /** How many times a link has been connected (1 after the first connect). */
  get connects(): number {
    return this.#connects;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Sends a request and resolves with its response, error responses included.
   * Rejects with ERR_OVERLOADED (queue full), ERR_UNAVAILABLE (no connection,
   * no answer in time, or the link dropped), ERR_CLOSED, or the encoder's
   * error for a request that cannot be framed.
   */
  request(body: RequestBody, options: CallOptions = {}): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      if (this.#state === 'closed') {
        reject(new CorfuError('ERR_CLOSED', `connection to ${this.address} is closed`));
        return;
      }
      if (this.#state === 'backoff') {
        reject(this.#unreachable(body.op));
        return;
      }
      if (this.#waiting + this.#inFlight.size >= this.maxInFlight + this.maxQueued) {
        reject(
          new CorfuError('ERR_OVERLOADED', `connection to ${this.address}: ${this.#inFlight.size} calls in flight and ${this.#waiting} waiting (at most ${this.maxInFlight} + ${this.maxQueued})`),
        );
        return;
      }
      const timeoutMs = positiveInt(options.timeoutMs, this.timeoutMs, 'timeoutMs');
      const call: Call = { body, resolve, reject, timer: undefined, requestId: undefined, done: false };
      call.timer = this.#clock.setTimeout(() => {
        const where = call.requestId === undefined ? 'waiting to be sent' : 'waiting for the answer';
        this.#fail(call, new CorfuError('ERR_UNAVAILABLE', `${body.op} to ${this.address}: no answer within ${timeoutMs} ms (${where})`));
      }, timeoutMs);
      if (this.#queue.length > 2 * this.maxQueued) this.#compact();
      this.#queue.push(call);
      this.#waiting++;
      if (this.#state === 'idle') this.#open();
      else this.#pump();
    });
  }

  /** Like `request`, but an error response rejects with its CorfuError (ERR_SEALED carries unitEpoch). */
  async call(body: RequestBody, options: CallOptions = {}): Promise<OkResponse> {
    return throwIfError(await this.request(body, options));
  }

  /** Fails everything outstanding with ERR_CLOSED, closes the link, stops reconnecting. Idempotent. */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#state = 'closed';
    if (this.#backoffTimer !== undefined) this.#clock.clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
    this.#clearConnectTimer();
    const error = (): CorfuError => new CorfuError('ERR_CLOSED', `connection to ${this.address} was closed`);
    for (const call of [...this.#inFlight.values()]) this.#fail(call, error());
    this.#failQueued(error);
    const link = this.#link;
    this.#link = undefined;
    link?.destroy();
    this.#closed = this.#linkClosed;
    return this.#closed;
  }

  // ---- the link -------------------------------------------------------------

  #open(): void {
    this.#state = 'connecting';
    this.#decoder = new FrameDecoder();
    this.#writable = true;
    let closed!: () => void;
    this.#linkClosed = new Promise<void>((resolve) => (closed = resolve));
    const link: Link = this.#dialer.dial(this.host, this.port, {
      onConnect: () => {
        if (this.#link !== link) return;
        this.#clearConnectTimer();
        this.#state = 'open';
        this.#attempt = 0;
        this.#connectError = undefined;
        this.#connects++;
        this.#pump();
      },
      onData: (chunk) => {
        if (this.#link === link) this.#onData(chunk);
      },
      onDrain: () => {
        if (this.#link !== link) return;
        this.#writable = true;
        this.#pump();
      },
      onClose: (err) => {
        closed();
        if (this.#link !== link) return;
        if (this.#state === 'connecting') this.#connectFailed(err ?? new Error(`connection to ${this.address} closed before it opened`));
        else this.#dropped(`connection to ${this.address} lost${err === undefined ? '' : `: ${err.message}`}`, err);
      },
    });
    this.#link = link;
    this.#connectTimer = this.#clock.setTimeout(() => {
      this.#connectTimer = undefined;
      if (this.#link === link && this.#state === 'connecting') this.#connectFailed(new Error(`connect to ${this.address} timed out after ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer !== undefined) this.#clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
  }

  /** Why a call cannot be sent now: the last connect failed. */
  #unreachable(op: string): CorfuError {
    const why = this.#connectError?.message ?? 'no connection';
    // A refusal of the credentials (auth.ts, tls.ts) stays what it is: resending cannot fix it.
    const code = this.#connectError instanceof CorfuError && this.#connectError.code === 'ERR_UNAUTHORIZED' ? 'ERR_UNAUTHORIZED' : 'ERR_UNAVAILABLE';
    return new CorfuError(code, `${op} to ${this.address}: cannot connect (${why})`, { cause: this.#connectError });
  }

  /** A connect was refused, reset or timed out: fail what waits, back off. */
  #connectFailed(err: Error): void {
    const link = this.#link;
    this.#link = undefined;
    this.#clearConnectTimer();
    link?.destroy();
    this.#connectError = err;
    this.#failQueued(() => this.#unreachable('request'));
    this.#state = 'backoff';
    const delay = backoffDelayMs(this.#attempt, this.reconnectMinMs, this.reconnectMaxMs);
    this.#attempt++;
    this.#backoffTimer = this.#clock.setTimeout(() => {
      this.#backoffTimer = undefined;
      if (this.#state === 'backoff') this.#state = 'idle';
    }, delay);
  }

  /** An open link is gone (closed by the peer, an error, a protocol error): fail what was on it; reconnect if calls wait. */
  #dropped(reason: string, cause?: Error): void {
    const link = this.#link;
    this.#link = undefined;
    link?.destroy();
    for (const call of [...this.#inFlight.values()]) {
      this.#fail(call, new CorfuError('ERR_UNAVAILABLE', `${call.body.op} to ${this.address} failed: ${reason}`, { cause }));
    }
    if (this.#state === 'closed') return;
    this.#state = 'idle';
    if (this.#waiting > 0) this.#open();
  }

  #onData(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
    for (;;) {
      const r = this.#decoder.pull();
      if (r.kind === 'need') return;
      if (r.kind === 'error') {
        this.#dropped(`protocol error from ${this.address}: ${r.error.message}`);
        return;
      }
      const frame = r.frame;
      if (frame.type !== 'response') {
        this.#dropped(`protocol error from ${this.address}: a ${frame.op} request where a response was expected`);
        return;
      }
      const call = this.#inFlight.get(frame.requestId);
      if (call === undefined) continue; // a late answer to a call that timed out
      if (call.body.op !== frame.op) {
        this.#dropped(`protocol error from ${this.address}: request ${frame.requestId} was ${call.body.op}, answered as ${frame.op}`);
        return;
      }
      this.#settle(call);
      call.resolve(frame);
      if (this.#link === undefined) return; // a resolve handler closed us
    }
  }

  /** Sends queued calls while there are free slots and the link takes more. */
  #pump(): void {
    const link = this.#link;
    while (this.#state === 'open' && link !== undefined && this.#writable && this.#inFlight.size < this.maxInFlight && this.#queueHead < this.#queue.length) {
      const call = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead] = undefined as unknown as Call;
      this.#queueHead++;
      if (call.done) continue;
      this.#waiting--;
      const requestId = this.#freshId();
      call.requestId = requestId; // no longer waiting, whatever happens next
      let frame: Buffer;
      try {
        frame = encodeRequest({ ...call.body, requestId });
      } catch (err) {
        this.#fail(call, err instanceof CorfuError ? err : new CorfuError('ERR_BAD_REQUEST', String(err)));
        continue;
      }
      this.#inFlight.set(requestId, call);
      this.#writable = link.write(frame);
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) this.#compact();
  }

  /** Fails every call still waiting in the queue. */
  #failQueued(error: () => CorfuError): void {
    const queue = this.#queue;
    const head = this.#queueHead;
    this.#queue = [];
    this.#queueHead = 0;
    for (let i = head; i < queue.length; i++) this.#fail(queue[i]!, error());
    this.#waiting = 0;
  }

  /** Drops sent and timed-out calls from the queue array. */
  #compact(): void {
    const live: Call[] = [];
    for (let i = this.#queueHead; i < this.#queue.length; i++) {
      const call = this.#queue[i]!;
      if (!call.done) live.push(call);
    }
    this.#queue = live;
    this.#queueHead = 0;
  }

  #freshId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === MAX_REQUEST_ID ? 1 : id + 1;
      if (!this.#inFlight.has(id)) return id;
    }
  }

  /** Marks a call finished: clears its timer and frees its slot. */
  #settle(call: Call): void {
    if (call.requestId === undefined && !call.done) this.#waiting--;
    call.done = true;
    if (call.timer !== undefined) this.#clock.clearTimeout(call.timer);
    call.timer = undefined;
    if (call.requestId !== undefined && this.#inFlight.get(call.requestId) === call) {
      this.#inFlight.delete(call.requestId);
      queueMicrotask(() => this.#pump());
    }
  }

  #fail(call: Call, error: CorfuError): void {
    if (call.done) return;
    this.#settle(call);
    call.reject(error);
  }
}

/** The OK response, or the response's error as a thrown CorfuError (ERR_SEALED carries unitEpoch). */
export function throwIfError(response: Response): OkResponse {
  if (response.status === 'OK') return response;
  throw new CorfuError(response.status, response.message, response.status === 'ERR_SEALED' ? { unitEpoch: response.unitEpoch } : {});
}
