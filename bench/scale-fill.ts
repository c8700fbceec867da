// What `bench:engine --scale` writes and checks, shared by its processes and by
// test/store.scale-loop.test.ts: entries of one size stamped with their address, written
// in batches with several calls in flight until the device answers ERR_FULL, and read
// back byte for byte.
//
// Entry at address A: a fixed byte pattern of the entry's size, with A as a float64 in
// its first and its last 8 bytes. Only the two stamps are written per entry (the
// pattern is laid into each call's buffer once), so the fill costs JavaScript little.

import { performance } from 'node:perf_hooks';

import { codeByte, type Store } from '../bindings/index.js';
import { UsageError, positiveFlag } from './common.js';
import { statusFailure } from './engine-phases.js';

const EPOCH = 0;
const OK = codeByte('OK');
const FULL = codeByte('ERR_FULL');
/** Room for the two stamps. */
export const MIN_ENTRY_BYTES = 16;
/** The engine's default largest entry (a format option the fills leave alone). */
const MAX_ENTRY_BYTES = 64 * 1024;

/** `--entry-sizes LIST`: payload sizes, comma-separated, each one a fill can write. */
export function entrySizesFlag(text: string): number[] {
  const sizes = text.split(',').map((s) => positiveFlag('entry-sizes', s));
  for (const e of sizes) {
    if (e < MIN_ENTRY_BYTES || e > MAX_ENTRY_BYTES) throw new UsageError(`--entry-sizes takes sizes from ${MIN_ENTRY_BYTES} to ${MAX_ENTRY_BYTES} bytes, got ${e}`);
  }
  return sizes;
}

export interface Batching {
  /** Entries per call. */
  readonly batch: number;
  /** Calls outstanding. */
  readonly inFlight: number;
  /**
   * Each call's addresses highest first. A unit whose writes arrive out of order breaks
   * every run of its index, which then keeps a slot per address: the worst case.
   */
  readonly descending?: boolean;
}

/** 4,096 entries a call (one index chunk), 4 calls in flight. */
export const SCALE_BATCHING: Batching = { batch: 4096, inFlight: 4 };

function pattern(entryBytes: number): Buffer {
  return Buffer.from(Array.from({ length: entryBytes }, (_, i) => (i * 131 + 17) & 0xff));
}

function stamp(buf: Buffer, at: number, entryBytes: number, address: number): void {
  buf.writeDoubleLE(address, at);
  buf.writeDoubleLE(address, at + entryBytes - 8);
}

export interface Fill {
  /** Entries acknowledged: addresses [0, entries) ascending; with `descending`, the call that met ERR_FULL got its highest addresses in. */
  entries: number;
  /** One past the highest address acknowledged. */
  tail: number;
  /** From the first call to the call that met ERR_FULL. */
  seconds: number;
}

/**
 * Writes `entryBytes` entries at addresses 0, 1, 2, ... until ERR_FULL. `onAck` hears
 * each call's acknowledged entries, [first, first + count), as soon as the call settles.
 */
export async function fillUntilFull(store: Store, entryBytes: number, b: Batching, onAck?: (first: number, count: number) => void): Promise<Fill> {
  if (entryBytes < MIN_ENTRY_BYTES) throw new RangeError(`entries must hold at least ${MIN_ENTRY_BYTES} bytes, got ${entryBytes}`);
  const lengths = new Uint32Array(b.batch).fill(entryBytes);
  const base = pattern(entryBytes);
  let next = 0;
  let entries = 0;
  let tail = 0;
  let full = false;
  const start = performance.now();
  let end = start;
  const worker = async (): Promise<void> => {
    // Each worker's buffers are its own: the addon reads them until the call settles.
    const data = Buffer.alloc(b.batch * entryBytes);
    for (let i = 0; i < b.batch; i++) base.copy(data, i * entryBytes);
    const addr = new Float64Array(b.batch);
    while (!full) {
      const first = next;
      next += b.batch;
      for (let i = 0; i < b.batch; i++) {
        addr[i] = b.descending === true ? first + b.batch - 1 - i : first + i;
        stamp(data, i * entryBytes, entryBytes, addr[i]!);
      }
      const { status } = await store.writePacked(EPOCH, addr, lengths, data);
      // Acknowledged entries, then (once the device is full) ERR_FULL for the rest.
      let ok = 0;
      while (ok < status.length && status[ok] === OK) ok++;
      for (let i = ok; i < status.length; i++) if (status[i] !== FULL) throw statusFailure(`${entryBytes}-byte fill`, status, addr);
      // The first `ok` in call order: the lowest addresses, or with `descending` the highest.
      const low = b.descending === true ? first + b.batch - ok : first;
      if (ok > 0) {
        onAck?.(low, ok);
        tail = Math.max(tail, low + ok);
      }
      entries += ok;
      if (ok < status.length && !full) {
        full = true;
        end = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: b.inFlight }, worker));
  return { entries, tail, seconds: (end - start) / 1000 };
}

export interface Check {
  checked: number;
  /** Entries that did not read back as written (status, kind, length or bytes). */
  bad: number;
  firstBad: string | null;
}

/** Reads back every address `addresses` yields, `b.batch` per call, and compares it with what the fill wrote there. */
export async function checkEntries(store: Store, entryBytes: number, addresses: Iterable<number>, b: Batching): Promise<Check> {
  const base = pattern(entryBytes);
  const it = addresses[Symbol.iterator]();
  const result: Check = { checked: 0, bad: 0, firstBad: null };
  const worker = async (): Promise<void> => {
    const addr = new Float64Array(b.batch);
    for (;;) {
      let n = 0;
      while (n < b.batch) {
        const r = it.next();
        if (r.done === true) break;
        addr[n++] = r.value;
      }
      if (n === 0) return;
      for (const o of await store.read(EPOCH, addr.subarray(0, n))) {
        result.checked++;
        const p = o.payload;
        const ok =
          o.status === 'OK' &&
          p !== undefined &&
          p.length === entryBytes &&
          p.readDoubleLE(0) === o.address &&
          p.readDoubleLE(entryBytes - 8) === o.address &&
          p.compare(base, 8, entryBytes - 8, 8, entryBytes - 8) === 0;
        if (ok) continue;
        result.bad++;
        result.firstBad ??= `address ${o.address}: status ${o.status}, kind ${o.kind}, ${p?.length ?? 0} bytes${p && p.length >= 8 ? `, stamp ${p.readDoubleLE(0)}` : ''}`;
      }
    }
  };
  await Promise.all(Array.from({ length: b.inFlight }, worker));
  return result;
}

/** Addresses [first, first + count) of each range. */
export function* rangeAddresses(ranges: Iterable<readonly [first: number, count: number]>): Generator<number> {
  for (const [first, count] of ranges) for (let a = first; a < first + count; a++) yield a;
}

/** `ranges` sorted, with touching or overlapping ranges merged. */
export function mergeRanges(ranges: Iterable<readonly [first: number, count: number]>): [number, number][] {
  const out: [number, number][] = [];
  for (const [first, count] of [...ranges].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last !== undefined && first <= last[0] + last[1]) last[1] = Math.max(last[1], first + count - last[0]);
    else out.push([first, count]);
  }
  return out;
}

/**
 * The sample `--check sample` and test/store.scale-loop.test.ts read: about 1 entry in
 * 60, plus two index summaries' worth (32,768 records each) at each end.
 */
export const SAMPLE = { edge: 65_536, block: SCALE_BATCHING.batch, every: 61 };

/**
 * A bounded sample of each range, in ascending order: all of its first and last `edge`
 * addresses (the last are the log's tail, which recovery scans instead of loading from
 * index summaries), the first and last address of every `block`-aligned block (a call
 * of the fill), and every `every`-th address in between.
 */
export function* sampleAddresses(ranges: Iterable<readonly [first: number, count: number]>, o: { edge: number; block: number; every: number }): Generator<number> {
  for (const [first, count] of ranges) {
    const end = first + count;
    for (let a = first; a < end; a++) {
      const inBlock = a % o.block;
      if (a < first + o.edge || a >= end - o.edge || inBlock === 0 || inBlock === o.block - 1 || a % o.every === 0) yield a;
    }
  }
}
