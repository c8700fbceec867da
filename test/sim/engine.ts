// An in-memory storage engine with the real engine's semantics (bindings/store.ts,
// native/engine/src/store.rs), behind the UnitEngine interface that
// src/unit/handler.ts drives:
//
// - epoch check on every data call: ERR_SEALED carrying the unit's epoch;
// - seal(newEpoch): strictly upward, durable before the answer, answers the
//   unit's tail (highest address written or trimmed + 1, at least the trim mark);
// - write-once: WRITE over data answers ERR_WRITTEN same/different, over junk
//   ERR_WRITTEN junk; FILL over data ERR_WRITTEN different, over junk junk;
// - a WRITE, FILL or TRIM naming an address above 2^53 - 2 is refused whole
//   (ERR_BAD_REQUEST; the tail after it would not be a safe integer), and so is a
//   PREFIX_TRIM mark above 2^53 - 1;
// - a WRITE entry above the max entry size is ERR_TOO_LARGE (checked first);
//   a READ that would answer more than 16 MiB of payload is refused whole;
// - TRIM marks an address trimmed (written or not; trimming a trimmed one is OK);
//   PREFIX_TRIM moves the trim mark up (never down); reads, writes and fills
//   at or below a trimmed address answer ERR_TRIMMED;
// - with a bounded Disk, space is the real engine's circle of pages
//   (engine-space.ts): entries that do not fit answer ERR_FULL;
// - sync `always`: every answer is given after its effect is durable.
//
// The durable state (`Disk`) is explicit: a crash throws the engine away and a
// restart opens a new one over the same Disk, so what survives a crash is
// exactly what the Disk holds. Every call resolves at once (no timers), so
// awaiting the handler is deterministic. Each call is one round of the real
// engine: test/sim/engine.differential.test.ts drives this and a real Store
// through the same random sequences and compares every answer.
//
// Planted engine bugs (bugs.ts) are switched on here.

import { WRITTEN, writtenAs } from '../../bindings/entry-codes.js';
import { CorfuError, codeByte, codeName } from '../../bindings/errors.js';
import { DEFAULT_MAX_ENTRY_BYTES, MAX_ADDRESS } from '../../bindings/limits.js';
import type { ReadOutcome, TrimOutcome, WriteOutcome } from '../../bindings/store.js';
import type { UnitEngine, UnitInfo } from '../../src/unit/handler.js';
import { MAX_READ_ANSWER_BYTES, READ_ANSWER_ENTRY_BYTES } from '../../src/wire/frame.js';
import { SYNC } from '../../src/wire/messages.js';

import type { Bugs } from './bugs.js';
import { FlushStager, SpaceLog } from './engine-space.js';

export type Slot =
  { readonly kind: 'data'; readonly payload: Uint8Array; readonly epoch: number } | { readonly kind: 'junk'; readonly epoch: number } | { readonly kind: 'trimmed'; readonly epoch: number };

export interface DiskGeometry {
  /** Pages of the data region (as `corfu format` computes them); unbounded if omitted. */
  dataPages?: number;
  maxEntryBytes?: number;
  /** INFO's format id: 16 lower-case hex digits (random per format in the real engine). */
  formatId?: string;
}

/** What survives a crash: the superblock (epoch, trim mark), the records and the pages they take. */
export class Disk {
  epoch = 0;
  trimMark = 0;
  readonly maxEntryBytes: number;
  readonly formatId: string;
  /** The circle of pages; undefined: the disk never fills (the simulator's units). */
  readonly space: SpaceLog | undefined;
  readonly slots = new Map<number, Slot>();
  /** The highest address durably written with data or junk, per epoch of the write: the failover checker reads it. */
  readonly maxWrittenByEpoch = new Map<number, number>();

  constructor(geometry: DiskGeometry = {}) {
    this.maxEntryBytes = geometry.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    this.formatId = geometry.formatId ?? '0'.repeat(16);
    this.space = geometry.dataPages === undefined ? undefined : new SpaceLog(geometry.dataPages);
  }

  put(address: number, slot: Slot): void {
    this.slots.set(address, slot);
    if (slot.kind !== 'trimmed') {
      const m = this.maxWrittenByEpoch.get(slot.epoch);
      if (m === undefined || address > m) this.maxWrittenByEpoch.set(slot.epoch, address);
    }
  }

  /** What a reader with the real engine's rules sees at `address` (durable state only). */
  valueAt(address: number): Slot | 'unwritten' {
    if (address < this.trimMark) return { kind: 'trimmed', epoch: this.epoch };
    return this.slots.get(address) ?? 'unwritten';
  }

  /** The tail a freshly opened engine computes (recovery.rs): max(trim mark, highest record + 1). */
  recoveredTail(): number {
    let tail = this.trimMark;
    for (const a of this.slots.keys()) if (a + 1 > tail) tail = a + 1;
    return tail;
  }
}

function checkAddresses(addresses: Float64Array): void {
  for (const a of addresses) {
    if (a > MAX_ADDRESS) throw new CorfuError('ERR_BAD_REQUEST', `address ${a} is above the highest address, ${MAX_ADDRESS}`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const WRITE_CACHE_FLUSH = 3;

export class MemEngine implements UnitEngine {
  readonly disk: Disk;
  readonly #bugs: Bugs;
  /** Volatile copies of the superblock fields (equal to the Disk's unless a bug keeps them apart). */
  #epoch: number;
  #trimMark: number;
  #tail: number;
  /** lose-acked-write: acknowledged records not on the Disk yet. */
  readonly #cache = new Map<number, Slot>();
  #closed = false;

  constructor(disk: Disk, bugs: Bugs) {
    this.disk = disk;
    this.#bugs = bugs;
    this.#epoch = disk.epoch;
    this.#trimMark = disk.trimMark;
    this.#tail = disk.recoveredTail();
  }

  get epoch(): number {
    return this.#epoch;
  }

  get tailNow(): number {
    return this.#tail;
  }

  /** The engine is gone (its unit crashed): any later call is a simulator bug. */
  close(): void {
    this.#closed = true;
  }

  // ---- UnitEngine ------------------------------------------------------------

  async writePacked(epoch: number, addresses: Float64Array, lengths: Uint32Array, data: Buffer): Promise<{ status: Uint8Array; written: Uint8Array }> {
    this.#checkEpoch(epoch);
    checkAddresses(addresses);
    const status = new Uint8Array(addresses.length);
    const written = new Uint8Array(addresses.length);
    const flush = this.#flush();
    let at = 0;
    for (let i = 0; i < addresses.length; i++) {
      const len = lengths[i]!;
      const from = at;
      at += len;
      if (len > this.disk.maxEntryBytes) {
        status[i] = TOO_LARGE;
        continue;
      }
      // A copy: the handler may pass a view into a frame that is reused.
      const payload = Uint8Array.prototype.slice.call(data, from, at);
      const r = this.#stage(addresses[i]!, { kind: 'data', payload, epoch }, flush);
      status[i] = r.status;
      written[i] = r.written;
    }
    flush?.commit();
    return { status, written };
  }

  async fill(epoch: number, addresses: Float64Array): Promise<WriteOutcome[]> {
    this.#checkEpoch(epoch);
    checkAddresses(addresses);
    const flush = this.#flush();
    const out = Array.from(addresses, (address): WriteOutcome => {
      const r = this.#stage(address, { kind: 'junk', epoch }, flush);
      const status = codeName(r.status);
      const written = writtenAs(r.written);
      return written === undefined ? { address, status } : { address, status, written };
    });
    flush?.commit();
    return out;
  }

  /**
   * As the engine's plan_read: entries are served in order while their
   * payloads fit one frame's answer; from the first data entry that does not
   * (never the first one served), every entry is deferred with ERR_OVERLOADED.
   */
  async read(epoch: number, addresses: Float64Array): Promise<ReadOutcome[]> {
    this.#checkEpoch(epoch);
    const budget = Math.max(0, MAX_READ_ANSWER_BYTES - READ_ANSWER_ENTRY_BYTES * addresses.length);
    let payloadBytes = 0;
    let served = 0;
    let deferred = false;
    return Array.from(addresses, (address): ReadOutcome => {
      if (deferred) return { address, status: 'ERR_OVERLOADED' };
      const below = address < this.#trimMark;
      const slot = below && !this.#bugs.has('read-ignores-trim-mark') ? undefined : this.#slot(address);
      if (below && slot === undefined) return { address, status: 'ERR_TRIMMED' };
      if (slot === undefined) return { address, status: 'ERR_UNWRITTEN' };
      if (slot.kind === 'trimmed') return { address, status: 'ERR_TRIMMED' };
      if (slot.kind === 'junk') return { address, status: 'OK', kind: 'junk' };
      if (served > 0 && payloadBytes + slot.payload.length > budget) {
        deferred = true;
        return { address, status: 'ERR_OVERLOADED' };
      }
      served++;
      payloadBytes += slot.payload.length;
      return { address, status: 'OK', kind: 'data', payload: Buffer.from(slot.payload) };
    });
  }

  async trim(epoch: number, addresses: Float64Array): Promise<TrimOutcome[]> {
    this.#checkEpoch(epoch);
    checkAddresses(addresses);
    const flush = this.#flush();
    const out = Array.from(addresses, (address): TrimOutcome => ({ address, status: codeName(this.#stage(address, { kind: 'trimmed', epoch }, flush).status) }));
    flush?.commit();
    return out;
  }

  async prefixTrim(epoch: number, address: number): Promise<void> {
    this.#checkEpoch(epoch);
    if (address > MAX_ADDRESS + 1) throw new CorfuError('ERR_BAD_REQUEST', `prefix trim mark ${address} is above ${MAX_ADDRESS + 1}`);
    if (address > this.#trimMark) {
      this.#trimMark = address;
      this.#tail = Math.max(this.#tail, address);
      if (!this.#bugs.has('trim-mark-not-durable')) this.disk.trimMark = address;
      this.disk.space?.freeBelow(this.#trimMark);
    }
  }

  async seal(newEpoch: number): Promise<number> {
    this.#live();
    const refused = this.#bugs.has('seal-not-monotonic') ? newEpoch === this.#epoch : newEpoch <= this.#epoch;
    if (refused) {
      throw new CorfuError('ERR_SEALED', `unit is at epoch ${this.#epoch}, seal asked for ${newEpoch}`, { unitEpoch: this.#epoch });
    }
    this.#flushCache();
    this.#epoch = newEpoch;
    if (!this.#bugs.has('seal-not-durable')) this.disk.epoch = newEpoch;
    this.disk.space?.freeBelow(this.#trimMark);
    if (this.#bugs.has('seal-tail-off-by-one')) return Math.max(0, this.#tail - 1);
    return this.#tail;
  }

  async tail(epoch: number): Promise<number> {
    this.#checkEpoch(epoch);
    return this.#tail;
  }

  /** INFO: the simulator's units have no device geometry; what matters to a client is the epoch, tail and entry limit. */
  async info(): Promise<UnitInfo> {
    this.#live();
    return {
      unitEpoch: this.#epoch,
      tail: this.#tail,
      trimMark: this.#trimMark,
      maxEntryBytes: this.disk.maxEntryBytes,
      pageBytes: 4096,
      dataPages: 0,
      usedPages: 0,
      unitId: 0,
      sync: SYNC.ALWAYS,
      formatId: this.disk.formatId,
      clusterId: '',
    };
  }

  // ---- internals ---------------------------------------------------------------

  #live(): void {
    if (this.#closed) throw new Error('sim engine: call after crash');
  }

  #checkEpoch(epoch: number): void {
    this.#live();
    if (epoch !== this.#epoch && !this.#bugs.has('skip-epoch-check')) {
      throw new CorfuError('ERR_SEALED', `unit is at epoch ${this.#epoch}, request carried ${epoch}`, { unitEpoch: this.#epoch });
    }
  }

  #slot(address: number): Slot | undefined {
    return this.#cache.get(address) ?? this.disk.slots.get(address);
  }

  #put(address: number, slot: Slot): void {
    if (this.#bugs.has('lose-acked-write') && slot.kind !== 'trimmed') {
      this.#cache.set(address, slot);
      if (this.#cache.size >= WRITE_CACHE_FLUSH) this.#flushCache();
    } else {
      this.disk.put(address, slot);
    }
  }

  /** The flush a write, fill or trim request stages into (none on an unbounded Disk). */
  #flush(): FlushStager | undefined {
    return this.disk.space === undefined ? undefined : new FlushStager(this.disk.space);
  }

  #flushCache(): void {
    for (const [a, s] of this.#cache) this.disk.put(a, s);
    this.#cache.clear();
  }

  /**
   * One WRITE, FILL or TRIM entry: [status byte, written byte]. The checks run in
   * store.rs `stage`'s order: trim mark, what the address holds, then space.
   */
  #stage(address: number, slot: Slot, flush: FlushStager | undefined): { status: number; written: number } {
    const ignoreTrim = slot.kind !== 'trimmed' && this.#bugs.has('write-ignores-trim');
    if (address < this.#trimMark && !ignoreTrim) return { status: slot.kind === 'trimmed' ? OK : TRIMMED, written: WRITTEN.NA };
    const existing = this.#slot(address);
    if (existing !== undefined) {
      if (existing.kind === 'trimmed') {
        if (slot.kind === 'trimmed') return { status: OK, written: WRITTEN.NA };
        if (!ignoreTrim) return { status: TRIMMED, written: WRITTEN.NA };
      } else if (slot.kind === 'trimmed') {
        // falls through: a trim record replaces data or junk
      } else if (slot.kind === 'data' && this.#bugs.has('overwrite')) {
        // falls through to the write below
      } else if (slot.kind === 'junk' && existing.kind === 'data' && this.#bugs.has('fill-overwrites')) {
        // falls through
      } else if (existing.kind === 'junk') {
        return { status: ERR_WRITTEN, written: WRITTEN.JUNK };
      } else if (slot.kind === 'junk') {
        return { status: ERR_WRITTEN, written: WRITTEN.DIFFERENT };
      } else {
        const same = this.#bugs.has('written-same-always') || sameBytes(existing.payload, slot.payload);
        return { status: ERR_WRITTEN, written: same ? WRITTEN.SAME : WRITTEN.DIFFERENT };
      }
    }
    if (flush !== undefined && !flush.stage(address, slot.kind === 'data' ? slot.payload.length : 0)) return { status: FULL, written: WRITTEN.NA };
    this.#put(address, slot);
    if (slot.kind !== 'junk' || !this.#bugs.has('tail-ignores-junk')) this.#tail = Math.max(this.#tail, address + 1);
    return { status: OK, written: WRITTEN.NA };
  }
}

const OK = codeByte('OK');
const ERR_WRITTEN = codeByte('ERR_WRITTEN');
const TRIMMED = codeByte('ERR_TRIMMED');
const TOO_LARGE = codeByte('ERR_TOO_LARGE');
const FULL = codeByte('ERR_FULL');
