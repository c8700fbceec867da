// One simulated run: one seed -> one cluster (cluster.ts: 3-5 units, a
// sequencer, the projection store, 2-5 clients), a workload (workload.ts), the
// faults the seed draws (inject.ts), the operator (operator.ts), then every
// fault healed, a liveness probe per client and a full read of the log.
// Returns the violations the checkers found and the trace hash.
//
// Phases:
//   workload  clients run `ops` operations between them; faults are injected;
//             the operator replaces a dead sequencer or a lost unit and
//             finishes a reconfiguration that died half-way.
//   heal      faults stop, partitions heal, crashed units and clients restart,
//             in-flight operations finish; the operator makes the layout usable.
//   probe     every client appends, reads it back and asks the tail (liveness).
//   rebuild   the manager finishes rebuilding every replica a lost unit left
//             (liveness); the final read then reads from the rebuilt units.
//   final     a fresh client reads every address below the tail; on a seed with
//             streams, a fresh reader per stream reads it whole; on a seed with
//             transactions, a fresh runtime reads the whole bank (bank.ts); the
//             follower catches up; then the transaction checks end (TxChecks.finish)
//             and the whole history goes to the linearizability checker (test/check).
//
// The loop pops one event at a time (virtual time, then scheduling order) and
// awaits it when it returns a promise (a unit's handler). An event that woke
// client code (World.wake) is followed by a drain: every promise continuation
// it caused runs then, at its instant. Nothing else runs in between.

import type { StreamStats, TxStats, Violation } from './checkers.js';
import { SimClient } from './client.js';
import { Cluster } from './cluster.js';
import type { FaultCounts } from './faults.js';
import { FaultInjector } from './inject.js';
import { checkHistory } from './linearizability.js';
import { Operator } from './operator.js';
import { installPatches, watchBudgets } from './patches.js';
import { drain } from './runtime.js';
import { Workload } from './workload.js';

export interface RunOptions {
  readonly seed: number;
  readonly bugs?: readonly string[];
  /** Client operations in the workload phase (default 100). */
  readonly ops?: number;
  /** Keep the last N trace lines for the report (default 0). */
  readonly keepTrace?: number;
  /**
   * Trims pick any address below the tail, even one an append is still
   * writing (default: settled addresses only, see Checkers.settled). Then an
   * append whose acknowledgement was lost can land twice, which no client
   * protocol can rule out: expect linearizability/payload-at-two-addresses.
   */
  readonly wildTrims?: boolean;
  /** Transactions on every seed (true) or none (false); default: about a quarter of the seeds (bank.ts). */
  readonly transactions?: boolean;
  /** Ends the run at the first violation this matches: a hunt needs nothing after it (default: run to the end). */
  readonly stopAt?: (v: Violation) => boolean;
}

export interface RunStats {
  ops: number;
  okOps: number;
  failedOps: number;
  unknownOps: number;
  ackedAppends: number;
  events: number;
  virtualMs: number;
  messages: number;
  reconfigurations: number;
  /** Chains a rebuilt unit was made a whole replica of. */
  rebuilds: number;
  epochs: number;
  /** Entries the follower delivered (0 without one). */
  followed: number;
  faults: FaultCounts;
  /** What the stream checks counted (all 0 on a seed without streams). */
  streams: StreamStats;
  /** What the transaction checks counted (all 0 on a seed without transactions). */
  tx: TxStats;
}

export interface RunResult {
  readonly seed: number;
  readonly traceHash: string;
  readonly violations: readonly Violation[];
  readonly stats: RunStats;
  readonly setup: string;
  readonly traceTail: readonly string[];
}

const MAX_VIRTUAL_MS = 600_000;
const MAX_EVENTS = 3_000_000;

export async function runSeed(options: RunOptions): Promise<RunResult> {
  const cl = new Cluster(options);
  const unpatch = installPatches(cl.bugs);
  const unwatch = watchBudgets(cl.check);
  // Stack traces cost more than the rest of a run: every lost request, refused
  // connection and timeout makes an error. They are kept when a trace is asked for.
  const stackTraceLimit = Error.stackTraceLimit;
  if ((options.keepTrace ?? 0) === 0) Error.stackTraceLimit = 0;
  try {
    return await run(cl, options);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    unwatch();
    unpatch();
  }
}

async function run(cl: Cluster, options: RunOptions): Promise<RunResult> {
  const workload = new Workload(cl, options.ops ?? 100, options.wildTrims ?? false);
  const injector = new FaultInjector(cl);
  const operator = new Operator(cl);
  cl.onClientRestart = (c) => workload.restarted(c);
  cl.build();
  workload.start();
  injector.start();
  cl.manager.start();
  await phases(cl, workload, operator, options.stopAt);
  return result(cl, workload.followed);
}

async function phases(cl: Cluster, workload: Workload, operator: Operator, stopAt: ((v: Violation) => boolean) | undefined): Promise<void> {
  const runUntil = (done: () => boolean): Promise<boolean> => runEvents(cl, done, stopAt);
  if (!(await runUntil(() => workload.done && cl.idle()))) return;
  cl.phase = 'heal';
  operator.healEverything();
  if (!(await runUntil(() => cl.idle() && cl.usable()))) return;
  cl.phase = 'probe';
  let probing = cl.clients.length;
  for (const c of [...cl.clients]) workload.probe(c, () => probing--);
  if (!(await runUntil(() => probing === 0))) return;
  // The manager rebuilds every replica a lost unit left (liveness), and the final read goes to them.
  cl.phase = 'rebuild';
  if (!(await runUntil(() => cl.rebuilt() && cl.idle()))) return;
  cl.phase = 'final';
  let reading = true;
  const reader = new SimClient(cl, 'final');
  cl.clients.push(reader);
  workload.finalRead(reader, () => (reading = false));
  if (!(await runUntil(() => !reading))) return;
  reading = true;
  workload.finalStreamReads(reader, () => (reading = false));
  if (!(await runUntil(() => !reading))) return;
  reading = true;
  workload.finalObjects(reader, () => (reading = false));
  if (!(await runUntil(() => !reading))) return;
  if (cl.follower !== undefined) {
    // The follower catches up with everything below the tail the final reader saw.
    const end = cl.finalTail;
    if (!(await runUntil(() => workload.followed >= end))) return;
    workload.stopFollowing();
  }
  cl.phase = 'done';
  cl.manager.crash(); // nothing more to heal; its timers stop with it
  if (cl.bank !== undefined) cl.tx.finish();
  for (const v of checkHistory(cl.history.ops, cl.tx.parts)) cl.check.fail(v.kind, v.message);
}

/**
 * Runs events until `done()`; false (and a 'stuck' violation) when the queue empties or a
 * bound is hit first, and false when a violation matches `stopAt`.
 */
async function runEvents(cl: Cluster, done: () => boolean, stopAt: ((v: Violation) => boolean) | undefined): Promise<boolean> {
  const violations = cl.check.violations;
  let looked = violations.length;
  while (!done()) {
    if (stopAt !== undefined && violations.length > looked) {
      if (violations.slice(looked).some(stopAt)) {
        cl.phase = 'done';
        return false;
      }
      looked = violations.length;
    }
    const ev = cl.queue.pop();
    if (ev === undefined) {
      cl.check.fail('stuck', `nothing left to happen in phase ${cl.phase}`);
      cl.phase = 'done';
      return false;
    }
    if (cl.queue.now > MAX_VIRTUAL_MS || cl.trace.events > MAX_EVENTS) {
      cl.check.fail('stuck', `phase ${cl.phase} did not finish by ${cl.queue.now.toFixed(0)} ms / ${cl.trace.events} events; ${cl.describe()}`);
      cl.phase = 'done';
      return false;
    }
    const r = ev.run();
    if (r !== undefined) await r;
    // Client code this event woke runs to the end before the next event.
    if (cl.woken) {
      cl.woken = false;
      await drain();
    }
  }
  return true;
}

function result(cl: Cluster, followed: number): RunResult {
  const ops = cl.history.ops;
  const latest = cl.store.latestSync();
  const stats: RunStats = {
    ops: ops.length,
    okOps: ops.filter((o) => o.status === 'ok').length,
    failedOps: ops.filter((o) => o.status === 'fail').length,
    unknownOps: ops.filter((o) => o.status === 'unknown' || o.status === 'pending').length,
    ackedAppends: cl.check.acked.size,
    events: cl.trace.events,
    virtualMs: Math.round(cl.queue.now),
    messages: cl.net.stats.sent,
    reconfigurations: cl.reconfigurations,
    rebuilds: cl.check.rebuilds,
    epochs: latest?.epoch ?? 0,
    followed,
    faults: { ...cl.faults, drop: cl.net.stats.dropped, duplicate: cl.net.stats.duplicated, 'delay-spike': cl.net.stats.spiked },
    streams: { ...cl.check.streamStats },
    tx: { ...cl.tx.stats },
  };
  cl.trace.mix(cl.check.violations.length);
  return { seed: cl.seed, traceHash: cl.trace.hash, violations: cl.check.violations, stats, setup: cl.setup, traceTail: cl.trace.tail() };
}
