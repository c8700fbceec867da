// `append`: N clients in this process, each keeping D appends in flight, entries of B
// bytes. Latency is from the call of `append` to its resolution: a token from the
// sequencer, the write down the chain (head, then each replica to the tail), with the
// units' sync mode. Like any clients of one process they share one connection per
// server unless --separate-connections, so their requests to a unit leave together.
// With --procs K the clients are split over K generator processes (each process's
// clients share its connections). With --batch B each operation is one appendBatch of B
// entries: every entry counts as an append, with its call's latency.

import { performance } from 'node:perf_hooks';

import type { CorfuClient } from '../../client/index.js';

import { closedLoop, type LoopOptions } from '../driver.js';
import { goalShare, runGenerators, share } from '../generators.js';
import { Acked, Payloads } from '../payload.js';
import { OpRecorder, Window } from '../recorder.js';
import { readBack } from '../verify.js';
import { closeClients, connectClients, toRun, type ClientFlags, type WorkloadContext, type WorkloadOutput, loopShape } from './common.js';

/**
 * The append workload's operations for closedLoop, written from `bufs` (each worker's
 * own, one per entry of an operation, restamped each time: its last operation's call has
 * ended): single appends as a callback chain (`start`), appendBatch calls of
 * `bufs[w].length` entries as async operations (`op`). Each entry is recorded with its
 * call's latency, and pushed to `acked` (for the read-back) when given. The in-process
 * loop and each generator process (generator-main.ts) run the same ones.
 */
export function appendOps(
  clients: readonly CorfuClient[],
  payloads: Payloads,
  bufs: readonly (readonly Buffer[])[],
  nextSeq: () => number,
  rec: OpRecorder,
  acked: Acked | undefined,
): Pick<LoopOptions, 'op' | 'start'> {
  const client = (w: number): CorfuClient => clients[w % clients.length]!;
  if (bufs[0]!.length > 1) return { op: (w) => appendBatchOp(client(w), payloads, bufs[w]!, nextSeq, rec, acked) };
  // Each worker's state and callbacks are made once, so a single append costs the
  // client's promise and one reaction on it, where an async operation cost two more
  // promises and two awaits, CPU the run would report as the client's.
  const workers = bufs.map((b, w) => new AppendWorker(client(w), payloads, b[0]!, nextSeq, rec, acked));
  return { start: (w, ok, failed) => workers[w]!.start(ok, failed) };
}

/** One appendBatch of `bufs.length` entries: each entry counts, with the call's latency. */
async function appendBatchOp(client: CorfuClient, payloads: Payloads, bufs: readonly Buffer[], nextSeq: () => number, rec: OpRecorder, acked: Acked | undefined): Promise<void> {
  const seqs = Array.from({ length: bufs.length }, nextSeq);
  const t0 = performance.now();
  const addresses = await client.appendBatch(seqs.map((s, i) => payloads.restamp(bufs[i]!, s)));
  const t1 = performance.now();
  for (let i = 0; i < bufs.length; i++) {
    rec.record(t0, t1);
    acked?.push(addresses[i]!, seqs[i]!);
  }
}

/** One worker's single appends (appendOps' `start`). */
class AppendWorker {
  #t0 = 0;
  #seq = 0;
  #ok: () => void = () => {};
  readonly #appended = (address: number): void => {
    this.rec.record(this.#t0, performance.now());
    this.acked?.push(address, this.#seq);
    this.#ok();
  };

  constructor(
    readonly client: CorfuClient,
    readonly payloads: Payloads,
    readonly buf: Buffer,
    readonly nextSeq: () => number,
    readonly rec: OpRecorder,
    readonly acked: Acked | undefined,
  ) {}

  start(ok: () => void, failed: (err: unknown) => void): void {
    this.#ok = ok;
    this.#seq = this.nextSeq();
    this.#t0 = performance.now();
    this.client.append(this.payloads.restamp(this.buf, this.#seq)).then(this.#appended, failed);
  }
}

export async function appendWorkload(ctx: WorkloadContext, f: ClientFlags): Promise<WorkloadOutput> {
  if (f.procs > 1) return appendFromProcesses(ctx, f);
  const clients = await connectClients(ctx.layout, f.clients, f.separateConnections);
  try {
    const payloads = new Payloads(f.entrySizeBytes);
    const acked = new Acked();
    const window = new Window();
    const rec = new OpRecorder(window);
    let seq = 0;
    const workers = f.clients * f.depth;
    const bufs = Array.from({ length: workers }, () => Array.from({ length: f.batch }, () => payloads.make(0)));
    const loop = await closedLoop({
      ...loopShape(ctx, f, workers, window),
      label: 'append',
      measured: () => rec.ops,
      ...appendOps(clients, payloads, bufs, () => seq++, rec, f.verify ? acked : undefined),
    });
    const verify = f.verify ? await readBack(clients[0]!, acked, payloads) : null;
    const native = clients.reduce((n, c) => n + c.stats.nativeAppends, 0);
    const notes = [
      `${native.toLocaleString('en-US')} of ${seq.toLocaleString('en-US')} appends (warm-up included) were written by the client's native append path (src/client/append-path.ts; CORFU_NATIVE_APPENDS=0 turns it off), the rest by its JS path`,
    ];
    const run = toRun({ label: 'corfu append', system: 'corfu', op: 'append', bytesPerOp: f.entrySizeBytes, notes }, rec.finish(), loop);
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
    batch: f.batch,
    verify: f.verify,
    warmupS: f.warmupS,
    goal: goalShare(f.goal, f.procs, k),
  }));
  const { rec, loop, verify } = await runGenerators({ label: 'append', specs, warmupS: f.warmupS, goal: f.goal, processes: ctx.processes, progress: ctx.progress });
  const run = toRun({ label: 'corfu append', system: 'corfu', op: 'append', bytesPerOp: f.entrySizeBytes, generator: `${f.procs} processes` }, rec, loop);
  return { runs: [run], verify, extra: { generator_processes: f.procs } };
}
