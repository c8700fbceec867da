// Everything a fault run creates outside its own processes — network
// namespaces, loop devices, blkio cgroups, a scratch directory — named
// `cf-<6 hex>-...`, and the two ways it goes away:
//   - `Resources.release()` at the end of a run (also from exit and signal
//     handlers, synchronously, so a failing or interrupted run cleans up);
//   - `sweep()` at the start of a campaign: leftovers of runs whose owning
//     process is dead (a campaign killed with -9) are removed. A run that is
//     still alive (another campaign, the CI test) is left alone: each run dir
//     holds its owner's pid.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { detachLoop, loopsUnder, ourCgroups, removeCgroup } from './disk.js';
import { destroyNamespaces, ourNamespaces } from './net.js';

export const ROOT = join(tmpdir(), 'corfu-faults');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed owner its parent has not reaped yet is a zombie: dead for us.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function ownerAlive(id: string): boolean {
  try {
    const pid = Number(readFileSync(join(ROOT, `cf-${id}`, 'owner'), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 && alive(pid);
  } catch {
    return false;
  }
}

/** Removes the leftovers of dead runs; returns what it removed. */
export function sweep(): string[] {
  const removed: string[] = [];
  const idOf = (name: string): string | undefined => /cf-([0-9a-f]{6})(?:-|$)/.exec(name)?.[1];
  const dead = (name: string): boolean => {
    const id = idOf(name);
    return id !== undefined && !ownerAlive(id);
  };
  const namespaces = ourNamespaces().filter(dead);
  if (namespaces.length > 0) {
    destroyNamespaces(namespaces);
    removed.push(...namespaces.map((n) => `netns ${n}`));
  }
  for (const cg of ourCgroups().filter(dead)) {
    removeCgroup(cg);
    removed.push(`cgroup ${cg}`);
  }
  if (existsSync(ROOT)) {
    for (const name of readdirSync(ROOT)) {
      if (!/^cf-[0-9a-f]{6}$/.test(name) || !dead(name)) continue;
      const dir = join(ROOT, name);
      for (const dev of loopsUnder(dir)) {
        detachLoop(dev);
        removed.push(`loop ${dev}`);
      }
      rmSync(dir, { recursive: true, force: true });
      removed.push(`dir ${dir}`);
    }
  }
  return removed;
}

export class Resources {
  readonly id: string;
  readonly dir: string;
  readonly namespaces: string[] = [];
  readonly loops: string[] = [];
  readonly cgroups: string[] = [];
  #released = false;
  readonly #onExit = (): void => this.release();

  constructor() {
    for (;;) {
      this.id = randomBytes(3).toString('hex');
      this.dir = join(ROOT, `cf-${this.id}`);
      if (!existsSync(this.dir)) break;
    }
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'owner'), `${process.pid}\n`);
    process.once('exit', this.#onExit);
  }

  /** Idempotent and synchronous. Keeps nothing but what the caller moved out of `dir` first. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    process.off('exit', this.#onExit);
    destroyNamespaces(this.namespaces);
    for (const cg of this.cgroups) removeCgroup(cg);
    for (const dev of this.loops) detachLoop(dev);
    // Anything attached under the dir that was not registered (a crash between losetup and push).
    for (const dev of loopsUnder(this.dir)) detachLoop(dev);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** SIGINT/SIGTERM end the campaign through process.exit, so every 'exit' handler (Resources.release) runs. */
export function exitOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nfaults: ${sig}: cleaning up\n`);
      process.exit(130);
    });
  }
}
