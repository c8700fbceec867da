// Every client operation as invoked and completed: the history a
// linearizability checker reads. `unknown` is an operation whose client died
// before it completed (it may or may not have taken effect).

export type OpKind = 'append' | 'read' | 'fill' | 'trim' | 'prefixTrim' | 'tail' | 'reconfigure';

export interface OpRecord {
  readonly id: number;
  readonly client: string;
  readonly kind: OpKind;
  /** The address (read, fill, trim, prefixTrim) or the payload's text (append). */
  readonly arg: number | string | undefined;
  readonly invokedAt: number;
  endedAt: number | undefined;
  status: 'pending' | 'ok' | 'fail' | 'unknown';
  /** ok: the address (append), the value (read/fill: 'junk' or the data's text), the tail; fail: the error code. */
  result: number | string | undefined;
}

export class History {
  readonly ops: OpRecord[] = [];

  invoke(client: string, kind: OpKind, arg: number | string | undefined, now: number): OpRecord {
    const op: OpRecord = { id: this.ops.length, client, kind, arg, invokedAt: now, endedAt: undefined, status: 'pending', result: undefined };
    this.ops.push(op);
    return op;
  }

  end(op: OpRecord, status: 'ok' | 'fail' | 'unknown', result: number | string | undefined, now: number): void {
    if (op.status !== 'pending') return;
    op.status = status;
    op.result = result;
    op.endedAt = now;
  }
}
