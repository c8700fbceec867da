// The `corfu` library entry. Today it exposes the storage engine; the network
// log (CorfuClient, units, sequencer) arrives with the next issue.

export { CorfuError, ERROR_TABLE, STATUS_NAMES, Store, TokenCounter, codeByte, codeName, isCorfuError, isErrorCode } from '../bindings/index.js';
export type {
  CorfuErrorOptions,
  Entry,
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
