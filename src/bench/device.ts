// `corfu bench device PATH`: the storage engine against fio on the same device, what
// `npm run bench:engine` measures (bench/engine-phases.ts, bench/peers/fio.ts), as runs
// of the common result: each engine phase with its latency per call, per-second series
// and this process's CPU; each fio run with fio's own figures (its completion-latency
// percentiles and CPU); the two 4 KiB pairs as comparison rows.
//
// DESTRUCTIVE: PATH is formatted, several times, and overwritten by fio. An existing
// PATH needs --force.

import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import {
  DATA_START_BYTES,
  ONE_PAGE_PAYLOAD,
  SMALL_ENTRY_BYTES,
  format,
  onePageReads,
  onePageWrites,
  pagesPerFlush,
  perRound,
  resolveTarget,
  smallAppends,
  type EnginePhase,
  type LoopObserver,
} from '../../bench/engine-phases.js';
import { checkFio, runFio, type FioResult } from '../../bench/peers/fio.js';
import { UsageError } from '../cli/usage-error.js';
import { CpuMeter, type ProcessCpu, type CpuSecond } from './cpu.js';
import { startProgress } from './progress.js';
import { OpRecorder, Window, type Recorded } from './recorder.js';
import type { ComparisonRow, RunFigures } from './schema.js';
import { toRun } from './workloads/common.js';

export type DevicePhase = 'write' | 'read' | 'small';
export const DEVICE_PHASES: readonly DevicePhase[] = ['write', 'read', 'small'];

export interface DeviceFlags {
  readonly path: string;
  readonly size?: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly queueDepth: number;
  readonly batch: number;
  readonly inFlight: number;
  readonly only: ReadonlySet<DevicePhase>;
  readonly fio: boolean;
  readonly force: boolean;
  readonly progress: boolean;
}

export interface DeviceOutput {
  readonly runs: RunFigures[];
  readonly comparison: ComparisonRow[];
  readonly extra: Record<string, unknown>;
}

interface Observed {
  rec: Recorded;
  cpu: ProcessCpu[];
  cpuSeries: CpuSecond[];
  durationS: number;
}

/** Records one phase: latency per call, the per-second series, this process's CPU over the window. */
function observer(label: string, progress: boolean, out: Map<EnginePhase, Observed>, phase: EnginePhase): LoopObserver {
  const window = new Window();
  const rec = new OpRecorder(window);
  const cpu = new CpuMeter([{ role: 'bench', name: 'bench (engine)', pid: process.pid }]);
  // Made when the window is known (the bar counts its seconds).
  let shown = startProgress(label, { seconds: 1 }, false);
  let timer: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let lastShow = 0;
  return {
    window(start, end) {
      shown = startProgress(label, { seconds: (end - start) / 1000 }, progress);
      window.start = start;
      window.end = end;
      timer = setTimeout(
        () => {
          cpu.start(performance.now());
          sampler = setInterval(() => cpu.sample(performance.now()), 1000);
        },
        Math.max(0, start - performance.now()),
      );
    },
    op(t0, t1) {
      rec.record(t0, t1);
      if (t1 - lastShow > 100) {
        lastShow = t1;
        shown.update(rec.ops, Math.max(0, (t1 - window.start) / 1000), t1 < window.start);
      }
    },
    done() {
      clearTimeout(timer);
      clearInterval(sampler);
      shown.stop();
      const now = performance.now();
      const rows = cpu.stop(now, rec.ops);
      out.set(phase, { rec: rec.finish(), cpu: rows, cpuSeries: cpu.seconds, durationS: window.seconds(now) });
    },
  };
}

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;

/** An engine phase as a run: calls that started and ended inside its window (the engine's own count differs by the calls in flight at the edges). */
function engineRun(label: string, op: string, o: Observed, itemsPerOp: number, bytesPerItem: number, notes: string[]): RunFigures {
  return toRun({ label, system: 'corfu-engine', op, itemsPerOp, bytesPerOp: itemsPerOp * bytesPerItem, notes }, o.rec, { duration_s: round(o.durationS, 6), cpu: o.cpu, cpu_series: o.cpuSeries });
}

function fioRun(label: string, op: string, f: FioResult): RunFigures {
  const pct = (p: number): number => f.clatPercentilesUs.find((x) => Math.abs(x.percentile - p) < 1e-6)?.latency_us ?? Number.NaN;
  const latency = {
    count: f.totalIos,
    min_us: round(f.clatMinUs, 1),
    mean_us: round(f.clatMeanUs, 1),
    p50_us: round(pct(50), 1),
    p90_us: round(pct(90), 1),
    p99_us: round(pct(99), 1),
    p999_us: round(pct(99.9), 1),
    max_us: round(f.clatMaxUs, 1),
  };
  const cpu = f.userS + f.systemS;
  return {
    label,
    system: 'fio',
    op,
    duration_s: round(f.runtimeS, 3),
    ops: f.totalIos,
    ops_per_s: round(f.iops, 1),
    items_per_op: 1,
    items_per_s: round(f.iops, 1),
    bytes_per_s: round(f.iops * 4096),
    latency_us: Object.values(latency).every(Number.isFinite) ? latency : null,
    percentiles: [
      ...f.clatPercentilesUs.filter((p) => p.percentile >= 50).map((p) => ({ percentile: p.percentile, latency_us: round(p.latency_us, 1) })),
      { percentile: 100, latency_us: round(f.clatMaxUs, 1) },
    ],
    series: [],
    histogram_hdr: null,
    cpu: [
      {
        role: 'peer',
        name: 'fio',
        pid: f.pid,
        user_s: round(f.userS, 3),
        system_s: round(f.systemS, 3),
        cpu_s: round(cpu, 3),
        cpu_share: f.runtimeS > 0 ? round(cpu / f.runtimeS, 3) : 0,
        cpu_us_per_op: f.totalIos > 0 ? round((cpu * 1e6) / f.totalIos, 1) : null,
      },
    ],
    cpu_series: [],
    generator: 'fio',
    notes: [`fio ${f.args.join(' ')}`, "latency is fio's completion latency (clat); CPU is fio's own usr_cpu + sys_cpu"],
  };
}

function pairRow(pair: string, engine: RunFigures, fio: RunFigures, conditions: string): ComparisonRow {
  return {
    pair,
    measure: `${engine.op}s/s of the engine (entries acknowledged) vs fio I/Os/s`,
    corfu_label: engine.label,
    peer_label: fio.label,
    corfu_per_s: engine.ops_per_s,
    peer_per_s: fio.ops_per_s,
    ratio: fio.ops_per_s > 0 ? round(engine.ops_per_s / fio.ops_per_s, 3) : 0,
    corfu_p50_us: engine.latency_us?.p50_us ?? null,
    peer_p50_us: fio.latency_us?.p50_us ?? null,
    corfu_p99_us: engine.latency_us?.p99_us ?? null,
    peer_p99_us: fio.latency_us?.p99_us ?? null,
    corfu_copies: '1 copy, 1 device (one engine)',
    peer_copies: '1 copy, 1 device (raw blocks)',
    conditions,
  };
}

function checkDeviceFlags(f: DeviceFlags): void {
  if (existsSync(f.path) && !f.force) throw new UsageError(`${f.path} exists: corfu bench device formats it and fio overwrites it; pass --force to erase it`);
  if (!existsSync(f.path) && f.size === undefined) throw new UsageError(`${f.path} does not exist; pass --size BYTES to create a file there, or name a block device`);
}

export async function deviceWorkload(f: DeviceFlags): Promise<DeviceOutput> {
  checkDeviceFlags(f);
  const fioVersion = f.fio ? checkFio() : null;
  const log = (m: string): void => {
    if (f.progress && process.stderr.isTTY === true) process.stderr.write(`bench device: ${m}\n`);
  };
  const observed = new Map<EnginePhase, Observed>();
  const labels: Record<EnginePhase, string> = {
    write: `engine 4 KiB writes QD ${f.queueDepth}, from JS`,
    'write-native': `engine 4 KiB writes QD ${f.queueDepth}, native writer`,
    read: `engine 4 KiB random reads QD ${f.queueDepth}, from JS`,
    'read-native': `engine 4 KiB random reads QD ${f.queueDepth}, native reader`,
    'small-always': `engine ${SMALL_ENTRY_BYTES} B appends x${f.batch}, sync always`,
    'small-none': `engine ${SMALL_ENTRY_BYTES} B appends x${f.batch}, sync none`,
  };
  const args = {
    device: f.path,
    size: f.size,
    seconds: f.seconds,
    warmup: f.warmup,
    queueDepth: f.queueDepth,
    batch: f.batch,
    inFlight: f.inFlight,
    log,
    observe: (phase: EnginePhase) => observer(labels[phase], f.progress, observed, phase),
  };
  const target = resolveTarget(args);
  const first = format(target);
  const runs: RunFigures[] = [];
  const comparison: ComparisonRow[] = [];
  const extra: Record<string, unknown> = {
    device: f.path,
    device_kind: target.kind,
    device_bytes: first.deviceBytes,
    logical_block_bytes: first.logicalBlockBytes,
    fio_version: fioVersion,
    one_page_payload_bytes: ONE_PAGE_PAYLOAD,
  };
  const same = `queue depth ${f.queueDepth} on both sides, O_DIRECT and io_uring on both, the same ${target.kind} ${f.path}; 4 KiB: the engine's one-page entry (4040 B payload + 56 B of headers) vs fio --bs=4k`;
  if (f.only.has('write')) {
    const w = await onePageWrites(target, args);
    const run = engineRun(labels.write, 'write', observed.get('write')!, 1, ONE_PAGE_PAYLOAD, [
      'sync none: no fsync, like fio without --fsync; through the JS binding (Store.writePacked), one call per write',
    ]);
    const native = engineRun(labels['write-native'], 'write', observed.get('write-native')!, 1, ONE_PAGE_PAYLOAD, [
      "sync none; the same store from its tail, from the addon's write load: a thread that holds the store and begins a round with the free writes before it finishes the oldest, as a unit's native front and I/O thread drive it",
    ]);
    runs.push(run, native);
    extra['write_entries_per_round'] = round(perRound(w.stats), 1);
    extra['write_native_entries_per_round'] = round(perRound(w.nativeStats), 1);
    extra['write_native_pages_per_flush'] = round(pagesPerFlush(w.nativeStats), 1);
    extra['write_prefix_trims'] = w.trims + w.nativeTrims;
    if (f.fio) {
      const fw = fioRun(`fio write QD ${f.queueDepth}`, 'write', runFio(target.path, 'write', first.deviceBytes, f.seconds, f.warmup, f.queueDepth, log));
      runs.push(fw);
      const both = `${same}; no fsync on either side (engine sync none)`;
      comparison.push(pairRow('engine vs fio, 4 KiB sequential writes, native writer', native, fw, `${both}; the engine driven by the addon's write load, as a unit's native front drives it`));
      comparison.push(pairRow('engine vs fio, 4 KiB sequential writes, from JS', run, fw, `${both}; the engine through its JS binding, one Store.writePacked per write`));
    }
  }
  if (f.only.has('read')) {
    const r = await onePageReads(target, args);
    const run = engineRun(labels.read, 'read', observed.get('read')!, 1, ONE_PAGE_PAYLOAD, [
      `uniformly random over ${r.span} prefilled entries, each checked; through the JS binding (Store.readInto), one call per read`,
    ]);
    const native = engineRun(labels['read-native'], 'read', observed.get('read-native')!, 1, ONE_PAGE_PAYLOAD, [
      `the same span and queue depth from the addon's read load: a thread feeding the engine's read service as a unit's native front does, each read replaced as it completes; status and kind checked`,
    ]);
    runs.push(run, native);
    extra['read_span_bytes'] = r.spanBytes;
    extra['read_prefill_s'] = round(r.prefillSeconds, 3);
    if (f.fio) {
      const fr = fioRun(`fio randread QD ${f.queueDepth}`, 'randread', runFio(target.path, 'randread', r.spanBytes, f.seconds, f.warmup, f.queueDepth, log));
      runs.push(fr);
      const over = `over the same ${r.spanBytes} bytes (${DATA_START_BYTES} B of header and the prefilled pages)`;
      comparison.push(pairRow('engine vs fio, 4 KiB random reads, native reader', native, fr, `${same}; ${over}; the engine fed by the addon's read load, as a unit's native front feeds it`));
      comparison.push(pairRow('engine vs fio, 4 KiB random reads, from JS', run, fr, `${same}; ${over}; the engine through its JS binding, one Store.readInto per read`));
    }
  }
  if (f.only.has('small')) {
    for (const sync of ['always', 'none'] as const) {
      const s = await smallAppends(target, args, sync);
      const phase: EnginePhase = sync === 'always' ? 'small-always' : 'small-none';
      runs.push(engineRun(labels[phase], 'append-batch', observed.get(phase)!, f.batch, SMALL_ENTRY_BYTES, [`${f.inFlight} calls in flight; tokens from an in-process TokenCounter`]));
      extra[`small_${sync}_entries_per_round`] = round(perRound(s.stats), 1);
      extra[`small_${sync}_pages_per_flush`] = round(pagesPerFlush(s.stats), 1);
    }
  }
  // Leave a valid, empty unit behind rather than fio's bytes.
  format(target);
  return { runs, comparison, extra };
}
