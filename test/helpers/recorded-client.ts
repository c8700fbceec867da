// CorfuClient calls with every invocation and response written into a history
// for the linearizability checker (test/check). One RecordedLog per test; each
// call names its caller. The results come back to the test as plain values.
//
// How an error is recorded (history.ts: 'fail' = certainly no effect,
// 'unknown' = may have taken effect), as the fault driver does:
//   append(Batch): ERR_BAD_REQUEST / ERR_TOO_LARGE are refusals before
//     anything is written: fail; anything else is unknown (the chain head may
//     hold it). A batch is one append per payload, all with the batch's interval.
//   read: ERR_TRIMMED is a result (trimmed); ERR_BAD_REQUEST fails; anything
//     else is unknown (a read may fill a hole before failing).
//   trim, prefixTrim: unknown (some replicas may be trimmed already).
//   tail: fail (TAIL changes nothing).
// A thrown value that is not a CorfuError is a client bug: kept in `bugs`.

import { CorfuError } from '../../bindings/errors.js';
import type { CorfuClient } from '../../src/client/index.js';
import { HistoryRecorder } from '../check/history.js';
import type { Operation, PendingOp } from '../check/history.js';

export type ReadOutcome = { readonly kind: 'data'; readonly payload: Uint8Array } | { readonly kind: 'junk' } | { readonly kind: 'trimmed' };

/** A failed call: the error code (or 'BUG' for a thrown value that is not a CorfuError). */
export interface Failure {
  readonly failed: string;
}

export class RecordedLog {
  readonly history = new HistoryRecorder();
  /** Errors by `op code`. */
  readonly errors = new Map<string, number>();
  readonly bugs: string[] = [];

  operations(): readonly Operation[] {
    return this.history.operations();
  }

  async append(c: CorfuClient, who: string, payload: Uint8Array): Promise<number | Failure> {
    const p = this.history.invoke(who, { op: 'append', payload });
    try {
      const address = await c.append(payload);
      p.ok(address);
      return address;
    } catch (err) {
      return this.#appendFailed(p, err);
    }
  }

  async appendBatch(c: CorfuClient, who: string, payloads: readonly Uint8Array[]): Promise<number[] | Failure> {
    const ps = payloads.map((payload) => this.history.invoke(who, { op: 'append', payload }));
    try {
      const addresses = await c.appendBatch(payloads);
      if (addresses.length !== payloads.length) throw new Error(`appendBatch of ${payloads.length} returned ${addresses.length} addresses`);
      ps.forEach((p, i) => p.ok(addresses[i]!));
      return addresses;
    } catch (err) {
      let failure: Failure = { failed: '' };
      for (const p of ps) failure = this.#appendFailed(p, err, p === ps[0]);
      return failure;
    }
  }

  async read(c: CorfuClient, who: string, address: number): Promise<ReadOutcome | Failure> {
    const p = this.history.invoke(who, { op: 'read', address });
    try {
      const e = await c.read(address);
      const r: ReadOutcome = e.kind === 'data' ? { kind: 'data', payload: e.payload } : { kind: 'junk' };
      p.ok(r);
      return r;
    } catch (err) {
      if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') {
        p.ok({ kind: 'trimmed' });
        return { kind: 'trimmed' };
      }
      const code = this.#count('read', err);
      if (code === 'ERR_BAD_REQUEST') p.fail(code);
      else p.unknown(code);
      return { failed: code };
    }
  }

  /** True when acknowledged. */
  async trim(c: CorfuClient, who: string, address: number): Promise<true | Failure> {
    const p = this.history.invoke(who, { op: 'trim', address });
    try {
      await c.trim(address);
      p.ok();
      return true;
    } catch (err) {
      const code = this.#count('trim', err);
      p.unknown(code);
      return { failed: code };
    }
  }

  async prefixTrim(c: CorfuClient, who: string, address: number): Promise<true | Failure> {
    const p = this.history.invoke(who, { op: 'prefixTrim', address });
    try {
      await c.prefixTrim(address);
      p.ok();
      return true;
    } catch (err) {
      const code = this.#count('prefixTrim', err);
      p.unknown(code);
      return { failed: code };
    }
  }

  async tail(c: CorfuClient, who: string): Promise<number | Failure> {
    const p = this.history.invoke(who, { op: 'tail' });
    try {
      const t = await c.tail();
      p.ok(t);
      return t;
    } catch (err) {
      const code = this.#count('tail', err);
      p.fail(code);
      return { failed: code };
    }
  }

  #appendFailed(p: PendingOp<'append'>, err: unknown, count = true): Failure {
    const code = count ? this.#count('append', err) : codeOf(err);
    if (code === 'ERR_BAD_REQUEST' || code === 'ERR_TOO_LARGE') p.fail(code);
    else p.unknown(code);
    return { failed: code };
  }

  #count(op: string, err: unknown): string {
    const code = codeOf(err);
    const key = `${op} ${code}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    if (code === 'BUG' && this.bugs.length < 20) this.bugs.push(`${op}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return code;
  }
}

function codeOf(err: unknown): string {
  return err instanceof CorfuError ? err.code : 'BUG';
}

export function isFailure(x: unknown): x is Failure {
  return typeof x === 'object' && x !== null && 'failed' in x;
}
