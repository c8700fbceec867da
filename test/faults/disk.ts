// The units' devices: loop block devices with direct I/O over sparse files
// (`losetup --direct-io=on --find --show`), and the disk faults:
//   - read-only: `blockdev --setro` makes the kernel refuse writes even on a
//     file descriptor opened read-write before (EPERM from the block layer's
//     write path; checked on this kernel), so the unit's next write fails and
//     its engine enters its failed state (every request ERR_IO until reopened);
//   - slow: a cgroup-v1 blkio cgroup with write_bps/write_iops limits on the
//     device's major:minor; the unit's process is moved into it and back.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { check, run, runSync } from './util.js';

export const BLKIO = '/sys/fs/cgroup/blkio';

export interface LoopDevice {
  readonly file: string;
  readonly dev: string;
  /** `MAJ:MIN` */
  readonly majmin: string;
  /** Whether the kernel reports direct I/O on for it. */
  readonly directIo: boolean;
}

export async function createLoop(file: string, bytes: number): Promise<LoopDevice> {
  writeFileSync(file, '');
  truncateSync(file, bytes);
  let dev = '';
  for (let attempt = 0; ; attempt++) {
    const r = await run('losetup', ['--direct-io=on', '--find', '--show', file]);
    if (r.code === 0) {
      dev = r.stdout.trim();
      break;
    }
    // Another test may have taken the same free device between find and attach.
    if (attempt >= 5) throw new Error(`losetup ${file}: ${r.stderr.trim()}`);
  }
  const rdev = statSync(dev).rdev;
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  let directIo = false;
  try {
    directIo = readFileSync(`/sys/block/${dev.replace('/dev/', '')}/loop/dio`, 'utf8').trim() === '1';
  } catch {
    // older kernels have no dio attribute
  }
  return { file, dev, majmin: `${major}:${minor}`, directIo };
}

export async function setReadOnly(dev: string, ro: boolean): Promise<void> {
  await check('blockdev', [ro ? '--setro' : '--setrw', dev]);
}

export async function isReadOnly(dev: string): Promise<boolean> {
  return (await check('blockdev', ['--getro', dev])).trim() === '1';
}

export function detachLoop(dev: string): void {
  runSync('blockdev', ['--setrw', dev]);
  runSync('losetup', ['-d', dev]);
}

/** Loop devices whose backing file lies under `dir` (a run's directory). */
export function loopsUnder(dir: string): string[] {
  const r = runSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((parts) => parts.length >= 2 && parts[1]!.startsWith(dir))
    .map((parts) => parts[0]!);
}

// ---- blkio throttling -------------------------------------------------------------------

export class Throttle {
  readonly path: string;

  constructor(name: string) {
    this.path = join(BLKIO, name);
  }

  /** Creates the cgroup with write limits on `majmin` and moves `pid` (all its threads) into it. */
  apply(majmin: string, pid: number, limits: { bps?: number; iops?: number }): void {
    if (!existsSync(this.path)) mkdirSync(this.path);
    if (limits.bps !== undefined) writeFileSync(join(this.path, 'blkio.throttle.write_bps_device'), `${majmin} ${limits.bps}\n`);
    if (limits.iops !== undefined) writeFileSync(join(this.path, 'blkio.throttle.write_iops_device'), `${majmin} ${limits.iops}\n`);
    writeFileSync(join(this.path, 'cgroup.procs'), `${pid}\n`);
  }

  /** Write requests the cgroup's processes sent to `majmin` (throttled ones included). */
  writes(majmin: string): number {
    try {
      const text = readFileSync(join(this.path, 'blkio.throttle.io_serviced'), 'utf8');
      const m = new RegExp(`^${majmin} Write (\\d+)$`, 'm').exec(text);
      return m === null ? 0 : Number(m[1]);
    } catch {
      return 0;
    }
  }

  /** Moves every process back to the root blkio cgroup and removes this one. */
  remove(): void {
    removeCgroup(this.path);
  }
}

export function removeCgroup(path: string): void {
  if (!existsSync(path)) return;
  try {
    const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((p) => p !== '');
    for (const pid of pids) {
      try {
        writeFileSync(join(BLKIO, 'cgroup.procs'), `${pid}\n`);
      } catch {
        // exited meanwhile
      }
    }
    rmdirSync(path);
  } catch {
    // best effort: the sweep of the next run tries again
  }
}

/** blkio cgroups named `cf-<6 hex>-...`. */
export function ourCgroups(): string[] {
  try {
    return readdirSync(BLKIO)
      .filter((n) => /^cf-[0-9a-f]{6}-/.test(n))
      .map((n) => join(BLKIO, n));
  } catch {
    return [];
  }
}
