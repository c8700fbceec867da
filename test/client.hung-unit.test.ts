// A hung unit (SIGSTOP: no answer, no refusal, the connection stays up) is
// replaced while appends wait on it. What a latency-sensitive service relies
// on: those appends go on under the new layout as soon as the client learns
// it, instead of waiting out their request timeout (here longer than their
// deadline, so waiting would fail them).

import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { CorfuClient } from '../src/client/index.js';
import { reconfigure } from '../src/client/reconfigure-driver.js';
import { FileProjectionStore } from '../src/layout/index.js';
import { splitHostPort } from '../src/transport/address.js';
import { Connection } from '../src/transport/connection.js';
import { cliHarness } from './helpers/cli.js';
import { startOneChain } from './helpers/one-chain.js';
import { until } from './helpers/until.js';

const harness = cliHarness('corfu-hung-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const clients: CorfuClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

function device(name: string): string {
  const path = join(harness.dir, `${name}.img`);
  Store.format(path, { sizeBytes: 16 * 1024 * 1024 });
  return path;
}

async function unitTail(address: string): Promise<number> {
  const conn = new Connection({ ...splitHostPort(address), timeoutMs: 3000 });
  try {
    const res = await conn.call({ type: 'request', op: 'INFO', epoch: 0 });
    if (res.op !== 'INFO' || res.status !== 'OK') throw new Error(`INFO answered ${res.status}`);
    return res.tail;
  } finally {
    await conn.close();
  }
}

describe('a hung unit replaced while appends wait on it', () => {
  it('the appends waiting on it are sent again under the new layout, without waiting out their request timeout', async () => {
    const chain = await startOneChain(harness, 'hung', [device('a'), device('b')]);
    const spare = await harness.startCorfu(['unit', '--device', device('spare'), '--listen', '127.0.0.1:0'], /^listening /);
    const spareAddress = spare.out.find((l) => l.startsWith('listening '))!.split(' ')[1]!;
    // A request timeout far above the deadline: only abandoning the hung unit's requests can succeed.
    const client = await CorfuClient.connect({ layout: chain.layout, timeoutMs: 120_000, deadlineMs: 20_000 });
    clients.push(client);
    for (let i = 0; i < 5; i++) await client.append(Buffer.from(`before ${i}`));
    const [head, tail] = chain.units as [string, string];
    const headBefore = await unitTail(head);

    chain.unitProcs[1]!.proc.kill('SIGSTOP');
    try {
      const appends = Array.from({ length: 4 }, (_, i) => client.append(Buffer.from(`during ${i}`)));
      // The head took them: they now wait on the stopped tail.
      await until(async () => (await unitTail(head)) >= headBefore + 4, 'the head to take the 4 appends');
      const dir = chain.layout.slice('file:'.length);
      const r = await reconfigure(new FileProjectionStore(dir), [{ kind: 'replace-unit', old: tail, replacement: spareAddress }], { timeoutMs: 2000 });
      expect(r.projection.units).not.toContain(tail);
      const addresses = await Promise.all(appends);
      expect(new Set(addresses).size).toBe(4);
      expect(client.stats.abandoned).toBeGreaterThanOrEqual(1);
      for (const [i, a] of addresses.entries()) {
        const e = await client.read(a);
        expect(e.kind === 'data' && Buffer.from(e.payload).toString()).toBe(`during ${i}`);
      }
    } finally {
      chain.unitProcs[1]!.proc.kill('SIGCONT');
    }
  }, 60_000);
});
