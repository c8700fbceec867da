// The simulator campaign mutation testing runs (vitest.mutate.config.ts lists
// this file; it is not named *.test.ts, so npm test does not run it: seeds
// 1..10,000 of sim.clean already include these). Small cases, so that Stryker's
// per-test coverage runs only the cases whose seeds reach a mutant, and each
// case stops at its first failing seed, so that a killed mutant costs little.
// A surviving mutant runs every case that reached it, so more seeds cost every
// survivor: in the first trial runs (two modules), seeds past 100 killed no
// mutant that seeds 1..100 had not.

import { describe, expect, it } from 'vitest';

import { runSeed } from './run.js';

const FIRST_SEED = 1;
const SEEDS = 200;
const SEEDS_PER_CASE = 25;

describe('simulator campaign for mutation testing', () => {
  for (let start = FIRST_SEED; start < FIRST_SEED + SEEDS; start += SEEDS_PER_CASE) {
    const last = start + SEEDS_PER_CASE - 1;
    // The trailing colon keeps one case's name from being a prefix of another's
    // (Stryker selects the covering tests by a name pattern).
    it(`seeds ${start}..${last}: no violations`, async () => {
      let ackedAppends = 0;
      for (let seed = start; seed <= last; seed++) {
        const r = await runSeed({ seed });
        const first = r.violations[0];
        expect(first === undefined ? 'none' : `seed ${seed}: ${first.kind}: ${first.message.split('\n')[0]} -- replay: npm run sim -- --seed ${seed}`).toBe('none');
        ackedAppends += r.stats.ackedAppends;
      }
      // A mutant that stops the workload must not pass for a clean run.
      expect(ackedAppends).toBeGreaterThan(SEEDS_PER_CASE * 10);
    });
  }
});
