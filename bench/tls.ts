// `npm run bench:tls -- [--runs K] [--clients N] [--depth D] [--entry-size B] [--seconds S]
//                       [--warmup S] [--units N] [--replicas R] [--size B] [--sync MODE] [--dir DIR] [--json FILE]`
//
// What mutual TLS costs appends, as a ratio to plaintext measured in the same run:
//
//   1. two local clusters, started back to back with `corfu up` (same units, replicas,
//      device size, sync mode, no spares): one plaintext, one `--tls` (mutual TLS on
//      every link, certificates of `corfu certs init`);
//   2. K rounds; each runs `corfu bench append` (a child process: N in-process clients x
//      D appends in flight, B-byte entries, S seconds after a warm-up) against each
//      cluster, the order alternating from round to round so that neither always runs
//      first on a warmer or quieter machine; the TLS one connects with client.crt;
//   3. prints, for each, the median appends/s, p50 and p99 with the range, and CPU µs
//      per append (bench client, units, sequencer); then TLS / plaintext of the medians.
//
// A benchmark, not a test: it measures and prints, and exits 0. Both clusters are
// stopped and their directories removed at the end, on an error and on SIGINT too.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { BenchResult, RunFigures } from '../src/bench/schema.js';
import { UsageError, formatCount, positiveFlag, renderTable, runMain, sizeFlag } from './common.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const USAGE = `usage: npm run bench:tls -- [--runs K] [--clients N] [--depth D] [--entry-size B] [--seconds S] [--warmup S]
                             [--units N] [--replicas R] [--size B] [--sync always|none] [--dir DIR] [--json FILE]
  --runs K          rounds; each runs the workload once on each cluster, order alternating (default 3)
  --clients N       CorfuClients in the bench process (default 16)
  --depth D         appends in flight per client (default 8)
  --entry-size B    payload bytes per entry (default 128)
  --seconds S       measured seconds per run (default 5)
  --warmup S        warm-up seconds before each run, not measured (default 1)
  --units N         storage units of each cluster (default 4)
  --replicas R      units per chain (default 2)
  --size B          each unit's device file (default 2G; sparse): large enough for every run's entries
  --sync MODE       the units' --sync: always (default) or none
  --dir DIR         where the two clusters' directories go (default: the OS temp dir)
  --json FILE       also write the runs and the figures as JSON`;

interface Args {
  runs: number;
  clients: number;
  depth: number;
  entrySize: number;
  seconds: number;
  warmup: number;
  units: number;
  replicas: number;
  size: number;
  sync: 'always' | 'none';
  dir: string;
  json: string | undefined;
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      clients: { type: 'string', default: '16' },
      depth: { type: 'string', default: '8' },
      'entry-size': { type: 'string', default: '128' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      units: { type: 'string', default: '4' },
      replicas: { type: 'string', default: '2' },
      size: { type: 'string', default: '2G' },
      sync: { type: 'string', default: 'always' },
      dir: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.sync !== 'always' && values.sync !== 'none') throw new UsageError(`--sync must be always or none, got '${values.sync}'`);
  const warmup = Number(values.warmup);
  if (!Number.isFinite(warmup) || warmup < 0) throw new UsageError(`--warmup must be a number of seconds (0 for none), got '${values.warmup}'`);
  const a: Args = {
    runs: positiveFlag('runs', values.runs),
    clients: positiveFlag('clients', values.clients),
    depth: positiveFlag('depth', values.depth),
    entrySize: sizeFlag('entry-size', values['entry-size'], 1),
    seconds: positiveFlag('seconds', values.seconds, false),
    warmup,
    units: positiveFlag('units', values.units),
    replicas: positiveFlag('replicas', values.replicas),
    size: sizeFlag('size', values.size, 16 * 1024 * 1024),
    sync: values.sync,
    dir: values.dir ?? tmpdir(),
    json: values.json,
  };
  if (a.units % a.replicas !== 0) throw new UsageError(`--units (${a.units}) must be a multiple of --replicas (${a.replicas})`);
  return a;
}

type Mode = 'plain' | 'tls';

interface Cluster {
  readonly mode: Mode;
  readonly dir: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  readonly layout: string;
}

/** `corfu up` in `dir`; resolves once it prints `serving`, with its layout URL. */
function startCluster(mode: Mode, dir: string, a: Args, children: ChildProcess[]): Promise<Cluster> {
  const args = ['up', '--dir', dir, '--units', String(a.units), '--replicas', String(a.replicas), '--spares', '0', '--size', String(a.size), '--sync', a.sync, ...(mode === 'tls' ? ['--tls'] : [])];
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return new Promise((resolve, reject) => {
    let layout: string | undefined;
    const timer = setTimeout(() => reject(new Error(`corfu up (${mode}) did not serve within 60 s: ${err.trim()}`)), 60_000);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^layout URL: (\S+)$/.exec(line);
      if (m !== null) layout = m[1];
      if (line.startsWith('serving') && layout !== undefined) {
        clearTimeout(timer);
        resolve({ mode, dir, proc, exited, layout });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`corfu up (${mode}) exited before serving: ${err.trim()}`));
    });
  });
}

/** One `corfu bench append` run against `c`, in its own process. */
function benchOnce(c: Cluster, a: Args, jsonFile: string): AppendFigures {
  const certs = join(c.dir, 'certs');
  const tls = c.mode === 'tls' ? ['--ca-file', join(certs, 'ca.crt'), '--cert-file', join(certs, 'client.crt'), '--key-file', join(certs, 'client.key')] : [];
  const args = [
    'bench',
    'append',
    '--layout',
    c.layout,
    '--clients',
    String(a.clients),
    '--depth',
    String(a.depth),
    '--entry-size',
    String(a.entrySize),
    '--seconds',
    String(a.seconds),
    '--warmup',
    String(a.warmup),
    '--json',
    jsonFile,
    ...tls,
  ];
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: (a.seconds + a.warmup + 60) * 1000 });
  if (r.status !== 0) throw new Error(`bench append (${c.mode}) failed (exit ${String(r.status)}): ${r.stderr.trim()}`);
  return appendFigures(JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchResult);
}

interface Figure {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function figure(xs: readonly number[]): Figure {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s.at(-1)! };
}

/** What this benchmark takes from a `corfu bench append` result (src/bench/schema.ts). */
interface AppendFigures {
  readonly appends_per_s: number;
  readonly latency_ms: { readonly p50: number; readonly p99: number };
  readonly cpu_us_per_append: { readonly client: number | null; readonly units: number | null; readonly sequencer: number | null };
}

function appendFigures(r: BenchResult): AppendFigures {
  const run: RunFigures = r.runs[0]!;
  // CPU per append of a role: the sum over its processes (null when none was found on this machine).
  const cpu = (role: string): number | null => {
    const rows = run.cpu.filter((c) => c.role === role && c.cpu_us_per_op !== null);
    return rows.length === 0 ? null : Math.round(rows.reduce((a, c) => a + c.cpu_us_per_op!, 0) * 10) / 10;
  };
  return {
    appends_per_s: Math.round(run.ops_per_s),
    latency_ms: { p50: (run.latency_us?.p50_us ?? NaN) / 1000, p99: (run.latency_us?.p99_us ?? NaN) / 1000 },
    cpu_us_per_append: { client: cpu('bench'), units: cpu('unit'), sequencer: cpu('sequencer') },
  };
}

function figures(runs: readonly AppendFigures[]): Record<'appendsPerS' | 'p50Ms' | 'p99Ms' | 'clientCpuUs' | 'unitsCpuUs' | 'sequencerCpuUs', Figure> {
  const of = (f: (r: AppendFigures) => number | null): Figure => figure(runs.map((r) => f(r) ?? NaN));
  return {
    appendsPerS: of((r) => r.appends_per_s),
    p50Ms: of((r) => r.latency_ms.p50),
    p99Ms: of((r) => r.latency_ms.p99),
    clientCpuUs: of((r) => r.cpu_us_per_append.client),
    unitsCpuUs: of((r) => r.cpu_us_per_append.units),
    sequencerCpuUs: of((r) => r.cpu_us_per_append.sequencer),
  };
}

async function stop(c: Cluster | undefined): Promise<void> {
  if (c === undefined) return;
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 20_000);
  await c.exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const a = parse();
  const base = mkdtempSync(join(a.dir, 'corfu-bench-tls-'));
  const children: ChildProcess[] = [];
  const onSignal = (): void => {
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    rmSync(base, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const clusters: Partial<Record<Mode, Cluster>> = {};
  try {
    const load = loadavg()[0]!;
    // Back to back: the plaintext cluster, then the TLS one (its certificates made on the way).
    clusters.plain = await startCluster('plain', join(base, 'plain'), a, children);
    clusters.tls = await startCluster('tls', join(base, 'tls'), a, children);
    process.stdout.write(
      `bench:tls: ${a.runs} round(s) of ${a.clients} clients x depth ${a.depth}, ${a.entrySize}-byte entries, ${a.seconds} s (+${a.warmup} s warm-up), ` +
        `${a.units / a.replicas} stripe(s) x ${a.replicas} replica(s), sync ${a.sync}; ${cpus().length} CPUs, load average ${load.toFixed(2)} at start\n`,
    );
    const results: Record<Mode, AppendFigures[]> = { plain: [], tls: [] };
    const order: Array<{ round: number; mode: Mode }> = [];
    for (let round = 0; round < a.runs; round++) {
      const modes: Mode[] = round % 2 === 0 ? ['plain', 'tls'] : ['tls', 'plain'];
      for (const mode of modes) {
        const r = benchOnce(clusters[mode]!, a, join(base, `${mode}-${round}.json`));
        results[mode].push(r);
        order.push({ round, mode });
        process.stdout.write(`  round ${round + 1} ${mode.padEnd(5)} ${formatCount(r.appends_per_s).padStart(9)} appends/s  p50 ${r.latency_ms.p50} ms  p99 ${r.latency_ms.p99} ms\n`);
      }
    }
    const plain = figures(results.plain);
    const tls = figures(results.tls);
    const show = (f: Figure, digits: number): string => `${f.median.toFixed(digits)} (${f.min.toFixed(digits)}–${f.max.toFixed(digits)})`;
    const ratio = {
      appendsPerS: tls.appendsPerS.median / plain.appendsPerS.median,
      p50Ms: tls.p50Ms.median / plain.p50Ms.median,
      p99Ms: tls.p99Ms.median / plain.p99Ms.median,
    };
    const rows = [
      ['', 'appends/s', 'p50 ms', 'p99 ms', 'CPU µs/append: client', 'units', 'sequencer'],
      ...(['plain', 'tls'] as const).map((m) => {
        const f = m === 'plain' ? plain : tls;
        return [m === 'plain' ? 'plaintext' : 'mutual TLS', show(f.appendsPerS, 0), show(f.p50Ms, 3), show(f.p99Ms, 2), show(f.clientCpuUs, 1), show(f.unitsCpuUs, 1), show(f.sequencerCpuUs, 1)];
      }),
      [
        'TLS / plaintext',
        ratio.appendsPerS.toFixed(2),
        ratio.p50Ms.toFixed(2),
        ratio.p99Ms.toFixed(2),
        (tls.clientCpuUs.median / plain.clientCpuUs.median).toFixed(2),
        (tls.unitsCpuUs.median / plain.unitsCpuUs.median).toFixed(2),
        '',
      ],
    ];
    process.stdout.write(`medians of ${a.runs} run(s) each (range)\n${renderTable(rows)}\nload average ${loadavg()[0]!.toFixed(2)} at the end\n`);
    if (a.json !== undefined) {
      writeFileSync(
        a.json,
        `${JSON.stringify(
          {
            config: { ...a, dir: undefined, cpus: cpus().length, node: process.version, loadAverageAtStart: load, loadAverageAtEnd: loadavg()[0] },
            order,
            runs: results,
            medians: { plain, tls },
            ratio,
          },
          null,
          2,
        )}\n`,
      );
    }
  } finally {
    await Promise.all([stop(clusters.plain), stop(clusters.tls)]);
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(base, { recursive: true, force: true });
  }
}

runMain(main, 'bench:tls');
