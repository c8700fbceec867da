// The Projection: which sequencer hands out tokens and which chain of storage
// units holds each address, for one epoch. Shape is checked with zod; the
// cross-field rules (units listed, segments contiguous, only the last open)
// are checked by hand so each failure names the exact field at fault.
//
// Pure: no I/O. Parsed projections are deep-frozen, so a cached projection
// cannot be mutated under the client that relies on it.

import { z } from 'zod';

import { CorfuError } from '../../bindings/errors.js';

/** One replication chain: head first, tail last. Writes go head -> tail; reads come from the tail. */
export interface Stripe {
  readonly chain: readonly string[];
  /**
   * Units of the chain being rebuilt (each took a replaced unit's place in a
   * closed segment, and a rebuild copies the chain's older entries onto it).
   * They take every write, fill and trim like any replica, at the tail end of
   * the chain, but serve no read until their rebuild is done: reads come from
   * the last whole replica. Absent when every replica is whole.
   */
  readonly rebuilding?: readonly string[];
}

/** Addresses `[start, end)`; `end === null` means open-ended (only the last segment). */
export interface Segment {
  readonly start: number;
  readonly end: number | null;
  readonly stripes: readonly Stripe[];
}

export interface Projection {
  readonly epoch: number;
  /** `host:port` of the sequencer. */
  readonly sequencer: string;
  /** Every storage unit of this epoch, `host:port`, unique. */
  readonly units: readonly string[];
  /** Sorted and contiguous; only the last may be open. */
  readonly segments: readonly Segment[];
  /**
   * The largest payload an entry may have: the smallest of the units' limits,
   * so a client can refuse a larger one before it takes a token. Absent in a
   * projection written before the field existed.
   */
  readonly maxEntryBytes?: number;
}

// host is a DNS name / IPv4 literal, or a bracketed IPv6 literal; port 1..65535.
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$/;

function isHostPort(value: string): boolean {
  const m = HOST_PORT.exec(value);
  if (m === null) return false;
  const port = Number(m[1]);
  return port >= 1 && port <= 65535;
}

const hostPort = z.string().refine(isHostPort, { error: 'expected "host:port" with a port in 1..65535' });

// z.int() accepts only safe integers (Number.isSafeInteger).
const address = z.int({ error: 'expected a non-negative safe integer' }).min(0, { error: 'expected a non-negative safe integer' });

const stripeSchema = z.strictObject({
  chain: z.array(hostPort).min(1, { error: 'a chain needs at least one unit' }),
  rebuilding: z.array(hostPort).min(1, { error: 'absent, not empty, when every replica is whole' }).optional(),
});

const segmentSchema = z.strictObject({
  start: address,
  end: address.nullable(),
  stripes: z.array(stripeSchema).min(1, { error: 'a segment needs at least one stripe' }),
});

/**
 * The shape of a projection. Unknown keys are rejected (strict): a typo such
 * as `segment` must not silently yield a projection with no segments, and a
 * newer writer's fields must not be dropped by an older reader that then
 * acts on half a layout. Cross-field rules live in `parseProjection`.
 */
export const projectionShape = z.strictObject({
  epoch: z.int({ error: 'expected a safe integer >= 1' }).min(1, { error: 'expected a safe integer >= 1' }),
  sequencer: hostPort,
  units: z.array(hostPort).min(1, { error: 'a projection needs at least one unit' }),
  segments: z.array(segmentSchema).min(1, { error: 'a projection needs at least one segment' }),
  maxEntryBytes: z.int({ error: 'expected a positive safe integer' }).min(1, { error: 'expected a positive safe integer' }).optional(),
});

function pathText(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** The problems with an already well-shaped projection, each `field: message`. */
function semanticProblems(p: z.infer<typeof projectionShape>): string[] {
  const problems: string[] = [];
  const units = new Set<string>();
  p.units.forEach((unit, i) => {
    if (units.has(unit)) problems.push(`units[${i}]: unit ${unit} is listed twice`);
    units.add(unit);
  });
  p.segments.forEach((segment, s) => {
    const at = `segments[${s}]`;
    const last = s === p.segments.length - 1;
    if (segment.end === null) {
      if (!last) problems.push(`${at}.end: only the last segment may be open (end: null)`);
    } else if (segment.end <= segment.start) {
      problems.push(`${at}.end: must be greater than start (${segment.start}), got ${segment.end}`);
    }
    if (s > 0) {
      const prev = p.segments[s - 1]!;
      if (prev.end !== null && segment.start !== prev.end) {
        const kind = segment.start > prev.end ? 'gap between segments' : 'segments overlap';
        problems.push(`${at}.start: ${kind}: expected ${prev.end} (the end of segments[${s - 1}]), got ${segment.start}`);
      }
    }
    segment.stripes.forEach((stripe, t) => {
      const rebuilding = stripe.rebuilding ?? [];
      const field = `${at}.stripes[${t}].rebuilding`;
      if (rebuilding.length > 0 && last) problems.push(`${field}: the open segment has no units being rebuilt (a replacement holds every address it serves there)`);
      rebuilding.forEach((unit, r) => {
        if (!stripe.chain.includes(unit)) problems.push(`${field}[${r}]: unit ${unit} is not in the chain`);
        if (rebuilding.indexOf(unit) !== r) problems.push(`${field}[${r}]: unit ${unit} is repeated`);
      });
      if (rebuilding.length > 0 && stripe.chain.every((u) => rebuilding.includes(u))) problems.push(`${field}: the chain needs one whole replica`);
      const seen = new Set<string>();
      stripe.chain.forEach((unit, c) => {
        const field = `${at}.stripes[${t}].chain[${c}]`;
        if (!units.has(unit)) problems.push(`${field}: unit ${unit} is not listed in units`);
        if (seen.has(unit)) problems.push(`${field}: unit ${unit} is repeated in the chain`);
        seen.add(unit);
      });
    });
  });
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Everything wrong with `value` as a projection (empty when it is valid). */
export function projectionProblems(value: unknown): string[] {
  const shaped = projectionShape.safeParse(value);
  if (!shaped.success) return shaped.error.issues.map((issue) => `${pathText(issue.path)}: ${issue.message}`);
  return semanticProblems(shaped.data);
}

/**
 * Validates `value` and returns it as a fresh, deep-frozen Projection.
 * Throws CorfuError('ERR_BAD_REQUEST') naming the first few fields at fault.
 */
export function parseProjection(value: unknown): Projection {
  const shaped = projectionShape.safeParse(value);
  const problems = shaped.success ? semanticProblems(shaped.data) : shaped.error.issues.map((issue) => `${pathText(issue.path)}: ${issue.message}`);
  if (problems.length > 0 || !shaped.success) {
    const shown = problems.slice(0, 3).join('; ');
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new CorfuError('ERR_BAD_REQUEST', `invalid projection: ${shown}${more}`);
  }
  // Optional fields are absent, never `undefined` (exactOptionalPropertyTypes, and canonicalJson).
  const { maxEntryBytes, segments, ...rest } = shaped.data;
  const p: Projection = {
    ...rest,
    segments: segments.map((seg) => ({
      start: seg.start,
      end: seg.end,
      stripes: seg.stripes.map((t) => (t.rebuilding === undefined ? { chain: t.chain } : { chain: t.chain, rebuilding: t.rebuilding })),
    })),
    ...(maxEntryBytes === undefined ? {} : { maxEntryBytes }),
  };
  return deepFreeze(p);
}

/** Structural equality (projections are plain data with a fixed key order after parsing). */
export function projectionsEqual(a: Projection, b: Projection): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** A stable JSON text of a projection: fixed key order, whatever order the input had. */
export function canonicalJson(p: Projection): string {
  return JSON.stringify({
    epoch: p.epoch,
    sequencer: p.sequencer,
    units: p.units,
    segments: p.segments.map((s) => ({
      start: s.start,
      end: s.end,
      stripes: s.stripes.map((t) => (t.rebuilding === undefined ? { chain: t.chain } : { chain: t.chain, rebuilding: t.rebuilding })),
    })),
    ...(p.maxEntryBytes === undefined ? {} : { maxEntryBytes: p.maxEntryBytes }),
  });
}
