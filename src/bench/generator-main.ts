// One load-generator process of `corfu bench tokens --procs K` (its parent is the
// bench): it opens its share of the connections to the sequencer, says `ready`, waits
// for `go` on stdin (so the K processes' windows start together), runs the same closed
// loop as the in-process generator, reports `progress N` lines while it runs and ends
// with one `result {...}` line: its recording, with each second's histogram so the
// parent can merge them exactly. It exits when its stdin closes: the parent has read
// its CPU, or the parent is gone.

import { createInterface } from 'node:readline';

import { tcpDialer } from '../transport/dialer.js';
import { closedLoop, type Goal } from './driver.js';
import { LeanLink } from './lean-link.js';
import { OpRecorder, Window } from './recorder.js';

export interface GeneratorSpec {
  readonly host: string;
  readonly port: number;
  readonly epoch: number;
  readonly connections: number;
  readonly depth: number;
  readonly batch: number;
  readonly warmupS: number;
  readonly goal: Goal;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as GeneratorSpec;
  const request = { type: 'request', op: 'TOKEN', requestId: 1, epoch: spec.epoch, count: spec.batch } as const;
  const links: LeanLink[] = [];
  for (let i = 0; i < spec.connections; i++) links.push(await LeanLink.open(tcpDialer, spec.host, spec.port, request));
  const lines = createInterface({ input: process.stdin });
  let finished = false;
  const go = new Promise<void>((resolve) => lines.on('line', (l) => l === 'go' && resolve()));
  // The parent closes stdin once it has read this process's CPU (after the result): exit then.
  lines.on('close', () => process.exit(finished ? 0 : 1));
  process.stdout.write('ready\n');
  await go;
  const window = new Window();
  const rec = new OpRecorder(window, true);
  const progress = setInterval(() => process.stdout.write(`progress ${rec.ops}\n`), 250);
  const loop = await closedLoop({
    label: 'generator',
    workers: spec.connections * spec.depth,
    warmupS: spec.warmupS,
    goal: spec.goal,
    window,
    processes: [],
    progress: false,
    measured: () => rec.ops,
    op: async (w) => {
      const t0 = performance.now();
      const res = await links[w % links.length]!.call();
      rec.record(t0, performance.now());
      if (res.status !== 'OK') throw new Error(`TOKEN(${spec.batch}) at ${spec.host}:${spec.port}: ${res.status}`);
    },
  }).finally(() => clearInterval(progress));
  for (const l of links) l.close();
  finished = true;
  process.stdout.write(`result ${JSON.stringify({ ...rec.finish(), duration_s: loop.duration_s, failure: null })}\n`);
}

main().catch((err: unknown) => {
  process.stdout.write(`result ${JSON.stringify({ failure: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
});
