// One optimistic transaction (docs/objects.md, "Transactions"). The handle is explicit:
// `rt.transaction(async (tx) => ...)` passes it, and every read and write goes through
// it, so two transactions running at once in one process never mix.
//
// - Reads see one snapshot: the log's tail when the transaction began. Each read records
//   the version (the address of the last committed write) of what it read: a key, or
//   the whole object for entries(), size(), a counter or a custom object.
// - Writes are buffered; a later read of the same object sees them (read your writes).
// - Commit appends one commit record, with the read set and the writes, to the stream of
//   every object read or written (one log entry: it is in all of them or none). Then the
//   runtime decides it as every replaying client will (decide.ts): committed if nothing
//   read changed between the snapshot and the record. An abort throws ERR_CONFLICT
//   naming what changed; its writes are never applied by anyone.
// - A read-only transaction appends nothing: its snapshot is consistent by itself. If the
//   layout changed while it read (a new sequencer may hand out again addresses below its
//   snapshot: view.ts, "Failover"), it throws ERR_CONFLICT: retry it.
// - A write-only transaction read nothing, so it always commits.

import { CorfuError } from '../../bindings/errors.js';
import type { CallOptions } from '../client/budget.js';
import type { CorfuCounter, CorfuMap, CorfuObject, ObjectHandle } from './handles.js';
import { encodeRecord, WHOLE_OBJECT, type ReadVersion, type WriteOp } from './records.js';
import type { CorfuRuntime } from './runtime.js';
import { objectStream } from './runtime.js';
import { checkKey, type MapState, type MapUpdate } from './types.js';
import { versionOf, type Snapshot } from './view.js';

export interface TransactionOptions extends CallOptions {
  /** How many times to run the body again after a conflict before throwing ERR_CONFLICT (default 0). */
  readonly retries?: number;
}

interface BufferedWrite {
  readonly handle: ObjectHandle<unknown, unknown>;
  readonly update: unknown;
}

export class Transaction {
  /** The log address the transaction reads at. */
  readonly snapshot: number;
  /** The commit record's address, once committed. */
  address: number | undefined;
  readonly #rt: CorfuRuntime;
  readonly #options: CallOptions;
  /** The layout epoch its snapshot was taken under. */
  readonly #epoch: number;
  readonly #reads = new Map<string, ReadVersion>();
  readonly #writes: BufferedWrite[] = [];
  #finished = false;

  private constructor(rt: CorfuRuntime, snapshot: number, options: CallOptions) {
    this.#rt = rt;
    this.snapshot = snapshot;
    this.#options = options;
    this.#epoch = rt.client.epoch;
  }

  /** What the transaction read so far: each key (or whole object, key '') once, at its version at the snapshot. */
  get readSet(): readonly ReadVersion[] {
    return [...this.#reads.values()];
  }

  /** @internal */
  static async begin(rt: CorfuRuntime, options: TransactionOptions): Promise<Transaction> {
    const { signal, deadlineMs } = options;
    const call: CallOptions = { ...(signal === undefined ? {} : { signal }), ...(deadlineMs === undefined ? {} : { deadlineMs }) };
    return new Transaction(rt, (await rt.client.tail(call)) - 1, call);
  }

  // ---- reads ------------------------------------------------------------------------

  async get<V>(map: CorfuMap<V>, key: string): Promise<V | undefined> {
    this.#check(map);
    checkKey(key);
    const own = this.ownValue(map, key);
    if (own !== undefined) return own.value;
    const snap = await this.#read(map, key);
    return (snap.state as MapState<V>).get(key);
  }

  async has<V>(map: CorfuMap<V>, key: string): Promise<boolean> {
    this.#check(map);
    checkKey(key);
    const own = this.ownValue(map, key);
    if (own !== undefined) return own.value !== undefined;
    return ((await this.#read(map, key)).state as MapState<V>).has(key);
  }

  /** Every [key, value] of the map in key order: a read of the whole map. */
  async entries<V>(map: CorfuMap<V>): Promise<Array<[string, V]>> {
    const state = await this.#readWhole(map);
    return [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async size<V>(map: CorfuMap<V>): Promise<number> {
    return (await this.#readWhole(map)).size;
  }

  /** A counter's value, or a custom object's state: a read of the whole object. */
  read(counter: CorfuCounter): Promise<number>;
  read<S, U>(object: CorfuObject<S, U>): Promise<S>;
  async read<S, U>(object: CorfuObject<S, U> | CorfuCounter): Promise<S | number> {
    return this.#readWhole(object as ObjectHandle<S, U>);
  }

  // ---- writes (buffered until commit) ----------------------------------------------

  put<V>(map: CorfuMap<V>, key: string, value: V): void {
    this.#write(map, { op: 'put', key: checkKey(key), value });
  }

  delete<V>(map: CorfuMap<V>, key: string): void {
    this.#write(map, { op: 'delete', key: checkKey(key) });
  }

  add(counter: CorfuCounter, n: number): void {
    if (!Number.isSafeInteger(n)) throw new CorfuError('ERR_BAD_REQUEST', `add: n must be a safe integer, got ${String(n)}`);
    this.#write(counter, { add: n });
  }

  apply<S, U>(object: CorfuObject<S, U>, update: U): void {
    this.#write(object, update);
  }

  // ---- commit -------------------------------------------------------------------------

  /** @internal Called by CorfuRuntime.transaction once the body returned. */
  async commit(): Promise<void> {
    this.#checkOpen();
    this.#finished = true;
    if (this.#writes.length === 0) {
      // A new layout may have put a new sequencer below the snapshot (it starts at the units'
      // tails): entries can then appear at or below it that reads before the change did not
      // see, and reads after it did (views read their streams again). Such reads are not one
      // snapshot: try again. (A writing transaction is decided on the log itself.)
      if (this.#rt.client.epoch !== this.#epoch)
        throw new CorfuError('ERR_CONFLICT', `transaction aborted: the layout changed under it (epoch ${this.#epoch} -> ${this.#rt.client.epoch}) while it read`);
      return;
    }
    const writes: WriteOp[] = this.#writes.map(({ handle, update }) => ({ object: handle.name, keys: handle.type.keys(update), update: handle.type.codec.encode(update) }));
    const reads = [...this.#reads.values()];
    const objects = [...new Set([...reads.map((r) => r.object), ...writes.map((w) => w.object)])];
    const record = { kind: 'commit', snapshot: this.snapshot, reads, writes } as const;
    const address = await this.#rt.client.appendTo(objects.map(objectStream), encodeRecord(record), this.#options);
    this.#rt.wrote();
    const decision = await this.#rt.decideAt(address, record);
    if (!decision.committed) throw new CorfuError('ERR_CONFLICT', `transaction aborted: ${decision.why}`);
    this.address = address;
  }

  // ---- internals ------------------------------------------------------------------------

  #check(handle: ObjectHandle<unknown, unknown> | ObjectHandle<never, never>): void {
    this.#checkOpen();
    if ((handle as { runtime?: unknown }).runtime !== this.#rt) throw new CorfuError('ERR_BAD_REQUEST', 'a transaction takes objects of its own runtime');
  }

  #checkOpen(): void {
    if (this.#finished) throw new CorfuError('ERR_BAD_REQUEST', 'the transaction is over: use the handle only inside its body');
  }

  #write(handle: ObjectHandle<never, never> | ObjectHandle<unknown, unknown>, update: unknown): void {
    this.#check(handle);
    this.#writes.push({ handle: handle, update });
  }

  /** The snapshot, with the read of `key` recorded at its version there. */
  async #read<S, U>(handle: ObjectHandle<S, U>, key: string): Promise<Snapshot<S>> {
    const snap = await this.#rt.snapshotAt(handle.view, this.snapshot, this.#options);
    this.#reads.set(`${handle.name}\u0000${key}`, { object: handle.name, key, version: versionOf(snap, key) });
    return snap;
  }

  /** The whole object at the snapshot with this transaction's own writes applied. */
  async #readWhole<S, U>(handle: ObjectHandle<S, U>): Promise<S> {
    this.#check(handle);
    let state = (await this.#read(handle, WHOLE_OBJECT)).state as S;
    for (const w of this.#writes) if (w.handle.name === handle.name) state = handle.type.apply(state, w.update as U);
    return state;
  }

  /**
   * What this transaction's own writes say `key` of `map` holds (value undefined: deleted);
   * undefined when they do not touch it. TypeScript-private rather than #private only so
   * that the simulator can plant a bug in it (test/sim/patches.ts); nothing else calls it.
   */
  private ownValue<V>(map: CorfuMap<V>, key: string): { value: V | undefined } | undefined {
    let own: { value: V | undefined } | undefined;
    for (const w of this.#writes) {
      if (w.handle.name !== map.name) continue;
      const u = w.update as MapUpdate<V>;
      if (u.op === 'put' && u.key === key) own = { value: u.value };
      else if (u.op === 'delete' && u.key === key) own = { value: undefined };
      else if (u.op === 'putAll') for (const [k, v] of u.entries) if (k === key) own = { value: v };
    }
    return own;
  }
}
