// Planted bugs: deliberately broken variants of the system, each switched on
// by name (`--bug NAME`). They live in the simulator's stand-ins (engine.ts,
// sequencer.ts, store.ts), in patches over the real client machines
// (patches.ts) and in the client's view of the store (client.ts); src/ is
// never edited (mutation testing, `npm run mutate`, plants bugs in src/). The
// bug tests run each one over a bounded number of seeds, from its `firstSeed`,
// and assert that the invariant it breaks is the one a checker reports (`targets`: violation
// kinds; 'linearizability' also matches every 'linearizability/...').

export interface BugInfo {
  readonly name: string;
  readonly layer: 'engine' | 'unit' | 'sequencer' | 'store' | 'client' | 'reconfig' | 'manager' | 'objects';
  readonly description: string;
  /** The violation kinds that show this bug ('linearizability' matches 'linearizability/...'). */
  readonly targets: readonly string[];
  /** Seeds a hunt may take to catch it (default 400): some bugs need a rare interleaving. */
  readonly huntSeeds?: number;
  /**
   * The first seed that trips it, hunting from seed 1 (`npm run sim -- --bugs` prints it,
   * and flags a drift). The bug test starts its hunt here, so CI spends its seeds on the
   * clean campaign rather than re-walking the ones below; a change to the simulator that
   * moves the seed only makes the hunt walk on from here, up to `huntSeeds`.
   */
  readonly firstSeed: number;
}

/** Whether a violation of `kind` is one `bug` targets. */
export function targets(bug: BugInfo, kind: string): boolean {
  return bug.targets.some((t) => kind === t || kind.startsWith(`${t}/`));
}

export const BUGS: readonly BugInfo[] = [
  // storage engine / unit
  { name: 'skip-epoch-check', firstSeed: 1, layer: 'engine', description: 'the unit serves reads, writes, fills and trims whatever epoch they carry', targets: ['epoch'] },
  { name: 'overwrite', firstSeed: 1, layer: 'engine', description: 'writes are not write-once: a WRITE replaces data or junk already there', targets: ['write-once', 'durability', 'linearizability'] },
  { name: 'fill-overwrites', firstSeed: 2, layer: 'engine', description: 'a FILL replaces data already written with junk', targets: ['write-once', 'durability', 'linearizability'] },
  {
    name: 'written-same-always',
    firstSeed: 73,
    layer: 'engine',
    description: 'ERR_WRITTEN to a WRITE always says "same bytes", even when they differ',
    targets: ['durability', 'write-once', 'linearizability'],
  },
  { name: 'seal-not-durable', firstSeed: 1, layer: 'engine', description: 'a seal moves the epoch in memory only: a restarted unit is back at its old epoch', targets: ['epoch'] },
  // Shows only when a SEAL for an older epoch arrives after a newer one (a delayed or duplicated packet).
  { name: 'seal-not-monotonic', firstSeed: 15, layer: 'engine', description: 'a seal to any epoch other than the current one is accepted, even a lower one', targets: ['epoch'], huntSeeds: 1000 },
  { name: 'lose-acked-write', firstSeed: 1, layer: 'engine', description: 'writes are acknowledged from a write-back cache; a crash loses what was not flushed', targets: ['durability'] },
  { name: 'seal-tail-off-by-one', firstSeed: 1, layer: 'engine', description: "a seal answers the unit's highest address instead of the address after it", targets: ['tokens', 'order'] },
  { name: 'tail-ignores-junk', firstSeed: 10, layer: 'engine', description: "junk fills do not move the unit's tail", targets: ['tokens', 'order'] },
  { name: 'write-ignores-trim', firstSeed: 12, layer: 'engine', description: 'writes and fills land in trimmed addresses', targets: ['write-once', 'linearizability'] },
  { name: 'read-ignores-trim-mark', firstSeed: 3, layer: 'engine', description: 'reads below the prefix-trim mark still return the old values', targets: ['write-once', 'linearizability'] },
  { name: 'trim-mark-not-durable', firstSeed: 18, layer: 'engine', description: 'a prefix trim moves the trim mark in memory only', targets: ['write-once', 'linearizability'] },
  // sequencer
  { name: 'sequencer-duplicate-token', firstSeed: 1, layer: 'sequencer', description: 'every fifth TOKEN answer repeats the previous first token', targets: ['tokens'] },
  { name: 'tail-stale', firstSeed: 1, layer: 'sequencer', description: 'TAIL answers the value of the previous TAIL request', targets: ['order'] },
  { name: 'sequencer-tail-inflated', firstSeed: 1, layer: 'sequencer', description: 'TAIL answers 1,000 above the next token (a reader then fills past the tail)', targets: ['past-tail'] },
  { name: 'sequencer-skip-epoch-check', firstSeed: 1, layer: 'sequencer', description: 'the sequencer hands out tokens to requests of any epoch', targets: ['epoch'] },
  // streams (docs/streams.md)
  {
    name: 'streams-never-reset',
    firstSeed: 1,
    layer: 'sequencer',
    description: 'a BOOTSTRAP never resets the stream tails (resetStreams ignored): a new sequencer answers from empty ones at once, cutting every stream at the failover',
    targets: ['stream'],
  },
  {
    name: 'stream-tails-while-recovering',
    firstSeed: 1,
    layer: 'sequencer',
    description: 'STREAM_TOKEN and STREAM_TAILS are answered while the stream tails are being rebuilt (no ERR_RECOVERING)',
    targets: ['stream'],
  },
  { name: 'backpointers-drop-newest', firstSeed: 46, layer: 'sequencer', description: "a STREAM_TOKEN's backpointers leave out each stream's newest address", targets: ['stream'] },
  {
    name: 'seed-skips-contiguity',
    firstSeed: 33,
    layer: 'sequencer',
    description: "a STREAM_SEED is taken even when its range does not end where the sequencer's knowledge begins (a late seeder's addresses are added again)",
    targets: ['stream'],
  },
  { name: 'recovery-done-early', firstSeed: 13, layer: 'client', description: 'a stream recovery says done one range early: the lowest range of the log is never seeded', targets: ['stream'] },
  {
    name: 'reader-no-scan',
    firstSeed: 5,
    layer: 'client',
    description: 'a stream reader whose backpointer walk is cut does not scan down for the stream: it takes the cut for its start',
    targets: ['stream'],
  },
  // transactions and objects (docs/objects.md): hunted with transactions on every seed (campaign.ts huntBug)
  { name: 'tx-decide-always-commits', firstSeed: 2, layer: 'objects', description: 'every runtime decides every commit record committed', targets: ['tx/serializability', 'tx/bank'] },
  {
    name: 'tx-decide-skips-prev',
    firstSeed: 2,
    layer: 'objects',
    description: 'a commit record at c is decided on versions as of c - 2: a conflicting write committed just below it is missed',
    targets: ['tx/serializability', 'tx/bank'],
  },
  {
    name: 'tx-decide-ignores-whole',
    firstSeed: 1,
    layer: 'objects',
    description: 'reads of a whole object (a counter, entries, size) are not checked when a commit record is decided',
    targets: ['tx/serializability'],
  },
  {
    name: 'tx-decision-wrong-address',
    firstSeed: 2,
    layer: 'objects',
    description: "the writer asks (and caches) the decision under the address below its commit record's",
    targets: ['tx/agreement', 'tx/bank'],
  },
  {
    name: 'tx-writer-assumes-commit',
    firstSeed: 1,
    layer: 'objects',
    description: 'the writer takes its appended commit record for committed without deciding it',
    targets: ['tx/agreement', 'tx/bank'],
  },
  { name: 'tx-snapshot-stale', firstSeed: 2, layer: 'objects', description: "a transaction's snapshot is the log's tail minus two, not minus one", targets: ['tx/strict'] },
  { name: 'tx-has-no-read', firstSeed: 1, layer: 'objects', description: 'has() reads the snapshot without recording the read in the read set', targets: ['tx/reads'] },
  { name: 'tx-ryw-snapshot', firstSeed: 1, layer: 'objects', description: "a transaction's read of a key it wrote answers the snapshot's value (no read-your-writes)", targets: ['tx/bank'] },
  { name: 'tx-view-applies-aborted', firstSeed: 1, layer: 'objects', description: "a view applies aborted commit records' writes too", targets: ['tx/serializability', 'tx/bank', 'tx/reads'] },
  {
    name: 'tx-view-applies-everywhere',
    firstSeed: 1,
    layer: 'objects',
    description: "a view applies every write of a committed record as its own object's",
    targets: ['tx/bank', 'tx/reads', 'tx/corrupt'],
  },
  {
    name: 'tx-object-version-keyed',
    firstSeed: 1,
    layer: 'objects',
    description: "a write of some keys does not move the whole object's version: a read of the whole object (entries) misses it",
    targets: ['tx/reads', 'tx/serializability'],
  },
  {
    name: 'tx-update-no-version',
    firstSeed: 1,
    layer: 'objects',
    description: 'a plain update (a put, a multiPut) changes the state but no version: a transaction that read its key commits anyway',
    targets: ['tx/serializability', 'tx/reads'],
  },
  { name: 'tx-checkpoint-drops-versions', firstSeed: 3, layer: 'objects', description: 'a checkpoint loads with its state but every version at -1', targets: ['tx/agreement', 'tx/reads'] },
  // projection store
  { name: 'store-accepts-second', firstSeed: 2, layer: 'store', description: 'the store accepts a second proposal for an epoch, replacing the first', targets: ['projection'] },
  // the client's append path (src/client/append-path.ts; its driver in the simulator, test/sim/append-path.ts)
  {
    name: 'native-ack-without-tail',
    firstSeed: 1,
    layer: 'client',
    description: "the append path's driver answers its WRITEs to a chain's tail itself, OK, without sending them",
    targets: ['durability'],
  },
  // client chain driver
  { name: 'ack-after-head', firstSeed: 1, layer: 'client', description: 'an append is acknowledged once the head has it, before the rest of the chain', targets: ['durability'] },
  {
    name: 'fill-without-reading-head',
    firstSeed: 2,
    layer: 'client',
    description: "a fill that finds data at the head copies junk down instead of the head's value",
    targets: ['chain-invariant', 'write-once', 'durability'],
  },
  { name: 'read-from-head', firstSeed: 1, layer: 'client', description: 'reads go to the head of the chain instead of the tail', targets: ['durability'] },
  { name: 'junk-not-propagated', firstSeed: 1, layer: 'client', description: 'a fill writes junk at the head only and does not copy it down the chain', targets: ['durability'] },
  { name: 'chain-reversed', firstSeed: 1, layer: 'client', description: 'appends write the chain tail -> head', targets: ['durability'] },
  {
    name: 'append-ignores-newtoken',
    firstSeed: 1,
    layer: 'client',
    description: 'an append whose address another value took (ERR_WRITTEN at the head) is acknowledged anyway',
    targets: ['write-once', 'linearizability'],
  },
  { name: 'budget-not-raced', firstSeed: 1, layer: 'client', description: "a call's waits do not end at its deadline (only the checks between them do)", targets: ['deadline'] },
  { name: 'client-no-refresh', firstSeed: 1, layer: 'client', description: 'a client never reloads the projection on ERR_SEALED: it keeps its old epoch forever', targets: ['liveness'] },
  { name: 'refresh-epoch-only', firstSeed: 1, layer: 'client', description: "on ERR_SEALED a client takes the unit's epoch number but keeps its old layout", targets: ['projection'] },
  // reconfiguration
  { name: 'bootstrap-at-zero', firstSeed: 1, layer: 'reconfig', description: 'a new sequencer is bootstrapped with start tail 0 (tokens are reused after failover)', targets: ['tokens'] },
  { name: 'reconfig-min-tail', firstSeed: 2, layer: 'reconfig', description: "the new sequencer starts at the smallest of the units' tails, not the largest", targets: ['tokens'] },
  { name: 'reconfig-skip-seal', firstSeed: 2, layer: 'reconfig', description: 'a reconfiguration asks the units for their tails without sealing them', targets: ['order', 'tokens', 'liveness'] },
  { name: 'reconfig-no-adopt', firstSeed: 2, layer: 'reconfig', description: 'a reconfiguration that lost the proposal race uses its own projection anyway', targets: ['projection'] },
  { name: 'reconfig-ignore-sealed-unit', firstSeed: 2, layer: 'reconfig', description: 'a unit already sealed by a competing reconfiguration counts with tail 0', targets: ['tokens'] },
  // manager: failure detector, replacement and rebuild
  { name: 'rebuild-skip-copy', firstSeed: 5, layer: 'manager', description: 'a rebuild pass reports every chain copied without copying anything', targets: ['rebuild'] },
  {
    name: 'rebuild-resume-past-gap',
    firstSeed: 26,
    layer: 'manager',
    description: "a rebuild's resume point follows the highest batch copied, not the lowest still copying: a pass started again skips what had not finished",
    targets: ['rebuild'],
  },
  { name: 'rebuild-drops-last', firstSeed: 6, layer: 'manager', description: 'a rebuild pass copies each chain but its last address (an off-by-one in the plan)', targets: ['rebuild'] },
  {
    name: 'rebuild-copies-from-tail',
    firstSeed: 5,
    layer: 'manager',
    description: "a rebuild copies from the chain's last unit (one being rebuilt) instead of its last whole replica",
    targets: ['rebuild'],
  },
  { name: 'rebuild-done-on-failure', firstSeed: 28, layer: 'manager', description: 'a rebuild pass that stopped short (a failed request) is taken for a finished one', targets: ['rebuild'] },
  { name: 'rebuild-never-retries', firstSeed: 5, layer: 'manager', description: 'a rebuild pass that stopped short is forgotten: the manager waits for it forever', targets: ['stuck'] },
  { name: 'rebuilt-marks-all', firstSeed: 11, layer: 'manager', description: "when one unit's rebuild is done, every unit being rebuilt is marked whole", targets: ['rebuild'] },
  { name: 'rebuilt-on-start', firstSeed: 5, layer: 'manager', description: 'a unit is marked whole when its rebuild starts, not when the copy is done', targets: ['rebuild'] },
  { name: 'epoch-storm', firstSeed: 1, layer: 'manager', description: 'the manager starts a new epoch at every tick, past its per-minute guard', targets: ['epoch-rate'] },
  {
    name: 'spare-not-empty',
    firstSeed: 906,
    layer: 'manager',
    description: 'the manager takes any spare that answers, even one that still holds entries from an earlier life in the log',
    targets: ['write-once', 'durability', 'linearizability', 'rebuild', 'invariant'],
    huntSeeds: 1000,
  },
];

export const BUG_NAMES: readonly string[] = BUGS.map((b) => b.name);

export class Bugs {
  readonly #on: ReadonlySet<string>;

  constructor(names: readonly string[] = []) {
    for (const n of names) if (!BUG_NAMES.includes(n)) throw new Error(`unknown bug ${n}; known: ${BUG_NAMES.join(', ')}`);
    this.#on = new Set(names);
  }

  has(name: string): boolean {
    return this.#on.has(name);
  }

  get names(): string[] {
    return [...this.#on];
  }

  get any(): boolean {
    return this.#on.size > 0;
  }
}
