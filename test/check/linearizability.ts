// Linearizability checker for the shared log (docs/design.md "Invariants" 1 and 6),
// over a history recorded with ./history.ts.
//
//   const result = checkHistory(recorder.operations());   // { ok: true } | { ok: false, violations }
//   assertLinearizable(recorder.operations());             // throws with a readable list
//
// THE MODEL. Each address is an independent write-once register that can also
// be trimmed. Its state only ever moves forward through three phases:
//
//   0 empty  --first write (append's data, or a fill's junk)-->  1 holds V  --trim-->  2 trimmed
//   0 empty  --trim-->  2 trimmed   (a trimmed address refuses writes: ERR_TRIMMED)
//
// Every operation touching the address either observes one phase at its
// linearization point or moves the register forward:
//   - read -> unwritten: observes phase 0.  read -> V (data or junk): phase 1 with V.
//     read -> trimmed, fill -> trimmed: phase 2.
//   - append acknowledged at A: the 0 -> 1 step with its payload (a write to a
//     written or trimmed address is refused, and the client takes a new token).
//   - fill -> junk: either the 0 -> 1 step with junk, or it observed junk a
//     fill wrote before. fill -> data V: observes phase 1 (a fill never writes data).
//   - trim (ok): the step to phase 2, or nothing if already there. So a read
//     concurrent with a trim may see the value or trimmed, a read that began
//     after an ok trim completed must see trimmed, and (being linearizable)
//     once some read has seen trimmed, reads that begin later must too.
//   - failed operations had no effect; unknown (and pending) ones may have had
//     their effect at any point after their invoke, or none.
// An unknown append has no address; it "touches" A only when some read or
// fill observes its payload at A (payloads are unique, so the bytes name the
// append). An unknown append that wrote somewhere nobody looked changes
// nothing observable, so leaving it out loses no linearization.
// prefixTrim(n) is, per address below n, an independent trim with the same
// interval: the client trims the units in parallel, not atomically.
// With `readsMayFill` (CorfuClient.read fills a hole after its hole timeout)
// a read that returned junk, or an unknown read, may also be the junk write.
//
// Real-time order: a precedes b iff a completed strictly before b was invoked
// (a.end.at < b.invoke); equal times are concurrent. Unknown ops never complete.
//
// WHY A DIRECT CHECK IS EXACT (no search). A linearization exists iff each
// operation can get a point inside its interval [invoke, end] such that, read
// in point order (ties ordered freely), the sequential model accepts. Because
// the phases only move forward, that order must be the chain of groups
//
//   G0 (unwritten reads)  <  W (the one write)  <  G1 (value observers)  <  T (first trim)  <  G2 (trimmed observers, other ok trims)
//
// and points exist for a chain of groups iff no operation of a later group
// completed before an operation of an earlier group was invoked: assign each
// op max(its invoke, the largest invoke in earlier groups); that is <= its
// end exactly when the pairwise condition holds. So the check is: one pass
// keeping the largest invoke so far against each group's smallest end.
// What remains is choosing W and T:
//   - all observed values (and an acknowledged append's payload) must agree: one V;
//   - W is the acknowledged append if there is one; otherwise, for data V, the
//     unknown append of V's payload; for junk, any ok-junk or unknown fill.
//     Among candidates the one invoked first is always best: swapping it in
//     only removes constraints (an ok candidate not chosen stays in G1, with
//     the same constraints it has as W, and its later invoke only constrains
//     more). T is chosen the same way among ok and unknown trims. T is needed
//     only when something was trimmed or a trim was acknowledged; otherwise
//     unknown trims are left out, which only removes constraints.
// The property test in agreement.test.ts checks this against a brute-force
// search over all linearizations of small random histories.
//
// Per-address checking is sound and complete here (Porcupine's
// P-compositionality) because every operation touches one address, once
// unknown appends are pinned to where their payload was seen (an append
// lands at one address only: two addresses holding one payload is reported).
// Cross-address checks: no two appends acknowledged at one address; tail()
// must exceed every address whose value was known to exist (append acked,
// fill or read returned a value, or, at an address that certainly holds a
// value, a trim or trimmed read completed: the write came before the first
// trim) before the tail call began. The brute force of agreement.test.ts,
// where tail() at its point must be above every address holding a value,
// found that last case missing (an append acknowledged at 1 after a prefix
// trim past 1 had completed, then tail() -> 1). Tails are NOT
// required to be monotonic among themselves: after a sequencer failover the
// new tail only has to be above every written address (docs/design.md invariant 5),
// so it may drop below a tail that counted tokens never written.
// Reported: at most one violation per address (the first problem found),
// plus the cross-address ones; a malformed history gets only 'usage' reports.
//
// Cost: O(n log n) in the number of addresses (sorting them), O(n) in
// operations. The operations are first copied into typed arrays (one pass, the
// only one touching the polymorphic Operation objects), grouped by address
// with a counting sort, and each address is then summarised by a few scalars
// (no per-address arrays or objects). Payload bytes become Map keys only for
// appends; observed values are compared by bytes. 100,000 operations over
// 20,000 addresses: ~0.13 s warm, ~0.3 s cold, on a busy 2-vCPU machine
// (test/check/performance.test.ts prints it).

import { describeOp, formatPayload, payloadKey } from './history.js';
import type { Operation } from './history.js';

export type ViolationKind =
  /** The history itself is malformed (duplicate append payloads, end before invoke, bad address). */
  | 'usage'
  /** Two appends acknowledged at the same address. */
  | 'duplicate-address'
  /** One append's payload observed (or acknowledged) at two addresses. */
  | 'payload-at-two-addresses'
  /** Two different values at one address (junk counts as a value). */
  | 'conflicting-values'
  /** A value with no operation that could have written it before it was seen. */
  | 'value-from-nowhere'
  /** Trimmed observed with no trim that could have happened before. */
  | 'trimmed-from-nowhere'
  /** An operation saw an older phase (unwritten, or a value after a trim) after a newer one was established. */
  | 'stale-read'
  /** A write took effect at an address that was already trimmed. */
  | 'write-after-trim'
  /** tail() at or below an address known written before the call began. */
  | 'tail-too-low';

export interface Violation {
  readonly kind: ViolationKind;
  readonly address?: number;
  readonly message: string;
  readonly ops: readonly Operation[];
}

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly violations: readonly Violation[] };

export interface CheckOptions {
  /**
   * CorfuClient.read fills a hole with junk after its hole timeout, so a read
   * may write. Set this for histories of client reads: a read returning junk,
   * or an unknown read, then counts as a possible junk writer (like a fill).
   */
  readonly readsMayFill?: boolean;
}

/** Checks a history; see the file header for the model. */
export function checkHistory(history: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const ops = new Normalized(history, options.readsMayFill ?? false);
  if (ops.usage.length > 0) return { ok: false, violations: ops.usage };
  const violations: Violation[] = [];
  const known = checkAddresses(ops, violations);
  checkTails(ops, known, violations);
  return violations.length === 0 ? { ok: true } : { ok: false, violations };
}

/** Throws an Error listing the violations (the first `limit`), for tests and the simulator. */
export function assertLinearizable(history: readonly Operation[], options: CheckOptions = {}, limit = 20): void {
  const result = checkHistory(history, options);
  if (!result.ok) throw new Error(`history of ${history.length} operations is not linearizable:\n${formatViolations(result.violations, limit)}`);
}

export function formatViolations(violations: readonly Violation[], limit = 20): string {
  const lines = violations.slice(0, limit).map((v) => `- [${v.kind}${v.address === undefined ? '' : ` @${v.address}`}] ${v.message}`);
  if (violations.length > limit) lines.push(`- ... and ${violations.length - limit} more`);
  return lines.join('\n');
}

// ---- normalisation: the history as typed arrays -----------------------------------

// How an operation ended.
const OK = 0;
const FAILED = 1;
/** Unknown or pending: may have taken effect, any time after its invoke. */
const MAYBE = 2;

// What an operation is to the address it touches (NONE: nothing, or no single address).
const NONE = 0;
const ACKED = 1; // append acknowledged here: the write
const UNWRITTEN = 2; // ok read -> unwritten
const DATA = 3; // ok read/fill -> data
const JUNK = 4; // ok read -> junk (a pure read)
const JUNK_FILLED = 5; // ok fill (or read, with readsMayFill) -> junk: saw junk, or wrote it
const MAYBE_FILL = 6; // unknown fill (or read, with readsMayFill): may have written junk
const TRIMMED = 7; // ok read/fill -> trimmed
const TRIM = 8; // ok trim
const MAYBE_TRIM = 9; // unknown trim

class Normalized {
  readonly n: number;
  readonly status: Uint8Array;
  readonly role: Uint8Array;
  readonly address: Float64Array;
  readonly inv: Float64Array;
  /** Infinity unless the operation completed ok: unknown and pending ops never complete. */
  readonly resp: Float64Array;
  /** The bytes of ACKED (its payload) and DATA (what was read) operations. */
  readonly payload: Array<Uint8Array | undefined>;
  readonly appendByPayload = new Map<string, number>();
  readonly prefixTrims: PrefixTrims;
  readonly tails: number[] = [];
  readonly usage: Violation[] = [];

  constructor(
    readonly history: readonly Operation[],
    readsMayFill: boolean,
  ) {
    const n = (this.n = history.length);
    this.status = new Uint8Array(n);
    this.role = new Uint8Array(n);
    this.address = new Float64Array(n).fill(NaN);
    this.inv = new Float64Array(n);
    this.resp = new Float64Array(n);
    this.payload = new Array<Uint8Array | undefined>(n);
    const prefix: number[] = [];
    for (let i = 0; i < n; i++) {
      const op = history[i]!;
      const end = op.end;
      const status = end === undefined || end.status === 'unknown' ? MAYBE : end.status === 'ok' ? OK : FAILED;
      this.status[i] = status;
      this.inv[i] = op.invoke;
      this.resp[i] = status === OK ? end!.at : Infinity;
      if (!Number.isFinite(op.invoke)) this.#usage(`${describeOp(op)}: invoke time is not a finite number`, op);
      if (end !== undefined && !(end.at >= op.invoke)) this.#usage(`${describeOp(op)}: ends before it was invoked`, op);
      switch (op.op) {
        case 'append': {
          // Payload bytes are an append's identity (an unknown append is found by them).
          const key = payloadKey(op.payload);
          const other = this.appendByPayload.get(key);
          if (other !== undefined) this.#usage(`appends must have unique payloads: ${describeOp(history[other]!)} and ${describeOp(op)}`, history[other]!, op);
          else this.appendByPayload.set(key, i);
          if (op.end?.status !== 'ok') break;
          if (!this.#validAddress(op.end.result, op)) break;
          this.role[i] = ACKED;
          this.address[i] = op.end.result;
          this.payload[i] = op.payload;
          break;
        }
        case 'read':
        case 'fill': {
          if (!this.#validAddress(op.address, op)) break;
          this.address[i] = op.address;
          const fills = op.op === 'fill' || readsMayFill;
          if (status === MAYBE) {
            if (fills) this.role[i] = MAYBE_FILL;
          } else if (op.end?.status === 'ok') {
            const r = op.end.result;
            if (r.kind === 'unwritten' && op.op === 'fill') this.#usage(`${describeOp(op)}: a fill leaves a value, it cannot report unwritten`, op);
            else if (r.kind === 'unwritten') this.role[i] = UNWRITTEN;
            else if (r.kind === 'trimmed') this.role[i] = TRIMMED;
            else if (r.kind === 'junk') this.role[i] = fills ? JUNK_FILLED : JUNK;
            else {
              this.role[i] = DATA;
              this.payload[i] = r.payload;
            }
          }
          break;
        }
        case 'trim':
          if (!this.#validAddress(op.address, op)) break;
          this.address[i] = op.address;
          this.role[i] = status === OK ? TRIM : status === MAYBE ? MAYBE_TRIM : NONE;
          break;
        case 'prefixTrim':
          if (this.#validAddress(op.address, op) && status !== FAILED) prefix.push(i);
          break;
        case 'tail':
          if (status === OK) this.tails.push(i);
          break;
      }
    }
    this.prefixTrims = new PrefixTrims(this, prefix);
  }

  #validAddress(address: number, op: Operation): boolean {
    if (Number.isSafeInteger(address) && address >= 0) return true;
    this.#usage(`${describeOp(op)}: address must be a non-negative safe integer`, op);
    return false;
  }

  #usage(message: string, ...ops: Operation[]): void {
    this.usage.push({ kind: 'usage', message, ops });
  }

  /** Same value: both junk, or both data with equal bytes (an ACKED op holds its payload as data). */
  sameValue(i: number, j: number): boolean {
    const a = this.payload[i];
    const b = this.payload[j];
    if (a === undefined || b === undefined) return a === b;
    return sameBytes(a, b);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length > 64) return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * prefixTrim(n) covers every address below n. Sorted by n with suffix minima,
 * an address finds the earliest-invoked covering trim and the earliest end of
 * an acknowledged one by binary search, without walking every prefix trim.
 */
class PrefixTrims {
  readonly #bounds: number[];
  /** Over trims i.. (ok or unknown): the earliest invoked, or -1. */
  readonly #earliest: Int32Array;
  /** Over trims i.. that completed ok: the one that ended first, or -1. */
  readonly #firstDone: Int32Array;

  constructor(ops: Normalized, indices: number[]) {
    const bound = (i: number): number => (ops.history[i] as { readonly address: number }).address;
    indices.sort((a, b) => bound(a) - bound(b));
    this.#bounds = indices.map(bound);
    this.#earliest = new Int32Array(indices.length + 1).fill(-1);
    this.#firstDone = new Int32Array(indices.length + 1).fill(-1);
    for (let k = indices.length - 1; k >= 0; k--) {
      const i = indices[k]!;
      const e = this.#earliest[k + 1]!;
      this.#earliest[k] = e < 0 || ops.inv[i]! < ops.inv[e]! ? i : e;
      const d = this.#firstDone[k + 1]!;
      this.#firstDone[k] = ops.status[i] === OK && (d < 0 || ops.resp[i]! < ops.resp[d]!) ? i : d;
    }
  }

  /** Index of the first bound above `address`: the trims from there on cover it. */
  #from(address: number): number {
    let lo = 0;
    let hi = this.#bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#bounds[mid]! > address) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The earliest-invoked trim covering `address` (-1 if none). */
  earliest(address: number): number {
    return this.#earliest[this.#from(address)]!;
  }

  /** The acknowledged trim covering `address` that ended first (-1 if none). */
  firstDone(address: number): number {
    return this.#firstDone[this.#from(address)]!;
  }
}

// ---- per address ------------------------------------------------------------------

/** Addresses in ascending order, each with the earliest end of an operation proving it written (for tail). */
interface Known {
  readonly addresses: Float64Array;
  readonly resp: Float64Array;
  readonly op: Int32Array;
}

/** Groups the operations by address (a counting sort: no per-address arrays) and checks each. */
function checkAddresses(ops: Normalized, out: Violation[]): Known {
  const dense = new Map<number, number>();
  const denseOf = new Int32Array(ops.n);
  const counts: number[] = [];
  for (let i = 0; i < ops.n; i++) {
    if (ops.role[i] === NONE) continue;
    const a = ops.address[i]!;
    let d = dense.get(a);
    if (d === undefined) {
      d = counts.length;
      dense.set(a, d);
      counts.push(0);
    }
    counts[d]!++;
    denseOf[i] = d;
  }
  const start = new Int32Array(counts.length + 1);
  for (let d = 0; d < counts.length; d++) start[d + 1] = start[d]! + counts[d]!;
  const fill = start.slice(0, counts.length);
  const order = new Int32Array(start[counts.length]!);
  for (let i = 0; i < ops.n; i++) if (ops.role[i] !== NONE) order[fill[denseOf[i]!]!++] = i;

  const addresses = Float64Array.from(dense.keys()).sort();
  const known: Known = { addresses, resp: new Float64Array(addresses.length), op: new Int32Array(addresses.length) };
  const s = new Summary();
  const pinned = new Map<number, { address: number; by: number }>();
  for (let k = 0; k < addresses.length; k++) {
    const address = addresses[k]!;
    const d = dense.get(address)!;
    s.reset();
    for (let j = start[d]!; j < start[d + 1]!; j++) s.add(ops, order[j]!);
    const v = judge(address, s, ops, order.subarray(start[d], start[d + 1]), pinned);
    if (v !== undefined) out.push(v);
    known.resp[k] = s.knownResp;
    known.op[k] = s.knownOp;
  }
  return known;
}

/**
 * One address's operations boiled down to what the check needs: each group's
 * largest invoke and smallest end, and the candidates for W and T. Reused
 * from address to address (indices are -1 when absent).
 */
class Summary {
  acked = -1;
  ackedCount = 0;
  /** The first operation holding a value (ACKED, DATA, JUNK*), and the first that disagrees with it. */
  ref = -1;
  conflict = -1;
  g0 = new Extent(); // unwritten reads
  g1 = new Extent(); // value observers
  g2 = new Extent(); // trimmed observers and ok trims
  /** The earliest-invoked possible junk writer, and possible trim. */
  junkWriter = -1;
  trim = -1;
  firstTrimmed = -1;
  hasOkTrim = false;
  knownResp = Infinity;
  knownOp = -1;

  reset(): void {
    this.acked = this.ref = this.conflict = this.junkWriter = this.trim = this.firstTrimmed = this.knownOp = -1;
    this.ackedCount = 0;
    this.hasOkTrim = false;
    this.knownResp = Infinity;
    this.g0.reset();
    this.g1.reset();
    this.g2.reset();
  }

  add(ops: Normalized, i: number): void {
    const role = ops.role[i]!;
    const inv = ops.inv[i]!;
    const resp = ops.resp[i]!;
    if (role === ACKED || role === DATA || role === JUNK || role === JUNK_FILLED) {
      if (this.ref < 0) this.ref = i;
      else if (this.conflict < 0 && !ops.sameValue(this.ref, i)) this.conflict = i;
      if (resp < this.knownResp) {
        this.knownResp = resp;
        this.knownOp = i;
      }
    }
    switch (role) {
      case ACKED:
        if (this.ackedCount++ === 0) this.acked = i;
        break;
      case UNWRITTEN:
        this.g0.add(i, inv, resp);
        break;
      case DATA:
      case JUNK:
        this.g1.add(i, inv, resp);
        break;
      case JUNK_FILLED:
        this.g1.add(i, inv, resp);
        this.#junkWriter(ops, i);
        break;
      case MAYBE_FILL:
        this.#junkWriter(ops, i);
        break;
      case TRIMMED:
        if (this.firstTrimmed < 0) this.firstTrimmed = i;
        this.g2.add(i, inv, resp);
        break;
      case TRIM:
        this.hasOkTrim = true;
        this.g2.add(i, inv, resp);
        if (this.trim < 0 || inv < ops.inv[this.trim]!) this.trim = i;
        break;
      case MAYBE_TRIM:
        if (this.trim < 0 || inv < ops.inv[this.trim]!) this.trim = i;
        break;
    }
  }

  #junkWriter(ops: Normalized, i: number): void {
    if (this.junkWriter < 0 || ops.inv[i]! < ops.inv[this.junkWriter]!) this.junkWriter = i;
  }
}

/** A group's largest invoke and smallest end, with the operations that have them. */
class Extent {
  maxInv = -Infinity;
  maxOp = -1;
  minResp = Infinity;
  minOp = -1;

  reset(): void {
    this.maxInv = -Infinity;
    this.minResp = Infinity;
    this.maxOp = this.minOp = -1;
  }

  add(i: number, inv: number, resp: number): void {
    if (this.maxOp < 0 || inv > this.maxInv) {
      this.maxInv = inv;
      this.maxOp = i;
    }
    if (this.minOp < 0 || resp < this.minResp) {
      this.minResp = resp;
      this.minOp = i;
    }
  }
}

type Tag = 'unwritten' | 'write' | 'value' | 'trim' | 'trimmed';

function judge(address: number, s: Summary, ops: Normalized, range: Int32Array, pinned: Map<number, { address: number; by: number }>): Violation | undefined {
  const op = (i: number): Operation => ops.history[i]!;
  const fail = (kind: ViolationKind, message: string, ...is: number[]): Violation => ({ kind, address, message: `address ${address}: ${message}`, ops: is.map(op) });

  if (s.ackedCount > 1) {
    const acked = [...range].filter((i) => ops.role[i] === ACKED);
    return fail('duplicate-address', `acknowledged to ${acked.length} appends: ${acked.map((i) => describeOp(op(i))).join(', ')}`, ...acked);
  }
  if (s.conflict >= 0) {
    // Rare: list one operation per distinct value.
    const distinct = new Map<string, number>();
    for (const i of range) {
      const r = ops.role[i];
      if (r !== ACKED && r !== DATA && r !== JUNK && r !== JUNK_FILLED) continue;
      const key = ops.payload[i] === undefined ? 'junk' : `d:${payloadKey(ops.payload[i])}`;
      if (!distinct.has(key)) distinct.set(key, i);
    }
    const is = [...distinct.values()];
    return fail('conflicting-values', `holds ${is.length} different values (write-once broken): ${is.map((i) => describeOp(op(i))).join('; ')}`, ...is);
  }

  // W: the write that made the value (phase 0 -> 1).
  let write = -1;
  if (s.acked >= 0) write = s.acked;
  else if (s.ref >= 0 && ops.payload[s.ref] === undefined) {
    write = s.junkWriter;
    if (write < 0) return fail('value-from-nowhere', `${describeOp(op(s.ref))} saw junk but no fill of it succeeded or timed out`, s.ref);
  } else if (s.ref >= 0) {
    const append = ops.appendByPayload.get(payloadKey(ops.payload[s.ref]!));
    if (append === undefined) return fail('value-from-nowhere', `${describeOp(op(s.ref))} saw a payload no append wrote`, s.ref);
    if (ops.status[append] === FAILED) {
      return fail('value-from-nowhere', `${describeOp(op(s.ref))} saw the payload of ${describeOp(op(append))}, which failed (so had no effect)`, s.ref, append);
    }
    const elsewhere = ops.status[append] === OK ? { address: ops.address[append]!, by: append } : pinned.get(append);
    if (elsewhere !== undefined && elsewhere.address !== address) {
      return {
        kind: 'payload-at-two-addresses',
        message:
          `payload ${formatPayload(ops.payload[s.ref]!)} is at address ${elsewhere.address} (${describeOp(op(elsewhere.by))}) ` +
          `and at address ${address} (${describeOp(op(s.ref))}); one append lands at one address`,
        ops: [op(elsewhere.by), op(s.ref)],
      };
    }
    pinned.set(append, { address, by: s.ref });
    write = append;
  }

  // T: the first trim (phase -> 2), needed when anything saw or acknowledged one.
  let trim = s.trim;
  const prefixEarliest = ops.prefixTrims.earliest(address);
  if (prefixEarliest >= 0 && (trim < 0 || ops.inv[prefixEarliest]! < ops.inv[trim]!)) trim = prefixEarliest;
  const prefixDone = ops.prefixTrims.firstDone(address);
  const g2 = s.g2;
  if (prefixDone >= 0) g2.add(prefixDone, ops.inv[prefixDone]!, ops.resp[prefixDone]!);
  if (s.firstTrimmed < 0 && !s.hasOkTrim && prefixDone < 0)
    trim = -1; // nothing needs a trim: leave unknown ones out
  else if (trim < 0) return fail('trimmed-from-nowhere', `${describeOp(op(s.firstTrimmed))} saw trimmed but nothing trimmed the address`, s.firstTrimmed);

  // For tail: a write that happened must precede the first trim (a trimmed address refuses
  // writes), so an operation that completed after seeing or making a trim also proves the
  // value existed, even if nothing ever read the value.
  if (write >= 0 && g2.minOp >= 0 && g2.minResp < s.knownResp) {
    s.knownResp = g2.minResp;
    s.knownOp = g2.minOp;
  }

  // The chain G0 < W < G1 < T < G2: the largest invoke so far against each group's earliest end.
  // (An ok fill chosen as W also stays in G1: harmless, it adds only constraints W already has.)
  let runInv = -Infinity;
  let runOp = -1;
  let runTag: Tag = 'unwritten';
  const group = (tag: Tag, maxInv: number, maxOp: number, minResp: number, minOp: number): Violation | undefined => {
    if (runOp >= 0 && minOp >= 0 && minResp < runInv) return explain(address, runTag, op(runOp), tag, op(minOp));
    if (maxOp >= 0 && (runOp < 0 || maxInv > runInv)) {
      runInv = maxInv;
      runOp = maxOp;
      runTag = maxOp === write ? 'write' : tag;
    }
    return undefined;
  };
  const single = (tag: Tag, i: number): Violation | undefined => (i < 0 ? undefined : group(tag, ops.inv[i]!, i, ops.resp[i]!, i));
  return (
    group('unwritten', s.g0.maxInv, s.g0.maxOp, s.g0.minResp, s.g0.minOp) ??
    single('write', write) ??
    group('value', s.g1.maxInv, s.g1.maxOp, s.g1.minResp, s.g1.minOp) ??
    single('trim', trim) ??
    group('trimmed', g2.maxInv, g2.maxOp, g2.minResp, g2.minOp)
  );
}

/** `early` must come first in the phase order, but `late` completed before `early` began. */
function explain(address: number, earlyTag: Tag, early: Operation, lateTag: Tag, late: Operation): Violation {
  const did = (tag: Tag, op: Operation): string =>
    op.op === 'trim' || op.op === 'prefixTrim' ? 'trimmed it' : { unwritten: 'read it unwritten', write: 'wrote it', value: 'saw its value', trim: 'trimmed it', trimmed: 'saw it trimmed' }[tag];
  const a = describeOp(early);
  const b = describeOp(late);
  let kind: ViolationKind;
  let message: string;
  if (earlyTag === 'unwritten' || earlyTag === 'value') {
    kind = 'stale-read';
    message = `${a} ${earlyTag === 'unwritten' ? 'returned unwritten' : 'saw a value'}, but it began after ${b} had completed, which ${did(lateTag, late)}`;
  } else if (earlyTag === 'write' && lateTag === 'value') {
    kind = 'value-from-nowhere';
    message = `${b} saw the value before ${a} (the earliest operation that could have written it) began`;
  } else if (earlyTag === 'write') {
    kind = 'write-after-trim';
    message = `${a} wrote the address but began after ${b} had completed, which ${did(lateTag, late)}`;
  } else {
    kind = 'trimmed-from-nowhere';
    message = `${b} saw trimmed before any trim of the address began (the earliest is ${a})`;
  }
  return { kind, address, message: `address ${address}: ${message}`, ops: [early, late] };
}

// ---- tail -------------------------------------------------------------------------

/**
 * tail() is the next free address: above every address whose value was known
 * to exist before the call began. With addresses sorted, a suffix minimum of
 * "earliest proof of a value" answers "was any address >= r known before t?"
 * by binary search.
 */
function checkTails(ops: Normalized, known: Known, out: Violation[]): void {
  const m = known.addresses.length;
  const sufResp = new Float64Array(m + 1).fill(Infinity);
  const sufAt = new Int32Array(m + 1).fill(-1);
  for (let k = m - 1; k >= 0; k--) {
    const better = known.resp[k]! < sufResp[k + 1]!;
    sufResp[k] = better ? known.resp[k]! : sufResp[k + 1]!;
    sufAt[k] = better ? k : sufAt[k + 1]!;
  }
  for (const t of ops.tails) {
    const tail = ops.history[t]!;
    if (tail.op !== 'tail' || tail.end?.status !== 'ok') continue;
    const r = tail.end.result;
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (known.addresses[mid]! >= r) hi = mid;
      else lo = mid + 1;
    }
    if (!(sufResp[lo]! < tail.invoke)) continue;
    const k = sufAt[lo]!;
    const address = known.addresses[k]!;
    const witness = ops.history[known.op[k]!]!;
    out.push({
      kind: 'tail-too-low',
      address,
      message: `${describeOp(tail)} returned ${r}, but address ${address} was known written before it began (${describeOp(witness)} proves it); tail must be > ${address}`,
      ops: [tail, witness],
    });
  }
}
