// The clean simulator (src/ as it is, every planted bug off) over a range of
// seeds, as vitest cases of 1,000 seeds each: no violations. Seeds 1..10,000
// are split over sim.clean-1 .. sim.clean-5 so vitest spreads them over its workers.

import { describe, expect, it } from 'vitest';

import { campaign, formatSummary } from './campaign.js';

const SEEDS_PER_CASE = 1000;

export function cleanSeeds(from: number, count: number): void {
  describe(`clean simulator: seeds ${from}..${from + count - 1}`, () => {
    for (let start = from; start < from + count; start += SEEDS_PER_CASE) {
      it(`seeds ${start}..${start + SEEDS_PER_CASE - 1}: no violations`, async () => {
        const failures: string[] = [];
        const s = await campaign({ seeds: SEEDS_PER_CASE, from: start }, (r) => {
          for (const v of r.violations) failures.push(`seed ${r.seed} (trace ${r.traceHash}): ${v.kind}: ${v.message.split('\n')[0]} -- replay: npm run sim -- --seed ${r.seed}`);
        });
        if (failures.length > 0) console.log(formatSummary(s));
        expect(failures).toEqual([]);
        expect(s.ackedAppends).toBeGreaterThan(SEEDS_PER_CASE * 10);
      }, 600_000);
    }
  });
}
