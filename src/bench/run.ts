// A Corfu workload from flags to output: open the target (a running cluster, or one
// started for the run), describe the machine, run the workload, assemble the result,
// print it and write the files, and remove whatever was started, on success, failure
// or Ctrl-C alike.

import { UsageError } from '../cli/usage-error.js';
import { type Goal } from './driver.js';
import { assemble, emit, type OutputFlags } from './result.js';
import { openTarget, type Target, type TargetFlags } from './target.js';
import { machineInfo } from './machine.js';
import type { ClientFlags, WorkloadContext, WorkloadOutput } from './workloads/common.js';
import type { BenchResult } from './schema.js';

export type CorfuWorkload = 'append' | 'read' | 'mixed' | 'tokens';

/** The flags every Corfu workload verb takes (commander's names). */
export interface WorkloadFlags extends OutputFlags {
  readonly layout?: string;
  readonly local?: boolean;
  readonly units: number;
  readonly replicas: number;
  readonly sync?: 'always' | 'none';
  readonly unitSize: number;
  readonly syncLabel?: string;
  readonly clients: number;
  readonly depth: number;
  readonly entrySize: number;
  readonly seconds?: number;
  readonly count?: number;
  readonly warmup: number;
  readonly separateConnections?: boolean;
  readonly verify?: boolean;
  /** `append` and `tokens`: load-generator processes (1: this one). */
  readonly procs?: number;
  /** `append`: entries per call (1: `append`; more: one `appendBatch` of that many). */
  readonly batch?: number;
}

/** `--seconds` or `--count` (10 s when neither is given). */
export function goalOf(f: { seconds?: number; count?: number }): Goal {
  if (f.seconds !== undefined && f.count !== undefined) throw new UsageError('give --seconds or --count, not both');
  return f.count !== undefined ? { count: f.count } : { seconds: f.seconds ?? 10 };
}

export function targetFlags(f: WorkloadFlags): TargetFlags {
  return {
    ...(f.layout === undefined ? {} : { layout: f.layout }),
    ...(f.local === undefined ? {} : { local: f.local }),
    units: f.units,
    replicas: f.replicas,
    ...(f.sync === undefined ? {} : { sync: f.sync }),
    unitSizeBytes: f.unitSize,
    ...(f.syncLabel === undefined ? {} : { syncLabel: f.syncLabel }),
  };
}

export function clientFlags(f: WorkloadFlags): ClientFlags {
  return {
    clients: f.clients,
    depth: f.depth,
    entrySizeBytes: f.entrySize,
    goal: goalOf(f),
    warmupS: f.warmup,
    separateConnections: f.separateConnections === true,
    verify: f.verify === true,
    procs: f.procs ?? 1,
    batch: f.batch ?? 1,
  };
}

/** The configuration recorded in the JSON: every option, defaults included, with units in the names. */
export function baseConfig(f: WorkloadFlags, c: ClientFlags): Record<string, unknown> {
  return {
    clients: c.clients,
    depth: c.depth,
    in_flight: c.clients * c.depth,
    entry_size_bytes: c.entrySizeBytes,
    ...('seconds' in c.goal ? { duration_s: c.goal.seconds, count: null } : { duration_s: null, count: c.goal.count }),
    warmup_s: c.warmupS,
    connections: c.separateConnections ? 'per-client' : 'shared',
    clients_mode: c.procs > 1 ? `${c.procs} processes` : 'in-process',
    generator_processes: c.procs,
    verify: c.verify,
    local: f.local === true,
    ...(f.local === true ? { units: f.units, replicas: f.replicas, sync: f.sync ?? 'always', unit_size_bytes: f.unitSize } : {}),
  };
}

/**
 * Runs `body` against the target of `f`, stopping a local cluster on the way out and
 * on SIGINT/SIGTERM (then exiting 130/143 once it is down).
 */
export async function withTarget<T>(f: TargetFlags, body: (t: Target) => Promise<T>): Promise<T> {
  const target = await openTarget(f);
  const onSignal = (signal: NodeJS.Signals): void => {
    void target.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(target);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await target.close();
  }
}

export interface WorkloadSpec {
  readonly workload: CorfuWorkload;
  readonly config: Record<string, unknown>;
  readonly heading: (t: Target) => string;
  readonly run: (ctx: WorkloadContext) => Promise<WorkloadOutput>;
}

export interface Measured {
  readonly result: BenchResult;
  /** The first line of the text output: what ran against what. */
  readonly heading: string;
}

/** Runs one workload against the target of `f` and assembles its result; prints and writes nothing. */
export async function measureCorfuWorkload(f: WorkloadFlags, spec: WorkloadSpec): Promise<Measured> {
  const startedAt = new Date();
  let heading = '';
  const result = await withTarget(targetFlags(f), async (t) => {
    heading = spec.heading(t);
    // Described while the devices exist (a local cluster's are removed at the end).
    const machine = machineInfo(t.devicePaths);
    const out = await spec.run({ layout: t.layout, processes: t.processes, progress: f.progress });
    return assemble(
      {
        workload: spec.workload,
        startedAt,
        config: spec.config,
        target: t.info,
        devicePaths: t.devicePaths,
        runs: out.runs,
        verify: out.verify,
        extra: out.extra,
      },
      machine,
    );
  });
  return { result, heading };
}

export async function runCorfuWorkload(f: WorkloadFlags, spec: WorkloadSpec): Promise<BenchResult> {
  const { result, heading } = await measureCorfuWorkload(f, spec);
  emit(result, heading, f);
  return result;
}

/** The first line of the text output: what ran against what. */
export function describeTarget(t: Target): string {
  const i = t.info;
  return `${i.stripes} stripe(s) x ${i.replicas} replica(s), sync ${i.sync} (${i.sync_source}), ${i.kind === 'local' ? `a local cluster in ${i.dir ?? '?'} (device files zeroed at format, removed afterwards)` : i.layout}`;
}
