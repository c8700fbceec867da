// The bridge to the history checker of test/check: a run's client history
// (history.ts) as test/check Operations, checked at the end of every seed.
//
// Outcomes: a read or fill that threw ERR_TRIMMED returned "trimmed"; every
// other failure is `unknown`, not `fail` — a failed append, read, fill or trim
// may already have written (junk at a head, data at a head, a trim at some
// replicas) before it gave up. Reads may fill holes (readsMayFill).
// Reconfigurations are not log operations and are left out; so is tail() (see below).

import type { Operation } from '../check/history.js';
import { checkHistory as checkLinearizable } from '../check/linearizability.js';
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
      case 'append': {
        const payload = Uint8Array.from(Buffer.from(String(r.arg), 'latin1'));
        if (pending) out.push({ ...base, op: 'append', payload });
        else out.push({ ...base, op: 'append', payload, end: ok ? { status: 'ok', at, result: r.result as number } : unknown });
        break;
      }
      case 'read':
      case 'fill': {
        const address = r.arg as number;
        let end: NonNullable<Extract<Operation, { op: 'fill' }>['end']> | undefined = pending ? undefined : unknown;
        if (ok) end = { status: 'ok', at, result: r.result === 'junk' ? { kind: 'junk' } : { kind: 'data', payload: Uint8Array.from(Buffer.from(String(r.result), 'latin1')) } };
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

export function checkHistory(ops: readonly OpRecord[]): HistoryViolation[] {
  const result = checkLinearizable(toOperations(ops), { readsMayFill: true });
  if (result.ok) return [];
  return result.violations.map((v) => ({ kind: `linearizability/${v.kind}`, message: v.message }));
}
