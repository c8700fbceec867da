// The next projection: pure projection math for a reconfiguration
// (docs/design.md, "The client protocol": seal with epoch+1, then propose).
//
// `nextProjection(current, changes, sealedTail)` is epoch+1 with the changes
// applied. `sealedTail` is the largest tail the sealed units answered: every
// address written under the old epoch is below it, so the old open segment can
// be closed there without cutting any written address out of its chains.
//
// Changes:
//   replace-unit OLD NEW  Addresses below the split keep their data where it
//                         is: OLD leaves their chains and the surviving
//                         replicas serve them; NEW joins each of those chains
//                         at its tail, marked as being rebuilt
//                         (Stripe.rebuilding): it takes the chain's writes
//                         from now on, and serves no read until a rebuild
//                         (src/manager/rebuild.ts) has copied the older
//                         entries onto it. From the split on, NEW takes OLD's
//                         place in its chain. OLD must not be the only whole
//                         replica of any chain: its data would be lost.
//   add-segment STRIPES   From the split on, the log is striped over these
//                         chains instead.
//   move-sequencer ADDR   The next epoch's sequencer (bootstrapped above
//                         `sealedTail` by the reconfiguration).
//   rebuilt UNIT          UNIT has a copy of every chain it is being rebuilt
//                         in: it is a whole replica of them (it serves reads).
// No change at all is a plain epoch bump (for a sequencer restarted in place).
//
// The split is max(sealedTail, start of the open segment): the open segment is
// closed at the split and a new one opens there, unless the open segment is
// still empty (start >= sealedTail), which is then changed in place.

import { CorfuError } from '../../bindings/errors.js';
import { wholeReplicas } from './mapping.js';
import { parseProjection } from './projection.js';
import type { Projection, Segment, Stripe } from './projection.js';

export type Change =
  | { readonly kind: 'replace-unit'; readonly old: string; readonly replacement: string }
  | { readonly kind: 'add-segment'; readonly stripes: readonly (readonly string[])[] }
  | { readonly kind: 'move-sequencer'; readonly sequencer: string }
  /** A rebuild copied every chain `unit` is being rebuilt in onto it: it is a whole replica of them. */
  | { readonly kind: 'rebuilt'; readonly unit: string };

function bad(message: string): never {
  throw new CorfuError('ERR_BAD_REQUEST', message);
}

/** Units a change brings in: they must be sealed to the new epoch before it is proposed. */
export function unitsAdded(current: Projection, changes: readonly Change[]): string[] {
  const known = new Set(current.units);
  const added: string[] = [];
  const add = (unit: string): void => {
    if (!known.has(unit)) {
      known.add(unit);
      added.push(unit);
    }
  };
  for (const change of changes) {
    if (change.kind === 'replace-unit') add(change.replacement);
    else if (change.kind === 'add-segment') change.stripes.flat().forEach(add);
  }
  return added;
}

/**
 * Whether `unit` can be replaced without losing data: every chain it is a
 * whole replica of, in every segment, has another whole replica (whose tail
 * the seal counts) that is not among `alsoReplaced` (the units the same
 * reconfiguration replaces).
 */
export function replaceable(p: Projection, unit: string, alsoReplaced: ReadonlySet<string> = new Set()): boolean {
  return p.segments.every((s) =>
    s.stripes.every((t) => {
      const whole = wholeReplicas(t);
      return !whole.includes(unit) || whole.some((u) => u !== unit && !alsoReplaced.has(u));
    }),
  );
}

/** Units a change takes out of the log: they need not answer the seal (they may be dead). */
export function unitsReplaced(changes: readonly Change[]): Set<string> {
  return new Set(changes.flatMap((c) => (c.kind === 'replace-unit' ? [c.old] : [])));
}

/** Epoch+1 of `current` with `changes` applied; ERR_BAD_REQUEST when they do not make sense together. */
export function nextProjection(current: Projection, changes: readonly Change[], sealedTail: number): Projection {
  if (!Number.isSafeInteger(sealedTail) || sealedTail < 0) bad(`sealed tail ${sealedTail}: expected a non-negative safe integer`);
  const open = current.segments[current.segments.length - 1]!;
  if (open.end !== null) bad(`the last segment of epoch ${current.epoch} is closed at ${open.end}; nothing can be appended`);

  let sequencer = current.sequencer;
  const closed: Segment[] = current.segments.slice(0, -1).map(copySegment);
  let below: Segment | undefined; // the open segment's addresses below the split
  let from: Stripe[] = open.stripes.map((s) => ({ chain: [...s.chain] }));
  const split = Math.max(sealedTail, open.start);
  // Only a change to who holds the open segment splits it.
  const splits = changes.some((c) => c.kind === 'replace-unit' || c.kind === 'add-segment');
  if (splits && split > open.start) below = { start: open.start, end: split, stripes: open.stripes.map((s) => ({ chain: [...s.chain] })) };

  for (const change of changes) {
    switch (change.kind) {
      case 'move-sequencer':
        sequencer = change.sequencer;
        break;
      case 'add-segment':
        if (change.stripes.length === 0) bad('add-segment: a segment needs at least one stripe');
        from = change.stripes.map((chain) => ({ chain: [...chain] }));
        break;
      case 'replace-unit': {
        const { old, replacement } = change;
        if (old === replacement) bad(`replace ${old} by itself`);
        if (!current.units.includes(old)) bad(`replace ${old}: it is not a unit of epoch ${current.epoch}`);
        for (const segment of below === undefined ? closed : [...closed, below]) dropUnit(segment, old, replacement);
        if (!from.some((s) => s.chain.includes(old))) bad(`replace ${old}: it holds no stripe of the open segment`);
        for (const stripe of from) {
          const at = stripe.chain.indexOf(old);
          if (at < 0) continue;
          if (stripe.chain.includes(replacement)) bad(`replace ${old} by ${replacement}: ${replacement} is already in the chain ${stripe.chain.join(',')}`);
          (stripe.chain as string[])[at] = replacement;
        }
        break;
      }
      case 'rebuilt': {
        const { unit } = change;
        let marked = 0;
        for (const segment of below === undefined ? closed : [...closed, below]) {
          for (const [t, stripe] of segment.stripes.entries()) {
            if (stripe.rebuilding?.includes(unit) !== true) continue;
            marked++;
            const rest = stripe.rebuilding.filter((u) => u !== unit);
            (segment.stripes as Stripe[])[t] = rest.length === 0 ? { chain: stripe.chain } : { chain: stripe.chain, rebuilding: rest };
          }
        }
        if (marked === 0) bad(`rebuilt ${unit}: no chain is being rebuilt onto it`);
        break;
      }
    }
  }

  // The sealed tail counts the writes of the units that answered the seal, not of the ones
  // replaced: a stripe of the open segment whose every replica is replaced could be split
  // below its acknowledged entries, and they would be lost.
  const replaced = unitsReplaced(changes);
  for (const [t, stripe] of open.stripes.entries()) {
    if (stripe.chain.every((u) => replaced.has(u))) {
      const what = stripe.chain.length === 1 ? `it is the only replica` : `they are every replica`;
      bad(`replace ${stripe.chain.join(', ')}: ${what} of stripe ${t} of the open segment; its data would be lost`);
    }
  }

  const segments: Segment[] = [...closed];
  if (below !== undefined) segments.push(below);
  segments.push({ start: below === undefined ? open.start : split, end: null, stripes: from });
  const units = [...new Set(segments.flatMap((s) => s.stripes.flatMap((t) => t.chain)))];
  return parseProjection({ epoch: current.epoch + 1, sequencer, units, segments, ...(current.maxEntryBytes === undefined ? {} : { maxEntryBytes: current.maxEntryBytes }) });
}

function copySegment(s: Segment): Segment {
  return { start: s.start, end: s.end, stripes: s.stripes.map((t) => ({ ...t, chain: [...t.chain] })) };
}

/**
 * Replaces `unit` by `replacement` in every chain of `segment` (a closed one):
 * the replacement joins at the tail, to be rebuilt. A chain `unit` is the only
 * whole replica of cannot lose it.
 */
function dropUnit(segment: Segment, unit: string, replacement: string): void {
  for (const [t, stripe] of segment.stripes.entries()) {
    if (!stripe.chain.includes(unit)) continue;
    const whole = wholeReplicas(stripe);
    if (whole.length === 1 && whole[0] === unit) {
      bad(`replace ${unit}: it is the only whole replica of stripe ${t} of [${segment.start}, ${segment.end ?? 'open'}); its data would be lost`);
    }
    if (stripe.chain.includes(replacement)) bad(`replace ${unit} by ${replacement}: ${replacement} is already in the chain ${stripe.chain.join(',')} of [${segment.start}, ${segment.end ?? 'open'})`);
    const chain = [...stripe.chain.filter((u) => u !== unit), replacement];
    const rebuilding = [...(stripe.rebuilding ?? []).filter((u) => u !== unit), replacement];
    (segment.stripes as Stripe[])[t] = { chain, rebuilding };
  }
}
