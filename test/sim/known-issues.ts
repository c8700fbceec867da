// Bugs the simulator found in src/ (not planted), each with the fix the
// simulator proposes. The simulated client, reconfiguration and sequencer run
// src/ faithfully by default; `--fixes` (or `--fix NAME`) switches on the
// proposed fix inside the simulator (src/ is never edited), so a campaign can
// show each finding's seeds and that its fix makes them pass.
//
// `npm run sim -- --known` runs, for each issue, seeds with every fix on
// except that one, until one fails: the seed to replay it.

export interface KnownIssue {
  readonly name: string;
  /** Where the bug is. */
  readonly where: string;
  readonly what: string;
  readonly fix: string;
  /** Shows only with trims of addresses still being written (RunOptions.wildTrims). */
  readonly wildTrims?: boolean;
  /** A seed that fails with every fix on but this one and passes with all (found by `npm run sim -- --known`). */
  readonly seed?: number;
  /** What its violations look like (`kind: message`): a hunt counts only these. */
  readonly shows: RegExp;
}

export const KNOWN_ISSUES: readonly KnownIssue[] = [
  {
    name: 'address-outlives-epoch',
    shows: /^(order: .*at epoch (\d+); the store's latest epoch is \2\b|tokens: .*written at an earlier epoch)/,
    seed: 35,
    where: 'src/client/client.ts #appendAt (an append keeps its address across a refresh) with #token',
    what:
      'An address taken from the sequencer of epoch e is written under a later epoch. If the head never took it under e, no unit counted it in ' +
      'its seal tail, so the next sequencer may start at or below it: tail() then answers at or below an acknowledged address (invariant 6), ' +
      'and the new sequencer hands the address out again (invariant 5; the second writer gets ERR_WRITTEN). It happens after ERR_SEALED at ' +
      "the head, and also without any ERR_SEALED when the client adopted a newer projection while its TOKEN was in flight.",
    fix:
      "remember the epoch of each token; under a newer projection keep the address only if it is below the new sequencer's TAIL, else take a new " +
      'token (at or above that tail, no sealed head took our write, so abandoning the address duplicates nothing)',
  },
  {
    name: 'refresh-on-lost-sequencer',
    shows: /^liveness: .*ERR_IO (TOKEN|TAIL)/,
    seed: 7,
    where: 'src/client/client.ts #sequencerRequest (TOKEN, TAIL)',
    what:
      'A client only reloads the projection on ERR_SEALED. When its sequencer dies and a reconfiguration moves it, a client whose next requests ' +
      'go to the sequencer (appends, tail) gets ERR_IO forever: nothing it does ever answers ERR_SEALED.',
    fix: 'when a sequencer request is lost, reload the projection; if it is newer, retry under it',
  },
  {
    name: 'stale-sequencer-tail',
    shows: /^order: .*at epoch (\d+); the store's latest epoch is (?!\1\b)\d+/,
    seed: 18509,
    where: 'src/client/client.ts tail()',
    what:
      'tail() trusts the answer of the sequencer its projection names. A replaced sequencer that the reconfiguration could not seal (it seals ' +
      'the old one best-effort) still answers TAIL at the old epoch, below appends acknowledged under the new one (invariant 6).',
    fix: 'after the TAIL answer, check that its epoch is still the latest (reload the projection); if not, ask again under the newer one',
  },
  {
    name: 'trim-flicker',
    shows: /^(write-once: .*after it read as trimmed|linearizability\/stale-read)/,
    seed: 43,
    where: 'src/client/chain.ts (ReadOp/FillOp on ERR_TRIMMED below the tail)',
    what:
      'A read or fill that meets ERR_TRIMMED at a replica other than the tail answers "trimmed" for good, but trims reach the replicas one at a ' +
      'time (trim walks head -> tail, prefixTrim asks all units at once) and can stop half-way: the tail still serves the value, or still takes a ' +
      'write from a writer that passed the head before the trim. A fill answers trimmed, a later read answers the value (invariant 1).',
    fix: 'treat a trim like a value decided at the head: on ERR_TRIMMED below the tail, copy the trim down the chain (TRIM each later replica in order), then answer trimmed',
  },
  {
    name: 'bootstrap-after-seal',
    shows: /^tokens: .*written at an earlier epoch/,
    seed: 11,
    where: 'src/client/reconfigure.ts (BOOTSTRAP answered ERR_SEALED at the new epoch is accepted) with src/sequencer/state.ts',
    what:
      'Two reconfigurations to epoch E: one moves the sequencer and SEALs the old one to E (SEAL sets no start tail), the other keeps it and ' +
      'sends BOOTSTRAP(E, T); the sequencer refuses (already at E) and the machine takes that as "bootstrapped by a concurrent reconfiguration". ' +
      'If the keeper wins, the sequencer hands out tokens below T: addresses already written (filled) under the old epoch (invariant 5).',
    fix: 'Sequencer: BOOTSTRAP at the epoch it is already at raises the counter to the start tail (never down) instead of refusing',
  },
  {
    name: 'partial-prefix-trim',
    shows: /^(write-once: .*after it read as trimmed|linearizability\/stale-read)/,
    seed: 7812,
    where: 'src/client/client.ts prefixTrim()',
    what:
      'prefixTrim sends PREFIX_TRIM to every unit once; a lost request fails the call with ERR_IO and leaves the units trimmed to different ' +
      'marks. A reader sees trimmed at one replica; when that replica is later lost and replaced, the survivor serves the old value again.',
    fix:
      'resend a lost PREFIX_TRIM (as chain requests are) before failing. That is only part of it: a client that dies half-way leaves the ' +
      'same state (rare: seen in a long campaign with every fix on). The full fix needs src/: SEAL ' +
      'should answer the trim mark too, and a reconfiguration should prefix-trim the next projection\'s units to the largest one',
  },
  {
    name: 'append-trimmed-below-head',
    shows: /^linearizability\/payload-at-two-addresses/,
    seed: 56,
    where: 'src/client/chain.ts AppendOp (trimmed() -> newToken, whichever replica answered) with client.ts #appendAt (a refresh restarts the walk)',
    what:
      'An append whose value won the head meets ERR_TRIMMED later — at a replica further down (a trim reached it first), or at the head itself ' +
      'when a refresh restarted the chain walk after the head had taken the write — and takes a new token. But its value was already decided ' +
      'at the old address, and a reader may have copied it down and returned it: the payload is appended twice, at two addresses (found by ' +
      'the linearizability checker of test/check).',
    fix:
      'remember, across refreshes, that the head took the write at this address; after that, ERR_TRIMMED anywhere acknowledges the append at ' +
      'its address (written, then trimmed). Without that knowledge ERR_TRIMMED still means a new token',
    wildTrims: true,
  },
];

export const KNOWN_ISSUE_NAMES: readonly string[] = KNOWN_ISSUES.map((k) => k.name);

export class Fixes {
  readonly #on: ReadonlySet<string>;

  constructor(names: readonly string[] = []) {
    for (const n of names) if (!KNOWN_ISSUE_NAMES.includes(n)) throw new Error(`unknown fix ${n}; known: ${KNOWN_ISSUE_NAMES.join(', ')}`);
    this.#on = new Set(names);
  }

  static all(): Fixes {
    return new Fixes(KNOWN_ISSUE_NAMES);
  }

  has(name: string): boolean {
    return this.#on.has(name);
  }

  get names(): string[] {
    return [...this.#on];
  }
}
