// One load-generator process of `corfu bench tokens|append --procs K` (its parent is
// the bench): it opens its share of the connections (TOKEN links to the sequencer, or
// CorfuClients), says `ready`, waits for `go` on stdin (so the K processes' windows
// start together), runs the same closed loop as the in-process generator, reports
// `progress N` lines while it runs and ends with one `result {...}` line: its recording,
// with each second's histogram so the parent can merge them exactly, and with --verify
// the read-back of the entries it appended. It exits when its stdin closes: the parent
// has read its CPU, or the parent is gone.

import { createInterface } from 'node:readline';

import { CorfuError } from '../../bindings/errors.js';
import { tcpDialer } from '../transport/dialer.js';
import { closedLoop, type Goal, type LoopOptions } from './driver.js';
import { LeanLink } from './lean-link.js';
import { Acked, Payloads } from './payload.js';
import { OpRecorder, Window } from './recorder.js';
import type { VerifyFigures } from './schema.js';
import { readBack } from './verify.js';
import { appendOps } from './workloads/append.js';
import { closeClients, connectClients } from './workloads/common.js';

export type GeneratorSpec = {
  readonly warmupS: number;
  readonly goal: Goal;
  readonly depth: number;
} & (
  | { readonly kind: 'tokens'; readonly host: string; readonly port: number; readonly epoch: number; readonly connections: number; readonly batch: number }
  | { readonly kind: 'append'; readonly layout: string; readonly clients: number; readonly entrySizeBytes: number; readonly batch: number; readonly verify: boolean }
);

interface Load {
  readonly workers: number;
  /** Its operations, recording into the process's recorder. */
  readonly ops: Pick<LoopOptions, 'op' | 'start'>;
  readonly after: () => Promise<VerifyFigures | null>;
  readonly close: () => Promise<void>;
}

async function tokensLoad(spec: Extract<GeneratorSpec, { kind: 'tokens' }>, rec: OpRecorder): Promise<Load> {
  const request = { type: 'request', op: 'TOKEN', requestId: 1, epoch: spec.epoch, count: spec.batch } as const;
  const links: LeanLink[] = [];
  for (let i = 0; i < spec.connections; i++) links.push(await LeanLink.open(tcpDialer, spec.host, spec.port, request));
  return {
    workers: spec.connections * spec.depth,
    ops: {
      op: async (w) => {
        const t0 = performance.now();
        const res = await links[w % links.length]!.call();
        rec.record(t0, performance.now());
        if (res.status !== 'OK') throw new CorfuError(res.status, `TOKEN(${spec.batch}) at ${spec.host}:${spec.port}: ${res.status}`);
      },
    },
    after: async () => null,
    close: async () => links.forEach((l) => l.close()),
  };
}

async function appendLoad(spec: Extract<GeneratorSpec, { kind: 'append' }>, rec: OpRecorder): Promise<Load> {
  const clients = await connectClients(spec.layout, spec.clients, false);
  // Each process its own run id: the stamps of two processes never collide.
  const payloads = new Payloads(spec.entrySizeBytes);
  const acked = new Acked();
  let seq = 0;
  const workers = spec.clients * spec.depth;
  const bufs = Array.from({ length: workers }, () => Array.from({ length: spec.batch }, () => payloads.make(0)));
  return {
    workers,
    ops: appendOps(clients, payloads, bufs, () => seq++, rec, spec.verify ? acked : undefined),
    after: async () => (spec.verify ? readBack(clients[0]!, acked, payloads) : null),
    close: () => closeClients(clients),
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as GeneratorSpec;
  // The recorder counts nothing until the loop opens the window.
  const window = new Window();
  const rec = new OpRecorder(window, true);
  const load = spec.kind === 'tokens' ? await tokensLoad(spec, rec) : await appendLoad(spec, rec);
  const lines = createInterface({ input: process.stdin });
  let finished = false;
  const go = new Promise<void>((resolve) => lines.on('line', (l) => l === 'go' && resolve()));
  // The parent closes stdin once it has read this process's CPU (after the result): exit then.
  lines.on('close', () => process.exit(finished ? 0 : 1));
  process.stdout.write('ready\n');
  await go;
  const progress = setInterval(() => process.stdout.write(`progress ${rec.ops}\n`), 250);
  const loop = await closedLoop({
    label: 'generator',
    workers: load.workers,
    warmupS: spec.warmupS,
    goal: spec.goal,
    window,
    processes: [],
    progress: false,
    measured: () => rec.ops,
    ...load.ops,
  }).finally(() => clearInterval(progress));
  const verify = await load.after();
  await load.close();
  finished = true;
  process.stdout.write(`result ${JSON.stringify({ ...rec.finish(), duration_s: loop.duration_s, verify, failure: null })}\n`);
}

main().catch((err: unknown) => {
  process.stdout.write(`result ${JSON.stringify({ failure: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
});
