// What every Corfu workload shares: the options, the clients, and turning what was
// recorded into a run of the result.

import { CorfuClient } from '../../client/client.js';
import { cliConnectOptions } from '../../cli/security.js';
import type { ProcessRef } from '../cpu.js';
import type { Goal, LoopOptions, LoopResult } from '../driver.js';
import type { Recorded, Window } from '../recorder.js';
import type { RunFigures, VerifyFigures } from '../schema.js';

export interface ClientFlags {
  readonly clients: number;
  readonly depth: number;
  readonly entrySizeBytes: number;
  readonly goal: Goal;
  readonly warmupS: number;
  /** Each client its own connections (default: one per server, shared by the process's clients). */
  readonly separateConnections: boolean;
  /** Read back every acknowledged entry after the run. */
  readonly verify: boolean;
  /** Load-generator processes (`append` only): 1 is this process. */
  readonly procs: number;
  /** Entries per call (`append` only): 1 is `append`, more is one `appendBatch`. */
  readonly batch: number;
}

export interface WorkloadContext {
  readonly layout: string;
  readonly processes: readonly ProcessRef[];
  readonly progress: boolean;
}

export interface WorkloadOutput {
  readonly runs: RunFigures[];
  readonly verify: VerifyFigures | null;
  readonly extra: Record<string, unknown>;
}

/** The loop options every workload sets the same way: `workers` loops over the run's goal, window and processes. */
export function loopShape(
  ctx: WorkloadContext,
  f: Pick<ClientFlags, 'goal' | 'warmupS'>,
  workers: number,
  window: Window,
): Pick<LoopOptions, 'workers' | 'warmupS' | 'goal' | 'window' | 'processes' | 'progress'> {
  return { workers, warmupS: f.warmupS, goal: f.goal, window, processes: ctx.processes, progress: ctx.progress };
}

export async function connectClients(layout: string, n: number, separate: boolean): Promise<CorfuClient[]> {
  const clients: CorfuClient[] = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await CorfuClient.connect({ layout, shareConnections: !separate, ...cliConnectOptions() }));
  } catch (err) {
    await closeClients(clients);
    throw err;
  }
  return clients;
}

export async function closeClients(clients: readonly CorfuClient[]): Promise<void> {
  await Promise.allSettled(clients.map((c) => c.close()));
}

export interface RunShape {
  readonly label: string;
  readonly system: RunFigures['system'];
  readonly op: string;
  readonly itemsPerOp?: number;
  /** Payload bytes one operation carries (null: none). */
  readonly bytesPerOp: number | null;
  readonly generator?: string;
  readonly notes?: string[];
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function toRun(shape: RunShape, rec: Recorded, loop: LoopResult): RunFigures {
  const perS = loop.duration_s > 0 ? rec.ops / loop.duration_s : 0;
  const items = shape.itemsPerOp ?? 1;
  return {
    label: shape.label,
    system: shape.system,
    op: shape.op,
    duration_s: loop.duration_s,
    ops: rec.ops,
    ops_per_s: round(perS, 1),
    items_per_op: items,
    items_per_s: round(perS * items, 1),
    bytes_per_s: shape.bytesPerOp === null ? null : round(perS * shape.bytesPerOp),
    latency_us: rec.latency_us,
    percentiles: rec.percentiles,
    series: rec.series,
    histogram_hdr: rec.histogram_hdr,
    // CPU per operation of this run's kind (several kinds share one window in `mixed`: each gets the window's whole CPU over its own count).
    cpu: loop.cpu.map((c) => ({ ...c, cpu_us_per_op: rec.ops > 0 ? Math.round((c.cpu_s / rec.ops) * 1e7) / 10 : null })),
    cpu_series: loop.cpu_series,
    generator: shape.generator ?? 'in-process',
    notes: shape.notes ?? [],
  };
}
