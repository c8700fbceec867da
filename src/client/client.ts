// CorfuClient: the library API over the network log (DESIGN.md "The client
// protocol"). This is the driver of the pure chain state machines of
// ./chain.ts: it owns the connections (src/transport), the timers and the
// retry policy.
//
//   const log = await CorfuClient.connect({ layout: 'file:/var/lib/corfu/layout' });
//   const address = await log.append(Buffer.from('hello'));
//   const entry = await log.read(address); // { address, kind: 'data', payload }
//   await log.close();
//
// - Tokens are coalesced: every append waiting while no TOKEN request is in
//   flight (at least: every append started in the same tick) shares one
//   TOKEN(n) request to the sequencer.
// - Each address is driven through AppendOp / ReadOp / FillOp. Their
//   requests to one unit in one event-loop turn go out as one vectored frame
//   (unit-batcher.ts) on one pipelined connection, opened lazily and shared
//   with the process's other clients (server-pool.ts).
// - `newToken` (a filler or a trim took the address): a new token, transparently.
// - `refreshProjection` (ERR_SEALED): reload the latest projection from the
//   store; when it is not newer yet (a reconfiguration in progress) wait a
//   little and try again, a bounded number of times, then fail ERR_SEALED.
//   An append keeps its address across a refresh (a half-written chain is
//   completed under the new epoch rather than abandoned).
// - A request lost to the transport (ERR_IO: timeout, dropped socket) is
//   resent a bounded number of times (every chain request is idempotent),
//   after a look at the store: a unit or sequencer that does not answer may
//   have been replaced by a reconfiguration, and then the new layout is used.
// - ERR_TRIMMED is terminal for reads; every failure is a CorfuError.

import { CorfuError, codeName } from '../../bindings/errors.js';
import type { ErrorCode } from '../../bindings/errors.js';
import { openProjectionStore } from '../layout/file-store.js';
import type { Projection } from '../layout/projection.js';
import type { ProjectionStore } from '../layout/store.js';
import { sleepOn } from '../transport/clock.js';
import type { Connection, RequestBody } from '../transport/connection.js';
import { KIND } from '../wire/messages.js';
import type { Response, TailResponse, TokenResponse, TrimResponse } from '../wire/messages.js';
import { AppendOp, FillOp, ReadOp, writtenAs } from './chain.js';
import type { AppendProgress, ChainAction, ChainEvent, TerminalAction, UnitRequest, UnitResponse } from './chain.js';
import { chainTarget } from './target.js';
import { nodeRuntime, type ClientRuntime } from './runtime.js';
import { ServerPool, sharedPool, type Lease } from './server-pool.js';
import type { EntryAnswer, UnitBatcher } from './unit-batcher.js';

export interface ConnectOptions {
  /**
   * The projection store: a layout URL (`file:DIR`), or a ProjectionStore the
   * caller opened (and closes: `close()` leaves it open).
   */
  readonly layout: string | ProjectionStore;
  /** Deadline of each request to a unit or the sequencer. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** How long a read waits on a hole before filling it. Default 200 ms. */
  readonly holeTimeoutMs?: number;
  /** How many addresses `readRange` reads ahead. Default 64. */
  readonly readAhead?: number;
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
  /**
   * Clock, timers and the way to reach servers. Default: Node's (TCP, the
   * system clock). The seeded simulator passes a virtual one.
   */
  readonly runtime?: ClientRuntime;
}

/** What `read` returns: the value at an address (a trimmed address throws ERR_TRIMMED instead). */
export type Entry =
  | { readonly address: number; readonly kind: 'data'; readonly payload: Uint8Array }
  | { readonly address: number; readonly kind: 'junk' };

/** The first of a range of tokens, and the epoch of the sequencer that handed it out. */
interface Token {
  readonly first: number;
  readonly epoch: number;
}

interface TokenWaiter {
  readonly count: number;
  readonly resolve: (token: Token) => void;
  readonly reject: (error: unknown) => void;
}

/** The most tokens one TOKEN request may take (the sequencer's limit). */
const MAX_TOKENS = 65_536;
/** Resends of one chain request lost to the transport before the operation fails. */
const MAX_RESENDS = 5;

interface Driveable<R> {
  start(): ChainAction<R>[];
  step(event: ChainEvent): ChainAction<R>[];
}


function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a positive integer, got ${value}`);
  return value;
}

function checkAddress(address: number, what = 'address'): void {
  if (!Number.isSafeInteger(address) || address < 0) throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a non-negative safe integer, got ${address}`);
}

/** The ERR_SEALED of the sequencer or a unit, as a CorfuError. */
class Sealed extends CorfuError {}

export class CorfuClient {
  readonly timeoutMs: number;
  readonly holeTimeoutMs: number;
  readonly readAhead: number;
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
  #refreshing: Promise<void> | undefined;
  /** Projection loads started, and the last one finished: #refreshFresh waits for a load that started after it. */
  #loadsStarted = 0;
  #loadsDone = 0;
  /** The TAIL of the sequencer of one epoch, shared by the appends that outlived an older one. */
  #epochTail: { readonly epoch: number; readonly tail: Promise<number | undefined> } | undefined;

  #tokenWaiters: TokenWaiter[] = [];
  #tokenScheduled = false;
  #tokenInFlight = false;

  /** Counters, for tests and observers. */
  readonly stats = { tokenRequests: 0, tokens: 0, refreshes: 0, newTokens: 0, resends: 0 };

  private constructor(store: ProjectionStore, ownsStore: boolean, projection: Projection, options: ConnectOptions) {
    this.#store = store;
    this.#ownsStore = ownsStore;
    this.#projection = projection;
    this.#runtime = options.runtime ?? nodeRuntime;
    this.timeoutMs = positive(options.timeoutMs, 5000, 'timeoutMs');
    this.holeTimeoutMs = positive(options.holeTimeoutMs, 200, 'holeTimeoutMs');
    this.readAhead = positive(options.readAhead, 64, 'readAhead');
    this.maxRefreshes = positive(options.maxRefreshes, 100, 'maxRefreshes');
    this.refreshDelayMs = positive(options.refreshDelayMs, 20, 'refreshDelayMs');
    this.maxInFlight = positive(options.maxInFlight, 256, 'maxInFlight');
    this.#pool = options.shareConnections === false ? new ServerPool(this.#runtime) : sharedPool(this.#runtime);
  }

  /** Reads the latest projection from the store named by `options.layout`. Connections open lazily. */
  static async connect(options: ConnectOptions): Promise<CorfuClient> {
    const owns = typeof options.layout === 'string';
    const store = typeof options.layout === 'string' ? await openProjectionStore(options.layout) : options.layout;
    const projection = await store.latest();
    if (projection === undefined) {
      if (owns) await store.close();
      throw new CorfuError('ERR_BAD_REQUEST', `projection store ${typeof options.layout === 'string' ? options.layout : ''} holds no projection (run corfu layout first)`);
    }
    return new CorfuClient(store, owns, projection, options);
  }

  /** The projection the client works under now. */
  get projection(): Projection {
    return this.#projection;
  }

  get epoch(): number {
    return this.#projection.epoch;
  }

  // ---- append ----------------------------------------------------------------

  /** Appends one entry; resolves with its address once every replica of its chain holds it. */
  async append(payload: Uint8Array): Promise<number> {
    this.#checkOpen();
    if (!(payload instanceof Uint8Array)) throw new CorfuError('ERR_BAD_REQUEST', 'append: payload must be a Uint8Array');
    return this.#appendAt(payload, await this.#token(1));
  }

  /** Appends several entries (one TOKEN for all of them, driven concurrently); resolves with their addresses in order. */
  async appendBatch(payloads: readonly Uint8Array[]): Promise<number[]> {
    this.#checkOpen();
    if (payloads.length === 0) return [];
    for (const p of payloads) {
      if (!(p instanceof Uint8Array)) throw new CorfuError('ERR_BAD_REQUEST', 'appendBatch: every payload must be a Uint8Array');
    }
    const { first, epoch } = await this.#token(payloads.length);
    return Promise.all(payloads.map((p, i) => this.#appendAt(p, { first: first + i, epoch })));
  }

  /**
   * Drives one append at `token.first`, across refreshes, until it is acknowledged.
   *
   * An address handed out under epoch e and written under a later one is kept
   * only if it is below the new sequencer's TAIL. At or above it, no sealed
   * unit counted it in the tail the new sequencer started from (our write
   * never reached a surviving head under e), so the new sequencer may hand it
   * out again and `tail()` may answer below it: take a new token instead
   * (found by the simulator, test/sim, seed 50).
   */
  async #appendAt(payload: Uint8Array, token: Token): Promise<number> {
    let address = token.first;
    let tokenEpoch = token.epoch;
    // What this append learned about its address, across the AppendOps of successive projections.
    let progress: AppendProgress = { head: undefined };
    const renew = async (): Promise<void> => {
      ({ first: address, epoch: tokenEpoch } = await this.#token(1));
      progress = { head: undefined };
    };
    let stalls = 0;
    for (;;) {
      const projection = this.#projection;
      if (projection.epoch > tokenEpoch) {
        const tail = await this.#tailUnder(projection.epoch);
        if (tail === undefined) {
          // The sequencer is past this projection already: find the newer one.
          stalls = await this.#afterSealed(projection.epoch, stalls, `append at ${address}`);
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
      const outcome = await this.#drive(op);
      if ('done' in outcome) return outcome.done.address;
      if ('newToken' in outcome) {
        this.stats.newTokens++;
        await renew();
        continue;
      }
      if ('refreshProjection' in outcome) {
        stalls = await this.#afterSealed(projection.epoch, stalls, `append at ${address}`);
        continue;
      }
      throw this.#failure(outcome, `append at ${address}`);
    }
  }

  /**
   * The sequencer's TAIL asked under `epoch`, one request shared by every caller
   * of that epoch (a lower bound of its counter, which only grows). Undefined
   * when the sequencer is past `epoch`.
   */
  async #tailUnder(epoch: number): Promise<number | undefined> {
    let asked = this.#epochTail;
    if (asked === undefined || asked.epoch !== epoch) {
      const tail = (async (): Promise<number | undefined> => {
        const res = await this.#sequencerRequest({ type: 'request', op: 'TAIL', epoch });
        if (res.status === 'ERR_SEALED') return undefined;
        if (res.status !== 'OK') throw new CorfuError(res.status, `TAIL at ${this.#projection.sequencer}: ${res.message}`);
        return (res as TailResponse).tail;
      })();
      asked = { epoch, tail };
      this.#epochTail = asked;
      tail.catch(() => {
        if (this.#epochTail === asked) this.#epochTail = undefined;
      });
    }
    const tail = await asked.tail;
    if (tail === undefined && this.#epochTail === asked) this.#epochTail = undefined;
    return tail;
  }

  /** One token range for `count` consecutive addresses, coalesced with every other waiter. */
  #token(count: number): Promise<Token> {
    return new Promise<Token>((resolve, reject) => {
      this.#tokenWaiters.push({ count, resolve, reject });
      this.#scheduleTokens();
    });
  }

  #scheduleTokens(): void {
    if (this.#tokenScheduled || this.#tokenInFlight || this.#tokenWaiters.length === 0) return;
    this.#tokenScheduled = true;
    queueMicrotask(() => {
      this.#tokenScheduled = false;
      void this.#flushTokens();
    });
  }

  async #flushTokens(): Promise<void> {
    if (this.#tokenInFlight || this.#tokenWaiters.length === 0) return;
    // Take waiters up to MAX_TOKENS in all (a single waiter above it is refused by the sequencer).
    const batch: TokenWaiter[] = [];
    let total = 0;
    while (this.#tokenWaiters.length > 0) {
      const w = this.#tokenWaiters[0]!;
      if (batch.length > 0 && total + w.count > MAX_TOKENS) break;
      this.#tokenWaiters.shift();
      batch.push(w);
      total += w.count;
    }
    this.#tokenInFlight = true;
    try {
      let first: number;
      let tokenEpoch: number;
      let stalls = 0;
      for (;;) {
        const epoch = this.#projection.epoch;
        const res = await this.#sequencerRequest({ type: 'request', op: 'TOKEN', epoch, count: total });
        if (res.status === 'ERR_SEALED') {
          stalls = await this.#afterSealed(epoch, stalls, 'TOKEN');
          continue;
        }
        if (res.status !== 'OK') throw new CorfuError(res.status, `TOKEN(${total}) at ${this.#projection.sequencer}: ${res.message}`);
        first = (res as TokenResponse).first;
        tokenEpoch = epoch;
        break;
      }
      this.stats.tokenRequests++;
      this.stats.tokens += total;
      let next = first;
      for (const w of batch) {
        w.resolve({ first: next, epoch: tokenEpoch });
        next += w.count;
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#tokenInFlight = false;
      this.#scheduleTokens();
    }
  }

  // ---- read, fill -------------------------------------------------------------

  /**
   * The value at `address`. A hole (a token taken and never written) is
   * filled with junk after `holeTimeoutMs`; a half-written chain is completed.
   * A trimmed address throws ERR_TRIMMED.
   */
  async read(address: number): Promise<Entry> {
    this.#checkOpen();
    checkAddress(address);
    return this.#readLike(address, (p) => new ReadOp(p, address), 'read');
  }

  /** Fills `address` with junk unless a value already won its head; returns the value it holds. */
  async fill(address: number): Promise<Entry> {
    this.#checkOpen();
    checkAddress(address);
    return this.#readLike(address, (p) => new FillOp(p, address), 'fill');
  }

  async #readLike(address: number, make: (p: Projection) => ReadOp | FillOp, what: string): Promise<Entry> {
    let stalls = 0;
    for (;;) {
      const projection = this.#projection;
      const outcome = await this.#drive(make(projection));
      if ('done' in outcome) {
        const r = outcome.done;
        if (r.kind === 'trimmed') throw new CorfuError('ERR_TRIMMED', `${what} ${address}: the address is trimmed`);
        return r;
      }
      if ('refreshProjection' in outcome) {
        stalls = await this.#afterSealed(projection.epoch, stalls, `${what} ${address}`);
        continue;
      }
      if ('newToken' in outcome) throw new Error('corfu client: a read asked for a new token');
      throw this.#failure(outcome, `${what} ${address}`);
    }
  }

  /**
   * The entries at addresses `from` (inclusive) to `to` (exclusive), in
   * address order, reading up to `readAhead` addresses ahead concurrently.
   * Holes are filled (junk entries are yielded); a trimmed address throws ERR_TRIMMED.
   */
  async *readRange(from: number, to: number): AsyncGenerator<Entry, void, undefined> {
    this.#checkOpen();
    checkAddress(from, 'from');
    checkAddress(to, 'to');
    const window: Array<Promise<Entry>> = [];
    let next = from;
    const refill = (): void => {
      while (next < to && window.length < this.readAhead) {
        const p = this.read(next++);
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

  // ---- trim, tail ---------------------------------------------------------------

  /** Trims `address` on every unit of its chain. */
  async trim(address: number): Promise<void> {
    this.#checkOpen();
    checkAddress(address);
    let stalls = 0;
    for (;;) {
      const projection = this.#projection;
      const { chain, epoch } = chainTarget(projection, address);
      try {
        for (const unit of chain) {
          const res = await this.#unitCall(unit, { type: 'request', op: 'TRIM', epoch, addresses: [address] });
          const status = codeName((res as TrimResponse).statuses[0] ?? 0);
          // ERR_TRIMMED: already trimmed there; ERR_UNWRITTEN is the engine's call, not ours.
          if (status !== 'OK' && status !== 'ERR_TRIMMED' && status !== 'ERR_UNWRITTEN') {
            throw new CorfuError(status, `trim ${address} at ${unit}: ${status}`);
          }
        }
        return;
      } catch (err) {
        if (!(err instanceof Sealed)) throw err;
        stalls = await this.#afterSealed(epoch, stalls, `trim ${address}`);
      }
    }
  }

  /** Trims every address below `address` on every unit. */
  async prefixTrim(address: number): Promise<void> {
    this.#checkOpen();
    checkAddress(address);
    let stalls = 0;
    for (;;) {
      const projection = this.#projection;
      try {
        await Promise.all(
          projection.units.map((unit) => this.#unitCall(unit, { type: 'request', op: 'PREFIX_TRIM', epoch: projection.epoch, address })),
        );
        return;
      } catch (err) {
        if (!(err instanceof Sealed)) throw err;
        stalls = await this.#afterSealed(projection.epoch, stalls, `prefixTrim ${address}`);
      }
    }
  }

  /** The sequencer's tail (the next token), asked under the current epoch: every address handed out so far is below it. */
  async tail(): Promise<number> {
    this.#checkOpen();
    let stalls = 0;
    for (;;) {
      const epoch = this.#projection.epoch;
      const res = await this.#sequencerRequest({ type: 'request', op: 'TAIL', epoch });
      if (res.status === 'ERR_SEALED') {
        stalls = await this.#afterSealed(epoch, stalls, 'tail');
        continue;
      }
      if (res.status !== 'OK') throw new CorfuError(res.status, `TAIL at ${this.#projection.sequencer}: ${res.message}`);
      // A replaced sequencer that the reconfiguration could not seal still answers at the
      // old epoch, below appends acknowledged under the new one: the answer counts only
      // if its epoch is still the latest (found by the simulator, test/sim, seed 3254 with --ops 400).
      await this.#refreshFresh();
      if (this.#projection.epoch > epoch) continue;
      return (res as TailResponse).tail;
    }
  }

  /** Closes every connection and the store. Outstanding calls fail with ERR_IO. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const waiters = this.#tokenWaiters;
    this.#tokenWaiters = [];
    for (const w of waiters) w.reject(new CorfuError('ERR_CLOSED', 'the client was closed'));
    const leases = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.all(leases.map((lease) => this.#pool.release(lease)));
    if (this.#ownsStore) await this.#store.close();
  }

  // ---- the driver -----------------------------------------------------------------

  async #drive<R>(op: Driveable<R>): Promise<TerminalAction<R>> {
    let actions = op.start();
    let resends = 0;
    for (;;) {
      let event: ChainEvent | undefined;
      for (const action of actions) {
        if ('send' in action) {
          const response = await this.#send(action.send);
          if (response === undefined) {
            // A unit that does not answer may have been replaced: if the layout moved on, go with it.
            await this.#refresh();
            if (this.#projection.epoch > action.send.epoch) return { refreshProjection: { epoch: action.send.epoch, unit: action.send.unit } };
            if (++resends > MAX_RESENDS) {
              return { failed: { unit: action.send.unit, op: action.send.op, code: 'ERR_IO' } };
            }
            this.stats.resends++;
            await this.#sleep(Math.min(1000, 10 * 2 ** resends));
            event = { resend: true };
          } else {
            event = { response };
          }
        } else if ('wait' in action) {
          await this.#sleep(this.holeTimeoutMs);
          event = { timeout: 'hole-timeout' };
        } else {
          return action;
        }
      }
      if (event === undefined) throw new Error('corfu client: a chain operation returned no action');
      this.#checkOpen();
      actions = op.step(event);
    }
  }

  /** One chain request, batched with the others to its unit; undefined when it was lost to the transport (resend it). */
  async #send(req: UnitRequest): Promise<UnitResponse | undefined> {
    let answer: EntryAnswer;
    try {
      answer = await this.#batcher(req.unit).submit(req.op, req.epoch, req.address, req.payload);
    } catch (err) {
      if (err instanceof CorfuError && (err.code === 'ERR_IO' || err.code === 'ERR_OVERLOADED') && !this.#closed) return undefined;
      throw err;
    }
    const { unit, id } = req;
    if (answer.kind === 'error') {
      const res = answer.response;
      return res.status === 'ERR_SEALED' ? { unit, id, status: res.status, unitEpoch: res.unitEpoch } : { unit, id, status: res.status };
    }
    const status = codeName(answer.status);
    if (answer.kind === 'trim') return { unit, id, status };
    if (answer.kind === 'write') {
      const written = writtenAs(answer.written);
      return written === undefined ? { unit, id, status } : { unit, id, status, written };
    }
    if (status !== 'OK') return { unit, id, status };
    if (answer.entryKind === KIND.JUNK) return { unit, id, status, kind: 'junk' };
    // A copy: the decoded payload is a view into the received frame, which holds other entries too.
    return answer.payload === null
      ? { unit, id, status, kind: 'data' }
      : { unit, id, status, kind: 'data', payload: Uint8Array.prototype.slice.call(answer.payload) };
  }

  #batcher(hostPort: string): UnitBatcher {
    return this.#server(hostPort).batcher;
  }

  /**
   * A unit request whose OK is required; ERR_SEALED throws Sealed, other errors a CorfuError.
   * Lost to the transport, it is resent (TRIM and PREFIX_TRIM are idempotent) a bounded
   * number of times: a prefix trim that reached only some units leaves them disagreeing
   * (found by the simulator, test/sim, seed 2459).
   */
  async #unitCall(unit: string, body: RequestBody): Promise<Response> {
    const res = await this.#requestWithResends(() => unit, body);
    if (res.status === 'ERR_SEALED') throw new Sealed('ERR_SEALED', `${body.op} at ${unit}: ${res.message}`, { unitEpoch: res.unitEpoch });
    if (res.status !== 'OK') throw new CorfuError(res.status, `${body.op} at ${unit}: ${res.message}`);
    return res;
  }

  /**
   * A sequencer that does not answer may have been replaced: each resend goes to the
   * latest projection's (under the old epoch, which it refuses with ERR_SEALED: the
   * caller then retries under the new one).
   */
  #sequencerRequest(body: RequestBody): Promise<Response> {
    return this.#requestWithResends(() => this.#projection.sequencer, body, () => this.#refresh());
  }

  /**
   * Sends `body` to the server `target()` names, resending it when the transport
   * loses it (ERR_IO, ERR_OVERLOADED) up to MAX_RESENDS times with backoff;
   * `beforeResend` runs before each resend.
   */
  async #requestWithResends(target: () => string, body: RequestBody, beforeResend?: () => Promise<void>): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      this.#checkOpen();
      try {
        return await this.#connection(target()).request(body, { timeoutMs: this.timeoutMs });
      } catch (err) {
        if (!(err instanceof CorfuError) || (err.code !== 'ERR_IO' && err.code !== 'ERR_OVERLOADED') || this.#closed || attempt > MAX_RESENDS) throw err;
        this.stats.resends++;
        await beforeResend?.();
        await this.#sleep(Math.min(1000, 10 * 2 ** attempt));
      }
    }
  }

  #connection(hostPort: string): Connection {
    return this.#server(hostPort).connection;
  }

  #server(hostPort: string): Lease {
    let lease = this.#servers.get(hostPort);
    if (lease === undefined) {
      lease = this.#pool.acquire(hostPort, { timeoutMs: this.timeoutMs, maxInFlight: this.maxInFlight, maxQueued: 1 << 16 });
      this.#servers.set(hostPort, lease);
    }
    return lease;
  }

  // ---- projections ------------------------------------------------------------------

  /**
   * After ERR_SEALED under `staleEpoch`: adopt a newer projection from the
   * store, or wait `refreshDelayMs` when there is none yet. Returns the new
   * count of refreshes without progress; throws ERR_SEALED past `maxRefreshes`.
   */
  async #afterSealed(staleEpoch: number, stalls: number, what: string): Promise<number> {
    this.#checkOpen();
    if (this.#projection.epoch > staleEpoch) return 0; // someone else refreshed already
    await this.#refresh();
    if (this.#projection.epoch > staleEpoch) return 0;
    if (stalls + 1 > this.maxRefreshes) {
      throw new CorfuError('ERR_SEALED', `${what}: sealed at epoch ${staleEpoch} and the store has no newer projection after ${stalls} tries`);
    }
    await this.#sleep(this.refreshDelayMs);
    return stalls + 1;
  }

  /** Reloads the latest projection (one load at a time; concurrent callers share it). */
  #refresh(): Promise<void> {
    if (this.#refreshing === undefined) {
      const seq = ++this.#loadsStarted;
      this.#refreshing = (async () => {
        try {
          const latest = await this.#store.latest();
          this.stats.refreshes++;
          if (latest !== undefined && latest.epoch > this.#projection.epoch) this.#projection = latest;
          this.#loadsDone = seq;
        } finally {
          this.#refreshing = undefined;
        }
      })();
    }
    return this.#refreshing;
  }

  /** Like #refresh, but the load it waits for starts after this call: it sees every projection stored before it. */
  async #refreshFresh(): Promise<void> {
    const want = this.#loadsStarted + 1;
    while (this.#loadsDone < want) await this.#refresh();
  }

  // ---- helpers ------------------------------------------------------------------------

  #sleep(ms: number): Promise<void> {
    return sleepOn(this.#runtime.clock, ms);
  }

  #checkOpen(): void {
    if (this.#closed) throw new CorfuError('ERR_CLOSED', 'the client is closed');
  }

  #failure(outcome: { readonly failed: { unit: string; op: string; code: ErrorCode } } | TerminalAction<unknown>, what: string): CorfuError {
    if ('failed' in outcome) {
      const f = outcome.failed;
      return new CorfuError(f.code, `${what}: ${f.op} at ${f.unit} failed with ${f.code}`);
    }
    return new CorfuError('ERR_IO', `${what}: unexpected outcome`);
  }
}
