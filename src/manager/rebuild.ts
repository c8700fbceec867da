// Rebuild: restoring a replica. When a dead unit is replaced, its replacement
// joins every closed chain the dead one left, at the tail, marked as being
// rebuilt (Stripe.rebuilding, src/layout/next.ts): from that epoch on it takes
// each of those chains' writes, fills and trims like any replica, but serves no
// read. This copies what came before — every address of those chains, from
// the chain's last whole replica — through the ordinary unit requests: WRITE
// for data, FILL for junk, TRIM for a trimmed address. The unit's write-once
// check guards every copy: ERR_WRITTEN with the same value is a copy already
// made (by a writer walking the chain, or a rebuild resumed after a crash);
// a different one is a broken invariant and stops the manager.
//
// One pass is enough: anything that reaches the chain after the pass read an
// address walks the chain head to tail, the unit included. When the pass is
// done the manager installs `rebuilt`: the unit is a whole replica and reads
// may come from it.
//
// A prefix trim is copied first, as one PREFIX_TRIM (a log-wide trim mark the
// survivor got before the unit joined), and the addresses below it are
// skipped. An address empty on the survivor is skipped too: a hole, filled (if
// ever) through the chain. The rate is bounded (`rateBytesPerSec`); a request
// without an answer is sent again, a bounded number of times; progress is
// reported.
//
// Resumable: progress carries, per chain, the address below which every copy
// is done (batches finish out of order: the lowest one not done bounds it),
// and the unit's format id. The manager keeps that in the store's status
// record; a pass started again (by it or by the next manager) skips what the
// record says is copied, but only onto the same format of the same unit: a
// unit formatted again holds none of it.

import { CorfuError, codeByte } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { ClientRuntime } from '../client/runtime.js';
import type { ServerPool, Lease } from '../client/server-pool.js';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED } from '../client/server-pool.js';
import { stripeAddresses, wholeReplicas } from '../layout/mapping.js';
import type { Projection } from '../layout/projection.js';
import { sleepOn } from '../transport/clock.js';
import type { RequestBody } from '../transport/connection.js';
import { KIND, WRITTEN } from '../wire/messages.js';
import type { InfoResponse, ReadResponse, Response, TrimResponse, WriteResponse } from '../wire/messages.js';

export interface RebuildProgress {
  readonly unit: string;
  readonly addressesDone: number;
  readonly addressesTotal: number;
  readonly bytesCopied: number;
  /** Where a pass started again may resume. */
  readonly resume: RebuildResume;
}

/** What a pass has certainly copied: a later pass onto the same format of the unit skips it. */
export interface RebuildResume {
  /** The unit's format id (INFO): another format of the unit holds none of the copies. */
  readonly formatId: string;
  /** Per chain (RebuildChain.key): every address of the chain below this one is copied. */
  readonly copiedBelow: Readonly<Record<string, number>>;
}

export interface RebuildResult {
  /** Addresses of the rebuilt chains (those below the prefix trim included). */
  readonly addresses: number;
  /** Payload bytes written onto the unit. */
  readonly bytes: number;
  /** The prefix trim copied onto the unit (0: none). */
  readonly trimMark: number;
  /** Addresses not copied again because an earlier pass had (the resume record). */
  readonly resumed: number;
  /** Every chain copied to its end. */
  readonly resume: RebuildResume;
}

export interface RebuildOptions {
  /** Per request. */
  readonly timeoutMs: number;
  /** Addresses per batch. Default 256. */
  readonly batchAddresses?: number;
  /** Batches copied at once. Default 8. */
  readonly batchesInFlight?: number;
  /** Payload bytes copied per second, at most; unbounded when undefined. */
  readonly rateBytesPerSec?: number;
  readonly runtime: ClientRuntime;
  readonly pool: ServerPool;
  readonly onProgress?: (p: RebuildProgress) => void;
  /** An earlier pass's progress (the status record): skipped if it is for this format of the unit. */
  readonly resume?: RebuildResume;
}

/** One chain to rebuild: its addresses and the replica they are copied from. */
export interface RebuildChain {
  /** `SEGMENT_START/STRIPE`: names the chain in a resume record (a closed segment never changes). */
  readonly key: string;
  readonly source: string;
  readonly addresses: readonly number[];
}

/** The chains of `layout` that `unit` is being rebuilt in, each with its last whole replica to copy from. */
export function rebuildPlan(layout: Projection, unit: string): RebuildChain[] {
  const out: RebuildChain[] = [];
  layout.segments.forEach((segment, i) => {
    if (segment.end === null) return;
    segment.stripes.forEach((stripe, t) => {
      if (stripe.rebuilding?.includes(unit) !== true) return;
      const whole = wholeReplicas(stripe);
      // parseProjection refuses a chain without a whole replica.
      invariant(whole.length > 0, `stripe ${t} of [${segment.start}, ${segment.end}) has no whole replica`);
      out.push({ key: `${segment.start}/${t}`, source: whole[whole.length - 1]!, addresses: [...stripeAddresses(layout, i, t, segment.start, segment.end!)] });
    });
  });
  return out;
}

/**
 * One chain's batches in a pass, which finish in any order: every address
 * below the first batch not done yet is copied (or was before the pass).
 */
export class ChainProgress {
  readonly batches: ReadonlyArray<readonly number[]>;
  readonly #done: boolean[];
  /** The first batch not done. */
  #low = 0;
  /** One past the chain's last address: all of it copied. */
  readonly end: number;
  /** Where the pass began (an earlier pass or the trim mark copied what is below). */
  readonly #from: number;

  constructor(batches: ReadonlyArray<readonly number[]>, end: number, from: number) {
    this.batches = batches;
    this.#done = batches.map(() => false);
    this.end = end;
    this.#from = from;
  }

  done(index: number): void {
    invariant(!this.#done[index], `batch ${index} of a chain copied twice`);
    this.#done[index] = true;
    while (this.#low < this.#done.length && this.#done[this.#low]) this.#low++;
  }

  /** Every address of the chain below this one is copied. */
  copiedBelow(): number {
    if (this.#low === this.batches.length) return Math.max(this.end, this.#from);
    return Math.max(this.batches[this.#low]![0]!, this.#from);
  }
}

/** How many times a request without an answer is sent again before the pass gives up (it is started again later). */
const MAX_RESENDS = 20;

export class Rebuild {
  readonly layout: Projection;
  readonly unit: string;
  readonly #options: RebuildOptions;
  readonly #leases = new Map<string, Lease>();
  #done = 0;
  #bytes = 0;
  #startedAt = 0;

  constructor(layout: Projection, unit: string, options: RebuildOptions) {
    this.layout = layout;
    this.unit = unit;
    this.#options = options;
  }

  /** The chains this pass copies (rebuildPlan of its layout and unit). */
  plan(): RebuildChain[] {
    return rebuildPlan(this.layout, this.unit);
  }

  /**
   * Copies every chain the unit is being rebuilt in. Rejects with a CorfuError
   * when a request fails (ERR_SEALED: the layout moved on; ERR_UNAVAILABLE: a
   * server stopped answering); the manager runs it again later.
   */
  async run(): Promise<RebuildResult> {
    const plan = this.plan();
    const total = plan.reduce((n, c) => n + c.addresses.length, 0);
    this.#startedAt = this.#options.runtime.clock.now();
    const batch = this.#options.batchAddresses ?? 256;
    const depth = this.#options.batchesInFlight ?? 8;
    try {
      const formatId = ((await this.#ask(this.unit, { type: 'request', op: 'INFO', epoch: 0 })) as InfoResponse).formatId;
      const resume = this.#options.resume?.formatId === formatId ? this.#options.resume.copiedBelow : {};
      const trimMark = await this.#copyTrimMark(plan);
      const progress = new Map<string, ChainProgress>();
      let resumed = 0;
      const batches: Array<{ chain: ChainProgress; index: number; source: string; addresses: readonly number[] }> = [];
      for (const chain of plan) {
        const from = Math.max(trimMark, resume[chain.key] ?? 0);
        const below = chain.addresses.findIndex((a) => a >= from);
        const first = below < 0 ? chain.addresses.length : below;
        this.#done += first;
        resumed += chain.addresses.slice(0, first).filter((a) => a >= trimMark).length;
        const mine: Array<readonly number[]> = [];
        for (let i = first; i < chain.addresses.length; i += batch) mine.push(chain.addresses.slice(i, i + batch));
        const p = new ChainProgress(mine, chain.addresses.length === 0 ? 0 : chain.addresses[chain.addresses.length - 1]! + 1, from);
        progress.set(chain.key, p);
        mine.forEach((addresses, index) => batches.push({ chain: p, index, source: chain.source, addresses }));
      }
      const resumeNow = (): RebuildResume => ({ formatId, copiedBelow: Object.fromEntries([...progress].map(([k, p]) => [k, p.copiedBelow()])) });
      // Up to `depth` batches in flight: a READ at the source and a WRITE at the unit each
      // wait on a device, and every copy is independent of the others (write-once makes a
      // repeat or a reordering harmless). The first failure stops the rest.
      let next = 0;
      let failure: unknown;
      const worker = async (): Promise<void> => {
        while (failure === undefined && next < batches.length) {
          const b = batches[next++]!;
          try {
            await this.#copy(b.source, b.addresses);
          } catch (err) {
            failure ??= err;
            return;
          }
          b.chain.done(b.index);
          this.#done += b.addresses.length;
          this.#options.onProgress?.({ unit: this.unit, addressesDone: this.#done, addressesTotal: total, bytesCopied: this.#bytes, resume: resumeNow() });
          await this.#throttle();
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(depth, batches.length)) }, worker));
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a worker caught
      if (failure !== undefined) throw failure;
      return { addresses: total, bytes: this.#bytes, trimMark, resumed, resume: resumeNow() };
    } finally {
      const leases = [...this.#leases.values()];
      this.#leases.clear();
      await Promise.all(leases.map((l) => this.#options.pool.release(l)));
    }
  }

  /**
   * The sources' prefix trim, copied onto the unit as one PREFIX_TRIM: a trim
   * mark is log-wide (a client sends it to every unit), so the highest one any
   * source holds is the log's. Returns it; addresses below it need no copy.
   */
  async #copyTrimMark(plan: readonly RebuildChain[]): Promise<number> {
    let mark = 0;
    for (const source of new Set(plan.map((c) => c.source))) {
      const info = (await this.#ask(source, { type: 'request', op: 'INFO', epoch: 0 })) as InfoResponse;
      mark = Math.max(mark, info.trimMark);
    }
    if (mark > 0) await this.#ask(this.unit, { type: 'request', op: 'PREFIX_TRIM', epoch: this.layout.epoch, address: mark });
    return mark;
  }

  /** Copies one batch of one chain from `source` onto the unit. */
  async #copy(source: string, wanted: readonly number[]): Promise<void> {
    const epoch = this.layout.epoch;
    const theirs = (await this.#ask(source, { type: 'request', op: 'READ', epoch, addresses: [...wanted] })) as ReadResponse;
    const writes: Array<{ address: number; payload: Uint8Array }> = [];
    const fills: number[] = [];
    const trims: number[] = [];
    wanted.forEach((address, i) => {
      const status = theirs.statuses[i];
      if (status === STATUS_OK && theirs.kinds[i] === KIND.DATA) writes.push({ address, payload: theirs.payloads[i]! });
      else if (status === STATUS_OK) fills.push(address);
      else if (status === STATUS_TRIMMED) trims.push(address);
      else invariant(status === STATUS_UNWRITTEN || status === STATUS_OVERLOADED, `READ of ${address} at ${source} answered status ${status}`);
    });
    // An answer the unit deferred (its READ budget was spent) is read again in a smaller batch.
    const deferred = wanted.filter((_, i) => theirs.statuses[i] === STATUS_OVERLOADED);
    if (writes.length > 0) {
      const res = (await this.#ask(this.unit, { type: 'request', op: 'WRITE', epoch, entries: writes })) as WriteResponse;
      writes.forEach((w, i) => {
        // Trimmed: a trim walked the chain after the source was read.
        const ok = res.statuses[i] === STATUS_OK || res.statuses[i] === STATUS_TRIMMED || (res.statuses[i] === STATUS_WRITTEN && res.written[i] === WRITTEN.SAME);
        invariant(ok, `rebuild of ${this.unit}: address ${w.address} holds something else than ${source}'s data (status ${res.statuses[i]}, written ${res.written[i]})`);
        this.#bytes += w.payload.length;
      });
    }
    if (fills.length > 0) {
      const res = (await this.#ask(this.unit, { type: 'request', op: 'FILL', epoch, addresses: fills })) as WriteResponse;
      fills.forEach((a, i) => {
        const ok = res.statuses[i] === STATUS_OK || res.statuses[i] === STATUS_TRIMMED || (res.statuses[i] === STATUS_WRITTEN && res.written[i] === WRITTEN.JUNK);
        invariant(ok, `rebuild of ${this.unit}: address ${a} holds data where ${source} holds junk`);
      });
    }
    if (trims.length > 0) {
      const res = (await this.#ask(this.unit, { type: 'request', op: 'TRIM', epoch, addresses: trims })) as TrimResponse;
      trims.forEach((a, i) =>
        invariant(res.statuses[i] === STATUS_OK || res.statuses[i] === STATUS_TRIMMED || res.statuses[i] === STATUS_UNWRITTEN, `rebuild of ${this.unit}: TRIM of ${a} answered ${res.statuses[i]}`),
      );
    }
    if (deferred.length > 0) {
      const half = Math.max(1, Math.floor(deferred.length / 2));
      for (let i = 0; i < deferred.length; i += half) await this.#copy(source, deferred.slice(i, i + half));
    }
  }

  /** One request with its OK answer; resent while there is none; ERR_SEALED and the rest reject. */
  async #ask(server: string, body: RequestBody): Promise<Response> {
    const { timeoutMs, runtime, pool } = this.#options;
    let lease = this.#leases.get(server);
    if (lease === undefined) {
      lease = pool.acquire(server, { timeoutMs, maxInFlight: DEFAULT_MAX_IN_FLIGHT, maxQueued: DEFAULT_MAX_QUEUED });
      this.#leases.set(server, lease);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await lease.connection.request(body, { timeoutMs });
        if (res.status !== 'OK') throw new CorfuError(res.status, `rebuild of ${this.unit}: ${body.op} at ${server}: ${res.message}`, res.status === 'ERR_SEALED' ? { unitEpoch: res.unitEpoch } : {});
        return res;
      } catch (err) {
        const retry = err instanceof CorfuError && (err.code === 'ERR_UNAVAILABLE' || err.code === 'ERR_OVERLOADED');
        if (!retry || attempt >= MAX_RESENDS) throw err;
        await sleepOn(runtime.clock, Math.min(500, 10 * 2 ** attempt));
      }
    }
  }

  /** Waits as long as it takes to keep the copy at or below the rate. */
  async #throttle(): Promise<void> {
    const rate = this.#options.rateBytesPerSec;
    if (rate === undefined) return;
    const clock = this.#options.runtime.clock;
    const due = this.#startedAt + (this.#bytes / rate) * 1000;
    const wait = due - clock.now();
    if (wait > 0) await sleepOn(clock, wait);
  }
}

const STATUS_OK = codeByte('OK');
const STATUS_WRITTEN = codeByte('ERR_WRITTEN');
const STATUS_UNWRITTEN = codeByte('ERR_UNWRITTEN');
const STATUS_TRIMMED = codeByte('ERR_TRIMMED');
const STATUS_OVERLOADED = codeByte('ERR_OVERLOADED');
