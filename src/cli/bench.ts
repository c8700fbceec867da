// `corfu bench WORKLOAD`: the commander wiring of the benchmark tool (src/bench/).
// Every verb's flags are parsed and checked here (a bad one is one line and exit 2);
// what runs is in src/bench/.
//
//   corfu bench append|read|mixed|tokens  (--layout URL | --local [--units N --replicas R --sync MODE])
//   corfu bench device PATH               the engine against fio on one device
//   corfu bench compare                   Corfu and its peers (fio, Redis) back to back
//   corfu bench scaling                   the scaling study: cells of --local clusters, repeated
//
// Each takes --json FILE (every figure, the configuration, the machine) and
// --report FILE.html (one self-contained page of charts); docs/benchmarks.md, "corfu bench".

import { type Command, InvalidArgumentError, Option } from 'commander';

import { COMPARE_PAIRS, compareVerb, type CompareFlags, type ComparePair } from '../bench/compare.js';
import { DEVICE_PHASES, type DevicePhase } from '../bench/device.js';
import { appendVerb, deviceVerb, mixedVerb, readVerb, tokensVerb, type DeviceVerbFlags, type MixedExtra, type ReadExtra, type TokensExtra } from '../bench/verbs.js';
import type { WorkloadFlags } from '../bench/run.js';
import { runScaling, type ScalingFlags, type Shape } from '../bench/scaling.js';
import { SCALING_STUDIES, type ScalingStudy } from '../bench/schema.js';
import { DEFAULT_MAX_ENTRY_BYTES } from '../../bindings/limits.js';
import { positiveCountArg, sizeArg, storeUrlArg, syncArg } from './options.js';
import { parseSize } from './units.js';

export function secondsArg(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds, like 10 or 0.5.');
  return n;
}

export function warmupArg(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number of seconds (0 for none).');
  return n;
}

export function fractionArg(value: string): number {
  const n = Number(value);
  if (!/^\d*(\.\d+)?$/.test(value) || value === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a fraction from 0 to 1, like 0.5.');
  return n;
}

/** Where the load goes: a running cluster, or one started (and removed) for the run. */
function targetOptions(cmd: Command): Command {
  return cmd
    .option('--layout <url>', 'a running cluster: its projection store, file:DIR or etcd://HOST:PORT[,...]/PREFIX (see `corfu up`)', storeUrlArg)
    .option('--local', 'start a cluster for the run on 127.0.0.1 (files in a temp dir) and remove it afterwards')
    .option('--units <n>', 'with --local: storage units', positiveCountArg, 4)
    .option('--replicas <n>', 'with --local: replicas per chain (units / replicas stripes)', positiveCountArg, 2)
    .option('--sync <mode>', "with --local: the units' sync mode, 'always' (durable before ack) or 'none'; with --layout, what the units must run", syncArg)
    .option('--unit-size <bytes>', "with --local: each unit's device file (allocated in full at format), e.g. 1G", sizeArg, 1024 ** 3);
}

/** The closed loop: clients, depth, entries, how long. */
function loadOptions(cmd: Command, clientsHelp = 'CorfuClient instances (in this process)'): Command {
  return cmd
    .option('--clients <n>', clientsHelp, positiveCountArg, 1)
    .option('--depth <d>', 'operations in flight per client', positiveCountArg, 1)
    .option('--seconds <s>', 'measured duration (default 10)', secondsArg)
    .option('--count <n>', 'measure this many operations instead of a duration', positiveCountArg)
    .option('--warmup <s>', 'warm-up before measuring, excluded from the figures', warmupArg, 1);
}

function outputOptions(cmd: Command): Command {
  return cmd
    .option('--json <file>', 'write every figure, the configuration and the machine as JSON')
    .option('--report <file.html>', 'write a self-contained HTML report (charts; opens without a network)')
    .option('--no-progress', 'no progress bar (it is shown only on a terminal anyway)');
}

function entryOptions(cmd: Command): Command {
  return cmd
    .option('--entry-size <bytes>', 'payload bytes per entry', sizeArg, 128)
    .option('--separate-connections', 'give each client its own connections (default: shared per process, batched together)')
    .option('--verify', 'afterwards, read back every entry the run appended and compare its bytes');
}

export function addBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks: workloads on a cluster, the engine against fio, Corfu against its peers (figures, not tests)');

  outputOptions(
    entryOptions(
      loadOptions(targetOptions(bench.command('append').description('N in-process clients each keeping D appends in flight: appends/s, latency percentiles, per-second series, CPU by process'))),
    ),
  )
    .option('--sync-label <mode>', "the units' sync mode to report, whatever they say")
    .option('--procs <n>', 'load-generator processes the clients are split over (1: this process)', positiveCountArg, 1)
    .option('--batch <n>', 'entries per call: 1 is append, more is one appendBatch of n (each entry counts as an append)', positiveCountArg, 1)
    .action((flags: WorkloadFlags) => appendVerb(flags));

  outputOptions(
    entryOptions(
      loadOptions(
        targetOptions(bench.command('read').description('reads of entries this run appended: random (--pattern random), or followers tailing the log while it is appended to (--pattern tail)')),
      ),
    ),
  )
    .addOption(
      new Option('--pattern <p>', "'random': reads at random over the entries appended first; 'tail': followers deliver entries as clients append them").choices(['random', 'tail']).default('random'),
    )
    .option('--prefill <n>', "'random': entries appended before the reads", positiveCountArg, 10_000)
    .option('--followers <n>', "'tail': followers, each reading every entry", positiveCountArg, 1)
    .action((flags: WorkloadFlags & ReadExtra) => readVerb(flags));

  outputOptions(entryOptions(loadOptions(targetOptions(bench.command('mixed').description('appends and random reads of appended entries from the same clients, in one window')))))
    .option('--read-fraction <f>', 'share of operations that are reads', fractionArg, 0.5)
    .option('--prefill <n>', 'entries appended before the window, so reads have something to read', positiveCountArg, 1000)
    .action((flags: WorkloadFlags & MixedExtra) => mixedVerb(flags));

  outputOptions(
    loadOptions(targetOptions(bench.command('tokens').description('the sequencer alone: TOKEN requests over --clients connections, --depth in flight each')), 'connections to the sequencer'),
  )
    .option('--batch <n>', 'tokens per TOKEN request', positiveCountArg, 1)
    .addOption(
      new Option('--generator <kind>', "'native': the addon's load generator, one thread of this process; 'node': Node connections (--procs spreads them over processes)")
        .choices(['native', 'node'])
        .default('native'),
    )
    .option('--procs <n>', 'with --generator node: load-generator processes sharing the connections (1: this process)', positiveCountArg, 1)
    .option(
      '--busy-poll',
      "with the native generator: poll without sleeping, so the sequencer's answers seldom wake a sleeping thread (as with a saturated redis-benchmark); the generator then uses a whole CPU",
    )
    .action((flags: WorkloadFlags & TokensExtra) => tokensVerb(flags));

  outputOptions(
    bench
      .command('device')
      .description('the storage engine against fio (io_uring, O_DIRECT) on the same device or file: 4 KiB writes and random reads, 128-byte batched appends. ERASES PATH')
      .argument('<path>', 'a block device or a file; formatted, and overwritten by fio'),
  )
    .option('--size <bytes>', 'create (or resize) a file of this size, e.g. 1G', sizeArg)
    .option('--force', 'erase PATH if it exists (a device, a file, a unit)')
    .option('--seconds <s>', 'measured seconds per figure', secondsArg, 5)
    .option('--warmup <s>', 'seconds run before each figure, not counted', warmupArg, 1)
    .option('--queue-depth <n>', 'calls in flight for the 4 KiB figures (fio --iodepth)', positiveCountArg, 32)
    .option('--batch <n>', 'entries per call for the 128-byte figures', positiveCountArg, 1024)
    .option('--in-flight <n>', 'calls in flight for the 128-byte figures', positiveCountArg, 8)
    .option('--only <phases>', `run only some figures: a list of ${DEVICE_PHASES.join(', ')}`, phasesArg, new Set(DEVICE_PHASES))
    .option('--no-fio', 'leave fio out (no ratios)')
    .action((path: string, flags: DeviceVerbFlags) => deviceVerb(path, flags));

  outputOptions(
    bench
      .command('compare')
      .description('Corfu and its peers back to back at the same entry size, concurrency, pipelining and durability: the engine vs fio, the sequencer vs Redis INCR, appends vs Redis XADD'),
  )
    .addOption(new Option('--pairs <list>', `which comparisons: a comma-separated list of ${COMPARE_PAIRS.join(', ')}`).argParser(pairsArg).default(new Set(COMPARE_PAIRS), 'all of them'))
    .option('--layout <url>', 'run the Corfu side against this cluster (default: a --local one, started and removed)', storeUrlArg)
    .option('--local', 'start a cluster on 127.0.0.1 for the run (the default)')
    .option('--units <n>', 'local cluster: storage units', positiveCountArg, 4)
    .option('--replicas <n>', 'local cluster: replicas per chain', positiveCountArg, 2)
    .option('--unit-size <bytes>', "local cluster: each unit's device file (allocated in full at format)", sizeArg, 1024 ** 3)
    .option('--entry-size <bytes>', 'payload bytes per entry (appends and XADD)', sizeArg, 128)
    .option('--clients <n>', 'connections (Corfu: in-process clients; Redis: redis-benchmark -c)', positiveCountArg, 16)
    .option('--depth <d>', 'requests in flight per connection (Redis: redis-benchmark -P)', positiveCountArg, 8)
    .option('--seconds <s>', 'measured seconds per run', secondsArg, 5)
    .option('--warmup <s>', 'warm-up before each Corfu run (Redis: a calibration run)', warmupArg, 1)
    .addOption(new Option('--generator <kind>', "sequencer pair: 'native' (the addon's TOKEN generator, one thread) or 'node' (Node connections)").choices(['native', 'node']).default('native'))
    .option(
      '--busy-poll',
      "sequencer pair, with the native generator: poll without sleeping, so the sequencer's answers seldom wake a sleeping thread (as with a saturated redis-benchmark); the generator then uses a whole CPU",
    )
    .option('--procs <n>', 'the append pair, and the sequencer pair with --generator node: load-generator processes (1: this process)', positiveCountArg, 1)
    .option('--batch <n>', 'append pair: entries per call (more than 1: one appendBatch of n; Redis then pipelines depth x n XADDs per connection, redis-benchmark -P)', positiveCountArg, 1)
    .option('--queue-depth <n>', 'engine pair: calls in flight (fio --iodepth)', positiveCountArg, 32)
    .option('--device <path>', 'engine pair: the device or file (ERASED; default: a temporary file)')
    .option('--device-size <bytes>', 'engine pair: size of the temporary file', sizeArg, 1024 ** 3)
    .option('--force', 'engine pair: erase --device if it exists')
    .action((flags: CompareFlags) => compareVerb(flags));

  addScalingCommand(bench);
}

/** A comma-separated list, each item parsed by `item` (which rejects a bad one), none twice. */
function listOf<T>(value: string, item: (s: string) => T | undefined, expected: string): T[] {
  const out = value.split(',').map((s) => item(s.trim()));
  if (value.trim() === '' || out.some((x) => x === undefined)) throw new InvalidArgumentError(`expected ${expected}.`);
  if (new Set(out).size !== out.length) throw new InvalidArgumentError(`expected ${expected}, each once.`);
  return out as T[];
}

/** `--stripes 1,2,4`: whole numbers of at least 1. */
export function countListArg(value: string): number[] {
  return listOf(value, (s) => (/^\d+$/.test(s) && Number(s) >= 1 && Number.isSafeInteger(Number(s)) ? Number(s) : undefined), 'a comma-separated list of whole numbers of at least 1, like 1,2,4');
}

/** `--sizes 64,256,1K`: entry sizes a freshly formatted unit takes (at most 64 KiB). */
export function sizeListArg(value: string): number[] {
  return listOf(
    value,
    (s) => {
      const bytes = parseSize(s);
      return bytes !== undefined && bytes >= 1 && bytes <= DEFAULT_MAX_ENTRY_BYTES ? bytes : undefined;
    },
    "a comma-separated list of entry sizes from 1 byte to 64K (the units' largest entry), like 64,256,1K",
  );
}

export function studiesArg(value: string): Set<ScalingStudy> {
  return new Set(listOf(value, (s) => ((SCALING_STUDIES as readonly string[]).includes(s) ? (s as ScalingStudy) : undefined), `a comma-separated list of ${SCALING_STUDIES.join(', ')}`));
}

/** `--sizes-cluster 2x2`: stripes x replicas. */
export function shapeArg(value: string): Shape {
  const m = /^(\d+)x(\d+)$/.exec(value);
  const shape = m === null ? undefined : { stripes: Number(m[1]), replicas: Number(m[2]) };
  if (shape === undefined || shape.stripes < 1 || shape.replicas < 1) throw new InvalidArgumentError('expected STRIPESxREPLICAS, like 2x2.');
  return shape;
}

/** An option whose default is shown in --help as it is typed, not as JSON. */
function typedDefault<T>(flags: string, description: string, parse: (value: string) => T, value: T, shown: string): Option {
  return new Option(flags, description).argParser(parse).default(value, shown);
}

function addScalingCommand(bench: Command): void {
  const cmd = bench
    .command('scaling')
    .description(
      'the scaling study: appends/s against stripes x replicas and against entry size, random reads/s against stripes; every run on a --local cluster of its own, each cell repeated (median and range)',
    )
    .addOption(typedDefault('--studies <list>', `which studies: a comma-separated list of ${SCALING_STUDIES.join(', ')}`, studiesArg, new Set(SCALING_STUDIES), SCALING_STUDIES.join(',')))
    .addOption(typedDefault('--stripes <list>', 'stripes study: stripe counts', countListArg, [1, 2, 4], '1,2,4'))
    .addOption(typedDefault('--replicas <list>', 'stripes study: replicas per chain (a cell has stripes x replicas units)', countListArg, [1, 2, 3], '1,2,3'))
    .addOption(typedDefault('--sizes <list>', 'sizes study: entry sizes (at most 64K)', sizeListArg, [64, 256, 1024, 4096, 16384, 65536], '64,256,1K,4K,16K,64K'))
    .addOption(typedDefault('--sizes-cluster <SxR>', 'sizes study: the cluster, stripes x replicas', shapeArg, { stripes: 2, replicas: 2 }, '2x2'))
    .addOption(typedDefault('--read-stripes <list>', 'reads study: stripe counts', countListArg, [1, 2, 4], '1,2,4'))
    .option('--read-replicas <n>', 'reads study: replicas per chain', positiveCountArg, 2)
    .option('--repeats <n>', 'runs of each cell (the whole matrix once per repeat): the median and the range are reported', positiveCountArg, 3)
    .option('--seconds <s>', 'measured seconds per run', secondsArg, 10)
    .option('--warmup <s>', 'warm-up before each run, excluded from the figures', warmupArg, 1)
    .option('--clients <n>', 'CorfuClient instances, the same in every cell', positiveCountArg, 16)
    .option('--depth <d>', 'operations in flight per client', positiveCountArg, 8)
    .option('--entry-size <bytes>', 'stripes and reads studies: payload bytes per entry', sizeArg, 128)
    .option('--prefill <n>', 'reads study: entries appended (untimed) before the reads', positiveCountArg, 10_000)
    .option('--procs <n>', 'appends: load-generator processes the clients are split over (1: this process)', positiveCountArg, 1)
    .addOption(typedDefault('--sync <mode>', "the units' sync mode, 'always' (durable before ack) or 'none'", syncArg, 'always', 'always'))
    .addOption(typedDefault('--unit-size <bytes>', "each unit's device file, e.g. 1G: it must hold what a run appends", sizeArg, 1024 ** 3, '1G'));
  outputOptions(cmd).action(async (flags: ScalingFlags) => {
    await runScaling(flags);
  });
}

export function pairsArg(value: string): Set<ComparePair> {
  const out = new Set<ComparePair>();
  for (const p of value.split(',')) {
    if (!(COMPARE_PAIRS as readonly string[]).includes(p)) throw new InvalidArgumentError(`expected a list of ${COMPARE_PAIRS.join(', ')}.`);
    out.add(p as ComparePair);
  }
  return out;
}

export function phasesArg(value: string): Set<DevicePhase> {
  const out = new Set<DevicePhase>();
  for (const p of value.split(',')) {
    if (!(DEVICE_PHASES as readonly string[]).includes(p)) throw new InvalidArgumentError(`expected a list of ${DEVICE_PHASES.join(', ')}.`);
    out.add(p as DevicePhase);
  }
  return out;
}
