// The client library: CorfuClient, and the chain protocol for one address as
// pure state machines (append, read, fill) with the chain lookup they use.

export { AppendOp, FillOp, ReadOp, isTerminal } from './chain.js';
export type {
  AppendProgress,
  AppendResult,
  ChainAction,
  ChainEvent,
  ChainOp,
  ChainOpName,
  ChainPhase,
  Failed,
  NewToken,
  ReadResult,
  RefreshProjection,
  TerminalAction,
  UnitRequest,
  UnitResponse,
  Value,
  WrittenAs,
} from './chain.js';
export { chainTarget } from './target.js';
export type { ChainTarget } from './target.js';
export { CorfuClient } from './client.js';
export type { CallOptions, ClientErrorCode, ConnectOptions, Entry as LogEntry, FollowOptions } from './client.js';
