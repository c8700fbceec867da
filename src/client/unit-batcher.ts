// Per-unit batching of the client's one-address requests ("writes
// to one unit are batched per tick").
//
// Every WRITE, READ, FILL and TRIM the chain machines send to a unit in one turn of
// the event loop goes out as one vectored frame per (op, epoch): the unit
// hands it to its engine as one call, one group commit. The frame's answer is
// split back per entry. Flushed with setImmediate, not a microtask: the chain
// operations woken by one answer frame reach their next send through several
// awaits each, and all of them must land in the same batch. (The runtime's
// `defer`: setImmediate in Node, the simulator's own turn in test/sim.)
//
// A whole-frame failure (ERR_IO: timeout, lost connection; ERR_OVERLOADED)
// rejects every entry of the frame; a whole-frame error response (ERR_SEALED,
// ...) becomes every entry's answer.
//
// A unit answers a READ's entries in order while its answer fits one frame and
// marks the rest ERR_OVERLOADED, "not served in this frame, ask again"
// (docs/protocol.md): a batch of large entries must not fail because of its
// size. Those entries go out again at once, as the next frame, and the chain
// machines never see the status. The unit serves at least the first entry of
// every READ, so each round makes progress and an entry is re-asked fewer times
// than its frame had entries; a unit that serves none gets the frame's entries
// rejected with ERR_OVERLOADED instead (the caller's resend policy, with
// backoff, takes over).

import { CorfuError, codeByte } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { Connection } from '../transport/connection.js';
import { MAX_ENTRIES, MAX_FRAME_BYTES } from '../wire/frame.js';
import type { ErrorResponse, Response, WriteEntry } from '../wire/messages.js';

/** One entry's share of a frame's answer. */
export type EntryAnswer =
  | { readonly kind: 'error'; readonly response: ErrorResponse }
  | { readonly kind: 'write'; readonly status: number; readonly written: number }
  | { readonly kind: 'trim'; readonly status: number }
  /** `deferrals`: how many answers deferred this entry before the one that served it. */
  | { readonly kind: 'read'; readonly status: number; readonly entryKind: number; readonly payload: Uint8Array | null; readonly deferrals: number };

/** One entry of a `submitMany` whose frame got no answer (timeout, lost link, ERR_OVERLOADED). */
export interface EntryLost {
  readonly kind: 'lost';
  readonly error: unknown;
}

type Op = 'WRITE' | 'READ' | 'FILL' | 'TRIM';

/** Where the answers of one submission go: `index` is the entry's place in it. */
interface Sink {
  answer(index: number, answer: EntryAnswer): void;
  fail(index: number, err: unknown): void;
}

interface Pending {
  readonly address: number;
  readonly payload: Uint8Array | undefined;
  readonly sink: Sink;
  readonly index: number;
  /** READ answers that deferred this entry so far. */
  deferrals: number;
}

/** `submit`'s sink: one entry, one promise. */
class OneAnswer implements Sink {
  readonly #resolve: (answer: EntryAnswer) => void;
  readonly #reject: (err: unknown) => void;

  constructor(resolve: (answer: EntryAnswer) => void, reject: (err: unknown) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  answer(_index: number, answer: EntryAnswer): void {
    this.#resolve(answer);
  }

  fail(_index: number, err: unknown): void {
    this.#reject(err);
  }
}

/** `submitMany`'s sink: every entry's answer (or loss) in one array, one promise for all. */
class AllAnswers implements Sink {
  readonly answers: (EntryAnswer | EntryLost)[];
  #left: number;
  readonly #resolve: (answers: (EntryAnswer | EntryLost)[]) => void;

  constructor(n: number, resolve: (answers: (EntryAnswer | EntryLost)[]) => void) {
    this.answers = new Array<EntryAnswer | EntryLost>(n);
    this.#left = n;
    this.#resolve = resolve;
  }

  answer(index: number, answer: EntryAnswer | EntryLost): void {
    invariant(this.answers[index] === undefined, 'unit batcher: an entry answered twice');
    this.answers[index] = answer;
    if (--this.#left === 0) this.#resolve(this.answers);
  }

  fail(index: number, error: unknown): void {
    this.answer(index, { kind: 'lost', error });
  }
}

interface Batch {
  readonly op: Op;
  readonly epoch: number;
  readonly entries: Pending[];
  bytes: number;
}

/** Entries per frame; well under MAX_ENTRIES so one slow frame does not hold up thousands of operations. */
export const MAX_BATCH_ENTRIES = Math.min(1024, MAX_ENTRIES);
/** Payload bytes per WRITE frame, well under the frame cap. */
export const MAX_BATCH_BYTES = Math.min(4 * 1024 * 1024, MAX_FRAME_BYTES / 2);

export class UnitBatcher {
  readonly #connection: Connection;
  readonly #timeoutMs: number;
  readonly #defer: (fn: () => void) => void;
  /** Open batches by `${op}/${epoch}`, sent at the next setImmediate. */
  readonly #open = new Map<string, Batch>();
  #scheduled = false;

  constructor(connection: Connection, timeoutMs: number, defer: (fn: () => void) => void) {
    this.#connection = connection;
    this.#timeoutMs = timeoutMs;
    this.#defer = defer;
  }

  /** Queues one entry; resolves with its answer once its frame is answered. */
  submit(op: Op, epoch: number, address: number, payload?: Uint8Array): Promise<EntryAnswer> {
    return new Promise<EntryAnswer>((resolve, reject) => this.#queue(op, epoch, address, payload, new OneAnswer(resolve, reject), 0));
  }

  /**
   * Queues several entries of one op and epoch (in the same frames as everyone else's);
   * resolves once each has its answer, in their order. Never rejects: an entry whose
   * frame got no answer is `lost`, with the error `submit` would have rejected with.
   */
  submitMany(op: Op, epoch: number, entries: readonly { readonly address: number; readonly payload?: Uint8Array }[]): Promise<(EntryAnswer | EntryLost)[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise<(EntryAnswer | EntryLost)[]>((resolve) => {
      const sink = new AllAnswers(entries.length, resolve);
      for (let i = 0; i < entries.length; i++) this.#queue(op, epoch, entries[i]!.address, entries[i]!.payload, sink, i);
    });
  }

  #queue(op: Op, epoch: number, address: number, payload: Uint8Array | undefined, sink: Sink, index: number): void {
    const key = `${op}/${epoch}`;
    let batch = this.#open.get(key);
    const size = payload?.length ?? 0;
    if (batch !== undefined && (batch.entries.length >= MAX_BATCH_ENTRIES || batch.bytes + size > MAX_BATCH_BYTES)) {
      this.#open.delete(key);
      this.#send(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { op, epoch, entries: [], bytes: 0 };
      this.#open.set(key, batch);
    }
    batch.entries.push({ address, payload, sink, index, deferrals: 0 });
    batch.bytes += size;
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#defer(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = [...this.#open.values()];
    this.#open.clear();
    for (const batch of batches) this.#send(batch);
  }

  #send(batch: Batch): void {
    const { op, epoch, entries } = batch;
    const request =
      op === 'WRITE'
        ? this.#connection.request({ type: 'request', op, epoch, entries: entries.map(writeEntry) }, { timeoutMs: this.#timeoutMs })
        : this.#connection.request({ type: 'request', op, epoch, addresses: entries.map((e) => e.address) }, { timeoutMs: this.#timeoutMs });
    request.then(
      (res) => {
        const deferred = split(res, entries);
        if (deferred.length === 0) return;
        if (deferred.length === entries.length) {
          const err = new CorfuError('ERR_OVERLOADED', `the unit served none of a READ of ${entries.length} entries`);
          for (const e of deferred) e.sink.fail(e.index, err);
          return;
        }
        this.#send({ op, epoch, entries: deferred, bytes: 0 });
      },
      (err: unknown) => {
        for (const e of entries) e.sink.fail(e.index, err);
      },
    );
  }
}

const DEFERRED = codeByte('ERR_OVERLOADED');

/** A WRITE's entry goes out as its Pending (it holds the address and the payload), not as a copy of them. */
function writeEntry(e: Pending): WriteEntry {
  invariant(e.payload !== undefined, () => `unit batcher: a WRITE of ${e.address} without a payload`);
  return e as Pending & WriteEntry;
}

/**
 * WRITE and FILL answers, one frozen object per (status, written) pair, shared: an
 * answer is read, never changed, and a new object per entry per replica was garbage
 * the client's collector paid for at every append.
 */
const writeAnswers = new Map<number, EntryAnswer>();
function writeAnswer(status: number, written: number): EntryAnswer {
  const key = status * 256 + written;
  let answer = writeAnswers.get(key);
  if (answer === undefined) {
    answer = Object.freeze({ kind: 'write', status, written });
    writeAnswers.set(key, answer);
  }
  return answer;
}

/** Resolves each entry with its share of the answer; returns the READ entries the unit deferred to a later frame. */
function split(res: Response, entries: readonly Pending[]): Pending[] {
  const deferred: Pending[] = [];
  if (res.status !== 'OK') {
    for (const e of entries) e.sink.answer(e.index, { kind: 'error', response: res });
    return deferred;
  }
  const n = entries.length;
  if (res.op === 'WRITE' || res.op === 'FILL') {
    const w = res;
    if (w.statuses.length !== n) return mismatch(entries, res.op, w.statuses.length);
    entries.forEach((e, i) => e.sink.answer(e.index, writeAnswer(w.statuses[i]!, w.written[i]!)));
    return deferred;
  }
  if (res.op === 'TRIM') {
    const t = res;
    if (t.statuses.length !== n) return mismatch(entries, 'TRIM', t.statuses.length);
    entries.forEach((e, i) => e.sink.answer(e.index, { kind: 'trim', status: t.statuses[i]! }));
    return deferred;
  }
  if (res.op === 'READ') {
    const r = res;
    if (r.statuses.length !== n) return mismatch(entries, 'READ', r.statuses.length);
    entries.forEach((e, i) => {
      if (r.statuses[i] === DEFERRED) {
        e.deferrals++;
        deferred.push(e);
      } else {
        e.sink.answer(e.index, { kind: 'read', status: r.statuses[i]!, entryKind: r.kinds[i]!, payload: r.payloads[i] ?? null, deferrals: e.deferrals });
      }
    });
    return deferred;
  }
  for (const e of entries) e.sink.fail(e.index, new CorfuError('ERR_IO', `a vectored request was answered as ${res.op}`));
  return deferred;
}

function mismatch(entries: readonly Pending[], op: string, got: number): Pending[] {
  const err = new CorfuError('ERR_IO', `${op} of ${entries.length} entries answered with ${got} statuses`);
  for (const e of entries) e.sink.fail(e.index, err);
  return [];
}
