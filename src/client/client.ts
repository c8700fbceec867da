// CorfuClient: the library API over the network log (docs/architecture.md,
// "The client"). This is the driver of the pure chain state machines of
// ./chain.ts: it owns the connections (src/transport), the timers and the
// retry policy — all taken from a ClientRuntime, so the seeded simulator runs
// this very code on virtual time.
//
//   const log = await CorfuClient.connect({ layout: 'file:/var/lib/corfu/layout' });
//   const address = await log.append(Buffer.from('hello'));
//   const entry = await log.read(address); // { address, kind: 'data', payload }
//   await log.close();
//
// - Every call has a budget (budget.ts): a deadline (`deadlineMs`, the client's
//   default or the call's own) and an optional AbortSignal; the whole call,
//   resends and refreshes included, ends by then with ERR_TIMEOUT,
//   ERR_UNAVAILABLE or ERR_ABORTED.
// - Tokens are coalesced: every append waiting while no TOKEN request is in
//   flight (at least: every append started in the same tick) shares one
//   TOKEN(n) request to the sequencer.
// - Each address is driven through AppendOp / ReadOp / FillOp. Their
//   requests to one unit in one event-loop turn go out as one vectored frame
//   (unit-batcher.ts) on one pipelined connection, opened lazily and shared
//   with the process's other clients (server-pool.ts).
// - `newToken` (a filler or a trim took the address): a new token, transparently.
// - The store's watch tells the client of a new projection as soon as it is
//   proposed. `refreshProjection` (ERR_SEALED): reload the latest projection
//   from the store; when it is not newer yet (a reconfiguration in progress)
//   wait a little and try again, a bounded number of times, then fail ERR_SEALED.
//   An append keeps its address across a refresh (a half-written chain is
//   completed under the new epoch rather than abandoned).
// - A request that got no answer (ERR_UNAVAILABLE: refused, timed out, link
//   dropped; or ERR_OVERLOADED) is resent with backoff until the deadline
//   (every chain request is idempotent), after a look at the store: a unit or
//   sequencer that does not answer may have been replaced by a
//   reconfiguration, and then the new layout is used.
// - Reads never write past the tail: a hole is filled only when its address
//   is below the sequencer's tail; at or above it, read and fill answer
//   ERR_UNWRITTEN and write nothing.
// - ERR_TRIMMED is terminal for reads; every failure is a CorfuError.
// - Streams (docs/streams.md): appendTo() takes a STREAM_TOKEN, which carries the
//   streams' backpointers, and writes a stream entry through the same append path;
//   stream(name) reads one stream by its backpointers (stream-reader.ts). A sequencer
//   rebuilding its stream tails (ERR_RECOVERING) is seeded by the client that meets
//   it (stream-recovery.ts).

import { setMaxListeners } from 'node:events';

import { CorfuError, codeByte, codeName } from '../../bindings/errors.js';
import type { ErrorCode } from '../../bindings/errors.js';
import { InvariantError, invariant } from '../../bindings/invariant.js';
import { locate } from '../layout/mapping.js';
import { openProjectionStore } from '../layout/open.js';
import type { Projection } from '../layout/projection.js';
import type { ProjectionStore } from '../layout/store.js';
import type { Connection, RequestBody } from '../transport/connection.js';
import { KIND, MAX_STREAMS_PER_ENTRY, MAX_STREAMS_PER_QUERY, STREAM_BACKPOINTERS } from '../wire/messages.js';
import { MAX_TOKENS_PER_REQUEST as MAX_TOKENS, MAX_WAIT_TAIL_MS } from '../wire/messages.js';
import type {
  InfoResponse,
  Response,
  SeedEntry,
  StreamAddresses,
  StreamId,
  StreamSeedResponse,
  StreamTailsResponse,
  StreamTokenResponse,
  TailResponse,
  TokenResponse,
  TrimResponse,
} from '../wire/messages.js';
import { encodeStreamEntry, streamHeaderBytes, streamId } from './stream-entry.js';
import { CallBudget, type CallOptions } from './budget.js';
import { AppendOp, FillOp, ReadOp, writtenAs } from './chain.js';
import type { AppendProgress, ChainAction, ChainEvent, TerminalAction, UnitRequest, UnitResponse } from './chain.js';
import { FATE_NO_TOKEN, FATE_WRITTEN, type AppendPath } from './append-path.js';
import { nodeRuntime, type ClientRuntime } from './runtime.js';
import type { Clock } from '../transport/clock.js';
import { securedRuntime } from './secure-runtime.js';
import type { ClientTlsOptions } from '../transport/tls.js';
import type { EtcdTlsOptions } from '../layout/open.js';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, ServerPool, sharedPool, type Lease } from './server-pool.js';
import { StreamReader } from './stream-reader.js';
import { RECOVERY_RANGE, recoverStreamTails } from './stream-recovery.js';
import { chainTarget } from './target.js';
import type { EntryAnswer, UnitBatcher } from './unit-batcher.js';
import { describeValue } from './validate.js';

export type { CallOptions } from './budget.js';

/**
 * The codes a CorfuClient method can fail with (every failure is a CorfuError
 * with one of these). Which are safe to retry, and what each means, is in the
 * README's client section.
 */
export type ClientErrorCode = Extract<
  ErrorCode,
  | 'ERR_UNWRITTEN'
  | 'ERR_TRIMMED'
  | 'ERR_SEALED'
  | 'ERR_TOO_LARGE'
  | 'ERR_BAD_REQUEST'
  | 'ERR_FULL'
  | 'ERR_IO'
  | 'ERR_CORRUPT'
  | 'ERR_CLOSED'
  | 'ERR_UNAVAILABLE'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_NO_LAYOUT'
  | 'ERR_UNAUTHORIZED'
>;

export interface ConnectOptions {
  /**
   * The projection store: a layout URL (`file:DIR`), or a ProjectionStore the
   * caller opened (and closes: `close()` leaves it open).
   */
  readonly layout: string | ProjectionStore;
  /** The default deadline of a whole call (every method's `deadlineMs`). Default 5000 ms. */
  readonly deadlineMs?: number;
  /** The longest wait for one answer from a unit or the sequencer before resending. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** How long a read waits on a hole below the tail before filling it. Default 200 ms. */
  readonly holeTimeoutMs?: number;
  /** How many addresses `readRange` reads ahead. Default 64. */
  readonly readAhead?: number;
  /**
   * Addresses a stream recovery reads and seeds per STREAM_SEED (stream-recovery.ts).
   * Default 4,096. The simulator uses small ones so that its short logs take several.
   */
  readonly streamRecoveryRange?: number;
  /** Requests on the wire per connection (unit or sequencer). Default 256. */
  readonly maxInFlight?: number;
  /** Consecutive ERR_SEALED refreshes without progress before giving up. Default 100. */
  readonly maxRefreshes?: number;
  /** The wait between refresh attempts when the store has nothing newer yet. Default 20 ms. */
  readonly refreshDelayMs?: number;
  /**
   * Share one connection per server with the other clients of this process
   * that use the same timeoutMs and maxInFlight (src/client/server-pool.ts), so
   * their requests to a unit go out in the same frames. Default true.
   */
  readonly shareConnections?: boolean;
  /** Check at connect that the sequencer and every unit answer (`ping()`); fail ERR_UNAVAILABLE otherwise. */
  readonly verify?: boolean;
  /**
   * Single appends take the runtime's append path (src/client/append-path.ts): with
   * Node's runtime, the addon's native thread, when the addon loads and no TLS or token
   * is configured. Default true; false keeps every append on the JS path.
   */
  readonly nativeAppends?: boolean;
  /**
   * Clock, timers and the way to reach servers. Default: Node's (TCP, the
   * system clock). The seeded simulator passes a virtual one.
   */
  readonly runtime?: ClientRuntime;
  /**
   * TLS to every unit and the sequencer: `ca` (PEM) to trust, and `cert` and `key` for
   * servers that want a client certificate (docs/operations.md, "TLS and authorization").
   */
  readonly tls?: ClientTlsOptions;
  /** The token for servers that want one (sent in AUTH when each connection opens). */
  readonly authToken?: string | Uint8Array;
  /** TLS to an etcd projection store (`layout` an etcd:// URL): its CA, and a client certificate if etcd wants one. */
  readonly storeTls?: EtcdTlsOptions;
}

/**
 * What `read`, `fill` and `readRange` return: the value at an address (a
 * trimmed address throws ERR_TRIMMED instead). `payload` is the caller's: a
 * fresh copy no other entry shares.
 */
export type Entry = { readonly address: number; readonly kind: 'data'; readonly payload: Uint8Array } | { readonly address: number; readonly kind: 'junk' };

/** Options of `follow`. */
export interface FollowOptions {
  /** Ends the iteration (cleanly: the loop just stops) when it fires. */
  readonly signal?: AbortSignal;
  /** Leave out junk (filled holes). Default false: every address is yielded, in order. */
  readonly skipJunk?: boolean;
  /** How long one wait on the sequencer for new entries lasts before it is renewed. Default 10,000 ms. */
  readonly pollMs?: number;
}

/** What #unlessLeft answers when the server left the layout while its request was in flight. */
const LEFT = Symbol('left');

const OK_BYTE = codeByte('OK');

/** Codes a follower rides out (it waits and tries again) rather than ending on. */
const FOLLOW_RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ERR_SEALED', 'ERR_OVERLOADED', 'ERR_UNWRITTEN']);
/** The pause before a follower tries again after a retryable failure. */
const FOLLOW_RETRY_MS = 100;

/** The first of a range of tokens, and the epoch of the sequencer that handed it out. */
interface Token {
  readonly first: number;
  readonly epoch: number;
}

/** An address to write and what goes there (a stream entry's bytes depend on its token: its backpointers). */
interface Placed extends Token {
  readonly payload: Uint8Array;
  /**
   * A stream entry: its address is only good under the epoch whose sequencer handed it
   * out. A new epoch's sequencer may not list it in its stream tails (it rebuilt them
   * before the write landed, or it handed the address out again), so readers would
   * never reach it: it takes a new STREAM_TOKEN instead (the simulator's
   * `stream-address-outlives-epoch`, test/sim/known-issues.ts).
   */
  readonly stream?: true;
}

/** The streams' latest addresses and the log's tail, answered together (CorfuClient.streamTails). */
export interface StreamTails {
  /** The log's tail when the sequencer answered: every listed address is below it. */
  readonly tail: number;
  /** Per stream, in the order asked: its latest addresses, newest first (empty: no entry yet). */
  readonly latest: readonly StreamAddresses[];
  /** Below this address the sequencer knows no stream entry (its tails were rebuilt from a log trimmed there); 0 usually. */
  readonly floor: number;
}

interface TokenWaiter {
  readonly count: number;
  readonly budget: CallBudget;
  readonly resolve: (token: Token) => void;
  readonly reject: (error: unknown) => void;
}

/** One entry of a chain walk (#walk): its address, bytes, and the budget of the call it belongs to. */
interface WalkEntry {
  readonly address: number;
  readonly payload: Uint8Array;
  readonly budget: CallBudget;
}

/** What a chain walk tells #appendAt about an entry it could not finish. */
interface Learned {
  /** The unit that took the write as the chain's head (AppendProgress). */
  readonly head: string | undefined;
  /** A replica refused the walk's write as sealed under this epoch. */
  readonly sealedAt: number | undefined;
  /**
   * A replica answered the walk's write with an error the append machine ends on
   * (ERR_IO, ERR_TOO_LARGE...): the append fails with it, as its machine would have,
   * rather than asking again and failing with whatever a second request answers
   * (a failed store's later answers no longer name the cause).
   */
  readonly failure?: CorfuError;
}

const NOTHING_LEARNED: Learned = { head: undefined, sealedAt: undefined };

/** Error answers to a WRITE after which the append machine goes on (AppendOp): resend, or refresh on ERR_SEALED. */
const RETRIED_WRITE_ERRORS: ReadonlySet<string> = new Set(['ERR_SEALED', 'ERR_OVERLOADED']);

/** The ends of a single append's call (append()'s AppendCall, or an entry of appendBatch on the path): called as methods. */
interface AppendEnds {
  done(address: number): void;
  fail(error: unknown): void;
}

/** A single append with its token, waiting to walk its chain with the others of its TOKEN request. */
interface JoinedAppend extends WalkEntry {
  readonly epoch: number;
  readonly call: AppendEnds;
}

/** A single append waiting for its path (the append path, or the JS path's TOKEN queue): what either needs. */
interface SingleAppend extends AppendEnds {
  readonly payload: Uint8Array;
  readonly budget: CallBudget;
}

/**
 * append()'s call: its payload and budget, and the ends of its promise, settled once. One
 * object per call where there were four (a closure context, done, fail and the waiting
 * record): append() is the call made hundreds of thousands of times a second. Same
 * outcome as #withBudget: the call's end releases the budget, the observer hears it once.
 */
class AppendCall implements SingleAppend {
  #settled = false;

  constructor(
    readonly payload: Uint8Array,
    readonly budget: CallBudget,
    private readonly resolve: (address: number) => void,
    private readonly reject: (err: unknown) => void,
    private readonly observer: CallObserver | undefined,
    private readonly clock: Clock,
    private readonly startedMs: number,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  done(address: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.budget.done();
    if (this.observer !== undefined) heard(this.observer, this.clock, 'append', this.startedMs, false);
    this.resolve(address);
  }

  fail(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.budget.done();
    if (this.observer !== undefined) heard(this.observer, this.clock, 'append', this.startedMs, true, err);
    this.reject(err);
  }
}

/** Tells `observer` (metrics) that `call`, begun at `startedMs` on `clock`, ended: failed with `err`, or not. */
function heard(observer: CallObserver, clock: Clock, call: ObservedCall, startedMs: number, failed: boolean, err?: unknown): void {
  observer(call, (clock.now() - startedMs) / 1000, failed ? (err instanceof CorfuError ? err.code : 'unknown') : undefined);
}

/** The longest backoff between resends of a request that got no answer. */
const MAX_RESEND_BACKOFF_MS = 500;

/**
 * TOKEN requests one client keeps on the wire. Appends that want tokens while these are out
 * go in the next request at once instead of waiting for an answer: with one in flight, an
 * append waited half a sequencer round trip on average before its TOKEN even left.
 */
const MAX_TOKEN_REQUESTS_IN_FLIGHT = 4;

interface Driveable<R> {
  readonly address: number;
  start(): ChainAction<R>[];
  step(event: ChainEvent): ChainAction<R>[];
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a positive integer, got ${describeValue(value)}`);
  return value;
}

function checkAddress(address: unknown, what = 'address'): asserts address is number {
  if (typeof address !== 'number' || !Number.isSafeInteger(address) || address < 0) {
    throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a non-negative safe integer, got ${describeValue(address)}`);
  }
}

/** The wait before the n-th look at the head of a hole (from 0): 1 ms ten times, then doubling. */
export function recheckDelayMs(n: number): number {
  return n < 10 ? 1 : 2 ** Math.min(n - 9, 16);
}

export function resendBackoffMs(attempt: number): number {
  return Math.min(MAX_RESEND_BACKOFF_MS, 10 * 2 ** Math.min(attempt, 16));
}

/** The chain of `address` under `projection`; undefined outside its segments. */
function chainIn(projection: Projection, address: number): readonly string[] | undefined {
  try {
    return locate(projection, address).chain;
  } catch (err) {
    if (err instanceof CorfuError && err.code === 'ERR_BAD_REQUEST') return undefined;
    throw err;
  }
}

/** The ERR_SEALED of the sequencer or a unit, as a CorfuError. */
class Sealed extends CorfuError {}

/** The ids of 1..max stream names (ERR_BAD_REQUEST for anything else). */
function streamIds(streams: readonly string[], max: number, what: string): StreamId[] {
  if (!Array.isArray(streams) || streams.length === 0) throw new CorfuError('ERR_BAD_REQUEST', `${what}: streams must be a non-empty array of names, got ${describeValue(streams)}`);
  if (streams.length > max) throw new CorfuError('ERR_BAD_REQUEST', `${what}: at most ${max} streams, got ${streams.length}`);
  // streamId checks each name (a caller's array may hold anything).
  return (streams as readonly unknown[]).map((name) => streamId(name as string));
}

/** The calls a CallObserver hears of: the public API, a fixed set (metric labels). */
export const OBSERVED_CALLS = ['append', 'appendBatch', 'appendTo', 'read', 'fill', 'trim', 'prefixTrim', 'tail', 'streamTails', 'usage', 'ping'] as const;
export type ObservedCall = (typeof OBSERVED_CALLS)[number];
const OBSERVED = new Set<string>(OBSERVED_CALLS);

/**
 * Hears the end of every public call (src/client/metrics.ts): how long it took
 * and how it failed (a CorfuError's code, 'unknown' for anything else), or undefined when it did not.
 */
export type CallObserver = (call: ObservedCall, seconds: number, failure: ErrorCode | 'unknown' | undefined) => void;

export class CorfuClient {
  readonly deadlineMs: number;
  readonly timeoutMs: number;
  readonly holeTimeoutMs: number;
  readonly readAhead: number;
  readonly streamRecoveryRange: number;
  readonly maxRefreshes: number;
  readonly refreshDelayMs: number;
  readonly maxInFlight: number;

  readonly #store: ProjectionStore;
  /** Whether close() closes the store (we opened it from a URL). */
  readonly #ownsStore: boolean;
  readonly #runtime: ClientRuntime;
  #projection: Projection;
  /** This client's lease on each server it has talked to. */
  readonly #servers = new Map<string, Lease>();
  readonly #pool: ServerPool;
  #closed = false;
  /** Stops the store's watch (it tells the client of a new epoch as soon as it is proposed). */
  readonly #unwatch: () => void;
  #refreshing: Promise<void> | undefined;
  /** Requests in flight that end when a new projection drops their server (#unlessLeft). */
  readonly #onNewProjection = new Set<() => void>();
  /** Projection loads started, and the last one finished: #refreshFresh waits for a load that started after it. */
  #loadsStarted = 0;
  #loadsDone = 0;
  /** The TAIL of the sequencer of one epoch, shared by the appends that outlived an older one. */
  #epochTail: { readonly epoch: number; readonly tail: Promise<number | undefined> } | undefined;
  /** A lower bound of the log's tail learned under one epoch (TOKEN and TAIL answers): below it, a hole is a hole. */
  #tailSeenEpoch = 0;
  #tailSeen = 0;

  #tokenWaiters: TokenWaiter[] = [];
  /** The runtime's append path (append-path.ts): undefined until the first append looks; null when off. */
  #native: AppendPath | null | undefined;
  /** Its layout for #projection, registered on first use. */
  #nativeLayout: { readonly projection: Projection; readonly handle: number | undefined } | undefined;
  /** Single appends of this tick, about to be submitted to the native path together. */
  #nativeWaiting: SingleAppend[] = [];
  #nativeScheduled = false;
  readonly #nativeOption: boolean;
  /** Single appends with their tokens, about to walk their chains together (#joinWalk). */
  #walkers: JoinedAppend[] = [];
  #walkScheduled = false;
  #tokenScheduled = false;
  /** TOKEN requests on the wire (at most MAX_TOKEN_REQUESTS_IN_FLIGHT). */
  #tokensInFlight = 0;

  /**
   * Counters, for tests and observers. `readDeferrals`: how many times a unit answered one of
   * this client's reads "not in this frame, ask again" (its READ answer was full).
   * `abandoned`: requests given up without an answer because a new projection dropped their
   * server (they are sent again under it).
   */
  readonly stats = {
    tokenRequests: 0,
    tokens: 0,
    refreshes: 0,
    newTokens: 0,
    resends: 0,
    fills: 0,
    readDeferrals: 0,
    abandoned: 0,
    /** READ requests sent to units, one per address and attempt. */
    unitReads: 0,
    /** STREAM_TOKEN requests answered. */
    streamTokens: 0,
    /** Addresses this client read to rebuild a sequencer's stream tails. */
    streamRecoveryReads: 0,
    /** Single appends the native path wrote to every replica (the others took the JS path). */
    nativeAppends: 0,
  };
  #callObserver: CallObserver | undefined;

  /** One stream recovery at a time per client: every call that meets ERR_RECOVERING waits for it. */
  #recovering: Promise<void> | undefined;

  private constructor(store: ProjectionStore, ownsStore: boolean, projection: Projection, runtime: ClientRuntime, options: ConnectOptions) {
    this.#store = store;
    this.#ownsStore = ownsStore;
    this.#projection = projection;
    this.#runtime = runtime;
    this.deadlineMs = positive(options.deadlineMs, 5000, 'deadlineMs');
    this.timeoutMs = positive(options.timeoutMs, 2000, 'timeoutMs');
    this.holeTimeoutMs = positive(options.holeTimeoutMs, 200, 'holeTimeoutMs');
    this.readAhead = positive(options.readAhead, 64, 'readAhead');
    this.streamRecoveryRange = positive(options.streamRecoveryRange, RECOVERY_RANGE, 'streamRecoveryRange');
    this.maxRefreshes = positive(options.maxRefreshes, 100, 'maxRefreshes');
    this.refreshDelayMs = positive(options.refreshDelayMs, 20, 'refreshDelayMs');
    this.maxInFlight = positive(options.maxInFlight, DEFAULT_MAX_IN_FLIGHT, 'maxInFlight');
    if (options.nativeAppends !== undefined && typeof options.nativeAppends !== 'boolean') {
      throw new CorfuError('ERR_BAD_REQUEST', `nativeAppends must be a boolean, got ${describeValue(options.nativeAppends)}`);
    }
    this.#nativeOption = options.nativeAppends !== false;
    this.#pool = options.shareConnections === false ? new ServerPool(this.#runtime) : sharedPool(this.#runtime);
    // A new epoch is known as soon as it is proposed, not only when a unit answers ERR_SEALED.
    // (Contact lost with the store is the store's to retry; a refresh reads it anyway.)
    this.#unwatch = store.watch(
      (p) => this.#adopt(p),
      () => {},
    );
  }

  /**
   * Reads the latest projection from the store named by `options.layout`.
   * Connections open lazily; with `verify: true` every server of the
   * projection must answer first (ERR_UNAVAILABLE otherwise).
   */
  static async connect(options: ConnectOptions): Promise<CorfuClient> {
    if (typeof options !== 'object' || options === null) {
      throw new CorfuError('ERR_BAD_REQUEST', `connect: options must be an object with a layout, got ${describeValue(options)}`);
    }
    const { layout } = options;
    if (typeof layout !== 'string' && (typeof layout !== 'object' || layout === null || typeof layout.latest !== 'function')) {
      throw new CorfuError('ERR_BAD_REQUEST', `connect: layout must be a layout URL (file:DIR) or a ProjectionStore, got ${describeValue(layout)}`);
    }
    const owns = typeof layout === 'string';
    // Credentials are checked (and a bad PEM refused) before anything is opened.
    const runtime = securedRuntime(options.runtime ?? nodeRuntime, options);
    const store = typeof layout === 'string' ? await openProjectionStore(layout, options.storeTls === undefined ? {} : { tls: options.storeTls }) : layout;
    let client: CorfuClient | undefined;
    try {
      const projection = await store.latest();
      if (projection === undefined) {
        throw new CorfuError(
          'ERR_NO_LAYOUT',
          `the projection store${typeof layout === 'string' ? ` ${layout}` : ''} holds no projection (create one with corfu layout init, or start a cluster with corfu up)`,
        );
      }
      client = new CorfuClient(store, owns, projection, runtime, options);
      if (options.verify === true) await client.ping();
      return client;
    } catch (err) {
      if (client !== undefined) await client.close();
      else if (owns) await store.close();
      throw err;
    }
  }

  /**
   * Sets (or, with undefined, removes) the one observer of this client's calls. Without one
   * no call reads the clock for it. clientMetrics() sets it.
   */
  observeCalls(observer: CallObserver | undefined): void {
    this.#callObserver = observer;
  }

  /** The time on the client's clock (ms; virtual in the simulator): for layers above that keep time. */
  now(): number {
    return this.#runtime.clock.now();
  }

  /** The projection the client works under now. */
  get projection(): Projection {
    return this.#projection;
  }

  get epoch(): number {
    return this.#projection.epoch;
  }

  /**
   * The largest payload an entry may have (the smallest of the units'
   * limits, recorded in the projection); undefined for a projection that
   * does not record it (then the units still refuse a larger one).
   */
  get maxEntryBytes(): number | undefined {
    return this.#projection.maxEntryBytes;
  }

  /** ERR_TOO_LARGE for a payload above the log's limit, before any token is taken or byte sent. */
  #checkSize(payload: Uint8Array, what: string): void {
    const limit = this.#projection.maxEntryBytes;
    if (limit !== undefined && payload.length > limit) {
      throw new CorfuError('ERR_TOO_LARGE', `${what}: the entry is ${payload.length} bytes, above the log's maximum of ${limit} bytes; nothing was appended`);
    }
  }

  // ---- append ----------------------------------------------------------------

  /**
   * Appends one entry; resolves with its address once every replica of its chain holds it.
   * Its token and its chain walk are shared with the appends of its TOKEN request (#joinWalk).
   *
   * What #withBudget does for the other calls, done by hand: a single append is the call
   * made hundreds of thousands of times a second, and the generic wrapper's async frames and
   * race cost it three promises and a Set (the client's CPU per append is the limit at high
   * depth). Same outcome: the budget's end (deadline, signal) rejects the call, its end
   * releases the budget, the observer hears it once.
   */
  append(payload: Uint8Array, options?: CallOptions): Promise<number> {
    let b: CallBudget;
    try {
      this.#checkOpen();
      if (!(payload instanceof Uint8Array)) throw new CorfuError('ERR_BAD_REQUEST', `append: payload must be a Uint8Array, got ${describeValue(payload)}`);
      this.#checkSize(payload, 'append');
      b = this.#budgetFor('append', options);
    } catch (err) {
      return Promise.reject(err);
    }
    const observer = this.#callObserver;
    const clock = this.#runtime.clock;
    const startedMs = observer === undefined ? 0 : clock.now();
    let call!: AppendCall;
    const promise = new Promise<number>((resolve, reject) => {
      call = new AppendCall(payload, b, resolve, reject, observer, clock, startedMs);
    });
    // A signal aborted before the call ends it here: nothing starts (no token is asked for).
    b.onEnd(call);
    if (call.settled) return promise;
    try {
      if (this.#nativePath() !== undefined) {
        this.#nativeWaiting.push(call);
        this.#scheduleNative();
      } else this.#waitForToken(call);
    } catch (err) {
      // As a throw inside the promise's executor would: the call fails with it (its budget,
      // which would otherwise run out later and reject a promise nobody holds, is released).
      call.fail(err);
    }
    return promise;
  }

  /** A single append's place in the JS path's TOKEN queue; its token starts its chain walk (#joinWalk). */
  #waitForToken(w: SingleAppend): void {
    const { payload, budget } = w;
    this.#tokenWaiters.push({
      count: 1,
      budget,
      resolve: (token) => this.#joinWalk({ address: token.first, epoch: token.epoch, payload, budget, call: w }),
      reject: (err) => w.fail(err),
    });
    this.#scheduleTokens();
  }

  #nativePath(): AppendPath | undefined {
    if (this.#native === undefined) this.#native = this.#nativeOption ? (this.#runtime.appendPath?.() ?? null) : null;
    return this.#native ?? undefined;
  }

  #scheduleNative(): void {
    if (this.#nativeScheduled) return;
    this.#nativeScheduled = true;
    queueMicrotask(() => {
      this.#nativeScheduled = false;
      this.#submitNative();
    });
  }

  /** This tick's single appends, as one submission to the native path (or, if it cannot take them, the JS path's). */
  #submitNative(): void {
    const waiting = this.#nativeWaiting.filter((w) => !w.budget.ended);
    this.#nativeWaiting = [];
    if (waiting.length === 0) return;
    const native = this.#nativePath()!;
    const projection = this.#projection;
    let layout = this.#nativeLayout;
    if (layout?.projection !== projection) {
      if (layout?.handle !== undefined) native.forget(layout.handle);
      layout = this.#nativeLayout = { projection, handle: native.layout(projection, this.timeoutMs) };
    }
    let counted = false;
    const sink = {
      outcome: (index: number, fate: number, address: number, replica: number, status: number, message: string | undefined): void => {
        const w = waiting[index]!;
        if (fate === FATE_NO_TOKEN) return this.#nativeNoToken(w);
        if (!counted) {
          counted = true;
          this.stats.tokenRequests++;
        }
        this.stats.tokens++;
        if (fate === FATE_WRITTEN) {
          this.stats.nativeAppends++;
          this.#sawTail(projection.epoch, address + 1);
          return w.done(address);
        }
        this.#nativeFell(w, projection, address, replica, status, message);
      },
    };
    if (
      layout.handle === undefined ||
      !native.submit(
        layout.handle,
        waiting.map((w) => w.payload),
        sink,
      )
    ) {
      for (const w of waiting) this.#nativeNoToken(w);
      return;
    }
    // From here a write may land: a call that runs out ends ERR_TIMEOUT, not ERR_UNAVAILABLE.
    for (const w of waiting) w.budget.mayHaveEffect = true;
  }

  /** The native path took no token for `w`: the JS path asks for one. */
  #nativeNoToken(w: SingleAppend): void {
    if (w.budget.ended) return;
    if (this.#closed) return w.fail(new CorfuError('ERR_CLOSED', 'the client was closed'));
    this.#waitForToken(w);
  }

  /**
   * The native walk of `w` at `address` stopped before `replica` answered OK: #appendAt
   * goes on from there, with what the walk learned, as for an entry fallen out of #walk.
   */
  #nativeFell(w: SingleAppend, projection: Projection, address: number, replica: number, status: number, message: string | undefined): void {
    if (w.budget.ended) return;
    if (this.#closed) return w.fail(new CorfuError('ERR_CLOSED', 'the client was closed'));
    let learned = NOTHING_LEARNED;
    const chain = chainIn(projection, address);
    // Its walk stopped at a server a newer layout dropped (#adopt abandoned its requests there).
    if (chain !== undefined && status === 0 && !this.#projection.units.includes(chain[replica]!)) this.stats.abandoned++;
    if (chain !== undefined && (replica > 0 || status !== 0)) {
      // A nonzero status byte is an error code.
      const code = status === 0 ? undefined : (codeName(status) as ErrorCode);
      const failure = code !== undefined && !RETRIED_WRITE_ERRORS.has(code) ? this.#writeFailure(chain[replica]!, code, message, address) : undefined;
      learned = {
        head: replica === 0 ? undefined : chain[0],
        sealedAt: code === 'ERR_SEALED' ? projection.epoch : undefined,
        ...(failure === undefined ? {} : { failure }),
      };
    }
    const renew = async (): Promise<Placed> => ({ ...(await this.#token(1, w.budget)), payload: w.payload });
    this.#appendAt({ first: address, epoch: projection.epoch, payload: w.payload }, renew, w.budget, learned).then(
      (a) => w.done(a),
      (err: unknown) => w.fail(err),
    );
  }

  /** Appends several entries (one TOKEN for all of them, driven concurrently); resolves with their addresses in order. */
  async appendBatch(payloads: readonly Uint8Array[], options?: CallOptions): Promise<number[]> {
    this.#checkOpen();
    if (!Array.isArray(payloads)) throw new CorfuError('ERR_BAD_REQUEST', `appendBatch: payloads must be an array of Uint8Array, got ${describeValue(payloads)}`);
    if (payloads.length === 0) return [];
    if (payloads.length > MAX_TOKENS) throw new CorfuError('ERR_BAD_REQUEST', `appendBatch: at most ${MAX_TOKENS} entries per call, got ${payloads.length}`);
    payloads.forEach((p, i) => {
      if (!(p instanceof Uint8Array)) throw new CorfuError('ERR_BAD_REQUEST', `appendBatch: payloads[${i}] must be a Uint8Array, got ${describeValue(p)}`);
      this.#checkSize(p, `appendBatch: payloads[${i}]`);
    });
    return this.#withBudget('appendBatch', options, async (b) => {
      if (this.#nativePath() !== undefined) return this.#appendBatchNative(payloads, b);
      const { first, epoch } = await this.#token(payloads.length, b);
      return this.#appendMany(first, epoch, payloads, b);
    });
  }

  /**
   * appendBatch on the append path: its entries join this tick's single appends as
   * entries of this client's one submission, under the call's budget. The path takes
   * one token range for the tick's submissions and hands them out in order, so the
   * batch's entries get consecutive addresses as from its own TOKEN; an entry that falls
   * out of the path (no token, a replica that did not answer OK) goes on as a single
   * append's does. The first entry that fails fails the call; the budget's end stops the
   * others.
   */
  #appendBatchNative(payloads: readonly Uint8Array[], b: CallBudget): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      const addresses = new Array<number>(payloads.length);
      let left = payloads.length;
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      payloads.forEach((payload, i) => {
        const done = (address: number): void => {
          addresses[i] = address;
          if (--left === 0 && !failed) resolve(addresses);
        };
        this.#nativeWaiting.push({ payload, budget: b, done, fail });
      });
      this.#scheduleNative();
    });
  }

  /**
   * appendBatch's entries at `first`, `first + 1`, ...: they walk their chains together
   * (#walk), then any that did not finish there go on through #appendAt.
   */
  async #appendMany(first: number, epoch: number, payloads: readonly Uint8Array[], b: CallBudget): Promise<number[]> {
    // Each entry's token, unless #appendAt takes it a new one.
    const addresses = payloads.map((_, i) => first + i);
    const entries = payloads.map((payload, i): WalkEntry => ({ address: first + i, payload, budget: b }));
    await this.#walk(entries, epoch, b, (i, learned) => {
      const payload = payloads[i]!;
      return this.#appendAt({ first: first + i, epoch, payload }, async () => ({ ...(await this.#token(1, b)), payload }), b, learned).then((address) => {
        addresses[i] = address;
      });
    });
    return addresses;
  }

  #joinWalk(append: JoinedAppend): void {
    // A call already over leaves its token unwritten (a hole readers fill), as an abandoned #appendAt would.
    if (append.budget.ended) return;
    this.#walkers.push(append);
    if (this.#walkScheduled) return;
    this.#walkScheduled = true;
    queueMicrotask(() => {
      this.#walkScheduled = false;
      const walkers = this.#walkers;
      this.#walkers = [];
      void this.#walkJoined(walkers);
    });
  }

  /**
   * Single appends that got their tokens together walk their chains together (#walk),
   * under one budget as long as the longest of theirs (each call still ends at its own
   * deadline: its own race). Each is answered as soon as its chain is walked; any
   * that did not finish there goes on through #appendAt under its own budget.
   */
  async #walkJoined(walkers: JoinedAppend[]): Promise<void> {
    const byEpoch = new Map<number, JoinedAppend[]>();
    for (const w of walkers) {
      const same = byEpoch.get(w.epoch);
      if (same === undefined) byEpoch.set(w.epoch, [w]);
      else same.push(w);
    }
    for (const [epoch, group] of byEpoch) {
      let latest = 0;
      for (const w of group) latest = Math.max(latest, w.budget.deadline);
      const budget = this.#budgetUntil(`append walk of ${group.length}`, latest);
      const on = (i: number, learned: Learned): Promise<void> => {
        const w = group[i]!;
        const renew = async (): Promise<Placed> => ({ ...(await this.#token(1, w.budget)), payload: w.payload });
        return this.#appendAt({ first: w.address, epoch, payload: w.payload }, renew, w.budget, learned).then(
          (a) => w.call.done(a),
          (err: unknown) => w.call.fail(err),
        );
      };
      void this.#walk(group, epoch, budget, on, (i) => group[i]!.call.done(group[i]!.address))
        .catch((err: unknown) => {
          for (const w of group) w.call.fail(err);
        })
        .finally(() => budget.done());
    }
  }

  /**
   * Appends `entries` (each at its own token's address) under `epoch` in one walk per
   * chain (#walkChain): one batcher submission and one promise per replica for all of a
   * chain's entries, where driving each entry alone costs a chain machine and a dozen
   * promises per replica. Only an entry that every replica answered OK is done here
   * (`done(i)`); any other answer (or none) hands it to `fallen(i, progress)`, which
   * drives it through #appendAt, the one append protocol, with what the walk learned
   * (the head took it), exactly as if its own machine had got that far. A write is
   * idempotent for the bytes it carries (a replica that holds them answers 'same'), so
   * starting the machine over from the head repeats nothing harmful. Resolves once
   * every entry is done or fallen and driven to its end.
   */
  async #walk(entries: readonly WalkEntry[], epoch: number, b: CallBudget, fallen: (i: number, learned: Learned) => Promise<void>, done?: (i: number) => void): Promise<void> {
    const projection = this.#projection;
    const walks: Promise<void>[] = [];
    if (projection.epoch !== epoch) {
      // The tokens' epoch is over: #appendAt decides whether each address still holds.
      for (let i = 0; i < entries.length; i++) walks.push(fallen(i, NOTHING_LEARNED));
      await Promise.all(walks);
      return;
    }
    const byChain = new Map<readonly string[], number[]>();
    for (let i = 0; i < entries.length; i++) {
      const chain = chainIn(projection, entries[i]!.address);
      if (chain === undefined) {
        // Outside the projection's segments: #appendAt takes a new token for it.
        walks.push(fallen(i, NOTHING_LEARNED));
        continue;
      }
      const group = byChain.get(chain);
      if (group === undefined) byChain.set(chain, [i]);
      else group.push(i);
    }
    for (const [chain, group] of byChain) {
      walks.push(
        this.#walkChain(chain, epoch, entries, group, b).then(({ walked, fell }) => {
          if (done !== undefined) for (const i of walked) done(i);
          return Promise.all(fell.map(([i, learned]) => fallen(i, learned))).then(() => {});
        }),
      );
    }
    await Promise.all(walks);
  }

  /**
   * Writes entries `group` (indexes into `entries`) down `chain`, head first, under
   * `epoch`: each replica gets those the one before it took. `walked`: the entries every
   * replica answered OK; `fell`: the others, each with what #appendAt should know.
   */
  async #walkChain(chain: readonly string[], epoch: number, entries: readonly WalkEntry[], group: number[], b: CallBudget): Promise<{ walked: number[]; fell: [number, Learned][] }> {
    const fell: [number, Learned][] = [];
    let live = group;
    for (let r = 0; r < chain.length && live.length > 0; r++) {
      const unit = chain[r]!;
      // Past the head, the head took each entry still walking: the address is ours (AppendProgress).
      const progress = (sealed = false): Learned => ({ head: r === 0 ? undefined : chain[0], sealedAt: sealed ? epoch : undefined });
      // The walk's entries are the frame's (address and payload): no copy per entry.
      const frame = live.map((i) => {
        const e = entries[i]!;
        e.budget.mayHaveEffect = true;
        return e;
      });
      const answers = await b.race(this.#unlessLeft(unit, epoch, this.#batcher(unit).submitMany('WRITE', epoch, frame)));
      if (answers === LEFT) {
        for (const i of live) fell.push([i, progress()]);
        return { walked: [], fell };
      }
      const next: number[] = [];
      live.forEach((i, k) => {
        const a = answers[k]!;
        if (a.kind === 'write' && a.status === OK_BYTE) next.push(i);
        else if (a.kind === 'error' && !RETRIED_WRITE_ERRORS.has(a.response.status)) {
          fell.push([i, { ...progress(), failure: this.#writeFailure(unit, a.response.status, a.response.message, entries[i]!.address) }]);
        } else fell.push([i, progress(a.kind === 'error' && a.response.status === 'ERR_SEALED')]);
      });
      live = next;
    }
    return { walked: live, fell };
  }

  /**
   * Appends one entry that belongs to every stream named (atomically: it is one log
   * entry); resolves with its address once every replica of its chain holds it. Read
   * it back with stream(name), or as a plain entry whose payload starts with the stream
   * header (docs/streams.md).
   */
  async appendTo(streams: readonly string[], payload: Uint8Array, options?: CallOptions): Promise<number> {
    this.#checkOpen();
    const ids = streamIds(streams, MAX_STREAMS_PER_ENTRY, 'appendTo');
    if (!(payload instanceof Uint8Array)) throw new CorfuError('ERR_BAD_REQUEST', `appendTo: payload must be a Uint8Array, got ${describeValue(payload)}`);
    if (new Set(ids).size !== ids.length) throw new CorfuError('ERR_BAD_REQUEST', `appendTo: a stream is named twice in ${JSON.stringify(streams)}`);
    // Checked with the largest header (every stream with all its backpointers), so a
    // stream's length never decides whether an entry fits.
    const header = streamHeaderBytes(ids.map((id) => ({ id, backpointers: new Array<number>(STREAM_BACKPOINTERS).fill(0) })));
    const limit = this.#projection.maxEntryBytes;
    if (limit !== undefined && header + payload.length > limit) {
      throw new CorfuError('ERR_TOO_LARGE', `appendTo: the entry is ${payload.length} bytes plus a ${header}-byte stream header, above the log's maximum of ${limit} bytes; nothing was appended`);
    }
    return this.#withBudget('appendTo', options, async (b) => {
      const renew = (): Promise<Placed> => this.#streamToken(ids, payload, b);
      return this.#appendAt(await renew(), renew, b);
    });
  }

  /** A reader of the stream `name` (docs/streams.md): readNext, readUpTo, seek, tail. */
  stream(name: string): StreamReader {
    this.#checkOpen();
    const id = streamId(name);
    return new StreamReader(
      {
        latest: async (stream, options) => {
          const { tail, latest, floor } = await this.streamTails([name], options);
          return { tail, latest: latest[0]!, floor };
        },
        read: (address, options) => this.read(address, options),
        now: () => this.#runtime.clock.now(),
        deadlineMs: this.deadlineMs,
      },
      name,
      id,
    );
  }

  /** The latest addresses of each named stream (newest first) and the log's tail, asked now under the latest epoch. */
  async streamTails(streams: readonly string[], options?: CallOptions): Promise<StreamTails> {
    this.#checkOpen();
    const ids = streamIds(streams, MAX_STREAMS_PER_QUERY, 'streamTails');
    return this.#withBudget('streamTails', options, async (b) => {
      for (;;) {
        // As tail(): a replaced sequencer still answering at the old epoch may be behind.
        const latestLoad = this.#latestSinceNow(b);
        const { res, epoch } = await this.#streamCall('STREAM_TAILS', (e) => ({ type: 'request', op: 'STREAM_TAILS', epoch: e, streams: ids }), b);
        await latestLoad;
        if (this.#projection.epoch > epoch) continue;
        const { tail, latest, floor } = res as StreamTailsResponse;
        this.#sawTail(epoch, tail);
        return { tail, latest, floor };
      }
    });
  }

  /** One STREAM_TOKEN, and the stream entry to write there. */
  async #streamToken(ids: readonly StreamId[], body: Uint8Array, b: CallBudget): Promise<Placed> {
    const { res, epoch } = await this.#streamCall('STREAM_TOKEN', (e) => ({ type: 'request', op: 'STREAM_TOKEN', epoch: e, count: 1, streams: ids }), b);
    const { first, backpointers } = res as StreamTokenResponse;
    this.#sawTail(epoch, first + 1);
    this.stats.streamTokens++;
    const payload = encodeStreamEntry(
      ids.map((id, i) => ({ id, backpointers: backpointers[i]! })),
      body,
    );
    return { first, epoch, payload, stream: true };
  }

  /**
   * A stream request to the sequencer under the latest epoch: after ERR_SEALED with the
   * newer projection, after ERR_RECOVERING once this client has seeded the stream tails.
   * Answers the OK response and the epoch it was asked under.
   */
  async #streamCall(what: string, request: (epoch: number) => RequestBody, b: CallBudget): Promise<{ res: Response; epoch: number }> {
    let stalls = 0;
    for (;;) {
      const epoch = this.#projection.epoch;
      const res = await this.#sequencerRequest(request(epoch), b);
      if (res.status === 'ERR_SEALED') {
        stalls = await this.#afterSealed(epoch, stalls, what, b);
        continue;
      }
      if (res.status === 'ERR_RECOVERING') {
        await b.race(this.#recoverStreams());
        continue;
      }
      if (res.status !== 'OK') throw new CorfuError(res.status, `${what} at ${this.#projection.sequencer}: ${res.message}`);
      return { res, epoch };
    }
  }

  /**
   * Seeds the sequencer's stream tails from the log (stream-recovery.ts); shared by every
   * call of this client that meets ERR_RECOVERING. It runs on its own budget: reading the
   * log down to its floor may take longer than one call's deadline, and the calls waiting
   * on it end at their own.
   */
  #recoverStreams(): Promise<void> {
    this.#recovering ??= (async () => {
      try {
        const result = await recoverStreamTails(
          {
            seed: (from, to, done, entries) => this.#streamSeed(from, to, done, entries),
            floor: () => this.#trimFloor(),
            read: (address) => this.read(address),
          },
          this.streamRecoveryRange,
        );
        this.stats.streamRecoveryReads += result.read;
      } finally {
        this.#recovering = undefined;
      }
    })();
    return this.#recovering;
  }

  async #streamSeed(from: number, to: number, done: boolean, entries: readonly SeedEntry[]): Promise<{ streamsFrom: number; recovered: boolean }> {
    return this.#withBudget(`STREAM_SEED [${from}, ${to})`, undefined, async (b) => {
      let stalls = 0;
      for (;;) {
        const epoch = this.#projection.epoch;
        const res = await this.#sequencerRequest({ type: 'request', op: 'STREAM_SEED', epoch, from, to, done, entries }, b);
        if (res.status === 'ERR_SEALED') {
          stalls = await this.#afterSealed(epoch, stalls, 'STREAM_SEED', b);
          continue;
        }
        if (res.status !== 'OK') throw new CorfuError(res.status, `STREAM_SEED at ${this.#projection.sequencer}: ${res.message}`);
        const { streamsFrom, recovered } = res as StreamSeedResponse;
        return { streamsFrom, recovered };
      }
    });
  }

  /** The lowest trim mark among the units (INFO): nothing below it can be read, so recovery stops there. */
  async #trimFloor(): Promise<number> {
    return this.#withBudget('INFO', undefined, async (b) => Math.min(...(await this.#infos(b)).map((i) => i.trimMark)));
  }

  /** INFO from every unit of the projection. */
  #infos(b: CallBudget): Promise<InfoResponse[]> {
    const units = this.#projection.units;
    return Promise.all(
      units.map(async (unit) => {
        const res = await this.#requestWithResends(() => unit, { type: 'request', op: 'INFO', epoch: this.#projection.epoch }, b);
        if (res.status !== 'OK') throw new CorfuError(res.status, `INFO at ${unit}: ${res.message}`);
        return res as InfoResponse;
      }),
    );
  }

  /**
   * How full the log is: the fullest unit's used bytes and its capacity (INFO from every
   * unit). A unit's space is freed by prefix trims (trim marks), so this is what a
   * compaction policy watches.
   */
  async usage(options?: CallOptions): Promise<{ readonly usedBytes: number; readonly capacityBytes: number; readonly fullest: string }> {
    this.#checkOpen();
    return this.#withBudget('usage', options, async (b) => {
      const infos = await this.#infos(b);
      let fullest = 0;
      infos.forEach((info, i) => {
        if (info.usedPages / info.dataPages > infos[fullest]!.usedPages / infos[fullest]!.dataPages) fullest = i;
      });
      const f = infos[fullest]!;
      return { usedBytes: f.usedPages * f.pageBytes, capacityBytes: f.dataPages * f.pageBytes, fullest: this.#projection.units[fullest]! };
    });
  }

  /**
   * Drives one append at `token.first`, across refreshes, until it is acknowledged.
   *
   * An address handed out under epoch e and written under a later one is kept
   * only if it is below the new sequencer's TAIL. At or above it, no sealed
   * unit counted it in the tail the new sequencer started from (our write
   * never reached a surviving head under e), so the new sequencer may hand it
   * out again and `tail()` may answer below it: take a new token instead
   * (the simulator's `address-outlives-epoch`, test/sim/known-issues.ts).
   *
   * `learned`: what a chain walk of this address found (#walkChain): the head took it, or
   * a replica answered ERR_SEALED (then the machine starts where it would after that), or
   * an error it ends on (then it ends at once, with that error).
   */
  async #appendAt(placed: Placed, newPlace: () => Promise<Placed>, b: CallBudget, learned: Learned = NOTHING_LEARNED): Promise<number> {
    if (learned.failure !== undefined) throw learned.failure;
    let { first: address, epoch: tokenEpoch, payload } = placed;
    const stream = placed.stream === true;
    // What this append learned about its address, across the AppendOps of successive projections.
    let progress: AppendProgress = { head: learned.head };
    const renew = async (): Promise<void> => {
      ({ first: address, epoch: tokenEpoch, payload } = await newPlace());
      progress = { head: undefined };
    };
    let stalls = learned.sealedAt === undefined ? 0 : await this.#afterSealed(learned.sealedAt, 0, `append at ${address}`, b);
    for (;;) {
      const projection = this.#projection;
      if (projection.epoch > tokenEpoch && stream) {
        // Does a replica of the new chain hold our bytes? Then a surviving unit had them at
        // the seal, the sealed tail counted them, and the new sequencer lists the address (it
        // handed it out, or rebuilt its tails past it): finish it here, or it would be
        // appended twice. Otherwise (never written, or only on a replaced unit) it is lost
        // to us: a new token. Even a head write acknowledged under the old epoch counts only
        // this way (its unit may have been replaced).
        if (await this.#holds(address, payload, b)) {
          tokenEpoch = projection.epoch;
          continue;
        }
        this.stats.newTokens++;
        await renew();
        continue;
      }
      if (projection.epoch > tokenEpoch) {
        const tail = await this.#tailUnder(projection.epoch, b);
        if (tail === undefined) {
          // The sequencer is past this projection already: find the newer one.
          stalls = await this.#afterSealed(projection.epoch, stalls, `append at ${address}`, b);
          continue;
        }
        if (address >= tail) {
          this.stats.newTokens++;
          await renew();
          continue;
        }
        tokenEpoch = projection.epoch;
      }
      let op: AppendOp;
      try {
        op = new AppendOp(projection, address, payload, progress);
      } catch (err) {
        // The address is outside the (new) projection's segments: take a new one.
        if (err instanceof CorfuError && err.code === 'ERR_BAD_REQUEST') {
          await renew();
          continue;
        }
        throw err;
      }
      const outcome = await this.#drive(op, b);
      if ('done' in outcome) return outcome.done.address;
      if ('newToken' in outcome) {
        this.stats.newTokens++;
        await renew();
        continue;
      }
      if ('refreshProjection' in outcome) {
        stalls = await this.#afterSealed(projection.epoch, stalls, `append at ${address}`, b);
        continue;
      }
      throw this.#failure(outcome, `append at ${address}`);
    }
  }

  /** Whether `address` holds exactly `payload` (a read, which completes a half-written chain or fills a hole). */
  async #holds(address: number, payload: Uint8Array, b: CallBudget): Promise<boolean> {
    try {
      const entry = await this.#readLike(address, (p) => new ReadOp(p, address), 'read', b);
      return entry.kind === 'data' && Buffer.compare(entry.payload, payload) === 0;
    } catch (err) {
      if (err instanceof CorfuError && (err.code === 'ERR_UNWRITTEN' || err.code === 'ERR_TRIMMED')) return false;
      throw err;
    }
  }

  /**
   * The sequencer's TAIL asked under `epoch`, one request shared by every caller
   * of that epoch (a lower bound of its counter, which only grows). Undefined
   * when the sequencer is past `epoch`.
   */
  async #tailUnder(epoch: number, b: CallBudget): Promise<number | undefined> {
    let asked = this.#epochTail;
    if (asked === undefined || asked.epoch !== epoch) {
      // Shared by calls with different budgets: it runs on the client's default one.
      const tail = this.#withBudget(`TAIL at epoch ${epoch}`, undefined, async (own) => {
        const res = await this.#sequencerRequest({ type: 'request', op: 'TAIL', epoch }, own);
        if (res.status === 'ERR_SEALED') return undefined;
        if (res.status !== 'OK') throw new CorfuError(res.status, `TAIL at ${this.#projection.sequencer}: ${res.message}`);
        const t = (res as TailResponse).tail;
        this.#sawTail(epoch, t);
        return t;
      });
      asked = { epoch, tail };
      this.#epochTail = asked;
      tail.catch(() => {
        if (this.#epochTail === asked) this.#epochTail = undefined;
      });
    }
    const tail = await b.race(asked.tail);
    if (tail === undefined && this.#epochTail === asked) this.#epochTail = undefined;
    return tail;
  }

  /** Records that the log's tail under `epoch` is at least `tail`. */
  #sawTail(epoch: number, tail: number): void {
    // Two fields, not an { epoch, tail } object: every append moves it.
    if (epoch > this.#tailSeenEpoch || (epoch === this.#tailSeenEpoch && tail > this.#tailSeen)) {
      this.#tailSeenEpoch = epoch;
      this.#tailSeen = tail;
    }
  }

  /**
   * Whether `address` is below the log's tail: a token was handed out for it,
   * so an empty address there is a hole to wait for and fill. Asks the
   * sequencer for its tail now when what this client already saw under the
   * latest epoch does not settle it (an older answer is only a lower bound).
   */
  async #belowTail(address: number, b: CallBudget): Promise<boolean> {
    if (this.#tailSeenEpoch === this.#projection.epoch && address < this.#tailSeen) return true;
    return address < (await this.#freshTail(b));
  }

  /** One token range for `count` consecutive addresses, coalesced with every other waiter. */
  #token(count: number, b: CallBudget): Promise<Token> {
    return b.race(
      new Promise<Token>((resolve, reject) => {
        this.#tokenWaiters.push({ count, budget: b, resolve, reject });
        this.#scheduleTokens();
      }),
    );
  }

  #scheduleTokens(): void {
    if (this.#tokenScheduled || this.#tokensInFlight >= MAX_TOKEN_REQUESTS_IN_FLIGHT || this.#tokenWaiters.length === 0) return;
    this.#tokenScheduled = true;
    queueMicrotask(() => {
      this.#tokenScheduled = false;
      void this.#flushTokens();
    });
  }

  async #flushTokens(): Promise<void> {
    if (this.#tokensInFlight >= MAX_TOKEN_REQUESTS_IN_FLIGHT || this.#tokenWaiters.length === 0) return;
    // Take waiters up to MAX_TOKENS in all (a single waiter above it is refused by the sequencer).
    const batch: TokenWaiter[] = [];
    let total = 0;
    let latest = 0;
    while (this.#tokenWaiters.length > 0) {
      const w = this.#tokenWaiters[0]!;
      if (batch.length > 0 && total + w.count > MAX_TOKENS) break;
      this.#tokenWaiters.shift();
      batch.push(w);
      total += w.count;
      latest = Math.max(latest, w.budget.deadline);
    }
    this.#tokensInFlight++;
    // The shared request lives as long as its longest-lived waiter; each waiter still ends at its own deadline.
    const budget = this.#budgetUntil(`TOKEN(${total})`, latest);
    try {
      let stalls = 0;
      for (;;) {
        const epoch = this.#projection.epoch;
        const res = await this.#sequencerRequest({ type: 'request', op: 'TOKEN', epoch, count: total }, budget);
        if (res.status === 'ERR_SEALED') {
          stalls = await this.#afterSealed(epoch, stalls, 'TOKEN', budget);
          continue;
        }
        if (res.status !== 'OK') throw new CorfuError(res.status, `TOKEN(${total}) at ${this.#projection.sequencer}: ${res.message}`);
        const first = (res as TokenResponse).first;
        this.#sawTail(epoch, first + total);
        this.stats.tokenRequests++;
        this.stats.tokens += total;
        let next = first;
        for (const w of batch) {
          w.resolve({ first: next, epoch });
          next += w.count;
        }
        return;
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      budget.done();
      this.#tokensInFlight--;
      this.#scheduleTokens();
    }
  }

  // ---- read, fill -------------------------------------------------------------

  /**
   * The value at `address`. A hole below the tail (a token taken and never
   * written) is filled with junk after `holeTimeoutMs`; a half-written chain
   * is completed. At or above the tail: ERR_UNWRITTEN, nothing written. A
   * trimmed address throws ERR_TRIMMED.
   */
  async read(address: number, options?: CallOptions): Promise<Entry> {
    this.#checkOpen();
    checkAddress(address);
    return this.#withBudget(`read ${address}`, options, (b) => this.#readLike(address, (p) => new ReadOp(p, address), 'read', b));
  }

  /**
   * Fills `address` with junk unless a value already won its head; returns
   * the value it holds. At or above the tail: ERR_UNWRITTEN, nothing written.
   */
  async fill(address: number, options?: CallOptions): Promise<Entry> {
    this.#checkOpen();
    checkAddress(address);
    return this.#withBudget(`fill ${address}`, options, async (b) => {
      if (!(await this.#belowTail(address, b))) throw this.#pastTail('fill', address);
      return this.#readLike(address, (p) => new FillOp(p, address), 'fill', b);
    });
  }

  async #readLike(address: number, make: (p: Projection) => ReadOp | FillOp, what: string, b: CallBudget): Promise<Entry> {
    let stalls = 0;
    for (;;) {
      const projection = this.#projection;
      const outcome = await this.#drive(make(projection), b);
      if ('done' in outcome) {
        const r = outcome.done;
        if (r.kind === 'trimmed') throw new CorfuError('ERR_TRIMMED', `${what} ${address}: the address is trimmed`);
        return r;
      }
      if ('refreshProjection' in outcome) {
        stalls = await this.#afterSealed(projection.epoch, stalls, `${what} ${address}`, b);
        continue;
      }
      if ('newToken' in outcome) throw new InvariantError(`client: ${what} ${address} asked for a new token`);
      throw this.#failure(outcome, `${what} ${address}`);
    }
  }

  #pastTail(what: string, address: number): CorfuError {
    return new CorfuError('ERR_UNWRITTEN', `${what} ${address}: the address is at or above the tail (${this.#tailSeen}); nothing was written`);
  }

  /**
   * The entries at addresses `from` (inclusive) to `to` (exclusive), in
   * address order, reading up to `readAhead` addresses ahead concurrently.
   * Holes are filled (junk entries are yielded); a trimmed address throws
   * ERR_TRIMMED; an address at or above the tail throws ERR_UNWRITTEN. The
   * options apply to each read.
   */
  async *readRange(from: number, to: number, options?: CallOptions): AsyncGenerator<Entry, void, undefined> {
    this.#checkOpen();
    checkAddress(from, 'from');
    checkAddress(to, 'to');
    if (from > to) throw new CorfuError('ERR_BAD_REQUEST', `readRange: from (${from}) must not be above to (${to})`);
    const window: Array<Promise<Entry>> = [];
    let next = from;
    const refill = (): void => {
      while (next < to && window.length < this.readAhead) {
        const p = this.read(next++, options);
        p.catch(() => {}); // observed when it is yielded; an early stop must not leave it unhandled
        window.push(p);
      }
    };
    refill();
    while (window.length > 0) {
      const entry = await window.shift()!;
      refill();
      yield entry;
    }
  }

  /**
   * Every entry from `from` on, in address order, as it is appended: a
   * long-lived iterator for a consumer of the log. It waits for new entries
   * with a long poll on the sequencer (WAIT_TAIL), not by polling; reads
   * ahead up to `readAhead` entries when behind; rides out unit failures and
   * reconfigurations (it waits and reads again); and ends cleanly when
   * `signal` fires or the client closes. ERR_TRIMMED (the consumer fell
   * behind a trim) ends it with that error.
   */
  async *follow(from: number, options: FollowOptions = {}): AsyncGenerator<Entry, void, undefined> {
    this.#checkOpen();
    checkAddress(from, 'from');
    if (typeof options !== 'object' || options === null) throw new CorfuError('ERR_BAD_REQUEST', `follow: options must be an object, got ${describeValue(options)}`);
    const { signal, skipJunk = false } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new CorfuError('ERR_BAD_REQUEST', `follow: signal must be an AbortSignal, got ${describeValue(signal)}`);
    const pollMs = positive(options.pollMs, 10_000, 'pollMs');
    if (pollMs > MAX_WAIT_TAIL_MS) throw new CorfuError('ERR_BAD_REQUEST', `follow: pollMs must be at most ${MAX_WAIT_TAIL_MS}, got ${pollMs}`);
    // One signal for the reads and waits in flight (up to readAhead + 1 listeners: not a leak),
    // tied to the caller's.
    const inner = new AbortController();
    setMaxListeners(0, inner.signal);
    const forward = (): void => inner.abort(signal?.reason);
    if (signal?.aborted === true) forward();
    else signal?.addEventListener('abort', forward, { once: true });
    try {
      yield* this.#followFrom(from, skipJunk, pollMs, inner.signal);
    } finally {
      signal?.removeEventListener('abort', forward);
      inner.abort();
    }
  }

  async *#followFrom(from: number, skipJunk: boolean, pollMs: number, signal: AbortSignal): AsyncGenerator<Entry, void, undefined> {
    const stopped = (): boolean => signal.aborted || this.#closed;
    let next = from;
    /** A tail this follower knows of: every address below it was handed out. */
    let known = 0;
    /** Reads in flight for next, next+1, ... (read-ahead). */
    const window: Array<Promise<Entry>> = [];
    while (!stopped()) {
      try {
        if (window.length === 0 && next >= known) {
          known = Math.max(known, await this.#waitTail(next, pollMs, signal));
          continue;
        }
        while (window.length < this.readAhead && next + window.length < known) {
          const p = this.read(next + window.length, { signal });
          p.catch(() => {}); // observed in order; a stop or a retry must not leave it unhandled
          window.push(p);
        }
        const entry = await window[0]!;
        void window.shift(); // the promise just awaited
        next++;
        if (entry.kind === 'junk' && skipJunk) continue;
        yield entry;
      } catch (err) {
        if (stopped()) return;
        if (!(err instanceof CorfuError) || !FOLLOW_RETRYABLE.has(err.code)) throw err;
        // The reads ahead may have failed the same way: read them again after a pause.
        window.length = 0;
        await this.#pause(FOLLOW_RETRY_MS, signal);
      }
    }
  }

  /** The sequencer's tail once it is above `after`, or after `pollMs` whatever it is then (one long poll). */
  async #waitTail(after: number, pollMs: number, signal: AbortSignal): Promise<number> {
    return this.#withBudget('follow: wait for new entries', { deadlineMs: pollMs + this.timeoutMs, signal }, async (b) => {
      let stalls = 0;
      for (;;) {
        const epoch = this.#projection.epoch;
        const body: RequestBody = { type: 'request', op: 'WAIT_TAIL', epoch, after, waitMs: pollMs };
        const res = await this.#requestWithResends(
          () => this.#projection.sequencer,
          body,
          b,
          () => this.#refresh(b),
          pollMs + this.timeoutMs,
        );
        if (res.status === 'ERR_SEALED') {
          stalls = await this.#afterSealed(epoch, stalls, 'follow', b);
          continue;
        }
        if (res.status !== 'OK') throw new CorfuError(res.status, `WAIT_TAIL at ${this.#projection.sequencer}: ${res.message}`);
        // As tail(): a stale sequencer's answer counts only under the latest epoch.
        await this.#refreshFresh(b);
        if (this.#projection.epoch > epoch) continue;
        const tail = (res as TailResponse).tail;
        this.#sawTail(epoch, tail);
        return tail;
      }
    });
  }

  /** Waits `ms` on the runtime's clock, or less if `signal` fires. */
  #pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.#runtime.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.#runtime.clock.setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  // ---- trim, tail, ping ---------------------------------------------------------

  /** Trims `address` on every unit of its chain. */
  async trim(address: number, options?: CallOptions): Promise<void> {
    this.#checkOpen();
    checkAddress(address);
    return this.#withBudget(`trim ${address}`, options, async (b) => {
      let stalls = 0;
      for (;;) {
        const projection = this.#projection;
        const { chain, epoch } = chainTarget(projection, address);
        try {
          for (const unit of chain) {
            const res = await this.#unitCall(unit, { type: 'request', op: 'TRIM', epoch, addresses: [address] }, b);
            const status = codeName((res as TrimResponse).statuses[0]!);
            // ERR_TRIMMED: already trimmed there; ERR_UNWRITTEN is the engine's call, not ours.
            if (status !== 'OK' && status !== 'ERR_TRIMMED' && status !== 'ERR_UNWRITTEN') {
              throw new CorfuError(status, `trim ${address} at ${unit}: ${status}`);
            }
          }
          return;
        } catch (err) {
          if (!(err instanceof Sealed)) throw err;
          stalls = await this.#afterSealed(epoch, stalls, `trim ${address}`, b);
        }
      }
    });
  }

  /** Trims every address below `address` on every unit. */
  async prefixTrim(address: number, options?: CallOptions): Promise<void> {
    this.#checkOpen();
    checkAddress(address);
    return this.#withBudget(`prefixTrim ${address}`, options, async (b) => {
      let stalls = 0;
      for (;;) {
        const projection = this.#projection;
        try {
          await Promise.all(projection.units.map((unit) => this.#unitCall(unit, { type: 'request', op: 'PREFIX_TRIM', epoch: projection.epoch, address }, b)));
          return;
        } catch (err) {
          if (!(err instanceof Sealed)) throw err;
          stalls = await this.#afterSealed(projection.epoch, stalls, `prefixTrim ${address}`, b);
        }
      }
    });
  }

  /** The sequencer's tail (the next token), asked under the current epoch: every address handed out so far is below it. */
  async tail(options?: CallOptions): Promise<number> {
    this.#checkOpen();
    return this.#withBudget('tail', options, (b) => this.#freshTail(b));
  }

  /** The tail, from a TAIL request sent now under the latest epoch. */
  async #freshTail(b: CallBudget): Promise<number> {
    let stalls = 0;
    for (;;) {
      const epoch = this.#projection.epoch;
      // A replaced sequencer that the reconfiguration could not seal still answers at the
      // old epoch, below appends acknowledged under the new one: the answer counts only
      // if its epoch is still the latest (the simulator's `stale-sequencer-tail`).
      const latest = this.#latestSinceNow(b);
      const res = await this.#sequencerRequest({ type: 'request', op: 'TAIL', epoch }, b);
      if (res.status === 'ERR_SEALED') {
        stalls = await this.#afterSealed(epoch, stalls, 'tail', b);
        continue;
      }
      if (res.status !== 'OK') throw new CorfuError(res.status, `TAIL at ${this.#projection.sequencer}: ${res.message}`);
      await latest;
      if (this.#projection.epoch > epoch) continue;
      const tail = (res as TailResponse).tail;
      this.#sawTail(epoch, tail);
      return tail;
    }
  }

  /**
   * Checks that the sequencer and every unit of the projection answer (one
   * PING each, no resends): a readiness probe for a service. Throws
   * ERR_UNAVAILABLE naming every server that did not answer.
   */
  async ping(options?: CallOptions): Promise<void> {
    this.#checkOpen();
    return this.#withBudget('ping', options, async (b) => {
      const p = this.#projection;
      const servers = [p.sequencer, ...p.units];
      const silent: string[] = [];
      let cause: unknown;
      await Promise.all(
        servers.map(async (server) => {
          try {
            const res = await b.race(this.#connection(server).request({ type: 'request', op: 'PING', epoch: p.epoch }, { timeoutMs: b.requestTimeout(this.timeoutMs) }));
            if (res.status !== 'OK') throw new CorfuError(res.status, `PING at ${server}: ${res.message}`);
          } catch (err) {
            if (err instanceof CorfuError && (err.code === 'ERR_TIMEOUT' || err.code === 'ERR_ABORTED')) throw err;
            silent.push(server);
            cause ??= err;
          }
        }),
      );
      if (silent.length > 0) {
        // A request that timed out with the deadline is the deadline's, not a server's.
        b.checkDeadline();
        throw new CorfuError('ERR_UNAVAILABLE', `ping: ${silent.length} of ${servers.length} servers did not answer: ${silent.join(', ')}`, { cause });
      }
    });
  }

  /** Closes every connection and the store (when the client opened it). Outstanding calls fail with ERR_CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const [tokenWaiters, nativeWaiting] = [this.#tokenWaiters, this.#nativeWaiting];
    this.#tokenWaiters = [];
    this.#nativeWaiting = [];
    for (const w of tokenWaiters) w.reject(new CorfuError('ERR_CLOSED', 'the client was closed'));
    for (const w of nativeWaiting) w.fail(new CorfuError('ERR_CLOSED', 'the client was closed'));
    if (this.#nativeLayout?.handle !== undefined) this.#native?.forget(this.#nativeLayout.handle);
    this.#nativeLayout = undefined;
    this.#unwatch();
    const leases = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.all(leases.map((lease) => this.#pool.release(lease)));
    if (this.#ownsStore) await this.#store.close();
  }

  // ---- the driver -----------------------------------------------------------------

  /** The budget of a call from its options (deadlineMs, signal), checked. */
  #budgetFor(what: string, options: CallOptions | undefined): CallBudget {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new CorfuError('ERR_BAD_REQUEST', `${what}: options must be an object, got ${describeValue(options)}`);
    }
    const deadlineMs = positive(options?.deadlineMs, this.deadlineMs, 'deadlineMs');
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new CorfuError('ERR_BAD_REQUEST', `${what}: signal must be an AbortSignal, got ${describeValue(signal)}`);
    }
    return new CallBudget(this.#runtime.clock, what, deadlineMs, signal);
  }

  /** A budget shared by calls, running to the latest of their deadlines (`latest`, clock time) or at least 1 ms; each call still ends at its own. */
  #budgetUntil(what: string, latest: number): CallBudget {
    return new CallBudget(this.#runtime.clock, what, Math.max(1, Math.ceil(latest - this.#runtime.clock.now())));
  }

  /** Tells the call observer (metrics) that `call`, begun at `startedMs`, ended: failed with `err`, or not. */
  #heard(observer: CallObserver | undefined, call: ObservedCall, startedMs: number, failed: boolean, err?: unknown): void {
    if (observer !== undefined) heard(observer, this.#runtime.clock, call, startedMs, failed, err);
  }

  /** Runs `body` with the call's budget; releases the budget however it ends. */
  async #withBudget<T>(what: string, options: CallOptions | undefined, body: (b: CallBudget) => Promise<T>): Promise<T> {
    const b = this.#budgetFor(what, options);
    const space = what.indexOf(' ');
    const call = space < 0 ? what : what.slice(0, space);
    const observer = OBSERVED.has(call) ? this.#callObserver : undefined;
    const startedMs = observer === undefined ? 0 : this.#runtime.clock.now();
    try {
      // A signal aborted before the call: nothing starts (no token is asked for).
      b.check();
      const value = await b.race(body(b));
      this.#heard(observer, call as ObservedCall, startedMs, false);
      return value;
    } catch (err) {
      this.#heard(observer, call as ObservedCall, startedMs, true, err);
      throw err;
    } finally {
      b.done();
    }
  }

  async #drive<R>(op: Driveable<R>, b: CallBudget): Promise<TerminalAction<R>> {
    let actions = op.start();
    let resends = 0;
    /** When this operation found its address empty at the head, and how often it looked again since. */
    let holeSince: number | undefined;
    let rechecks = 0;
    for (;;) {
      let event: ChainEvent | undefined;
      for (const action of actions) {
        if ('send' in action) {
          const response = await this.#send(action.send, b);
          if (response === undefined) {
            // A unit that does not answer may have been replaced: if the layout moved on, go with it.
            await this.#refresh(b);
            if (this.#projection.epoch > action.send.epoch) return { refreshProjection: { epoch: action.send.epoch, unit: action.send.unit } };
            this.stats.resends++;
            await b.sleep(resendBackoffMs(resends++));
            event = { resend: true };
          } else {
            event = { response };
          }
        } else if ('wait' in action) {
          // The head is empty too: a hole only below the tail (a read never writes past it).
          if (holeSince === undefined) {
            if (!(await this.#belowTail(op.address, b))) throw this.#pastTail('read', op.address);
            holeSince = this.#runtime.clock.now();
          }
          // Ask the head again, every millisecond at first, then at doubling intervals: a writer
          // in flight usually lands within a few milliseconds (its sync), and a reader at the
          // tail (a follower) should see it then, not after the whole timeout.
          const left = holeSince + this.holeTimeoutMs - this.#runtime.clock.now();
          if (left > 0) {
            await b.sleep(Math.min(left, recheckDelayMs(rechecks++)));
            event = { timeout: 'recheck' };
          } else {
            this.stats.fills++;
            event = { timeout: 'hole-timeout' };
          }
        } else {
          return action;
        }
      }
      invariant(event !== undefined, 'client: a chain operation returned no action');
      this.#checkOpen();
      actions = op.step(event);
    }
  }

  /** One chain request, batched with the others to its unit; undefined when it got no answer (resend it). */
  async #send(req: UnitRequest, b: CallBudget): Promise<UnitResponse | undefined> {
    if (req.op !== 'READ') b.mayHaveEffect = true;
    else this.stats.unitReads++;
    let answer: EntryAnswer;
    try {
      const got = await b.race(this.#unlessLeft(req.unit, req.epoch, this.#batcher(req.unit).submit(req.op, req.epoch, req.address, req.payload)));
      if (got === LEFT) {
        b.lastUnavailable = new CorfuError('ERR_UNAVAILABLE', `${req.op} at ${req.unit}: the unit left the layout (epoch ${this.#projection.epoch})`);
        return undefined;
      }
      answer = got;
    } catch (err) {
      if (err instanceof CorfuError && (err.code === 'ERR_UNAVAILABLE' || err.code === 'ERR_OVERLOADED') && !this.#closed) {
        b.lastUnavailable = err;
        return undefined;
      }
      throw err;
    }
    const { unit, id } = req;
    if (answer.kind === 'error' && answer.response.status === 'ERR_OVERLOADED') {
      // The unit's queue is full: back off and send again, as for no answer.
      b.lastUnavailable = new CorfuError('ERR_OVERLOADED', `${req.op} at ${unit}: ${answer.response.message}`);
      return undefined;
    }
    if (answer.kind === 'error') {
      const res = answer.response;
      return res.status === 'ERR_SEALED' ? { unit, id, status: res.status, unitEpoch: res.unitEpoch } : { unit, id, status: res.status, message: res.message };
    }
    const status = codeName(answer.status);
    if (answer.kind === 'trim') return { unit, id, status };
    if (answer.kind === 'read') this.stats.readDeferrals += answer.deferrals;
    if (answer.kind === 'write') {
      const written = writtenAs(answer.written);
      return written === undefined ? { unit, id, status } : { unit, id, status, written };
    }
    if (status !== 'OK') return { unit, id, status };
    if (answer.entryKind === KIND.JUNK) return { unit, id, status, kind: 'junk' };
    // A copy: the decoded payload is a view into the received frame, which holds other entries too.
    return answer.payload === null ? { unit, id, status, kind: 'data' } : { unit, id, status, kind: 'data', payload: Uint8Array.prototype.slice.call(answer.payload) };
  }

  #batcher(hostPort: string): UnitBatcher {
    return this.#server(hostPort).batcher;
  }

  /**
   * A unit request whose OK is required; ERR_SEALED throws Sealed, other errors a CorfuError.
   * Without an answer it is resent until the deadline (TRIM and PREFIX_TRIM are idempotent):
   * a prefix trim that reached only some units leaves them disagreeing (the simulator's
   * `partial-prefix-trim`).
   */
  async #unitCall(unit: string, body: RequestBody, b: CallBudget): Promise<Response> {
    b.mayHaveEffect = true;
    const res = await this.#requestWithResends(() => unit, body, b);
    if (res.status === 'ERR_SEALED') throw new Sealed('ERR_SEALED', `${body.op} at ${unit}: ${res.message}`, { unitEpoch: res.unitEpoch });
    if (res.status !== 'OK') throw new CorfuError(res.status, `${body.op} at ${unit}: ${res.message}`);
    return res;
  }

  /**
   * A sequencer that does not answer may have been replaced: each resend goes to the
   * latest projection's (under the old epoch, which it refuses with ERR_SEALED: the
   * caller then retries under the new one).
   */
  #sequencerRequest(body: RequestBody, b: CallBudget): Promise<Response> {
    return this.#requestWithResends(
      () => this.#projection.sequencer,
      body,
      b,
      () => this.#refresh(b),
    );
  }

  /**
   * Sends `body` to the server `target()` names, resending it with backoff
   * while it gets no answer (ERR_UNAVAILABLE, ERR_OVERLOADED) until the
   * budget runs out; `beforeResend` runs before each resend.
   */
  async #requestWithResends(target: () => string, body: RequestBody, b: CallBudget, beforeResend?: () => Promise<void>, timeoutMs = this.timeoutMs): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      this.#checkOpen();
      try {
        const server = target();
        const res = await b.race(this.#unlessLeft(server, body.epoch, this.#connection(server).request(body, { timeoutMs: b.requestTimeout(timeoutMs) })));
        if (res !== LEFT) return res;
        throw new CorfuError('ERR_UNAVAILABLE', `${body.op} at ${server}: it left the layout (epoch ${this.#projection.epoch})`);
      } catch (err) {
        if (!(err instanceof CorfuError) || (err.code !== 'ERR_UNAVAILABLE' && err.code !== 'ERR_OVERLOADED') || this.#closed) throw err;
        b.lastUnavailable = err;
        this.stats.resends++;
        await beforeResend?.();
        await b.sleep(resendBackoffMs(attempt));
      }
    }
  }

  #connection(hostPort: string): Connection {
    return this.#server(hostPort).connection;
  }

  #server(hostPort: string): Lease {
    let lease = this.#servers.get(hostPort);
    if (lease === undefined) {
      lease = this.#pool.acquire(hostPort, { timeoutMs: this.timeoutMs, maxInFlight: this.maxInFlight, maxQueued: DEFAULT_MAX_QUEUED });
      this.#servers.set(hostPort, lease);
    }
    return lease;
  }

  // ---- projections ------------------------------------------------------------------

  /** Takes `p` if it is newer, and tells the requests waiting on servers it no longer has. */
  #adopt(p: Projection): void {
    if (p.epoch <= this.#projection.epoch) return;
    const old = this.#projection;
    this.#projection = p;
    // The native path's requests to a server the new layout drops end now, as #unlessLeft's do.
    if (this.#native) this.#native.abandon([old.sequencer, ...old.units].filter((s) => s !== p.sequencer && !p.units.includes(s)));
    for (const w of [...this.#onNewProjection]) w();
  }

  /**
   * `p`, or LEFT as soon as a newer projection than `epoch` no longer names `server` (a unit
   * or the sequencer it replaced): a hung server's request is then abandoned at once, not
   * after its timeout, and sent again under the new layout. (A waiter set, not Promise.race
   * on a shared promise: that would pile up one reaction per request between epochs.)
   */
  #unlessLeft<T>(server: string, epoch: number, p: Promise<T>): Promise<T | typeof LEFT> {
    return new Promise<T | typeof LEFT>((resolve, reject) => {
      const check = (): void => {
        const q = this.#projection;
        if (q.epoch <= epoch || q.sequencer === server || q.units.includes(server)) return;
        this.#onNewProjection.delete(check);
        this.stats.abandoned++;
        resolve(LEFT);
      };
      this.#onNewProjection.add(check);
      p.then(
        (value) => {
          this.#onNewProjection.delete(check);
          resolve(value);
        },
        (err: unknown) => {
          this.#onNewProjection.delete(check);
          reject(err);
        },
      );
    });
  }

  /**
   * After ERR_SEALED under `staleEpoch`: adopt a newer projection from the
   * store, or wait `refreshDelayMs` when there is none yet. Returns the new
   * count of refreshes without progress; throws ERR_SEALED past `maxRefreshes`.
   */
  async #afterSealed(staleEpoch: number, stalls: number, what: string, b: CallBudget): Promise<number> {
    this.#checkOpen();
    if (this.#projection.epoch > staleEpoch) return 0; // someone else refreshed already
    await this.#refresh(b);
    if (this.#projection.epoch > staleEpoch) return 0;
    if (stalls + 1 > this.maxRefreshes) {
      throw new CorfuError('ERR_SEALED', `${what}: sealed at epoch ${staleEpoch} and the store has no newer projection after ${stalls} tries`);
    }
    await b.sleep(this.refreshDelayMs);
    return stalls + 1;
  }

  /** Reloads the latest projection (one load at a time; concurrent callers share it). */
  #refresh(b: CallBudget): Promise<void> {
    if (this.#refreshing === undefined) {
      const seq = ++this.#loadsStarted;
      this.#refreshing = (async () => {
        try {
          const latest = await this.#store.latest();
          this.stats.refreshes++;
          if (latest !== undefined) this.#adopt(latest);
          this.#loadsDone = seq;
        } finally {
          this.#refreshing = undefined;
        }
      })();
    }
    return b.race(this.#refreshing);
  }

  /** Like #refresh, but the load it waits for starts after this call: it sees every projection stored before it. */
  async #refreshFresh(b: CallBudget): Promise<void> {
    const want = this.#loadsStarted + 1;
    while (this.#loadsDone < want) await this.#refresh(b);
  }

  /**
   * #refreshFresh started now, to be awaited after a sequencer's answer: the load sees
   * every projection stored before the call began, which is all a linearizable answer
   * needs (an append acknowledged under a newer epoch before the call began was acked
   * after that epoch's projection was stored). Running it beside the request, not after
   * the answer, saves a projection-store round trip per call. If the caller never awaits
   * it (the request failed), its failure is not an unhandled rejection.
   */
  #latestSinceNow(b: CallBudget): Promise<void> {
    const load = this.#refreshFresh(b);
    load.catch(() => undefined);
    return load;
  }

  // ---- helpers ------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new CorfuError('ERR_CLOSED', 'the client is closed');
  }

  /** A walk's WRITE at `unit` answered with an error the append machine ends on, as the append's failure. */
  #writeFailure(unit: string, code: ErrorCode, message: string | undefined, address: number): CorfuError {
    const failed = message === undefined ? { unit, op: 'WRITE', code } : { unit, op: 'WRITE', code, message };
    return this.#failure({ failed }, `append at ${address}`);
  }

  #failure(outcome: { readonly failed: { unit: string; op: string; code: ErrorCode; message?: string } } | TerminalAction<unknown>, what: string): CorfuError {
    // The callers handled every other outcome: one left over is a bug here, not a retryable failure.
    invariant('failed' in outcome, () => `client: ${what}: unhandled outcome ${JSON.stringify(Object.keys(outcome))}`);
    const f = outcome.failed;
    return new CorfuError(f.code, `${what}: ${f.op} at ${f.unit} failed with ${f.code}${f.message === undefined ? '' : ` (${f.message})`}`);
  }
}
