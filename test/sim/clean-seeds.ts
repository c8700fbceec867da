// The clean simulator (src/ as it is, every planted bug off) over a range of seeds, as
// vitest cases of at most 1,000 seeds each: no violations. CI runs seeds 1..4,000 in four
// files, so vitest spreads them over its workers, and the seeds above them that once
// found a bug. Longer campaigns run outside the tests: `npm run sim -- --seeds 100000
// --from N`.

import { describe, expect, it } from 'vitest';

import { campaign, formatSummary } from './campaign.js';

const SEEDS_PER_CASE = 1000;
/**
 * Seeds above 4,000 that once found a bug in the clean campaign, when CI ran seeds 1 to
 * 10,000 (docs/reliability.md): 6169 and 9023 each exhausted the heap (a leak in
 * `CallBudget.race`; epochs that could not succeed, started 120 times a virtual minute).
 * The bugs with a regression seed of their own are in known-issues.ts.
 */
export const ONCE_FOUND = [6169, 9023] as const;

/** One case per seed of `seeds`. */
export function cleanSeedList(seeds: readonly number[]): void {
  describe('clean simulator: seeds that once found a bug', () => {
    for (const seed of seeds) {
      it(`seed ${seed}: no violations`, async () => {
        const failures: string[] = [];
        await campaign({ seeds: 1, from: seed }, (r) => {
          for (const v of r.violations) failures.push(`${v.kind}: ${v.message.split('\n')[0]} -- replay: npm run sim -- --seed ${r.seed}`);
        });
        expect(failures).toEqual([]);
      }, 120_000);
    }
  });
}

export function cleanSeeds(from: number, count: number): void {
  describe(`clean simulator: seeds ${from}..${from + count - 1}`, () => {
    for (let start = from; start < from + count; start += SEEDS_PER_CASE) {
      const seeds = Math.min(SEEDS_PER_CASE, from + count - start);
      it(`seeds ${start}..${start + seeds - 1}: no violations`, async () => {
        const failures: string[] = [];
        const s = await campaign({ seeds, from: start }, (r) => {
          for (const v of r.violations) failures.push(`seed ${r.seed} (trace ${r.traceHash}): ${v.kind}: ${v.message.split('\n')[0]} -- replay: npm run sim -- --seed ${r.seed}`);
        });
        if (failures.length > 0) console.log(formatSummary(s));
        expect(failures).toEqual([]);
        expect(s.ackedAppends).toBeGreaterThan(seeds * 10);
      }, 600_000);
    }
  });
}
