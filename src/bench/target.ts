// What a workload runs against: `--layout URL` (a cluster someone else runs) or
// `--local` (one this benchmark starts and removes). Either way the target is checked
// before any load: every server must answer a PING (an unreachable layout is one
// ERR_UNAVAILABLE line, not a run of failed appends), and each unit is asked its sync
// mode (INFO), so the result says what durability the figures had.

import { readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';

import { CorfuError } from '../../bindings/errors.js';
import { CorfuClient } from '../client/client.js';
import { cliConnectOptions, cliRuntime } from '../cli/security.js';
import { UsageError } from '../cli/usage-error.js';
import { splitHostPort } from '../transport/address.js';
import { Connection, throwIfError } from '../transport/connection.js';
import { SYNC } from '../wire/index.js';
import type { ProcessRef } from './cpu.js';
import { localPort, pidsListeningOn } from './listeners.js';
import { startLocalCluster, type LocalCluster } from './local-cluster.js';

export interface TargetFlags {
  readonly layout?: string;
  readonly local?: boolean;
  readonly units: number;
  readonly replicas: number;
  /** --local: the units' sync mode; with --layout it must match what the units run (or be left out). */
  readonly sync?: 'always' | 'none';
  readonly unitSizeBytes: number;
  /** `bench append --sync-label`: what to report as the sync mode, whatever the units say. */
  readonly syncLabel?: string;
}

export interface TargetInfo {
  readonly kind: 'local' | 'layout';
  readonly layout: string;
  readonly epoch: number;
  readonly stripes: number;
  readonly replicas: number;
  /** The units' sync mode ('always', 'none', or 'always+none' for a mix). */
  readonly sync: string;
  readonly sync_source: 'unit INFO' | '--sync-label';
  readonly units: Array<{ readonly address: string; readonly sync: string; readonly pid: number | null }>;
  readonly sequencer: { readonly address: string; readonly pid: number | null };
  /** --local: the temporary directory (removed at the end). */
  readonly dir: string | null;
}

export interface Target {
  readonly layout: string;
  readonly info: TargetInfo;
  /** The processes whose CPU the run measures: this one, and every server found on this machine. */
  readonly processes: readonly ProcessRef[];
  /** Device files of the units, where known (--local): for the machine's device description. */
  readonly devicePaths: readonly string[];
  close(): Promise<void>;
}

/** The `--device PATH` of each local unit process found (its command line): the devices the machine description names. */
function unitDevices(pids: ReadonlyArray<number | undefined>): string[] {
  const out: string[] = [];
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--device');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (i >= 0 && argv[i + 1] !== undefined) out.push(resolve(cwd, argv[i + 1]!));
    } catch {
      // gone, or not ours to read: not described
    }
  }
  return out;
}

export function checkTargetFlags(f: TargetFlags): void {
  if (f.local === true && f.layout !== undefined) throw new UsageError('give either --layout URL or --local, not both');
  if (f.local !== true && f.layout === undefined) throw new UsageError('give --layout URL (a running cluster) or --local (a cluster started for the run)');
  if (f.local === true && f.units % f.replicas !== 0) throw new UsageError(`--units (${f.units}) must be a multiple of --replicas (${f.replicas})`);
}

/** A unit's sync mode, from its INFO answer. */
async function unitSync(address: string): Promise<string> {
  const conn = new Connection({ ...splitHostPort(address), timeoutMs: 3000, dialer: cliRuntime().dialer });
  try {
    const info = throwIfError(await conn.request({ type: 'request', op: 'INFO', epoch: 0 }));
    if (info.op !== 'INFO') throw new CorfuError('ERR_IO', `unit ${address} answered INFO with ${info.op}`);
    return info.sync === SYNC.ALWAYS ? 'always' : 'none';
  } catch (err) {
    if (err instanceof CorfuError) throw new CorfuError(err.code, `cannot ask unit ${address} for its sync mode: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await conn.close();
  }
}

export async function openTarget(f: TargetFlags): Promise<Target> {
  checkTargetFlags(f);
  let local: LocalCluster | undefined;
  if (f.local === true) local = await startLocalCluster({ units: f.units, replicas: f.replicas, sync: f.sync ?? 'always', unitSizeBytes: f.unitSizeBytes });
  try {
    const layout = local?.layout ?? f.layout!;
    const client = await CorfuClient.connect({ layout, ...cliConnectOptions() });
    let projection;
    try {
      await client.ping({ deadlineMs: 3000 });
      projection = client.projection;
    } finally {
      await client.close();
    }
    const segment = projection.segments.at(-1)!;
    const unitAddresses = segment.stripes.flatMap((s) => s.chain);
    const syncs = await Promise.all(unitAddresses.map(unitSync));
    const learned = [...new Set(syncs)].sort().join('+');
    if (local === undefined && f.sync !== undefined && learned !== f.sync) {
      throw new UsageError(`the units of ${layout} run sync ${learned}, not ${f.sync}: --sync chooses the mode of a --local cluster`);
    }
    // Servers on this machine: their pids, for the CPU figures.
    const pids = new Map<string, number>();
    if (local !== undefined) for (const s of [...local.units, local.sequencer]) pids.set(s.address, s.pid);
    else {
      const ports = new Map<number, string>();
      for (const a of [...unitAddresses, projection.sequencer]) {
        const port = localPort(a);
        if (port !== undefined) ports.set(port, a);
      }
      for (const [port, pid] of pidsListeningOn([...ports.keys()])) pids.set(ports.get(port)!, pid);
    }
    const processes: ProcessRef[] = [{ role: 'bench', name: 'bench', pid: process.pid }];
    unitAddresses.forEach((a, i) => {
      const pid = pids.get(a);
      if (pid !== undefined) processes.push({ role: 'unit', name: `unit-${i}`, pid });
    });
    const seqPid = pids.get(projection.sequencer);
    if (seqPid !== undefined) processes.push({ role: 'sequencer', name: 'sequencer', pid: seqPid });
    const info: TargetInfo = {
      kind: local === undefined ? 'layout' : 'local',
      layout,
      epoch: projection.epoch,
      stripes: segment.stripes.length,
      replicas: segment.stripes[0]?.chain.length ?? 0,
      sync: f.syncLabel ?? learned,
      sync_source: f.syncLabel === undefined ? 'unit INFO' : '--sync-label',
      units: unitAddresses.map((a, i) => ({ address: a, sync: syncs[i]!, pid: pids.get(a) ?? null })),
      sequencer: { address: projection.sequencer, pid: seqPid ?? null },
      dir: local?.dir ?? null,
    };
    const devicePaths = local?.units.map((u) => u.device!) ?? unitDevices(unitAddresses.map((a) => pids.get(a)));
    return { layout, info, processes, devicePaths, close: async () => local?.stop() };
  } catch (err) {
    await local?.stop();
    throw err;
  }
}
