// `npm run bench:engine -- --device PATH [--seconds N] [--json] [--size BYTES]`
// (`--scale` runs another mode, bench/engine-scale.ts: the index's memory and the
// reopen time of a full device)
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

import { UsageError, formatBytes, formatCount, parseFlags, parseSize, positiveFlag, renderTable, runMain } from './common.js';
import {
  ONE_PAGE_PAYLOAD,
  SMALL_ENTRY_BYTES,
  format,
  onePageReads,
  onePageWrites,
  pagesPerFlush,
  perRound,
  ratio,
  resolveTarget,
  round,
  smallAppends,
  type EngineFigure,
  type WriteFigure,
  type ReadFigure,
} from './engine-phases.js';
import { abMain } from './engine-ab.js';
import { scaleMain } from './engine-scale.js';
import { checkFio, runFio, type FioResult } from './peers/fio.js';

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
                     a partial run prints only what it measured)
  --scale            another mode: the index's memory and reopen time of a full device
                     (npm run bench:engine -- --scale --help)
  --ab DIR           another mode: write throughput of this build against a built checkout
                     of another commit (npm run bench:engine -- --ab DIR --help)`;

interface Args {
  log: (message: string) => void;
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
  const values = parseFlags(
    argv,
    {
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
    },
    USAGE,
  );
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
    log,
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

type Row = string[];

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const fioVersion = args.fio ? checkFio() : 'fio skipped (--no-fio)';
  const target = resolveTarget(args);
  const first = format(target);
  const deviceBytes = first.deviceBytes;
  log(`${target.path}: ${target.kind}, ${formatBytes(deviceBytes)}, logical block ${first.logicalBlockBytes} B; ${args.seconds} s per figure after ${args.warmup} s of warm-up`);
  const fio = (rw: 'write' | 'randread', size: number): FioResult | undefined => (args.fio ? runFio(target.path, rw, size, args.seconds, args.warmup, args.queueDepth, log) : undefined);

  let w: WriteFigure | undefined;
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
    write_native_per_s: opt(w?.native.rate),
    write_native_ratio: w && fioW ? opt(ratio(w.native.rate, fioW.iops), 3) : null,
    read_iops: opt(r?.rate),
    fio_read_iops: opt(fioR?.iops),
    read_ratio: r && fioR ? opt(ratio(r.rate, fioR.iops), 3) : null,
    read_native_iops: opt(r?.native.rate),
    read_native_ratio: r && fioR ? opt(ratio(r.native.rate, fioR.iops), 3) : null,
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
  // One row of engine against fio: the rates, their ratio, and the verdict against this tool's target.
  const fioRow = (figure: string, sync: string, rate: number, fioIops: number | undefined, ratio: number | null): Row => [
    `4 KiB ${figure} (IOPS)`,
    sync,
    count(rate),
    count(fioIops),
    ratio?.toFixed(3) ?? '',
    verdict(ratio, 0.9, '>= 0.9'),
  ];
  const qd = `QD ${args.queueDepth}`;
  if (w) {
    rows.push(fioRow(`writes, ${qd}, sequential, from JS`, 'none', w.rate, fioW?.iops, figures.write_ratio));
    rows.push(fioRow(`writes, ${qd}, sequential, native writer`, 'none', w.native.rate, fioW?.iops, figures.write_native_ratio));
  }
  if (r) {
    rows.push(fioRow(`random reads, ${qd}, from JS`, 'n/a (reads)', r.rate, fioR?.iops, figures.read_ratio));
    rows.push(fioRow(`random reads, ${qd}, native reader`, 'n/a (reads)', r.native.rate, fioR?.iops, figures.read_native_ratio));
  }
  if (sSync) rows.push([small, 'always', count(sSync.rate), '', '', verdict(figures.small_appends_per_s_sync, 300_000, '>= 300,000')]);
  if (sNone) rows.push([small, 'none', count(sNone.rate), '', '', verdict(figures.small_appends_per_s_nosync, 1_000_000, '>= 1,000,000')]);
  out.push(renderTable(rows));
  out.push('');
  out.push('How the engine grouped the work (Store.stats(); a round is one submission, plus one fdatasync with sync always):');
  const grouping: Row[] = [['figure', 'sync', 'entries/round', 'pages/flush', 'rounds', 'prefix trims']];
  if (w) grouping.push(['4 KiB writes, from JS', 'none', perRound(w.stats).toFixed(1), pagesPerFlush(w.stats).toFixed(1), formatCount(w.stats.rounds), String(w.trims)]);
  if (w) grouping.push(['4 KiB writes, native writer', 'none', perRound(w.nativeStats).toFixed(1), pagesPerFlush(w.nativeStats).toFixed(1), formatCount(w.nativeStats.rounds), String(w.nativeTrims)]);
  // Reads bypass the write rounds: the read service answers each as it completes.
  if (r) grouping.push(['4 KiB reads', 'n/a', 'read service', '', '', '0']);
  for (const s of [sSync, sNone]) {
    if (s) grouping.push([`${SMALL_ENTRY_BYTES} B appends`, s.sync, perRound(s.stats).toFixed(1), pagesPerFlush(s.stats).toFixed(1), formatCount(s.stats.rounds), String(s.trims)]);
  }
  out.push(renderTable(grouping));
  const cpuRows: Row[] = [['CPU time per I/O (µs, user+system)', 'engine process', 'fio']];
  if (w) cpuRows.push(['4 KiB writes, from JS', w.cpuUsPerEntry.toFixed(2), fioW ? fioW.cpuUsPerIo.toFixed(2) : '']);
  if (w) cpuRows.push(['4 KiB writes, native writer', w.native.cpuUsPerEntry.toFixed(2), fioW ? fioW.cpuUsPerIo.toFixed(2) : '']);
  if (r) cpuRows.push(['4 KiB random reads, from JS', r.cpuUsPerEntry.toFixed(2), fioR ? fioR.cpuUsPerIo.toFixed(2) : '']);
  if (r) cpuRows.push(['4 KiB random reads, native reader', r.native.cpuUsPerEntry.toFixed(2), fioR ? fioR.cpuUsPerIo.toFixed(2) : '']);
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

const argv = process.argv.slice(2);
if (argv.includes('--ab') || argv.some((a) => a.startsWith('--ab='))) {
  runMain(() => abMain(argv), 'bench:engine --ab');
} else if (argv.includes('--scale')) {
  runMain(() => scaleMain(argv.filter((a) => a !== '--scale')), 'bench:engine --scale');
} else {
  runMain(main, 'bench:engine');
}
