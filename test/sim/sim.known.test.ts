// The bugs the simulator found in src/ (known-issues.ts) still reproduce, and
// their proposed fixes still make the same seed pass. When one of these starts
// failing because the faithful run passes, src/ has changed: if it fixed the
// bug, drop the issue (and its simulated fix) from known-issues.ts; the
// simulated client (client.ts) mirrors src/client/client.ts's policy, so a
// fix there must be mirrored too.

import { describe, expect, it } from 'vitest';

import { KNOWN_ISSUES, KNOWN_ISSUE_NAMES } from './known-issues.js';
import { runSeed } from './run.js';

describe('src/ bugs found by the simulator', () => {
  for (const issue of KNOWN_ISSUES) {
    const { seed } = issue;
    it.skipIf(seed === undefined)(`${issue.name} (seed ${seed}): fails without its fix, passes with it`, async () => {
      const wildTrims = issue.wildTrims ?? false;
      const without = await runSeed({ seed: seed!, wildTrims, fixes: KNOWN_ISSUE_NAMES.filter((n) => n !== issue.name) });
      const shown = without.violations.filter((v) => issue.shows.test(`${v.kind}: ${v.message}`));
      expect(shown.length, `${issue.name} no longer shows on seed ${seed}: see the header of this file`).toBeGreaterThan(0);
      const fixed = await runSeed({ seed: seed!, wildTrims, fixes: KNOWN_ISSUE_NAMES });
      expect(fixed.violations).toEqual([]);
    }, 120_000);
  }
});
