// `bench:engine --scale`'s figures (bench/engine-scale.ts): each the median of the
// repeats with its range, per entry size; the targets of issue 12; the text and the JSON.

import type { Spread } from '../src/bench/schema.js';
import { spread } from '../src/bench/scaling.js';
import { formatBytes, formatCount, renderTable } from './common.js';
import type { Target } from './engine-phases.js';
import type { Killed } from './scale-children.js';
import { SCALE_BATCHING, type Fill } from './scale-fill.js';
import type { ReopenReport } from './scale-reopen.js';

export interface Repeat {
  fill: Fill;
  clean: ReopenReport;
  killed: Killed;
  crash: ReopenReport;
}

export interface ScaleRun {
  entryBytes: number;
  repeats: Repeat[];
}

export interface ScaleSetup {
  target: Target;
  deviceBytes: number;
  repeats: number;
  check: 'all' | 'sample';
  killAt: number;
  /** Each call's addresses in order, or highest first (the index's worst case). */
  order: 'ascending' | 'descending';
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** The targets are for a 16 GiB device; they are scaled linearly to the one measured. */
const TARGET_DEVICE = 16 * GiB;

/** One reopen's figures. */
function reopenFigures(rs: readonly ReopenReport[]) {
  const s = (f: (r: ReopenReport) => number): Spread => spread(rs.map(f));
  return {
    open_ms: s((r) => r.openMs),
    recovery_ms: s((r) => r.recoveryMs),
    recovery_pages: s((r) => r.recoveryPages),
    recovery_summaries: s((r) => r.recoverySummaries),
    index_bytes: s((r) => r.indexBytes),
    hwm_bytes: s((r) => r.hwmBytes),
    /** VmHWM after the open less VmRSS before it: what the open (recovery and index) added at its peak. */
    rss_growth_bytes: s((r) => r.hwmBytes - r.rssBeforeOpenBytes),
    /** VmRSS once the store is open: what stays of it. */
    rss_after_open_bytes: s((r) => r.rssAfterOpenBytes),
  };
}

function sizeFigures(run: ScaleRun) {
  const s = (f: (r: Repeat) => number): Spread => spread(run.repeats.map(f));
  const perM = (f: (r: Repeat) => number): Spread => s((r) => f(r) / (r.fill.entries / 1e6));
  return {
    entry_bytes: run.entryBytes,
    entries: s((r) => r.fill.entries),
    write_entries_per_s: s((r) => r.fill.entries / r.fill.seconds),
    write_mb_per_s: s((r) => (r.fill.entries * run.entryBytes) / r.fill.seconds / 1e6),
    index_bytes_per_m_entries: perM((r) => r.clean.indexBytes),
    hwm_bytes_per_m_entries: perM((r) => r.clean.hwmBytes),
    rss_growth_bytes_per_m_entries: perM((r) => r.clean.hwmBytes - r.clean.rssBeforeOpenBytes),
    clean: reopenFigures(run.repeats.map((r) => r.clean)),
    kill: {
      ...reopenFigures(run.repeats.map((r) => r.crash)),
      acked_entries: s((r) => r.killed.acked),
      checked_entries: s((r) => r.crash.check?.checked ?? 0),
      check_seconds: s((r) => r.crash.check?.seconds ?? 0),
    },
  };
}
type SizeFigures = ReturnType<typeof sizeFigures>;

interface TargetRow {
  figure: string;
  limit: number;
  value: number;
  unit: 'bytes' | 'ms';
  met: boolean;
}

/** Issue 12's targets, for the entry sizes it names, scaled to this device. */
function targets(figures: readonly SizeFigures[], deviceBytes: number): TargetRow[] {
  const scale = deviceBytes / TARGET_DEVICE;
  const rows: TargetRow[] = [];
  const add = (figure: string, value: number, limit: number, unit: TargetRow['unit']): void => {
    rows.push({ figure, limit, value, unit, met: value <= limit });
  };
  for (const f of figures) {
    if (f.entry_bytes === 128) {
      add('128 B: RSS the reopen added (VmHWM less RSS before the open)', f.clean.rss_growth_bytes.median, 256 * MiB * scale, 'bytes');
      add('128 B: reopen after a clean close', f.clean.open_ms.median, 1000 * scale, 'ms');
      add('128 B: reopen after kill -9', f.kill.open_ms.median, 3000 * scale, 'ms');
    }
    if (f.entry_bytes === 4096) add('4 KiB: index bytes', f.clean.index_bytes.median, (16 * MiB * deviceBytes) / GiB, 'bytes');
  }
  return rows;
}

const count = (s: Spread): string => formatCount(s.median);
const msText = (n: number): string => (n < 10 ? n.toFixed(1) : formatCount(n));

/** "median (min-max)", or the median alone after one repeat. */
function withRange(s: Spread, f: (n: number) => string): string {
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}-${f(s.max)})`;
}

export function scaleText(setup: ScaleSetup, runs: readonly ScaleRun[]): string {
  const figures = runs.map(sizeFigures);
  const out: string[] = [];
  out.push(`Corfu engine at scale on ${setup.target.path} (${setup.target.kind}, ${formatBytes(setup.deviceBytes)}), node ${process.version}.`);
  out.push(
    `Fill: entries stamped with their address, ${formatCount(SCALE_BATCHING.batch)} a call (${setup.order === 'ascending' ? 'in address order' : 'highest address first: every run of the index breaks'}), ${SCALE_BATCHING.inFlight} calls in flight, sync none, until ERR_FULL. Reopen: a fresh process runs Store.open (sync always).`,
  );
  out.push(
    `kill -9: a writer process (sync none) refills the device and is killed with SIGKILL once it has acknowledged ${setup.killAt * 100}% of a full fill; ` +
      `then a fresh process reopens and reads back ${setup.check === 'all' ? 'every acknowledged entry' : 'a sample of the acknowledged entries'}.`,
  );
  out.push(`Median of ${setup.repeats} repeat(s), range in parentheses. RSS figures are the reopening process's, which holds nothing but the store.`);
  out.push('');
  const rows: string[][] = [['entry', 'entries', 'write entries/s', 'write MB/s', 'index B/M entries', 'VmHWM/M entries', 'RSS added/M entries', 'reopen ms, clean', 'reopen ms, kill -9']];
  for (const f of figures) {
    rows.push([
      `${f.entry_bytes} B`,
      count(f.entries),
      withRange(f.write_entries_per_s, formatCount),
      withRange(f.write_mb_per_s, (n) => n.toFixed(0)),
      withRange(f.index_bytes_per_m_entries, formatCount),
      withRange(f.hwm_bytes_per_m_entries, formatBytes),
      withRange(f.rss_growth_bytes_per_m_entries, formatBytes),
      withRange(f.clean.open_ms, msText),
      withRange(f.kill.open_ms, msText),
    ]);
  }
  out.push(renderTable(rows));
  out.push('');
  const detail: string[][] = [['entry', 'reopen', 'entries', 'recoveryMs', 'pages scanned', 'summaries read', 'index', 'VmHWM', 'RSS added', 'RSS after', 'read back', 'check s']];
  for (const f of figures) {
    for (const [name, r, entries] of [
      ['clean', f.clean, f.entries],
      ['kill -9', f.kill, f.kill.acked_entries],
    ] as const) {
      const checked = 'checked_entries' in r ? count(r.checked_entries) : '';
      const seconds = 'check_seconds' in r ? r.check_seconds.median.toFixed(1) : '';
      detail.push([
        `${f.entry_bytes} B`,
        name,
        count(entries),
        withRange(r.recovery_ms, msText),
        count(r.recovery_pages),
        count(r.recovery_summaries),
        formatBytes(r.index_bytes.median),
        formatBytes(r.hwm_bytes.median),
        formatBytes(r.rss_growth_bytes.median),
        formatBytes(r.rss_after_open_bytes.median),
        checked,
        seconds,
      ]);
    }
  }
  out.push(renderTable(detail));
  const goals = targets(figures, setup.deviceBytes);
  if (goals.length > 0) {
    out.push('');
    out.push(`Targets (issue 12's, set for a 16 GiB device, scaled linearly to ${formatBytes(setup.deviceBytes)}; medians):`);
    const show = (row: TargetRow, n: number): string => (row.unit === 'bytes' ? formatBytes(n) : `${msText(n)} ms`);
    const t: string[][] = [['figure', 'value', 'target', 'verdict']];
    for (const g of goals) t.push([g.figure, show(g, g.value), `<= ${show(g, g.limit)}`, g.met ? 'met' : 'MISSED']);
    out.push(renderTable(t));
  }
  return out.join('\n');
}

export function scaleJson(setup: ScaleSetup, runs: readonly ScaleRun[]): object {
  const figures = runs.map(sizeFigures);
  return {
    mode: 'scale',
    device: setup.target.path,
    device_kind: setup.target.kind,
    order: setup.order,
    device_bytes: setup.deviceBytes,
    node: process.version,
    repeats: setup.repeats,
    fill_sync: 'none',
    reopen_sync: 'always',
    kill_writer_sync: 'none',
    kill_at: setup.killAt,
    check: setup.check,
    sizes: figures,
    targets: targets(figures, setup.deviceBytes),
  };
}
