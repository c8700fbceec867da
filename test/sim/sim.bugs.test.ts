// Every planted bug (bugs.ts) must be caught by the checkers within a bounded
// number of seeds. The runs have every proposed fix on (known-issues.ts), so
// the baseline is clean and what is caught is the planted bug.

import { afterAll, describe, expect, it } from 'vitest';

import { BUGS } from './bugs.js';
import { huntBug, type Hunt } from './campaign.js';

const MAX_SEEDS = 400;
const hunts: Hunt[] = [];

describe('planted bugs are caught', () => {
  for (const bug of BUGS) {
    it(`${bug.name}: ${bug.description}`, async () => {
      const h = await huntBug(bug.name, { maxSeeds: MAX_SEEDS });
      hunts.push(h);
      expect(h.seed, `${bug.name} survived ${MAX_SEEDS} seeds`).toBeDefined();
    }, 300_000);
  }

  afterAll(() => {
    const caught = hunts.filter((h) => h.seed !== undefined).length;
    const lines = hunts.map((h) => `${h.bug.padEnd(28)} ${h.seed === undefined ? 'NOT CAUGHT' : `seed ${h.seed} (${h.violation?.kind})`}`);
    console.log(`planted bugs caught: ${caught}/${BUGS.length}\n${lines.join('\n')}`);
  });
});
