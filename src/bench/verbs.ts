// The Corfu workload verbs: each checks its own flags, names its configuration for the
// JSON, and hands its workload to runCorfuWorkload.

import { cliConnectOptions } from '../cli/security.js';
import { MAX_TOKENS_PER_REQUEST } from '../wire/messages.js';
import { UsageError } from '../cli/usage-error.js';
import { deviceWorkload, type DeviceFlags } from './device.js';
import type { Goal } from './driver.js';
import { deviceInfo, machineInfo } from './machine.js';
import { STAMP_BYTES } from './payload.js';
import { assemble, emit, type OutputFlags } from './result.js';
import { baseConfig, clientFlags, describeTarget, goalOf, runCorfuWorkload, type WorkloadFlags, type WorkloadSpec } from './run.js';
import { appendWorkload } from './workloads/append.js';
import { followWorkload } from './workloads/follow.js';
import { mixedWorkload } from './workloads/mixed.js';
import { randomReadWorkload } from './workloads/read.js';
import { tokensWorkload } from './workloads/tokens.js';

/** The flags of one verb beyond those every workload takes (commander's names). */
export interface ReadExtra {
  readonly pattern: 'random' | 'tail';
  readonly prefill: number;
  readonly followers: number;
}

export interface MixedExtra {
  readonly readFraction: number;
  readonly prefill: number;
}

export interface TokensExtra {
  readonly batch: number;
  readonly procs: number;
  readonly generator: TokenGenerator;
  /** `--busy-poll`: the native generator never sleeps (commander leaves it undefined when absent). */
  readonly busyPoll?: boolean;
}

export type TokenGenerator = 'native' | 'node';

/** What the native TOKEN generator cannot do, as usage errors: it is one thread, plain TCP, a seconds goal. */
export function checkTokenGenerator(generator: TokenGenerator, procs: number, goal: Goal, busyPoll: boolean): void {
  if (generator !== 'native') {
    if (busyPoll) throw new UsageError('--busy-poll is a mode of the native generator: leave out --generator node');
    return;
  }
  if (procs > 1) throw new UsageError(`--procs ${procs} runs Node generator processes: add --generator node (the native generator is one thread and needs no more)`);
  if (!('seconds' in goal)) throw new UsageError('--count needs --generator node: the native generator runs for --seconds');
  if (Object.keys(cliConnectOptions()).length > 0) throw new UsageError('the native generator speaks plain TCP: leave out the TLS and token flags, or add --generator node');
}

function shape(f: WorkloadFlags): string {
  return `${f.clients} client(s) x depth ${f.depth}, ${f.entrySize}-byte entries, ${f.count !== undefined ? `${f.count} operations` : `${f.seconds ?? 10} s`} (+${f.warmup} s warm-up)`;
}

/** Readers check the entries' stamps: an entry must hold one. */
function checkEntrySize(f: WorkloadFlags, why: string): void {
  if (f.entrySize < STAMP_BYTES) throw new UsageError(`--entry-size must be at least ${STAMP_BYTES} bytes ${why} (each entry carries its run and sequence number)`);
}

/** An append workload's entries per call: one appendBatch takes one token range. */
export function checkAppendBatch(batch: number): void {
  if (batch > MAX_TOKENS_PER_REQUEST) throw new UsageError(`--batch takes at most ${MAX_TOKENS_PER_REQUEST} entries (one token range per call), got ${batch}`);
}

/** `append`'s flags checked, and its workload (`bench scaling` runs it too). */
export function appendSpec(f: WorkloadFlags): WorkloadSpec {
  if (f.verify === true) checkEntrySize(f, 'with --verify');
  checkProcs(f.procs ?? 1, f.clients);
  const c = clientFlags(f);
  checkAppendBatch(c.batch);
  return {
    workload: 'append',
    config: { ...baseConfig(f, c), batch_entries: c.batch },
    heading: (t) =>
      `bench append: ${shape(f)}${c.batch > 1 ? `, appendBatch of ${c.batch} per call (each entry counts)` : ''}, ${describeTarget(t)}, clients ${c.procs > 1 ? `in ${c.procs} processes` : 'in-process'}, connections ${c.separateConnections ? 'per-client' : 'shared'}`,
    run: (ctx) => appendWorkload(ctx, c),
  };
}

export async function appendVerb(f: WorkloadFlags): Promise<void> {
  await runCorfuWorkload(f, appendSpec(f));
}

/** `read`'s flags checked, and its workload (`bench scaling` runs it too). */
export function readSpec(f: WorkloadFlags & ReadExtra): WorkloadSpec {
  checkEntrySize(f, 'to read');
  const c = clientFlags(f);
  const config = { ...baseConfig(f, c), pattern: f.pattern, ...(f.pattern === 'random' ? { prefill_entries: f.prefill } : { followers: f.followers }) };
  return {
    workload: 'read',
    config,
    heading: (t) =>
      f.pattern === 'random'
        ? `bench read (random over ${f.prefill} entries appended first): ${shape(f)}, ${describeTarget(t)}`
        : `bench read (tail: ${f.followers} follower(s) while appending): ${shape(f)}, ${describeTarget(t)}`,
    run: (ctx) => (f.pattern === 'random' ? randomReadWorkload(ctx, c, f.prefill) : followWorkload(ctx, c, f.followers)),
  };
}

export async function readVerb(f: WorkloadFlags & ReadExtra): Promise<void> {
  await runCorfuWorkload(f, readSpec(f));
}

export async function mixedVerb(f: WorkloadFlags & MixedExtra): Promise<void> {
  checkEntrySize(f, 'to read');
  const c = clientFlags(f);
  await runCorfuWorkload(f, {
    workload: 'mixed',
    config: { ...baseConfig(f, c), read_fraction: f.readFraction, prefill_entries: f.prefill },
    heading: (t) => `bench mixed (${Math.round(f.readFraction * 100)}% reads): ${shape(f)}, ${describeTarget(t)}`,
    run: (ctx) => mixedWorkload(ctx, c, f.readFraction, f.prefill),
  });
}

/** `--procs`: each load-generator process needs a connection; children speak plain TCP. */
export function checkProcs(procs: number, connections: number): void {
  if (procs > connections) throw new UsageError(`--procs (${procs}) cannot exceed the connections (--clients ${connections}): each process needs one`);
  if (procs > 1 && Object.keys(cliConnectOptions()).length > 0) throw new UsageError('--procs above 1 runs load generators that speak plain TCP: leave out the TLS and token flags, or use --procs 1');
}

export async function tokensVerb(f: WorkloadFlags & TokensExtra): Promise<void> {
  const goal = goalOf(f);
  const busyPoll = f.busyPoll === true;
  checkProcs(f.procs, f.clients);
  checkTokenGenerator(f.generator, f.procs, goal, busyPoll);
  await runCorfuWorkload(f, {
    workload: 'tokens',
    config: {
      connections: f.clients,
      depth: f.depth,
      in_flight: f.clients * f.depth,
      batch: f.batch,
      ...('seconds' in goal ? { duration_s: goal.seconds, count: null } : { duration_s: null, count: goal.count }),
      warmup_s: f.warmup,
      local: f.local === true,
      generator: f.generator === 'native' ? 'native' : f.procs > 1 ? `${f.procs} processes` : 'in-process',
      generator_processes: f.procs,
      busy_poll: busyPoll,
    },
    heading: (t) => `bench tokens: ${f.clients} connection(s) x depth ${f.depth}, TOKEN(${f.batch}), ${describeTarget(t)}`,
    run: (ctx) => tokensWorkload(ctx, { connections: f.clients, depth: f.depth, batch: f.batch, goal, warmupS: f.warmup, procs: f.procs, generator: f.generator, busyPoll }),
  });
}

/** The device workload's flags as commander gives them: the path is an argument, --force may be absent. */
export interface DeviceVerbFlags extends OutputFlags, Omit<DeviceFlags, 'path' | 'force' | 'progress'> {
  readonly force?: boolean;
}

export async function deviceVerb(path: string, f: DeviceVerbFlags): Promise<void> {
  const startedAt = new Date();
  const flags: DeviceFlags = { ...f, path, force: f.force === true };
  // The machine as the run starts (a file that does not exist yet is described once made).
  const machine = machineInfo([]);
  const out = await deviceWorkload(flags);
  const result = assemble(
    {
      workload: 'device',
      startedAt,
      config: {
        device: path,
        size_bytes: f.size ?? null,
        duration_s: f.seconds,
        warmup_s: f.warmup,
        queue_depth: f.queueDepth,
        batch_entries: f.batch,
        batches_in_flight: f.inFlight,
        phases: [...f.only],
        fio: f.fio,
      },
      target: {
        kind: 'device',
        layout: null,
        epoch: null,
        stripes: 0,
        replicas: 0,
        sync: '4 KiB: none (fio: no fsync); 128 B appends: always and none',
        sync_source: 'the benchmark',
        units: [],
        sequencer: null,
        dir: null,
      },
      devicePaths: [path],
      runs: out.runs,
      verify: null,
      comparison: out.comparison,
      extra: out.extra,
    },
    { ...machine, devices: [deviceInfo(path)] },
  );
  emit(result, `bench device: the engine against ${f.fio ? 'fio' : 'nothing (--no-fio)'} on ${path}, ${f.seconds} s per figure after ${f.warmup} s of warm-up (the device was formatted)`, f);
}
