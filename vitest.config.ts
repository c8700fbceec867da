import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file gets its own process: the addon keeps process-wide state
    // (shared token counters, open devices), and a crash in native code must
    // take down one file, not the whole run.
    pool: 'forks',
    // Vitest's default is one file at a time on a 2-core machine (cores - 1). Most files
    // wait on child processes, sockets and devices, so two at a time nearly halves the
    // run; the simulator campaigns, which do use a whole core, are split into five files
    // so two of them can run side by side.
    maxWorkers: Math.max(2, availableParallelism()),
    // Compiles the TypeScript once so the CLI and child-process tests run the
    // current sources, not a stale dist/.
    globalSetup: ['test/global-setup.ts'],
    // Real devices with sync=always: fdatasync on a loop device can be slow on
    // a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
