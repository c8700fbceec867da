// A one-chain cluster of real processes: `corfu unit` on each given device file (the
// chain, head first) and a `corfu sequencer`, installed at epoch 1 by `corfu layout
// init` into a file: store. The harness kills them when the test file ends.

import { join } from 'node:path';

import { expect } from 'vitest';

import type { CliHarness, Started } from './cli.js';

export interface OneChain {
  /** The file: URL of the projection store, for `CorfuClient.connect({ layout })`. */
  readonly layout: string;
  /** HOST:PORT of each unit, head first. */
  readonly units: readonly string[];
  readonly unitProcs: readonly Started[];
  readonly sequencer: Started;
  /** SIGTERM to every process; resolves when they have exited. */
  stop(): Promise<void>;
}

/**
 * Starts units on `devices` (already formatted) and a sequencer, and installs the chain.
 * The units listen on `unitHost` (a test that restarts a unit on its address passes its
 * own loopback address: helpers/ports.ts).
 */
export async function startOneChain(harness: CliHarness, name: string, devices: readonly string[], unitHost = '127.0.0.1'): Promise<OneChain> {
  const unitProcs = await Promise.all(devices.map((d) => harness.startCorfu(['unit', '--device', d, '--listen', `${unitHost}:0`], /^listening /)));
  const sequencer = await harness.startCorfu(['sequencer', '--listen', '127.0.0.1:0'], /^listening /);
  const units = unitProcs.map((u) => listening(u));
  const layout = `file:${join(harness.dir, `${name}-layout`)}`;
  const r = harness.corfu('layout', 'init', '--store', layout, '--sequencer', listening(sequencer), '--stripe', units.join(','));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const stop = async (): Promise<void> => {
    const all = [...unitProcs, sequencer];
    for (const p of all) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
    await Promise.all(all.map((p) => p.exited));
  };
  return { layout, units, unitProcs, sequencer, stop };
}

function listening(s: Started): string {
  const line = s.out.find((l) => l.startsWith('listening '));
  if (line === undefined) throw new Error(`no listening line in ${s.out.join('\n')}`);
  return line.split(' ')[1]!;
}
