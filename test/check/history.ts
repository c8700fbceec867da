// A history of log operations as clients saw them, for the linearizability
// checker (./linearizability.ts). Used by the seeded simulator (virtual time)
// and by real fault runs (performance.now()).
//
//   const h = new HistoryRecorder(() => sim.now);   // or new HistoryRecorder() for performance.now()
//   const op = h.invoke('c1', { op: 'append', payload });
//   op.ok(7);           // the call returned address 7
//   // or op.fail('ERR_TOO_LARGE')   definitely no effect (a typed error before any side effect)
//   // or op.unknown('timeout')      may or may not have taken effect, at any time after invoke
//   checkHistory(h.operations());
//
// Every operation gets exactly one completion; a second one, or a result of
// the wrong shape, is a bug in the harness and throws at once rather than
// producing a confusing verdict later. An operation never completed (still
// pending when the history is checked) counts as unknown, so checking a
// prefix of a run is sound: pending is weaker than both ok and fail, so a
// violation found in a prefix stays a violation whatever the pending calls do.
//
// Results are compared by value, payloads by bytes: the recorder copies each
// payload so a caller reusing its buffer cannot rewrite history.

/** What a read can report. 'unwritten' only from a raw read (CorfuClient.read fills holes instead). */
export type ReadResult = { readonly kind: 'data'; readonly payload: Uint8Array } | { readonly kind: 'junk' } | { readonly kind: 'trimmed' } | { readonly kind: 'unwritten' };

/** What a fill reports: the value the address holds after the fill (its own junk, or the value that won), or trimmed. */
export type FillResult = Exclude<ReadResult, { readonly kind: 'unwritten' }>;

/** The calls, one per client operation. */
export type Call =
  | { readonly op: 'append'; readonly payload: Uint8Array }
  | { readonly op: 'read'; readonly address: number }
  | { readonly op: 'fill'; readonly address: number }
  | { readonly op: 'trim'; readonly address: number }
  /** Trims every address below `address`; each address independently (the units are trimmed in parallel, not atomically). */
  | { readonly op: 'prefixTrim'; readonly address: number }
  | { readonly op: 'tail' };

export type OpName = Call['op'];

/** The result type of each call on success. */
export interface ResultOf {
  readonly append: number;
  readonly read: ReadResult;
  readonly fill: FillResult;
  readonly trim: undefined;
  readonly prefixTrim: undefined;
  readonly tail: number;
}

/** How an operation ended. `at` is the client's time of completion (for unknown: when it gave up). */
export type End<R> =
  | { readonly status: 'ok'; readonly at: number; readonly result: R }
  | { readonly status: 'fail'; readonly at: number; readonly error?: string }
  | { readonly status: 'unknown'; readonly at: number; readonly error?: string };

type OpOf<C extends Call> = C & {
  /** Unique within the history; the recorder numbers from 0. */
  readonly id: number;
  /** Who called: any label ("c3", "sim-client-3"). */
  readonly client: string;
  /** When the call began. */
  readonly invoke: number;
  /** Absent while pending (counts as unknown). */
  readonly end?: End<ResultOf[C['op']]>;
};

/** One recorded operation: the call, its interval and how it ended. */
export type Operation = { [K in OpName]: OpOf<Extract<Call, { readonly op: K }>> }[OpName];
export type OperationOf<K extends OpName> = Extract<Operation, { readonly op: K }>;

/** The handle returned by `invoke`: complete it exactly once. */
export interface PendingOp<K extends OpName> {
  readonly id: number;
  ok(...result: ResultOf[K] extends undefined ? [] : [ResultOf[K]]): void;
  fail(error?: string): void;
  unknown(error?: string): void;
}

export class HistoryRecorder {
  readonly #now: () => number;
  // Mutable while recording; handed out read-only.
  readonly #ops: Array<Record<string, unknown>> = [];

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  invoke<C extends Call>(client: string, call: C): PendingOp<C['op']> {
    const id = this.#ops.length;
    const copied: Record<string, unknown> = { ...call };
    if (call.op === 'append') copied['payload'] = Uint8Array.from(call.payload);
    const record: Record<string, unknown> = { id, client, ...copied, invoke: this.#now() };
    this.#ops.push(record);
    const complete = (end: Record<string, unknown>): void => {
      if (record['end'] !== undefined) {
        throw new Error(`history: ${describeOp(record as unknown as Operation)} completed twice`);
      }
      record['end'] = { ...end, at: this.#now() };
    };
    return {
      id,
      ok: (...result: unknown[]) => complete({ status: 'ok', result: checkedResult(call, result[0]) }),
      fail: (error?: string) => complete(error === undefined ? { status: 'fail' } : { status: 'fail', error }),
      unknown: (error?: string) => complete(error === undefined ? { status: 'unknown' } : { status: 'unknown', error }),
    };
  }

  /** The history so far (the same objects; later completions show up in them). */
  operations(): readonly Operation[] {
    return this.#ops as unknown as readonly Operation[];
  }
}

/** Copies a result and checks its shape: a wrong one is a harness bug, so it throws now. */
function checkedResult(call: Call, result: unknown): unknown {
  const bad = (): never => {
    throw new Error(`history: ${call.op} completed ok with ${JSON.stringify(result)}`);
  };
  switch (call.op) {
    case 'append':
    case 'tail':
      if (typeof result !== 'number' || !Number.isSafeInteger(result) || result < 0) bad();
      return result;
    case 'trim':
    case 'prefixTrim':
      if (result !== undefined) bad();
      return undefined;
    case 'read':
    case 'fill': {
      const r = result as ReadResult | undefined;
      const kinds = call.op === 'read' ? ['data', 'junk', 'trimmed', 'unwritten'] : ['data', 'junk', 'trimmed'];
      if (typeof r !== 'object' || r === null || !kinds.includes(r.kind)) return bad();
      if (r.kind !== 'data') return { kind: r.kind };
      if (!(r.payload instanceof Uint8Array)) bad();
      return { kind: 'data', payload: Uint8Array.from(r.payload) };
    }
  }
}

// ---- describing operations (for violation messages) ---------------------------

/** A payload's identity: its bytes as a string (latin1 maps bytes 1:1 to chars), for Map keys. */
export function payloadKey(payload: Uint8Array): string {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
}

/** Short and readable: printable ASCII in quotes, otherwise the first bytes in hex. */
export function formatPayload(payload: Uint8Array): string {
  const printable = payload.every((b) => b >= 0x20 && b < 0x7f && b !== 0x22);
  if (printable && payload.length <= 32) return `"${Buffer.from(payload).toString('latin1')}"`;
  const head = Buffer.from(payload.subarray(0, 8)).toString('hex');
  return `0x${head}${payload.length > 8 ? '…' : ''}(${payload.length}B)`;
}

function formatValue(r: ReadResult): string {
  return r.kind === 'data' ? `data ${formatPayload(r.payload)}` : r.kind;
}

/** E.g. `#12 c3 append("x7") -> 5 [t 1..4]`, `#13 c1 read(5) -> unknown [t 2..?]`. */
export function describeOp(op: Operation): string {
  const args = op.op === 'append' ? formatPayload(op.payload) : op.op === 'tail' ? '' : String(op.address);
  const call = `#${op.id} ${op.client} ${op.op}(${args})`;
  const end = op.end;
  if (end === undefined) return `${call} -> pending [t ${op.invoke}..?]`;
  if (end.status !== 'ok') {
    const why = end.error === undefined ? '' : ` (${end.error})`;
    return `${call} -> ${end.status}${why} [t ${op.invoke}..${end.status === 'unknown' ? '?' : end.at}]`;
  }
  return `${call} -> ${resultText(op)} [t ${op.invoke}..${end.at}]`;
}

function resultText(op: Operation): string {
  if (op.end?.status !== 'ok') return '';
  switch (op.op) {
    case 'read':
    case 'fill':
      return op.end?.status === 'ok' ? formatValue(op.end.result) : '';
    case 'append':
    case 'tail':
      return op.end?.status === 'ok' ? String(op.end.result) : '';
    default:
      return 'ok';
  }
}
