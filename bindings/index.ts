// The public surface of the bindings. Importing this module does not load the
// addon; the first Store/TokenCounter call does.

export { CorfuError, ERROR_TABLE, STATUS_NAMES, codeByte, codeName, isCorfuError, isErrorCode } from './errors.js';
export type { CorfuErrorOptions, ErrorCode, StatusName } from './errors.js';
export { InvariantError } from './invariant.js';
export { NativeLoadError, addonPath, loadNative } from './native.js';
export { Store } from './store.js';
export type { DeviceIdentity, Entry, FormatOptions, OpenOptions, ReadOutcome, StoreStats, SuperblockInfo, SyncMode, TrimOutcome, WriteEntry, WriteOutcome, WrittenAs } from './store.js';
export { TokenCounter } from './token-counter.js';
