// Real devices for the Store tests: sparse regular files in a temp dir, and
// loop block devices over such files (O_DIRECT through the block layer).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MiB = 1024 * 1024;

/**
 * How many extents of `path` filefrag (e2fsprogs) calls unwritten: blocks fallocate
 * reserved and nothing wrote, whose first write makes the sync commit the filesystem's
 * journal too. Undefined where filefrag is missing.
 */
export function unwrittenExtents(path: string): number | undefined {
  let out: string;
  try {
    out = execFileSync('filefrag', ['-v', path], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  return out.split('\n').filter((line) => /\bunwritten\b/.test(line)).length;
}

export interface DeviceProvider {
  readonly kind: 'file' | 'block';
  /** Why this provider cannot run here, or undefined when it can. */
  readonly skipReason: string | undefined;
  /** A fresh, zero-filled, unformatted device of `bytes` bytes. */
  create(bytes: number): string;
  /** A path in the scratch dir that does not exist. */
  missing(): string;
  /** Releases what `create` made that is not in use any more. */
  release(path: string): void;
  cleanup(): void;
}

function scratch(): { dir: string; file: (bytes: number) => string; missing: () => string; rm: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'corfu-test-'));
  let n = 0;
  return {
    dir,
    file(bytes) {
      const path = join(dir, `dev-${n++}.img`);
      writeFileSync(path, '');
      truncateSync(path, bytes); // sparse: reads as zeros
      return path;
    },
    missing: () => join(dir, `missing-${n++}.img`),
    rm: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function fileDevices(): DeviceProvider {
  const s = scratch();
  return {
    kind: 'file',
    skipReason: undefined,
    create: (bytes) => s.file(bytes),
    missing: s.missing,
    release: (path) => rmSync(path, { force: true }),
    cleanup: s.rm,
  };
}

function losetupUsable(): string | undefined {
  if (process.getuid?.() !== 0) return 'loop devices need root (losetup); run the tests as root, e.g. via .ci/run';
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'losetup (util-linux) is not installed';
  }
  return undefined;
}

export function loopDevices(): DeviceProvider {
  const skipReason = losetupUsable();
  const s = scratch();
  const attached = new Set<string>();
  const detach = (dev: string): void => {
    if (!attached.delete(dev)) return;
    execFileSync('losetup', ['-d', dev], { stdio: 'ignore' });
  };
  return {
    kind: 'block',
    skipReason,
    create(bytes) {
      const backing = s.file(bytes);
      const dev = execFileSync('losetup', ['--direct-io=on', '--find', '--show', backing], { encoding: 'utf8' }).trim();
      attached.add(dev);
      return dev;
    },
    missing: s.missing,
    release: detach,
    cleanup() {
      for (const dev of [...attached]) detach(dev);
      s.rm();
    },
  };
}
