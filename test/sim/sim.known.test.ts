// Regression seeds: each seed that showed a bug the simulator found in src/
// (known-issues.ts) passes now that src/ is fixed.

import { describe, expect, it } from 'vitest';

import { FOUND_BUGS } from './known-issues.js';
import { runSeed } from './run.js';

describe('src/ bugs found by the simulator stay fixed', () => {
  for (const bug of FOUND_BUGS) {
    it(`${bug.name} (seed ${bug.seed}, fixed in ${bug.fixedIn})`, async () => {
      const r = await runSeed({ seed: bug.seed, wildTrims: bug.wildTrims ?? false, ...(bug.ops === undefined ? {} : { ops: bug.ops }) });
      expect(r.violations).toEqual([]);
    }, 120_000);
  }
});
