// `read --pattern random`: the run first appends --prefill entries (untimed), then N
// clients x D reads in flight, each at a uniformly random address among them. Every
// answer is checked byte for byte against what was appended there; a wrong one stops
// the run. Latency is from the call of `read` to its resolution (a READ at the chain's
// tail replica).

import { closedLoop } from '../driver.js';
import { Acked, Payloads } from '../payload.js';
import { OpRecorder, Window } from '../recorder.js';
import { readBack } from '../verify.js';
import { closeClients, connectClients, toRun, type ClientFlags, type WorkloadContext, type WorkloadOutput, loopShape } from './common.js';
import { prefill, readRandom } from './prefill.js';

export async function randomReadWorkload(ctx: WorkloadContext, f: ClientFlags, prefillCount: number): Promise<WorkloadOutput> {
  const clients = await connectClients(ctx.layout, f.clients, f.separateConnections);
  try {
    const payloads = new Payloads(f.entrySizeBytes);
    const acked = new Acked();
    let seq = 0;
    const prefillS = await prefill(clients, f.clients * f.depth, prefillCount, payloads, acked, () => seq++);
    const window = new Window();
    const rec = new OpRecorder(window);
    const loop = await closedLoop({
      ...loopShape(ctx, f, f.clients * f.depth, window),
      label: 'read',
      measured: () => rec.ops,
      op: (w) => readRandom(clients[w % f.clients]!, acked, payloads, rec),
    });
    const verify = f.verify ? await readBack(clients[0]!, acked, payloads) : null;
    const run = toRun({ label: 'corfu read (random)', system: 'corfu', op: 'read', bytesPerOp: f.entrySizeBytes }, rec.finish(), loop);
    return { runs: [run], verify, extra: { prefill_entries: prefillCount, prefill_s: Math.round(prefillS * 1000) / 1000 } };
  } finally {
    await closeClients(clients);
  }
}
