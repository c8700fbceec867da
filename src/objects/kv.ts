// A key-value store on the log (CORFU-Store's interface; docs/objects.md, "The KV store"):
// a replicated map with string keys, atomic multi-key puts and consistent multi-key reads.
//
// - put / delete: one update record each.
// - multiPut: every key in one update record, one log entry: all or none, visible
//   together (a reader sees either none of them or all of them).
// - get / multiGet: linearizable; multiGet answers every key from one snapshot.
// - getAt(k, address): the value as of a past log address (an immutable snapshot).

import type { CallOptions } from '../client/budget.js';
import type { CorfuMap } from './handles.js';

export class KvStore<V> {
  readonly #map: CorfuMap<V>;

  constructor(map: CorfuMap<V>) {
    this.#map = map;
  }

  get name(): string {
    return this.#map.name;
  }

  /** The map behind the store (for transactions: rt.transaction((tx) => tx.get(kv.map, k))). */
  get map(): CorfuMap<V> {
    return this.#map;
  }

  put(key: string, value: V, options?: CallOptions): Promise<number> {
    return this.#map.put(key, value, options);
  }

  /** Every key in one log entry; resolves with its address. */
  multiPut(entries: Readonly<Record<string, V>> | ReadonlyArray<readonly [string, V]>, options?: CallOptions): Promise<number> {
    return this.#map.putAll(entries, options);
  }

  get(key: string, options?: CallOptions): Promise<V | undefined> {
    return this.#map.get(key, options);
  }

  /** Every key's value from one snapshot (undefined for a missing key), in the order asked. */
  multiGet(keys: readonly string[], options?: CallOptions): Promise<Array<V | undefined>> {
    return this.#map.getMany(keys, options);
  }

  /** The value of `key` as of log address `address`. */
  getAt(key: string, address: number, options?: CallOptions): Promise<V | undefined> {
    return this.#map.get(key, { ...options, at: address });
  }

  delete(key: string, options?: CallOptions): Promise<number> {
    return this.#map.delete(key, options);
  }

  /** Every [key, value] in key order. */
  entries(options?: CallOptions): Promise<Array<[string, V]>> {
    return this.#map.entries(options);
  }
}
