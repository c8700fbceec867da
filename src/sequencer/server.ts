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
// Two loops can own the sockets. By default the addon's native front
// (front.ts, native/engine/src/seq_front) reads them on its own thread and answers
// TOKEN there; every other frame comes here whole, in arrival order, and is answered by
// the code below. With TLS, authentication or an injected TokenSource (tests, the
// simulator's counter), or with `front: 'node'`, Node's net server reads them and
// TOKEN runs take the TypeScript fast path (token-run.ts). Both apply the same limits
// and answer the same bytes (test/sequencer.front.test.ts).
//
// Logs (a Logger, no-op by default): connections at debug, a SEAL or
// BOOTSTRAP that moves the epoch at info (with the start tail), an error
// answer at debug, a cut connection at warn.

import { ServerAuth, encodeAuthAnswer, refusal } from '../transport/auth.js';
import { type ServerCredentials, type ServerTlsOptions, checkServerTls, createListener, reloadListenerTls } from '../transport/tls.js';
import { holdUntilTurnEnd, writeBatched } from '../transport/write-batched.js';
import type { AddressInfo, Server, Socket } from 'node:net';

import { FrameDeadline, KEEPALIVE_DELAY_MS, type ServerLimitOptions, type ServerLimits, capConnections, serverLimits } from '../transport/server-limits.js';
import { decodeFrame, encodeResponse, errorResponse } from '../wire/codec.js';
import { FrameDecoder } from '../wire/decoder.js';
import { FrontBindError, NativeFront, type FrontHandler } from './front.js';
import { NativeTokenSource } from './native-token-source.js';
import { Sequencer } from './state.js';
import type { TokenSource } from './state.js';
import { TailWaiters, wakesWaiters } from './tail-waiters.js';
import { answerTokenRun } from './token-run.js';
import type { Request, Response, Role, WaitTailRequest } from '../wire/messages.js';
import { noopLogger, type Logger } from '../log/logger.js';
import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';

/** Default bound on answers buffered per connection: ~9,000 TOKEN answers. */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024;

const U32_MAX = 2 ** 32 - 1;

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
  /**
   * Which loop reads the sockets: 'native' (default; the addon's front answers TOKEN on
   * its own thread) or 'node'. TLS, authentication and an injected `tokens` need 'node'
   * and get it.
   */
  readonly front?: 'native' | 'node';
}

/** Which loop a server's sockets are read by (see SequencerServerOptions.front). */
export type FrontKind = 'native' | 'node';

/** Hears what the sequencer answers; called on the hot path, so it must be cheap. */
export interface SequencerObserver {
  answered(res: Response): void;
  /**
   * `requests` TOKEN requests answered OK by a fast path (token-run.ts, or the native
   * front), which makes no Response objects. The native front's are reported when
   * SequencerServer.syncObserver() is called (the metrics do before each scrape).
   */
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
  /** Node's listener: undefined when the native front owns the sockets. */
  readonly #server: Server | undefined;
  readonly #front: NativeFront | undefined;
  /** The front's connections by its id. */
  readonly #frontPeers = new Map<number, FrontPeer>();
  /** Front-answered TOKEN requests already told to the observer. */
  #frontReported = 0;
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

  private constructor(
    sequencer: Sequencer,
    front: NativeFront | undefined,
    maxBuffered: number,
    limits: ServerLimits,
    log: Logger,
    tls: ServerTlsOptions | undefined,
    auth: ServerAuth,
    observer: SequencerObserver | undefined,
  ) {
    this.sequencer = sequencer;
    this.#front = front;
    this.#observer = observer;
    this.#maxBuffered = maxBuffered;
    this.#limits = limits;
    this.#auth = auth;
    this.#log = log;
    this.#debug = log.isLevelEnabled('debug');
    this.#tls = tls;
    if (front !== undefined) {
      this.#server = undefined;
      return;
    }
    this.#server = createListener(
      tls,
      limits.frameTimeoutMs,
      (socket) => this.#serve(socket),
      (err, remote) => log.warn({ remote }, `TLS handshake with ${remote} failed: ${err.message}`),
    );
    capConnections(this.#server, limits.maxConnections, () => this.#logFull());
  }

  #logFull(): void {
    this.#log.warn({ maxConnections: this.#limits.maxConnections }, `${this.#limits.maxConnections} connections open (the cap): closing new ones until one ends`);
  }

  /** Starts listening; rejects with ListenError if the address cannot be bound. */
  static async start(options: SequencerServerOptions = {}): Promise<SequencerServer> {
    const limits = serverLimits(options);
    const log = options.logger ?? noopLogger;
    if (options.tls !== undefined) checkServerTls(options.tls);
    const auth = options.auth ?? new ServerAuth();
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    const epoch = options.epoch ?? 0;
    const startTail = options.startTail ?? 0;
    const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    const maxStreams = options.maxStreams === undefined ? {} : { maxStreams: options.maxStreams };
    if (frontFor(options, auth) === 'native') {
      // The options' checks (ERR_BAD_REQUEST) before anything binds, as on the Node path.
      new Sequencer({ epoch, startTail, ...maxStreams });
      // Events come from the front's thread through the event loop: after start() returned.
      const late: { handler?: FrontHandler } = {};
      let front: NativeFront;
      try {
        front = NativeFront.start(
          {
            host,
            port,
            epoch,
            startTail,
            // The front takes u32s: larger limits are as good as unlimited.
            maxConnections: Math.min(limits.maxConnections, U32_MAX),
            frameTimeoutMs: Math.min(limits.frameTimeoutMs, U32_MAX),
            maxBufferedBytes: Math.min(maxBuffered, U32_MAX),
            keepaliveIdleS: KEEPALIVE_DELAY_MS / 1000,
          },
          {
            opened: (conn, remote) => late.handler?.opened(conn, remote),
            frame: (conn, bytes) => late.handler?.frame(conn, bytes),
            closed: (conn, why) => late.handler?.closed(conn, why),
            tailMoved: () => late.handler?.tailMoved(),
            full: () => late.handler?.full(),
          },
        );
      } catch (err) {
        if (!(err instanceof FrontBindError)) throw err;
        throw new ListenError(`cannot listen on ${formatHostPort(host, port)}: ${listenWhy(err.code, err.message)}`, err.code);
      }
      const s = new SequencerServer(new Sequencer({ epoch, startTail, tokens: front, ...maxStreams }), front, maxBuffered, limits, log, undefined, auth, options.observer);
      late.handler = {
        opened: (conn, remote) => s.#frontOpened(conn, remote),
        frame: (conn, bytes) => s.#frontFrame(conn, bytes),
        closed: (conn, why) => s.#frontClosed(conn, why),
        tailMoved: () => s.#frontTailMoved(),
        full: () => s.#logFull(),
      };
      return s;
    }
    const tokens = options.tokens ?? new NativeTokenSource(startTail);
    const sequencer = new Sequencer({ epoch, startTail, tokens, ...maxStreams });
    const s = new SequencerServer(sequencer, undefined, maxBuffered, limits, log, options.tls, auth, options.observer);
    const server = s.#server;
    invariant(server !== undefined, 'a node-front sequencer without a listener');
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new ListenError(`cannot listen on ${formatHostPort(host, port)}: ${listenWhy(err.code, err.message)}`, err.code));
      };
      server.once('error', onError);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // A safeguard: an 'error' on a listener without a handler would crash the process.
    // (Node already absorbs running out of descriptors at accept, EMFILE.)
    server.on('error', (err) => log.error({ err: err.message }, `listener error: ${err.message}`));
    return s;
  }

  /** Which loop reads this server's sockets. */
  get front(): FrontKind {
    return this.#front === undefined ? 'node' : 'native';
  }

  /** Tokens handed out since start, by either path. */
  get tokensIssued(): number {
    return this.sequencer.snapshot().tokensIssued + (this.#front?.tokens ?? 0);
  }

  /** Tells the observer of the TOKEN requests the native front answered since the last call. */
  syncObserver(): void {
    if (this.#front === undefined || this.#observer === undefined) return;
    const answered = this.#front.answered;
    if (answered > this.#frontReported) this.#observer.answeredTokens(answered - this.#frontReported);
    this.#frontReported = answered;
  }

  /** The bound address (the real port when started with port 0). */
  get address(): { host: string; port: number } {
    if (this.#front !== undefined) return { host: this.#front.host, port: this.#front.port };
    const a = this.#server?.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Open client connections. */
  get connections(): number {
    return this.#front?.connections ?? this.#sockets.size;
  }

  /**
   * A new certificate, key and CA for the connections from now on (`corfu sequencer`
   * on SIGHUP); those open keep theirs. A bad one is ERR_BAD_REQUEST and changes
   * nothing, and so is a server started without TLS.
   */
  reloadTls(next: ServerCredentials): void {
    if (this.#server === undefined) throw new CorfuError('ERR_BAD_REQUEST', 'this server was started without TLS: there is no certificate to reload');
    this.#tls = reloadListenerTls(this.#server, this.#tls, next);
  }

  /** WAIT_TAIL long polls parked now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Stops accepting, lets connections flush what they were sent, then closes them (cut after a grace). Idempotent. */
  close(): Promise<void> {
    if (this.#front !== undefined) {
      const front = this.#front;
      this.#closing ??= front.stop(CLOSE_GRACE_MS).then(() => this.syncObserver());
      return this.#closing;
    }
    const server = this.#server;
    invariant(server !== undefined, 'a node-front sequencer without a listener');
    this.#closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
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
    const peer = new SocketPeer(socket, conn);
    socket.on('close', () => {
      if (this.#debug) this.#log.debug({ conn }, 'connection closed');
      deadline.clear();
      this.#sockets.delete(socket);
      this.#dropWaiters(peer);
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
        const after = this.#answer(peer, role, r.frame);
        if (after === CLOSED) return;
        role = after;
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

  /**
   * Answers one request of `peer`, whose role is `role`, by either loop. Returns the
   * connection's role after it, or CLOSED when it ended the connection (a refused AUTH).
   * An InvariantError propagates and crashes the process, by design.
   */
  #answer(peer: Peer, role: Role | undefined, req: Request): Role | undefined | typeof CLOSED {
    if (req.op === 'AUTH') {
      const outcome = this.#auth.authenticate(role, req.token);
      peer.send(encodeAuthAnswer(req, outcome));
      if ('role' in outcome) return outcome.role;
      // One guess per connection.
      this.#log.warn({ conn: peer.conn }, `closing connection from ${peer.conn}: AUTH refused (${outcome.refused.message})`);
      peer.end();
      return CLOSED;
    }
    // An admin may send anything: the open server's path stops at this comparison.
    if (role !== 'admin') {
      const refused = refusal(role, req.op);
      if (refused !== undefined) {
        peer.send(encodeResponse(errorResponse(req.op, req.requestId, req.epoch, refused)));
        return role;
      }
    }
    if (req.op === 'WAIT_TAIL') {
      this.#waitTail(peer, req);
      return role;
    }
    // The native front answers no TOKEN while the epoch changes (front.ts, gate.rs).
    const epochChange = this.#front !== undefined && (req.op === 'SEAL' || req.op === 'BOOTSTRAP');
    if (epochChange) this.#front?.closeEpoch();
    let res: Response;
    try {
      res = this.sequencer.handle(req);
    } finally {
      if (epochChange) this.#front?.openEpoch(this.sequencer.epoch);
    }
    if (res.status !== 'OK' || req.op === 'SEAL' || req.op === 'BOOTSTRAP') this.#logAnswer(peer.conn, req, res);
    this.#send(peer, res);
    if (wakesWaiters(req.op)) this.#wakeWaiters();
    return role;
  }

  #frontOpened(id: number, remote: string): void {
    const front = this.#front;
    invariant(front !== undefined, 'a front event without a front');
    const peer = new FrontPeer(front, id, remote, this.#auth.initialRole({}));
    this.#frontPeers.set(id, peer);
    if (this.#debug) this.#log.debug({ conn: remote }, 'connection opened');
  }

  /** A frame the front did not answer: decoded and answered here, then its connection goes on. */
  #frontFrame(id: number, bytes: Buffer): void {
    const peer = this.#frontPeers.get(id);
    invariant(peer !== undefined, () => `a frame from connection ${id}, which the front never opened`);
    // The front sends exactly one whole frame (by its length field).
    const r = decodeFrame(bytes);
    if (r.kind !== 'frame' || r.frame.type !== 'request') {
      const why = r.kind === 'error' ? r.error.message : r.kind === 'need' ? 'a frame shorter than its length field' : `a ${r.frame.op} response sent to the sequencer`;
      this.#log.warn({ conn: peer.conn }, `closing connection from ${peer.conn}: protocol error: ${why}`);
      peer.front.closeConnection(id);
      return;
    }
    peer.collect();
    const after = this.#answer(peer, peer.role, r.frame);
    invariant(after !== CLOSED, 'the native front serves only servers without authentication: no AUTH is refused');
    peer.role = after;
    peer.front.reply(id, peer.collected(), true);
  }

  #frontClosed(id: number, why: string | undefined): void {
    const peer = this.#frontPeers.get(id);
    if (peer === undefined) return;
    this.#frontPeers.delete(id);
    peer.gone = true;
    if (why !== undefined) this.#log.warn({ conn: peer.conn }, `closing connection from ${peer.conn}: ${why}`);
    else if (this.#debug) this.#log.debug({ conn: peer.conn }, 'connection closed');
    this.#dropWaiters(peer);
  }

  #frontTailMoved(): void {
    // Seen before the tail is read: a token taken after this read sends another event.
    this.#front?.tailSeen();
    this.#wakeWaiters();
  }

  #dropWaiters(peer: Peer): void {
    for (const p of this.#waiters.remove((w) => w.who.peer === peer)) clearTimeout(p.who.timer);
    this.#front?.setWaiters(this.#waiters.size > 0);
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
  #waitTail(peer: Peer, req: WaitTailRequest): void {
    const now = this.sequencer.waitTail(req);
    if (now !== undefined) {
      this.#send(peer, now);
      return;
    }
    const who: Waiter = { peer, timer: undefined };
    if (!this.#waiters.park(req, who)) {
      // Full: the poller learns the tail now and asks again.
      this.#send(peer, this.sequencer.handle(req));
      return;
    }
    this.#front?.setWaiters(true);
    who.timer = setTimeout(() => {
      for (const p of this.#waiters.remove((w) => w.who === who)) {
        if (!peer.gone) this.#send(peer, this.sequencer.handle(p.req));
      }
      this.#front?.setWaiters(this.#waiters.size > 0);
    }, req.waitMs);
  }

  /** Answers the parked long polls the last request made answerable. */
  #wakeWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const p of this.#waiters.ready(this.sequencer)) {
      clearTimeout(p.who.timer);
      if (!p.who.peer.gone) this.#send(p.who.peer, p.res);
    }
    this.#front?.setWaiters(this.#waiters.size > 0);
  }

  #send(peer: Peer, res: Response): void {
    this.#observer?.answered(res);
    peer.send(encodeResponse(res));
  }
}

/** What #answer returns when it ended the connection. */
const CLOSED = Symbol('closed');

/** One client connection, whichever loop reads its socket. */
interface Peer {
  /** `host:port` of the client, for logs. */
  readonly conn: string;
  readonly gone: boolean;
  send(bytes: Buffer): void;
  /** Sends what is queued, then closes (after a refused AUTH). */
  end(): void;
}

class SocketPeer implements Peer {
  constructor(
    readonly socket: Socket,
    readonly conn: string,
  ) {}

  get gone(): boolean {
    return this.socket.destroyed;
  }

  send(bytes: Buffer): void {
    writeBatched(this.socket, bytes);
  }

  end(): void {
    this.socket.pause();
    this.socket.end();
  }
}

/** A connection of the native front: answers to its held frame go back with the resume. */
class FrontPeer implements Peer {
  gone = false;
  #collected: Buffer[] | undefined;

  constructor(
    readonly front: NativeFront,
    readonly id: number,
    readonly conn: string,
    public role: Role | undefined,
  ) {}

  /** From now until collected(), answers are held to go with the frame's resume. */
  collect(): void {
    this.#collected = [];
  }

  collected(): Buffer {
    const out = this.#collected ?? [];
    this.#collected = undefined;
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  send(bytes: Buffer): void {
    if (this.#collected !== undefined) this.#collected.push(bytes);
    else if (!this.gone) this.front.reply(this.id, bytes, false);
  }

  end(): void {
    invariant(false, 'the native front serves only servers without authentication');
  }
}

/** The loop a server gets: the native front unless something needs Node's sockets. */
function frontFor(options: SequencerServerOptions, auth: ServerAuth): FrontKind {
  if (options.front === 'node' || options.tls !== undefined || auth.enforced || options.tokens !== undefined) return 'node';
  return 'native';
}

function listenWhy(code: string | undefined, message: string): string {
  return code === 'EADDRINUSE' ? 'address already in use' : code === 'EADDRNOTAVAIL' ? 'address not available' : message;
}

interface Waiter {
  readonly peer: Peer;
  timer: NodeJS.Timeout | undefined;
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
