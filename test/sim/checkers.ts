// The invariant checkers (docs/design.md "Invariants"). They are called from the
// simulated actors at the moment something observable happens, so every step
// of a run is checked as it happens; `finalChecks` runs once more at the end.
//
//  1 write-once     no address yields two different values (a filled hole is
//                   a value); once read as trimmed, never read as a value by
//                   an operation that started later.
//  2 durability     an acknowledged append reads back with its bytes (or
//                   trimmed, if a trim of it was issued); every value a client
//                   was given is on every replica of its chain, durably.
//  3 epochs         no unit or sequencer answers OK to a request whose epoch
//                   is not its own, or below an epoch it acknowledged a seal for.
//  4 projections    one projection per epoch: everything the store ever
//                   returned and every projection a client adopted agree.
//  5 tokens         no sequencer hands out a token twice; a token handed out
//                   at epoch e is above every address written at an epoch < e.
//  6 order          tail() is above every address acknowledged before the call;
//                   a read answers ERR_UNWRITTEN only for an address no append
//                   had been acknowledged at before the read began.
//  - past-tail      no unit accepts a write or fill at an address no sequencer
//                   has handed out yet (a read never writes past the tail).
//  - rebuild        when a projection makes a unit being rebuilt in a chain a
//                   whole replica of it, the unit durably holds every append
//                   acknowledged at the chain's addresses before then (or it
//                   may be trimmed).
//  - epoch-rate   an incarnation of the manager proposes at most its bound of
//                   projections in any minute (no epoch storm under flapping).
//  7 liveness       (run.ts) after every fault heals, every client can append,
//                   read and ask the tail again.

import { locate } from '../../src/layout/mapping.js';
import { canonicalJson } from '../../src/layout/projection.js';
import type { Projection } from '../../src/layout/projection.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { Disk } from './engine.js';

export interface Violation {
  readonly kind: string;
  readonly time: number;
  readonly message: string;
}

type ValueKey = string; // 'J' for junk, 'D' + latin1 bytes for data

export function keyOf(value: { kind: 'junk' } | { kind: 'data'; payload: Uint8Array }): ValueKey {
  return value.kind === 'junk' ? 'J' : 'D' + Buffer.from(value.payload.buffer, value.payload.byteOffset, value.payload.length).toString('latin1');
}

function show(key: ValueKey): string {
  return key === 'J' ? 'junk' : `data "${key.slice(1)}"`;
}

export class Checkers {
  readonly violations: Violation[] = [];
  now: () => number = () => 0;
  disks: () => ReadonlyMap<string, Disk> = () => new Map();
  /** The units of epoch `e`'s projection, when the store holds it. */
  unitsOf: (epoch: number) => readonly string[] | undefined = () => undefined;

  // 1, 2
  readonly #values = new Map<number, { key: ValueKey; by: string }>();
  readonly #trimmedSeenAt = new Map<number, number>();
  readonly #trimIssued = new Set<number>();
  #prefixTrimIssued = 0;
  readonly acked = new Map<number, { key: ValueKey; by: string; at: number }>();
  /**
   * Addresses whose fate is settled: an acknowledged append's, or junk. The
   * workload trims only these (an application trims what it has consumed): a
   * trim of an address whose writer is still in flight can make the writer
   * append again elsewhere, which no client protocol can rule out when the
   * writer's acknowledgement was lost.
   */
  readonly settled = new Set<number>();
  maxAcked = -1;
  // 3
  readonly #sealAcked = new Map<string, number>();
  // 4
  readonly #projections = new Map<number, string>();
  readonly #projectionOf = new Map<number, Projection>();
  /** Chains a projection made a rebuilt unit a whole replica of. */
  rebuilds = 0;
  readonly #proposals: number[] = [];
  #proposalsOf = -1;
  readonly #checkedProjections = new WeakSet<Projection>();
  // 5
  readonly #issued = new Map<string, Array<[number, number]>>();
  maxToken = -1;

  /**
   * The manager proposed a projection: one incarnation of it proposes at most
   * `perMinute` in any minute of virtual time (the epoch count stays bounded
   * however the servers flap).
   */
  managerProposed(incarnation: number, perMinute: number): void {
    const now = this.now();
    if (incarnation !== this.#proposalsOf) {
      this.#proposalsOf = incarnation;
      this.#proposals.length = 0;
    }
    this.#proposals.push(now);
    while (this.#proposals[0]! <= now - 60_000) this.#proposals.shift();
    if (this.#proposals.length > perMinute) {
      this.fail('epoch-rate', `the manager proposed ${this.#proposals.length} projections in the last minute (its bound is ${perMinute})`);
      this.#proposals.length = 0;
    }
  }

  fail(kind: string, message: string): void {
    this.violations.push({ kind, time: this.now(), message });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  // ---- 1, 2: values ------------------------------------------------------------

  trimIssued(address: number): void {
    this.#trimIssued.add(address);
  }

  prefixTrimIssued(address: number): void {
    if (address > this.#prefixTrimIssued) this.#prefixTrimIssued = address;
  }

  /** Whether some client asked for `address` to be trimmed. */
  mayBeTrimmed(address: number): boolean {
    return address < this.#prefixTrimIssued || this.#trimIssued.has(address);
  }

  /**
   * A client was given `key` at `address` (an acknowledged append, a read or a
   * fill) by an operation invoked at `invokedAt`, on chain `chain`.
   */
  observe(address: number, key: ValueKey, by: string, invokedAt: number, chain: readonly string[]): void {
    if (key === 'J') this.settled.add(address);
    const prev = this.#values.get(address);
    if (prev === undefined) this.#values.set(address, { key, by });
    else if (prev.key !== key) {
      this.fail('write-once', `address ${address}: ${by} got ${show(key)} but ${prev.by} got ${show(prev.key)}`);
    }
    const trimmedAt = this.#trimmedSeenAt.get(address);
    if (trimmedAt !== undefined && invokedAt > trimmedAt) {
      this.fail('write-once', `address ${address}: ${by} (invoked at ${invokedAt}) got ${show(key)} after it read as trimmed at ${trimmedAt}`);
    }
    const acked = this.acked.get(address);
    if (acked !== undefined && acked.key !== key) {
      this.fail('durability', `address ${address}: acknowledged ${show(acked.key)} to ${acked.by}, but ${by} got ${show(key)}`);
    }
    this.#checkReplicated(address, key, by, chain);
  }

  appendAcked(address: number, key: ValueKey, by: string, invokedAt: number, chain: readonly string[]): void {
    const prev = this.acked.get(address);
    if (prev !== undefined) this.fail('durability', `address ${address} acknowledged to two appends: ${prev.by} and ${by}`);
    this.acked.set(address, { key, by, at: this.now() });
    this.settled.add(address);
    if (address > this.maxAcked) this.maxAcked = address;
    this.observe(address, key, by, invokedAt, chain);
  }

  /** A read or fill of `address`, invoked at `invokedAt`, answered ERR_UNWRITTEN (at or above the tail). */
  observeUnwritten(address: number, by: string, invokedAt: number): void {
    const acked = this.acked.get(address);
    if (acked !== undefined && acked.at < invokedAt) {
      this.fail('order', `address ${address}: ${by} (invoked at ${invokedAt}) answered ERR_UNWRITTEN, but ${acked.by} was acknowledged there at ${acked.at}`);
    }
  }

  /** A read or fill found `address` trimmed. */
  observeTrimmed(address: number, by: string): void {
    if (!this.mayBeTrimmed(address)) {
      this.fail('durability', `address ${address}: ${by} found it trimmed, but no client ever trimmed it`);
    }
    if (!this.#trimmedSeenAt.has(address)) this.#trimmedSeenAt.set(address, this.now());
  }

  /** Every replica of `chain` holds `key` at `address` durably (unless a trim of it was issued). */
  #checkReplicated(address: number, key: ValueKey, by: string, chain: readonly string[]): void {
    if (this.mayBeTrimmed(address)) return;
    const disks = this.disks();
    for (const unit of chain) {
      const disk = disks.get(unit);
      if (disk === undefined) continue;
      const slot = disk.valueAt(address);
      const held = slot === 'unwritten' ? 'nothing' : slot.kind === 'trimmed' ? 'trimmed' : show(keyOf(slot));
      if (slot === 'unwritten' || slot.kind === 'trimmed' || keyOf(slot) !== key) {
        this.fail('durability', `address ${address}: ${by} was given ${show(key)} but replica ${unit} durably holds ${held}`);
        return;
      }
    }
  }

  // ---- 3: epochs -----------------------------------------------------------------

  /** A unit or sequencer answered `req` with `res` while at `epochAtService`. */
  served(node: string, req: Request, res: Response, epochAtService: number): void {
    if (res.status !== 'OK') return;
    if ((req.op === 'WRITE' || req.op === 'FILL') && (res.op === 'WRITE' || res.op === 'FILL')) {
      const addresses = req.op === 'WRITE' ? req.entries.map((e) => e.address) : req.addresses;
      addresses.forEach((a, i) => {
        if (res.statuses[i] === 0 && a > this.maxToken) this.fail('past-tail', `${node} took a ${req.op} at ${a}, but no sequencer has handed out a token above ${this.maxToken}`);
      });
    }
    if (req.op === 'SEAL' || req.op === 'BOOTSTRAP') {
      if (req.newEpoch > (this.#sealAcked.get(node) ?? 0)) this.#sealAcked.set(node, req.newEpoch);
      return;
    }
    if (req.op === 'PING' || req.op === 'INFO') return; // answered at any epoch, by design
    if (req.epoch !== epochAtService) {
      this.fail('epoch', `${node} served ${req.op} #${req.requestId} of epoch ${req.epoch} while at epoch ${epochAtService}`);
      return;
    }
    const sealed = this.#sealAcked.get(node) ?? 0;
    if (req.epoch < sealed) {
      this.fail('epoch', `${node} served ${req.op} #${req.requestId} of epoch ${req.epoch} after acknowledging a seal to epoch ${sealed}`);
    }
  }

  // ---- 4: projections --------------------------------------------------------------

  /** `p` came out of the store, or a client adopted it (`by`). */
  projection(p: Projection, by: string): void {
    // The store hands out the same objects again and again: each is checked once.
    if (this.#checkedProjections.has(p)) return;
    this.#checkedProjections.add(p);
    const text = canonicalJson(p);
    const prev = this.#projections.get(p.epoch);
    if (prev === undefined) {
      this.#projections.set(p.epoch, text);
      this.#projectionOf.set(p.epoch, p);
      this.#checkRebuilt(p);
    } else if (prev !== text) this.fail('projection', `epoch ${p.epoch}: ${by} has ${text} but ${prev} was seen before`);
  }

  /** Units that `p` makes whole replicas of chains they were being rebuilt in hold the chains' acknowledged appends. */
  #checkRebuilt(p: Projection): void {
    const before = this.#projectionOf.get(p.epoch - 1);
    if (before === undefined) return;
    before.segments.forEach((seg, i) =>
      seg.stripes.forEach((t, j) => {
        const after = p.segments[i]?.stripes[j];
        if (p.segments[i]?.start === seg.start && p.segments[i]?.end === seg.end && after !== undefined)
          this.rebuilds += (t.rebuilding ?? []).filter((u) => after.chain.includes(u) && after.rebuilding?.includes(u) !== true).length;
      }),
    );
    const disks = this.disks();
    for (const [address, { key, by }] of this.acked) {
      if (this.mayBeTrimmed(address)) continue;
      let was: ReturnType<typeof locate>;
      let now: ReturnType<typeof locate>;
      try {
        was = locate(before, address);
        now = locate(p, address);
      } catch {
        continue; // outside the segments of one of them
      }
      const wasRebuilding = before.segments[was.segmentIndex]!.stripes[was.stripeIndex]!.rebuilding ?? [];
      const stillRebuilding = p.segments[now.segmentIndex]!.stripes[now.stripeIndex]!.rebuilding ?? [];
      for (const unit of wasRebuilding) {
        if (!now.chain.includes(unit) || stillRebuilding.includes(unit)) continue;
        const slot = disks.get(unit)?.valueAt(address);
        if (slot === undefined) continue;
        const held = slot === 'unwritten' ? 'nothing' : slot.kind === 'trimmed' ? 'trimmed' : show(keyOf(slot));
        if (slot === 'unwritten' || slot.kind === 'trimmed' || keyOf(slot) !== key) {
          this.fail('rebuild', `epoch ${p.epoch} makes ${unit} a whole replica of address ${address}, acknowledged to ${by} as ${show(key)}, but it durably holds ${held}`);
          return;
        }
      }
    }
  }

  // ---- 5: tokens -----------------------------------------------------------------

  tokens(sequencer: string, epoch: number, first: number, count: number): void {
    const end = first + count;
    let ranges = this.#issued.get(sequencer);
    if (ranges === undefined) this.#issued.set(sequencer, (ranges = []));
    for (const [a, b] of ranges) {
      if (first < b && a < end) {
        this.fail('tokens', `${sequencer} handed out [${first}, ${end}) at epoch ${epoch}, overlapping [${a}, ${b}) it handed out before`);
        break;
      }
    }
    ranges.push([first, end]);
    if (end - 1 > this.maxToken) this.maxToken = end - 1;
    const written = this.maxWrittenBelow(epoch);
    if (first <= written) {
      this.fail('tokens', `${sequencer} handed out token ${first} at epoch ${epoch}, but address ${written} was written at an earlier epoch`);
    }
  }

  /**
   * The highest address written (data or junk) at an epoch below `epoch` on a
   * unit of epoch `epoch`'s layout (on any unit when that layout is unknown);
   * -1 if none. A unit the layout left behind (a dead unit the manager
   * replaced) may hold a write no survivor has: never acknowledged, never read
   * (a value reaches a reader only from a chain's tail), and served by nobody
   * any more, so a new sequencer may hand its address out again.
   */
  maxWrittenBelow(epoch: number): number {
    const units = this.unitsOf(epoch);
    let max = -1;
    for (const [name, disk] of this.disks()) {
      if (units !== undefined && !units.includes(name)) continue;
      for (const [e, a] of disk.maxWrittenByEpoch) if (e < epoch && a > max) max = a;
    }
    return max;
  }

  // ---- 6: tail ----------------------------------------------------------------------

  /** Call when a tail() starts; pass the result to tailReturned. */
  tailInvoked(): number {
    return this.maxAcked;
  }

  tailReturned(maxAckedAtInvoke: number, tail: number, by: string, detail: string): void {
    if (tail <= maxAckedAtInvoke) {
      this.fail('order', `${by}: tail() answered ${tail}, but address ${maxAckedAtInvoke} was acknowledged before the call (${detail})`);
    }
  }
}
