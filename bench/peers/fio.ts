// fio, the reference for the storage engine: io_uring, O_DIRECT, 4 KiB blocks, the
// same queue depth as the engine, on the same device or file. `npm run bench:engine`
// and `corfu bench device|compare` both run it from here.

import { spawnSync } from 'node:child_process';

import { requirePeers, type PeerBinary } from './errors.js';

export const FIO: PeerBinary = { peer: 'fio', program: 'fio', install: 'apt-get install -y fio' };

const PAGE_BYTES = 4096;

/** fio's version; PeerNotInstalledError when it is missing. */
export function checkFio(): string {
  requirePeers([FIO]);
  const r = spawnSync('fio', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`cannot run fio: ${r.error.message}`);
  return r.stdout.trim();
}

export interface FioResult {
  iops: number;
  /** I/Os completed in the measured time (ramp excluded). */
  totalIos: number;
  /** The measured time, seconds (ramp excluded). */
  runtimeS: number;
  /** fio's own CPU time (user + system) per I/O, microseconds. */
  cpuUsPerIo: number;
  /** fio's own user and system CPU over the measured time, seconds (its usr_cpu and sys_cpu). */
  userS: number;
  systemS: number;
  /** Mean completion latency, microseconds. */
  clatMeanUs: number;
  clatMinUs: number;
  clatMaxUs: number;
  /** Completion latency percentiles, microseconds (fio's default list: 1 .. 99.99). */
  clatPercentilesUs: Array<{ percentile: number; latency_us: number }>;
  /** The command line, for the record. */
  args: string[];
  /** fio's process id (gone by now: for the record). */
  pid: number;
}

export function fioArgs(path: string, rw: 'write' | 'randread', sizeBytes: number, seconds: number, warmup: number, queueDepth: number): string[] {
  return [
    `--name=${rw === 'write' ? 'w' : 'r'}`,
    `--filename=${path}`,
    '--ioengine=io_uring',
    '--direct=1',
    '--bs=4k',
    `--iodepth=${queueDepth}`,
    `--rw=${rw}`,
    '--time_based',
    `--runtime=${seconds}`,
    ...(warmup > 0 ? [`--ramp_time=${warmup}`] : []),
    `--size=${Math.floor(sizeBytes / PAGE_BYTES) * PAGE_BYTES}`,
    '--numjobs=1',
    '--output-format=json',
  ];
}

export function runFio(path: string, rw: 'write' | 'randread', sizeBytes: number, seconds: number, warmup: number, queueDepth: number, log: (m: string) => void): FioResult {
  const args = fioArgs(path, rw, sizeBytes, seconds, warmup, queueDepth);
  log(`fio ${args.join(' ')}`);
  const r = spawnSync('fio', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw new Error(`fio failed to start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`fio exited with ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
  // fio may print notes before the JSON document.
  const start = r.stdout.indexOf('{');
  type Side = { iops: number; total_ios: number; runtime: number; clat_ns?: { mean: number; min: number; max: number; percentile?: Record<string, number> } };
  const doc = JSON.parse(r.stdout.slice(start)) as { jobs: Array<{ read: Side; write: Side; usr_cpu: number; sys_cpu: number }> };
  const job = doc.jobs[0];
  if (job === undefined) throw new Error('fio printed no job results');
  const side = job[rw === 'write' ? 'write' : 'read'];
  // usr_cpu/sys_cpu are percent of one CPU over the job's run time (ms).
  const runtimeS = side.runtime / 1000;
  const userS = (job.usr_cpu / 100) * runtimeS;
  const systemS = (job.sys_cpu / 100) * runtimeS;
  const clat = side.clat_ns;
  return {
    iops: side.iops,
    totalIos: side.total_ios,
    runtimeS,
    cpuUsPerIo: ((userS + systemS) * 1e6) / Math.max(1, side.total_ios),
    userS,
    systemS,
    clatMeanUs: (clat?.mean ?? Number.NaN) / 1000,
    clatMinUs: (clat?.min ?? Number.NaN) / 1000,
    clatMaxUs: (clat?.max ?? Number.NaN) / 1000,
    clatPercentilesUs: Object.entries(clat?.percentile ?? {})
      .map(([p, ns]) => ({ percentile: Number(p), latency_us: ns / 1000 }))
      .sort((a, b) => a.percentile - b.percentile),
    args,
    pid: r.pid ?? 0,
  };
}
