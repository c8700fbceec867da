// The engine's API passes Buffers (napi-rs takes and gives them without a copy): its
// declarations need Node's types, which the package depends on (@types/node).
/// <reference types="node" preserve="true" />

// The addon's surface as docs/native-api.md states it. The generated
// bindings/native/native.d.ts is the source of truth; these types are written
// by hand so that the library (and its published .d.ts) type-checks without a
// Rust build, and test/native-types.test.ts checks that they agree.

export interface NativeFormatOptions {
  sizeBytes?: number;
  maxEntryBytes?: number;
  /** 32 hex digits. */
  clusterId?: string;
  unitId?: number;
  force?: boolean;
  zero?: boolean;
}

/** What a device's superblock says of it, read without recovery (`Store.identity`). */
export interface DeviceIdentity {
  formatVersion: number;
  /** Hex string: stamps the device so a unit never serves another cluster's disk. */
  clusterId: string;
  unitId: number;
  epoch: number;
  pageBytes: number;
  maxEntryBytes: number;
  deviceBytes: number;
  /** Random per format, 16 lower-case hex digits. */
  formatId: string;
  /** 'file' or 'block'. */
  kind: string;
}

export interface SuperblockInfo {
  formatVersion: number;
  /** Hex string: stamps the device so a unit never serves another cluster's disk. */
  clusterId: string;
  unitId: number;
  epoch: number;
  /** Every address below this is trimmed. */
  trimMark: number;
  pageBytes: number;
  logicalBlockBytes: number;
  deviceBytes: number;
  dataPages: number;
  maxEntryBytes: number;
  headSeq: number;
  usedPages: number;
  freePages: number;
  generation: number;
  createdUnixMs: number;
  /** Random per format, 16 lower-case hex digits: tells one format of a device from another. */
  formatId: string;
  /** 'file' or 'block'. */
  kind: string;
  /** The newest durable index checkpoint: the page seq it starts at (absent: none yet),
   *  its encoded bytes and the pages it takes. */
  checkpointSeq?: number;
  checkpointBytes: number;
  checkpointPages: number;
  /** The index a unit opening the device now would hold (what `inspect`'s read-only
   *  recovery rebuilt; 0 from `format`): its heap bytes and its addresses. */
  indexBytes: number;
  addresses: number;
}

export type SyncMode = 'always' | 'none';

export interface NativeOpenOptions {
  sync?: SyncMode;
}

export interface NativeWriteResult {
  /** One status byte per entry (the error table). */
  status: Buffer;
  /** Per entry: 0 n/a, 1 same bytes, 2 different bytes, 3 junk. */
  written: Buffer;
}

export interface NativeReadResult {
  status: Buffer;
  /** Per entry: 1 data, 2 junk (0 when the status is not OK). */
  kinds: Buffer;
  lengths: Uint32Array;
  /** Payloads of the status-OK data entries, concatenated in request order. */
  data: Buffer;
}

/** Engine counters, as of the moment the request ran on the I/O thread. */
export interface StoreStats {
  epoch: number;
  trimMark: number;
  /** One past the highest address written, filled or trimmed-to. */
  tail: number;
  generation: number;
  dataPages: number;
  usedPages: number;
  freePages: number;
  /** Addresses held in the in-memory index. */
  addresses: number;
  indexBytes: number;
  flushes: number;
  pagesWritten: number;
  entriesWritten: number;
  payloadBytesWritten: number;
  /** Rounds of the I/O thread: each is one submission and, with sync always, one sync. */
  rounds: number;
  /** What the last open's recovery scanned, and how long it took. */
  recoveryPages: number;
  /** Index summaries read instead of scanning the pages they describe. */
  recoverySummaries: number;
  /** Bytes of the index checkpoint the last open loaded (0: none was live). */
  recoveryCheckpointBytes: number;
  recoveryMs: number;
  /** The newest durable index checkpoint: the page seq it starts at (null: none yet), its
   *  encoded bytes and the pages it takes on the device. */
  checkpointSeq: number | null;
  checkpointBytes: number;
  checkpointPages: number;
  /** Index checkpoints written since this open (a clean close writes one more). */
  checkpointsWritten: number;
  /** 'always' or 'none'. */
  sync: string;
}

export interface NativeStoreInstance {
  write(epoch: number, addresses: Float64Array, lengths: Uint32Array, data: Buffer): Promise<NativeWriteResult>;
  fill(epoch: number, addresses: Float64Array): Promise<NativeWriteResult>;
  read(epoch: number, addresses: Float64Array): Promise<NativeReadResult>;
  readInto(epoch: number, addresses: Float64Array, target: Buffer): Promise<NativeReadResult>;
  trim(epoch: number, addresses: Float64Array): Promise<Buffer>;
  prefixTrim(epoch: number, address: number): Promise<void>;
  seal(newEpoch: number): Promise<number>;
  tail(epoch: number): Promise<number>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

/**
 * The addon's store as it really is: every call takes a request id and returns at once;
 * answers arrive in round buffers through `onRound` (bindings/store-channel.ts turns
 * them back into promises, which is the `NativeStoreInstance` above).
 */
export interface RawNativeStore {
  write(id: number, epoch: number, addresses: Float64Array, lengths: Uint32Array, data: Buffer): void;
  fill(id: number, epoch: number, addresses: Float64Array): void;
  read(id: number, epoch: number, addresses: Float64Array): void;
  /** As read, with the payloads written into `target` back to back; it must stay untouched until the answer. */
  readInto(id: number, epoch: number, addresses: Float64Array, target: Buffer): void;
  trim(id: number, epoch: number, addresses: Float64Array): void;
  prefixTrim(id: number, epoch: number, address: number): void;
  seal(id: number, newEpoch: number): void;
  tail(id: number, epoch: number): void;
  stats(id: number): void;
  close(id: number): void;
  /** A native read load on the device (bench tooling: native/engine/src/read_load.rs). */
  readLoad(options: NativeReadLoadOptions): NativeReadLoadInstance;
  /** A native write load on the store, from its tail (bench tooling: native/engine/src/write_load.rs). */
  writeLoad(options: NativeWriteLoadOptions): NativeWriteLoadInstance;
}

export interface NativeWriteLoadOptions {
  queueDepth: number;
  epoch: number;
  payloadBytes: number;
}

export interface NativeWriteLoadResult {
  ops: number;
  seconds: NativeTokenLoadSecond[];
  /** Every address written lies in firstAddress..nextAddress. */
  firstAddress: number;
  nextAddress: number;
  trims: number;
  failure?: string | null;
}

/**
 * One-page writes at `queueDepth` from a thread that holds the store until `close` (a
 * JS call on the store waits until then); counted inside the window open..close.
 */
export interface NativeWriteLoadInstance {
  measured(): number;
  failure(): string | null;
  open(): void;
  close(): NativeWriteLoadResult;
}

export interface NativeReadLoadOptions {
  queueDepth: number;
  /** Reads go to addresses 0..span, every one written. */
  span: number;
  epoch: number;
  seed: number;
}

export interface NativeReadLoadResult {
  ops: number;
  seconds: NativeTokenLoadSecond[];
  failure?: string | null;
}

/** Reads at `queueDepth` from a thread of its own, each replaced as it completes; counted inside the window open..close. */
export interface NativeReadLoadInstance {
  measured(): number;
  failure(): string | null;
  open(): void;
  close(): NativeReadLoadResult;
}

export interface NativeStoreClass {
  open(path: string, options: NativeOpenOptions | undefined, onRound: (round: Buffer) => void): RawNativeStore;
}

export interface NativeTokenCounterInstance {
  next(n: number): number;
  peek(): number;
}

export interface NativeTokenCounterClass {
  new (start?: number): NativeTokenCounterInstance;
  shared(name: string, start?: number): NativeTokenCounterInstance;
}

export interface NativeTokenLoadOptions {
  host: string;
  port: number;
  epoch: number;
  connections: number;
  depth: number;
  count: number;
  /** Poll without sleeping (epoll with no timeout); default false. */
  busyPoll?: boolean;
}

/** One second of a native TOKEN load's window: latencies (whole µs) and how many had each. */
export interface NativeTokenLoadSecond {
  latencyUs: number[];
  counts: number[];
}

export interface NativeTokenLoadResult {
  ops: number;
  seconds: NativeTokenLoadSecond[];
  firstToken?: number;
  tailAfter: number;
  failure?: string;
}

/** The native TOKEN load generator (bench tooling: src/bench/native-tokens.ts). */
export interface NativeTokenLoadInstance {
  measured(): number;
  failure(): string | null;
  open(): void;
  close(): NativeTokenLoadResult;
}

export interface NativeTokenLoadClass {
  start(options: NativeTokenLoadOptions): NativeTokenLoadInstance;
}

/** The client's native append path (src/client/native-appends.ts; native/engine/src/appender). */
export interface NativeAppenderOptions {
  frameEntries: number;
  framePayloadBytes: number;
  tokensPerRequest: number;
  maxEntries: number;
  maxBytes: number;
}

/** A projection's last segment as the native append path takes it. */
export interface NativeAppenderLayout {
  epoch: number;
  timeoutMs: number;
  sequencer: string;
  start: number;
  /** Exclusive; absent for an open segment. */
  end?: number;
  /** Each stripe's chain, head first. */
  chains: string[][];
}

/** One turn's outcomes: 24-byte records (native/node/src/appender.rs) and their messages. */
export interface NativeAppendOutcomes {
  records: Buffer;
  messages: string[];
  tokenRequests: number;
}

export interface NativeAppenderInstance {
  layout(layout: NativeAppenderLayout): number;
  forget(layout: number): void;
  abandon(servers: string[]): void;
  /**
   * Submission i: batch `batches[i]` under `layouts[i]`, its `counts[i]` entries the next
   * ones of `lengths`, their payloads back to back in `bytes` (copied before it returns);
   * returns the batches refused.
   */
  submit(layouts: Uint32Array, batches: Uint32Array, counts: Uint32Array, lengths: Uint32Array, bytes: Uint8Array): number[];
  stop(): void;
}

/** One frame the machine sends, to `server` (`host:port`). */
export interface NativeMachineSend {
  server: string;
  frame: Buffer;
}

/** The append path's machine alone, no thread, no sockets (the simulator drives it: test/sim/append-path.ts). */
export interface NativeAppendMachine {
  layout(layout: NativeAppenderLayout): number;
  forget(layout: number): void;
  submit(layout: number, batch: number, payloads: Uint8Array[]): void;
  turn(nowMs: number): void;
  takeSends(): NativeMachineSend[];
  /** A reason when the answer cannot be read (drop the link, then `lost`). */
  answer(server: string, frame: Uint8Array): string | null | undefined;
  lost(server: string): void;
  expire(nowMs: number): string[];
  nextDeadlineMs(): number | null | undefined;
  takeOutcomes(): NativeAppendOutcomes;
}

export interface NativeAppenderClass {
  start(options: NativeAppenderOptions, onOutcomes: (outcomes: NativeAppendOutcomes) => void): NativeAppenderInstance;
}

export interface NativeSequencerFrontOptions {
  host: string;
  port: number;
  epoch: number;
  startTail: number;
  maxConnections: number;
  frameTimeoutMs: number;
  maxBufferedBytes: number;
  maxTokensPerRequest: number;
  keepaliveIdleS: number;
}

/** What the sequencer's native front reports (src/sequencer/front.ts). */
export interface NativeFrontEvent {
  kind: string;
  conn: number;
  /** A frame's bytes (kind frame). */
  bytes?: Buffer;
  /** The peer's address (opened) or why the front closed it (closed). */
  text?: string;
}

/** The sequencer's native TCP front: answers TOKEN itself, hands every other frame over. */
export interface NativeSequencerFrontInstance {
  readonly port: number;
  readonly host: string;
  reply(conn: number, bytes: Buffer, resume: boolean): void;
  closeConnection(conn: number): void;
  stop(graceMs: number): void;
  setWaiters(any: boolean): void;
  tailSeen(): void;
  answered(): number;
  tokens(): number;
  connections(): number;
  next(n: number): number;
  peek(): number;
  reset(start: number): void;
  closeEpoch(): void;
  openEpoch(epoch: number): void;
}

export interface NativeSequencerFrontClass {
  start(options: NativeSequencerFrontOptions, onEvent: (event: NativeFrontEvent) => void): NativeSequencerFrontInstance;
}

export interface NativeUnitFrontOptions {
  host: string;
  port: number;
  maxConnections: number;
  frameTimeoutMs: number;
  maxBufferedBytes: number;
  keepaliveIdleS: number;
  maxInFlightPerConnection: number;
  latencyBoundsSeconds: number[];
}

/** What the WRITEs (or READs) a unit's native front answered add to its metrics, since it started. */
export interface NativeFrontOpMetrics {
  requests: number;
  entries: number;
  /** A WRITE's payloads; a READ's data answered. */
  payloadBytes: number;
  /** By status byte. */
  requestErrors: number[];
  entryErrors: number[];
  /** Per bucket of latencyBoundsSeconds (not cumulative), the last past every bound. */
  latencyBuckets: number[];
  latencySumSeconds: number;
}

export interface NativeUnitFrontMetrics {
  write: NativeFrontOpMetrics;
  read: NativeFrontOpMetrics;
}

/** A storage unit's native TCP front: WRITEs and READs go straight to the store, every other frame is handed over. */
export interface NativeUnitFrontInstance {
  readonly port: number;
  readonly host: string;
  reply(conn: number, bytes: Buffer): void;
  resume(conn: number): void;
  closeConnection(conn: number): void;
  stop(graceMs: number): void;
  connections(): number;
  metrics(): NativeUnitFrontMetrics;
}

export interface NativeUnitFrontClass {
  start(store: RawNativeStore, options: NativeUnitFrontOptions, onEvent: (event: NativeFrontEvent) => void): NativeUnitFrontInstance;
}

/** The engine's limits TypeScript relies on too (test/limits.test.ts checks them). */
export interface EngineLimits {
  wireMaxFrameBytes: number;
  maxReadAnswerBytes: number;
  readAnswerEntryBytes: number;
  defaultMaxEntryBytes: number;
  maxMaxEntryBytes: number;
  maxAddress: number;
  pageBodyBytes: number;
  recordHeaderBytes: number;
  maxFlushPages: number;
  maxFlushRecords: number;
  summaryTriggerPages: number;
  summaryTriggerRecords: number;
}

export interface NativeAddon {
  format(path: string, options: NativeFormatOptions): SuperblockInfo;
  inspect(path: string): SuperblockInfo;
  identity(path: string): DeviceIdentity;
  errorCodes(): Array<{ code: number; name: string }>;
  writtenCodes(): Array<{ code: number; name: string }>;
  kindCodes(): Array<{ code: number; name: string }>;
  engineLimits(): EngineLimits;
  NativeStore: NativeStoreClass;
  TokenCounter: NativeTokenCounterClass;
  TokenLoad: NativeTokenLoadClass;
  NativeAppender: NativeAppenderClass;
  AppendMachine: new (options: NativeAppenderOptions) => NativeAppendMachine;
  SequencerFront: NativeSequencerFrontClass;
  UnitFront: NativeUnitFrontClass;
}
