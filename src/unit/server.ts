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
// - Two loops can own the sockets. By default, over a Store without TLS or
//   authentication, the addon's native front (front.ts, native/engine/src/front
//   and unit_front.rs) reads them on its own thread: a WRITE goes from the socket
//   to the store's I/O thread (a READ to its read service) and its answer back
//   without JS, and every other frame comes here whole and is answered by the same
//   handleRequest. With TLS,
//   authentication, an engine without a Store (a simulator's) or `front:
//   'node'`, Node's net server reads them as described above. The limits, the
//   shutdown and the answers are the same (test/unit.front.test.ts).

import type { Server, Socket } from 'node:net';
import { writeBatched } from '../transport/write-batched.js';

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { NativeUnitFrontMetrics } from '../../bindings/native-types.js';
import { FrameDeadline, KEEPALIVE_DELAY_MS, type ServerLimitOptions, type ServerLimits, capConnections, serverLimits } from '../transport/server-limits.js';
import { ServerAuth, encodeAuthAnswer, refusal } from '../transport/auth.js';
import { type ServerCredentials, type ServerTlsOptions, checkServerTls, createListener, reloadListenerTls } from '../transport/tls.js';
import { FrameDecoder, decodeFrame, encodeResponse, errorResponse } from '../wire/index.js';
import { FrontBindError } from '../transport/native-front.js';
import type { AuthRequest, Request, Response, Role } from '../wire/index.js';
import { noopLogger, type Logger } from '../log/logger.js';
import { handleRequest, type UnitEngine } from './handler.js';
import { NativeUnitFront, type UnitFrontHandler } from './front.js';

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
  /**
   * Which loop reads the sockets: 'native' (default; the addon's front, WRITEs and READs
   * answered without JS) or 'node'. TLS, authentication or an engine without a Store take
   * 'node' whatever this says.
   */
  readonly front?: FrontKind;
}

/** Which loop a unit's sockets are read by (see UnitServerOptions.front). */
export type FrontKind = 'native' | 'node';

/** Hears what the unit answers; called on the hot path, so it must be cheap. */
export interface UnitObserver {
  /** `seconds`: from the request's decoding to its answer. */
  answered(req: Request, res: Response, seconds: number): void;
  /** The WRITE latency buckets (seconds) a native front counts into; default: the front counts none worth reading. */
  readonly latencyBoundsSeconds?: readonly number[];
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

/** A connection of the native front, as this side knows it. */
class FrontConnection {
  constructor(
    readonly name: string,
    public role: Role | undefined,
  ) {}
}

const U32_MAX = 0xffff_ffff;

export class UnitServer {
  readonly #engine: UnitEngine;
  /** Node's listener: undefined when the native front owns the sockets. */
  readonly #server: Server | undefined;
  readonly #front: NativeUnitFront | undefined;
  readonly #frontConnections = new Map<number, FrontConnection>();
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

  private constructor(engine: UnitEngine, options: UnitServerOptions, maxInFlight: number, maxBuffered: number, limits: ServerLimits, log: Logger, front: NativeUnitFront | undefined) {
    this.#engine = engine;
    this.#observer = options.observer;
    this.#auth = options.auth ?? new ServerAuth();
    this.#tls = options.tls;
    this.#front = front;
    this.#server =
      front !== undefined
        ? undefined
        : createListener(
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
    const listenError = (code: string | undefined, message: string, cause: unknown): CorfuError => {
      const why = code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EADDRNOTAVAIL' ? 'no such local address' : message;
      return new CorfuError('ERR_IO', `cannot listen on ${host}:${options.port}: ${why}`, { cause });
    };
    const store = engine.store;
    if (options.front !== 'node' && options.tls === undefined && options.auth?.enforced !== true && store !== undefined) {
      // Events come from the front's thread through the event loop: after start() returned.
      const late: { handler?: UnitFrontHandler } = {};
      let front: NativeUnitFront;
      try {
        front = NativeUnitFront.start(
          store,
          {
            host,
            port: options.port,
            // The front takes u32s: larger limits are as good as unlimited.
            maxConnections: Math.min(limits.maxConnections, U32_MAX),
            frameTimeoutMs: Math.min(limits.frameTimeoutMs, U32_MAX),
            maxBufferedBytes: Math.min(maxBuffered, U32_MAX),
            keepaliveIdleS: KEEPALIVE_DELAY_MS / 1000,
            maxInFlightPerConnection: Math.min(maxInFlight, U32_MAX),
            latencyBoundsSeconds: options.observer?.latencyBoundsSeconds ?? [],
          },
          {
            opened: (conn, remote) => late.handler?.opened(conn, remote),
            frame: (conn, bytes) => late.handler?.frame(conn, bytes),
            closed: (conn, why) => late.handler?.closed(conn, why),
            refused: (conn, answer) => late.handler?.refused(conn, answer),
            full: () => late.handler?.full(),
          },
        );
      } catch (err) {
        if (!(err instanceof FrontBindError)) throw err;
        throw listenError(err.code, err.message, err);
      }
      const unit = new UnitServer(engine, options, maxInFlight, maxBuffered, limits, log, front);
      late.handler = {
        opened: (conn, remote) => unit.#frontOpened(conn, remote),
        frame: (conn, bytes) => unit.#frontFrame(conn, bytes),
        closed: (conn, why) => unit.#frontClosed(conn, why),
        refused: (conn, answer) => unit.#frontRefused(conn, answer),
        full: () => unit.#logFull(),
      };
      return unit;
    }
    const unit = new UnitServer(engine, options, maxInFlight, maxBuffered, limits, log, undefined);
    const server = unit.#server;
    invariant(server !== undefined, 'a node-front unit without a listener');
    capConnections(server, limits.maxConnections, () => unit.#logFull());
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err.code, err.message, err));
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
    if (this.#front !== undefined) return { host: this.#front.host, port: this.#front.port };
    invariant(this.#server !== undefined, 'a node-front unit without a listener');
    const a = this.#server.address();
    invariant(a !== null && typeof a !== 'string', 'unit server: not listening on TCP');
    return { host: a.address, port: a.port };
  }

  get connections(): number {
    return this.#front?.connections ?? this.#connections.size;
  }

  /** Which loop reads the sockets. */
  get front(): FrontKind {
    return this.#front === undefined ? 'node' : 'native';
  }

  /** What the WRITEs and READs the native front answered add up to (they never reach the observer); undefined without one. */
  frontAnswers(): NativeUnitFrontMetrics | undefined {
    return this.#front?.metrics();
  }

  /**
   * A new certificate, key and CA for the connections from now on (`corfu unit` on
   * SIGHUP); those open keep theirs. A bad one is ERR_BAD_REQUEST and changes nothing,
   * and so is a server started without TLS.
   */
  reloadTls(next: ServerCredentials): void {
    if (this.#server === undefined) throw new CorfuError('ERR_BAD_REQUEST', 'this server was started without TLS: there is no certificate to reload');
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
    // The front stops reading, waits for every answer owed (the store's and this side's),
    // sends them, ends each connection and cuts what is left after graceMs.
    if (this.#front !== undefined) return this.#front.stop(graceMs);
    const server = this.#server;
    invariant(server !== undefined, 'a node-front unit without a listener');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
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
        c.role = this.#authenticate(c.name, c.role, req, (answer) => writeBatched(c.socket, answer));
        if (c.role === undefined) {
          c.dead = true;
          c.stopped = true;
          c.socket.end();
        }
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
    this.#serve(req, c.name, (answer) => {
      c.inFlight--;
      if (!c.dead) writeBatched(c.socket, answer);
      if (c.inFlight === 0) this.#wakeIdle(c);
      if (!c.stopped) this.#drain(c);
    });
  }

  /** Handles one request, tells the observer and the log, and hands its answer's frame to `send`. */
  #serve(req: Request, conn: string, send: (answer: Buffer) => void): void {
    const observer = this.#observer;
    const startedMs = observer === undefined ? 0 : performance.now();
    handleRequest(this.#engine, req).then(
      (response) => {
        observer?.answered(req, response, (performance.now() - startedMs) / 1000);
        if (response.status !== 'OK') this.#logError(conn, req, response);
        else if (req.op === 'SEAL') this.#log.info({ epoch: req.newEpoch, conn, req: req.requestId }, `sealed to epoch ${req.newEpoch}`);
        send(encodeAnswer(req, response));
      },
      (err: unknown) => {
        // Not a CorfuError: the engine broke its contract. Crash loudly.
        queueMicrotask(() => {
          throw err;
        });
      },
    );
  }

  // ---- the native front's events ------------------------------------------

  #frontOpened(conn: number, remote: string): void {
    this.#frontConnections.set(conn, new FrontConnection(remote, this.#auth.initialRole({})));
    if (this.#debug) this.#log.debug({ conn: remote }, 'connection opened');
  }

  #frontClosed(conn: number, why: string | undefined): void {
    const c = this.#frontConnections.get(conn);
    this.#frontConnections.delete(conn);
    const name = c?.name ?? `connection ${conn}`;
    if (why !== undefined) this.#log.warn({ conn: name }, `closing connection from ${name}: ${why}`);
    else if (this.#debug) this.#log.debug({ conn: name }, 'connection closed');
  }

  /**
   * Frames the front does not answer (anything but a well-formed WRITE or READ, and the
   * frames that came after it): decoded in order and served here; the connection is read again
   * once they all decoded. A malformed one ends the connection, and nothing after it runs.
   */
  #frontFrame(conn: number, bytes: Buffer): void {
    const front = this.#front;
    const c = this.#frontConnections.get(conn);
    invariant(front !== undefined && c !== undefined, () => `a frame from connection ${conn}, which the front never opened`);
    const kill = (reason: string): void => {
      this.#log.warn({ conn: c.name }, `closing connection from ${c.name}: ${reason}`);
      front.closeConnection(conn);
    };
    // The front hands over whole frames only (by their length fields).
    for (let at = 0; at < bytes.length;) {
      const r = decodeFrame(bytes.subarray(at));
      invariant(r.kind !== 'need', 'the native front handed over part of a frame');
      if (r.kind === 'error') return kill(`protocol error: ${r.error.message}`);
      at += r.bytes;
      if (r.frame.type !== 'request') return kill(`protocol error: a ${r.frame.op} response sent to a unit`);
      const req = r.frame;
      if (req.op === 'AUTH') {
        c.role = this.#authenticate(c.name, c.role, req, (answer) => front.reply(conn, answer));
        if (c.role === undefined) return front.closeConnection(conn);
        continue;
      }
      // Every peer of a front is admin (no authentication on this path); the check stays for the invariant's sake.
      invariant(c.role === 'admin', 'a native-front unit with a peer that is not admin');
      this.#serve(req, c.name, (answer) => front.reply(conn, answer));
    }
    front.resume(conn);
  }

  /** A WRITE or READ the front answered with a whole-request error: logged as the Node path logs its own. */
  #frontRefused(conn: number, answer: Buffer): void {
    const r = decodeFrame(answer);
    invariant(r.kind === 'frame' && r.frame.type === 'response', 'the native front noted an answer that does not decode');
    const res = r.frame;
    this.#logError(this.#frontConnections.get(conn)?.name ?? `connection ${conn}`, res, res);
  }

  #logFull(): void {
    const max = this.#limits.maxConnections;
    this.#log.warn({ maxConnections: max }, `${max} connections open (the cap): closing new ones until one ends`);
  }

  /** AUTH: answers it; the role its token (or certificate) gives, or undefined when refused (logged; the caller closes the connection). */
  #authenticate(conn: string, role: Role | undefined, req: AuthRequest, send: (answer: Buffer) => void): Role | undefined {
    const outcome = this.#auth.authenticate(role, req.token);
    send(encodeAuthAnswer(req, outcome));
    if ('role' in outcome) return outcome.role;
    this.#log.warn({ conn }, `closing connection from ${conn}: AUTH refused (${outcome.refused.message})`);
    return undefined;
  }

  #logError(conn: string, req: Pick<Request, 'op' | 'requestId' | 'epoch'>, response: Response): void {
    const routine = ROUTINE_ERRORS.has(response.status);
    if (routine && !this.#debug) return;
    const message = 'message' in response ? response.message : '';
    const fields = {
      conn,
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
