// `npm run bench:engine -- --device PATH [--seconds N] [--json] [--size BYTES]`
//
// The storage engine against fio on one device, in one run (these machines are
// noisy, so only ratios measured side by side mean much):
//
//   1. one-page entries at queue depth 32, sequential addresses, sync 'none'
//      -> write_iops; fio --rw=write on the same device -> fio_write_iops
//   2. random single-entry reads at queue depth 32 over a prefilled region
//      -> read_iops; fio --rw=randread over the same region -> fio_read_iops
//   3. 128-byte entries appended in batches of 1024, several batches in flight,
//      with sync 'always' and with sync 'none' -> entries per second
//
// DESTRUCTIVE: the device is formatted with force (and overwritten by fio)
// several times. Benchmarks are not tests: a missed target is reported, and the
// exit code is 0.

import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Store, TokenCounter, type FormatOptions, type StoreStats, type SuperblockInfo, type SyncMode } from '../bindings/index.js';
import { UsageError, formatBytes, formatCount, parseSize, positiveFlag, renderTable, runMain } from './common.js';

// The engine's page layout (native/engine/src/layout.rs): a 4096-byte page is a
// 32-byte header and a 4064-byte body; a record is a 24-byte header and its
// payload. A 4040-byte payload is therefore exactly one page on the device, the
// engine's "4 KiB entry": one device block per entry, like fio's --bs=4k.
const PAGE_BYTES = 4096;
const PAGE_BODY_BYTES = 4064;
const RECORD_HEADER_BYTES = 24;
const DATA_START_BYTES = 64 * 1024;
const ONE_PAGE_PAYLOAD = PAGE_BODY_BYTES - RECORD_HEADER_BYTES;
const SMALL_ENTRY_BYTES = 128;
const EPOCH = 0;

const USAGE = `usage: npm run bench:engine -- --device PATH [--seconds N] [--json] [--size BYTES]
  --device PATH      block device (e.g. a loop device) or regular file; it is FORMATTED (erased)
  --size BYTES       size of the file to create or resize (2G, 512M, ...); files only
  --seconds N        measured seconds per figure (default 5)
  --json             end the output with one JSON line of all figures
  --queue-depth N    outstanding single-entry calls for the one-page figures (default 32)
  --batch N          entries per call for the 128-byte figures (default 1024)
  --in-flight N      batches outstanding for the 128-byte figures (default 8)
  --warmup N         seconds run before each measurement, not counted (default 1)
  --no-fio           skip fio (ratios are then missing; for profiling the engine side)
  --only LIST        run only some figures, for profiling: write,read,small (default all;
                     a partial run prints only what it measured)`;

interface Args {
  device: string;
  seconds: number;
  json: boolean;
  size: number | undefined;
  queueDepth: number;
  batch: number;
  inFlight: number;
  warmup: number;
  only: ReadonlySet<Phase>;
  fio: boolean;
}

type Phase = 'write' | 'read' | 'small';
const PHASES: readonly Phase[] = ['write', 'read', 'small'];

function positive(text: string | undefined, name: string, fallback: number, integer = true): number {
  return text === undefined ? fallback : positiveFlag(name, text, integer);
}

function parse(argv: string[]): Args {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        device: { type: 'string' },
        seconds: { type: 'string' },
        json: { type: 'boolean', default: false },
        size: { type: 'string' },
        'queue-depth': { type: 'string' },
        batch: { type: 'string' },
        'in-flight': { type: 'string' },
        warmup: { type: 'string' },
        only: { type: 'string' },
        'no-fio': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.device === undefined) throw new UsageError(`--device PATH is required\n${USAGE}`);
  let size: number | undefined;
  if (values.size !== undefined) {
    size = parseSize(values.size);
    if (size === undefined || size <= 0) throw new UsageError(`--size must be a size like 2G or 536870912, got ${JSON.stringify(values.size)}`);
  }
  const warmup = values.warmup === undefined ? 1 : Number(values.warmup);
  if (!Number.isFinite(warmup) || warmup < 0) throw new UsageError(`--warmup must be a number of seconds >= 0, got ${JSON.stringify(values.warmup)}`);
  const only = new Set<Phase>();
  for (const p of (values.only ?? PHASES.join(',')).split(',')) {
    if (!(PHASES as readonly string[]).includes(p)) throw new UsageError(`--only takes a list of ${PHASES.join(', ')}; got ${JSON.stringify(p)}`);
    only.add(p as Phase);
  }
  return {
    device: values.device,
    only,
    fio: !values['no-fio'],
    seconds: positive(values.seconds, 'seconds', 5, false),
    json: values.json,
    size,
    queueDepth: positive(values['queue-depth'], 'queue-depth', 32),
    batch: positive(values.batch, 'batch', 1024),
    inFlight: positive(values['in-flight'], 'in-flight', 8),
    warmup,
  };
}

function log(message: string): void {
  process.stderr.write(`bench:engine: ${message}\n`);
}

// ---------------------------------------------------------------- fio

function checkFio(): string {
  const r = spawnSync('fio', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError('fio is not installed, and it is the reference every ratio is measured against: apt-get install fio');
    throw new UsageError(`cannot run fio: ${r.error.message}`);
  }
  return r.stdout.trim();
}

interface FioResult {
  iops: number;
  /** fio's own CPU time (user + system) per I/O, microseconds. */
  cpuUsPerIo: number;
  /** Mean completion latency, microseconds. */
  clatMeanUs: number;
}

function runFio(path: string, rw: 'write' | 'randread', sizeBytes: number, seconds: number, warmup: number, queueDepth: number): FioResult {
  const args = [
    `--name=${rw === 'write' ? 'w' : 'r'}`,
    `--filename=${path}`,
    '--ioengine=io_uring',
    '--direct=1',
    '--bs=4k',
    `--iodepth=${queueDepth}`,
    `--rw=${rw}`,
    '--time_based',
    `--runtime=${seconds}`,
    ...(warmup > 0 ? [`--ramp_time=${warmup}`] : []),
    `--size=${Math.floor(sizeBytes / PAGE_BYTES) * PAGE_BYTES}`,
    '--numjobs=1',
    '--output-format=json',
  ];
  log(`fio ${args.join(' ')}`);
  const r = spawnSync('fio', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw new Error(`fio failed to start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`fio exited with ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
  // fio may print notes before the JSON document.
  const start = r.stdout.indexOf('{');
  type Side = { iops: number; total_ios: number; runtime: number; clat_ns?: { mean: number } };
  const doc = JSON.parse(r.stdout.slice(start)) as { jobs: Array<{ read: Side; write: Side; usr_cpu: number; sys_cpu: number }> };
  const job = doc.jobs[0];
  if (job === undefined) throw new Error('fio printed no job results');
  const side = job[rw === 'write' ? 'write' : 'read'];
  // usr_cpu/sys_cpu are percent of one CPU over the job's run time (ms).
  const cpuUsPerIo = (((job.usr_cpu + job.sys_cpu) / 100) * side.runtime * 1000) / Math.max(1, side.total_ios);
  return { iops: side.iops, cpuUsPerIo, clatMeanUs: (side.clat_ns?.mean ?? Number.NaN) / 1000 };
}

// ---------------------------------------------------------------- the engine

interface Target {
  path: string;
  kind: 'block' | 'file';
  /** Passed to every format: the file size for files, nothing for devices. */
  format: FormatOptions;
}

function resolveTarget(args: Args): Target {
  const path = args.device;
  if (!existsSync(path)) {
    if (args.size === undefined) throw new UsageError(`${path} does not exist; pass --size BYTES to create a file there, or name a block device`);
    return { path, kind: 'file', format: { force: true, sizeBytes: args.size } };
  }
  const st = statSync(path);
  if (st.isBlockDevice()) {
    if (args.size !== undefined) log(`--size is for files; ${path} is a block device and is used whole`);
    return { path, kind: 'block', format: { force: true } };
  }
  if (!st.isFile()) throw new UsageError(`${path} is neither a block device nor a regular file`);
  const sizeBytes = args.size ?? st.size;
  return { path, kind: 'file', format: { force: true, sizeBytes } };
}

function format(target: Target): SuperblockInfo {
  return Store.format(target.path, target.format);
}

/**
 * Keeps a time-based append run from filling the device: a log at steady
 * state trims its head. When the live span passes 75% of capacity, one prefix
 * trim moves the mark to 10% below the tail (a superblock write, rare).
 */
class HeadTrimmer {
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
function capacityEntries(info: SuperblockInfo, payloadBytes: number): number {
  if (payloadBytes === ONE_PAGE_PAYLOAD) return info.dataPages;
  return Math.floor(((info.dataPages * PAGE_BODY_BYTES) / (RECORD_HEADER_BYTES + payloadBytes)) * 0.95);
}

interface Run {
  /** Entries completed inside the measured window, per second. */
  rate: number;
  entries: number;
  /** Entries completed including the warm-up. */
  allEntries: number;
  measuredSeconds: number;
  /** CPU time of this whole process (all threads: JS, the store's I/O thread, GC helpers) per entry, warm-up included. */
  cpuUsPerEntry: number;
}

/**
 * Runs `workers` closed loops of `op` for warmup + seconds; `op` resolves to the
 * number of entries it completed. Counting starts when the warm-up ends.
 */
async function closedLoop(workers: number, warmup: number, seconds: number, op: (worker: number) => Promise<number>): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const countFrom = start + warmup * 1000;
  const end = countFrom + seconds * 1000;
  let entries = 0;
  let allEntries = 0;
  const loop = async (w: number): Promise<void> => {
    while (performance.now() < end) {
      const n = await op(w);
      allEntries += n;
      if (performance.now() >= countFrom) entries += n;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  const measuredSeconds = (performance.now() - countFrom) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rate: entries / measuredSeconds, entries, allEntries, measuredSeconds, cpuUsPerEntry: (cpu.user + cpu.system) / Math.max(1, allEntries) };
}

interface EngineFigure extends Run {
  sync: SyncMode;
  /** Prefix trims issued to keep the device from filling (a superblock write each). */
  trims: number;
  stats: StoreStats;
}

function statusFailure(what: string, status: Buffer, addresses: Float64Array): Error {
  const i = status.findIndex((b) => b !== 0);
  return new Error(`${what}: address ${addresses[i]} answered status ${status[i]} (first of ${status.filter((b) => b !== 0).length} failures in the batch)`);
}

/** One-page entries, one per call, `qd` calls outstanding, sequential tokens. */
async function onePageWrites(target: Target, args: Args): Promise<EngineFigure> {
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
    const run = await closedLoop(args.queueDepth, args.warmup, args.seconds, async (w) => {
      const address = token();
      const addr = addresses[w]!;
      const payload = payloads[w]!;
      addr[0] = address;
      payload.writeDoubleLE(address, 0);
      const result = await store.writePacked(EPOCH, addr, lengths, payload);
      if (result.status[0] !== 0) throw statusFailure('one-page write', result.status, addr);
      trimmer.after(address + 1);
      return 1;
    });
    trimmer.check();
    return { ...run, sync: 'none', trims: trimmer.trims, stats: await store.stats() };
  } finally {
    await store.close();
  }
}

/** Writes addresses [0, count) as one-page entries stamped with their address; untimed. */
async function prefill(store: Store, count: number): Promise<void> {
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

interface ReadFigure extends EngineFigure {
  span: number;
  spanBytes: number;
  prefillSeconds: number;
}

/** Prefills most of the device, then random single-entry reads, `qd` outstanding. */
async function onePageReads(target: Target, args: Args): Promise<ReadFigure> {
  const info = format(target);
  // Most of the device, capped so that a large disk does not take an hour to fill;
  // fio reads the same span (DATA_START_BYTES + span pages).
  // 95% leaves room for what the engine writes besides entries (its index summaries).
  const span = Math.min(Math.floor(info.dataPages * 0.95), Math.floor((64 * 1024 ** 3) / PAGE_BYTES));
  if (span < 1024) throw new UsageError(`the device holds only ${info.dataPages} pages; use at least 64 MiB`);
  const store = Store.open(target.path, { sync: 'none' });
  try {
    log(`prefilling ${formatCount(span)} one-page entries (${formatBytes(span * PAGE_BYTES)}) for the read figures`);
    const t0 = performance.now();
    await prefill(store, span);
    const prefillSeconds = (performance.now() - t0) / 1000;
    const addresses = Array.from({ length: args.queueDepth }, () => new Float64Array(1));
    // xorshift32 per worker: cheap, deterministic, no Math.random in the loop.
    const seeds = Uint32Array.from({ length: args.queueDepth }, (_, w) => 0x9e3779b9 ^ ((w + 1) * 0x85ebca6b));
    let bad = 0;
    let firstBad = '';
    const run = await closedLoop(args.queueDepth, args.warmup, args.seconds, async (w) => {
      let x = seeds[w]!;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      seeds[w] = x;
      const address = (x >>> 0) % span;
      const addr = addresses[w]!;
      addr[0] = address;
      const [outcome] = await store.read(EPOCH, addr);
      const payload = outcome?.payload;
      if (outcome?.status !== 'OK' || payload === undefined || payload.length !== ONE_PAGE_PAYLOAD || payload.readDoubleLE(0) !== address) {
        bad++;
        firstBad ||= `address ${address}: status ${outcome?.status}, kind ${outcome?.kind}, ${payload?.length} bytes, stamp ${payload?.readDoubleLE(0)}`;
      }
      return 1;
    });
    if (bad > 0) throw new Error(`${bad} reads returned the wrong entry; first: ${firstBad}`);
    const stats = await store.stats();
    return { ...run, sync: 'none', trims: 0, stats, span, spanBytes: DATA_START_BYTES + span * PAGE_BYTES, prefillSeconds };
  } finally {
    await store.close();
  }
}

/** 128-byte entries, `batch` per call, `inFlight` calls outstanding, tokens from a counter. */
async function smallAppends(target: Target, args: Args, sync: SyncMode): Promise<EngineFigure> {
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
    const run = await closedLoop(args.inFlight, args.warmup, args.seconds, async (w) => {
      const first = tokens.next(args.batch);
      const addr = addresses[w]!;
      for (let i = 0; i < addr.length; i++) addr[i] = first + i;
      const result = await store.writePacked(EPOCH, addr, lengths, data);
      if (!result.status.equals(ok)) throw statusFailure(`128-byte append (sync ${sync})`, result.status, addr);
      trimmer.after(first + args.batch);
      return args.batch;
    });
    trimmer.check();
    return { ...run, sync, trims: trimmer.trims, stats: await store.stats() };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------- report

function ratio(ours: number, theirs: number): number {
  return theirs > 0 ? ours / theirs : Number.NaN;
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function perRound(stats: StoreStats): number {
  return stats.rounds > 0 ? stats.entriesWritten / stats.rounds : 0;
}

function pagesPerFlush(stats: StoreStats): number {
  return stats.flushes > 0 ? stats.pagesWritten / stats.flushes : 0;
}

type Row = string[];

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const fioVersion = args.fio ? checkFio() : 'fio skipped (--no-fio)';
  const target = resolveTarget(args);
  const first = format(target);
  const deviceBytes = first.deviceBytes;
  log(`${target.path}: ${target.kind}, ${formatBytes(deviceBytes)}, logical block ${first.logicalBlockBytes} B; ${args.seconds} s per figure after ${args.warmup} s of warm-up`);
  const fio = (rw: 'write' | 'randread', size: number): FioResult | undefined => (args.fio ? runFio(target.path, rw, size, args.seconds, args.warmup, args.queueDepth) : undefined);

  let w: EngineFigure | undefined;
  let fioW: FioResult | undefined;
  if (args.only.has('write')) {
    log(`engine: one-page (${ONE_PAGE_PAYLOAD} B) writes, queue depth ${args.queueDepth}, sync none`);
    w = await onePageWrites(target, args);
    fioW = fio('write', deviceBytes);
  }
  let r: ReadFigure | undefined;
  let fioR: FioResult | undefined;
  if (args.only.has('read')) {
    log(`engine: random one-page reads, queue depth ${args.queueDepth}`);
    r = await onePageReads(target, args);
    fioR = fio('randread', r.spanBytes);
  }
  let sSync: EngineFigure | undefined;
  let sNone: EngineFigure | undefined;
  if (args.only.has('small')) {
    log(`engine: ${SMALL_ENTRY_BYTES} B appends, ${args.batch} per call, ${args.inFlight} calls in flight, sync always`);
    sSync = await smallAppends(target, args, 'always');
    log(`engine: ${SMALL_ENTRY_BYTES} B appends, ${args.batch} per call, ${args.inFlight} calls in flight, sync none`);
    sNone = await smallAppends(target, args, 'none');
  }
  // Leave a valid, empty unit behind rather than fio's bytes.
  format(target);

  const opt = (n: number | undefined, digits = 0): number | null => (n === undefined || Number.isNaN(n) ? null : round(n, digits));
  const figures = {
    write_iops: opt(w?.rate),
    fio_write_iops: opt(fioW?.iops),
    write_ratio: w && fioW ? opt(ratio(w.rate, fioW.iops), 3) : null,
    read_iops: opt(r?.rate),
    fio_read_iops: opt(fioR?.iops),
    read_ratio: r && fioR ? opt(ratio(r.rate, fioR.iops), 3) : null,
    small_appends_per_s_sync: opt(sSync?.rate),
    small_appends_per_s_nosync: opt(sNone?.rate),
  };
  const verdict = (value: number | null, goal: number, label: string): string => (value === null ? '' : `${value >= goal ? 'met' : 'MISSED'} (${label})`);
  const count = (n: number | undefined): string => (n === undefined ? '' : formatCount(n));

  const out: string[] = [];
  out.push(`Corfu engine vs fio on ${target.path} (${target.kind}, ${formatBytes(deviceBytes)}), node ${process.version}, ${fioVersion}`);
  out.push(`${args.seconds} s measured per figure after ${args.warmup} s warm-up. One-page entry = ${ONE_PAGE_PAYLOAD} B payload + 56 B of headers = one 4 KiB page.`);
  out.push(`The 4 KiB figures run with NO fsync on either side: the engine with sync 'none', fio with --direct=1 and no --fsync.`);
  out.push('');
  const rows: Row[] = [['figure', 'sync', 'engine', 'fio', 'ratio', 'target']];
  const small = `${SMALL_ENTRY_BYTES} B appends, ${args.batch}/call, ${args.inFlight} in flight (entries/s)`;
  if (w)
    rows.push([`4 KiB writes, QD ${args.queueDepth}, sequential (IOPS)`, 'none', count(w.rate), count(fioW?.iops), figures.write_ratio?.toFixed(3) ?? '', verdict(figures.write_ratio, 0.9, '>= 0.9')]);
  if (r)
    rows.push([`4 KiB random reads, QD ${args.queueDepth} (IOPS)`, 'n/a (reads)', count(r.rate), count(fioR?.iops), figures.read_ratio?.toFixed(3) ?? '', verdict(figures.read_ratio, 0.9, '>= 0.9')]);
  if (sSync) rows.push([small, 'always', count(sSync.rate), '', '', verdict(figures.small_appends_per_s_sync, 300_000, '>= 300,000')]);
  if (sNone) rows.push([small, 'none', count(sNone.rate), '', '', verdict(figures.small_appends_per_s_nosync, 1_000_000, '>= 1,000,000')]);
  out.push(renderTable(rows));
  out.push('');
  out.push('How the engine grouped the work (Store.stats(); a round is one submission, plus one fdatasync with sync always):');
  const grouping: Row[] = [['figure', 'sync', 'entries/round', 'pages/flush', 'rounds', 'prefix trims']];
  if (w) grouping.push(['4 KiB writes', 'none', perRound(w.stats).toFixed(1), pagesPerFlush(w.stats).toFixed(1), formatCount(w.stats.rounds), String(w.trims)]);
  // Reads bypass the write rounds: the read service answers each as it completes.
  if (r) grouping.push(['4 KiB reads', 'n/a', 'read service', '', '', '0']);
  for (const s of [sSync, sNone]) {
    if (s) grouping.push([`${SMALL_ENTRY_BYTES} B appends`, s.sync, perRound(s.stats).toFixed(1), pagesPerFlush(s.stats).toFixed(1), formatCount(s.stats.rounds), String(s.trims)]);
  }
  out.push(renderTable(grouping));
  const cpuRows: Row[] = [['CPU time per I/O (µs, user+system)', 'engine process', 'fio']];
  if (w) cpuRows.push(['4 KiB writes', w.cpuUsPerEntry.toFixed(2), fioW ? fioW.cpuUsPerIo.toFixed(2) : '']);
  if (r) cpuRows.push(['4 KiB random reads', r.cpuUsPerEntry.toFixed(2), fioR ? fioR.cpuUsPerIo.toFixed(2) : '']);
  for (const s of [sSync, sNone]) if (s) cpuRows.push([`${SMALL_ENTRY_BYTES} B appends, sync ${s.sync} (per entry)`, s.cpuUsPerEntry.toFixed(3), '']);
  out.push('');
  out.push(renderTable(cpuRows));
  out.push("(kernel work done by the loop device's worker threads is charged to neither.)");
  if (fioW) out.push(`fio write: mean completion latency ${fioW.clatMeanUs.toFixed(1)} µs.`);
  if (r)
    out.push(
      `Reads span ${formatBytes(r.spanBytes)} of the device on both sides (the engine's prefill of it took ${r.prefillSeconds.toFixed(1)} s).${fioR ? ` fio randread: mean completion latency ${fioR.clatMeanUs.toFixed(1)} µs.` : ''}`,
    );
  process.stdout.write(`${out.join('\n')}\n`);

  if (args.json) {
    const json = {
      ...figures,
      write_sync: 'none',
      read_sync: 'none',
      small_appends_per_s_sync_mode: 'always',
      small_appends_per_s_nosync_mode: 'none',
      fio_fsync: false,
      device: target.path,
      device_kind: target.kind,
      device_bytes: deviceBytes,
      seconds: args.seconds,
      warmup_seconds: args.warmup,
      node: process.version,
      fio_version: fioVersion,
      queue_depth: args.queueDepth,
      one_page_payload_bytes: ONE_PAGE_PAYLOAD,
      small_entry_bytes: SMALL_ENTRY_BYTES,
      small_batch: args.batch,
      small_in_flight: args.inFlight,
      read_span_bytes: r?.spanBytes ?? null,
      write_entries_per_round: w ? round(perRound(w.stats), 1) : null,

      small_sync_entries_per_round: sSync ? round(perRound(sSync.stats), 1) : null,
      small_nosync_entries_per_round: sNone ? round(perRound(sNone.stats), 1) : null,
      write_cpu_us_per_entry: opt(w?.cpuUsPerEntry, 2),
      fio_write_cpu_us_per_io: opt(fioW?.cpuUsPerIo, 2),
      read_cpu_us_per_entry: opt(r?.cpuUsPerEntry, 2),
      fio_read_cpu_us_per_io: opt(fioR?.cpuUsPerIo, 2),
      small_sync_cpu_us_per_entry: opt(sSync?.cpuUsPerEntry, 3),
      small_nosync_cpu_us_per_entry: opt(sNone?.cpuUsPerEntry, 3),
      fio_write_clat_mean_us: opt(fioW?.clatMeanUs, 1),
      fio_read_clat_mean_us: opt(fioR?.clatMeanUs, 1),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }
}

runMain(main, 'bench:engine');
