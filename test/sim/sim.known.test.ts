// Regression seeds (known-issues.ts): each seed that shows a bug the simulator
// found in src/ once its fix is reverted passes on the code as it is; and each
// revert (known-reverts/<name>.patch) still applies to src/, so a refactor
// that leaves a revert stale is noticed here. That a seed still catches its
// bug with the revert applied is checked by `npm run sim -- --known --verify`
// (a compile per entry: too slow for CI).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { FOUND_BUGS, REVERTS_DIR, revertFile } from './known-issues.js';
import { runSeed } from './run.js';
import { repoRoot, seedOptions } from './verify-known.js';

const root = repoRoot();

describe('src/ bugs found by the simulator stay fixed', () => {
  for (const bug of FOUND_BUGS) {
    it.skipIf(bug.seed === undefined)(
      `${bug.name} (seed ${bug.seed}, fixed in ${bug.fixedIn})`,
      async () => {
        const r = await runSeed(seedOptions(bug, bug.seed!));
        expect(r.violations).toEqual([]);
      },
      120_000,
    );
  }
});

describe('each known issue has a revert that still applies to src/', () => {
  for (const bug of FOUND_BUGS) {
    it(`${revertFile(bug.name)} applies`, () => {
      const patch = join(root, revertFile(bug.name));
      expect(existsSync(patch), `${revertFile(bug.name)} is missing`).toBe(true);
      // Throws with git's message when a hunk no longer matches.
      execFileSync('git', ['apply', '--check', patch], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    });
  }

  it('every revert belongs to a known issue', () => {
    const names = new Set(FOUND_BUGS.map((b) => `${b.name}.patch`));
    expect(readdirSync(join(root, REVERTS_DIR)).filter((f) => !names.has(f))).toEqual([]);
  });
});
