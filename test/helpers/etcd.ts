// A real etcd for tests: Debian's etcd-server binary, one member on this test
// process's own loopback address (helpers/ports.ts: no other test file binds
// it, so the ports stay ours across a restart), a temporary data directory,
// and stop/start to kill it and bring it back on the same data.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ownLoopback } from './ports.js';
import { until } from './until.js';

const ETCD = 'etcd';
const STDERR_KEEP_BYTES = 16 * 1024;

export interface EtcdServer {
  /** HOST:PORT clients connect to. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** The layout URL of a store under `prefix` on this etcd. */
  url(prefix: string): string;
  /** Kills etcd (SIGKILL unless told) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and data directory; resolves once it is healthy. */
  start(): Promise<void>;
  /**
   * SIGSTOP: etcd keeps its connections but answers nothing until resume().
   * Resolves once the kernel shows every thread stopped (on a loaded machine the
   * stop is not done when kill() returns, and a request sent then could still be served).
   */
  pause(): Promise<void>;
  resume(): void;
  /** Stops it and removes its data directory. */
  close(): Promise<void>;
}

/** Whether every thread of `pid` is stopped (state T in /proc/PID/task/TID/stat). */
function stoppedThreads(pid: number): boolean {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The state is the field after the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
  });
}

/** A port free on `host` now (bound and released; the host is this process's own, so it stays free). */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}

export async function startEtcd(): Promise<EtcdServer> {
  const host = ownLoopback();
  const clientPort = await freePort(host);
  let peerPort = await freePort(host);
  while (peerPort === clientPort) peerPort = await freePort(host);
  const endpoint = `${host}:${clientPort}`;
  const peer = `http://${host}:${peerPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'corfu-etcd-'));
  const args = [
    '--name',
    'corfu-test',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    `http://${endpoint}`,
    '--advertise-client-urls',
    `http://${endpoint}`,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `corfu-test=${peer}`,
    '--initial-cluster-state',
    'new',
    '--logger',
    'zap',
    '--log-level',
    'error',
  ];

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const start = async (): Promise<void> => {
    if (child !== undefined) throw new Error('etcd is already running');
    stderr = '';
    const proc = spawn(ETCD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let failed: Error | undefined;
    proc.on('error', (err) => (failed = err));
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_KEEP_BYTES);
    });
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', () => resolve());
    });
    try {
      await until(
        async () => {
          if (failed !== undefined) throw new Error(`cannot start ${ETCD} (is the etcd-server package installed?): ${failed.message}`);
          if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`etcd exited (${proc.exitCode ?? proc.signalCode}) before serving: ${stderr}`);
          return healthy(endpoint);
        },
        `etcd at ${endpoint} to serve`,
        { timeoutMs: 30_000, everyMs: 50 },
      );
    } catch (err) {
      await stop();
      throw err;
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };

  await start();
  return {
    endpoint,
    dataDir,
    url: (prefix) => `etcd://${endpoint}/${prefix}`,
    stop,
    start,
    pause: async () => {
      const proc = child;
      if (proc?.pid === undefined) throw new Error('etcd is not running');
      proc.kill('SIGSTOP');
      await until(() => stoppedThreads(proc.pid!), `etcd (pid ${proc.pid}) to stop`, { timeoutMs: 10_000, everyMs: 5 });
    },
    resume: () => void child?.kill('SIGCONT'),
    close: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
