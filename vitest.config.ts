import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The simulator's campaigns: minutes each, the longest files of the suite by far. */
const CAMPAIGN = /test\/sim\/sim\.(clean|bugs)\.test\.ts$/;

/**
 * Longest first. Vitest orders files by their last durations when it has them, and by
 * size when it does not, as on a fresh CI clone: there the campaigns, tiny files, would
 * start last and run one after another while the other worker idles (several minutes of
 * tail). So they start first, whatever the cache says.
 */
class CampaignsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter((f) => CAMPAIGN.test(f.moduleId)), ...sorted.filter((f) => !CAMPAIGN.test(f.moduleId))];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file gets its own process: the addon keeps process-wide state
    // (shared token counters, open devices), and a crash in native code must
    // take down one file, not the whole run.
    pool: 'forks',
    sequence: { sequencer: CampaignsFirst },
    // Vitest's default is one file at a time on a 2-core machine (cores - 1). Most files
    // wait on child processes, sockets and devices, so two at a time nearly halves the
    // run. One more worker for the clean simulator campaign (sim.clean.test.ts), which
    // only waits on its niced child processes: the files beside it still run two at a time.
    maxWorkers: Math.max(2, availableParallelism()) + 1,
    // Compiles the TypeScript once so the CLI and child-process tests run the
    // current sources, not a stale dist/.
    globalSetup: ['test/global-setup.ts'],
    // Real devices with sync=always: fdatasync on a loop device can be slow on
    // a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
