// The promise side of the addon's store. Native calls take a request id and return at
// once; the I/O thread answers a whole round in ONE Buffer through ONE threadsafe call
// (native/node/src/io_thread.rs documents the bytes). Promises are created and settled
// here, in JS: a per-call threadsafe function and per-result external buffers cost more
// CPU than the I/O itself. Read payloads stay views into the round buffer (no copies).

import { InvariantError, invariant } from './invariant.js';
import type { NativeReadResult, NativeStoreInstance, NativeWriteResult, RawNativeStore, StoreStats } from './native-types.js';

const TAG_WRITE = 1;
const TAG_READ = 2;
const TAG_TRIM = 3;
const TAG_UNIT = 4;
const TAG_NUMBER = 5;
const TAG_STATS = 6;
const TAG_CLOSED = 7;
const TAG_READ_INTO = 8;
const HEADER_BYTES = 12;
/**
 * Request ids wrap at 2^31; far more than could ever be outstanding (the queue holds 16 Ki).
 * The upper half is a unit's native front's (native/node/src/unit_front.rs), whose READs
 * share the read service and its routes with these calls.
 */
const ID_LIMIT = 0x8000_0000;
const KEEP_ALIVE_MS = 0x7fff_ffff;
function keepAliveTick(): void {}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /**
   * A readInto's target: held here until the answer, so the addon's read thread writes
   * into memory that is still alive.
   */
  target?: Buffer;
}

/** A READ body's statuses, kinds and lengths; its payloads start at `dataAt`. */
function readHead(body: Buffer): { status: Buffer; kinds: Buffer; lengths: Uint32Array; dataAt: number } {
  const n = body.readUInt32LE(0);
  const status = body.subarray(4, 4 + n);
  const kinds = body.subarray(4 + n, 4 + 2 * n);
  const lengthsAt = (4 + 2 * n + 3) & ~3;
  const lengths = new Uint32Array(n);
  for (let i = 0; i < n; i++) lengths[i] = body.readUInt32LE(lengthsAt + 4 * i);
  return { status, kinds, lengths, dataAt: lengthsAt + 4 * n };
}

function decode(tag: number, body: Buffer, target: Buffer | undefined): unknown {
  switch (tag) {
    case TAG_WRITE: {
      const n = body.readUInt32LE(0);
      return { status: body.subarray(4, 4 + n), written: body.subarray(4 + n, 4 + 2 * n) } satisfies NativeWriteResult;
    }
    case TAG_READ: {
      const { status, kinds, lengths, dataAt } = readHead(body);
      return { status, kinds, lengths, data: body.subarray(dataAt) } satisfies NativeReadResult;
    }
    case TAG_READ_INTO: {
      invariant(target !== undefined, 'a READ_INTO answer for a call without a target');
      const { status, kinds, lengths } = readHead(body);
      let total = 0;
      for (let i = 0; i < lengths.length; i++) total += lengths[i]!;
      invariant(total <= target.length, () => `the addon wrote ${total} bytes into a target of ${target.length}`);
      return { status, kinds, lengths, data: target.subarray(0, total) } satisfies NativeReadResult;
    }
    case TAG_TRIM:
      return body.subarray(4, 4 + body.readUInt32LE(0));
    case TAG_UNIT:
    case TAG_CLOSED:
      return undefined;
    case TAG_NUMBER:
      return body.readDoubleLE(0);
    case TAG_STATS:
      return JSON.parse(body.toString('utf8')) as StoreStats;
    default:
      throw new InvariantError(`unknown reply tag ${tag} from the addon`);
  }
}

export class StoreChannel implements NativeStoreInstance {
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #raw: RawNativeStore | undefined;
  /**
   * The addon's callback does not hold the event loop open (an idle store must not pin
   * the process), so while any request is outstanding this ref'd timer does.
   */
  #keepAlive: NodeJS.Timeout | undefined;

  private constructor() {}

  static open(open: (onRound: (round: Buffer) => void) => RawNativeStore): StoreChannel {
    const channel = new StoreChannel();
    channel.#raw = open((round) => channel.#onRound(round));
    return channel;
  }

  /** The addon's store, for what talks to it without this channel (a unit's native front). */
  get raw(): RawNativeStore {
    invariant(this.#raw !== undefined, 'store channel used before open');
    return this.#raw;
  }

  #onRound(round: Buffer): void {
    let at = 0;
    while (at < round.length) {
      const id = round.readUInt32LE(at);
      const tag = round[at + 4]!;
      const ok = round[at + 5] === 1;
      const len = round.readUInt32LE(at + 8);
      const body = round.subarray(at + HEADER_BYTES, at + HEADER_BYTES + len);
      at += HEADER_BYTES + len;
      const p = this.#pending.get(id);
      if (p === undefined) throw new InvariantError(`the addon answered unknown request ${id}`);
      this.#pending.delete(id);
      if (this.#pending.size === 0 && this.#keepAlive !== undefined) {
        clearInterval(this.#keepAlive);
        this.#keepAlive = undefined;
      }
      if (ok) p.resolve(decode(tag, body, p.target));
      else p.reject(new Error(body.toString('utf8')));
    }
  }

  #call<T>(send: (raw: RawNativeStore, id: number) => void, target?: Buffer): Promise<T> {
    const raw = this.#raw;
    invariant(raw !== undefined, 'store channel used before open');
    const id = this.#nextId;
    this.#nextId = (id + 1) % ID_LIMIT;
    // A synchronous throw (bad argument, ERR_OVERLOADED, ERR_CLOSED) becomes a rejection.
    return new Promise<T>((resolve, reject) => {
      send(raw, id);
      this.#pending.set(id, target === undefined ? { resolve: resolve, reject } : { resolve: resolve, reject, target });
      this.#keepAlive ??= setInterval(keepAliveTick, KEEP_ALIVE_MS);
    });
  }

  write(epoch: number, addresses: Float64Array, lengths: Uint32Array, data: Buffer): Promise<NativeWriteResult> {
    return this.#call((raw, id) => raw.write(id, epoch, addresses, lengths, data));
  }
  fill(epoch: number, addresses: Float64Array): Promise<NativeWriteResult> {
    return this.#call((raw, id) => raw.fill(id, epoch, addresses));
  }
  read(epoch: number, addresses: Float64Array): Promise<NativeReadResult> {
    return this.#call((raw, id) => raw.read(id, epoch, addresses));
  }
  readInto(epoch: number, addresses: Float64Array, target: Buffer): Promise<NativeReadResult> {
    return this.#call((raw, id) => raw.readInto(id, epoch, addresses, target), target);
  }
  trim(epoch: number, addresses: Float64Array): Promise<Buffer> {
    return this.#call((raw, id) => raw.trim(id, epoch, addresses));
  }
  prefixTrim(epoch: number, address: number): Promise<void> {
    return this.#call((raw, id) => raw.prefixTrim(id, epoch, address));
  }
  seal(newEpoch: number): Promise<number> {
    return this.#call((raw, id) => raw.seal(id, newEpoch));
  }
  tail(epoch: number): Promise<number> {
    return this.#call((raw, id) => raw.tail(id, epoch));
  }
  stats(): Promise<StoreStats> {
    return this.#call((raw, id) => raw.stats(id));
  }
  close(): Promise<void> {
    return this.#call((raw, id) => raw.close(id));
  }
}
