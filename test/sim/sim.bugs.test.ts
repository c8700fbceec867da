// Every planted bug (bugs.ts) must trip the invariant it targets within a
// bounded number of seeds, hunting from the first seed recorded to trip it: a
// violation of another kind does not count (the clean campaigns show the
// baseline has none). How many seeds each bug takes from seed 1 is what
// `npm run sim -- --bugs` measures.

import { afterAll, describe, expect, it } from 'vitest';

import { BUGS } from './bugs.js';
import { huntBug, type Hunt } from './campaign.js';

const MAX_SEEDS = 400;
const hunts: Hunt[] = [];

describe('planted bugs are caught', () => {
  for (const bug of BUGS) {
    it(`${bug.name}: ${bug.description}`, async () => {
      const maxSeeds = bug.huntSeeds ?? MAX_SEEDS;
      const h = await huntBug(bug.name, { maxSeeds, from: bug.firstSeed });
      hunts.push(h);
      expect(h.seed, `${bug.name} tripped none of ${bug.targets.join(', ')} in ${maxSeeds} seeds from ${bug.firstSeed} (first other violation: ${h.other?.kind ?? 'none'})`).toBeDefined();
      expect(bug.targets.some((t) => h.violation!.kind === t || h.violation!.kind.startsWith(`${t}/`))).toBe(true);
    }, 300_000);
  }

  afterAll(() => {
    const caught = hunts.filter((h) => h.seed !== undefined).length;
    const lines = hunts.map((h) => `${h.bug.padEnd(28)} ${h.seed === undefined ? 'NOT CAUGHT' : `seed ${h.seed} (${h.violation?.kind})`}`);
    console.log(`planted bugs caught: ${caught}/${BUGS.length}\n${lines.join('\n')}`);
  });
});
