// What `corfu status` says of the projection's segments: each stripe's chain,
// and which stripes are under-replicated now (a replica down, or one still
// being rebuilt: either way a chain holds fewer whole, reachable copies than
// it was given). Pure: the projection and the set of servers found down in.

import type { Projection } from '../layout/projection.js';

export interface StripeReplication {
  readonly chain: readonly string[];
  readonly rebuilding: readonly string[];
  /** Replicas of the chain found down. */
  readonly down: readonly string[];
  /** Whole replicas that answered: what a read or a second failure can count on. */
  readonly healthy: number;
  readonly underReplicated: boolean;
}

export interface SegmentReplication {
  readonly start: number;
  readonly end: number | null;
  readonly stripes: readonly StripeReplication[];
}

export function segmentReplication(p: Projection, down: ReadonlySet<string>): SegmentReplication[] {
  return p.segments.map((s) => ({
    start: s.start,
    end: s.end,
    stripes: s.stripes.map((t) => {
      const rebuilding = t.rebuilding ?? [];
      const healthy = t.chain.filter((u) => !rebuilding.includes(u) && !down.has(u)).length;
      return { chain: t.chain, rebuilding, down: t.chain.filter((u) => down.has(u)), healthy, underReplicated: healthy < t.chain.length };
    }),
  }));
}

/** One line per stripe, and a last line naming the under-replicated ones (or saying there are none). */
export function replicationLines(segments: readonly SegmentReplication[]): string[] {
  const lines: string[] = [];
  const under: string[] = [];
  for (const [s, seg] of segments.entries()) {
    const range = `[${seg.start}, ${seg.end === null ? 'open' : seg.end})`;
    for (const [t, stripe] of seg.stripes.entries()) {
      const notes = [...stripe.down.map((u) => `${u} down`), ...stripe.rebuilding.map((u) => `${u} rebuilding`)];
      lines.push(`segment ${s}  ${range.padEnd(16)} stripe ${t}  ${stripe.chain.join(' -> ')}  ${stripe.healthy}/${stripe.chain.length} whole${notes.length === 0 ? '' : ` (${notes.join(', ')})`}`);
      if (stripe.underReplicated) under.push(`segment ${s} stripe ${t}`);
    }
  }
  lines.push(under.length === 0 ? 'under-replicated  none' : `under-replicated  ${under.join(', ')}`);
  return lines;
}
