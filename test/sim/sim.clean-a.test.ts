// The clean simulator (src/ with the simulator's proposed fixes for the src/
// bugs it found, known-issues.ts) over seeds 1..5000: no
// violations. Seeds 1..10,000 are split over sim.clean-a and sim.clean-b so
// the two files run on two workers.

import { describe, expect, it } from 'vitest';

import { campaign, formatSummary } from './campaign.js';
import { KNOWN_ISSUE_NAMES } from './known-issues.js';

const FROM = 1;
const SEEDS_PER_CASE = 1000;

describe('clean simulator: seeds 1..5000', () => {
  for (let i = 0; i < 5; i++) {
    const from = FROM + i * SEEDS_PER_CASE;
    it(`seeds ${from}..${from + SEEDS_PER_CASE - 1}: no violations`, async () => {
      const failures: string[] = [];
      const s = await campaign({ seeds: SEEDS_PER_CASE, from, fixes: KNOWN_ISSUE_NAMES }, (r) => {
        for (const v of r.violations) failures.push(`seed ${r.seed} (trace ${r.traceHash}): ${v.kind}: ${v.message.split('\n')[0]} -- replay: npm run sim -- --seed ${r.seed} --fixes`);
      });
      if (failures.length > 0) console.log(formatSummary(s));
      expect(failures).toEqual([]);
      expect(s.ackedAppends).toBeGreaterThan(SEEDS_PER_CASE * 10);
    }, 600_000);
  }
});
