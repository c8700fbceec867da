// `npm run sim -- --known --verify`: proves each regression seed of
// known-issues.ts still catches its bug in the product. For every entry it
// copies what the simulator's build needs (src/, bindings/ without the native
// addon, test/sim/, test/check/, the tsconfig and package.json, a link to
// node_modules) into a temporary directory, applies the entry's revert
// (known-reverts/<name>.patch), compiles the simulator's run there and runs the
// entry's seed: the recorded violation kind must show. Then the same seed
// must pass on the tree as it is (this build). Slow (one compile per entry),
// so not part of CI; sim.known.test.ts checks only that each seed passes and
// each revert still applies.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { FOUND_BUGS, revertFile, type FoundBug } from './known-issues.js';
import { runSeed, type RunOptions, type RunResult } from './run.js';

/** What the simulator's build reads, relative to the repository root. */
const COPIED = ['src', 'bindings', 'test/sim', 'test/check', 'tsconfig.json', 'package.json'];

export interface Verdict {
  readonly bug: FoundBug;
  /** Why the entry could not be checked (no seed, the patch does not apply, the build failed); undefined when it ran. */
  readonly problem: string | undefined;
  /** The violation kinds of the seed with the revert applied, and without it. */
  readonly reverted: readonly string[];
  readonly current: readonly string[];
  readonly ok: boolean;
}

/** The repository root: this file runs from dist-sim/test/sim/ (or test/sim/ under vitest). */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = resolve(here, '../..');
  return basename(up) === 'dist-sim' ? dirname(up) : up;
}

export function seedOptions(bug: FoundBug, seed: number): RunOptions {
  return { seed, wildTrims: bug.wildTrims ?? false, ...(bug.ops === undefined ? {} : { ops: bug.ops }), ...(bug.transactions === true ? { transactions: true } : {}) };
}

/** The command line that replays `bug`'s seed. */
export function replayArgs(bug: FoundBug): string {
  if (bug.seed === undefined) return '(no seed)';
  return `--seed ${bug.seed}${bug.ops === undefined ? '' : ` --ops ${bug.ops}`}${bug.wildTrims === true ? ' --wild-trims' : ''}${bug.transactions === true ? ' --transactions' : ''}`;
}

/** Whether `kinds` holds the violation `bug` is recorded to show. */
export function shows(bug: FoundBug, kinds: readonly string[]): boolean {
  return kinds.includes(bug.kind);
}

function kindsOf(r: RunResult): string[] {
  return [...new Set(r.violations.map((v) => v.kind))];
}

function describeSeen(seen: ReadonlyMap<string, number>): string {
  return seen.size === 0 ? 'no violations' : [...seen].map(([k, n]) => `${k} in ${n} seeds`).join(', ');
}

function run(command: string, args: readonly string[], cwd: string): void {
  // The copy is no repository: git must not find one above it (a TMPDIR inside a checkout) and patch that instead.
  const env = { ...process.env, GIT_CEILING_DIRECTORIES: dirname(cwd) };
  execFileSync(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

function failure(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string };
  const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
  return (out === '' ? (e.message ?? String(err)) : out).split('\n').slice(0, 8).join('\n');
}

/** A compiled copy of the simulator with `bug`'s revert applied, in `dir`; returns its runSeed. */
async function buildReverted(root: string, bug: FoundBug, dir: string): Promise<(o: RunOptions) => Promise<RunResult>> {
  for (const p of COPIED) {
    // The addon's binary too: the simulator drives the client's append path through its
    // AppendMachine on about half its seeds. Without it, every append of those seeds failed
    // in the reverted copy (and the seeds showed exceptions, not their bugs).
    cpSync(join(root, p), join(dir, p), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  run('git', ['apply', join(root, revertFile(bug.name))], dir);
  // Only what a run needs (run.ts and its imports), with the simulator's compiler options: quicker,
  // and a type error elsewhere in test/sim does not stop the check.
  writeFileSync(join(dir, 'test/sim/tsconfig.verify.json'), JSON.stringify({ extends: './tsconfig.json', include: ['./run.ts'] }));
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'test/sim/tsconfig.verify.json'], dir);
  const mod = (await import(pathToFileURL(join(dir, 'dist-sim/test/sim/run.js')).href)) as { runSeed: typeof runSeed };
  return mod.runSeed;
}

export async function verifyOne(root: string, bug: FoundBug): Promise<Verdict> {
  const none = { reverted: [], current: [], ok: false };
  if (!existsSync(join(root, revertFile(bug.name)))) return { bug, problem: `no ${revertFile(bug.name)}`, ...none };
  if (bug.seed === undefined) return { bug, problem: 'no seed: the hunt found none', ...none };
  const dir = mkdtempSync(join(tmpdir(), `corfu-known-${bug.name}-`));
  try {
    let reverted: (o: RunOptions) => Promise<RunResult>;
    try {
      reverted = await buildReverted(root, bug, dir);
    } catch (err) {
      return { bug, problem: `revert or build failed: ${failure(err)}`, ...none };
    }
    const withRevert = kindsOf(await reverted(seedOptions(bug, bug.seed)));
    const current = kindsOf(await runSeed(seedOptions(bug, bug.seed)));
    return { bug, problem: undefined, reverted: withRevert, current, ok: shows(bug, withRevert) && current.length === 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Hunts `bug`'s first seed from `from`: the revert applied, the entry's
 * options, until a seed reports `kind` and passes on the tree as it is.
 */
export async function huntKnown(bug: FoundBug, from: number, seeds: number, log: (line: string) => void = console.log): Promise<number | undefined> {
  const dir = mkdtempSync(join(tmpdir(), `corfu-known-${bug.name}-`));
  try {
    const reverted = await buildReverted(repoRoot(), bug, dir);
    const others = new Map<string, number>();
    for (let seed = from; seed < from + seeds; seed++) {
      const r = await reverted(seedOptions(bug, seed));
      const kinds = kindsOf(r);
      if (shows(bug, kinds)) {
        const now = kindsOf(await runSeed(seedOptions(bug, seed)));
        if (now.length === 0) {
          log(`${bug.name}: seed ${seed} shows ${bug.kind} with the revert and passes without it (replay: ${replayArgs({ ...bug, seed })})`);
          for (const v of r.violations) log(`  ${v.kind}: ${v.message.split('\n')[0]}`);
          log(`  before it, with the revert: ${describeSeen(others)}`);
          return seed;
        }
        log(`${bug.name}: seed ${seed} shows ${bug.kind} with the revert, but also fails without it (${now.join(', ')})`);
      }
      for (const k of kinds) others.set(k, (others.get(k) ?? 0) + 1);
      if ((seed - from + 1) % 1000 === 0) log(`${bug.name}: ${seed - from + 1} seeds tried, up to ${seed}`);
    }
    log(`${bug.name}: no seed in ${from}..${from + seeds - 1} shows ${bug.kind} (with the revert: ${describeSeen(others)})`);
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Verifies every entry (or those named in `only`), printing a table. True when
 * every entry with a seed holds; an entry no hunt found a seed for is listed,
 * not counted as a failure.
 */
export async function verifyKnown(only: readonly string[], log: (line: string) => void = console.log): Promise<boolean> {
  const root = repoRoot();
  const bugs = only.length === 0 ? FOUND_BUGS : FOUND_BUGS.filter((b) => only.includes(b.name));
  const w = Math.max(...bugs.map((b) => b.name.length));
  log(`${'known issue'.padEnd(w)}  ${'replay'.padEnd(28)}  ${'expected'.padEnd(40)}  ${'with the revert'.padEnd(40)}  ${'as is'.padEnd(12)}  verdict`);
  let good = 0;
  let unseeded = 0;
  for (const bug of bugs) {
    if (bug.seed === undefined) {
      unseeded++;
      log(`${bug.name.padEnd(w)}  ${replayArgs(bug).padEnd(28)}  ${bug.kind.padEnd(40)}  ${'-'.padEnd(40)}  ${'-'.padEnd(12)}  NO SEED (${bug.hunted})`);
      continue;
    }
    const v = await verifyOne(root, bug);
    if (v.ok) good++;
    const got = v.problem ?? (v.reverted.length === 0 ? 'passes' : v.reverted.join(', '));
    const now = v.problem !== undefined ? '-' : v.current.length === 0 ? 'passes' : v.current.join(', ');
    const verdict = v.ok ? 'ok' : v.problem !== undefined ? 'NOT CHECKED' : !shows(bug, v.reverted) ? 'MISSED (the seed no longer shows the bug)' : 'FAILS on the tree as is';
    log(`${bug.name.padEnd(w)}  ${replayArgs(bug).padEnd(28)}  ${bug.kind.padEnd(40)}  ${got.split('\n')[0]!.padEnd(40)}  ${now.padEnd(12)}  ${verdict}`);
    if (v.problem !== undefined && v.problem.includes('\n')) log(v.problem.replace(/^/gm, '    '));
  }
  const seeded = bugs.length - unseeded;
  log(`${good}/${seeded} regression seeds catch their bug${unseeded === 0 ? '' : `; ${unseeded} known issue${unseeded === 1 ? ' has' : 's have'} no seed`}`);
  return good === seeded;
}
