// The address mapping: which chain holds a log address under a projection.
// An address in segment `[start, end)` with N stripes belongs to stripe
// `(address - start) mod N`, at position `floor((address - start) / N)` of
// that stripe. Pure: no I/O, no clocks; property-tested.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { Projection, Segment, Stripe } from './projection.js';

export interface Location {
  readonly segmentIndex: number;
  readonly stripeIndex: number;
  /** The stripe's chain, head first. */
  readonly chain: readonly string[];
  /** The last whole replica of the chain: where reads go (see Stripe.rebuilding). */
  readonly readFrom: string;
  /** The address's position within its stripe of this segment: `floor((address - start) / stripes)`. */
  readonly offset: number;
}

function checkAddress(address: number, what = 'address'): void {
  if (!Number.isSafeInteger(address) || address < 0) {
    throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a non-negative safe integer, got ${String(address)}`);
  }
}

/** Whether `address` falls in `[segment.start, segment.end)`. */
export function segmentContains(segment: Segment, address: number): boolean {
  return address >= segment.start && (segment.end === null || address < segment.end);
}

/** The index of the segment holding `address`, or -1. Segments are sorted and contiguous. */
export function segmentIndexOf(projection: Projection, address: number): number {
  const segments = projection.segments;
  let lo = 0;
  let hi = segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = segments[mid]!;
    if (address < s.start) hi = mid - 1;
    else if (s.end !== null && address >= s.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

function describeRange(projection: Projection): string {
  const first = projection.segments[0]!;
  const last = projection.segments[projection.segments.length - 1]!;
  return `[${first.start}, ${last.end === null ? 'open' : String(last.end)})`;
}

/** Where `address` lives. Throws ERR_BAD_REQUEST for an address outside every segment. */
export function locate(projection: Projection, address: number): Location {
  checkAddress(address);
  const segmentIndex = segmentIndexOf(projection, address);
  if (segmentIndex < 0) {
    throw new CorfuError('ERR_BAD_REQUEST', `address ${address} is outside every segment of projection epoch ${projection.epoch} (covers ${describeRange(projection)})`);
  }
  const segment = projection.segments[segmentIndex]!;
  const n = segment.stripes.length;
  const rel = address - segment.start;
  const stripeIndex = rel % n;
  const stripe = segment.stripes[stripeIndex]!;
  return { segmentIndex, stripeIndex, chain: stripe.chain, readFrom: tailOf(wholeReplicas(stripe)), offset: Math.floor(rel / n) };
}

/** The chain holding `address` (head first). */
export function chainFor(projection: Projection, address: number): readonly string[] {
  return locate(projection, address).chain;
}

/** The first unit of a chain: where writes and fills start. */
export function headOf(chain: readonly string[]): string {
  const head = chain[0];
  invariant(head !== undefined, 'an empty chain (a validated projection never has one)');
  return head;
}

/**
 * The replicas of `stripe` that hold every acknowledged entry of the chain,
 * head first: the chain without the units still being rebuilt.
 */
export function wholeReplicas(stripe: Stripe): readonly string[] {
  const r = stripe.rebuilding;
  return r === undefined ? stripe.chain : stripe.chain.filter((u) => !r.includes(u));
}

/** The last unit of a chain: where a write is acknowledged (and where reads go when every replica is whole). */
export function tailOf(chain: readonly string[]): string {
  const tail = chain[chain.length - 1];
  invariant(tail !== undefined, 'an empty chain (a validated projection never has one)');
  return tail;
}

/**
 * The addresses in `[from, to)` that belong to stripe `stripeIndex` of
 * segment `segmentIndex`, ascending. The range is clipped to the segment;
 * `to` must be finite even for an open segment.
 */
export function* stripeAddresses(projection: Projection, segmentIndex: number, stripeIndex: number, from: number, to: number): Generator<number, void, undefined> {
  const segment = projection.segments[segmentIndex];
  if (segment === undefined || !Number.isInteger(segmentIndex)) {
    throw new CorfuError('ERR_BAD_REQUEST', `no segment ${segmentIndex} in projection epoch ${projection.epoch}`);
  }
  const n = segment.stripes.length;
  if (!Number.isInteger(stripeIndex) || stripeIndex < 0 || stripeIndex >= n) {
    throw new CorfuError('ERR_BAD_REQUEST', `no stripe ${stripeIndex} in segment ${segmentIndex} (it has ${n})`);
  }
  checkAddress(from, 'from');
  checkAddress(to, 'to');
  const lo = Math.max(from, segment.start);
  const hi = segment.end === null ? to : Math.min(to, segment.end);
  if (lo >= hi) return;
  // First address >= lo whose (address - start) mod n === stripeIndex.
  const rel = lo - segment.start;
  const first = segment.start + rel + ((stripeIndex - (rel % n) + n) % n);
  for (let a = first; a < hi; a += n) yield a;
}
