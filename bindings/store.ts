// The engine's API passes Buffers (napi-rs takes and gives them without a copy): its
// declarations need Node's types, which the package depends on (@types/node).
/// <reference types="node" preserve="true" />

// The typed API over one storage unit's device. Every batch crosses N-API
// once: entries are packed into (Float64Array, Uint32Array, Buffer) on the way
// in, and results come back as status byte arrays that are decoded here.

import { CorfuError, codeName, type StatusName } from './errors.js';
import { loadNative } from './native.js';
import { callAsync, callSync } from './native-errors.js';
import { StoreChannel } from './store-channel.js';
import type { NativeFormatOptions, NativeStoreInstance, NativeWriteResult, StoreStats, SuperblockInfo, SyncMode } from './native-types.js';
import { checkBytes, checkPath, checkPosition, checkPositiveInt, describe, toAddressArray } from './validate.js';

export type { StoreStats, SuperblockInfo, SyncMode } from './native-types.js';

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
}

export interface OpenOptions {
  /** `always` (default): a write is acknowledged only once durable. `none`: benchmarks only. */
  sync?: SyncMode;
}

export interface WriteEntry {
  address: number;
  payload: Uint8Array;
}

/** What an address already held when a write or fill was refused with ERR_WRITTEN. */
export type WrittenAs = 'same' | 'different' | 'junk';

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

const WRITTEN_AS: ReadonlyArray<WrittenAs | undefined> = [undefined, 'same', 'different', 'junk'];
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
  return out;
}

function checkSync(options: unknown): SyncMode {
  if (options === undefined) return 'always';
  if (typeof options !== 'object' || options === null) throw new CorfuError('ERR_BAD_REQUEST', `open options must be an object, got ${describe(options)}`);
  const sync = (options as { sync?: unknown }).sync ?? 'always';
  if (sync !== 'always' && sync !== 'none') throw new CorfuError('ERR_BAD_REQUEST', `sync must be 'always' or 'none', got ${describe(sync)}`);
  return sync;
}

function decodeWrite(addresses: Float64Array, result: NativeWriteResult): WriteOutcome[] {
  const out = new Array<WriteOutcome>(addresses.length);
  for (let i = 0; i < addresses.length; i++) {
    const status = codeName(result.status[i] ?? Number.NaN);
    const written = WRITTEN_AS[result.written[i] ?? 0];
    out[i] = written === undefined ? { address: addresses[i]!, status } : { address: addresses[i]!, status, written };
  }
  return out;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One formatted device (block device or regular file), opened for I/O. */
export class Store {
  readonly #native: NativeStoreInstance;
  readonly path: string;
  readonly sync: SyncMode;

  private constructor(native: NativeStoreInstance, path: string, sync: SyncMode) {
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

  /** Reads the current superblock without opening the store. Blocking. */
  static inspect(path: string): SuperblockInfo {
    const p = checkPath(path);
    return callSync(() => loadNative().inspect(p));
  }

  /** Opens a formatted device and runs recovery (rebuilds the index). Blocking. */
  static open(path: string, options: OpenOptions = {}): Store {
    const p = checkPath(path);
    const sync = checkSync(options);
    const native = callSync(() => StoreChannel.open((onRound) => loadNative().NativeStore.open(p, { sync }, onRound)));
    return new Store(native, p, sync);
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
    const { status, kinds, lengths, data } = await callAsync(() => this.#native.read(epoch, addrs));
    const out = new Array<ReadOutcome>(addrs.length);
    let offset = 0;
    for (let i = 0; i < addrs.length; i++) {
      const address = addrs[i]!;
      const code = codeName(status[i] ?? Number.NaN);
      if (code !== 'OK') {
        out[i] = { address, status: code };
      } else if (kinds[i] === 2) {
        out[i] = { address, status: code, kind: 'junk' };
      } else {
        const length = lengths[i] ?? 0;
        out[i] = { address, status: code, kind: 'data', payload: data.subarray(offset, offset + length) };
        offset += length;
      }
    }
    if (offset !== data.length) {
      // The addon broke its contract; nothing sensible to return.
      throw new Error(`corfu: read result holds ${data.length} payload bytes but lengths account for ${offset}`);
    }
    return out;
  }

  /** Reads one address; a non-OK status (ERR_UNWRITTEN, ERR_TRIMMED, ...) throws a CorfuError. */
  async readOne(epoch: number, address: number): Promise<Entry> {
    const [outcome] = await this.read(epoch, [address]);
    if (outcome === undefined) throw new Error('corfu: read of one address returned nothing');
    if (outcome.status !== 'OK') throw new CorfuError(outcome.status, `address ${address}: ${outcome.status}`);
    return outcome.kind === 'data' && outcome.payload !== undefined ? { kind: 'data', payload: outcome.payload } : { kind: 'junk' };
  }

  /** Trims single addresses: they read as ERR_TRIMMED from now on; space is reclaimed later. */
  async trim(epoch: number, addresses: readonly number[] | Float64Array): Promise<TrimOutcome[]> {
    checkPosition(epoch, 'epoch');
    const addrs = toAddressArray(addresses);
    if (addrs.length === 0) return [];
    const status = await callAsync(() => this.#native.trim(epoch, addrs));
    return Array.from(addrs, (address, i) => ({ address, status: codeName(status[i] ?? Number.NaN) }));
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
