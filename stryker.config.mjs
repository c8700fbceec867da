// Mutation testing of the TypeScript protocol code (npm run mutate:ts; see
// docs/reliability.md, "Mutation testing"). Stryker plants one bug at a time in
// src/client, src/sequencer, src/unit and src/layout and runs the tests of
// vitest.mutate.config.ts against it: the pure machine tests and a simulator
// campaign. The CLI and the transport are not mutated: their tests need child
// processes and sockets, too slow to run once per mutant.
//
// One module: npm run mutate:ts -- --mutate src/layout/next.ts

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: ['src/client/**/*.ts', 'src/sequencer/**/*.ts', 'src/unit/**/*.ts', 'src/layout/**/*.ts'],
  // Each mutant runs only the test cases that reached it in the initial run.
  coverageAnalysis: 'perTest',
  // The sandbox gets only what the tests load. dist/ is there for one fixture:
  // the file store's cross-process test starts proposers that import dist/
  // (npm run mutate:ts builds it first; those children run unmutated code).
  ignorePatterns: ['/*', '!/src', '!/bindings', '!/test', '!/dist', '!/package.json', '!/tsconfig.json', '!/vitest.mutate.config.ts'],
  // The machine is shared: one test runner unless told otherwise (--concurrency N).
  concurrency: 1,
  // A mutant may slow the simulator (more retries, more events) without
  // hanging it; a busy machine slows everything. A hang still ends here.
  timeoutFactor: 2,
  timeoutMS: 20_000,
  // The initial run (every mutation test, with coverage) takes minutes on an idle
  // machine and far longer beside other work; Stryker's default gives it 5.
  dryRunTimeoutMinutes: 45,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/ts/index.html' },
  jsonReporter: { fileName: 'reports/mutation/ts/mutation.json' },
  incrementalFile: 'reports/mutation/ts/stryker-incremental.json',
  clearTextReporter: { allowEmojis: false, logTests: false, maxTestsToLog: 0, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
