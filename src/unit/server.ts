// The storage unit's TCP driver: sockets in, `handleRequest` in the middle,
// the engine behind it. It owns the listener, the connections and shutdown.
//
// - One FrameDecoder per connection. Requests on a connection are pipelined:
//   each is handed to the engine as soon as it is decoded and answered by id
//   when it completes, in whatever order that is. The engine batches
//   concurrent writes from all connections into group commits on its own.
// - Backpressure: at most `maxInFlightPerConnection` requests of one
//   connection are with the engine, and no new one starts while more than
//   `maxBufferedBytes` of answers wait in the socket (a peer that does not
//   read them); at either bound the server stops reading that socket (frames
//   already received wait in the decoder) until it is below again.
// - A frame that does not decode, or a response frame sent to the unit: that
//   connection gets nothing more and is closed; the others are untouched.
// - Limits (src/transport/server-limits.ts, docs/protocol.md "Server limits"):
//   at most `maxConnections` connections (one more is closed on accept), and
//   a frame must arrive whole within `frameTimeoutMs` of its first byte.
// - The engine keeps a READ's answer within one frame (it defers the entries
//   that do not fit: docs/protocol.md, READ). An answer the encoder still
//   refuses (an engine without that budget) is sent as ERR_TOO_LARGE for that
//   request rather than crash the unit.
// - Security (src/transport/tls.ts, auth.ts): with `tls` the listener speaks only TLS;
//   with `auth` each connection has a role and a request it may not send is answered
//   ERR_UNAUTHORIZED before it reaches the engine. AUTH is answered here. Without
//   either, every peer is admin and a request pays one string comparison for it.
// - shutdown(): stop accepting, stop reading, let what is with the engine
//   finish and its answers be written, then close the connections. Closing
//   the engine is the caller's (the CLI closes the store after this). A peer
//   that never reads its answers would hold that up for ever: after
//   `graceMs` the connections still open are cut.
// - Logs (a Logger, no-op by default): connections opened and closed and
//   every error answered at debug (one line per request, with its id; never a
//   payload), the unusual errors (I/O, corruption, malformed requests) and
//   cut connections at warn, and each SEAL that moves the unit's epoch at info.
// - An observer (the admin listener's metrics) hears every answer with the
//   time the request took; without one no clock is read.

import type { Server, Socket } from 'node:net';
import { writeBatched } from '../transport/write-batched.js';

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import { FrameDeadline, type ServerLimitOptions, type ServerLimits, capConnections, serverLimits } from '../transport/server-limits.js';
import { ServerAuth, encodeAuthAnswer, refusal } from '../transport/auth.js';
import { type ServerCredentials, type ServerTlsOptions, checkServerTls, createListener, reloadListenerTls } from '../transport/tls.js';
import { FrameDecoder, encodeResponse, errorResponse } from '../wire/index.js';
import type { AuthRequest, Request, Response, Role } from '../wire/index.js';
import { noopLogger, type Logger } from '../log/logger.js';
import { handleRequest, type UnitEngine } from './handler.js';

/** Default bound on answers waiting in one connection's socket before it stops being read. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface UnitServerOptions extends ServerLimitOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port; `address()` says which. */
  readonly port: number;
  /** Requests of one connection with the engine at once. Default 256. */
  readonly maxInFlightPerConnection?: number;
  /** Bytes of answers waiting in one socket above which no new request of it starts. Default DEFAULT_MAX_BUFFERED_BYTES. */
  readonly maxBufferedBytes?: number;
  /** Where connections, errors answered and seals are reported; default: nowhere. */
  readonly logger?: Logger;
  /** Listen with TLS (only TLS). */
  readonly tls?: ServerTlsOptions;
  /** Who may send what; default: every peer is admin. */
  readonly auth?: ServerAuth;
  /** Hears every answer sent (metrics). */
  readonly observer?: UnitObserver;
}

/** Hears what the unit answers; called on the hot path, so it must be cheap. */
export interface UnitObserver {
  /** `seconds`: from the request's decoding to its answer. */
  answered(req: Request, res: Response, seconds: number): void;
}

/** How long shutdown() waits for a connection's answers to drain before it cuts it, by default. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

/**
 * Errors a unit answers in normal operation (a reconfiguration, a read racing a write, a
 * full answer frame): debug. Any other whole-request error is worth an operator's look.
 */
const ROUTINE_ERRORS: ReadonlySet<string> = new Set(['ERR_SEALED', 'ERR_WRITTEN', 'ERR_UNWRITTEN', 'ERR_TRIMMED', 'ERR_OVERLOADED']);

class UnitConnection {
  readonly decoder = new FrameDecoder();
  inFlight = 0;
  paused = false;
  /** A 'drain' listener is waiting to resume reading. */
  awaitingDrain = false;
  /** No more requests are started (shutdown, or the connection is dead). */
  stopped = false;
  dead = false;
  readonly idle: Array<() => void> = [];

  constructor(
    readonly socket: Socket,
    readonly name: string,
    readonly deadline: FrameDeadline,
    /** Undefined: not authenticated yet. */
    public role: Role | undefined,
  ) {}
}

export class UnitServer {
  readonly #engine: UnitEngine;
  readonly #server: Server;
  readonly #maxInFlight: number;
  readonly #maxBuffered: number;
  readonly #limits: ServerLimits;
  readonly #log: Logger;
  /** Per-request lines are built only when someone reads them. */
  readonly #debug: boolean;
  readonly #auth: ServerAuth;
  readonly #connections = new Set<UnitConnection>();
  readonly #observer: UnitObserver | undefined;
  /** The TLS options in force (a reload replaces them); undefined: plaintext. */
  #tls: ServerTlsOptions | undefined;
  #shutdown: Promise<void> | undefined;

  private constructor(engine: UnitEngine, options: UnitServerOptions, maxInFlight: number, maxBuffered: number, limits: ServerLimits, log: Logger) {
    this.#engine = engine;
    this.#observer = options.observer;
    this.#auth = options.auth ?? new ServerAuth();
    this.#tls = options.tls;
    this.#server = createListener(
      options.tls,
      limits.frameTimeoutMs,
      (socket) => this.#accept(socket),
      (err, remote) => log.warn({ remote }, `TLS handshake with ${remote} failed: ${err.message}`),
    );
    this.#maxInFlight = maxInFlight;
    this.#maxBuffered = maxBuffered;
    this.#limits = limits;
    this.#log = log;
    this.#debug = log.isLevelEnabled('debug');
  }

  /** Listens; a port in use (or any listen failure) rejects with ERR_IO and a one-line reason. */
  static async listen(engine: UnitEngine, options: UnitServerOptions): Promise<UnitServer> {
    const host = options.host ?? '127.0.0.1';
    const maxInFlight = options.maxInFlightPerConnection ?? 256;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new CorfuError('ERR_BAD_REQUEST', `maxInFlightPerConnection must be a positive integer, got ${maxInFlight}`);
    const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 1) throw new CorfuError('ERR_BAD_REQUEST', `maxBufferedBytes must be a positive integer, got ${maxBuffered}`);
    const limits = serverLimits(options);
    const log = options.logger ?? noopLogger;
    if (options.tls !== undefined) checkServerTls(options.tls);
    const unit = new UnitServer(engine, options, maxInFlight, maxBuffered, limits, log);
    const server = unit.#server;
    capConnections(server, limits.maxConnections, () => log.warn({ maxConnections: limits.maxConnections }, `${limits.maxConnections} connections open (the cap): closing new ones until one ends`));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
        reject(new CorfuError('ERR_IO', `cannot listen on ${host}:${options.port}: ${why}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host, port: options.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err: err.message }, `listener error: ${err.message}`));
    return unit;
  }

  /** Where the server listens (the actual port when 0 was asked for). */
  address(): { host: string; port: number } {
    const a = this.#server.address();
    invariant(a !== null && typeof a !== 'string', 'unit server: not listening on TCP');
    return { host: a.address, port: a.port };
  }

  get connections(): number {
    return this.#connections.size;
  }

  /**
   * A new certificate, key and CA for the connections from now on (`corfu unit` on
   * SIGHUP); those open keep theirs. A bad one is ERR_BAD_REQUEST and changes nothing,
   * and so is a server started without TLS.
   */
  reloadTls(next: ServerCredentials): void {
    this.#tls = reloadListenerTls(this.#server, this.#tls, next);
  }

  /**
   * Stops accepting, finishes what is in flight, answers it, closes every connection.
   * A connection whose answers have not drained within `graceMs` (a peer that does not
   * read) is cut. Idempotent.
   */
  shutdown(graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    this.#shutdown ??= this.#doShutdown(graceMs);
    return this.#shutdown;
  }

  async #doShutdown(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const open = [...this.#connections];
    let cut = 0;
    const grace = setTimeout(() => {
      for (const c of open) {
        if (c.socket.destroyed) continue;
        cut++;
        c.socket.destroy();
      }
      if (cut > 0) this.#log.warn({ connections: cut, graceMs }, `shutdown: ${cut} connection(s) still not drained after ${graceMs} ms: cut`);
    }, graceMs);
    grace.unref();
    await Promise.all(
      open.map(async (c) => {
        c.stopped = true;
        c.deadline.clear();
        c.socket.pause();
        if (c.inFlight > 0) await new Promise<void>((resolve) => c.idle.push(resolve));
        await new Promise<void>((resolve) => {
          if (c.socket.destroyed) {
            resolve();
            return;
          }
          c.socket.once('close', () => resolve());
          // end() flushes the answers already written; the peer's close (or
          // ours, after the flush) completes it.
          c.socket.end(() => c.socket.destroy());
        });
      }),
    );
    await closed;
    clearTimeout(grace);
  }

  #accept(socket: Socket): void {
    if (this.#shutdown !== undefined) {
      socket.destroy();
      return;
    }
    const name = `${socket.remoteAddress}:${socket.remotePort}`;
    const ms = this.#limits.frameTimeoutMs;
    const c: UnitConnection = new UnitConnection(socket, name, new FrameDeadline(ms, () => this.#kill(c, `no whole frame within ${ms} ms of its first byte`)), this.#auth.initialRole(socket));
    this.#connections.add(c);
    if (this.#debug) this.#log.debug({ conn: name }, 'connection opened');
    socket.on('data', (chunk: Buffer) => {
      if (c.stopped) return;
      c.decoder.push(chunk);
      this.#drain(c);
    });
    socket.on('error', () => {
      // 'close' follows; a peer that resets is not the unit's problem.
    });
    socket.on('close', () => {
      c.dead = true;
      c.stopped = true;
      c.deadline.clear();
      this.#connections.delete(c);
      if (this.#debug) this.#log.debug({ conn: c.name }, 'connection closed');
      if (c.inFlight === 0) this.#wakeIdle(c);
    });
  }

  /** Starts every whole request the decoder holds, up to the in-flight and buffered-answer bounds. */
  #drain(c: UnitConnection): void {
    let progressed = false;
    while (!c.stopped && c.inFlight < this.#maxInFlight && c.socket.writableLength <= this.#maxBuffered) {
      const r = c.decoder.pull();
      if (r.kind === 'need') {
        if (c.paused) {
          c.paused = false;
          c.socket.resume();
        }
        c.deadline.update(c.decoder.buffered > 0, progressed);
        return;
      }
      if (r.kind === 'error') {
        this.#kill(c, `protocol error: ${r.error.message}`);
        return;
      }
      if (r.frame.type !== 'request') {
        this.#kill(c, `protocol error: a ${r.frame.op} response sent to a unit`);
        return;
      }
      progressed = true;
      const req = r.frame;
      if (req.op === 'AUTH') {
        this.#authenticate(c, req);
        continue;
      }
      // An admin may send anything: the open server's path stops at this comparison.
      if (c.role !== 'admin') {
        const refused = refusal(c.role, req.op);
        if (refused !== undefined) {
          writeBatched(c.socket, encodeResponse(errorResponse(req.op, req.requestId, req.epoch, refused)));
          continue;
        }
      }
      this.#start(c, req);
    }
    // Not reading (a bound, or stopped): the time until it reads again is the server's, not the peer's.
    c.deadline.clear();
    if (c.stopped) return;
    if (!c.paused) {
      c.paused = true;
      c.socket.pause();
    }
    if (c.socket.writableLength > this.#maxBuffered && !c.awaitingDrain) {
      c.awaitingDrain = true;
      c.socket.once('drain', () => {
        c.awaitingDrain = false;
        this.#drain(c);
      });
    }
  }

  #start(c: UnitConnection, req: Request): void {
    c.inFlight++;
    const observer = this.#observer;
    const startedMs = observer === undefined ? 0 : performance.now();
    handleRequest(this.#engine, req).then(
      (response) => {
        c.inFlight--;
        observer?.answered(req, response, (performance.now() - startedMs) / 1000);
        if (response.status !== 'OK') this.#logError(c, req, response);
        else if (req.op === 'SEAL') this.#log.info({ epoch: req.newEpoch, conn: c.name, req: req.requestId }, `sealed to epoch ${req.newEpoch}`);
        if (!c.dead) writeBatched(c.socket, encodeAnswer(req, response));
        if (c.inFlight === 0) this.#wakeIdle(c);
        if (!c.stopped) this.#drain(c);
      },
      (err: unknown) => {
        // Not a CorfuError: the engine broke its contract. Crash loudly.
        queueMicrotask(() => {
          throw err;
        });
      },
    );
  }

  /** AUTH: the connection takes the role its token (or certificate) gives; a refused one is answered and closed. */
  #authenticate(c: UnitConnection, req: AuthRequest): void {
    const outcome = this.#auth.authenticate(c.role, req.token);
    writeBatched(c.socket, encodeAuthAnswer(req, outcome));
    if ('role' in outcome) {
      c.role = outcome.role;
      return;
    }
    this.#log.warn({ conn: c.name }, `closing connection from ${c.name}: AUTH refused (${outcome.refused.message})`);
    c.role = undefined;
    c.dead = true;
    c.stopped = true;
    c.socket.end();
  }

  #logError(c: UnitConnection, req: Request, response: Response): void {
    const routine = ROUTINE_ERRORS.has(response.status);
    if (routine && !this.#debug) return;
    const message = 'message' in response ? response.message : '';
    const fields = {
      conn: c.name,
      req: req.requestId,
      op: req.op,
      epoch: req.epoch,
      status: response.status,
      ...('unitEpoch' in response && response.status === 'ERR_SEALED' ? { unitEpoch: response.unitEpoch } : {}),
    };
    const line = `${req.op} answered ${response.status}${message === '' ? '' : `: ${message}`}`;
    if (routine) this.#log.debug(fields, line);
    else this.#log.warn(fields, line);
  }

  /** Sends nothing more on this connection and closes it; in-flight answers are dropped. */
  #kill(c: UnitConnection, reason: string): void {
    this.#log.warn({ conn: c.name }, `closing connection from ${c.name}: ${reason}`);
    c.dead = true;
    c.stopped = true;
    c.socket.destroy();
  }

  #wakeIdle(c: UnitConnection): void {
    for (const wake of c.idle.splice(0)) wake();
  }
}

/** The answer's frame; one the encoder refuses (over the frame cap) becomes that request's ERR_TOO_LARGE. */
function encodeAnswer(req: Request, response: Response): Buffer {
  try {
    return encodeResponse(response);
  } catch (err) {
    if (!(err instanceof CorfuError)) throw err;
    return encodeResponse(errorResponse(req.op, req.requestId, req.epoch, new CorfuError(err.code, `the answer cannot be sent (${err.message}); ask for fewer entries`)));
  }
}
