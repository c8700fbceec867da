// `npm run bench:heal -- [--runs K] [--fill-bytes B] [--dir DIR] [--json FILE] ...`
//
// Self-healing as an operator sees it, on a real local cluster of processes:
// 4 `corfu unit`s (2 stripes x 2 replicas), one empty spare unit, a sequencer
// and a standby sequencer, a file: projection store, and `corfu manager` with
// its DEFAULT detector settings (probe every 1000 ms, timeout 1000 ms, 3
// misses) and `--spare`, `--standby-sequencer`. Devices are files in a fresh
// temp dir (under --dir if given). Each run is a fresh cluster:
//
//   1. clients append 4 KiB entries continuously (--clients x --depth in flight)
//      until --fill-bytes are acknowledged, then for --window seconds more (the
//      baseline rate);
//   2. kill -9 units[0] (--failure stop: SIGSTOP it, a hung host). Measured:
//      kill -> the manager's `reconfiguring epoch` line (detection) -> its
//      `installed epoch` line (seal, bootstrap, propose) -> the first
//      acknowledged append at an address >= the start of the new open segment
//      on the chain units[0] served (client refresh). The manager's lines carry
//      ISO timestamps; this process stamps each ack with the same wall clock;
//   3. the manager rebuilds the spare from the surviving replica: its `rebuild
//      of X starting` and `rebuild of X done (N addresses, B bytes copied)`
//      lines give B / seconds; appends go on, and their rate inside that window
//      (from when the clients were back, if the rebuild started before) is
//      compared with the baseline;
//   4. the manager installs `rebuilt` (one more epoch): the longest pause in
//      acks around it is noted;
//   5. the appends stop; every acknowledged address is read back and compared
//      byte for byte (a lost or changed entry fails the benchmark, exit 1);
//   6. the cluster is stopped, and fio writes the same number of bytes the
//      rebuild copied, sequential 4 KiB at QD 32 with O_DIRECT, to a file in the
//      same directory: the reference for the rebuild rate.
//
// Each figure is the median of --runs runs, with the range. A benchmark, not a
// test: a missed target is reported, not failed. Every child process is killed
// at the end, on an error and on SIGINT/SIGTERM too.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Store } from '../bindings/index.js';
import { CorfuError } from '../bindings/errors.js';
import { CorfuClient } from '../src/client/client.js';
import { chainFor } from '../src/layout/mapping.js';
import { FileProjectionStore } from '../src/layout/file-store.js';
import type { Projection } from '../src/layout/projection.js';
import { UsageError, formatBytes, formatCount, positiveFlag, renderTable, runMain, sizeFlag } from './common.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const USAGE = `usage: npm run bench:heal -- [--runs K] [--fill-bytes B] [--entry-size B] [--clients N] [--depth D]
                              [--window S] [--unit-size B] [--dir DIR] [--run-timeout S] [--json FILE]
  --runs K          runs, each on a fresh cluster; figures are medians with the range (default 3)
  --fill-bytes B    acknowledged payload bytes appended before the kill (default 256M)
  --entry-size B    payload bytes per entry (default 4K)
  --clients N       CorfuClients appending, in this process (default 4)
  --depth D         appends in flight per client (default 8)
  --window S        seconds of appends measured before the kill: the baseline rate (default 5)
  --unit-size B     size of each unit's device file (default 2G; sparse)
  --dir DIR         put the run directories (device files, layout, fio's file) under DIR (default: the OS temp dir)
  --run-timeout S   give up on a run after this many seconds (default 300)
  --json FILE       also write the figures as JSON
  --failure F       kill (default): kill -9 units[0], its port then refuses connections at once;
                    stop: SIGSTOP it instead, a hung or cut-off host whose probes each wait out their timeout
  --idle-rebuild    a diagnostic: stop the appends once the first one after the kill is acknowledged,
                    so the rebuild runs on an idle cluster (appends during the rebuild are then not measured)

The manager runs with its default detector settings (probe interval 1000 ms, timeout 1000 ms, 3 misses).
fio must be installed (the reference for the rebuild rate).`;

interface Args {
  runs: number;
  fillBytes: number;
  entrySize: number;
  clients: number;
  depth: number;
  windowS: number;
  unitSize: number;
  dir: string;
  runTimeoutS: number;
  json: string | undefined;
  idleRebuild: boolean;
  failure: 'kill' | 'stop';
}

function args(): Args {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        runs: { type: 'string', default: '3' },
        'fill-bytes': { type: 'string', default: '256M' },
        'entry-size': { type: 'string', default: '4K' },
        clients: { type: 'string', default: '4' },
        depth: { type: 'string', default: '8' },
        window: { type: 'string', default: '5' },
        'unit-size': { type: 'string', default: '2G' },
        dir: { type: 'string' },
        'run-timeout': { type: 'string', default: '300' },
        json: { type: 'string' },
        'idle-rebuild': { type: 'boolean', default: false },
        failure: { type: 'string', default: 'kill' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const count = positiveFlag;
  const size = sizeFlag;
  if (values.failure !== 'kill' && values.failure !== 'stop') throw new UsageError(`--failure must be kill or stop, got '${values.failure}'`);
  const dir = values.dir ?? tmpdir();
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--dir ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--dir ${dir}: ${(err as Error).message}`);
  }
  const a: Args = {
    runs: count('runs', values.runs),
    fillBytes: size('fill-bytes', values['fill-bytes'], 1),
    entrySize: size('entry-size', values['entry-size'], 16),
    clients: count('clients', values.clients),
    depth: count('depth', values.depth),
    windowS: count('window', values.window),
    unitSize: size('unit-size', values['unit-size'], 64 * 1024 * 1024),
    dir,
    runTimeoutS: count('run-timeout', values['run-timeout']),
    json: values.json,
    idleRebuild: values['idle-rebuild'],
    failure: values.failure,
  };
  if (a.entrySize > 64 * 1024) throw new UsageError(`--entry-size must be at most 64K (the units' default entry limit), got ${a.entrySize}`);
  // Each chain holds about half the fill, plus what is appended during the run.
  if (a.fillBytes > a.unitSize) throw new UsageError(`--fill-bytes (${formatBytes(a.fillBytes)}) must not exceed --unit-size (${formatBytes(a.unitSize)}): the units would fill up`);
  return a;
}

// ---------------------------------------------------------------- time and logging

/** Wall-clock milliseconds with sub-ms resolution: comparable with the manager's ISO timestamps. */
function wall(): number {
  return performance.timeOrigin + performance.now();
}

function note(message: string): void {
  process.stderr.write(`bench:heal: ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns something other than undefined; rejects after `timeoutMs`. */
async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 10): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- child processes

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly out: string[];
  readonly err: string[];
  readonly exited: Promise<number | null>;
  exitedAt: number | undefined;
}

/** Every child this process started, so that nothing outlives it (exit, error, signal). */
const children = new Set<Child>();

function alive(c: Child): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

function killAllNow(): void {
  for (const c of children) if (alive(c)) c.proc.kill('SIGKILL');
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    note(`${signal}: killing every child process`);
    killAllNow();
    process.exit(130);
  });
}

/** Starts `corfu ARGS`; resolves once a stdout line matches `ready`. Its stderr also goes to `log` if given. */
function startCorfu(name: string, cliArgs: string[], ready: RegExp, log?: WriteStream): Promise<Child> {
  // CORFU_EXIT_WITH_PARENT: should this process die without killing them, they stop on their own.
  const proc = spawn(process.execPath, [CLI, ...cliArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CORFU_EXIT_WITH_PARENT: '1' } });
  const child: Child = {
    name,
    proc,
    out: [],
    err: [],
    exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
    exitedAt: undefined,
  };
  void child.exited.then(() => (child.exitedAt = wall()));
  children.add(child);
  createInterface({ input: proc.stderr }).on('line', (line) => {
    child.err.push(line);
    if (log !== undefined && !log.writableEnded) log.write(`${line}\n`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print ${String(ready)} within 30 s; stderr: ${child.err.slice(-10).join('\n')}`)), 30_000);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      child.out.push(line);
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${String(code)}) before it was ready; stderr: ${child.err.slice(-10).join('\n')}`));
    });
  });
}

function listening(c: Child): string {
  return c.out.find((l) => l.startsWith('listening '))!.split(' ')[1]!;
}

/** SIGTERM, then SIGKILL whatever has not exited after `graceMs`. */
async function stopAll(set: Iterable<Child>, graceMs = 5000): Promise<void> {
  const list = [...set].filter(alive);
  for (const c of list) c.proc.kill('SIGTERM');
  const timer = setTimeout(() => list.forEach((c) => alive(c) && c.proc.kill('SIGKILL')), graceMs);
  await Promise.all(list.map((c) => c.exited));
  clearTimeout(timer);
}

// ---------------------------------------------------------------- the manager's log

interface ManagerLine {
  readonly at: number;
  readonly level: string;
  readonly text: string;
  readonly index: number;
}

/** The manager's stderr lines `ISO level message` (others are skipped). */
function managerLines(m: Child): ManagerLine[] {
  const out: ManagerLine[] = [];
  m.err.forEach((line, index) => {
    const x = /^(\S+) (info|warn) (.*)$/.exec(line);
    if (x === null) return;
    const at = Date.parse(x[1]!);
    if (Number.isFinite(at)) out.push({ at, level: x[2]!, text: x[3]!, index });
  });
  return out;
}

function waitManager(m: Child, re: RegExp, from: number, what: string, timeoutMs: number): Promise<{ line: ManagerLine; match: RegExpExecArray }> {
  return until(
    () => {
      if (!alive(m)) throw new Error(`the manager exited while waiting for ${what}; its last lines:\n${m.err.slice(-20).join('\n')}`);
      for (const line of managerLines(m)) {
        if (line.index < from) continue;
        const match = re.exec(line.text);
        if (match !== null) return { line, match };
      }
      return undefined;
    },
    what,
    timeoutMs,
    20,
  );
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------- payloads and the load

/** The payload of entry `id`: its id, then an 8-byte pattern derived from it, repeated. */
function payloadOf(id: number, size: number): Buffer {
  const pattern = Buffer.alloc(8);
  pattern.writeUInt32LE(Math.imul(id, 2654435761) >>> 0, 0);
  pattern.writeUInt32LE(id ^ 0x5bd1e995, 4);
  const b = Buffer.alloc(size, pattern);
  b.writeUInt32LE(id, 0);
  return b;
}

/** Clients appending in closed loops; every acknowledgement with its address, time and entry id. */
class Load {
  readonly addresses: number[] = [];
  readonly times: number[] = [];
  readonly ids: number[] = [];
  readonly errors = new Map<string, number>();
  #nextId = 0;
  #stop = false;
  readonly #loops: Promise<void>[];

  constructor(clients: readonly CorfuClient[], depth: number, entrySize: number) {
    this.#loops = clients.flatMap((c) =>
      Array.from({ length: depth }, async () => {
        while (!this.#stop) {
          const id = this.#nextId++;
          try {
            const address = await c.append(payloadOf(id, entrySize));
            this.addresses.push(address);
            this.times.push(wall());
            this.ids.push(id);
          } catch (err) {
            if (!(err instanceof CorfuError)) throw err;
            this.errors.set(err.code, (this.errors.get(err.code) ?? 0) + 1);
            // An outcome that is not known (ERR_TIMEOUT) is not acknowledged: it is not read back.
            await sleep(5);
          }
        }
      }),
    );
  }

  get acked(): number {
    return this.addresses.length;
  }

  /** Acknowledgements stamped in [from, to). */
  countBetween(from: number, to: number): number {
    let n = 0;
    for (const t of this.times) if (t >= from && t < to) n++;
    return n;
  }

  /** The index of the first acknowledgement stamped at or after `at` (stamps only grow). */
  indexAt(at: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * A scan for the first acknowledgement stamped at or after `from` whose address satisfies
   * `ok`: each call looks only at what was acknowledged since the previous one, so polling it
   * costs the clients in this process next to nothing.
   */
  scanner(from: number, ok: (address: number) => boolean): () => { address: number; at: number } | undefined {
    let next = this.indexAt(from);
    return () => {
      for (; next < this.times.length; next++) if (ok(this.addresses[next]!)) return { address: this.addresses[next]!, at: this.times[next]! };
      return undefined;
    };
  }

  /** The longest stretch without any acknowledgement inside [from, to). */
  longestGap(from: number, to: number): number {
    let last = from;
    let gap = 0;
    for (const t of this.times) {
      if (t < from || t >= to) continue;
      gap = Math.max(gap, t - last);
      last = t;
    }
    return Math.max(gap, to - last);
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}

/** Reads every acknowledged address back and compares bytes; returns what did not match. */
async function verify(layout: string, load: Load, entrySize: number): Promise<{ checked: number; lost: string[] }> {
  const lost: string[] = [];
  const byAddress = new Map<number, number>();
  load.addresses.forEach((a, i) => {
    const prior = byAddress.get(a);
    if (prior !== undefined) lost.push(`address ${a} acknowledged twice (entries ${prior} and ${load.ids[i]!})`);
    byAddress.set(a, load.ids[i]!);
  });
  const reader = await CorfuClient.connect({ layout, shareConnections: false, deadlineMs: 30_000 });
  try {
    const all = [...byAddress.entries()];
    const CONCURRENCY = 256;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < all.length) {
          const [address, id] = all[next++]!;
          try {
            const e = await reader.read(address);
            if (e.kind !== 'data') lost.push(`address ${address}: junk, expected entry ${id}`);
            else if (Buffer.compare(Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength), payloadOf(id, entrySize)) !== 0) {
              lost.push(`address ${address}: other bytes than entry ${id} (it holds entry ${e.payload.length >= 4 ? Buffer.from(e.payload).readUInt32LE(0) : '?'}, ${e.payload.length} bytes)`);
            }
          } catch (err) {
            lost.push(`address ${address}: ${(err as Error).message}`);
          }
        }
      }),
    );
    return { checked: all.length, lost };
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------- fio

function checkFio(): string {
  const r = spawnSync('fio', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined) throw new UsageError(`cannot run fio (${r.error.message}); it is the reference for the rebuild rate: apt-get install fio`);
  return r.stdout.trim();
}

/** fio: sequential 4 KiB writes, QD 32, O_DIRECT, io_uring, `bytes` (rounded up to 4 KiB) to a new file at `path`. Bytes/s. */
function fioWrite(path: string, bytes: number): { bytesPerSec: number; args: string[] } {
  const size = Math.max(1, Math.ceil(bytes / 4096)) * 4096;
  const fioArgs = ['--name=heal-ref', `--filename=${path}`, '--rw=write', '--bs=4k', '--iodepth=32', '--ioengine=io_uring', '--direct=1', `--size=${size}`, '--numjobs=1', '--output-format=json'];
  try {
    const r = spawnSync('fio', fioArgs, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
    if (r.error !== undefined) throw new Error(`fio failed: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`fio exited with ${String(r.status)}: ${r.stderr.trim() || r.stdout.trim()}`);
    const doc = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ write: { bw_bytes: number } }> };
    const bw = doc.jobs[0]?.write.bw_bytes;
    if (bw === undefined || !(bw > 0)) throw new Error('fio printed no write bandwidth');
    return { bytesPerSec: bw, args: fioArgs };
  } finally {
    rmSync(path, { force: true });
  }
}

// ---------------------------------------------------------------- one run

interface RunResult {
  run: number;
  /** kill -9 -> first ack >= the new segment's start on the chain the killed unit served. */
  killToAckMs: number;
  detectionMs: number;
  reconfigurationMs: number;
  clientRefreshMs: number;
  /** kill -9 -> first ack >= the new segment's start, any chain. */
  killToAckAnyChainMs: number;
  /** The new open segment's start, and the first address acknowledged there on the replaced chain. */
  split: number;
  firstAddress: number;
  rebuildBytes: number;
  rebuildAddresses: number;
  rebuildMs: number;
  rebuildBytesPerSec: number;
  /** Rebuild passes that stopped short before the one that finished. */
  rebuildRetries: number;
  fioBytesPerSec: number;
  rebuildVsFio: number;
  appendsPerSecBefore: number;
  /** From max(rebuild start, first ack on the replaced chain) to the rebuild's end. */
  appendsPerSecDuringRebuild: number;
  /** Over the whole rebuild window, client refresh included when they overlap. */
  appendsPerSecWholeRebuild: number;
  rebuildStartAfterKillMs: number;
  duringVsBefore: number;
  /** The longest pause between acks from the `rebuilt` reconfiguration's start to 2 s after its install. */
  rebuiltReconfigPauseMs: number | null;
  acked: number;
  lost: number;
  failedAppends: Record<string, number>;
  epochs: { from: number; to: number; installed: Array<{ epoch: number; reason: string }> };
  loadAverage: string;
}

async function oneRun(a: Args, run: number): Promise<RunResult> {
  const dir = mkdtempSync(join(a.dir, 'corfu-bench-heal-'));
  const runChildren = new Set<Child>();
  const clients: CorfuClient[] = [];
  let load: Load | undefined;
  let store: FileProjectionStore | undefined;
  const managerLog = createWriteStream(join(dir, 'manager.log'));
  let keepDir = false;
  const deadline = performance.now() + a.runTimeoutS * 1000;
  const left = (): number => {
    const ms = deadline - performance.now();
    if (ms <= 0) throw new Error(`run ${run} took longer than --run-timeout ${a.runTimeoutS} s`);
    return ms;
  };
  const start = async (name: string, cliArgs: string[], ready: RegExp, log?: WriteStream): Promise<Child> => {
    const c = await startCorfu(name, cliArgs, ready, log);
    runChildren.add(c);
    return c;
  };
  try {
    // ---- the cluster
    const unitProcs: Child[] = [];
    for (let i = 0; i < 5; i++) {
      const device = join(dir, `unit-${i}.img`);
      Store.format(device, { sizeBytes: a.unitSize, unitId: i });
      unitProcs.push(await start(i < 4 ? `unit ${i}` : 'spare', ['unit', '--device', device, '--listen', '127.0.0.1:0'], /^listening /));
    }
    const units = unitProcs.slice(0, 4).map(listening);
    const spare = listening(unitProcs[4]!);
    const sequencer = listening(await start('sequencer', ['sequencer', '--listen', '127.0.0.1:0'], /^listening /));
    const standby = listening(await start('standby sequencer', ['sequencer', '--listen', '127.0.0.1:0'], /^listening /));
    const layoutDir = join(dir, 'layout');
    mkdirSync(layoutDir);
    const layout = `file:${layoutDir}`;
    const init = spawnSync(process.execPath, [CLI, 'layout', 'init', '--store', layout, '--sequencer', sequencer, '--stripe', `${units[0]},${units[1]}`, '--stripe', `${units[2]},${units[3]}`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (init.status !== 0) throw new Error(`corfu layout init failed (${String(init.status)}): ${init.stderr.trim()}`);
    store = new FileProjectionStore(layoutDir);
    const firstEpoch = (await store.latest())!.epoch;
    // The manager with its default detector settings: no --probe-* or --misses flags.
    const manager = await start('manager', ['manager', '--layout', layout, '--spare', spare, '--standby-sequencer', standby], /^manager: standby/, managerLog);
    await until(() => (manager.out.includes('manager: active') ? true : undefined), 'the manager to be active', Math.min(left(), 30_000));

    // ---- fill, then the baseline window
    for (let i = 0; i < a.clients; i++) clients.push(await CorfuClient.connect({ layout }));
    load = new Load(clients, a.depth, a.entrySize);
    const fillEntries = Math.ceil(a.fillBytes / a.entrySize);
    const fillStart = performance.now();
    await until(() => (load!.acked >= fillEntries ? true : undefined), `${formatCount(fillEntries)} acknowledged appends (--fill-bytes)`, left(), 50);
    note(`run ${run}: filled ${formatBytes(fillEntries * a.entrySize)} in ${((performance.now() - fillStart) / 1000).toFixed(1)} s; measuring the baseline for ${a.windowS} s`);
    const baseFrom = wall();
    await sleep(a.windowS * 1000);
    const baseTo = wall();
    const appendsPerSecBefore = load.countBetween(baseFrom, baseTo) / ((baseTo - baseFrom) / 1000);

    // ---- kill -9 units[0] (or SIGSTOP it: --failure stop)
    const victim = units[0]!;
    const victimProc = unitProcs[0]!;
    const linesBefore = manager.err.length;
    const killedAt = wall();
    if (a.failure === 'kill') {
      victimProc.proc.kill('SIGKILL');
      await victimProc.exited;
    } else {
      victimProc.proc.kill('SIGSTOP');
    }
    note(`run ${run}: ${a.failure === 'kill' ? 'killed' : 'stopped'} ${victim} (${a.failure === 'kill' ? 'kill -9' : 'SIGSTOP'}); waiting for the manager`);

    const reconf = await waitManager(
      manager,
      new RegExp(`^reconfiguring epoch (\\d+) -> (\\d+): .*unit ${escape(victim)} is down: replaced by ${escape(spare)}`),
      linesBefore,
      'the manager to replace the killed unit',
      Math.min(left(), 60_000),
    );
    const newEpoch = Number(reconf.match[2]);
    const installed = await waitManager(manager, new RegExp(`^installed epoch ${newEpoch}$`), reconf.line.index, `the manager to install epoch ${newEpoch}`, Math.min(left(), 60_000));
    const after: Projection | undefined = await store.get(newEpoch);
    if (after === undefined) throw new Error(`the manager logged epoch ${newEpoch} as installed, but the store has no such projection`);
    if (after.units.includes(victim) || !after.units.includes(spare)) throw new Error(`epoch ${newEpoch} did not replace ${victim} by ${spare}: ${JSON.stringify(after)}`);
    const open = after.segments[after.segments.length - 1]!;
    const split = open.start;
    const onReplacedChain = (address: number): boolean => address >= split && chainFor(after, address).includes(spare);
    const first = await until(load.scanner(killedAt, onReplacedChain), 'the first acknowledged append on the replaced chain', Math.min(left(), 60_000));
    const firstAny = load.scanner(killedAt, (address) => address >= split)()!;
    if (a.idleRebuild) await load.stop();

    // ---- the rebuild
    const rebuildDone = await waitManager(manager, new RegExp(`^rebuild of ${escape(spare)} done \\((\\d+) addresses, (\\d+) bytes copied`), installed.line.index, `the rebuild of ${spare}`, left());
    const starts = managerLines(manager).filter((l) => l.index > installed.line.index && l.index < rebuildDone.line.index && l.text === `rebuild of ${spare} starting`);
    const rebuildStart = starts[starts.length - 1];
    if (rebuildStart === undefined) throw new Error(`the manager logged the end of the rebuild of ${spare} but not its start`);
    const rebuildRetries = managerLines(manager).filter((l) => l.index > installed.line.index && l.index < rebuildDone.line.index && l.text.startsWith(`rebuild of ${spare} stopped`)).length;
    const rebuildAddresses = Number(rebuildDone.match[1]);
    const rebuildBytes = Number(rebuildDone.match[2]);
    const rebuildMs = Math.max(1, rebuildDone.line.at - rebuildStart.at);
    // Appends during the rebuild: from its start, or from when the clients were back if that
    // was later (the seconds before belong to the kill, figure 1).
    const duringFrom = Math.max(rebuildStart.at, first.at);
    const appendsPerSecDuringRebuild =
      a.idleRebuild || duringFrom >= rebuildDone.line.at ? Number.NaN : load.countBetween(duringFrom, rebuildDone.line.at) / ((rebuildDone.line.at - duringFrom) / 1000);
    const appendsPerSecWholeRebuild = a.idleRebuild ? Number.NaN : load.countBetween(rebuildStart.at, rebuildDone.line.at) / (rebuildMs / 1000);
    note(`run ${run}: rebuild of ${spare}: ${formatBytes(rebuildBytes)} in ${(rebuildMs / 1000).toFixed(2)} s`);

    // The manager then makes the spare a whole replica (`rebuilt`): one more epoch, and a seal the clients ride through.
    let rebuiltReconfigPauseMs: number | null = null;
    const rebuiltReconf = await waitManager(
      manager,
      new RegExp(`^reconfiguring epoch \\d+ -> (\\d+): rebuild of ${escape(spare)} done`),
      rebuildDone.line.index,
      'the `rebuilt` reconfiguration',
      Math.min(left(), 30_000),
    );
    const rebuiltInstalled = await waitManager(
      manager,
      new RegExp(`^installed epoch ${rebuiltReconf.match[1]}$`),
      rebuiltReconf.line.index,
      'the `rebuilt` epoch to be installed',
      Math.min(left(), 30_000),
    );
    if (!a.idleRebuild) {
      const to = rebuiltInstalled.line.at + 2000;
      await until(() => (wall() >= to ? true : undefined), 'two seconds of appends after the `rebuilt` epoch', Math.min(left(), 10_000), 50);
      rebuiltReconfigPauseMs = load.longestGap(rebuiltReconf.line.at, to);
    }

    // ---- stop, check
    await load.stop();
    if (alive(victimProc)) victimProc.proc.kill('SIGKILL'); // --failure stop: it is out of the layout now
    const acked = load.acked;
    if (!alive(manager)) throw new Error(`the manager exited during the run; its last lines:\n${manager.err.slice(-20).join('\n')}`);
    note(`run ${run}: reading back ${formatCount(acked)} acknowledged entries`);
    const checked = await verify(layout, load, a.entrySize);
    const last = (await store.latest())!;
    const installedEpochs: Array<{ epoch: number; reason: string }> = [];
    let reason = '';
    for (const l of managerLines(manager)) {
      const r = /^reconfiguring epoch \d+ -> (\d+): (.*)$/.exec(l.text);
      if (r !== null) reason = r[2]!;
      const i = /^installed epoch (\d+)$/.exec(l.text);
      if (i !== null) installedEpochs.push({ epoch: Number(i[1]), reason });
    }
    if (checked.lost.length > 0) {
      keepDir = true;
      const shown = checked.lost.slice(0, 20).join('\n  ');
      throw new LostEntries(`run ${run}: ${checked.lost.length} of ${formatCount(checked.checked)} acknowledged entries did not read back as written (run directory kept: ${dir}):\n  ${shown}`);
    }

    // ---- the cluster down, then fio in the same directory
    for (const c of clients.splice(0)) await c.close();
    await stopAll(runChildren);
    const fio = fioWrite(join(dir, 'fio-reference.img'), rebuildBytes);
    const rebuildBytesPerSec = rebuildBytes / (rebuildMs / 1000);

    return {
      run,
      killToAckMs: first.at - killedAt,
      detectionMs: reconf.line.at - killedAt,
      reconfigurationMs: installed.line.at - reconf.line.at,
      clientRefreshMs: first.at - installed.line.at,
      killToAckAnyChainMs: firstAny.at - killedAt,
      split,
      firstAddress: first.address,
      rebuildBytes,
      rebuildAddresses,
      rebuildMs,
      rebuildBytesPerSec,
      rebuildRetries,
      fioBytesPerSec: fio.bytesPerSec,
      rebuildVsFio: rebuildBytesPerSec / fio.bytesPerSec,
      appendsPerSecBefore,
      appendsPerSecDuringRebuild,
      appendsPerSecWholeRebuild,
      rebuildStartAfterKillMs: rebuildStart.at - killedAt,
      duringVsBefore: appendsPerSecDuringRebuild / appendsPerSecBefore,
      rebuiltReconfigPauseMs,
      acked,
      lost: 0,
      failedAppends: Object.fromEntries(load.errors),
      epochs: { from: firstEpoch, to: last.epoch, installed: installedEpochs },
      loadAverage: loadAverage(),
    };
  } catch (err) {
    const m = [...runChildren].find((c) => c.name === 'manager');
    if (m !== undefined && !(err instanceof LostEntries)) note(`run ${run} failed; the manager's last lines:\n${m.err.slice(-30).join('\n')}`);
    throw err;
  } finally {
    await load?.stop().catch(() => {});
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await stopAll(runChildren);
    for (const c of runChildren) children.delete(c);
    await store?.close();
    managerLog.end();
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

class LostEntries extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LostEntries';
  }
}

function loadAverage(): string {
  try {
    const r = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' });
    return r.stdout.split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------- figures

interface Figure {
  median: number;
  min: number;
  max: number;
}

function figure(xs: readonly number[]): Figure {
  const s = [...xs].sort((x, y) => x - y);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

runMain(async () => {
  const a = args();
  const fioVersion = checkFio();
  note(
    `${a.runs} runs; fill ${formatBytes(a.fillBytes)} of ${a.entrySize}-byte entries, ${a.clients} clients x ${a.depth} in flight; device files under ${a.dir}; ${fioVersion}; load average ${loadAverage()}`,
  );
  const runs: RunResult[] = [];
  for (let run = 1; run <= a.runs; run++) {
    let r: RunResult;
    try {
      r = await oneRun(a, run);
    } catch (err) {
      if (!(err instanceof LostEntries)) throw err;
      process.stderr.write(`bench:heal: ACKNOWLEDGED ENTRIES LOST. ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    note(
      `run ${run}: ${a.failure} -> ack ${(r.killToAckMs / 1000).toFixed(2)} s (detect ${(r.detectionMs / 1000).toFixed(2)}, reconfigure ${(r.reconfigurationMs / 1000).toFixed(3)}, refresh ${(r.clientRefreshMs / 1000).toFixed(3)}); rebuild ${formatBytes(r.rebuildBytesPerSec)}/s vs fio ${formatBytes(r.fioBytesPerSec)}/s; ` +
        `appends ${a.idleRebuild ? 'not measured' : `${formatCount(r.appendsPerSecDuringRebuild)}/s`} during rebuild vs ${formatCount(r.appendsPerSecBefore)}/s before; ${formatCount(r.acked)} acked, 0 lost; load average ${r.loadAverage}`,
    );
    runs.push(r);
  }

  const f = (key: keyof RunResult): Figure => figure(runs.map((r) => r[key] as number));
  const secs = (x: Figure): string => `${(x.median / 1000).toFixed(2)} (${(x.min / 1000).toFixed(2)}–${(x.max / 1000).toFixed(2)})`;
  const rate = (x: Figure): string => `${(x.median / 2 ** 20).toFixed(1)} (${(x.min / 2 ** 20).toFixed(1)}–${(x.max / 2 ** 20).toFixed(1)})`;
  const ratio = (x: Figure): string => `${x.median.toFixed(2)} (${x.min.toFixed(2)}–${x.max.toFixed(2)})`;
  const count = (x: Figure): string => `${formatCount(x.median)} (${formatCount(x.min)}–${formatCount(x.max)})`;
  const killToAck = f('killToAckMs');
  const vsFio = f('rebuildVsFio');
  const pauses = runs.map((r) => r.rebuiltReconfigPauseMs).filter((x): x is number => x !== null);
  const rows: string[][] = [
    ['figure', 'median (range)', 'target'],
    [`${a.failure === 'kill' ? 'kill -9' : 'SIGSTOP'} -> next ack on its chain, s`, secs(killToAck), `<= 4 s: ${killToAck.median <= 4000 ? 'met' : 'MISSED'}`],
    ['  detection (-> reconfiguring), s', secs(f('detectionMs')), ''],
    ['  reconfiguration (-> installed), s', secs(f('reconfigurationMs')), ''],
    ['  client refresh (-> first ack), s', secs(f('clientRefreshMs')), ''],
    [`${a.failure === 'kill' ? 'kill -9' : 'SIGSTOP'} -> first ack >= new segment, any chain, s`, secs(f('killToAckAnyChainMs')), ''],
    ['rebuild, MiB/s (payload)', rate(f('rebuildBytesPerSec')), ''],
    ['  rebuilt, MiB', `${(f('rebuildBytes').median / 2 ** 20).toFixed(1)}`, ''],
    ['fio seq write 4k QD32 direct, MiB/s', rate(f('fioBytesPerSec')), ''],
    ['rebuild / fio', ratio(vsFio), `>= 0.5: ${vsFio.median >= 0.5 ? 'met' : 'MISSED'}`],
    ['appends/s before the kill', count(f('appendsPerSecBefore')), ''],
    ...(a.idleRebuild
      ? [['appends/s during the rebuild', 'not measured (--idle-rebuild)', '']]
      : [
          ['appends/s during the rebuild', count(f('appendsPerSecDuringRebuild')), ''],
          ['during / before', ratio(f('duringVsBefore')), ''],
          ['  (whole rebuild window, refresh included)', count(f('appendsPerSecWholeRebuild')), ''],
        ]),
    ...(pauses.length > 0 ? [['longest ack pause at the `rebuilt` epoch, s', secs(figure(pauses)), '']] : []),
    ['acknowledged entries read back', count(f('acked')), ''],
    ['acknowledged entries lost', String(runs.reduce((n, r) => n + r.lost, 0)), 'must be 0'],
    ['epochs used per run', runs.map((r) => String(r.epochs.to - r.epochs.from)).join(', '), ''],
  ];
  const failed = runs.map(
    (r) =>
      Object.entries(r.failedAppends)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none',
  );
  process.stdout.write(
    `${a.runs} runs, each a fresh cluster (4 units as 2x2, 1 spare, 2 sequencers, corfu manager with default settings); units[0] ${a.failure === 'kill' ? 'killed with kill -9' : 'stopped with SIGSTOP'};\n` +
      `${formatBytes(a.fillBytes)} of ${a.entrySize}-byte entries before the kill, ${a.clients} clients x ${a.depth} in flight; device files under ${a.dir}\n` +
      `${renderTable(rows)}\n` +
      `appends that failed (not acknowledged, not counted), per run: ${failed.join(' | ')}\n` +
      `epochs installed per run: ${runs.map((r) => r.epochs.installed.map((e) => `${e.epoch} (${e.reason})`).join('; ')).join(' | ')}\n`,
  );
  if (a.json !== undefined) {
    const medians = Object.fromEntries(
      (
        [
          'killToAckMs',
          'detectionMs',
          'reconfigurationMs',
          'clientRefreshMs',
          'killToAckAnyChainMs',
          'rebuildBytesPerSec',
          'fioBytesPerSec',
          'rebuildVsFio',
          'appendsPerSecBefore',
          'appendsPerSecDuringRebuild',
          'duringVsBefore',
          'appendsPerSecWholeRebuild',
        ] as const
      ).map((k) => [k, f(k)]),
    );
    const out = { config: { ...a, dir: a.dir, managerSettings: 'defaults: probe interval 1000 ms, timeout 1000 ms, misses 3' }, fio: fioVersion, figures: medians, runs };
    writeFileSync(a.json, `${JSON.stringify(out, null, 2)}\n`);
  }
}, 'bench:heal');
