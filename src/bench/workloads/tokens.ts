// `tokens`: the sequencer alone. --clients connections to it, --depth TOKEN requests in
// flight on each, --batch tokens per request, from the addon's native generator
// (native-tokens.ts; the default) or from a lean pipelined Node client (lean-link.ts,
// `--generator node`, which --procs spreads over processes), so that the generator spends
// as little CPU per request as it can. Nothing is written: this measures how
// fast the sequencer hands out positions, and what each costs it. (The tokens are
// never written, so on a cluster that is kept these addresses become holes, filled
// with junk by the first reader that reaches one.)

import { performance } from 'node:perf_hooks';

import { CorfuError } from '../../../bindings/errors.js';
import { invariant } from '../../../bindings/invariant.js';
import { CorfuClient } from '../../client/client.js';
import { cliConnectOptions, cliRuntime } from '../../cli/security.js';
import { splitHostPort } from '../../transport/address.js';
import { closedLoop, type Goal, type LoopResult } from '../driver.js';
import { goalShare, runGenerators, share } from '../generators.js';
import { LeanLink } from '../lean-link.js';
import { nativeTokens } from '../native-tokens.js';
import { OpRecorder, Window, type Recorded } from '../recorder.js';
import type { RunFigures } from '../schema.js';
import { toRun, type WorkloadContext, type WorkloadOutput, loopShape } from './common.js';

/** How a run's generator reads with `--busy-poll` (compare.ts keys its CPU note on it). */
export const BUSY_POLL_GENERATOR = 'polling without sleeping';

export interface TokensFlags {
  readonly connections: number;
  readonly depth: number;
  readonly batch: number;
  readonly goal: Goal;
  readonly warmupS: number;
  /** Load-generator processes: 1 runs the load in this process; more run it in children (generators.ts). */
  readonly procs: number;
  /** `native`: the addon's TOKEN generator (native-tokens.ts; seconds goals, one process); `node`: LeanLinks. */
  readonly generator: 'native' | 'node';
  /** The native generator polls without sleeping (`--busy-poll`). */
  readonly busyPoll: boolean;
}

export async function tokensWorkload(ctx: WorkloadContext, f: TokensFlags): Promise<WorkloadOutput> {
  const client = await CorfuClient.connect({ layout: ctx.layout, ...cliConnectOptions() });
  const { sequencer, epoch } = client.projection;
  await client.close();
  const { host, port } = splitHostPort(sequencer);
  if (f.generator === 'native') {
    invariant('seconds' in f.goal && f.procs === 1, 'the native TOKEN generator runs a seconds goal in this process (checked with the flags)');
    const out = await nativeTokens({
      host,
      port,
      epoch,
      connections: f.connections,
      depth: f.depth,
      batch: f.batch,
      busyPoll: f.busyPoll,
      seconds: f.goal.seconds,
      warmupS: f.warmupS,
      processes: ctx.processes,
      progress: ctx.progress,
    });
    const generator = f.busyPoll ? `native (one thread of this process, ${BUSY_POLL_GENERATOR})` : 'native (one thread of this process)';
    return { runs: [tokensRun(f, out.rec, out.loop, generator)], verify: null, extra: { sequencer, epoch, first_token: out.firstToken, tail_after: out.tailAfter } };
  }
  if (f.procs > 1) {
    const specs = Array.from({ length: f.procs }, (_, k) => ({
      kind: 'tokens' as const,
      host,
      port,
      epoch,
      connections: share(f.connections, f.procs, k),
      depth: f.depth,
      batch: f.batch,
      warmupS: f.warmupS,
      goal: goalShare(f.goal, f.procs, k),
    }));
    const { rec, loop } = await runGenerators({ label: 'tokens', specs, warmupS: f.warmupS, goal: f.goal, processes: ctx.processes, progress: ctx.progress });
    return { runs: [tokensRun(f, rec, loop, `${f.procs} processes`)], verify: null, extra: { sequencer, epoch, generator_processes: f.procs } };
  }
  const request = { type: 'request', op: 'TOKEN', requestId: 1, epoch, count: f.batch } as const;
  const conns: LeanLink[] = [];
  try {
    for (let i = 0; i < f.connections; i++) conns.push(await LeanLink.open(cliRuntime().dialer, host, port, request));
    const window = new Window();
    const rec = new OpRecorder(window);
    let first: number | undefined;
    let last = 0;
    const loop = await closedLoop({
      ...loopShape(ctx, f, f.connections * f.depth, window),
      label: 'tokens',
      measured: () => rec.ops,
      op: async (w) => {
        const t0 = performance.now();
        const res = await conns[w % f.connections]!.call();
        rec.record(t0, performance.now());
        if (res.status !== 'OK' || res.op !== 'TOKEN')
          throw new CorfuError(res.status === 'OK' ? 'ERR_IO' : res.status, `TOKEN(${f.batch}) at ${sequencer}: ${'message' in res ? res.message : res.op}`);
        first ??= res.first;
        last = Math.max(last, res.first + f.batch);
      },
    });
    const run = tokensRun(f, rec.finish(), loop, 'in-process');
    return { runs: [run], verify: null, extra: { sequencer, epoch, first_token: first ?? null, tail_after: last } };
  } finally {
    for (const c of conns) c.close();
  }
}

function tokensRun(f: TokensFlags, rec: Recorded, loop: LoopResult, generator: string): RunFigures {
  return toRun(
    {
      label: `corfu sequencer TOKEN(${f.batch})`,
      system: 'corfu',
      op: 'token-request',
      itemsPerOp: f.batch,
      bytesPerOp: null,
      generator,
      notes: [
        'the tokens are not written: on a cluster that is kept they are holes, junk-filled by the first reader to reach one',
        ...(f.busyPoll
          ? ["--busy-poll: the generator polls without sleeping, so its process is at ~100% of a CPU whatever the load: that share does not say it was the limit, the sequencer's does"]
          : []),
      ],
    },
    rec,
    loop,
  );
}
