// Histories as JSON between processes: each driver writes the operations its
// HistoryRecorder holds (payloads as hex), the campaign reads them all back,
// renumbers them and hands the merged history to the checker (test/check).

import type { Operation, ReadResult } from '../check/history.js';

type SerializedResult = number | { kind: ReadResult['kind']; payload?: string } | null;

export interface SerializedOp {
  id: number;
  client: string;
  op: Operation['op'];
  payload?: string;
  address?: number;
  invoke: number;
  end?: { status: 'ok' | 'fail' | 'unknown'; at: number; error?: string; result?: SerializedResult };
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

export function serializeOps(ops: readonly Operation[]): SerializedOp[] {
  return ops.map((op) => {
    const s: SerializedOp = { id: op.id, client: op.client, op: op.op, invoke: op.invoke };
    if (op.op === 'append') s.payload = hex(op.payload);
    else if (op.op !== 'tail') s.address = op.address;
    const end = op.end;
    if (end !== undefined) {
      const e: NonNullable<SerializedOp['end']> = { status: end.status, at: end.at };
      if (end.status !== 'ok') {
        if (end.error !== undefined) e.error = end.error;
      } else {
        const r = end.result as unknown;
        if (typeof r === 'number') e.result = r;
        else if (r === undefined) e.result = null;
        else {
          const rr = r as ReadResult;
          e.result = rr.kind === 'data' ? { kind: 'data', payload: hex(rr.payload) } : { kind: rr.kind };
        }
      }
      s.end = e;
    }
    return s;
  });
}

/** Back to checker operations, numbered from `firstId`. */
export function deserializeOps(ops: readonly SerializedOp[], firstId: number): Operation[] {
  return ops.map((s, i) => {
    const base: Record<string, unknown> = { id: firstId + i, client: s.client, op: s.op, invoke: s.invoke };
    if (s.op === 'append') base['payload'] = unhex(s.payload ?? '');
    else if (s.op !== 'tail') base['address'] = s.address;
    if (s.end !== undefined) {
      const end: Record<string, unknown> = { status: s.end.status, at: s.end.at };
      if (s.end.error !== undefined) end['error'] = s.end.error;
      if (s.end.status === 'ok') {
        const r = s.end.result;
        if (typeof r === 'number') end['result'] = r;
        else if (r === null || r === undefined) end['result'] = undefined;
        else end['result'] = r.kind === 'data' ? { kind: 'data', payload: unhex(r.payload ?? '') } : { kind: r.kind };
      }
      base['end'] = end;
    }
    return base as unknown as Operation;
  });
}

/** What a driver (or the final reader) writes at the end. */
export interface DriverOutput {
  label: string;
  mode: 'load' | 'final' | 'prefill';
  ops: SerializedOp[];
  /** Errors by code, per operation kind: `append ERR_IO` -> count. */
  errors: Record<string, number>;
  /** Errors that are not CorfuErrors: a bug in the client (or the harness). */
  bugs: string[];
  /** Final reader only: the tail it read up to, and addresses it could not read. */
  tail?: number;
  unreadable?: number[];
  /** Prefill only: every acknowledged entry as [address, sha256 hex, length], by address. */
  prefill?: Array<[number, string, number]>;
  /** Final reader with --prefill: prefilled entries checked, and those that did not read back. */
  prefillChecked?: number;
  prefillLost?: string[];
}
