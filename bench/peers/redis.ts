// Redis as a peer: redis-server on 127.0.0.1 (a free port, its files in a fresh temp
// dir, stopped and removed afterwards), and redis-benchmark, Redis's own native load
// generator, to drive it: Node could not push a server that answers in microseconds
// hard enough, and its CPU would be the limit measured. The figures come from
// redis-benchmark's CSV (requests/s; latency avg, min, p50, p95, p99, max).
//
// Durability is chosen per comparison: `aof-always` is `appendonly yes` with
// `appendfsync always` (every write is in the append-only file and fsynced before its
// answer; Redis group-commits the writes of one event-loop turn); `none` keeps
// nothing on disk, like the sequencer's in-memory counter. Either way Redis keeps ONE
// copy on ONE node.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { childCpuSeconds } from '../../src/bench/cpu.js';
import { freePort } from './port.js';
import { requirePeers, type PeerBinary } from './errors.js';

export const REDIS_SERVER: PeerBinary = { peer: 'redis', program: 'redis-server', install: 'apt-get install -y redis-server' };
export const REDIS_BENCHMARK: PeerBinary = { peer: 'redis', program: 'redis-benchmark', install: 'apt-get install -y redis-server' };

export type RedisDurability = 'aof-always' | 'none';

export interface RedisServer {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly durability: RedisDurability;
  /** redis-server --version, e.g. "Redis server v=7.0.15 ...". */
  readonly version: string;
  /** SIGTERM, wait for the exit (SIGKILL after 5 s), remove the dir. */
  stop(): Promise<void>;
}

/** One PING over RESP; true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

function exitOf(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
}

export async function redisVersion(): Promise<string> {
  const proc = spawn('redis-server', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await exitOf(proc);
  return out.trim();
}

export async function startRedis(durability: RedisDurability): Promise<RedisServer> {
  requirePeers([REDIS_SERVER, REDIS_BENCHMARK]);
  const version = await redisVersion();
  // redis-server takes no port 0: it gets a port that was free a moment ago, which a test
  // file running beside this one may take first. Then it exits at once, and another port
  // is tried.
  for (let attempt = 1; ; attempt++) {
    const started = await startOn(await freePort(), durability, version);
    if (started !== undefined) return started;
    if (attempt === 5) throw new Error('redis-server did not start on 127.0.0.1 (5 ports tried; is one of its files unwritable?)');
  }
}

/** redis-server on `port`; undefined if it exited before answering (the port was taken). */
async function startOn(port: number, durability: RedisDurability, version: string): Promise<RedisServer | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'corfu-bench-redis-'));
  const persistence = durability === 'aof-always' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--dir', dir, '--save', '', ...persistence], { stdio: 'ignore' });
  const exited = exitOf(proc);
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let tries = 0; tries < 200; tries++) {
    if (proc.exitCode !== null) break;
    // Ours only if it still runs once it answered: a PING may reach another test's server.
    if ((await ping(port)) && proc.exitCode === null) return { port, pid: proc.pid!, dir, durability, version, stop };
    await new Promise((r) => setTimeout(r, 25));
  }
  const exitedEarly = proc.exitCode !== null;
  await stop();
  if (exitedEarly) return undefined;
  throw new Error(`redis-server did not answer on 127.0.0.1:${port} within 5 s`);
}

export interface RedisBenchmarkResult {
  readonly test: string;
  readonly requests: number;
  readonly rps: number;
  readonly avgUs: number;
  readonly minUs: number;
  readonly p50Us: number;
  readonly p95Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** redis-benchmark's own CPU (user, system seconds), from this process's waited-for children. */
  readonly cpuUserS: number;
  readonly cpuSystemS: number;
  readonly wallS: number;
  readonly pid: number;
  readonly args: string[];
}

/** The last data row of redis-benchmark --csv: "test","rps","avg_latency_ms",... */
export function parseRedisBenchmarkCsv(text: string): Omit<RedisBenchmarkResult, 'requests' | 'cpuUserS' | 'cpuSystemS' | 'wallS' | 'pid' | 'args'> {
  const rows = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('"'))
    .map((l) => [...l.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => m[1]!.replace(/""/g, '"')));
  const head = rows.find((r) => r[0] === 'test');
  const row = rows.filter((r) => r[0] !== 'test').at(-1);
  if (head === undefined || row === undefined) throw new Error(`redis-benchmark printed no CSV result: ${text.slice(0, 200)}`);
  const col = (name: string): number => {
    const i = head.indexOf(name);
    const v = i < 0 ? NaN : Number(row[i]);
    if (!Number.isFinite(v)) throw new Error(`redis-benchmark CSV has no ${name}: ${text.slice(0, 200)}`);
    return v;
  };
  const us = (name: string): number => Math.round(col(name) * 1000 * 10) / 10;
  return {
    test: row[0]!,
    rps: col('rps'),
    avgUs: us('avg_latency_ms'),
    minUs: us('min_latency_ms'),
    p50Us: us('p50_latency_ms'),
    p95Us: us('p95_latency_ms'),
    p99Us: us('p99_latency_ms'),
    maxUs: us('max_latency_ms'),
  };
}

export interface RedisLoad {
  readonly port: number;
  /** -c: connections. */
  readonly clients: number;
  /** -P: requests pipelined on each. */
  readonly pipeline: number;
  /** -n */
  readonly requests: number;
  /** `-t incr`, or a command and its arguments (XADD ...). */
  readonly test: { readonly builtin: string } | { readonly command: readonly string[] };
}

export async function runRedisBenchmark(load: RedisLoad): Promise<RedisBenchmarkResult> {
  const args = ['-h', '127.0.0.1', '-p', String(load.port), '-c', String(load.clients), '-P', String(load.pipeline), '-n', String(load.requests), '--csv'];
  if ('builtin' in load.test) args.push('-t', load.test.builtin);
  else args.push(...load.test.command);
  const cpu0 = childCpuSeconds();
  const t0 = performance.now();
  const proc = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    proc.once('exit', (c) => resolve(c));
    proc.once('error', () => resolve(-1));
  });
  const wallS = (performance.now() - t0) / 1000;
  // Read after the exit event: libuv has reaped the child, so its CPU is in our cutime/cstime.
  const cpu1 = childCpuSeconds();
  if (code !== 0) throw new Error(`redis-benchmark exited with ${String(code)}: ${err.trim() || out.trim()}`);
  const parsed = parseRedisBenchmarkCsv(out);
  const shown = args.map((a) => (a.length > 40 ? `<${a.length} bytes>` : a));
  return { ...parsed, requests: load.requests, cpuUserS: cpu1.user - cpu0.user, cpuSystemS: cpu1.system - cpu0.system, wallS, pid: proc.pid ?? 0, args: shown };
}
