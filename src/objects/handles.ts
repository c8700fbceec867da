// The objects a runtime hands out: a map, a counter, and the caller's own type. Each is
// a handle on the runtime's one view of that object (view.ts).
//
// Reads are linearizable by default: the view plays the stream forward to its tail
// first, so a read sees every update acknowledged before it began. `{ at: address }`
// reads the object as it was at that log address (an immutable snapshot); `{ stale:
// true }` answers from what the view already holds, without touching the network.
// Writes append one update record to the object's stream and resolve with its address.

import { CorfuError } from '../../bindings/errors.js';
import type { CallOptions } from '../client/budget.js';
import { encodeRecord } from './records.js';
import type { CorfuRuntime } from './runtime.js';
import { objectStream } from './runtime.js';
import { checkKey, type CounterUpdate, type MapState, type MapUpdate, type ObjectType } from './types.js';
import type { ObjectView, Snapshot } from './view.js';

export interface ReadOptions extends CallOptions {
  /** Read the object as it was at this log address (its state after every entry at or below it). */
  readonly at?: number;
  /** Answer from what this runtime already replayed: no network, possibly behind. */
  readonly stale?: boolean;
}

/** What every object handle shares: its name, its view, reads at a chosen point, and appending updates. */
export abstract class ObjectHandle<S, U> {
  readonly name: string;
  /** @internal */
  readonly view: ObjectView<S, U>;
  /** @internal */
  readonly runtime: CorfuRuntime;

  constructor(runtime: CorfuRuntime, name: string, view: ObjectView<S, U>) {
    this.runtime = runtime;
    this.name = name;
    this.view = view;
  }

  /** @internal The type of this object (the view of a handle always has one). */
  get type(): ObjectType<S, U> {
    return this.view.type!;
  }

  /** The snapshot a read with these options answers from. */
  protected async snapshot(options: ReadOptions = {}): Promise<Snapshot<S>> {
    if (typeof options !== 'object' || options === null) throw new CorfuError('ERR_BAD_REQUEST', `read options must be an object, got ${JSON.stringify(options)}`);
    const { at, stale } = options;
    if (at !== undefined) {
      if (!Number.isSafeInteger(at) || at < -1) throw new CorfuError('ERR_BAD_REQUEST', `at must be a log address (or -1: before anything), got ${String(at)}`);
      if (stale === true) throw new CorfuError('ERR_BAD_REQUEST', 'a read is either at an address or stale, not both');
      return this.runtime.snapshotAt(this.view, at, options);
    }
    if (stale !== true) await this.view.sync(options);
    return this.view.current();
  }

  /** The state this read answers (a snapshot's state is always there for a typed view). */
  protected async state(options?: ReadOptions): Promise<S> {
    return (await this.snapshot(options)).state as S;
  }

  /** Appends one update to the object's stream; resolves with its address. */
  protected async append(update: U, options?: CallOptions): Promise<number> {
    const type = this.type;
    const keys = type.keys(update);
    const address = await this.runtime.client.appendTo([objectStream(this.name)], encodeRecord({ kind: 'update', keys, update: type.codec.encode(update) }), options);
    this.runtime.wrote();
    return address;
  }
}

export class CorfuMap<V> extends ObjectHandle<MapState<V>, MapUpdate<V>> {
  async get(key: string, options?: ReadOptions): Promise<V | undefined> {
    checkKey(key);
    return (await this.state(options)).get(key);
  }

  /** Several keys' values from one snapshot, in the order asked (undefined for a missing key). */
  async getMany(keys: readonly string[], options?: ReadOptions): Promise<Array<V | undefined>> {
    if (!Array.isArray(keys) || keys.length === 0) throw new CorfuError('ERR_BAD_REQUEST', 'getMany: keys must be a non-empty array of keys');
    const checked = (keys as readonly unknown[]).map((k) => checkKey(k));
    const state = await this.state(options);
    return checked.map((k) => state.get(k));
  }

  async has(key: string, options?: ReadOptions): Promise<boolean> {
    checkKey(key);
    return (await this.state(options)).has(key);
  }

  /** Every [key, value], in key order. */
  async entries(options?: ReadOptions): Promise<Array<[string, V]>> {
    return [...(await this.state(options)).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async size(options?: ReadOptions): Promise<number> {
    return (await this.state(options)).size;
  }

  put(key: string, value: V, options?: CallOptions): Promise<number> {
    return this.append({ op: 'put', key: checkKey(key), value }, options);
  }

  delete(key: string, options?: CallOptions): Promise<number> {
    return this.append({ op: 'delete', key: checkKey(key) }, options);
  }

  /** Several keys in one log entry: all or none, visible together. */
  putAll(entries: Readonly<Record<string, V>> | ReadonlyArray<readonly [string, V]>, options?: CallOptions): Promise<number> {
    const list = Array.isArray(entries) ? (entries as ReadonlyArray<readonly [string, V]>) : Object.entries(entries as Record<string, V>);
    if (list.length === 0) throw new CorfuError('ERR_BAD_REQUEST', 'putAll: no entries');
    const seen = new Set<string>();
    for (const [k] of list) {
      if (seen.has(checkKey(k))) throw new CorfuError('ERR_BAD_REQUEST', `putAll: key ${JSON.stringify(k)} appears twice`);
      seen.add(k);
    }
    return this.append({ op: 'putAll', entries: list }, options);
  }
}

export class CorfuCounter extends ObjectHandle<number, CounterUpdate> {
  get(options?: ReadOptions): Promise<number> {
    return this.state(options);
  }

  add(n: number, options?: CallOptions): Promise<number> {
    if (!Number.isSafeInteger(n)) throw new CorfuError('ERR_BAD_REQUEST', `add: n must be a safe integer, got ${String(n)}`);
    return this.append({ add: n }, options);
  }
}

export class CorfuObject<S, U> extends ObjectHandle<S, U> {
  get(options?: ReadOptions): Promise<S> {
    return this.state(options);
  }

  /** Appends `update`; every runtime applies it with the type's apply() in log order. */
  apply(update: U, options?: CallOptions): Promise<number> {
    return this.append(update, options);
  }
}
