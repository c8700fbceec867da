// `corfu bench compare`: Corfu and each peer back to back, with the same entry size,
// concurrency, pipelining and durability, both figures and their ratio:
//
//   engine     the storage engine vs fio (io_uring, O_DIRECT), 4 KiB writes and random
//              reads at one queue depth, on the same device or file;
//   sequencer  TOKEN(1) requests vs Redis INCR, --clients connections x --depth in
//              flight (redis-benchmark -c -P), both in memory (the sequencer keeps no
//              copy; Redis runs with appendonly no);
//   append     end-to-end appends vs Redis XADD of the same entry size, --clients x
//              --depth, each durable before its answer (the units' sync always; Redis
//              appendonly yes, appendfsync always). Redis keeps ONE copy on ONE node;
//              Corfu keeps one per replica of the chain (two by default), each on its
//              own unit. With --batch n each Corfu call is one appendBatch of n entries
//              and Redis pipelines --depth x n XADDs per connection: the same entries in
//              flight, each sent without waiting for the one before.
//
// Redis is driven by redis-benchmark, its own native load generator; Corfu by this
// process. Every run shows the CPU of its load generator, so a reader sees whether
// the generator, and not the system, was the limit. Every peer needed is checked
// before anything runs: a missing one is one line naming it and its install command.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { requirePeers, type PeerBinary } from '../../bench/peers/errors.js';
import { FIO } from '../../bench/peers/fio.js';
import { REDIS_BENCHMARK, REDIS_SERVER } from '../../bench/peers/redis.js';
import { UsageError } from '../cli/usage-error.js';
import { deviceWorkload } from './device.js';
import type { Goal } from './driver.js';
import { machineInfo, deviceInfo } from './machine.js';
import { redisRun } from './redis-run.js';
import { assemble, emit, type OutputFlags } from './result.js';
import { describeTarget, withTarget } from './run.js';
import { checkAppendBatch, checkProcs, checkTokenGenerator, type TokenGenerator } from './verbs.js';
import type { ComparisonRow, RunFigures, TargetFigures } from './schema.js';
import type { TargetFlags } from './target.js';
import { appendWorkload } from './workloads/append.js';
import { BUSY_POLL_GENERATOR, tokensWorkload } from './workloads/tokens.js';

export type ComparePair = 'engine' | 'sequencer' | 'append';
export const COMPARE_PAIRS: readonly ComparePair[] = ['engine', 'sequencer', 'append'];

export interface CompareFlags extends OutputFlags {
  readonly pairs: ReadonlySet<ComparePair>;
  readonly layout?: string;
  readonly local?: boolean;
  readonly units: number;
  readonly replicas: number;
  readonly unitSize: number;
  readonly entrySize: number;
  readonly clients: number;
  readonly depth: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly queueDepth: number;
  /** Load-generator processes of the append pair, and of the sequencer pair with the node generator. */
  readonly procs: number;
  /** The append pair's entries per call (1: append; more: appendBatch). */
  readonly batch: number;
  /** The sequencer pair's generator. */
  readonly generator: TokenGenerator;
  /** The sequencer pair's native generator polls without sleeping (`--busy-poll`). */
  readonly busyPoll?: boolean;
  /** The engine pair's device or file (default: a temporary file of --device-size). */
  readonly device?: string;
  readonly deviceSize: number;
  readonly force?: boolean;
}

const NEEDS: Record<ComparePair, readonly PeerBinary[]> = { engine: [FIO], sequencer: [REDIS_SERVER, REDIS_BENCHMARK], append: [REDIS_SERVER, REDIS_BENCHMARK] };

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** The load generator's share of a CPU in a run, and a warning when it was the limit. */
function generatorNote(run: RunFigures): string {
  // Generator processes when there are some; otherwise the bench process is the generator.
  const children = run.cpu.filter((c) => c.role === 'load-generator');
  const gen = children.length > 0 ? children : run.cpu.filter((c) => c.role === 'bench');
  if (gen.length === 0) return `${run.generator}: CPU not measured`;
  // A generator that polls without sleeping is at a whole CPU whatever the load (--busy-poll).
  const spins = run.generator.includes(BUSY_POLL_GENERATOR);
  const limit = (share: number): string => (spins ? ', polling without sleeping (a whole CPU at any load)' : share >= 0.9 ? ', SATURATED: the figure is a lower bound' : '');
  return gen.map((g) => `${g.name} (load generator) at ${Math.round(g.cpu_share * 100)}% of a CPU${limit(g.cpu_share)}`).join(', ');
}

function row(pair: string, measure: string, corfu: RunFigures, peer: RunFigures, copies: { corfu: string; peer: string }, conditions: string): ComparisonRow {
  return {
    pair,
    measure,
    corfu_label: corfu.label,
    peer_label: peer.label,
    corfu_per_s: corfu.ops_per_s,
    peer_per_s: peer.ops_per_s,
    ratio: peer.ops_per_s > 0 ? round(corfu.ops_per_s / peer.ops_per_s) : 0,
    corfu_p50_us: corfu.latency_us?.p50_us ?? null,
    peer_p50_us: peer.latency_us?.p50_us ?? null,
    corfu_p99_us: corfu.latency_us?.p99_us ?? null,
    peer_p99_us: peer.latency_us?.p99_us ?? null,
    corfu_copies: copies.corfu,
    peer_copies: copies.peer,
    conditions: `${conditions}. Generators: ${generatorNote(corfu)}; ${generatorNote(peer)}`,
  };
}

export function checkCompareFlags(f: CompareFlags): void {
  const cluster = f.pairs.has('sequencer') || f.pairs.has('append');
  if (cluster && f.layout !== undefined && f.local === true) throw new UsageError('give either --layout URL or --local, not both');
  if (cluster && f.layout === undefined && f.units % f.replicas !== 0) throw new UsageError(`--units (${f.units}) must be a multiple of --replicas (${f.replicas})`);
  if (f.device !== undefined && existsSync(f.device) && f.force !== true && f.pairs.has('engine')) {
    throw new UsageError(`${f.device} exists: the engine pair formats it and fio overwrites it; pass --force to erase it`);
  }
  if (f.pairs.has('sequencer') || f.pairs.has('append')) checkProcs(f.procs, f.clients);
  if (f.batch > 1 && !f.pairs.has('append')) throw new UsageError('--batch applies to the append pair only; add append to --pairs');
  checkAppendBatch(f.batch);
  if (f.pairs.has('sequencer')) checkTokenGenerator(f.generator, 1, { seconds: f.seconds }, f.busyPoll === true);
  // Every peer before anything runs.
  requirePeers([...new Set([...f.pairs].flatMap((p) => NEEDS[p]))]);
}

export async function compareVerb(f: CompareFlags): Promise<void> {
  checkCompareFlags(f);
  const busyPoll = f.busyPoll === true;
  const startedAt = new Date();
  const machine = machineInfo([]);
  const runs: RunFigures[] = [];
  const comparison: ComparisonRow[] = [];
  const extra: Record<string, unknown> = {};
  const devicePaths: string[] = [];
  let target: TargetFigures | null = null;
  let heading = `bench compare: ${[...f.pairs].join(', ')}; ${f.clients} connection(s)/client(s) x depth ${f.depth}${f.batch > 1 ? ` (the append pair: appendBatch of ${f.batch}, Redis -P ${f.depth * f.batch})` : ''}, ${f.entrySize}-byte entries, ${f.seconds} s per run (+${f.warmup} s warm-up)`;
  const goal: Goal = { seconds: f.seconds };

  // The engine pair first, before a cluster loads the machine.
  if (f.pairs.has('engine')) {
    const scratch = f.device === undefined ? mkdtempSync(join(tmpdir(), 'corfu-bench-device-')) : undefined;
    const path = f.device ?? join(scratch!, 'device.img');
    try {
      const out = await deviceWorkload({
        path,
        ...(f.device === undefined ? { size: f.deviceSize } : {}),
        seconds: f.seconds,
        warmup: f.warmup,
        queueDepth: f.queueDepth,
        batch: 1024,
        inFlight: 8,
        only: new Set(['write', 'read']),
        fio: true,
        force: f.device === undefined || f.force === true,
        progress: f.progress,
      });
      runs.push(...out.runs);
      comparison.push(...out.comparison);
      extra['engine'] = out.extra;
      machine.devices.push(deviceInfo(path));
      devicePaths.push(path);
    } finally {
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    }
  }

  if (f.pairs.has('sequencer') || f.pairs.has('append')) {
    // A local cluster runs sync always (the durable case); a --layout cluster is taken as it runs.
    const tf: TargetFlags = {
      ...(f.layout === undefined ? { local: true, sync: 'always' as const } : { layout: f.layout }),
      units: f.units,
      replicas: f.replicas,
      unitSizeBytes: f.unitSize,
    };
    await withTarget(tf, async (t) => {
      target = t.info;
      heading += `; Corfu: ${describeTarget(t)}`;
      machine.devices.push(...machineInfo(t.devicePaths).devices);
      const ctx = { layout: t.layout, processes: t.processes, progress: f.progress };
      const same = `${f.clients} connection(s) x ${f.depth} in flight on each (redis-benchmark -c ${f.clients} -P ${f.depth}), ${f.seconds} s after ${f.warmup} s of warm-up`;
      if (f.pairs.has('sequencer')) {
        const procs = f.generator === 'native' ? 1 : f.procs;
        const corfu = (await tokensWorkload(ctx, { connections: f.clients, depth: f.depth, batch: 1, goal, warmupS: f.warmup, procs, generator: f.generator, busyPoll })).runs[0]!;
        const { run: peer, version } = await redisRun({
          label: 'redis INCR',
          op: 'incr',
          durability: 'none',
          clients: f.clients,
          pipeline: f.depth,
          test: { builtin: 'incr' },
          seconds: f.seconds,
          bytesPerOp: null,
          notes: ['appendonly no: in memory, like the sequencer'],
        });
        extra['redis_version'] = version;
        runs.push(corfu, peer);
        comparison.push(
          row(
            'sequencer vs Redis INCR',
            'TOKEN(1) requests/s vs INCR/s: one counter, one position each',
            corfu,
            peer,
            { corfu: 'in memory, 1 node (no copy: a new sequencer recovers the tail from the units)', peer: 'in memory, 1 node (appendonly no)' },
            same,
          ),
        );
      }
      if (f.pairs.has('append')) {
        const durable = t.info.sync === 'always';
        const corfu = (
          await appendWorkload(ctx, {
            clients: f.clients,
            depth: f.depth,
            entrySizeBytes: f.entrySize,
            goal,
            warmupS: f.warmup,
            separateConnections: false,
            verify: false,
            procs: f.procs,
            batch: f.batch,
          })
        ).runs[0]!;
        const pipeline = f.depth * f.batch;
        const { run: peer, version } = await redisRun({
          label: 'redis XADD',
          op: 'xadd',
          durability: durable ? 'aof-always' : 'none',
          clients: f.clients,
          pipeline,
          test: { command: ['XADD', 'corfu-bench', '*', 'e', 'x'.repeat(f.entrySize)] },
          seconds: f.seconds,
          bytesPerOp: f.entrySize,
          notes: [
            durable ? 'appendonly yes, appendfsync always: each XADD is fsynced before its answer' : 'appendonly no (the Corfu units run sync none)',
            `a ${f.entrySize}-byte field value per entry`,
          ],
        });
        extra['redis_version'] = version;
        runs.push(corfu, peer);
        const r = t.info.replicas;
        comparison.push(
          row(
            'appends vs Redis XADD',
            `appends/s vs XADD/s, ${f.entrySize}-byte entries, each durable before its answer`,
            corfu,
            peer,
            {
              corfu: `${r} ${r === 1 ? 'copy' : 'copies'} on ${r} ${r === 1 ? 'node' : 'nodes'} (a chain of ${r} unit${r === 1 ? '' : 's'}, ${durable ? 'each fsyncs before the ack' : 'sync none'})`,
              peer: `1 copy on 1 node (${durable ? 'appendonly yes, appendfsync always' : 'appendonly no'})`,
            },
            `${f.clients * pipeline} in flight on both sides: Corfu ${f.clients} CorfuClient(s) x ${f.batch > 1 ? `${f.depth} appendBatch calls of ${f.batch} entries (each entry counts as an append, with its call's latency)` : `${f.depth} appends`} (the clients of one process share one connection per server and their requests leave batched, one frame per unit per event-loop turn${f.procs > 1 ? `; split over ${f.procs} processes` : ''}), Redis ${f.clients} connection(s) x ${pipeline} pipelined (redis-benchmark -c ${f.clients} -P ${pipeline}); ${f.seconds} s after ${f.warmup} s of warm-up; ${durable ? 'durable on both sides' : 'not durable on either side (units sync none, Redis appendonly no)'}`,
          ),
        );
      }
    });
  }

  const result = assemble(
    {
      workload: 'compare',
      startedAt,
      config: {
        pairs: [...f.pairs],
        entry_size_bytes: f.entrySize,
        clients: f.clients,
        depth: f.depth,
        duration_s: f.seconds,
        warmup_s: f.warmup,
        queue_depth: f.queueDepth,
        generator_processes: f.procs,
        batch_entries: f.batch,
        sequencer_generator: f.generator,
        sequencer_busy_poll: busyPoll,
        device: f.device ?? null,
        device_size_bytes: f.device === undefined ? f.deviceSize : null,
        local: f.layout === undefined,
        ...(f.layout === undefined ? { units: f.units, replicas: f.replicas, unit_size_bytes: f.unitSize, sync: 'always' } : { layout: f.layout }),
      },
      target,
      devicePaths,
      runs,
      verify: null,
      comparison,
      extra,
    },
    machine,
  );
  const copies = comparison.some((c) => c.pair.startsWith('appends'))
    ? `\nRedis keeps one copy of each entry on one node; Corfu keeps ${target === null ? 'one per replica' : `${(target as TargetFigures).replicas}`}, each on its own unit.`
    : '';
  emit(result, heading + copies, f);
}
