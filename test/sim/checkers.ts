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

import { decodeStreamEntry, streamId, type StreamEntryPayload } from '../../src/client/stream-entry.js';
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
      if (slot === 'unwritten' || slot.kind === 'trimmed' || !agree(keyOf(slot), key)) {
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
        if (slot === 'unwritten' || slot.kind === 'trimmed' || !agree(keyOf(slot), key)) {
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

  /** The whole entry of body `body` at `address`, from a replica of `chain` that holds it; else a key of its body only. */
  #streamKey(address: number, body: string, chain: readonly string[]): ValueKey {
    const disks = this.disks();
    for (const unit of chain) {
      const slot = disks.get(unit)?.valueAt(address);
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
