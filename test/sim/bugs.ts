// Planted bugs: deliberately broken variants of the system, each switched on
// by name (`--bug NAME`). They live in the simulator's stand-ins (engine.ts,
// sequencer.ts, store.ts), in patches over the real client machines
// (patches.ts) and in the client's view of the store (client.ts); src/ is
// never edited (mutation testing, `npm run mutate`, plants bugs in src/). The
// bug tests run each one over a bounded number of seeds and assert that the
// invariant it breaks is the one a checker reports (`targets`: violation
// kinds; 'linearizability' also matches every 'linearizability/...').

export interface BugInfo {
  readonly name: string;
  readonly layer: 'engine' | 'unit' | 'sequencer' | 'store' | 'client' | 'reconfig' | 'manager';
  readonly description: string;
  /** The violation kinds that show this bug ('linearizability' matches 'linearizability/...'). */
  readonly targets: readonly string[];
  /** Seeds the bug test may take to catch it (default 400): some bugs need a rare interleaving. */
  readonly huntSeeds?: number;
}

/** Whether a violation of `kind` is one `bug` targets. */
export function targets(bug: BugInfo, kind: string): boolean {
  return bug.targets.some((t) => kind === t || kind.startsWith(`${t}/`));
}

export const BUGS: readonly BugInfo[] = [
  // storage engine / unit
  { name: 'skip-epoch-check', layer: 'engine', description: 'the unit serves reads, writes, fills and trims whatever epoch they carry', targets: ['epoch'] },
  { name: 'overwrite', layer: 'engine', description: 'writes are not write-once: a WRITE replaces data or junk already there', targets: ['write-once', 'durability', 'linearizability'] },
  { name: 'fill-overwrites', layer: 'engine', description: 'a FILL replaces data already written with junk', targets: ['write-once', 'durability', 'linearizability'] },
  { name: 'written-same-always', layer: 'engine', description: 'ERR_WRITTEN to a WRITE always says "same bytes", even when they differ', targets: ['durability', 'write-once', 'linearizability'] },
  { name: 'seal-not-durable', layer: 'engine', description: 'a seal moves the epoch in memory only: a restarted unit is back at its old epoch', targets: ['epoch'] },
  // Shows only when a SEAL for an older epoch arrives after a newer one (a delayed or duplicated packet).
  { name: 'seal-not-monotonic', layer: 'engine', description: 'a seal to any epoch other than the current one is accepted, even a lower one', targets: ['epoch'], huntSeeds: 1000 },
  { name: 'lose-acked-write', layer: 'engine', description: 'writes are acknowledged from a write-back cache; a crash loses what was not flushed', targets: ['durability'] },
  { name: 'seal-tail-off-by-one', layer: 'engine', description: "a seal answers the unit's highest address instead of the address after it", targets: ['tokens', 'order'] },
  { name: 'tail-ignores-junk', layer: 'engine', description: "junk fills do not move the unit's tail", targets: ['tokens', 'order'] },
  { name: 'write-ignores-trim', layer: 'engine', description: 'writes and fills land in trimmed addresses', targets: ['write-once', 'linearizability'] },
  { name: 'read-ignores-trim-mark', layer: 'engine', description: 'reads below the prefix-trim mark still return the old values', targets: ['write-once', 'linearizability'] },
  { name: 'trim-mark-not-durable', layer: 'engine', description: 'a prefix trim moves the trim mark in memory only', targets: ['write-once', 'linearizability'] },
  // sequencer
  { name: 'sequencer-duplicate-token', layer: 'sequencer', description: 'every fifth TOKEN answer repeats the previous first token', targets: ['tokens'] },
  { name: 'tail-stale', layer: 'sequencer', description: 'TAIL answers the value of the previous TAIL request', targets: ['order'] },
  { name: 'sequencer-tail-inflated', layer: 'sequencer', description: 'TAIL answers 1,000 above the next token (a reader then fills past the tail)', targets: ['past-tail'] },
  { name: 'sequencer-skip-epoch-check', layer: 'sequencer', description: 'the sequencer hands out tokens to requests of any epoch', targets: ['epoch'] },
  // streams (docs/streams.md)
  {
    name: 'streams-never-reset',
    layer: 'sequencer',
    description: 'a BOOTSTRAP never resets the stream tails (resetStreams ignored): a new sequencer answers from empty ones at once, cutting every stream at the failover',
    targets: ['stream'],
  },
  {
    name: 'stream-tails-while-recovering',
    layer: 'sequencer',
    description: 'STREAM_TOKEN and STREAM_TAILS are answered while the stream tails are being rebuilt (no ERR_RECOVERING)',
    targets: ['stream'],
  },
  { name: 'backpointers-drop-newest', layer: 'sequencer', description: "a STREAM_TOKEN's backpointers leave out each stream's newest address", targets: ['stream'] },
  {
    name: 'seed-skips-contiguity',
    layer: 'sequencer',
    description: "a STREAM_SEED is taken even when its range does not end where the sequencer's knowledge begins (a late seeder's addresses are added again)",
    targets: ['stream'],
  },
  { name: 'recovery-done-early', layer: 'client', description: 'a stream recovery says done one range early: the lowest range of the log is never seeded', targets: ['stream'] },
  { name: 'reader-no-scan', layer: 'client', description: 'a stream reader whose backpointer walk is cut does not scan down for the stream: it takes the cut for its start', targets: ['stream'] },
  // projection store
  { name: 'store-accepts-second', layer: 'store', description: 'the store accepts a second proposal for an epoch, replacing the first', targets: ['projection'] },
  // client chain driver
  { name: 'ack-after-head', layer: 'client', description: 'an append is acknowledged once the head has it, before the rest of the chain', targets: ['durability'] },
  {
    name: 'fill-without-reading-head',
    layer: 'client',
    description: "a fill that finds data at the head copies junk down instead of the head's value",
    targets: ['chain-invariant', 'write-once', 'durability'],
  },
  { name: 'read-from-head', layer: 'client', description: 'reads go to the head of the chain instead of the tail', targets: ['durability'] },
  { name: 'junk-not-propagated', layer: 'client', description: 'a fill writes junk at the head only and does not copy it down the chain', targets: ['durability'] },
  { name: 'chain-reversed', layer: 'client', description: 'appends write the chain tail -> head', targets: ['durability'] },
  {
    name: 'append-ignores-newtoken',
    layer: 'client',
    description: 'an append whose address another value took (ERR_WRITTEN at the head) is acknowledged anyway',
    targets: ['write-once', 'linearizability'],
  },
  { name: 'budget-not-raced', layer: 'client', description: "a call's waits do not end at its deadline (only the checks between them do)", targets: ['deadline'] },
  { name: 'client-no-refresh', layer: 'client', description: 'a client never reloads the projection on ERR_SEALED: it keeps its old epoch forever', targets: ['liveness'] },
  { name: 'refresh-epoch-only', layer: 'client', description: "on ERR_SEALED a client takes the unit's epoch number but keeps its old layout", targets: ['projection'] },
  // reconfiguration
  { name: 'bootstrap-at-zero', layer: 'reconfig', description: 'a new sequencer is bootstrapped with start tail 0 (tokens are reused after failover)', targets: ['tokens'] },
  { name: 'reconfig-min-tail', layer: 'reconfig', description: "the new sequencer starts at the smallest of the units' tails, not the largest", targets: ['tokens'] },
  { name: 'reconfig-skip-seal', layer: 'reconfig', description: 'a reconfiguration asks the units for their tails without sealing them', targets: ['order', 'tokens', 'liveness'] },
  { name: 'reconfig-no-adopt', layer: 'reconfig', description: 'a reconfiguration that lost the proposal race uses its own projection anyway', targets: ['projection'] },
  { name: 'reconfig-ignore-sealed-unit', layer: 'reconfig', description: 'a unit already sealed by a competing reconfiguration counts with tail 0', targets: ['tokens'] },
  // manager: failure detector, replacement and rebuild
  { name: 'rebuild-skip-copy', layer: 'manager', description: 'a rebuild pass reports every chain copied without copying anything', targets: ['rebuild'] },
  {
    name: 'rebuild-resume-past-gap',
    layer: 'manager',
    description: "a rebuild's resume point follows the highest batch copied, not the lowest still copying: a pass started again skips what had not finished",
    targets: ['rebuild'],
  },
  { name: 'rebuild-drops-last', layer: 'manager', description: 'a rebuild pass copies each chain but its last address (an off-by-one in the plan)', targets: ['rebuild'] },
  { name: 'rebuild-copies-from-tail', layer: 'manager', description: "a rebuild copies from the chain's last unit (one being rebuilt) instead of its last whole replica", targets: ['rebuild'] },
  { name: 'rebuild-done-on-failure', layer: 'manager', description: 'a rebuild pass that stopped short (a failed request) is taken for a finished one', targets: ['rebuild'] },
  { name: 'rebuild-never-retries', layer: 'manager', description: 'a rebuild pass that stopped short is forgotten: the manager waits for it forever', targets: ['stuck'] },
  { name: 'rebuilt-marks-all', layer: 'manager', description: "when one unit's rebuild is done, every unit being rebuilt is marked whole", targets: ['rebuild'] },
  { name: 'rebuilt-on-start', layer: 'manager', description: 'a unit is marked whole when its rebuild starts, not when the copy is done', targets: ['rebuild'] },
  { name: 'epoch-storm', layer: 'manager', description: 'the manager starts a new epoch at every tick, past its per-minute guard', targets: ['epoch-rate'] },
  {
    name: 'spare-not-empty',
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
