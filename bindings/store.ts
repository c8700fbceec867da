// The engine's API passes Buffers (napi-rs takes and gives them without a copy): its
// declarations need Node's types, which the package depends on (@types/node).
/// <reference types="node" preserve="true" />

// The typed API over one storage unit's device. Every batch crosses N-API
// once: entries are packed into (Float64Array, Uint32Array, Buffer) on the way
// in, and results come back as status byte arrays that are decoded here.

import { KIND, writtenAs, type WrittenAs } from './entry-codes.js';
import { CorfuError, codeName, type StatusName } from './errors.js';
import { InvariantError, invariant } from './invariant.js';
import { loadNative } from './native.js';
import { callAsync, callSync } from './native-errors.js';
import { StoreChannel } from './store-channel.js';
import type {
  DeviceIdentity,
  NativeFormatOptions,
  NativeFrontEvent,
  NativeReadLoadInstance,
  NativeReadLoadOptions,
  NativeReadResult,
  NativeUnitFrontInstance,
  NativeUnitFrontOptions,
  NativeWriteLoadInstance,
  NativeWriteLoadOptions,
  NativeWriteResult,
  StoreStats,
  SuperblockInfo,
  SyncMode,
} from './native-types.js';
import { checkBytes, checkPath, checkPosition, checkPositiveInt, describe, toAddressArray } from './validate.js';

export type { DeviceIdentity, StoreStats, SuperblockInfo, SyncMode } from './native-types.js';

export interface FormatOptions {
  /** Bytes of a regular file to use (created or resized); a block device is used whole. */
  sizeBytes?: number;
  /** Largest payload a write accepts; fixed at format time (engine default 64 KiB). */
  maxEntryBytes?: number;
  /** 32 hex digits (16 bytes) stamped on the device so a unit never serves another cluster's disk; random if omitted. */
  clusterId?: string;
  unitId?: number;
  /** Overwrite an existing Corfu superblock. */
  force?: boolean;
  /**
   * Write zeros over a regular file first (refused for a block device). A file's blocks
   * are reserved as unwritten extents, and the first write to each makes its sync commit
   * the filesystem's journal too: zeroing pays that once, here, instead of on every
   * first write until the log has gone once around the file.
   */
  zero?: boolean;
}

export interface OpenOptions {
  /** `always` (default): a write is acknowledged only once durable. `none`: benchmarks only. */
  sync?: SyncMode;
}

export interface WriteEntry {
  address: number;
  payload: Uint8Array;
}

export type { WrittenAs } from './entry-codes.js';

export interface WriteOutcome {
  address: number;
  status: StatusName;
  /** Present only with ERR_WRITTEN. */
  written?: WrittenAs;
}

export interface ReadOutcome {
  address: number;
  status: StatusName;
  /** Present only with status OK. */
  kind?: 'data' | 'junk';
  /** Present only for data: a view into the batch's result buffer (not a copy). */
  payload?: Buffer;
}

export interface TrimOutcome {
  address: number;
  status: StatusName;
}

/** The value at one address, as `readOne` returns it. */
export type Entry = { kind: 'data'; payload: Buffer } | { kind: 'junk' };

const MAX_U32 = 0xffff_ffff;

function checkFormatOptions(options: unknown): NativeFormatOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new CorfuError('ERR_BAD_REQUEST', `format options must be an object, got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  const out: NativeFormatOptions = {};
  if (o['sizeBytes'] !== undefined) out.sizeBytes = checkPositiveInt(o['sizeBytes'], 'sizeBytes');
  if (o['maxEntryBytes'] !== undefined) out.maxEntryBytes = checkPositiveInt(o['maxEntryBytes'], 'maxEntryBytes', MAX_U32);
  if (o['unitId'] !== undefined) out.unitId = checkPosition(o['unitId'], 'unitId');
  if (o['clusterId'] !== undefined) {
    const id = o['clusterId'];
    if (typeof id !== 'string' || !/^[0-9a-fA-F]{32}$/.test(id)) {
      throw new CorfuError('ERR_BAD_REQUEST', `clusterId must be 32 hex digits, got ${describe(id)}`);
    }
    out.clusterId = id.toLowerCase();
  }
  if (o['force'] !== undefined) {
    if (typeof o['force'] !== 'boolean') throw new CorfuError('ERR_BAD_REQUEST', `force must be a boolean, got ${describe(o['force'])}`);
    out.force = o['force'];
  }
  if (o['zero'] !== undefined) {
    if (typeof o['zero'] !== 'boolean') throw new CorfuError('ERR_BAD_REQUEST', `zero must be a boolean, got ${describe(o['zero'])}`);
    out.zero = o['zero'];
  }
  return out;
}

function checkSync(options: unknown): SyncMode {
  if (options === undefined) return 'always';
  if (typeof options !== 'object' || options === null) throw new CorfuError('ERR_BAD_REQUEST', `open options must be an object, got ${describe(options)}`);
  const sync = (options as { sync?: unknown }).sync ?? 'always';
  if (sync !== 'always' && sync !== 'none') throw new CorfuError('ERR_BAD_REQUEST', `sync must be 'always' or 'none', got ${describe(sync)}`);
  return sync;
}

/** A READ answer (statuses, kinds, lengths, the payloads back to back) as one outcome per address. */
function decodeRead(addrs: Float64Array, result: NativeReadResult): ReadOutcome[] {
  const { status, kinds, lengths, data } = result;
  const n = addrs.length;
  invariant(
    status.length === n && kinds.length === n && lengths.length === n,
    () => `the addon answered ${status.length} statuses, ${kinds.length} kinds and ${lengths.length} lengths for ${n} entries`,
  );
  const out = new Array<ReadOutcome>(n);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const address = addrs[i]!;
    const code = codeName(status[i]!);
    const kind = kinds[i]!;
    if (code !== 'OK') {
      if (kind !== KIND.NONE) throw new InvariantError(`the addon answered kind ${kind} for ${address}, status ${code}`);
      out[i] = { address, status: code };
    } else if (kind === KIND.JUNK) {
      out[i] = { address, status: code, kind: 'junk' };
    } else {
      if (kind !== KIND.DATA) throw new InvariantError(`the addon answered kind ${kind} for ${address}, status OK`);
      const length = lengths[i]!;
      out[i] = { address, status: code, kind: 'data', payload: data.subarray(offset, offset + length) };
      offset += length;
    }
  }
  // The addon broke its contract otherwise; nothing sensible to return.
  invariant(offset === data.length, () => `a read result holds ${data.length} payload bytes but its lengths account for ${offset}`);
  return out;
}

function decodeWrite(addresses: Float64Array, result: NativeWriteResult): WriteOutcome[] {
  const n = addresses.length;
  invariant(result.status.length === n && result.written.length === n, () => `the addon answered ${result.status.length} statuses and ${result.written.length} written bytes for ${n} entries`);
  const out = new Array<WriteOutcome>(n);
  for (let i = 0; i < n; i++) {
    const status = codeName(result.status[i]!);
    const written = writtenAs(result.written[i]!);
    out[i] = written === undefined ? { address: addresses[i]!, status } : { address: addresses[i]!, status, written };
  }
  return out;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One formatted device (block device or regular file), opened for I/O. */
export class Store {
  readonly #native: StoreChannel;
  readonly path: string;
  readonly sync: SyncMode;

  private constructor(native: StoreChannel, path: string, sync: SyncMode) {
    this.#native = native;
    this.path = path;
    this.sync = sync;
  }

  /** Writes fresh superblocks. Blocking: meant for setup and the CLI, not a server's event loop. */
  static format(path: string, options: FormatOptions = {}): SuperblockInfo {
    const p = checkPath(path);
    const o = checkFormatOptions(options);
    return callSync(() => loadNative().format(p, o));
  }

  /**
   * Reads the current superblock and, read-only, recovers the index (as an open would,
   * without writing or locking anything) to report the usage and the index's size.
   * Blocking, and as long as an open's recovery: see `identity` for the superblock alone.
   */
  static inspect(path: string): SuperblockInfo {
    const p = checkPath(path);
    return callSync(() => loadNative().inspect(p));
  }

  /** Reads the superblock alone (cluster, unit, format, epoch), without recovery. Blocking. */
  static identity(path: string): DeviceIdentity {
    const p = checkPath(path);
    return callSync(() => loadNative().identity(p));
  }

  /** Opens a formatted device and runs recovery (rebuilds the index). Blocking. */
  static open(path: string, options: OpenOptions = {}): Store {
    const p = checkPath(path);
    const sync = checkSync(options);
    const native = callSync(() => StoreChannel.open((onRound) => loadNative().NativeStore.open(p, { sync }, onRound)));
    return new Store(native, p, sync);
  }

  /**
   * Starts a storage unit's native front over this store (src/unit/front.ts): the WRITEs
   * it reads go to this store's I/O thread and are answered from there, not through JS.
   * Throws as the addon's bind does (the errno's name first).
   */
  startFront(options: NativeUnitFrontOptions, onEvent: (event: NativeFrontEvent) => void): NativeUnitFrontInstance {
    return loadNative().UnitFront.start(this.#native.raw, options, onEvent);
  }

  /**
   * A native read load on this store's device (bench tooling, `corfu bench device`):
   * one-page reads of addresses 0..span from a thread and an io_uring of its own, at
   * `queueDepth`, each replaced as it completes, as a unit's native front feeds the read
   * service.
   */
  readLoad(options: NativeReadLoadOptions): NativeReadLoadInstance {
    return callSync(() => this.#native.raw.readLoad(options));
  }

  /**
   * A native write load on this store (bench tooling, `corfu bench device`): one-page
   * writes from its tail at `queueDepth`, from a thread that holds the store until the
   * load is closed, as its I/O thread holds it while it runs rounds. Calls on the store
   * meanwhile wait for the close.
   */
  writeLoad(options: NativeWriteLoadOptions): NativeWriteLoadInstance {
    return callSync(() => this.#native.raw.writeLoad(options));
  }

  /** Writes a batch; one status per entry, in order. Whole-request failures (ERR_SEALED, ...) reject. */
  async write(epoch: number, entries: readonly WriteEntry[]): Promise<WriteOutcome[]> {
    checkPosition(epoch, 'epoch');
    if (!Array.isArray(entries)) throw new CorfuError('ERR_BAD_REQUEST', `entries must be an array, got ${describe(entries)}`);
    const addresses = new Float64Array(entries.length);
    const lengths = new Uint32Array(entries.length);
    const payloads = new Array<Uint8Array>(entries.length);
    let total = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry: unknown = entries[i];
      if (typeof entry !== 'object' || entry === null) throw new CorfuError('ERR_BAD_REQUEST', `entries[${i}] must be {address, payload}, got ${describe(entry)}`);
      const { address, payload } = entry as Record<string, unknown>;
      addresses[i] = checkPosition(address, `entries[${i}].address`);
      const bytes = checkBytes(payload, `entries[${i}].payload`);
      if (bytes.length > MAX_U32) throw new CorfuError('ERR_TOO_LARGE', `entries[${i}].payload is ${bytes.length} bytes`);
      lengths[i] = bytes.length;
      payloads[i] = bytes;
      total += bytes.length;
    }
    if (entries.length === 0) return [];
    // One payload is passed as is; several are concatenated once (the addon
    // takes one contiguous buffer). Callers that already hold packed data use
    // writePacked and skip this copy.
    const data = payloads.length === 1 ? asBuffer(payloads[0]!) : Buffer.concat(payloads, total);
    const result = await callAsync(() => this.#native.write(epoch, addresses, lengths, data));
    return decodeWrite(addresses, result);
  }

  /**
   * The zero-copy write: `data` holds the payloads back to back, `lengths[i]`
   * bytes for `addresses[i]`. Returns the addon's raw status arrays
   * (`status[i]` a status byte, `written[i]` 0 n/a, 1 same, 2 different, 3 junk).
   */
  async writePacked(epoch: number, addresses: Float64Array, lengths: Uint32Array, data: Buffer): Promise<NativeWriteResult> {
    checkPosition(epoch, 'epoch');
    if (!(addresses instanceof Float64Array)) throw new CorfuError('ERR_BAD_REQUEST', `addresses must be a Float64Array, got ${describe(addresses)}`);
    if (!(lengths instanceof Uint32Array)) throw new CorfuError('ERR_BAD_REQUEST', `lengths must be a Uint32Array, got ${describe(lengths)}`);
    if (!Buffer.isBuffer(data)) throw new CorfuError('ERR_BAD_REQUEST', `data must be a Buffer, got ${describe(data)}`);
    if (addresses.length !== lengths.length) {
      throw new CorfuError('ERR_BAD_REQUEST', `addresses (${addresses.length}) and lengths (${lengths.length}) differ in length`);
    }
    toAddressArray(addresses);
    let total = 0;
    for (let i = 0; i < lengths.length; i++) total += lengths[i]!;
    if (total !== data.length) throw new CorfuError('ERR_BAD_REQUEST', `lengths sum to ${total} but data holds ${data.length} bytes`);
    return callAsync(() => this.#native.write(epoch, addresses, lengths, data));
  }

  /** Writes junk at each address (hole filling). ERR_WRITTEN says what was there. */
  async fill(epoch: number, addresses: readonly number[] | Float64Array): Promise<WriteOutcome[]> {
    checkPosition(epoch, 'epoch');
    const addrs = toAddressArray(addresses);
    if (addrs.length === 0) return [];
    const result = await callAsync(() => this.#native.fill(epoch, addrs));
    return decodeWrite(addrs, result);
  }

  /** Reads a batch. Payloads are views into one result buffer: copy them if you keep them long. */
  async read(epoch: number, addresses: readonly number[] | Float64Array): Promise<ReadOutcome[]> {
    checkPosition(epoch, 'epoch');
    const addrs = toAddressArray(addresses);
    if (addrs.length === 0) return [];
    return decodeRead(addrs, await callAsync(() => this.#native.read(epoch, addrs)));
  }

  /**
   * Reads a batch into `target`: the payloads are written into it back to back, in
   * request order, and each outcome's payload is a view of it. No memory is taken per
   * read, so a caller that reuses its buffers gives the garbage collector nothing to do
   * (a 4 KiB read otherwise brings 4 KiB of new memory that V8 counts and collects).
   * `target` must not be read or written until the promise settles. Payloads that do not
   * fit reject the whole call with ERR_TOO_LARGE (nothing is written past `target`).
   */
  async readInto(epoch: number, addresses: readonly number[] | Float64Array, target: Buffer): Promise<ReadOutcome[]> {
    checkPosition(epoch, 'epoch');
    if (!Buffer.isBuffer(target)) throw new CorfuError('ERR_BAD_REQUEST', `target must be a Buffer, got ${describe(target)}`);
    const addrs = toAddressArray(addresses);
    if (addrs.length === 0) return [];
    return decodeRead(addrs, await callAsync(() => this.#native.readInto(epoch, addrs, target)));
  }

  /** Reads one address; a non-OK status (ERR_UNWRITTEN, ERR_TRIMMED, ...) throws a CorfuError. */
  async readOne(epoch: number, address: number): Promise<Entry> {
    const [outcome] = await this.read(epoch, [address]);
    invariant(outcome !== undefined, 'a read of one address answered nothing');
    if (outcome.status !== 'OK') throw new CorfuError(outcome.status, `address ${address}: ${outcome.status}`);
    if (outcome.kind === 'junk') return { kind: 'junk' };
    invariant(outcome.payload !== undefined, () => `a read of ${address} answered data without a payload`);
    return { kind: 'data', payload: outcome.payload };
  }

  /** Trims single addresses: they read as ERR_TRIMMED from now on; space is reclaimed later. */
  async trim(epoch: number, addresses: readonly number[] | Float64Array): Promise<TrimOutcome[]> {
    checkPosition(epoch, 'epoch');
    const addrs = toAddressArray(addresses);
    if (addrs.length === 0) return [];
    const status = await callAsync(() => this.#native.trim(epoch, addrs));
    invariant(status.length === addrs.length, () => `the addon answered ${status.length} statuses for ${addrs.length} trims`);
    return Array.from(addrs, (address, i) => ({ address, status: codeName(status[i]!) }));
  }

  /** Trims every address below `address`, durably, and frees that space for reuse. */
  async prefixTrim(epoch: number, address: number): Promise<void> {
    checkPosition(epoch, 'epoch');
    checkPosition(address, 'address');
    await callAsync(() => this.#native.prefixTrim(epoch, address));
  }

  /** Moves the unit to `newEpoch` (durably, strictly upward) and answers its local tail. */
  async seal(newEpoch: number): Promise<number> {
    checkPosition(newEpoch, 'newEpoch');
    return callAsync(() => this.#native.seal(newEpoch));
  }

  /** The unit's local tail. */
  async tail(epoch: number): Promise<number> {
    checkPosition(epoch, 'epoch');
    return callAsync(() => this.#native.tail(epoch));
  }

  async stats(): Promise<StoreStats> {
    return callAsync(() => this.#native.stats());
  }

  /** Flushes and releases the device; later calls fail with ERR_CLOSED. */
  async close(): Promise<void> {
    await callAsync(() => this.#native.close());
  }
}
