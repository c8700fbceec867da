// Reading one stream (docs/streams.md, "Reading a stream"): `client.stream(name)`.
//
// A stream of k entries costs O(k) unit reads, never a scan of the log. The
// sequencer knows each stream's latest STREAM_BACKPOINTERS addresses; every stream
// entry carries its stream's previous ones. A reader asks for the latest, reads them,
// and follows the backpointers down to what it has already delivered; then it hands
// the entries out in address order.
//
// What is not the stream's is skipped: junk (a filled hole: its writer died, or took
// a new token after ERR_WRITTEN), and an entry of other streams (an address handed out
// again after a reconfiguration). Such entries carry no backpointers for this stream,
// so STREAM_BACKPOINTERS of them in a row cut the walk; the reader then scans the log
// downwards from the cut until it finds the stream again (counted in `stats.scanned`).
//
// A trimmed address of the stream is never a silent gap: delivering it throws
// ERR_TRIMMED, naming the address, and telling the reader to load a checkpoint; seek()
// past it to go on.
//
// Each call (readNext, readUpTo, tail) ends by its deadline (its deadlineMs, else the
// client's) however many STREAM_TAILS and reads it takes: each of them gets what is left
// of it. (Each used to get a whole deadline of its own, so a readNext that walked and
// waited on holes ran past it: the simulator's `stream-call-deadline`.)

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { StreamAddresses, StreamId } from '../wire/messages.js';
import { STREAM_BACKPOINTERS } from '../wire/messages.js';
import { decodeStreamEntry } from './stream-entry.js';
import type { CallOptions } from './budget.js';

/** A stream entry as a reader gets it. */
export interface StreamEntry {
  readonly address: number;
  /** The bytes the writer passed to appendTo (without the stream header). */
  readonly payload: Uint8Array;
  /** The ids of every stream this entry belongs to (it may belong to several). */
  readonly streams: readonly StreamId[];
}

/** ERR_TRIMMED from a stream reader: `address` is the trimmed address of the stream it stopped at (seek past it to go on). */
export class StreamTrimmedError extends CorfuError {
  readonly address: number;
  constructor(address: number, message: string) {
    super('ERR_TRIMMED', message);
    this.address = address;
  }
}

/** A log entry as CorfuClient.read answers it. */
export type LogRead = { readonly address: number; readonly kind: 'data'; readonly payload: Uint8Array } | { readonly address: number; readonly kind: 'junk' };

/** What a reader needs from the client. */
export interface StreamReaderIO {
  /** The stream's latest addresses, newest first, and the log's tail, asked now (linearizable). */
  latest(id: StreamId, options?: CallOptions): Promise<{ readonly tail: number; readonly latest: StreamAddresses; readonly floor: number }>;
  /** CorfuClient.read: fills a hole below the tail, throws ERR_TRIMMED for a trimmed address. */
  read(address: number, options?: CallOptions): Promise<LogRead>;
  /** The client's clock, ms: each call of a reader ends by its deadline, the steps inside it included. */
  now(): number;
  /** The client's default deadline of a whole call (CorfuClient.deadlineMs). */
  readonly deadlineMs: number;
}

/** One call of a reader (readNext, readUpTo, tail): when it must end, and the caller's signal. */
interface Call {
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
}

/** How many addresses the downward scan reads at once when the backpointers are cut. */
const SCAN_BATCH = 256;
/** Entries a reader keeps between finding and delivering them; beyond that it reads them again. */
const MAX_CACHED_ENTRIES = 4096;

/** What a reader found at an address of its stream. */
type Found =
  | { readonly kind: 'entry'; readonly entry: StreamEntry; readonly backpointers: StreamAddresses }
  | { readonly kind: 'skip' }
  /** `unknown`: not an entry seen trimmed, but the floor below which a rebuilt sequencer knows nothing. */
  | { readonly kind: 'trimmed'; readonly unknown?: boolean };

export interface StreamReaderStats {
  /** Log addresses read to find and deliver entries (each one a unit READ, or a fill of a hole). */
  reads: number;
  /** Of those, the addresses read by a downward scan after a cut. */
  scanned: number;
}

export class StreamReader {
  readonly name: string;
  readonly id: StreamId;
  readonly stats: StreamReaderStats = { reads: 0, scanned: 0 };
  readonly #io: StreamReaderIO;
  /** The last address delivered (or skipped by seek), -1 before the first. */
  #position = -1;
  /** Every address of the stream in (#position, #known] is in #pending. */
  #known = -1;
  /** Every stream address below this is at or below #known: the log's tail at the last sync. */
  #syncedBelow = 0;
  /** Addresses of the stream above #position not yet delivered, ascending. */
  #pending: number[] = [];
  readonly #cache = new Map<number, Found>();

  constructor(io: StreamReaderIO, name: string, id: StreamId) {
    this.#io = io;
    this.name = name;
    this.id = id;
  }

  /** The last address delivered, -1 before the first. */
  get position(): number {
    return this.#position;
  }

  /**
   * Once readNext() has answered undefined, the reader holds every entry of the stream
   * below this address: the log's tail when it last asked the sequencer.
   */
  get syncedBelow(): number {
    return this.#syncedBelow;
  }

  /** The next readNext() answers the first entry at or above `address`. */
  seek(address: number): void {
    if (!Number.isSafeInteger(address) || address < 0) throw new CorfuError('ERR_BAD_REQUEST', `seek: address must be a non-negative safe integer, got ${address}`);
    this.#position = address - 1;
    this.#known = Math.max(this.#known, this.#position);
    this.#pending = this.#pending.filter((a) => a >= address);
    for (const a of this.#cache.keys()) if (a < address) this.#cache.delete(a);
  }

  /** The stream's last address now (-1: no entry yet). */
  async tail(options?: CallOptions): Promise<number> {
    const call = this.#begin('tail', options);
    const { latest } = await this.#io.latest(this.id, this.#step(call));
    return latest[0] ?? -1;
  }

  /** The next entry of the stream, or undefined when the reader has everything up to the stream's tail now. */
  async readNext(options?: CallOptions): Promise<StreamEntry | undefined> {
    const call = this.#begin('readNext', options);
    for (;;) {
      if (this.#pending.length === 0 && !(await this.#sync(Number.MAX_SAFE_INTEGER, call))) return undefined;
      const entry = await this.#deliver(Number.MAX_SAFE_INTEGER, call);
      if (entry !== undefined) return entry;
    }
  }

  /** Every entry of the stream above the position and at or below `address`, in order; the position moves to the last. */
  async readUpTo(address: number, options?: CallOptions): Promise<StreamEntry[]> {
    if (!Number.isSafeInteger(address) || address < 0) throw new CorfuError('ERR_BAD_REQUEST', `readUpTo: address must be a non-negative safe integer, got ${address}`);
    const call = this.#begin('readUpTo', options);
    const out: StreamEntry[] = [];
    if (this.#known < address) await this.#sync(address, call);
    for (;;) {
      const entry = await this.#deliver(address, call);
      if (entry === undefined) break;
      out.push(entry);
    }
    return out;
  }

  /**
   * A call's deadline: its own `deadlineMs` or the client's, for the whole call. Each step
   * (STREAM_TAILS, a read) gets what is left of it, so a call of many steps still ends by it.
   */
  #begin(what: string, options: CallOptions | undefined): Call {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new CorfuError('ERR_BAD_REQUEST', `${what}: options must be an object`);
    const ms = options?.deadlineMs ?? this.#io.deadlineMs;
    if (!Number.isSafeInteger(ms) || ms < 1) throw new CorfuError('ERR_BAD_REQUEST', `${what}: deadlineMs must be a positive integer, got ${String(ms)}`);
    return { deadline: this.#io.now() + ms, signal: options?.signal };
  }

  /** The options of one step of `call`: the time left of its deadline (ERR_TIMEOUT when none is). */
  #step(call: Call): CallOptions {
    const left = Math.floor(call.deadline - this.#io.now());
    if (left < 1) throw new CorfuError('ERR_TIMEOUT', `stream ${this.name}: the call's deadline passed`);
    return call.signal === undefined ? { deadlineMs: left } : { deadlineMs: left, signal: call.signal };
  }

  /** The next pending entry at or below `limit`, skipping what is not the stream's; undefined when none is left. */
  async #deliver(limit: number, call: Call): Promise<StreamEntry | undefined> {
    for (;;) {
      const address = this.#pending[0];
      if (address === undefined) return undefined;
      // Above the limit, only a trim matters: what lies between here and it is unknown (no
      // backpointer is read past a trimmed address, a scan stops at one), and the trims that
      // take a stream's entries take every address below them: the entries up to the limit
      // may be gone too (the simulator's `stream-forgotten-after-trim`).
      if (address > limit && this.#cache.get(address)?.kind !== 'trimmed') return undefined;
      const found = this.#cache.get(address) ?? (await this.#look(address, call));
      if (found.kind === 'trimmed' && found.unknown === true) {
        throw new StreamTrimmedError(
          address,
          `stream ${this.name}: the log up to ${address} was trimmed before the sequencer rebuilt its stream tails, so entries of the stream there may be gone unseen; load a checkpoint of what the stream holds, then seek past ${address} to go on`,
        );
      }
      if (found.kind === 'trimmed') {
        throw new StreamTrimmedError(address, `stream ${this.name}: its entry at ${address} was trimmed; load a checkpoint of what the stream holds, then seek past ${address} to go on`);
      }
      this.#pending.shift();
      this.#cache.delete(address);
      this.#position = address;
      if (found.kind === 'entry') return found.entry;
    }
  }

  /**
   * Finds the stream's addresses in (#known, newest] by walking backpointers down from
   * the sequencer's latest ones; true when there is something new. `limit` only says
   * whether the walk is worth it.
   */
  async #sync(limit: number, call: Call): Promise<boolean> {
    const { tail, latest, floor: unknownBelow } = await this.#io.latest(this.id, this.#step(call));
    // A sequencer whose tails were rebuilt from a log trimmed at `unknownBelow` knows no
    // entry of the stream below it: what this reader has not passed there may be gone
    // unseen. Never a silent gap: delivering this marker throws ERR_TRIMMED.
    let marked = false;
    if (unknownBelow > 0 && this.#known < unknownBelow - 1) {
      const marker = unknownBelow - 1;
      this.#cache.set(marker, { kind: 'trimmed', unknown: true });
      this.#pending = [...this.#pending.filter((a) => a < marker), marker];
      this.#known = marker;
      marked = true;
    }
    const floor = this.#known;
    const fresh = latest.filter((a) => a > floor);
    if (fresh.length === 0) {
      this.#syncedBelow = Math.max(this.#syncedBelow, tail);
      return marked;
    }
    if (limit <= floor) return marked;
    const found = new Set<number>(fresh);
    let frontier = fresh;
    /** The stream's entries read in this walk, with their backpointers. */
    const entries = new Map<number, StreamAddresses>();
    /** Entries whose cut (below) was scanned already. */
    const scanned = new Set<number>();
    for (;;) {
      while (frontier.length > 0) {
        const looked = await Promise.all(frontier.map(async (a) => [a, this.#cache.get(a) ?? (await this.#look(a, call))] as const));
        const next: number[] = [];
        for (const [a, f] of looked) {
          this.#keep(a, f);
          if (f.kind !== 'entry') continue;
          entries.set(a, f.backpointers);
          for (const b of f.backpointers) {
            if (b > floor && !found.has(b)) {
              found.add(b);
              next.push(b);
            }
          }
        }
        frontier = next;
      }
      const cut = nextCut(entries, scanned, floor);
      if (cut === undefined && entries.size > 0) break;
      // A cut: an entry lists the most backpointers, none of them an entry of the stream
      // (junk, other streams', trimmed), and the lowest above the floor; or no entry was
      // found at all. The stream's entries below it were not reached through it: scan
      // down from there to the next entry found below (or the floor) for the next one.
      // Not only below the lowest entry: a rebuilt sequencer's latest addresses skip the
      // stream's trimmed entries (it cannot tell whose they were), so the list it gives
      // may jump over a stretch that only such a scan finds (the simulator's seed
      // 1222823: an entry trimmed between a cut and an older entry the list named).
      const { from, to } = cut ?? { from: Math.min(...found) - 1, to: floor };
      const resumed = await this.scanDown(from, to, found, call);
      if (resumed === undefined) {
        if (cut === undefined) break;
        continue;
      }
      frontier = [resumed];
      found.add(resumed);
      // The scan read it already (cached): the loop above takes its backpointers.
    }
    invariant(
      [...found].every((a) => a > floor),
      () => `stream ${this.name}: found an address at or below ${floor}`,
    );
    const added = [...found].sort((x, y) => x - y);
    this.#pending = [...this.#pending, ...added];
    this.#known = Math.max(this.#known, ...added);
    this.#syncedBelow = Math.max(this.#syncedBelow, tail);
    return true;
  }

  /**
   * Reads downwards from `from` to above `floor` for the stream's next entry; answers
   * its address (looked at and cached), or undefined when none is left above the floor.
   * A trimmed address on the way is kept as pending, so delivery stops there with
   * ERR_TRIMMED instead of passing over entries a trim may have taken.
   *
   * TypeScript-private rather than #private only so that the simulator can plant a bug
   * in it (test/sim/patches.ts, `reader-no-scan`); nothing else calls it.
   */
  private async scanDown(from: number, floor: number, found: Set<number>, call: Call): Promise<number | undefined> {
    for (let top = from; top > floor; top -= SCAN_BATCH) {
      const addresses: number[] = [];
      for (let a = top; a > floor && a > top - SCAN_BATCH; a--) addresses.push(a);
      const looked = await Promise.all(addresses.map(async (a) => [a, await this.#look(a, call)] as const));
      this.stats.scanned += addresses.length;
      for (const [a, f] of looked) {
        if (f.kind === 'trimmed') {
          found.add(a);
          this.#keep(a, f);
          return undefined;
        }
        if (f.kind === 'entry') {
          this.#keep(a, f);
          return a;
        }
      }
    }
    return undefined;
  }

  /** What `address` holds for this stream. */
  async #look(address: number, call: Call): Promise<Found> {
    this.stats.reads++;
    let read: LogRead;
    try {
      read = await this.#io.read(address, this.#step(call));
    } catch (err) {
      if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') return { kind: 'trimmed' };
      throw err;
    }
    if (read.kind === 'junk') return { kind: 'skip' };
    const decoded = decodeStreamEntry(read.payload);
    if (decoded === undefined) return { kind: 'skip' };
    const mine = decoded.streams.find((s) => s.id === this.id);
    if (mine === undefined) return { kind: 'skip' };
    let above = address;
    for (const b of mine.backpointers) {
      if (b >= above) throw new CorfuError('ERR_CORRUPT', `stream ${this.name}: the entry at ${address} lists backpointers ${mine.backpointers.join(', ')}, not all below it and newest first`);
      above = b;
    }
    const entry: StreamEntry = { address, payload: decoded.body, streams: decoded.streams.map((s) => s.id) };
    return { kind: 'entry', entry, backpointers: mine.backpointers };
  }

  #keep(address: number, found: Found): void {
    if (this.#cache.size < MAX_CACHED_ENTRIES || found.kind === 'trimmed') this.#cache.set(address, found);
  }
}

/**
 * The highest entry of the walk whose backpointers are cut (the most of them, none an
 * entry of the stream, the lowest above `floor`) and not scanned yet: the stretch to scan
 * below it, from just under its lowest backpointer down to above the next entry found
 * below that (or `floor`). Marks it scanned. Undefined when no entry is cut.
 */
export function nextCut(entries: ReadonlyMap<number, StreamAddresses>, scanned: Set<number>, floor: number): { from: number; to: number } | undefined {
  const below = [...entries.keys()].sort((x, y) => y - x);
  for (const [i, address] of below.entries()) {
    const bps = entries.get(address)!;
    const bottom = bps[bps.length - 1];
    if (scanned.has(address) || bps.length < STREAM_BACKPOINTERS || bottom === undefined || bottom <= floor || bps.some((b) => entries.has(b))) continue;
    scanned.add(address);
    const next = below.slice(i + 1).find((a) => a < bottom) ?? floor;
    if (next < bottom - 1) return { from: bottom - 1, to: next };
  }
  return undefined;
}
