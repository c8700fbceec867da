// `append`: N clients in this process, each keeping D appends in flight, entries of B
// bytes. Latency is from the call of `append` to its resolution: a token from the
// sequencer, the write down the chain (head, then each replica to the tail), with the
// units' sync mode. Like any clients of one process they share one connection per
// server unless --separate-connections, so their requests to a unit leave together.
// With --procs K the clients are split over K generator processes (each process's
// clients share its connections).

import { performance } from 'node:perf_hooks';

import { closedLoop } from '../driver.js';
import { goalShare, runGenerators, share } from '../generators.js';
import { Acked, Payloads } from '../payload.js';
import { OpRecorder, Window } from '../recorder.js';
import { readBack } from '../verify.js';
import { closeClients, connectClients, toRun, type ClientFlags, type WorkloadContext, type WorkloadOutput, loopShape } from './common.js';

export async function appendWorkload(ctx: WorkloadContext, f: ClientFlags): Promise<WorkloadOutput> {
  if (f.procs > 1) return appendFromProcesses(ctx, f);
  const clients = await connectClients(ctx.layout, f.clients, f.separateConnections);
  try {
    const payloads = new Payloads(f.entrySizeBytes);
    const acked = new Acked();
    const window = new Window();
    const rec = new OpRecorder(window);
    let seq = 0;
    const loop = await closedLoop({
      ...loopShape(ctx, f, f.clients * f.depth, window),
      label: 'append',
      measured: () => rec.ops,
      op: async (w) => {
        const s = seq++;
        const t0 = performance.now();
        const address = await clients[w % f.clients]!.append(payloads.make(s));
        rec.record(t0, performance.now());
        if (f.verify) acked.push(address, s);
      },
    });
    const verify = f.verify ? await readBack(clients[0]!, acked, payloads) : null;
    const run = toRun({ label: 'corfu append', system: 'corfu', op: 'append', bytesPerOp: f.entrySizeBytes }, rec.finish(), loop);
    return { runs: [run], verify, extra: {} };
  } finally {
    await closeClients(clients);
  }
}

/** `--procs K`: the clients split over K generator processes (generators.ts), each reading back its own entries. */
async function appendFromProcesses(ctx: WorkloadContext, f: ClientFlags): Promise<WorkloadOutput> {
  const specs = Array.from({ length: f.procs }, (_, k) => ({
    kind: 'append' as const,
    layout: ctx.layout,
    clients: share(f.clients, f.procs, k),
    depth: f.depth,
    entrySizeBytes: f.entrySizeBytes,
    verify: f.verify,
    warmupS: f.warmupS,
    goal: goalShare(f.goal, f.procs, k),
  }));
  const { rec, loop, verify } = await runGenerators({ label: 'append', specs, warmupS: f.warmupS, goal: f.goal, processes: ctx.processes, progress: ctx.progress });
  const run = toRun({ label: 'corfu append', system: 'corfu', op: 'append', bytesPerOp: f.entrySizeBytes, generator: `${f.procs} processes` }, rec, loop);
  return { runs: [run], verify, extra: { generator_processes: f.procs } };
}
