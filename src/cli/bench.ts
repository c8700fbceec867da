// `corfu bench append --layout URL [--clients N] [--depth D] [--entry-size B]
//  [--seconds S] [--warmup S] [--sync-label MODE] [--json FILE]`:
// a benchmark of appends on a running cluster (not a test).
//
// - N CorfuClient instances in this process (one event loop, no
//   worker_threads), each keeping D appends in flight (D loops of
//   `await client.append(payload)`), entries of B bytes. Like any clients of
//   one process they share one connection per server, so their requests to a
//   unit are batched together; `--separate-connections` gives each its own.
// - A warm-up (default 1 s) runs first and is excluded from the figures. Then
//   for S seconds every append that completes is counted and its latency
//   (from the call of `append` to its resolution, in microseconds) goes into
//   an hdr-histogram-js histogram. Appends still in flight at the end are
//   awaited but not counted.
// - The sync mode of the units is not on the wire. It is read from the
//   command lines of the local `corfu unit` processes serving devices in the
//   directory above a `file:DIR/layout` store (what `corfu up` starts), or
//   taken from --sync-label (which wins); otherwise it is reported 'unknown'.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { InvalidArgumentError } from 'commander';
import * as hdr from 'hdr-histogram-js';

import { CorfuClient } from '../client/client.js';
import { cliConnectOptions } from './security.js';

export interface BenchAppendFlags {
  readonly layout: string;
  readonly clients: number;
  readonly depth: number;
  readonly entrySize: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly syncLabel?: string;
  /** `--separate-connections`: each client its own sockets (default: shared per process, as CorfuClient does). */
  readonly separateConnections?: boolean;
  readonly json?: string;
}

export interface BenchAppendResult {
  readonly appends_per_s: number;
  readonly latency_ms: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number };
  readonly appends: number;
  readonly elapsed_s: number;
  readonly cpu_us_per_append: { readonly client: number | null; readonly units: number | null; readonly sequencer: number | null };
  readonly config: {
    readonly layout: string;
    readonly clients: number;
    readonly depth: number;
    readonly entry_size: number;
    readonly seconds: number;
    readonly warmup_s: number;
    readonly sync: string;
    readonly sync_source: string;
    readonly stripes: number;
    readonly replicas: number;
    readonly mode: 'in-process';
    /** 'shared': the clients share one connection per server (CorfuClient's default); 'per-client': their own. */
    readonly connections: 'shared' | 'per-client';
    readonly cpus: number;
    readonly node: string;
  };
}

/** The `--sync` of the cluster's unit processes (their command lines), if any were found. */
function syncOf(units: readonly UnitProcess[]): string | undefined {
  if (units.length === 0) return undefined;
  const modes = new Set(
    units.map(({ argv }) => {
      const s = argv.indexOf('--sync');
      return s >= 0 && argv[s + 1] !== undefined ? argv[s + 1]! : 'always';
    }),
  );
  return [...modes].sort().join('+');
}

interface UnitProcess {
  readonly pid: number;
  readonly argv: readonly string[];
}

/**
 * The local `corfu unit` processes serving devices in the directory above a
 * `file:DIR/layout` store (what `corfu up` starts), and the sequencer started
 * by the same parent.
 */
function clusterProcesses(layout: string): { units: UnitProcess[]; sequencer: number[] } {
  const none = { units: [], sequencer: [] };
  if (!layout.startsWith('file:')) return none;
  const clusterDir = dirname(resolve(layout.slice('file:'.length)));
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(Number);
  } catch {
    return none;
  }
  const info = new Map<number, { argv: string[]; ppid: number }>();
  for (const pid of pids) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      info.set(pid, { argv, ppid });
    } catch {
      continue;
    }
  }
  const units = [...info].filter(([, { argv }]) => {
    const d = argv.indexOf('--device');
    return argv.includes('unit') && d >= 0 && argv[d + 1] !== undefined && dirname(resolve(argv[d + 1]!)) === clusterDir;
  });
  const parents = new Set(units.map(([, i]) => i.ppid));
  const sequencer = [...info].filter(([, i]) => parents.has(i.ppid) && i.argv.includes('sequencer')).map(([pid]) => pid);
  return { units: units.map(([pid, { argv }]) => ({ pid, argv })), sequencer };
}

/** User + system CPU seconds of `pid` so far (/proc/PID/stat), or NaN once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the command.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK) is not reachable from Node). */
const CLOCK_TICKS_PER_S = 100;

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export async function benchAppend(flags: BenchAppendFlags): Promise<BenchAppendResult> {
  const payload = new Uint8Array(flags.entrySize);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;

  const clients: CorfuClient[] = [];
  try {
    for (let i = 0; i < flags.clients; i++) clients.push(await CorfuClient.connect({ layout: flags.layout, shareConnections: flags.separateConnections !== true, ...cliConnectOptions() }));
    const projection = clients[0]!.projection;
    const segment = projection.segments.at(-1)!;

    // 1 µs .. 60 s, 3 significant digits.
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    let measuring = false;
    let stopped = false;
    let measureStart = 0;
    let measureEnd = Infinity;
    let appends = 0;

    const loop = async (client: CorfuClient): Promise<void> => {
      while (!stopped) {
        const t0 = performance.now();
        await client.append(payload);
        const t1 = performance.now();
        if (measuring && t0 >= measureStart && t1 <= measureEnd) {
          appends++;
          histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
        }
      }
    };
    const loops: Promise<void>[] = [];
    for (const client of clients) for (let d = 0; d < flags.depth; d++) loops.push(loop(client));
    // A failing append ends the benchmark: stop everyone and surface it.
    const failed = Promise.all(loops).then(
      () => undefined,
      (err: unknown) => {
        stopped = true;
        throw err;
      },
    );
    const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
    await Promise.race([sleep(flags.warmup * 1000), failed]);
    const cluster = clusterProcesses(flags.layout);
    const pids = { units: cluster.units.map((u) => u.pid), sequencer: cluster.sequencer };
    const sumCpu = (list: number[]): number => list.reduce((a, pid) => a + cpuSeconds(pid), 0);
    const cpuBefore = { client: process.cpuUsage(), units: sumCpu(pids.units), sequencer: sumCpu(pids.sequencer) };
    measureStart = performance.now();
    measuring = true;
    await Promise.race([sleep(flags.seconds * 1000), failed]);
    measureEnd = performance.now();
    const clientCpu = process.cpuUsage(cpuBefore.client);
    const cpuAfter = { units: sumCpu(pids.units), sequencer: sumCpu(pids.sequencer) };
    stopped = true;
    await failed;

    const elapsed = (measureEnd - measureStart) / 1000;
    const perAppend = (cpuS: number): number | null => (Number.isFinite(cpuS) && appends > 0 ? Math.round((cpuS / appends) * 1e7) / 10 : null);
    const ms = (us: number): number => round3(us / 1000);
    const learned = syncOf(cluster.units);
    const result: BenchAppendResult = {
      appends_per_s: Math.round(appends / elapsed),
      latency_ms: {
        p50: ms(histogram.getValueAtPercentile(50)),
        p99: ms(histogram.getValueAtPercentile(99)),
        p999: ms(histogram.getValueAtPercentile(99.9)),
        max: ms(histogram.maxValue),
      },
      appends,
      elapsed_s: round3(elapsed),
      // Where the time goes: CPU microseconds per append, by process (null: not found on this machine).
      cpu_us_per_append: {
        client: perAppend((clientCpu.user + clientCpu.system) / 1e6),
        units: pids.units.length === 0 ? null : perAppend(cpuAfter.units - cpuBefore.units),
        sequencer: pids.sequencer.length === 0 ? null : perAppend(cpuAfter.sequencer - cpuBefore.sequencer),
      },
      config: {
        layout: flags.layout,
        clients: flags.clients,
        depth: flags.depth,
        entry_size: flags.entrySize,
        seconds: flags.seconds,
        warmup_s: flags.warmup,
        sync: flags.syncLabel ?? learned ?? 'unknown',
        sync_source: flags.syncLabel !== undefined ? '--sync-label' : learned !== undefined ? 'unit command lines' : 'unknown',
        stripes: segment.stripes.length,
        replicas: segment.stripes[0]?.chain.length ?? 0,
        mode: 'in-process',
        connections: flags.separateConnections === true ? 'per-client' : 'shared',
        cpus: cpus().length,
        node: process.version,
      },
    };
    histogram.destroy();
    return result;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}

export async function benchAppendVerb(flags: BenchAppendFlags): Promise<void> {
  const r = await benchAppend(flags);
  const c = r.config;
  process.stdout.write(
    `bench append: ${c.clients} client(s) x depth ${c.depth}, ${c.entry_size}-byte entries, ${c.seconds} s (+${c.warmup_s} s warm-up), ` +
      `${c.stripes} stripe(s) x ${c.replicas} replica(s), sync ${c.sync} (${c.sync_source}), clients in-process, connections ${c.connections}\n` +
      `appends:    ${r.appends} in ${r.elapsed_s} s\n` +
      `appends/s:  ${r.appends_per_s}\n` +
      `latency ms: p50 ${r.latency_ms.p50}  p99 ${r.latency_ms.p99}  p99.9 ${r.latency_ms.p999}  max ${r.latency_ms.max}\n` +
      `cpu µs/append: client ${r.cpu_us_per_append.client ?? 'n/a'}  units ${r.cpu_us_per_append.units ?? 'n/a'}  sequencer ${r.cpu_us_per_append.sequencer ?? 'n/a'}\n`,
  );
  if (flags.json !== undefined) writeFileSync(flags.json, JSON.stringify(r, null, 2) + '\n');
}

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
