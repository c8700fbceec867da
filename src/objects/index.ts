// The object layer (docs/objects.md): replicated objects whose state is their stream,
// optimistic transactions across them, and a key-value store. Above the client: it
// uses CorfuClient's public API only.

export { CorfuRuntime, objectStream } from './runtime.js';
export type { RuntimeOptions, RuntimeSettings } from './runtime.js';
export { CorfuCounter, CorfuMap, CorfuObject } from './handles.js';
export type { ReadOptions } from './handles.js';
export { KvStore } from './kv.js';
export { Transaction } from './transaction.js';
export type { TransactionOptions } from './transaction.js';
export { jsonCodec } from './types.js';
export type { Codec, CounterUpdate, MapUpdate, ObjectDefinition } from './types.js';
