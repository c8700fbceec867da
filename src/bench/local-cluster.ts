// `--local`: a cluster the benchmark starts for itself and removes afterwards. Unit
// device files are formatted in a fresh temporary directory, `corfu unit` and
// `corfu sequencer` children listen on 127.0.0.1 (free ports), the units are sealed,
// the sequencer bootstrapped and the layout proposed to file:DIR/layout, as
// `corfu up` does; but no manager, spare or standby: nothing but the log's own
// processes runs, so every CPU second is the workload's. stop() ends the children
// and deletes the directory, whatever happened.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Store } from '../../bindings/index.js';
import { startChild, stopAll, type Child } from '../cli/children.js';
import { buildProjection, sealSequencerAndPropose, sealUnits } from '../cli/layout.js';

export interface LocalClusterOptions {
  readonly units: number;
  readonly replicas: number;
  readonly sync: 'always' | 'none';
  readonly unitSizeBytes: number;
  /** Where the temporary directory goes (default: the OS's temp dir). */
  readonly parentDir?: string;
}

export interface LocalServer {
  readonly name: string;
  readonly address: string;
  readonly pid: number;
  readonly device?: string;
}

export interface LocalCluster {
  readonly dir: string;
  readonly layout: string;
  readonly units: readonly LocalServer[];
  readonly sequencer: LocalServer;
  stop(): Promise<void>;
}

/** The one epoch a fresh local cluster runs in. */
const EPOCH = 1;

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const dir = mkdtempSync(join(o.parentDir ?? tmpdir(), 'corfu-bench-'));
  const children: Child[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const clusterId = randomBytes(16).toString('hex');
    const devices = Array.from({ length: o.units }, (_, i) => join(dir, `unit-${i}.img`));
    for (const [i, path] of devices.entries()) Store.format(path, { sizeBytes: o.unitSizeBytes, clusterId, unitId: i, zero: true });
    const units = await Promise.all(devices.map((path, i) => startChild(`unit-${i}`, ['unit', '--device', path, '--listen', '127.0.0.1:0', '--sync', o.sync], dir, children)));
    const addresses = units.map((u) => u.address!);
    const sealed = await sealUnits(addresses, EPOCH);
    const sequencer = await startChild('sequencer', ['sequencer', '--listen', '127.0.0.1:0'], dir, children);
    const stripes: string[][] = [];
    for (let k = 0; k < o.units / o.replicas; k++) stripes.push(addresses.slice(k * o.replicas, (k + 1) * o.replicas));
    mkdirSync(join(dir, 'layout'));
    const layout = `file:${join(dir, 'layout')}`;
    await sealSequencerAndPropose(layout, buildProjection(EPOCH, sequencer.address!, stripes, sealed.maxEntryBytes), sealed.tails);
    const server = (c: Child, device?: string): LocalServer => ({ name: c.name, address: c.address!, pid: c.proc.pid!, ...(device === undefined ? {} : { device }) });
    return { dir, layout, units: units.map((u, i) => server(u, devices[i])), sequencer: server(sequencer), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
