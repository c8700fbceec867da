// A brute-force linearizability search for the log, the reference the direct
// checker (./linearizability.ts) is cross-checked against in agreement.test.ts.
// It knows nothing of phases, groups or per-address splitting: it is one
// global sequential model (every address at once, plus tail) and a
// depth-first search over which operation takes effect next.
//
// The sequential model: each address is a cell, empty, holding a value (a
// payload or junk) or trimmed (a trimmed cell keeps the value it had, if
// any: tail still has to count it). An append writes an empty, untrimmed
// cell; a fill writes junk into an empty one and reports what the cell holds;
// a read reports it; trim trims; prefixTrim(n) is one independent trim per
// address below n (the client trims the units in parallel, not atomically);
// tail() returns a number above every address that holds a value.
//
// Real time: a step may not go before an unfinished required step (an ok
// operation) that completed before it began. Unknown and pending operations
// may take effect at any point after their invoke, or not at all.
//
// Made feasible for 10-12 operation histories by three things that do not
// change the answer:
//   - memoisation: the search from (steps done, state) either succeeds or
//     not, whatever order reached it, so a failed pair is never searched twice;
//   - bit masks for "steps done" and each step's real-time predecessors;
//   - observers first: a step that changes nothing (an ok read that cannot
//     fill, an ok tail) that is enabled and accepts the current state is taken
//     at once, without branching. Taking it now loses no linearization: it
//     leaves the state as it is, everything that had to precede it is done,
//     and it only ever helps steps that must come after it.

import { payloadKey } from './history.js';
import type { FillResult, Operation, ReadResult } from './history.js';

interface Cell {
  /** 'junk' or the payload key; undefined while unwritten. */
  readonly value: string | undefined;
  readonly trimmed: boolean;
}
type State = ReadonlyMap<number, Cell>;

/** One step of the sequential model. */
interface Step {
  readonly required: boolean;
  /** Changes nothing: a candidate for "observers first". */
  readonly observer: boolean;
  /** Every state the step can lead to; none if its result contradicts the state. */
  readonly apply: (s: State) => State[];
}

const EMPTY: Cell = { value: undefined, trimmed: false };
const cell = (s: State, a: number): Cell => s.get(a) ?? EMPTY;
const put = (s: State, a: number, c: Cell): State => new Map(s).set(a, c);
const valueOf = (r: ReadResult): string | undefined => (r.kind === 'data' ? payloadKey(r.payload) : r.kind === 'junk' ? 'junk' : undefined);

/** Does a read result match the cell? */
function reads(c: Cell, r: ReadResult): boolean {
  if (c.trimmed) return r.kind === 'trimmed';
  if (c.value === undefined) return r.kind === 'unwritten';
  return valueOf(r) === c.value;
}

interface Timed extends Step {
  readonly inv: number;
  readonly resp: number;
}

function steps(history: readonly Operation[], readsMayFill: boolean): Timed[] {
  // Every address the history names: where an unknown append may land and what a prefix trim covers.
  const universe = new Set<number>();
  for (const op of history) {
    if (op.op === 'append' && op.end?.status === 'ok') universe.add(op.end.result);
    if (op.op === 'read' || op.op === 'fill' || op.op === 'trim') universe.add(op.address);
  }
  const out: Timed[] = [];
  for (const op of history) {
    if (op.end?.status === 'fail') continue;
    const required = op.end?.status === 'ok';
    const base = { inv: op.invoke, resp: required ? op.end.at : Infinity, required, observer: false };
    const add = (apply: (s: State) => State[], observer = false): void => void out.push({ ...base, observer, apply });
    switch (op.op) {
      case 'append': {
        const v = payloadKey(op.payload);
        const free = (s: State, a: number): boolean => !cell(s, a).trimmed && cell(s, a).value === undefined;
        if (op.end?.status === 'ok') {
          const a = op.end.result;
          add((s) => (free(s, a) ? [put(s, a, { value: v, trimmed: false })] : []));
        } else {
          // Unknown: it may have landed at any address (or nowhere, by being skipped).
          add((s) => [...universe].filter((a) => free(s, a)).map((a) => put(s, a, { value: v, trimmed: false })));
        }
        break;
      }
      case 'read':
      case 'fill': {
        const a = op.address;
        const end = op.end;
        const isFill = op.op === 'fill' || (readsMayFill && (end?.status !== 'ok' || end.result.kind !== 'unwritten'));
        if (!isFill) {
          if (end?.status === 'ok') add((s) => (reads(cell(s, a), end.result) ? [s] : []), true);
          break; // an unknown pure read has no effect: nothing to linearize
        }
        // A fill: junk into an empty address, otherwise it reports what is there.
        const r = end?.status === 'ok' ? (end.result as FillResult) : undefined;
        add((s) => {
          const c = cell(s, a);
          const after = !c.trimmed && c.value === undefined ? put(s, a, { value: 'junk', trimmed: false }) : s;
          return r === undefined || reads(cell(after, a), r) ? [after] : [];
        });
        break;
      }
      case 'trim':
        add((s) => [put(s, op.address, { ...cell(s, op.address), trimmed: true })]);
        break;
      case 'prefixTrim':
        for (const a of universe) if (a < op.address) add((s) => [put(s, a, { ...cell(s, a), trimmed: true })]);
        break;
      case 'tail': {
        // An unknown or failed tail changes nothing and reports nothing.
        if (op.end?.status !== 'ok') break;
        const t = op.end.result;
        add((s) => ([...s].every(([a, c]) => c.value === undefined || a < t) ? [s] : []), true);
        break;
      }
    }
  }
  return out;
}

const stateKey = (s: State): string =>
  [...s]
    .sort((a, b) => a[0] - b[0])
    .map(([a, c]) => `${a}:${c.value ?? '-'}:${c.trimmed ? 1 : 0}`)
    .join(',');

/** Is there an order of the steps, respecting real time, that the model accepts? */
export function bruteForceLinearizable(history: readonly Operation[], readsMayFill = false): boolean {
  const all = steps(history, readsMayFill);
  const n = all.length;
  const bit = (i: number): bigint => 1n << BigInt(i);
  let requiredMask = 0n;
  for (let i = 0; i < n; i++) if (all[i]!.required) requiredMask |= bit(i);
  // pred[i]: the required steps that completed before step i began.
  const pred = all.map((u) => all.reduce((m, v, j) => (v.required && v.resp < u.inv ? m | bit(j) : m), 0n));
  const enabled = (done: bigint, i: number): boolean => (done & bit(i)) === 0n && (pred[i]! & ~done) === 0n;
  const failed = new Set<string>();

  const search = (doneIn: bigint, s: State): boolean => {
    let done = doneIn;
    // Observers first (see the header): to a fixpoint, since one may enable another.
    for (let again = true; again;) {
      again = false;
      for (let i = 0; i < n; i++) {
        if (all[i]!.observer && enabled(done, i) && all[i]!.apply(s).length > 0) {
          done |= bit(i);
          again = true;
        }
      }
    }
    if ((done & requiredMask) === requiredMask) return true;
    const k = `${done}|${stateKey(s)}`;
    if (failed.has(k)) return false;
    for (let i = 0; i < n; i++) {
      if (all[i]!.observer || !enabled(done, i)) continue;
      for (const next of all[i]!.apply(s)) if (search(done | bit(i), next)) return true;
    }
    failed.add(k);
    return false;
  };
  return search(0n, new Map());
}
