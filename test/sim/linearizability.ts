// The bridge to the history checker of test/check: a run's client history
// (history.ts) as test/check Operations, checked at the end of every seed.
//
// Outcomes: a read or fill that threw ERR_TRIMMED returned "trimmed"; every
// other failure is `unknown`, not `fail` — a failed append, read, fill or trim
// may already have written (junk at a head, data at a head, a trim at some
// replicas) before it gave up. Reads may fill holes (readsMayFill).
// Reconfigurations are not log operations and are left out; so is tail() (see below).
//
// Streams: an appendTo is an append of its body. What it writes is the body behind a
// stream header whose backpointers depend on the token it got, so a read of a stream
// entry counts as a read of its body (the header's bytes are checked by checkers.ts,
// whose write-once check compares whole entries). Every entry a stream reader
// delivered is a read of its address that happened between the start of the first
// operation that may have read it (a reader keeps entries between operations) and its
// delivery.

import type { Operation } from '../check/history.js';
import { checkHistory as checkLinearizable } from '../check/linearizability.js';
import { decodeStreamEntry } from '../../src/client/stream-entry.js';
import type { OpRecord } from './history.js';

export interface HistoryViolation {
  readonly kind: string;
  readonly message: string;
}

export function toOperations(ops: readonly OpRecord[]): Operation[] {
  const out: Operation[] = [];
  for (const r of ops) {
    if (r.kind === 'reconfigure') continue;
    const base = { id: out.length, client: r.client, invoke: r.invokedAt };
    const at = r.endedAt ?? r.invokedAt;
    const unknown = { status: 'unknown' as const, at, ...(typeof r.result === 'string' ? { error: r.result } : {}) };
    const ok = r.status === 'ok';
    const pending = r.status === 'pending';
    switch (r.kind) {
      case 'append':
      case 'appendTo': {
        const payload = Uint8Array.from(Buffer.from(String(r.arg), 'latin1'));
        if (pending) out.push({ ...base, op: 'append', payload });
        else out.push({ ...base, op: 'append', payload, end: ok ? { status: 'ok', at, result: r.result as number } : unknown });
        break;
      }
      case 'read':
      case 'fill': {
        const address = r.arg as number;
        let end: NonNullable<Extract<Operation, { op: 'fill' }>['end']> | undefined = pending ? undefined : unknown;
        if (ok) end = { status: 'ok', at, result: r.result === 'junk' ? { kind: 'junk' } : { kind: 'data', payload: bodyOf(Buffer.from(String(r.result), 'latin1')) } };
        else if (r.result === 'ERR_TRIMMED') end = { status: 'ok', at, result: { kind: 'trimmed' } };
        const op = r.kind === 'read' ? ({ ...base, op: 'read', address } as const) : ({ ...base, op: 'fill', address } as const);
        out.push(end === undefined ? op : { ...op, end });
        break;
      }
      case 'trim':
      case 'prefixTrim': {
        const address = r.arg as number;
        if (pending) out.push({ ...base, op: r.kind, address });
        else out.push({ ...base, op: r.kind, address, end: ok ? { status: 'ok', at, result: undefined } : unknown });
        break;
      }
      case 'streamRead':
        for (const d of r.delivered ?? []) {
          const payload = Uint8Array.from(Buffer.from(d.body, 'latin1'));
          out.push({ id: out.length, client: r.client, invoke: d.since, op: 'read', address: d.address, end: { status: 'ok', at: d.at, result: { kind: 'data', payload } } });
        }
        break;
      case 'tail':
        // Left out: test/check requires tail() above every address known to hold a
        // value, fills included, but the workload reads and fills addresses beyond
        // the tail on purpose; docs/design.md's invariant 6 (acknowledged appends only)
        // is checked by checkers.ts instead.
        break;
    }
  }
  return out;
}

/** A stream entry's body (what its appendTo was given); any other payload as it is. */
function bodyOf(bytes: Buffer): Uint8Array {
  try {
    const e = decodeStreamEntry(bytes);
    if (e !== undefined) return Uint8Array.from(e.body);
  } catch {
    // A damaged header: compared as it is (checkers.ts reports it).
  }
  return Uint8Array.from(bytes);
}

export function checkHistory(ops: readonly OpRecord[]): HistoryViolation[] {
  const result = checkLinearizable(toOperations(ops), { readsMayFill: true });
  if (result.ok) return [];
  return result.violations.map((v) => ({ kind: `linearizability/${v.kind}`, message: v.message }));
}
