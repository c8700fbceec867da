// Bugs the simulator found in src/ (not planted), each a regression check
// against the product itself. All are fixed in src/ now. For each one:
//
// - known-reverts/<name>.patch is the smallest revert of its fix: a `git diff`
//   against src/ as it is, which puts the bug back.
// - `seed` (with `ops` and `wildTrims`) is the first seed, counting from 1,
//   that shows the bug on the product's code with that revert applied:
//   the run reports a violation of `kind`. `showed` is what that run said.
//   A bug no hunt reproduced keeps its entry with `seed: undefined`, and
//   `hunted` says how far the hunt went.
//
// Checked three ways:
// - sim.known.test.ts (CI): each seed passes on the code as it is, and each
//   revert still applies to src/ (a refactor that leaves one stale fails it).
// - `npm run sim -- --known --verify` (slow, not CI): applies each revert to
//   a copy of the tree, compiles the simulator there, and expects the seed to
//   show `kind`; then expects the same seed to pass on the tree as it is.
// - `npm run sim -- --known`: replays each seed on the tree as it is.
//
// A seed is a regression check, not a proof that the bug cannot come back:
// a change anywhere in the simulator or src/ changes what a seed does (rerun
// --verify after one; when it reports MISSED, hunt again with the revert
// applied and record the new seed). The clean campaign (sim.clean.test.ts)
// is the broader net. src/ comments cite these bugs by name, never by seed.

/** Where the reverts live, relative to the repository root. */
export const REVERTS_DIR = 'test/sim/known-reverts';

/** The revert of `name`'s fix, relative to the repository root. */
export function revertFile(name: string): string {
  return `${REVERTS_DIR}/${name}.patch`;
}

export interface FoundBug {
  readonly name: string;
  /** Where the bug was. */
  readonly where: string;
  readonly what: string;
  /** The fix, and the commit that made it. */
  readonly fix: string;
  readonly fixedIn: string;
  /**
   * The first seed (from 1) that shows the bug with its revert applied, run
   * with these options; undefined when the hunt found none.
   */
  readonly seed: number | undefined;
  readonly ops?: number;
  readonly wildTrims?: boolean;
  /** Transactions on (RunOptions.transactions): the object layer's bugs. */
  readonly transactions?: boolean;
  /** The violation kind the seed reports with the revert applied (and not without it). */
  readonly kind: string;
  /** What that run reported (with the revert applied). */
  readonly showed: string;
  /** How the hunt went: the seeds tried (from 1), and what else it met on the way. */
  readonly hunted: string;
}

export const FOUND_BUGS: readonly FoundBug[] = [
  {
    name: 'address-outlives-epoch',
    where: 'src/client/client.ts #appendAt (an append kept its address across a refresh) with #token',
    what:
      'An address taken from the sequencer of epoch e was written under a later epoch. If the head never took it under e, no unit counted it ' +
      'in its seal tail, so the next sequencer could start at or below it: tail() answered at or below an acknowledged address (invariant 6), ' +
      'and the new sequencer handed the address out again (invariant 5). Also without any ERR_SEALED: the client adopted a newer projection ' +
      'while its TOKEN was in flight.',
    fix: "remember each token's epoch; under a newer projection keep the address only below the new sequencer's TAIL, else take a new token",
    fixedIn: '8ec2d36',
    seed: 40,
    kind: 'order',
    hunted: "seeds 1..40 at 1fb1ffd (the client's chain walk moved the old seed 29), no other violation",
    showed: "order: c4#76 tail(): tail() answered 10, but address 11 was acknowledged before the call (the client is at epoch 3; the store's latest epoch is 3 with sequencer seq1:6000)",
  },
  {
    name: 'refresh-on-lost-sequencer',
    where: 'src/client/client.ts #sequencerRequest, #drive',
    what:
      'A client reloaded the projection only on ERR_SEALED. After a sequencer failover, a client whose requests went to the dead sequencer ' +
      '(appends, tail) got ERR_IO forever: nothing it did ever answered ERR_SEALED.',
    fix: 'reload the projection when a unit or the sequencer does not answer; go on under a newer one',
    fixedIn: 'a398a4e',
    seed: undefined,
    kind: 'liveness',
    hunted:
      "seeds 1..6000 at aaffd8b with the revert: no violation at all (seed 7 showed it before; likely hidden now by the store's watch " +
      'and by abandoning requests to servers a new projection drops, which reach the new sequencer without a reload; not verified)',
    showed: 'liveness (seed 7, before): c1: append failed after every fault healed: ERR_TIMEOUT append: its deadline of 1000 ms passed (c3 too)',
  },
  {
    name: 'stale-sequencer-tail',
    where: 'src/client/client.ts tail()',
    what:
      'tail() trusted the sequencer its projection named. A replaced sequencer that the reconfiguration could not seal (the old one is sealed ' +
      'best-effort) still answered TAIL at the old epoch, below appends acknowledged under the new one (invariant 6).',
    fix: 'after the TAIL answer, reload the projection; the answer counts only if its epoch is still the latest',
    fixedIn: '8ec2d36',
    seed: undefined,
    ops: 400,
    kind: 'order',
    hunted: "seeds 1..3000 --ops 400 at 1fb1ffd with the revert: no violation at all (seed 3254 showed it before the chain walk, which changed every seed's course)",
    showed: "order: tail() answered 74, but address 74 was acknowledged before the call (answered by seq8:6000 at epoch 16; the store's latest epoch is 17)",
  },
  {
    name: 'trim-flicker',
    where: 'src/client/chain.ts (ReadOp/FillOp on ERR_TRIMMED above the tail)',
    what:
      'A read or fill that met ERR_TRIMMED at a replica other than the tail answered "trimmed" for good, but trims reach the replicas one at a ' +
      'time and can stop half-way: the tail still served the value, or still took it from a writer that passed the head before the trim. A fill ' +
      'answered trimmed, a later read the value (invariant 1).',
    fix: 'treat a trim like a value decided at the head: copy it down the chain (TRIM each later replica) before answering trimmed',
    fixedIn: '8ec2d36',
    seed: 1033,
    kind: 'write-once',
    hunted:
      'seeds 1..1033 at 5c088d9, the reverted copy loading the addon as the simulator does (hunts before then ran that copy without it, ' +
      "so the append path's seeds failed every append there: 1308 was hunted so; 822 until the chain walk)",
    showed: 'write-once: address 6: final#175 read(6) got data "c0.0.24" after it read as trimmed at 7069.7',
  },
  {
    name: 'bootstrap-after-seal',
    where: 'src/sequencer/state.ts (BOOTSTRAP at the current epoch refused) with src/client/reconfigure.ts (that refusal taken as success)',
    what:
      'Two reconfigurations to epoch E: one moves the sequencer and SEALs the old one to E (SEAL sets no start tail); the other keeps it and ' +
      'sends BOOTSTRAP(E, T), refused (already at E) and taken as "bootstrapped by a concurrent reconfiguration". The keeper won, and its ' +
      'sequencer handed out addresses already written (filled) under the old epoch (invariant 5).',
    fix: 'the Sequencer accepts BOOTSTRAP at its current epoch and only raises the counter',
    fixedIn: 'cc58cf7',
    seed: undefined,
    kind: 'tokens',
    hunted:
      'seeds 1..20000: no violation of any kind. Likely why: since 1a78dc7 a move SEALs the old sequencer only after its own ' +
      'projection won, so the keeper it races no longer wins against a sequencer that move sealed. The refusal still matters if two ' +
      'reconfigurations to one epoch bootstrap the same sequencer from different sealed tails; no seed reached that.',
    showed:
      "not reproduced with its revert. Seen once with the simulator's old hand-written client: tokens: seq2:6000 handed out " + 'token 26 at epoch 7, but address 26 was written at an earlier epoch',
  },
  {
    name: 'partial-prefix-trim',
    where: 'src/client/client.ts prefixTrim(), trim(); src/client/chain.ts (reads of trimmed addresses)',
    what:
      'prefixTrim sent PREFIX_TRIM to every unit once; a lost request failed the call and left the units trimmed to different marks. A reader ' +
      'saw trimmed at one replica; when that replica was later lost and replaced, the survivor served the old value again (invariant 1).',
    fix:
      'resend a lost TRIM or PREFIX_TRIM (bounded); and, for a client that dies half-way, a read or fill that meets ERR_TRIMMED at any ' +
      'replica trims the address on every replica of its chain before answering, so losing the trimmed replica brings nothing back',
    fixedIn: '8ec2d36, e7f19dd',
    seed: undefined,
    kind: 'write-once',
    hunted: "seeds 1..1067 at a356d08 (seed 1067); seeds 1..3000 at 1fb1ffd with the revert: no violation at all (the chain walk changed every seed's course)",
    showed:
      'write-once: address 34: c2#158 streamRead(green) (invoked at 4839.000000000001) got stream entry "c1.0.38" (16477688 [], ba4788b2 [18 5]) after it read as trimmed at 4180.600000000002 (and 14 more)',
  },
  {
    name: 'append-trimmed-below-head',
    where: 'src/client/chain.ts AppendOp (trimmed -> newToken from any replica) with client.ts #appendAt (a refresh restarted the walk)',
    what:
      'An append whose value the head had taken met ERR_TRIMMED later (further down, or at the head after a refresh) and took a new token; ' +
      "a reader had already copied the value down and returned it: one payload at two addresses (found by test/check's linearizability checker).",
    fix: 'AppendProgress: once the head took the write, ERR_TRIMMED anywhere acknowledges the append at its address',
    fixedIn: '8ec2d36',
    seed: 352,
    wildTrims: true,
    kind: 'linearizability/payload-at-two-addresses',
    hunted: 'seeds 1..352 --wild-trims at 5c088d9, the reverted copy loading the addon (160 was hunted without it; 212 before the chain walk)',
    showed: 'linearizability/payload-at-two-addresses: payload "c3.0.1" is at address 3 (#0 c3 append) and at address 1 (#5 c2 read(1)); one append lands at one address',
  },
  {
    name: 'append-acked-after-head-replaced',
    where: 'src/client/chain.ts AppendOp.trimmed (the append-trimmed-below-head fix)',
    what:
      "The head took an append's write and was then lost and replaced; a filler put junk at the new head and a reader returned it; the " +
      'address was trimmed; the append, retried under the new projection, met ERR_TRIMMED and was acknowledged there with its data: two ' +
      'values at one address (write-once broken).',
    fix: 'AppendProgress remembers which unit took the write as head; ERR_TRIMMED acknowledges only while that unit is still the head',
    fixedIn: 'eaf8df3',
    seed: undefined,
    kind: 'write-once',
    hunted:
      'seeds 1..20000: no violation of any kind. With --wild-trims, seeds 1..10000: none that passes without the revert ' +
      '(seed 1154 --wild-trims fails write-once and durability with and without it: a separate open question, not this bug).',
    showed: "not reproduced with its revert. Seen once with the simulator's old hand-written client, past seed 100,000: write-once + " + 'linearizability/conflicting-values',
  },
  {
    name: 'read-ahead-of-rebuild',
    where: 'src/client/chain.ts ReadOp (read-tail): reads from the last whole replica while later ones are being rebuilt',
    what:
      "A read answered from the last whole replica a value (here a filler's junk) that had not reached the replica being rebuilt after it; " +
      'the rebuild had already passed the address while it was a hole, and the filler died before the rebuilt unit. The unit was then made ' +
      'whole without the value a reader had been given: one more failure of the chain and a later reader could be given another value.',
    fix: 'a read served by a replica before others still being rebuilt copies the value onto them (WRITE or FILL) before it answers',
    fixedIn: 'b60d734',
    seed: undefined,
    kind: 'durability',
    hunted:
      'found by the clean campaign (seeds 1..10,000) in CI-sized runs at seed 3924, then re-hunted to seed 2370 at 2d70ee6; ' +
      "seeds 1..3000 at 1fb1ffd with the revert: no violation at all (the chain walk changed every seed's course)",
    showed: 'durability: address 4: c0 follow(3) was given junk but replica s1:7000 durably holds nothing',
  },
  {
    name: 'stream-address-outlives-epoch',
    where: 'src/client/client.ts #appendAt (a stream entry, Placed.stream)',
    what:
      "An appendTo whose STREAM_TOKEN was handed out under an older epoch wrote that address under the new one, as a plain append may. The new epoch's " +
      "sequencer had rebuilt its stream tails below the write, or handed the address out again for something else, so no tail and no later entry's " +
      'backpointers listed it: readers never reached an acknowledged stream entry.',
    fix: 'a stream append keeps its old-epoch address only if its bytes already reached the head before the seal (a read shows them); otherwise it takes a new STREAM_TOKEN',
    fixedIn: '4b90a7c',
    seed: 2341,
    kind: 'stream/missed',
    hunted: 'seeds 1..2341 at 1fb1ffd (the old seed 8997 no longer showed it after the chain walk)',
    showed: "stream/missed: c2#97 streamRead(green) ended at the stream's end without 29 (c0#63 appendTo(c0.0.55), acknowledged before it began, above its position 19)",
  },
  {
    name: 'stream-call-deadline',
    where: 'src/client/stream-reader.ts StreamReader (readNext, readUpTo, tail)',
    what:
      "A reader's call passed its options to every STREAM_TAILS and read inside it, so each got a whole deadline of its own: a readNext " +
      'that walked backpointers and waited on holes ran past the deadline of the call (found when streams joined the simulator).',
    fix: "a reader's call takes one deadline (its deadlineMs, else the client's) and gives each step what is left of it",
    fixedIn: '45932d8',
    seed: 6,
    kind: 'deadline',
    hunted: 'seeds 1..6 after the deadline buckets (seed 1, briefly its seed, no longer showed it; seed 1 until the chain walk)',
    showed: 'deadline: c1#69 streamRead(green): a readNext took 1003.3 ms, past its deadline of 1000 ms',
  },
  {
    name: 'stream-token-wakes-no-poll',
    where: 'src/sequencer/server.ts (the parked WAIT_TAILs were looked at after TOKEN, SEAL and BOOTSTRAP only); the simulator ran the same rule',
    what:
      'A STREAM_TOKEN moves the tail but did not answer the long polls it made answerable: a follower of a log of stream entries waited ' +
      'out its whole poll (10 s by default) for each one (found when streams joined the simulator, which now checks that no answerable poll stays parked).',
    fix: 'tail-waiters.ts wakesWaiters(op), used by the server and the simulator, includes STREAM_TOKEN',
    fixedIn: '45932d8',
    seed: 1,
    kind: 'long-poll',
    hunted: 'seeds 1..1 at 2d70ee6',
    showed: 'long-poll: seq0:6000: WAIT_TAIL #1 (after 0, epoch 1) is still parked after a STREAM_TOKEN, though it can be answered (tail 1, epoch 1)',
  },
  {
    name: 'budget-outlives-call',
    where: 'src/client/budget.ts CallBudget.done (with every Promise.all of requests in a call: prefixTrim, appendBatch)',
    what:
      'A call whose Promise.all failed fast (prefixTrim: one unit answered ERR_SEALED while another, lost, did not answer) returned and ' +
      "released its budget's timer; the other branch went on resending, its deadline passed but never reached, every millisecond forever " +
      '(found when a stream seed of the simulator spent 35 s of CPU on 4.3 million such requests; the simulator now reports a request sent ' +
      'under a budget that is over).',
    fix: 'done() ends the races still in progress and every later wait or request of the budget',
    fixedIn: '45932d8',
    seed: 50,
    kind: 'deadline',
    hunted:
      'seeds 1..50 at 5c088d9 (seed 26 no longer showed it at 3639140: with the revert it failed by exception and liveness first; ' + 'seed 18 before it stopped showing it after the chain walk)',
    showed: 'deadline: prefixTrim 2: a request was sent after the call returned (its budget was over)',
  },
  {
    name: 'view-drops-batch',
    where: 'src/objects/view.ts (applying the entries a readUpTo delivered)',
    what:
      "Applying one entry of a batch a view's reader had delivered failed (its decision timed out); only that entry was kept for the next " +
      'read, the rest of the batch was lost, and the view later went past them as applied: its runtime decided later commit records on ' +
      'versions that missed them, differently from every other runtime.',
    fix: 'keep every delivered entry not yet applied, in order (#unapplied), and apply them first at the next read',
    fixedIn: '7d1fd08',
    seed: 1693,
    transactions: true,
    kind: 'tx/agreement',
    hunted:
      'seeds 1..1693 with --transactions at 69494fc (seed 42 at d1d52c1); one seed before it showed stream/missed and stream/final with the revert and without it: seed 1408, docs/streams.md "Open"',
    showed: 'tx/agreement: the commit record at 22: c1.3 decided commit, c0.2 decided abort (it read key "a2" of bank.a at version 12, and the write at 1 committed before it)',
  },
  {
    name: 'checkpoint-at-last-change',
    where: 'src/objects/runtime.ts checkpoint() with src/objects/checkpoint.ts loadCheckpoint()',
    what:
      'rt.checkpoint wrote the state as of the last entry that changed the object, not as of everything it had played. After a compaction, ' +
      "such a checkpoint written later held a snapshot older than the compaction's, and the loader took the newest marker first: views " +
      'restarted below the trim and stopped with ERR_TRIMMED for good.',
    fix: 'checkpoint the state as of the address the sync reached; load the highest snapshot among the latest markers',
    fixedIn: '7d1fd08',
    seed: 115,
    transactions: true,
    kind: 'tx/liveness',
    hunted: 'seeds 1..115 --transactions at 1fb1ffd (the old seed 68 no longer showed it after the chain walk)',
    showed:
      'tx/liveness: the final runtime could not read the bank after every fault healed: ERR_TRIMMED object bank.log: its stream is trimmed past this view (applied through 26) and no newer checkpoint is there',
  },
  {
    name: 'stream-forgotten-after-trim',
    where: 'src/client/stream-reader.ts #sync, #deliver',
    what:
      "After a compaction and a sequencer failover, the new sequencer's stream tails no longer listed the trimmed entries, so a reader behind " +
      "the trim (a view, or a rebuild replaying an object from its stream's start) took the first entry after it for the stream's start: " +
      'it passed over the trim without ERR_TRIMMED, and its object missed what the trim took (versions, values, decisions).',
    fix:
      "STREAM_TAILS answers the floor its tails were rebuilt from (the units' trim mark) and a reader not past it gets ERR_TRIMMED at floor - 1 " +
      '(af67b03; the first fix, 7d1fd08, read the address above and scanned down); readUpTo also throws for a trim found above its limit',
    fixedIn: 'af67b03, 7d1fd08',
    seed: 231,
    transactions: true,
    kind: 'tx/agreement',
    hunted: 'seeds 1..231 --transactions at 1fb1ffd (the old seed 178 no longer showed it after the chain walk)',
    showed: 'tx/agreement: the commit record at 38: c2.0 decided abort (it read the whole object of bank.b at version 9, and the write at -1 committed before it), c0.0 decided commit',
  },
  {
    name: 'claims-outlive-failover',
    where: 'src/objects/view.ts (applied-through claims) with src/objects/transaction.ts (read-only commit)',
    what:
      'A view\'s "applied through a" past its last entry came from what the sequencer knew. A replacement sequencer starts at the units\' tails ' +
      "and hands out again addresses the old one handed out but nobody wrote: entries appeared below a view's claim (an InvariantError: the " +
      'view broke for good), and runtimes decided commit records differently.',
    fix:
      'stamp claims with the layout epoch and drop them (a fresh reader from the last entry) once the client is at a newer one, and do not let a wait ' +
      'count such a claim; a read at or past the new tail, and a read-only transaction during which the layout changed, throw ERR_CONFLICT',
    fixedIn: '7d1fd08, 69494fc',
    seed: 118,
    transactions: true,
    kind: 'tx/invariant',
    hunted: 'seeds 1..118 at 5c088d9, the reverted copy loading the addon (160 at a356d08 without it; 154 before the projection check ran beside the sequencer request)',
    showed: 'tx/invariant: c0#71 tx(transfer.c0.0.17): InvariantError: corfu invariant broken: object bank.log: entry 27 delivered after 28 was applied',
  },
  {
    name: 'reader-skips-rebuilt-gap',
    where: 'src/client/stream-reader.ts #sync (where the walk down the backpointers is cut)',
    what:
      "After a sequencer failover the stream tails are rebuilt from the log, and a trimmed address is nobody's to the rebuild: the latest addresses it " +
      "lists skip the stream's trimmed entries, and may name older entries below them. The reader scanned down only below its lowest entry, so an " +
      'entry whose four backpointers were all junk (failed appends) hid the stretch below it: a trimmed entry there was passed silently, where the ' +
      'reader must throw ERR_TRIMMED naming it.',
    fix: 'scan below every cut of the walk (an entry whose backpointers hold no entry of the stream), down to the next entry found below it, not only below the lowest',
    fixedIn: '3a502bb',
    seed: undefined,
    kind: 'stream/final',
    hunted:
      'found by the clean campaign, seeds 1,222,001..1,223,000 at 9171606 (seed 1222823); after the chain walk that seed no longer shows it, and seeds 1..3000 at 1fb1ffd with the revert show nothing',
    showed:
      "stream/final: final#249 streamRead(blue) ended at the stream's end without 11 (c1#20 appendTo(c1.0.20), acknowledged before it began, above its position -1), " +
      'and ERR_TRIMMED named nothing at or above it (highest 5)',
  },
  {
    name: 'rebuild-report-after-layout',
    where: 'src/manager/driver.ts #rebuild and #status (the rebuild report `corfu status` shows)',
    what:
      "The manager wrote a rebuild's progress reports without waiting for them, and proposed the projection that makes the unit whole without " +
      'waiting for the last one: two writes in flight to the store could land out of order, so once the layout said the unit was whole the stored ' +
      'report could still say the rebuild was running (found by CI on real processes, test/manager.cluster.test.ts; the simulator had no invariant for it).',
    fix: "each report's write waits for the one before, and the last one (done) is written before the layout marks the unit whole",
    fixedIn: '1fb1ffd',
    seed: 10,
    kind: 'rebuild-status',
    hunted: 'seeds 1..10 at 5c088d9, the reverted copy loading the addon, no other violation (41 was hunted without it)',
    showed: 'rebuild-status: epoch 3 ends the rebuild of s0:7000 while the stored rebuild report says {"unit":"s0:7000","epoch":2,"addressesDone":4,"addressesTotal":4,...,"done":false,...}',
  },
];
