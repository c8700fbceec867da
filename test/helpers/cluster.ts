// A cluster of real processes for tests: device files formatted with `corfu format`,
// `corfu unit` on each, one or more `corfu sequencer`s (the first serves, the others
// stand by), and `corfu layout init` writing epoch 1 into a file: store. The processes
// belong to the caller's Servers (killAll in afterAll).

import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { expect } from 'vitest';

import { CLI } from './cli.js';
import type { Server, Servers } from './servers.js';

export interface ClusterOptions {
  /** Names the files and the layout directory (several clusters may share `dir`). */
  readonly name: string;
  readonly chains: number;
  readonly replicas: number;
  /** Each device's size, as `corfu format --size` takes it. Default 64M. */
  readonly size?: string;
  /** Sequencers to start: the first is the layout's, the rest stand by. Default 1. */
  readonly sequencers?: number;
  /** The address units and sequencers listen on (a test that restarts one on its port passes its own: helpers/ports.ts). */
  readonly host: string;
}

export interface TestCluster {
  /** The file: URL of the projection store. */
  readonly layout: string;
  readonly layoutDir: string;
  /** Device files, in unit order. */
  readonly devices: readonly string[];
  /** Units in chain order: chain i is units[i * replicas ..< (i + 1) * replicas], head first. */
  readonly units: Server[];
  readonly sequencers: readonly Server[];
}

export async function startCluster(servers: Servers, dir: string, o: ClusterOptions): Promise<TestCluster> {
  const n = o.chains * o.replicas;
  const devices = Array.from({ length: n }, (_, i) => join(dir, `${o.name}-unit-${i}.img`));
  for (const [i, d] of devices.entries()) execFileSync(process.execPath, [CLI, 'format', d, '--size', o.size ?? '64M', '--unit-id', String(i)], { stdio: 'ignore' });
  const [units, sequencers] = await Promise.all([
    Promise.all(devices.map((d) => servers.start(['unit', '--device', d, '--listen', `${o.host}:0`]))),
    Promise.all(Array.from({ length: o.sequencers ?? 1 }, () => servers.start(['sequencer', '--listen', `${o.host}:0`]))),
  ]);
  const stripes = Array.from({ length: o.chains }, (_, c) => [
    '--stripe',
    units
      .slice(c * o.replicas, (c + 1) * o.replicas)
      .map((u) => u.address)
      .join(','),
  ]).flat();
  const layoutDir = join(dir, `${o.name}-layout`);
  const layout = `file:${layoutDir}`;
  const init = spawnSync(process.execPath, [CLI, 'layout', 'init', '--store', layout, '--sequencer', sequencers[0]!.address, ...stripes], { encoding: 'utf8', timeout: 30_000 });
  expect(init.status, init.stderr).toBe(0);
  return { layout, layoutDir, devices, units, sequencers };
}
