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
//  - stream         (docs/streams.md) a stream reader delivers strictly increasing
//                   addresses (so each once); each entry it delivers belongs to its
//                   stream and is what an appendTo to that stream wrote there
//                   (acknowledged or in doubt); when a sync ends (readNext answered
//                   undefined) it has delivered every appendTo to the stream
//                   acknowledged before the sync began above where the reader was,
//                   unless ERR_TRIMMED named that address or one above it (the reader
//                   is told to load a checkpoint of the stream up to there), and every
//                   ERR_TRIMMED names an address some client trimmed; a fresh reader at
//                   the end delivers every entry of its stream the log holds (acknowledged,
//                   or in doubt and read by someone) that was not trimmed. A reader never
//                   meets a damaged entry (ERR_CORRUPT: backpointers out of order).
//
// Values are compared as whole entries ('D' + bytes). A stream entry's bytes depend on
// its token (the header carries its backpointers), which its appendTo does not return:
// its key is taken from the replicas that hold it, or, when none does, is its body only
// ('B' + body), which agrees with any entry of that body.

import { checkSerializable, type CommittedTx, type TxKey } from '../check/serializability.js';
import { decodeStreamEntry, streamId, type StreamEntryPayload } from '../../src/client/stream-entry.js';
import { decodeRecord, WHOLE_OBJECT, type CommitRecord, type ObjectRecord, type ReadVersion } from '../../src/objects/records.js';
import type { MapState, ObjectType } from '../../src/objects/types.js';
import type { Decision } from '../../src/objects/view.js';
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

type ValueKey = string; // 'J' for junk, 'D' + latin1 bytes for data, 'B' + latin1 body for a stream entry known by its body only

export function keyOf(value: { kind: 'junk' } | { kind: 'data'; payload: Uint8Array }): ValueKey {
  return value.kind === 'junk' ? 'J' : 'D' + Buffer.from(value.payload.buffer, value.payload.byteOffset, value.payload.length).toString('latin1');
}

/** The stream entry a 'D' key holds; undefined for junk, a plain entry or a damaged header. */
function entryOfKey(key: ValueKey): StreamEntryPayload | undefined {
  if (key[0] !== 'D') return undefined;
  try {
    return decodeStreamEntry(Buffer.from(key.slice(1), 'latin1'));
  } catch {
    return undefined;
  }
}

/** A stream entry's body (latin1); undefined for junk and plain entries. */
function bodyOfKey(key: ValueKey): string | undefined {
  if (key[0] === 'B') return key.slice(1);
  const e = entryOfKey(key);
  return e === undefined ? undefined : Buffer.from(e.body).toString('latin1');
}

/** Two keys name the same value (a body-only key agrees with every stream entry of that body). */
function agree(a: ValueKey, b: ValueKey): boolean {
  if (a === b) return true;
  if (a[0] !== 'B' && b[0] !== 'B') return false;
  const x = bodyOfKey(a);
  return x !== undefined && x === bodyOfKey(b);
}

function show(key: ValueKey): string {
  if (key === 'J') return 'junk';
  if (key[0] === 'B') return `stream entry "${key.slice(1)}"`;
  const e = entryOfKey(key);
  if (e !== undefined) return `stream entry "${Buffer.from(e.body).toString('latin1')}" (${e.streams.map((s) => `${s.id.slice(0, 8)} [${s.backpointers.join(' ')}]`).join(', ')})`;
  return `data "${key.slice(1)}"`;
}

/** What a replica's slot holds, for a message. */
function held(slot: ReturnType<Disk['valueAt']>): string {
  return slot === 'unwritten' ? 'nothing' : slot.kind === 'trimmed' ? 'trimmed' : show(keyOf(slot));
}

/** What the stream checks counted in a run. */
export interface StreamStats {
  /** appendTo calls, and those acknowledged. */
  appends: number;
  acked: number;
  /** Stream reads (one sync each: readNext until it answers undefined) begun, and entries delivered. */
  syncs: number;
  delivered: number;
  /** ERR_TRIMMED from a reader (it sought past the address and went on). */
  trimmed: number;
  /** Addresses readers read scanning down from a cut (StreamReader.stats.scanned). */
  scanned: number;
  /** STREAM_TOKEN and STREAM_TAILS answered ERR_RECOVERING; stream tails rebuilt whole by STREAM_SEED; seeds taken. */
  recovering: number;
  recoveries: number;
  seeds: number;
}

/** One stream reader (one client incarnation, one stream) as the stream checks follow it. */
export class StreamReaderCheck {
  readonly stream: string;
  /** The next delivery must be above this: the last address delivered, or sought past after ERR_TRIMMED. */
  passed = -1;
  /** The sync running now. */
  sync: StreamSync | undefined;

  constructor(stream: string) {
    this.stream = stream;
  }
}

interface StreamSync {
  readonly by: string;
  /** The reader's position when it began. */
  readonly position: number;
  /** How many appends to the stream were acknowledged when it began (a prefix of the stream's acknowledgement order). */
  readonly acked: number;
  readonly delivered: Set<number>;
  /** The highest address an ERR_TRIMMED named in this sync (-1: none). */
  trimmed: number;
}

/**
 * The units `before` was rebuilding that `after` makes whole replicas of the same chain
 * (same segment, same stripe), once per chain.
 */
function rebuildsEnded(before: Projection, after: Projection): string[] {
  const ended: string[] = [];
  before.segments.forEach((seg, i) => {
    const now = after.segments[i];
    if (now?.start !== seg.start || now.end !== seg.end) return;
    seg.stripes.forEach((t, j) => {
      const stripe = now.stripes[j];
      if (stripe !== undefined) ended.push(...(t.rebuilding ?? []).filter((u) => stripe.chain.includes(u) && stripe.rebuilding?.includes(u) !== true));
    });
  });
  return ended;
}

export class Checkers {
  readonly violations: Violation[] = [];
  now: () => number = () => 0;
  disks: () => ReadonlyMap<string, Disk> = () => new Map();
  /** One live unit's disk (looked up on every observation: no map of them all built for it). */
  diskOf: (unit: string) => Disk | undefined = () => undefined;
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
  // stream
  readonly streamStats: StreamStats = { appends: 0, acked: 0, syncs: 0, delivered: 0, trimmed: 0, scanned: 0, recovering: 0, recoveries: 0, seeds: 0 };
  /** Every appendTo by its body (bodies are unique): the streams it names, and where it was acknowledged. */
  readonly #streamWrites = new Map<string, { readonly streams: readonly string[]; readonly ids: readonly string[]; address: number | undefined }>();
  /** Per stream: its acknowledged appends, in acknowledgement order. */
  readonly #streamAcked = new Map<string, Array<{ readonly address: number; readonly by: string }>>();
  readonly #streamIds = new Map<string, string>();
  /**
   * Per stream: trimmed appends no reader can be told of (see streamTailsRebuilt), excused
   * from the completeness check.
   */
  readonly #streamOrphans = new Map<string, Set<number>>();

  /**
   * A projection the manager proposes that ends a unit's rebuild comes after the manager
   * recorded that rebuild as done (`corfu status` reads the record): an operator who sees
   * the unit whole never sees its rebuild still running.
   */
  rebuildReported(before: Projection | undefined, proposed: Projection, report: unknown): void {
    if (before === undefined) return;
    const r = report as { unit?: unknown; done?: unknown } | undefined;
    for (const unit of new Set(rebuildsEnded(before, proposed))) {
      if (r?.unit !== unit || r.done !== true) this.fail('rebuild-status', `epoch ${proposed.epoch} ends the rebuild of ${unit} while the stored rebuild report says ${JSON.stringify(report)}`);
    }
  }

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

  /**
   * Whether two sequencers handed out `address` (a new one started at the units' tails, below
   * tokens the old one handed out that nobody wrote).
   */
  reissued(address: number): boolean {
    let n = 0;
    for (const ranges of this.#issued.values()) if (ranges.some(([a, b]) => a <= address && address < b) && ++n > 1) return true;
    return false;
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
    else if (!agree(prev.key, key)) {
      this.fail('write-once', `address ${address}: ${by} got ${show(key)} but ${prev.by} got ${show(prev.key)}`);
    } else if (prev.key[0] === 'B' && key[0] === 'D') this.#values.set(address, { key, by });
    const trimmedAt = this.#trimmedSeenAt.get(address);
    if (trimmedAt !== undefined && invokedAt > trimmedAt) {
      this.fail('write-once', `address ${address}: ${by} (invoked at ${invokedAt}) got ${show(key)} after it read as trimmed at ${trimmedAt}`);
    }
    const acked = this.acked.get(address);
    if (acked !== undefined && !agree(acked.key, key)) {
      this.fail('durability', `address ${address}: acknowledged ${show(acked.key)} to ${acked.by}, but ${by} got ${show(key)}`);
    }
    this.#checkReplicated(address, key, by, chain);
  }

  /** `settle`: the workload may trim it (false for the object layer's entries: only a compaction trims those). */
  appendAcked(address: number, key: ValueKey, by: string, invokedAt: number, chain: readonly string[], settle = true): void {
    const prev = this.acked.get(address);
    if (prev !== undefined) this.fail('durability', `address ${address} acknowledged to two appends: ${prev.by} and ${by}`);
    this.acked.set(address, { key, by, at: this.now() });
    if (settle) this.settled.add(address);
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
    for (const unit of chain) {
      const disk = this.diskOf(unit);
      if (disk === undefined) continue;
      const slot = disk.valueAt(address);
      if (slot === 'unwritten' || slot.kind === 'trimmed' || !agree(keyOf(slot), key)) {
        this.fail('durability', `address ${address}: ${by} was given ${show(key)} but replica ${unit} durably holds ${held(slot)}`);
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
    this.rebuilds += rebuildsEnded(before, p).length;
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
        const slot = this.diskOf(unit)?.valueAt(address);
        if (slot === undefined) continue;
        if (slot === 'unwritten' || slot.kind === 'trimmed' || !agree(keyOf(slot), key)) {
          this.fail('rebuild', `epoch ${p.epoch} makes ${unit} a whole replica of address ${address}, acknowledged to ${by} as ${show(key)}, but it durably holds ${held(slot)}`);
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

  // ---- stream ------------------------------------------------------------------------

  #idOf(stream: string): string {
    let id = this.#streamIds.get(stream);
    if (id === undefined) this.#streamIds.set(stream, (id = streamId(stream)));
    return id;
  }

  /** An appendTo of `body` (unique in the run) to `streams` was invoked. */
  streamAppendInvoked(body: string, streams: readonly string[]): void {
    this.streamStats.appends++;
    this.#streamWrites.set(body, { streams, ids: streams.map((s) => this.#idOf(s)), address: undefined });
  }

  /** The appendTo of `body` was acknowledged at `address`. */
  streamAppendAcked(address: number, body: string, by: string, invokedAt: number, chain: readonly string[]): void {
    this.streamStats.acked++;
    const write = this.#streamWrites.get(body);
    if (write === undefined) throw new Error(`stream checks: appendTo of "${body}" acknowledged but never invoked`);
    write.address = address;
    for (const s of write.streams) {
      let list = this.#streamAcked.get(s);
      if (list === undefined) this.#streamAcked.set(s, (list = []));
      list.push({ address, by });
    }
    this.appendAcked(address, this.#streamKey(address, body, chain), by, invokedAt, chain);
  }

  /** An object layer's appendTo of `body` (a record of src/objects/records.ts) was acknowledged at `address`. Not settled: only a compaction trims it. */
  objectAppendAcked(address: number, body: string, by: string, invokedAt: number, chain: readonly string[]): void {
    this.appendAcked(address, this.#streamKey(address, body, chain), by, invokedAt, chain, false);
  }

  /** The whole entry of body `body` at `address`, from a replica of `chain` that holds it; else a key of its body only. */
  #streamKey(address: number, body: string, chain: readonly string[]): ValueKey {
    for (const unit of chain) {
      const slot = this.diskOf(unit)?.valueAt(address);
      if (slot === undefined || slot === 'unwritten' || slot.kind !== 'data') continue;
      const key = keyOf(slot);
      if (bodyOfKey(key) === body) return key;
    }
    return 'B' + body;
  }

  /**
   * A sequencer's stream tails were rebuilt from the log (STREAM_SEED). The rebuild skips
   * trimmed addresses: a stream's appends trimmed by then above its newest live one are
   * listed by no entry and no tail any more, so no reader meets them and none can name them
   * in an ERR_TRIMMED (docs/streams.md, "Sequencer failover"). They are excused; a trimmed
   * append below a live one is still reached through that one's backpointers (or the scan
   * from a cut), and must be named.
   */
  streamTailsRebuilt(): void {
    for (const [stream, acked] of this.#streamAcked) {
      let orphans = this.#streamOrphans.get(stream);
      for (const { address } of [...acked].sort((x, y) => y.address - x.address)) {
        if (!this.mayBeTrimmed(address)) break;
        if (orphans === undefined) this.#streamOrphans.set(stream, (orphans = new Set()));
        orphans.add(address);
      }
    }
  }

  /** A reader of `r.stream` begins a sync (readNext until it answers undefined) at `position`. */
  streamSyncStarted(r: StreamReaderCheck, position: number, by: string): void {
    this.streamStats.syncs++;
    r.sync = { by, position, acked: this.#streamAcked.get(r.stream)?.length ?? 0, delivered: new Set(), trimmed: -1 };
  }

  /** The reader delivered the entry at `address`: `body`, in the streams `ids`; its read was sent at `since` or later. */
  streamDelivered(r: StreamReaderCheck, address: number, body: string, ids: readonly string[], since: number, chain: readonly string[]): void {
    this.streamStats.delivered++;
    const by = r.sync?.by ?? `a reader of ${r.stream}`;
    if (address <= r.passed) this.fail('stream/order', `${by} delivered ${address}, at or below ${r.passed}, which it had delivered or sought past`);
    r.passed = Math.max(r.passed, address);
    r.sync?.delivered.add(address);
    const write = this.#streamWrites.get(body);
    const what = `${by} delivered "${body}" at ${address}`;
    if (!ids.includes(this.#idOf(r.stream))) this.fail('stream/foreign', `${what}, an entry of other streams`);
    else if (write === undefined) this.fail('stream/foreign', `${what}, which no appendTo wrote`);
    else if (!write.streams.includes(r.stream)) this.fail('stream/foreign', `${what}, but its appendTo named ${write.streams.join(', ')}`);
    else if (ids.length !== write.ids.length || !write.ids.every((id) => ids.includes(id)))
      this.fail('stream/foreign', `${what} in ${ids.length} streams, but its appendTo named ${write.streams.join(', ')}`);
    else if (write.address !== undefined && write.address !== address) this.fail('stream/foreign', `${what}, but its appendTo was acknowledged at ${write.address}`);
    this.observe(address, this.#streamKey(address, body, chain), by, since, chain);
  }

  /** The reader's readNext threw ERR_TRIMMED naming `address` (it seeks past it and goes on). */
  streamTrimmed(r: StreamReaderCheck, address: number): void {
    this.streamStats.trimmed++;
    const by = r.sync?.by ?? `a reader of ${r.stream}`;
    if (!this.mayBeTrimmed(address)) this.fail('stream/trimmed', `${by}: ERR_TRIMMED named ${address}, which no client trimmed`);
    if (address <= r.passed) this.fail('stream/order', `${by}: ERR_TRIMMED named ${address}, at or below ${r.passed}, which it had delivered or sought past`);
    r.passed = Math.max(r.passed, address);
    if (r.sync !== undefined) r.sync.trimmed = Math.max(r.sync.trimmed, address);
  }

  /**
   * The sync ended: readNext answered undefined. It delivered every append to the stream
   * acknowledged before it began, above the reader's position then, unless ERR_TRIMMED
   * named that address or one above it. `final`: a fresh reader at the end of the run,
   * which must also deliver every entry of the stream the log holds that was not trimmed.
   */
  streamSyncEnded(r: StreamReaderCheck, final: boolean): void {
    const sync = r.sync;
    r.sync = undefined;
    if (sync === undefined) return;
    const orphans = this.#streamOrphans.get(r.stream);
    const missing = (address: number): boolean => !sync.delivered.has(address) && address > sync.trimmed && orphans?.has(address) !== true;
    const acked = this.#streamAcked.get(r.stream) ?? [];
    for (let i = 0; i < (final ? acked.length : sync.acked); i++) {
      const { address, by } = acked[i]!;
      if (address > sync.position && missing(address)) {
        const why = sync.trimmed >= 0 ? `, and ERR_TRIMMED named nothing at or above it (highest ${sync.trimmed})` : '';
        this.fail(final ? 'stream/final' : 'stream/missed', `${sync.by} ended at the stream's end without ${address} (${by}, acknowledged before it began, above its position ${sync.position})${why}`);
        return;
      }
    }
    if (!final) return;
    const id = this.#idOf(r.stream);
    for (const [address, { key, by }] of this.#values) {
      if (!missing(address) || this.mayBeTrimmed(address)) continue;
      const e = key[0] === 'D' ? entryOfKey(key) : undefined;
      const mine = e !== undefined ? e.streams.some((s) => s.id === id) : key[0] === 'B' && this.#streamWrites.get(key.slice(1))?.streams.includes(r.stream) === true;
      if (mine) {
        this.fail('stream/final', `${sync.by} read the stream whole without ${address}, which holds ${show(key)} (seen by ${by}) and was never trimmed`);
        return;
      }
    }
  }
}

// ---- tx: transactions and objects (docs/objects.md) ------------------------------------

/** What the transaction checks counted in a run (all 0 on a seed without transactions). */
export interface TxStats {
  /** CorfuRuntimes started (one per client incarnation that ran an object operation, and the final one). */
  runtimes: number;
  /** Writing transactions (transfers, audits) begun, and how they ended for their client. */
  transactions: number;
  committed: number;
  aborted: number;
  /** Ended otherwise (a timeout, the process died): the outcome is unknown to the client. */
  unknown: number;
  readOnly: number;
  /** Plain updates (map puts, KV multiPuts) and KV multiGets. */
  updates: number;
  multiGets: number;
  checkpoints: number;
  compactions: number;
  /** Decisions runtimes reported (onDecision), and commit records whose writer died with the append in flight. */
  decisions: number;
  diedMidCommit: number;
}

export function noTxStats(): TxStats {
  return { runtimes: 0, transactions: 0, committed: 0, aborted: 0, unknown: 0, readOnly: 0, updates: 0, multiGets: 0, checkpoints: 0, compactions: 0, decisions: 0, diedMidCommit: 0 };
}

/** A read a transaction's body made from its snapshot (not of its own writes), and what it saw. */
export type BodyRead =
  | { readonly object: string; readonly key: string; readonly kind: 'get'; readonly value: unknown }
  | { readonly object: string; readonly key: string; readonly kind: 'has'; readonly value: boolean }
  | { readonly object: string; readonly key: ''; readonly kind: 'entries'; readonly value: ReadonlyArray<readonly [string, unknown]> }
  | { readonly object: string; readonly key: ''; readonly kind: 'size'; readonly value: number }
  | { readonly object: string; readonly key: ''; readonly kind: 'counter'; readonly value: number };

/** A transaction a client saw end well: read-only, or committed (rt.transaction resolved). */
export interface TxObservation {
  readonly by: string;
  readonly snapshot: number;
  /** TxChecks.floor when it began: the highest object write acknowledged before. */
  readonly floor: number;
  /** The runtime's read set (Transaction.readSet): what its commit record carries. */
  readonly reads: readonly ReadVersion[];
  readonly bodyReads: readonly BodyRead[];
  /** Its commit record's address; undefined for a read-only transaction. */
  readonly address: number | undefined;
}

/**
 * The transaction invariants (tx/...). Fed by the simulated clients: every object record
 * an acknowledged appendTo wrote and every one a view replayed (the records in the log),
 * every decision a runtime reached (onDecision), every transaction a client saw commit or
 * read. Checked online (agreement, strict) and at the end (finish):
 *
 *  - tx/agreement      every runtime that decides the commit record at an address reaches
 *                      the same decision; a writer told COMMIT is told what they decided.
 *  - tx/strict         a transaction (or KV multiGet) that began after an object write was
 *                      acknowledged reads at a snapshot at or above that write's address.
 *  - tx/reads          each version in a read set is that of the last committed write to the
 *                      key (or object) at or below the snapshot; each value the body saw is
 *                      what the committed writes up to that version make of it (so every
 *                      runtime that reads after a commit sees its writes); every key the body
 *                      read from the snapshot is in the read set (its commit is validated
 *                      against it).
 *  - tx/serializability  the committed transactions, the plain updates and the read-only
 *                      transactions, as test/check/serializability.ts's graph: no cycle, no
 *                      read of a version no committed write made.
 *
 * "Committed" is what the runtimes decided: a commit record at least one runtime decided
 * committed (with agreement, all). Every version any read saw was applied by some view
 * (a checkpoint's by its writer's), so the records and decisions reported are complete for
 * the checks.
 */
export class TxChecks {
  readonly stats = noTxStats();
  readonly #fail: (kind: string, message: string) => void;
  /** The object types, by object name, to replay values (tx/reads). */
  readonly #types: ReadonlyMap<string, ObjectType<unknown, unknown>>;
  /** Object records in the log, by address; an update with the object whose stream holds it. */
  readonly #records = new Map<number, ObjectRecord>();
  readonly #updateOf = new Map<number, string>();
  readonly #decisions = new Map<number, { readonly committed: boolean; readonly by: string; readonly why: string }>();
  /** Commit addresses whose writer was told COMMIT, and by which operation. */
  readonly #told = new Map<number, string>();
  readonly #observed: TxObservation[] = [];
  /** Checkpoint parts' payloads (latin1): plain entries that may repeat, left out of the linearizability history. */
  readonly parts = new Set<string>();
  /** The highest address of an object write a client was told took effect. */
  floor = -1;
  #reported = new Map<string, number>();

  readonly #reissued: (address: number) => boolean;

  constructor(fail: (kind: string, message: string) => void, types: ReadonlyMap<string, ObjectType<unknown, unknown>>, reissued: (address: number) => boolean) {
    this.#fail = fail;
    this.#types = types;
    this.#reissued = reissued;
  }

  /** At most a few reports of one kind per run: the first ones say it. */
  #report(kind: string, message: string): void {
    const n = this.#reported.get(kind) ?? 0;
    this.#reported.set(kind, n + 1);
    if (n < 3) this.#fail(kind, message);
  }

  /** An object record `payload` is in the log at `address`, in the stream of `object` (an acknowledged appendTo, or a view replayed it). */
  record(address: number, payload: Uint8Array, object: string): void {
    if (this.#records.has(address)) return;
    let record: ObjectRecord;
    try {
      record = decodeRecord(payload);
    } catch {
      return; // not an object record (views never apply one either)
    }
    this.#records.set(address, record);
    if (record.kind === 'update') this.#updateOf.set(address, object);
  }

  /** A client was told its object update at `address` took effect (an update's append, or a transaction's commit). */
  acknowledged(address: number): void {
    if (address > this.floor) this.floor = address;
  }

  /** Runtime `by` decided the commit record at `address`. */
  decided(by: string, address: number, record: CommitRecord, decision: Decision): void {
    this.stats.decisions++;
    if (!this.#records.has(address)) this.#records.set(address, record);
    const prev = this.#decisions.get(address);
    const why = decision.committed ? 'commit' : `abort (${decision.why})`;
    if (prev === undefined) this.#decisions.set(address, { committed: decision.committed, by, why });
    else if (prev.committed !== decision.committed) this.#report('tx/agreement', `the commit record at ${address}: ${prev.by} decided ${prev.why}, ${by} decided ${why}`);
  }

  /** A transaction ended well for its client: committed (`address`) or read-only. */
  observed(t: TxObservation): void {
    if (t.address !== undefined) {
      this.#told.set(t.address, t.by);
      this.acknowledged(t.address);
    }
    this.#observed.push(t);
    if (t.snapshot < t.floor) this.#report('tx/strict', `${t.by} read at snapshot ${t.snapshot}, below the object write at ${t.floor} acknowledged before it began`);
  }

  #committed(address: number): boolean {
    const r = this.#records.get(address);
    return r !== undefined && (r.kind === 'update' || this.#decisions.get(address)?.committed === true);
  }

  /** Per object: its committed writes in address order, each with its keys ([]: the whole object) and update bytes. */
  #writes(): Map<string, Array<{ readonly address: number; readonly keys: readonly string[]; readonly update: Uint8Array }>> {
    const out = new Map<string, Array<{ address: number; keys: readonly string[]; update: Uint8Array }>>();
    const add = (object: string, address: number, keys: readonly string[], update: Uint8Array): void => {
      let list = out.get(object);
      if (list === undefined) out.set(object, (list = []));
      list.push({ address, keys, update });
    };
    for (const address of [...this.#records.keys()].sort((a, b) => a - b)) {
      if (!this.#committed(address)) continue;
      const r = this.#records.get(address)!;
      if (r.kind === 'commit') for (const w of r.writes) add(w.object, address, w.keys, w.update);
      else add(this.#updateOf.get(address)!, address, r.keys, r.update);
    }
    return out;
  }

  /** The end of the run: the writers' outcomes against the decisions, every read, and the serialization graph. */
  finish(): void {
    for (const [address, by] of this.#told) {
      const d = this.#decisions.get(address);
      if (d?.committed !== true)
        this.#report('tx/agreement', `${by} was told its transaction committed at ${address}, but ${d === undefined ? 'no runtime decided that record' : `${d.by} decided abort`}`);
    }
    const writes = this.#writes();
    this.#checkReads(writes);
    this.#checkGraph(writes);
  }

  #checkReads(writes: Map<string, Array<{ readonly address: number; readonly keys: readonly string[]; readonly update: Uint8Array }>>): void {
    /** The last committed write to the key at or below `at`, passing over those above `after` at addresses handed out twice. */
    const latest = (object: string, key: string, at: number, after: number): number => {
      let v = -1;
      for (const w of writes.get(object) ?? []) {
        if (w.address > at) break;
        if (w.address > after && this.#reissued(w.address)) continue;
        if (key === WHOLE_OBJECT || w.keys.length === 0 || w.keys.includes(WHOLE_OBJECT) || w.keys.includes(key)) v = w.address;
      }
      return v;
    };
    const states = new Map<string, unknown>();
    const stateAt = (object: string, at: number): unknown => {
      const type = this.#types.get(object);
      if (type === undefined) return undefined;
      const k = `${object}\u0000${at}`;
      if (states.has(k)) return states.get(k);
      let state = type.initial();
      for (const w of writes.get(object) ?? []) {
        if (w.address > at) break;
        state = type.apply(state, type.codec.decode(w.update));
      }
      states.set(k, state);
      return state;
    };
    for (const t of this.#observed) {
      const set = new Map(t.reads.map((r) => [`${r.object}\u0000${r.key}`, r]));
      // A committed transaction's reads are as of just below its commit record (decide.ts); after a
      // sequencer failover that may be below its snapshot (its commit took an address handed out
      // again). A write at an address handed out again after the read may have landed after it:
      // the read does not see it (a read-only transaction that saw the layout change aborts).
      const at = t.address === undefined ? t.snapshot : Math.min(t.snapshot, t.address - 1);
      for (const r of t.reads) {
        const want = latest(r.object, r.key, at, r.version);
        if (r.version !== want) {
          this.#report('tx/reads', `${t.by} read ${r.object}/${r.key || '*'} at version ${r.version} at snapshot ${t.snapshot}, but the last committed write to it there is ${want}`);
        }
      }
      for (const b of t.bodyReads) {
        const r = set.get(`${b.object}\u0000${b.key}`);
        if (r === undefined) {
          this.#report('tx/reads', `${t.by} read ${b.object}/${b.key || '*'} (${b.kind}) from its snapshot, but its read set does not have it`);
          continue;
        }
        const state = stateAt(b.object, r.version);
        if (state === undefined) continue;
        let want: unknown;
        if (b.kind === 'get') want = (state as MapState<unknown>).get(b.key);
        else if (b.kind === 'has') want = (state as MapState<unknown>).has(b.key);
        else if (b.kind === 'entries') want = [...(state as MapState<unknown>).entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
        else if (b.kind === 'size') want = (state as MapState<unknown>).size;
        else want = state;
        const got = b.kind === 'entries' ? [...b.value] : b.value;
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          this.#report(
            'tx/reads',
            `${t.by} read ${b.object}/${b.key || '*'} (${b.kind}) at version ${r.version}: ${JSON.stringify(got)}, but the committed writes up to it make ${JSON.stringify(want)}`,
          );
        }
      }
    }
  }

  #checkGraph(writes: Map<string, Array<{ readonly address: number; readonly keys: readonly string[] }>>): void {
    const byAddress = new Map<number, { reads: readonly ReadVersion[]; writes: TxKey[] }>();
    for (const [object, list] of writes) {
      for (const w of list) {
        let t = byAddress.get(w.address);
        if (t === undefined) {
          const r = this.#records.get(w.address)!;
          byAddress.set(w.address, (t = { reads: r.kind === 'commit' ? r.reads : [], writes: [] }));
        }
        const keys = w.keys.length === 0 ? [WHOLE_OBJECT] : w.keys;
        for (const key of keys) t.writes.push({ object, key });
      }
    }
    const txs: CommittedTx[] = [...byAddress].map(([address, t]) => ({ id: `${this.#records.get(address)!.kind}@${address}`, commit: address, reads: t.reads, writes: t.writes }));
    // A committed transaction that wrote nothing here (every write of its own objects) still counts by its reads.
    for (const [address, r] of this.#records) {
      if (r.kind === 'commit' && this.#committed(address) && !byAddress.has(address)) txs.push({ id: `commit@${address}`, commit: address, reads: r.reads, writes: [] });
    }
    for (const t of this.#observed) if (t.address === undefined && t.reads.length > 0) txs.push({ id: t.by, commit: undefined, reads: t.reads, writes: [] });
    for (const v of checkSerializable(txs)) this.#report('tx/serializability', `${v.kind}: ${v.message}`);
  }
}
