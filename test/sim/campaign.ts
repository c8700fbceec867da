// Many seeds: a campaign's summary (seeds, ops, acked appends, faults by kind,
// violations by kind, seeds/s) and the hunt for a planted bug.

import { performance } from 'node:perf_hooks';

import { BUGS, targets } from './bugs.js';
import { noTxStats, type StreamStats, type TxStats, type Violation } from './checkers.js';
import { FAULT_KINDS, noFaults, type FaultCounts } from './faults.js';
import { runSeed, type RunResult } from './run.js';

export interface CampaignOptions {
  readonly seeds: number;
  readonly from?: number;
  readonly bugs?: readonly string[];
  readonly ops?: number;
  readonly wildTrims?: boolean;
  readonly transactions?: boolean;
}

export interface Summary {
  seeds: number;
  ops: number;
  okOps: number;
  ackedAppends: number;
  messages: number;
  events: number;
  reconfigurations: number;
  /** Chains a rebuilt unit was made a whole replica of (each checked by the rebuild checker). */
  rebuilds: number;
  faults: FaultCounts;
  /** Seeds with streams, and the stream checks' counts summed. */
  streamSeeds: number;
  streams: StreamStats;
  /** Seeds with transactions, and the transaction checks' counts summed. */
  txSeeds: number;
  tx: TxStats;
  violations: Record<string, number>;
  failedSeeds: number[];
  seconds: number;
}

export async function campaign(options: CampaignOptions, onResult?: (r: RunResult) => void): Promise<Summary> {
  const from = options.from ?? 1;
  const s: Summary = {
    seeds: 0,
    ops: 0,
    okOps: 0,
    ackedAppends: 0,
    messages: 0,
    events: 0,
    reconfigurations: 0,
    rebuilds: 0,
    faults: noFaults(),
    streamSeeds: 0,
    streams: { appends: 0, acked: 0, syncs: 0, delivered: 0, trimmed: 0, scanned: 0, recovering: 0, recoveries: 0, seeds: 0 },
    txSeeds: 0,
    tx: noTxStats(),
    violations: {},
    failedSeeds: [],
    seconds: 0,
  };
  const t0 = performance.now();
  for (let seed = from; seed < from + options.seeds; seed++) {
    const r = await runSeed({
      seed,
      bugs: options.bugs ?? [],
      wildTrims: options.wildTrims ?? false,
      ...(options.ops === undefined ? {} : { ops: options.ops }),
      ...(options.transactions === undefined ? {} : { transactions: options.transactions }),
    });
    s.seeds++;
    s.ops += r.stats.ops;
    s.okOps += r.stats.okOps;
    s.ackedAppends += r.stats.ackedAppends;
    s.messages += r.stats.messages;
    s.events += r.stats.events;
    s.reconfigurations += r.stats.reconfigurations;
    s.rebuilds += r.stats.rebuilds;
    for (const k of FAULT_KINDS) s.faults[k] += r.stats.faults[k];
    if (r.stats.streams.appends + r.stats.streams.syncs > 0) s.streamSeeds++;
    for (const k of Object.keys(s.streams) as Array<keyof StreamStats>) s.streams[k] += r.stats.streams[k];
    if (r.stats.tx.runtimes > 0) s.txSeeds++;
    for (const k of Object.keys(s.tx) as Array<keyof TxStats>) s.tx[k] += r.stats.tx[k];
    for (const v of r.violations) s.violations[v.kind] = (s.violations[v.kind] ?? 0) + 1;
    if (r.violations.length > 0) s.failedSeeds.push(seed);
    onResult?.(r);
  }
  s.seconds = (performance.now() - t0) / 1000;
  return s;
}

export function formatSummary(s: Summary): string {
  const rows: Array<[string, string]> = [
    ['seeds', `${s.seeds}`],
    ['seeds/s', (s.seeds / Math.max(s.seconds, 1e-9)).toFixed(1)],
    ['client ops', `${s.ops} (${s.okOps} ok)`],
    ['acked appends', `${s.ackedAppends}`],
    ['messages', `${s.messages}`],
    ['events', `${s.events}`],
    ['reconfigurations', `${s.reconfigurations}`],
    ['chains rebuilt', `${s.rebuilds}`],
  ];
  for (const k of FAULT_KINDS) rows.push([`fault: ${k}`, `${s.faults[k]}`]);
  const st = s.streams;
  rows.push(['stream seeds', `${s.streamSeeds}`]);
  rows.push(['stream appends', `${st.appends} (${st.acked} acked)`]);
  rows.push(['stream syncs', `${st.syncs} (${st.delivered} entries delivered, ${st.trimmed} ERR_TRIMMED, ${st.scanned} addresses scanned past cuts)`]);
  rows.push(['stream recoveries', `${st.recoveries} (${st.seeds} STREAM_SEEDs taken, ${st.recovering} ERR_RECOVERING answers)`]);
  const tx = s.tx;
  rows.push(['transaction seeds', `${s.txSeeds}`]);
  rows.push(['transactions', `${tx.transactions} (${tx.committed} committed, ${tx.aborted} aborted, ${tx.unknown} unknown; ${tx.diedMidCommit} writers died mid-commit), ${tx.readOnly} read-only`]);
  rows.push([
    'object operations',
    `${tx.updates} updates, ${tx.multiGets} multiGets, ${tx.checkpoints} checkpoints, ${tx.compactions} compactions; ${tx.decisions} decisions by ${tx.runtimes} runtimes`,
  ]);
  const kinds = Object.keys(s.violations);
  if (kinds.length === 0) rows.push(['violations', '0']);
  for (const k of kinds) rows.push([`violations: ${k}`, `${s.violations[k]}`]);
  rows.push(['failing seeds', s.failedSeeds.length === 0 ? 'none' : `${s.failedSeeds.length}: ${s.failedSeeds.slice(0, 20).join(' ')}${s.failedSeeds.length > 20 ? ' ...' : ''}`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

export interface Hunt {
  readonly bug: string;
  readonly seed: number | undefined;
  readonly tried: number;
  /** The targeted violation that caught it. */
  readonly violation: Violation | undefined;
  /** The first violation of another kind seen on the way, if any. */
  readonly other: Violation | undefined;
}

/**
 * Runs seeds with `bug` on until a checker reports a violation of a kind the
 * bug targets (bugs.ts), or maxSeeds pass. The clean campaigns show the
 * baseline has no violations; a violation of another kind is reported but
 * does not count as catching the bug.
 */
export async function huntBug(bug: string, options: { maxSeeds: number; from?: number; ops?: number; transactions?: boolean }): Promise<Hunt> {
  const info = BUGS.find((b) => b.name === bug);
  if (info === undefined) throw new Error(`unknown bug ${bug}`);
  const from = options.from ?? 1;
  let other: Violation | undefined;
  for (let i = 0; i < options.maxSeeds; i++) {
    // A transaction bug is hunted with transactions on every seed (only those seeds reach it).
    const transactions = options.transactions ?? (info.layer === 'objects' ? true : undefined);
    const r = await runSeed({
      seed: from + i,
      bugs: [bug],
      stopAt: (v) => targets(info, v.kind),
      ...(options.ops === undefined ? {} : { ops: options.ops }),
      ...(transactions === undefined ? {} : { transactions }),
    });
    const hit = r.violations.find((v) => targets(info, v.kind));
    if (hit !== undefined) return { bug, seed: from + i, tried: i + 1, violation: hit, other };
    other ??= r.violations[0];
  }
  return { bug, seed: undefined, tried: options.maxSeeds, violation: undefined, other };
}
