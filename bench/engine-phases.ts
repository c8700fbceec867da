// The storage engine's figures, phase by phase, as `npm run bench:engine` (bench/engine.ts)
// and `corfu bench device|compare` (src/bench/device.ts) run them: one-page writes and
// random one-page reads at a queue depth (each against fio on the same device, by the
// caller), and 128-byte appends in batches with sync 'always' and 'none'.
//
// DESTRUCTIVE: every phase formats the device with force.

import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Store, TokenCounter, type FormatOptions, type StoreStats, type SuperblockInfo, type SyncMode } from '../bindings/index.js';
import type { NativeTokenLoadSecond } from '../bindings/native-types.js';
import { UsageError, formatBytes, formatCount } from './common.js';

// The engine's page layout (native/engine/src/layout.rs): a 4096-byte page is a
// 32-byte header and a 4064-byte body; a record is a 24-byte header and its
// payload. A 4040-byte payload is therefore exactly one page on the device, the
// engine's "4 KiB entry": one device block per entry, like fio's --bs=4k.
export const PAGE_BYTES = 4096;
const PAGE_BODY_BYTES = 4064;
const RECORD_HEADER_BYTES = 24;
export const DATA_START_BYTES = 64 * 1024;
export const ONE_PAGE_PAYLOAD = PAGE_BODY_BYTES - RECORD_HEADER_BYTES;
export const SMALL_ENTRY_BYTES = 128;
const EPOCH = 0;

export type EnginePhase = 'write' | 'write-native' | 'read' | 'read-native' | 'small-always' | 'small-none';

export interface EngineArgs {
  /** Block device or regular file; FORMATTED. */
  readonly device: string;
  /** Size of the file to create or resize (files only). */
  readonly size: number | undefined;
  readonly seconds: number;
  readonly warmup: number;
  /** Outstanding single-entry calls for the one-page figures. */
  readonly queueDepth: number;
  /** Entries per call for the 128-byte figures. */
  readonly batch: number;
  /** Batches outstanding for the 128-byte figures. */
  readonly inFlight: number;
  readonly log: (message: string) => void;
  /** An observer of each phase's calls (latency, series), if any. */
  readonly observe?: (phase: EnginePhase) => LoopObserver | undefined;
}

export interface Target {
  path: string;
  kind: 'block' | 'file';
  /** Passed to every format: the file size for files, nothing for devices. */
  format: FormatOptions;
}

export function resolveTarget(args: Pick<EngineArgs, 'device' | 'size' | 'log'>): Target {
  const path = args.device;
  if (!existsSync(path)) {
    if (args.size === undefined) throw new UsageError(`${path} does not exist; pass --size BYTES to create a file there, or name a block device`);
    return { path, kind: 'file', format: { force: true, sizeBytes: args.size } };
  }
  const st = statSync(path);
  if (st.isBlockDevice()) {
    if (args.size !== undefined) args.log(`--size is for files; ${path} is a block device and is used whole`);
    return { path, kind: 'block', format: { force: true } };
  }
  if (!st.isFile()) throw new UsageError(`${path} is neither a block device nor a regular file`);
  const sizeBytes = args.size ?? st.size;
  return { path, kind: 'file', format: { force: true, sizeBytes } };
}

export function format(target: Target): SuperblockInfo {
  return Store.format(target.path, target.format);
}

/**
 * Keeps a time-based append run from filling the device: a log at steady
 * state trims its head. When the live span passes 75% of capacity, one prefix
 * trim moves the mark to 10% below the tail (a superblock write, rare).
 */
export class HeadTrimmer {
  #mark = 0;
  #busy = false;
  #failure: unknown;
  trims = 0;

  constructor(
    readonly store: Store,
    readonly capacityEntries: number,
  ) {}

  after(nextAddress: number): void {
    if (this.#busy || nextAddress - this.#mark < 0.75 * this.capacityEntries) return;
    this.#busy = true;
    this.#mark = Math.max(this.#mark, Math.floor(nextAddress - 0.1 * this.capacityEntries));
    this.trims++;
    this.store.prefixTrim(EPOCH, this.#mark).then(
      () => (this.#busy = false),
      (err: unknown) => (this.#failure ??= err),
    );
  }

  check(): void {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the prefix trim rejected with
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/** Entries of `payloadBytes` that fit the data region, with room for page padding. */
export function capacityEntries(info: SuperblockInfo, payloadBytes: number): number {
  if (payloadBytes === ONE_PAGE_PAYLOAD) return info.dataPages;
  return Math.floor(((info.dataPages * PAGE_BODY_BYTES) / (RECORD_HEADER_BYTES + payloadBytes)) * 0.95);
}

export interface Run {
  /** Entries completed inside the measured window, per second. */
  rate: number;
  entries: number;
  /** Entries completed including the warm-up. */
  allEntries: number;
  measuredSeconds: number;
  /** CPU time of this whole process (all threads: JS, the store's I/O thread, GC helpers) per entry, warm-up included. */
  cpuUsPerEntry: number;
}

/** Sees every call of a phase's measured window (`corfu bench device` records latency and series with it). */
export interface LoopObserver {
  /** The window, in performance.now() ms: warm-up ends at `start`, the loops stop issuing at `end`. */
  window(start: number, end: number): void;
  /** One call from t0 to t1 that completed `entries` entries. */
  op(t0: number, t1: number, entries: number): void;
  /** The loops have stopped. */
  done(): void;
}

/**
 * Runs `workers` closed loops of `op` for warmup + seconds; `op` resolves to the
 * number of entries it completed. Counting starts when the warm-up ends.
 */
export async function closedLoop(workers: number, warmup: number, seconds: number, op: (worker: number) => Promise<number>, observer?: LoopObserver): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const countFrom = start + warmup * 1000;
  const end = countFrom + seconds * 1000;
  observer?.window(countFrom, end);
  let entries = 0;
  let allEntries = 0;
  const loop = async (w: number): Promise<void> => {
    while (performance.now() < end) {
      const t0 = observer === undefined ? 0 : performance.now();
      const n = await op(w);
      if (observer !== undefined) observer.op(t0, performance.now(), n);
      allEntries += n;
      if (performance.now() >= countFrom) entries += n;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  observer?.done();
  const measuredSeconds = (performance.now() - countFrom) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rate: entries / measuredSeconds, entries, allEntries, measuredSeconds, cpuUsPerEntry: (cpu.user + cpu.system) / Math.max(1, allEntries) };
}

export interface EngineFigure extends Run {
  sync: SyncMode;
  /** Prefix trims issued to keep the device from filling (a superblock write each). */
  trims: number;
  stats: StoreStats;
}

export function statusFailure(what: string, status: Buffer, addresses: Float64Array): Error {
  const i = status.findIndex((b) => b !== 0);
  return new Error(`${what}: address ${addresses[i]} answered status ${status[i]} (first of ${status.filter((b) => b !== 0).length} failures in the batch)`);
}

/** One-page entries, one per call, `qd` calls outstanding, sequential tokens. */
export async function onePageWrites(target: Target, args: EngineArgs): Promise<WriteFigure> {
  const info = format(target);
  const store = Store.open(target.path, { sync: 'none' });
  const tokens = new TokenCounter(0);
  const trimmer = new HeadTrimmer(store, capacityEntries(info, ONE_PAGE_PAYLOAD));
  const lengths = Uint32Array.of(ONE_PAGE_PAYLOAD);
  // Per worker: its payload and address array. Each worker has one call
  // outstanding, so it may rewrite them once that call has settled (the addon
  // copies addresses during the call and reads the payload until it settles).
  const payloads = Array.from({ length: args.queueDepth }, (_, w) => Buffer.alloc(ONE_PAGE_PAYLOAD, 0x41 + (w % 26)));
  const addresses = Array.from({ length: args.queueDepth }, () => new Float64Array(1));
  // Tokens are taken the way the design's client takes them: coalesced, one
  // next(n) serving n appends (docs/design.md, "The client protocol"), so the
  // figure is the store's and not one extra N-API call per entry. Addresses
  // are still handed out in order.
  let pool = 0;
  let poolEnd = 0;
  const token = (): number => {
    if (pool === poolEnd) {
      pool = tokens.next(args.queueDepth);
      poolEnd = pool + args.queueDepth;
    }
    return pool++;
  };
  try {
    const run = await closedLoop(
      args.queueDepth,
      args.warmup,
      args.seconds,
      async (w) => {
        const address = token();
        const addr = addresses[w]!;
        const payload = payloads[w]!;
        addr[0] = address;
        payload.writeDoubleLE(address, 0);
        const result = await store.writePacked(EPOCH, addr, lengths, payload);
        if (result.status[0] !== 0) throw statusFailure('one-page write', result.status, addr);
        trimmer.after(address + 1);
        return 1;
      },
      args.observe?.('write'),
    );
    trimmer.check();
    const stats = await store.stats();
    const native = await nativeWrites(store, args, args.observe?.('write-native'));
    const after = await store.stats();
    const nativeStats = {
      ...after,
      rounds: after.rounds - stats.rounds,
      entriesWritten: after.entriesWritten - stats.entriesWritten,
      flushes: after.flushes - stats.flushes,
      pagesWritten: after.pagesWritten - stats.pagesWritten,
    };
    return { ...run, sync: 'none', trims: trimmer.trims, stats, native: native.run, nativeTrims: native.trims, nativeStats };
  } finally {
    await store.close();
  }
}

/** Writes addresses [0, count) as one-page entries stamped with their address; untimed. */
export async function prefill(store: Store, count: number): Promise<void> {
  const batch = 1024; // one flush of 1024 pages: the engine's largest single I/O
  const inFlight = 4;
  const lengths = new Uint32Array(batch).fill(ONE_PAGE_PAYLOAD);
  let next = 0;
  const loop = async (): Promise<void> => {
    const data = Buffer.alloc(batch * ONE_PAGE_PAYLOAD, 0x52);
    const addr = new Float64Array(batch);
    while (next < count) {
      const first = next;
      const n = Math.min(batch, count - first);
      next += n;
      for (let i = 0; i < n; i++) {
        addr[i] = first + i;
        data.writeDoubleLE(first + i, i * ONE_PAGE_PAYLOAD);
      }
      const a = n === batch ? addr : addr.subarray(0, n);
      const result = await store.writePacked(EPOCH, a, n === batch ? lengths : lengths.subarray(0, n), n === batch ? data : data.subarray(0, n * ONE_PAGE_PAYLOAD));
      if (result.status.some((b) => b !== 0)) throw statusFailure('prefill', result.status, a);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
}

export interface WriteFigure extends EngineFigure {
  /** The same writes from the native write load (nativeWrites), on the same store after them. */
  native: Run;
  nativeTrims: number;
  /** The store's counters over the native load alone (rounds, flushes, entries, pages). */
  nativeStats: StoreStats;
}

export interface ReadFigure extends EngineFigure {
  span: number;
  spanBytes: number;
  prefillSeconds: number;
  /** The same reads from the native read load (nativeReads). */
  native: Run;
}

/** Prefills most of the device, then random single-entry reads (`readInto`, a buffer per worker), `qd` outstanding. */
export async function onePageReads(target: Target, args: EngineArgs): Promise<ReadFigure> {
  const info = format(target);
  // Most of the device, capped so that a large disk does not take an hour to fill;
  // fio reads the same span (DATA_START_BYTES + span pages).
  // 95% leaves room for what the engine writes besides entries (its index summaries).
  const span = Math.min(Math.floor(info.dataPages * 0.95), Math.floor((64 * 1024 ** 3) / PAGE_BYTES));
  if (span < 1024) throw new UsageError(`the device holds only ${info.dataPages} pages; use at least 64 MiB`);
  const store = Store.open(target.path, { sync: 'none' });
  try {
    args.log(`prefilling ${formatCount(span)} one-page entries (${formatBytes(span * PAGE_BYTES)}) for the read figures`);
    const t0 = performance.now();
    await prefill(store, span);
    const prefillSeconds = (performance.now() - t0) / 1000;
    const addresses = Array.from({ length: args.queueDepth }, () => new Float64Array(1));
    // Each worker reads into its own buffer, again and again (`readInto`), as fio reads
    // into its own: no new memory per read for the garbage collector to chase.
    const targets = Array.from({ length: args.queueDepth }, () => Buffer.alloc(ONE_PAGE_PAYLOAD));
    // xorshift32 per worker: cheap, deterministic, no Math.random in the loop.
    const seeds = Uint32Array.from({ length: args.queueDepth }, (_, w) => 0x9e3779b9 ^ ((w + 1) * 0x85ebca6b));
    let bad = 0;
    let firstBad = '';
    const run = await closedLoop(
      args.queueDepth,
      args.warmup,
      args.seconds,
      async (w) => {
        let x = seeds[w]!;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        seeds[w] = x;
        const address = (x >>> 0) % span;
        const addr = addresses[w]!;
        addr[0] = address;
        const [outcome] = await store.readInto(EPOCH, addr, targets[w]!);
        const payload = outcome?.payload;
        if (outcome?.status !== 'OK' || payload === undefined || payload.length !== ONE_PAGE_PAYLOAD || payload.readDoubleLE(0) !== address) {
          bad++;
          firstBad ||= `address ${address}: status ${outcome?.status}, kind ${outcome?.kind}, ${payload?.length} bytes, stamp ${payload?.readDoubleLE(0)}`;
        }
        return 1;
      },
      args.observe?.('read'),
    );
    if (bad > 0) throw new Error(`${bad} reads returned the wrong entry; first: ${firstBad}`);
    const native = await nativeReads(store, span, args, args.observe?.('read-native'));
    const stats = await store.stats();
    return { ...run, sync: 'none', trims: 0, stats, span, spanBytes: DATA_START_BYTES + span * PAGE_BYTES, prefillSeconds, native };
  } finally {
    await store.close();
  }
}

/**
 * The same reads from the addon's read load (native/engine/src/read_load.rs): its own
 * thread keeps `queueDepth` reads in flight on the engine's read service and replaces each
 * as it completes, as a unit's native front feeds that service, with no JavaScript between
 * a completion and the next read. Each read's status and kind are checked there, not its
 * bytes (the JS loop above checks those).
 */
async function nativeReads(store: Store, span: number, args: EngineArgs, observer?: LoopObserver): Promise<Run> {
  const load = store.readLoad({ queueDepth: args.queueDepth, span, epoch: EPOCH, seed: 0x9e3779b9 });
  return (await nativeWindow('read load', load, args, observer)).run;
}

/**
 * The same writes from the addon's write load (native/engine/src/write_load.rs), on the
 * same store from its tail: a thread holds the store and keeps `queueDepth` one-page
 * writes in flight, beginning a round with the free ones before it finishes the oldest,
 * as a unit's native front and I/O thread drive the store, with no JavaScript between an
 * answer and the next write. Its prefix trims keep the span inside the device, as
 * HeadTrimmer does for the JS loop.
 */
async function nativeWrites(store: Store, args: EngineArgs, observer?: LoopObserver): Promise<{ run: Run; trims: number }> {
  const load = store.writeLoad({ queueDepth: args.queueDepth, epoch: EPOCH, payloadBytes: ONE_PAGE_PAYLOAD });
  const { run, result } = await nativeWindow('write load', load, args, observer);
  return { run, trims: result.trims };
}

/**
 * Runs a native load through the warm-up and the measured window, and replays its
 * latencies (whole microseconds per second of the window) into the observer, so that
 * its figures are recorded as every phase's. CPU is the whole process's: the load's
 * thread and the JS thread that waits for it.
 */
async function nativeWindow<R extends NativeLoadResult>(what: string, load: NativeLoad<R>, args: EngineArgs, observer?: LoopObserver): Promise<{ run: Run; result: R }> {
  const countFrom = performance.now() + args.warmup * 1000;
  const end = countFrom + args.seconds * 1000;
  observer?.window(countFrom, end);
  const cpu0 = process.cpuUsage();
  let result: R;
  try {
    await sleepUnlessFailed(what, load, countFrom);
    load.open();
    await sleepUnlessFailed(what, load, end);
  } finally {
    result = load.close();
  }
  if (result.failure !== undefined && result.failure !== null) throw new Error(`the native ${what}: ${result.failure}`);
  result.seconds.forEach((second, s) => {
    // Each second's operations, ending at its middle (or the window's end, for a last part-second).
    const t1 = Math.min(countFrom + s * 1000 + 500, end);
    second.latencyUs.forEach((us, i) => {
      for (let k = 0; k < second.counts[i]!; k++) observer?.op(t1 - us / 1000, t1, 1);
    });
  });
  observer?.done();
  const cpu = process.cpuUsage(cpu0);
  const run = { rate: result.ops / args.seconds, entries: result.ops, allEntries: result.ops, measuredSeconds: args.seconds, cpuUsPerEntry: (cpu.user + cpu.system) / Math.max(1, result.ops) };
  return { run, result };
}

/** What nativeWindow needs of the addon's read and write loads. */
interface NativeLoadResult {
  ops: number;
  seconds: NativeTokenLoadSecond[];
  failure?: string | null;
}

interface NativeLoad<R extends NativeLoadResult> {
  failure(): string | null;
  open(): void;
  close(): R;
}

/** Waits until `until` (performance.now() ms), or throws as soon as the load reports a failure. */
async function sleepUnlessFailed(what: string, load: NativeLoad<NativeLoadResult>, until: number): Promise<void> {
  while (performance.now() < until) {
    const failure = load.failure();
    if (failure !== null) throw new Error(`the native ${what}: ${failure}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, until - performance.now())));
  }
}

/** 128-byte entries, `batch` per call, `inFlight` calls outstanding, tokens from a counter. */
export async function smallAppends(target: Target, args: EngineArgs, sync: SyncMode): Promise<EngineFigure> {
  const info = format(target);
  const store = Store.open(target.path, { sync });
  const tokens = new TokenCounter(0);
  const trimmer = new HeadTrimmer(store, capacityEntries(info, SMALL_ENTRY_BYTES));
  const lengths = new Uint32Array(args.batch).fill(SMALL_ENTRY_BYTES);
  // The payload buffer is only read while calls are outstanding, so every call shares it.
  const data = Buffer.alloc(args.batch * SMALL_ENTRY_BYTES, 0x73);
  const ok = Buffer.alloc(args.batch);
  const addresses = Array.from({ length: args.inFlight }, () => new Float64Array(args.batch));
  try {
    const run = await closedLoop(
      args.inFlight,
      args.warmup,
      args.seconds,
      async (w) => {
        const first = tokens.next(args.batch);
        const addr = addresses[w]!;
        for (let i = 0; i < addr.length; i++) addr[i] = first + i;
        const result = await store.writePacked(EPOCH, addr, lengths, data);
        if (!result.status.equals(ok)) throw statusFailure(`128-byte append (sync ${sync})`, result.status, addr);
        trimmer.after(first + args.batch);
        return args.batch;
      },
      args.observe?.(sync === 'always' ? 'small-always' : 'small-none'),
    );
    trimmer.check();
    return { ...run, sync, trims: trimmer.trims, stats: await store.stats() };
  } finally {
    await store.close();
  }
}

export function ratio(ours: number, theirs: number): number {
  return theirs > 0 ? ours / theirs : Number.NaN;
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function perRound(stats: StoreStats): number {
  return stats.rounds > 0 ? stats.entriesWritten / stats.rounds : 0;
}

export function pagesPerFlush(stats: StoreStats): number {
  return stats.flushes > 0 ? stats.pagesWritten / stats.flushes : 0;
}
