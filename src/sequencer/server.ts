// The sequencer's TCP driver: a thin shell around the pure Sequencer
// (state.ts). It owns the sockets and the native counter; every decision is
// the state machine's.
//
// Per connection: one FrameDecoder. A malformed frame (or a response frame
// sent to the server) closes that connection only. Requests are answered in
// arrival order, synchronously, so nothing is ever queued inside this process
// but the socket's own write buffer; that buffer is the per-connection
// in-flight bound: while more than `maxBufferedBytes` of answers wait to be
// sent, the connection stops being read (TCP pushes back on the client) and
// resumes on 'drain'.
//
// Limits (src/transport/server-limits.ts, docs/protocol.md "Server limits"):
// at most `maxConnections` connections (one more is closed on accept), and a
// frame must arrive whole within `frameTimeoutMs` of its first byte. A
// listener error (such as running out of descriptors on accept) is logged,
// never fatal. An observer (the admin listener's metrics) hears every answer,
// a parked WAIT_TAIL's when it is sent.
//
// Security (src/transport/tls.ts, auth.ts): with `tls` the listener speaks only TLS;
// with `auth` each connection has a role, and a request it may not send (SEAL and
// BOOTSTRAP need admin) is answered ERR_UNAUTHORIZED without reaching the state
// machine. AUTH is answered here.
//
// Logs (a Logger, no-op by default): connections at debug, a SEAL or
// BOOTSTRAP that moves the epoch at info (with the start tail), an error
// answer at debug, a cut connection at warn.

import { ServerAuth, encodeAuthAnswer, refusal } from '../transport/auth.js';
import { type ServerCredentials, type ServerTlsOptions, checkServerTls, createListener, reloadListenerTls } from '../transport/tls.js';
import { holdUntilTurnEnd, writeBatched } from '../transport/write-batched.js';
import type { AddressInfo, Server, Socket } from 'node:net';

import { FrameDeadline, type ServerLimitOptions, type ServerLimits, capConnections, serverLimits } from '../transport/server-limits.js';
import { encodeResponse, errorResponse } from '../wire/codec.js';
import { FrameDecoder } from '../wire/decoder.js';
import { NativeTokenSource } from './native-token-source.js';
import { Sequencer } from './state.js';
import type { TokenSource } from './state.js';
import { TailWaiters, wakesWaiters } from './tail-waiters.js';
import { answerTokenRun } from './token-run.js';
import type { Request, Response, Role, WaitTailRequest } from '../wire/messages.js';
import { noopLogger, type Logger } from '../log/logger.js';

/** Default bound on answers buffered per connection: ~9,000 TOKEN answers. */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024;

/** How long close() lets connections finish sending before it cuts them. */
const CLOSE_GRACE_MS = 1_000;

export interface SequencerServerOptions extends ServerLimitOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: an ephemeral port. */
  readonly port?: number;
  readonly epoch?: number;
  /** The first token; must be above every address written on any unit. */
  readonly startTail?: number;
  /** Default: the native lock-free counter. */
  readonly tokens?: TokenSource;
  /** The most streams it keeps tails for (default DEFAULT_MAX_STREAMS). */
  readonly maxStreams?: number;
  readonly maxBufferedBytes?: number;
  /** Where connections, epoch changes and refusals are reported; default: nowhere. */
  readonly logger?: Logger;
  /** Listen with TLS (only TLS). */
  readonly tls?: ServerTlsOptions;
  /** Who may send what; default: every peer is admin. */
  readonly auth?: ServerAuth;
  /** Hears every answer sent (metrics). */
  readonly observer?: SequencerObserver;
}

/** Hears what the sequencer answers; called on the hot path, so it must be cheap. */
export interface SequencerObserver {
  answered(res: Response): void;
  /** `requests` TOKEN requests answered OK by the fast path (token-run.ts), which makes no Response objects. */
  answeredTokens(requests: number): void;
}

/** The server could not listen (address in use, no such interface, no permission). */
export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

export class SequencerServer {
  readonly sequencer: Sequencer;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** WAIT_TAIL long polls parked until the tail moves (bounded). */
  readonly #waiters = new TailWaiters<Waiter>();
  readonly #maxBuffered: number;
  readonly #limits: ServerLimits;
  readonly #observer: SequencerObserver | undefined;
  readonly #auth: ServerAuth;
  readonly #log: Logger;
  readonly #debug: boolean;
  /** The TLS options in force (a reload replaces them); undefined: plaintext. */
  #tls: ServerTlsOptions | undefined;
  #closing: Promise<void> | undefined;

  private constructor(sequencer: Sequencer, maxBuffered: number, limits: ServerLimits, log: Logger, tls: ServerTlsOptions | undefined, auth: ServerAuth, observer: SequencerObserver | undefined) {
    this.sequencer = sequencer;
    this.#observer = observer;
    this.#maxBuffered = maxBuffered;
    this.#limits = limits;
    this.#auth = auth;
    this.#log = log;
    this.#debug = log.isLevelEnabled('debug');
    this.#tls = tls;
    this.#server = createListener(
      tls,
      limits.frameTimeoutMs,
      (socket) => this.#serve(socket),
      (err, remote) => log.warn({ remote }, `TLS handshake with ${remote} failed: ${err.message}`),
    );
    capConnections(this.#server, limits.maxConnections, () =>
      log.warn({ maxConnections: limits.maxConnections }, `${limits.maxConnections} connections open (the cap): closing new ones until one ends`),
    );
  }

  /** Starts listening; rejects with ListenError if the address cannot be bound. */
  static async start(options: SequencerServerOptions = {}): Promise<SequencerServer> {
    const limits = serverLimits(options);
    const log = options.logger ?? noopLogger;
    if (options.tls !== undefined) checkServerTls(options.tls);
    const tokens = options.tokens ?? new NativeTokenSource(options.startTail ?? 0);
    const sequencer = new Sequencer({ epoch: options.epoch ?? 0, startTail: options.startTail ?? 0, tokens, ...(options.maxStreams === undefined ? {} : { maxStreams: options.maxStreams }) });
    const s = new SequencerServer(sequencer, options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, limits, log, options.tls, options.auth ?? new ServerAuth(), options.observer);
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available' : err.message;
        reject(new ListenError(`cannot listen on ${formatHostPort(host, port)}: ${why}`, err.code));
      };
      s.#server.once('error', onError);
      s.#server.listen({ host, port, exclusive: true }, () => {
        s.#server.off('error', onError);
        resolve();
      });
    });
    // A safeguard: an 'error' on a listener without a handler would crash the process.
    // (Node already absorbs running out of descriptors at accept, EMFILE.)
    s.#server.on('error', (err) => log.error({ err: err.message }, `listener error: ${err.message}`));
    return s;
  }

  /** The bound address (the real port when started with port 0). */
  get address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Open client connections. */
  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * A new certificate, key and CA for the connections from now on (`corfu sequencer`
   * on SIGHUP); those open keep theirs. A bad one is ERR_BAD_REQUEST and changes
   * nothing, and so is a server started without TLS.
   */
  reloadTls(next: ServerCredentials): void {
    this.#tls = reloadListenerTls(this.#server, this.#tls, next);
  }

  /** WAIT_TAIL long polls parked now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Stops accepting, lets connections flush what they were sent, then closes them (cut after a grace). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.end();
      const timer = setTimeout(() => {
        if (this.#sockets.size > 0)
          this.#log.warn({ connections: this.#sockets.size, graceMs: CLOSE_GRACE_MS }, `close: ${this.#sockets.size} connection(s) not closed by their peer after ${CLOSE_GRACE_MS} ms: cut`);
        for (const socket of this.#sockets) socket.destroy();
      }, CLOSE_GRACE_MS);
      timer.unref();
    });
    return this.#closing;
  }

  #serve(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    const conn = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.#debug) this.#log.debug({ conn }, 'connection opened');
    // A slowloris peer, or a length field promising bytes that never come: cut it.
    const deadline = new FrameDeadline(this.#limits.frameTimeoutMs, () => {
      this.#log.warn({ conn }, `closing connection from ${conn}: no whole frame within ${this.#limits.frameTimeoutMs} ms of its first byte`);
      socket.destroy();
    });
    socket.on('close', () => {
      if (this.#debug) this.#log.debug({ conn }, 'connection closed');
      deadline.clear();
      this.#sockets.delete(socket);
      for (const p of this.#waiters.remove((w) => w.who.socket === socket)) clearTimeout(p.who.timer);
    });
    // A reset by the peer is its business; the socket closes either way.
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    let role: Role | undefined = this.#auth.initialRole(socket);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      let progressed = false;
      // Answered at the turn's end, with every other connection readable in this turn.
      holdUntilTurnEnd(socket);
      // TOKEN may be answered by the fast path when this connection may send it at all.
      const fast = role !== undefined && (role === 'admin' || refusal(role, 'TOKEN') === undefined);
      for (;;) {
        if (fast) {
          const run = answerTokenRun(decoder.head(), this.sequencer);
          if (run.count > 0) {
            decoder.skip(run.consumed);
            progressed = true;
            this.#observer?.answeredTokens(run.count);
            writeBatched(socket, run.answers);
            this.#wakeWaiters();
            continue;
          }
        }
        const r = decoder.pull();
        if (r.kind === 'need') break;
        if (r.kind === 'error' || r.frame.type !== 'request') {
          // The stream's framing is lost (or the peer is not a client): this connection only.
          this.#log.warn({ conn }, `closing connection from ${conn}: protocol error: ${r.kind === 'error' ? r.error.message : `a ${r.frame.op} response sent to the sequencer`}`);
          socket.destroy();
          return;
        }
        progressed = true;
        // An InvariantError propagates and crashes the process, by design.
        const req = r.frame;
        if (req.op === 'AUTH') {
          const outcome = this.#auth.authenticate(role, req.token);
          writeBatched(socket, encodeAuthAnswer(req, outcome));
          if ('role' in outcome) {
            role = outcome.role;
            continue;
          }
          // One guess per connection.
          this.#log.warn({ conn }, `closing connection from ${conn}: AUTH refused (${outcome.refused.message})`);
          role = undefined;
          socket.pause();
          socket.end();
          return;
        }
        // An admin may send anything: the open server's path stops at this comparison.
        if (role !== 'admin') {
          const refused = refusal(role, req.op);
          if (refused !== undefined) {
            writeBatched(socket, encodeResponse(errorResponse(req.op, req.requestId, req.epoch, refused)));
            continue;
          }
        }
        if (req.op === 'WAIT_TAIL') {
          this.#waitTail(socket, req);
          continue;
        }
        const res = this.sequencer.handle(req);
        if (res.status !== 'OK' || req.op === 'SEAL' || req.op === 'BOOTSTRAP') this.#logAnswer(conn, req, res);
        this.#send(socket, res);
        if (wakesWaiters(req.op)) this.#wakeWaiters();
      }
      if (socket.writableLength > this.#maxBuffered && !socket.isPaused()) {
        // Not reading until the peer reads its answers: that wait is not the peer's frame time.
        deadline.clear();
        socket.pause();
        socket.once('drain', () => {
          socket.resume();
          deadline.update(decoder.buffered > 0, false);
        });
        return;
      }
      deadline.update(decoder.buffered > 0, progressed);
    });
  }

  #logAnswer(conn: string, req: Request, res: Response): void {
    if (res.status === 'OK') {
      // SEAL and BOOTSTRAP: the epoch moved (a no-op repeat of the same one says so too).
      const tail = req.op === 'BOOTSTRAP' ? ` from tail ${req.startTail}` : '';
      this.#log.info(
        { conn, req: req.requestId, op: req.op, epoch: this.sequencer.epoch, nextToken: this.sequencer.nextToken },
        `${req.op === 'SEAL' ? 'sealed' : 'bootstrapped'} to epoch ${this.sequencer.epoch}${tail}`,
      );
      return;
    }
    if (!this.#debug) return;
    const message = 'message' in res ? res.message : '';
    this.#log.debug({ conn, req: req.requestId, op: req.op, epoch: req.epoch, status: res.status }, `${req.op} answered ${res.status}${message === '' ? '' : `: ${message}`}`);
  }

  /** A long poll: answered now, or parked until a token moves the tail past it or its wait is over. */
  #waitTail(socket: Socket, req: WaitTailRequest): void {
    const now = this.sequencer.waitTail(req);
    if (now !== undefined) {
      this.#send(socket, now);
      return;
    }
    const who: Waiter = { socket, timer: undefined };
    if (!this.#waiters.park(req, who)) {
      // Full: the poller learns the tail now and asks again.
      this.#send(socket, this.sequencer.handle(req));
      return;
    }
    who.timer = setTimeout(() => {
      for (const p of this.#waiters.remove((w) => w.who === who)) {
        if (!socket.destroyed) {
          const res = this.sequencer.handle(p.req);
          this.#observer?.answered(res);
          socket.write(encodeResponse(res));
        }
      }
    }, req.waitMs);
  }

  /** Answers the parked long polls the last request made answerable. */
  #wakeWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const p of this.#waiters.ready(this.sequencer)) {
      clearTimeout(p.who.timer);
      if (!p.who.socket.destroyed) this.#send(p.who.socket, p.res);
    }
  }

  #send(socket: Socket, res: Response): void {
    this.#observer?.answered(res);
    writeBatched(socket, encodeResponse(res));
  }
}

interface Waiter {
  readonly socket: Socket;
  timer: NodeJS.Timeout | undefined;
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
