// `mixed`: the same N clients x D loops both append and read: each operation is a read
// with probability --read-fraction (at a random address among the entries this run has
// appended so far, --prefill of them before the window), an append otherwise. Both
// kinds are recorded in the same window, each with its own latency and series; the CPU
// of the window is the two kinds' together.

import { performance } from 'node:perf_hooks';

import { closedLoop } from '../driver.js';
import { Acked, Payloads } from '../payload.js';
import { OpRecorder, Window } from '../recorder.js';
import { readBack } from '../verify.js';
import { closeClients, connectClients, toRun, type ClientFlags, type WorkloadContext, type WorkloadOutput, loopShape } from './common.js';
import { prefill, readRandom } from './prefill.js';

export async function mixedWorkload(ctx: WorkloadContext, f: ClientFlags, readFraction: number, prefillCount: number): Promise<WorkloadOutput> {
  const clients = await connectClients(ctx.layout, f.clients, f.separateConnections);
  try {
    const payloads = new Payloads(f.entrySizeBytes);
    const acked = new Acked();
    let seq = 0;
    const prefillS = await prefill(clients, f.clients * f.depth, prefillCount, payloads, acked, () => seq++);
    const window = new Window();
    const appends = new OpRecorder(window);
    const reads = new OpRecorder(window);
    const loop = await closedLoop({
      ...loopShape(ctx, f, f.clients * f.depth, window),
      label: 'mixed',
      measured: () => appends.ops + reads.ops,
      op: async (w) => {
        const client = clients[w % f.clients]!;
        if (Math.random() < readFraction) {
          await readRandom(client, acked, payloads, reads);
        } else {
          const s = seq++;
          const t0 = performance.now();
          const address = await client.append(payloads.make(s));
          appends.record(t0, performance.now());
          acked.push(address, s);
        }
      },
    });
    const verify = f.verify ? await readBack(clients[0]!, acked, payloads) : null;
    const note = 'appends and reads share the window: each kind is charged all of its CPU';
    const runs = [
      toRun({ label: 'corfu append (mixed)', system: 'corfu', op: 'append', bytesPerOp: f.entrySizeBytes, notes: [note] }, appends.finish(), loop),
      toRun({ label: 'corfu read (mixed)', system: 'corfu', op: 'read', bytesPerOp: f.entrySizeBytes, notes: [note] }, reads.finish(), loop),
    ];
    return { runs, verify, extra: { prefill_entries: prefillCount, prefill_s: Math.round(prefillS * 1000) / 1000, read_fraction: readFraction } };
  } finally {
    await closeClients(clients);
  }
}
