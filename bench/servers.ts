// The reference servers the benchmarks start for themselves, each on a free
// loopback port with its data in a fresh temp dir: redis-server with an
// append-only file synced on every write (bench/peers/redis.ts), and a
// single-member etcd (Debian's etcd-server; it fsyncs its WAL before answering a
// write, as always).
// stop() kills the process, waits for it to exit and removes its dir.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from './peers/port.js';
import { startRedis as startRedisPeer } from './peers/redis.js';

export interface Server {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM, wait for the exit (SIGKILL after 5 s), remove the data dir. */
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess, dir: string): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * redis-server on loopback with an append-only file synced on every write (`appendfsync
 * always`), in a temp dir: bench/peers/redis.ts, the same peer `corfu bench compare` runs
 * (a missing redis-server is one line naming its install command).
 */
export async function startRedis(): Promise<Server> {
  const r = await startRedisPeer('aof-always');
  return { port: r.port, pid: r.pid, dir: r.dir, stop: () => r.stop() };
}

/** A single-member etcd on loopback (Debian's etcd-server), its data in a temp dir; `port` is the client port. */
export async function startEtcd(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'corfu-bench-etcd-'));
  const port = await freePort();
  let peerPort = await freePort();
  while (peerPort === port) peerPort = await freePort();
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = ['--name', 'bench', '--data-dir', join(dir, 'data'), '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer];
  args.push('--initial-advertise-peer-urls', peer, '--initial-cluster', `bench=${peer}`, '--initial-cluster-state', 'new', '--logger', 'zap', '--log-level', 'error');
  const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4096)));
  let failed: Error | undefined;
  proc.on('error', (err) => (failed = err));
  const stop = stopper(proc, dir);
  for (let tries = 0; ; tries++) {
    if (failed !== undefined || proc.exitCode !== null) {
      await stop();
      throw new Error(`etcd did not start (is the etcd-server package installed?): ${failed?.message ?? stderr}`);
    }
    try {
      const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok && ((await res.json()) as { health?: unknown }).health === 'true') return { port, pid: proc.pid!, dir, stop };
    } catch {
      // not serving yet
    }
    if (tries >= 300) {
      await stop();
      throw new Error(`etcd did not become healthy on port ${port}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
