// The tests Stryker runs against each mutant (stryker.config.mjs): the fast,
// in-process ones — the pure state machines and the layout — and a
// CI-sized simulator campaign that drives the product's own unit handler,
// sequencer, chain machines, client and reconfiguration under faults. No
// servers, no loop devices: a mutant run must take seconds. test/wire.test.ts
// is left out: src/wire is not mutated, and it is the slowest of these files.
//
// Stryker's vitest runner overrides the pool (one worker thread) and adds its
// own setup file; everything else here is ours.

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/client.arguments.test.ts',
      'test/client.budget.test.ts',
      // The client against a cluster in this process (test/helpers/fake-cluster.ts).
      'test/client.connect.test.ts',
      'test/client.appends.test.ts',
      'test/client.stream-calls.test.ts',
      'test/client.follow.test.ts',
      'test/client.ping-close.test.ts',
      'test/client.calls.test.ts',
      'test/client.layout-moves.test.ts',
      'test/client.reads.test.ts',
      'test/client.stream-reader.test.ts',
      'test/client.chain.test.ts',
      // The per-unit batcher against a tiny unit on a loopback socket in this process.
      'test/client.batcher.test.ts',
      'test/client.reconfigure.test.ts',
      'test/sequencer.state.test.ts',
      'test/sequencer.streams.test.ts',
      'test/unit.handler.test.ts',
      'test/unit.handler.machine.test.ts',
      // Not the etcd store's tests: they start a real etcd.
      'test/layout.mapping.test.ts',
      'test/layout.next.test.ts',
      'test/layout.store-url.test.ts',
      'test/layout.file-store.test.ts',
      'test/layout.conformance.file.test.ts',
      'test/sim/sim.known.test.ts',
      'test/sim/sim.mutate.ts',
    ],
    // No globalSetup: these tests import the TypeScript sources (the mutated
    // ones, in Stryker's sandbox), never dist/ — except the file store's
    // cross-process test, whose children run dist/ (see npm run mutate:ts).
    testTimeout: 60_000,
  },
});
