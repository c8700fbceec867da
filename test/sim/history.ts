// Every client operation as invoked and completed: the history a
// linearizability checker reads. `unknown` is an operation whose client died
// before it completed (it may or may not have taken effect).

export type OpKind = 'append' | 'appendTo' | 'read' | 'fill' | 'trim' | 'prefixTrim' | 'tail' | 'streamRead' | 'reconfigure';

/** An entry a stream reader delivered: a read of `address` that happened in [since, at]. */
export interface StreamDelivery {
  readonly address: number;
  /** The body's text (what appendTo was given, without the stream header). */
  readonly body: string;
  /** The earliest the read behind it may have been sent: the reader may have read it in an earlier operation. */
  readonly since: number;
  readonly at: number;
}

export interface OpRecord {
  readonly id: number;
  readonly client: string;
  readonly kind: OpKind;
  /** The address (read, fill, trim, prefixTrim), the payload's text (append; appendTo: the body's), or the stream's name (streamRead). */
  readonly arg: number | string | undefined;
  readonly invokedAt: number;
  endedAt: number | undefined;
  status: 'pending' | 'ok' | 'fail' | 'unknown';
  /** ok: the address (append, appendTo), the value (read/fill: 'junk' or the data's text), the tail, the entries delivered (streamRead); fail: the error code. */
  result: number | string | undefined;
  /** streamRead: the entries it delivered (each a read for the linearizability checker). */
  delivered?: StreamDelivery[];
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
