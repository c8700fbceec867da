// The `corfu` library entry: the network log client (CorfuClient) and the
// storage engine. Importing it does not load the native addon (the engine
// loads it on first use; the client is pure TypeScript over TCP).

export { CorfuError, ERROR_TABLE, InvariantError, STATUS_NAMES, Store, TokenCounter, codeByte, codeName, isCorfuError, isErrorCode } from '../bindings/index.js';
export type {
  CorfuErrorOptions,
  /** The engine's entry (Store.readOne); a log entry from CorfuClient is a LogEntry. */
  Entry as StoreEntry,
  DeviceIdentity,
  ErrorCode,
  FormatOptions,
  OpenOptions,
  ReadOutcome,
  StatusName,
  StoreStats,
  SuperblockInfo,
  SyncMode,
  TrimOutcome,
  WriteEntry,
  WriteOutcome,
  WrittenAs,
} from '../bindings/index.js';

export { CorfuClient } from './client/index.js';
export type { CallOptions, ClientErrorCode, ConnectOptions, FollowOptions, LogEntry } from './client/index.js';
export { clientMetrics } from './client/metrics.js';
export type { CallObserver, ObservedCall } from './client/client.js';

export { CorfuRuntime, CorfuCounter, CorfuMap, CorfuObject, KvStore, Transaction, jsonCodec, objectStream } from './objects/index.js';
export type { Codec, CounterUpdate, MapUpdate, ObjectDefinition, ReadOptions, RuntimeOptions, TransactionOptions } from './objects/index.js';
export type { StreamEntry, StreamReader } from './client/stream-reader.js';
export type { StreamTails } from './client/client.js';

export { reconfigure } from './client/reconfigure-driver.js';
export type { ReconfigureOptions, ReconfigureResult } from './client/reconfigure-driver.js';
export type { Change } from './layout/next.js';
export type { Projection, Segment, Stripe } from './layout/index.js';
