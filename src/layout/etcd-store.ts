// The projection store in etcd v3: `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`.
//
// Keys: PREFIX/epochs/<epoch, 16 digits, zero-padded>, one per epoch, its
// value the projection's canonical JSON. 16 digits hold every safe integer,
// so key order is epoch order and latest() is one range read sorted
// descending with limit 1.
//
// Write-once: propose is one transaction,
//     if createRevision(key) == 0 then put(key, proposal) else get(key)
// so exactly one proposal creates the key, and a loser reads the winner in
// the same transaction. (A key deleted by hand in etcd could be filled again:
// nothing in Corfu deletes one.)
//
// No leases: a projection must outlive whoever proposed it, so the lease-loss
// issues of etcd clients do not apply. The watch (etcd-watch.ts) drives its
// own gRPC stream rather than the etcd3 library's watch manager, so it owns
// every reconnect and re-read.
//
// Errors: an etcd that cannot be reached (refused, no answer by the deadline)
// is ERR_UNAVAILABLE with the gRPC error as its cause; a proposal whose answer
// did not come back in time is ERR_TIMEOUT (it may have been stored: propose
// again, and an identical winner is yours). A value that is not a valid
// projection is ERR_CORRUPT, as in the file store. Other etcd refusals
// (permissions, quota) are ERR_IO.

import { noop, retry, handleWhen } from 'cockatiel';
import { ClientClosedError, Etcd3, GRPCDeadlineExceededError, castGrpcError, isRecoverableError, type IKeyValue } from 'etcd3';

import { CorfuError } from '../../bindings/errors.js';
import { EtcdWatch } from './etcd-watch.js';
import { canonicalJson, parseProjection, projectionProblems, type Projection } from './projection.js';
import { checkStatusName, type ProjectionStore, type ProposeResult, type WatchErrorHandler } from './store.js';
import { WatchCursor } from './watch-cursor.js';

const EPOCH_DIGITS = 16;
/** Projections read per request when a watch catches up after a gap. */
const RESYNC_PAGE = 64;
export const DEFAULT_ETCD_TIMEOUT_MS = 5000;

export interface EtcdStoreOptions {
  /** The deadline of each request to etcd. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /**
   * TLS (https) to every endpoint: `ca` the etcd certificate chains to (default: the
   * public roots), `cert` and `key` when etcd checks client certificates.
   */
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
  /**
   * Tests only: called with the revision a watch stream is about to start
   * from, before it is opened (to compact etcd past it, for one).
   */
  readonly beforeWatch?: (startRevision: string) => Promise<void>;
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) {
    throw new CorfuError('ERR_BAD_REQUEST', `epoch must be a safe integer >= 1, got ${String(epoch)}`);
  }
}

/** One etcd answer: a projection, or why the slot holds none. */
export type Slot = { readonly epoch: number; readonly projection: Projection } | { readonly epoch: number; readonly corrupt: CorfuError };

export class EtcdProjectionStore implements ProjectionStore {
  /** The URL this store was opened with (for messages). */
  readonly url: string;
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly timeoutMs: number;
  /** @internal */
  readonly client: Etcd3;
  /** @internal */
  readonly beforeWatch: ((startRevision: string) => Promise<void>) | undefined;
  readonly #epochsDir: string;
  readonly #watches = new Set<() => void>();
  #closed = false;

  constructor(endpoints: readonly string[], prefix: string, options: EtcdStoreOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new CorfuError('ERR_BAD_REQUEST', `timeoutMs must be a whole number of milliseconds >= 1, got ${String(timeoutMs)}`);
    if (endpoints.length === 0) throw new CorfuError('ERR_BAD_REQUEST', 'an etcd store needs at least one endpoint');
    this.endpoints = [...endpoints];
    this.prefix = prefix;
    this.url = `etcd://${endpoints.join(',')}/${prefix}`;
    this.timeoutMs = timeoutMs;
    this.beforeWatch = options.beforeWatch;
    this.#epochsDir = `${prefix}/epochs/`;
    const tls = options.tls;
    if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) throw new CorfuError('ERR_BAD_REQUEST', 'etcd TLS: a client certificate needs its key (and a key its certificate)');
    const pem = (v: string | Buffer | undefined): Buffer | undefined => (v === undefined ? undefined : Buffer.from(v));
    this.client = new Etcd3({
      hosts: endpoints.map((e) => `${tls === undefined ? 'http' : 'https'}://${e}`),
      // grpc's createSsl takes null for "the public roots".
      ...(tls === undefined || (tls.ca === undefined && tls.cert === undefined)
        ? {}
        : {
            credentials: {
              rootCertificate: pem(tls.ca) as Buffer,
              ...(tls.cert === undefined ? {} : { certChain: pem(tls.cert)!, privateKey: pem(tls.key)! }),
            },
          }),
      dialTimeout: timeoutMs,
      // Each call has its own deadline; a watch stream has none.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      faultHandling: {
        // No circuit breaker: after an etcd restart the next call goes straight
        // to it instead of failing fast for seconds. A call that fails on one
        // member is tried once on each other member.
        host: () => noop,
        global: endpoints.length > 1 ? retry(handleWhen(isRecoverableError), { maxAttempts: endpoints.length - 1 }) : noop,
      },
      grpcOptions: {
        // A watch stream to a member that vanished without a reset (power
        // loss, partition) is detected by keepalive pings instead of hanging.
        // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
    });
  }

  /** The key of an epoch's slot. */
  epochKey(epoch: number): string {
    return `${this.#epochsDir}${String(epoch).padStart(EPOCH_DIGITS, '0')}`;
  }

  /** The epoch a slot key names, or undefined for any other key under the prefix. */
  epochOfKey(key: string): number | undefined {
    if (!key.startsWith(this.#epochsDir)) return undefined;
    const digits = key.slice(this.#epochsDir.length);
    if (!/^[0-9]{16}$/.test(digits)) return undefined;
    const epoch = Number(digits);
    return Number.isSafeInteger(epoch) && epoch >= 1 ? epoch : undefined;
  }

  /** The key range holding every slot: [PREFIX/epochs/, PREFIX/epochs0). */
  get epochsRange(): { readonly start: string; readonly end: string } {
    return { start: this.#epochsDir, end: `${this.#epochsDir.slice(0, -1)}0` };
  }

  async get(epoch: number): Promise<Projection | undefined> {
    this.#checkOpen();
    checkEpoch(epoch);
    const key = this.epochKey(epoch);
    let kvs: IKeyValue[];
    try {
      kvs = (await this.client.get(key).exec()).kvs;
    } catch (err) {
      throw this.failure(`cannot read ${key}`, err, 'read');
    }
    return kvs[0] === undefined ? undefined : this.#projectionOf(epoch, kvs[0]);
  }

  async latest(): Promise<Projection | undefined> {
    this.#checkOpen();
    const slot = (await this.readLatest()).slot;
    if (slot === undefined) return undefined;
    if ('corrupt' in slot) throw slot.corrupt;
    return slot.projection;
  }

  async propose(projection: Projection): Promise<ProposeResult> {
    this.#checkOpen();
    const proposal = parseProjection(projection);
    const key = this.epochKey(proposal.epoch);
    let result;
    try {
      result = await this.client
        .if(key, 'Create', '==', 0)
        .then(this.client.put(key).value(canonicalJson(proposal)))
        .else(this.client.get(key))
        .commit();
    } catch (err) {
      throw this.failure(`cannot propose epoch ${proposal.epoch}`, err, 'propose');
    }
    if (result.succeeded) return { accepted: true, winner: proposal };
    const kv = result.responses[0]?.response_range?.kvs[0];
    if (kv === undefined) throw new CorfuError('ERR_IO', `projection store ${this.url}: the proposal for epoch ${proposal.epoch} lost, but etcd returned no winner`);
    return { accepted: false, winner: this.#projectionOf(proposal.epoch, kv) };
  }

  watch(onProjection: (projection: Projection) => void, onError?: WatchErrorHandler): () => void {
    this.#checkOpen();
    const loop = new EtcdWatch(this, new WatchCursor(onProjection, onError));
    const unsubscribe = (): void => {
      loop.stop();
      this.#watches.delete(unsubscribe);
    };
    this.#watches.add(unsubscribe);
    loop.start();
    return unsubscribe;
  }

  /** PREFIX/status/NAME: outside PREFIX/epochs/, so no slot read or watch sees it. */
  async putStatus(name: string, value: unknown): Promise<void> {
    this.#checkOpen();
    const key = `${this.prefix}/status/${checkStatusName(name)}`;
    try {
      await this.client.put(key).value(JSON.stringify(value)).exec();
    } catch (err) {
      throw this.failure(`cannot write ${key}`, err, 'read');
    }
  }

  async getStatus(name: string): Promise<unknown> {
    this.#checkOpen();
    const key = `${this.prefix}/status/${checkStatusName(name)}`;
    let kvs: IKeyValue[];
    try {
      kvs = (await this.client.get(key).exec()).kvs;
    } catch (err) {
      throw this.failure(`cannot read ${key}`, err, 'read');
    }
    if (kvs[0] === undefined) return undefined;
    try {
      return JSON.parse(kvs[0].value.toString()) as unknown;
    } catch {
      throw new CorfuError('ERR_CORRUPT', `projection store ${this.url}: ${key} is not JSON`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of [...this.#watches]) unsubscribe();
    this.client.close();
  }

  // ---- for the watch ---------------------------------------------------------------

  /** @internal The highest slot (skipping keys that are not slots) and the revision it was read at. */
  async readLatest(): Promise<{ slot: Slot | undefined; revision: string }> {
    const { start } = this.epochsRange;
    let end = this.epochsRange.end;
    for (;;) {
      let response;
      try {
        response = await this.client.getAll().inRange({ start, end }).sort('Key', 'Descend').limit(1).exec();
      } catch (err) {
        throw this.failure('cannot read the latest projection', err, 'read');
      }
      const kv = response.kvs[0];
      if (kv === undefined) return { slot: undefined, revision: response.header.revision };
      const key = kv.key.toString('utf8');
      const epoch = this.epochOfKey(key);
      // A key that is not a slot (put there by hand) is passed over, as the file store ignores stray files.
      if (epoch === undefined) {
        end = key;
        continue;
      }
      return { slot: this.#slotOf(epoch, kv), revision: response.header.revision };
    }
  }

  /** @internal Up to RESYNC_PAGE slots above `epoch`, in epoch order, the revision they were read at, and whether more may follow. */
  async readAbove(epoch: number): Promise<{ slots: Slot[]; revision: string; more: boolean }> {
    let response;
    try {
      response = await this.client
        .getAll()
        .inRange({ start: this.epochKey(epoch + 1), end: this.epochsRange.end })
        .sort('Key', 'Ascend')
        .limit(RESYNC_PAGE)
        .exec();
    } catch (err) {
      throw this.failure(`cannot read the projections above epoch ${epoch}`, err, 'read');
    }
    const slots: Slot[] = [];
    for (const kv of response.kvs) {
      const e = this.epochOfKey(kv.key.toString('utf8'));
      if (e !== undefined) slots.push(this.#slotOf(e, kv));
    }
    return { slots, revision: response.header.revision, more: response.more };
  }

  /** @internal The slot a key-value holds, or undefined when the key is not a slot. */
  slotOfKeyValue(kv: IKeyValue): Slot | undefined {
    const epoch = this.epochOfKey(kv.key.toString('utf8'));
    return epoch === undefined ? undefined : this.#slotOf(epoch, kv);
  }

  /** @internal An etcd failure as a CorfuError (see the header). */
  failure(what: string, err: unknown, op: 'read' | 'propose' | 'watch'): CorfuError {
    if (err instanceof CorfuError) return err;
    // Unary calls come back typed by the library; a stream's errors are gRPC's own.
    if (err instanceof Error && err.constructor === Error && typeof (err as { code?: unknown }).code === 'number') err = castGrpcError(err);
    const detail = err instanceof Error ? err.message : String(err);
    const where = `projection store ${this.url}`;
    if (err instanceof ClientClosedError) return new CorfuError('ERR_CLOSED', `${where} is closed`, { cause: err });
    if (op === 'propose' && err instanceof GRPCDeadlineExceededError) {
      return new CorfuError('ERR_TIMEOUT', `${where}: ${what}: no answer within ${this.timeoutMs} ms; it may have been stored, so propose it again (an identical winner is yours) (${detail})`, {
        cause: err,
      });
    }
    if (typeof err === 'object' && err !== null && isRecoverableError(err as Error)) {
      return new CorfuError('ERR_UNAVAILABLE', `${where}: ${what}: etcd at ${this.endpoints.join(',')} is not reachable (${detail})`, { cause: err });
    }
    return new CorfuError('ERR_IO', `${where}: ${what}: ${detail}`, { cause: err });
  }

  #slotOf(epoch: number, kv: IKeyValue): Slot {
    try {
      return { epoch, projection: this.#projectionOf(epoch, kv) };
    } catch (err) {
      if (err instanceof CorfuError && err.code === 'ERR_CORRUPT') return { epoch, corrupt: err };
      throw err;
    }
  }

  #projectionOf(epoch: number, kv: IKeyValue): Projection {
    const key = kv.key.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(kv.value.toString('utf8'));
    } catch (err) {
      throw new CorfuError('ERR_CORRUPT', `projection at etcd key ${key} is not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const problems = projectionProblems(value);
    if (problems.length > 0) {
      throw new CorfuError('ERR_CORRUPT', `projection at etcd key ${key} is not a valid projection: ${problems.slice(0, 3).join('; ')}`);
    }
    const projection = parseProjection(value);
    if (projection.epoch !== epoch) throw new CorfuError('ERR_CORRUPT', `projection at etcd key ${key} holds epoch ${projection.epoch}, not ${epoch}`);
    return projection;
  }

  #checkOpen(): void {
    if (this.#closed) throw new CorfuError('ERR_CLOSED', `projection store ${this.url} is closed`);
  }
}
