// Encoding and decoding of whole frames (docs/protocol.md).
//
// decodeFrame is total: for any bytes it returns a frame, a need-more, or a
// protocol error. It never throws, never loops on its input, and never
// allocates from a length or count field before the bytes that field
// announces have arrived (counts are checked against the bytes present first).
//
// The encoders validate their input and throw a CorfuError (ERR_TOO_LARGE for
// limits, ERR_BAD_REQUEST for an ill-formed value): that is our own bug or an
// oversized batch, never peer input. Each encoder allocates exactly one buffer.

import { CorfuError, STATUS_NAMES, codeByte, codeName, isErrorCode } from '../../bindings/errors.js';
import type { ErrorCode } from '../../bindings/errors.js';
import { HEADER_BYTES, MAX_ENTRIES, MAX_FRAME_BYTES, MAX_SAFE_HIGH, OPCODES, RESPONSE_BIT, checkHeader, writeHeader, writeU64 } from './frame.js';
import type { FrameHeader, Op } from './frame.js';
import {
  KIND,
  MAX_AUTH_TOKEN_BYTES,
  MAX_CLUSTER_ID_CHARS,
  MAX_SEED_STREAMS,
  MAX_STREAMS_PER_ENTRY,
  MAX_STREAMS_PER_QUERY,
  MAX_WAIT_TAIL_MS,
  STREAM_BACKPOINTERS,
  ROLE_BYTES,
  STREAM_ID_BYTES,
  SYNC,
  WRITTEN,
} from './messages.js';
import type { ErrorResponse, Message, Request, Response, Role, SeedEntry, StreamAddresses, StreamId } from './messages.js';

export type DecodeResult =
  /** A whole frame; `bytes` is its size, to be consumed from the input. */
  | { readonly kind: 'frame'; readonly frame: Message; readonly bytes: number }
  /** Incomplete: the input must hold at least `bytes` bytes before decoding can go on. */
  | { readonly kind: 'need'; readonly bytes: number }
  /** A protocol error: the connection must be closed. */
  | { readonly kind: 'error'; readonly error: CorfuError };

/** The longest error message on the wire, in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 0xffff;

const STATUS_COUNT = STATUS_NAMES.length;

// ---- decoding ---------------------------------------------------------------

/** Thrown inside the decoder only; decodeFrame turns it into a result. */
class Malformed {
  constructor(readonly reason: string) {}
}

class Reader {
  private pos: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private take(n: number, what: string): number {
    if (n > this.end - this.pos) throw new Malformed(`body ends inside ${what}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    return this.buf[this.take(1, what)]!;
  }

  u16(what: string): number {
    return this.buf.readUInt16LE(this.take(2, what));
  }

  u32(what: string): number {
    return this.buf.readUInt32LE(this.take(4, what));
  }

  u64(what: string): number {
    const at = this.take(8, what);
    const high = this.buf.readUInt32LE(at + 4);
    if (high > MAX_SAFE_HIGH) throw new Malformed(`${what} exceeds 2^53-1`);
    return high * 2 ** 32 + this.buf.readUInt32LE(at);
  }

  /** A view, not a copy. */
  bytes(n: number, what: string): Buffer {
    const at = this.take(n, what);
    return this.buf.subarray(at, at + n);
  }

  /** Checks that `n` more bytes are present, before anything is sized by a count. */
  expect(n: number, what: string): void {
    if (n > this.end - this.pos) throw new Malformed(`body ends inside ${what}`);
  }

  finish(): void {
    if (this.pos !== this.end) throw new Malformed(`${this.end - this.pos} trailing bytes after the body`);
  }
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Decodes the first frame of `input`. Payloads and byte arrays in the result
 * are views into `input`.
 */
export function decodeFrame(input: Uint8Array): DecodeResult {
  const check = checkHeader(input);
  if (check.kind === 'need') return check;
  if (check.kind === 'error') return protocolError(check.reason);
  const { header } = check;
  if (input.length < header.frameBytes) return { kind: 'need', bytes: header.frameBytes };
  try {
    const r = new Reader(asBuffer(input), HEADER_BYTES, header.frameBytes);
    const frame = header.isResponse ? decodeResponse(header, r) : decodeRequest(header, r);
    r.finish();
    return { kind: 'frame', frame, bytes: header.frameBytes };
  } catch (err) {
    if (err instanceof Malformed) return protocolError(`${header.isResponse ? 'response' : 'request'} ${header.op}: ${err.reason}`);
    // Not reachable by design; kept so the decoder stays total even if a bug
    // slips in. The tests assert that no reason ever starts with "internal".
    return protocolError(`internal decoder error: ${String(err)}`);
  }
}

function protocolError(reason: string): DecodeResult {
  return { kind: 'error', error: new CorfuError('ERR_BAD_REQUEST', reason) };
}

function entryCount(r: Reader, min: number): number {
  const n = r.u32('the entry count');
  if (n < min || n > MAX_ENTRIES) throw new Malformed(`entry count ${n} is outside ${min}..${MAX_ENTRIES}`);
  return n;
}

function addressList(r: Reader): number[] {
  const n = entryCount(r, 1);
  r.expect(n * 8, 'the addresses');
  const addresses = new Array<number>(n);
  for (let i = 0; i < n; i++) addresses[i] = r.u64('an address');
  return addresses;
}

function streamCount(r: Reader, max: number, what: string): number {
  const n = r.u16(`the ${what} count`);
  if (n < 1 || n > max) throw new Malformed(`${what} count ${n} is outside 1..${max}`);
  return n;
}

function streamIds(r: Reader, n: number): StreamId[] {
  r.expect(n * STREAM_ID_BYTES, 'the stream ids');
  const ids = new Array<StreamId>(n);
  for (let i = 0; i < n; i++) ids[i] = r.bytes(STREAM_ID_BYTES, 'a stream id').toString('hex');
  return ids;
}

/** A count byte (min..STREAM_BACKPOINTERS) and that many addresses. */
function streamAddresses(r: Reader, min: number): number[] {
  const k = r.u8('the address count');
  if (k < min || k > STREAM_BACKPOINTERS) throw new Malformed(`stream address count ${k} is outside ${min}..${STREAM_BACKPOINTERS}`);
  const addresses = new Array<number>(k);
  for (let i = 0; i < k; i++) addresses[i] = r.u64('a stream address');
  return addresses;
}

function decodeRequest(h: FrameHeader, r: Reader): Request {
  const { requestId, epoch } = h;
  switch (h.op) {
    case 'AUTH': {
      const n = r.u16('the token length');
      if (n > MAX_AUTH_TOKEN_BYTES) throw new Malformed(`token of ${n} bytes, at most ${MAX_AUTH_TOKEN_BYTES}`);
      return { type: 'request', op: 'AUTH', requestId, epoch, token: r.bytes(n, 'the token') };
    }
    case 'WRITE': {
      const n = entryCount(r, 1);
      r.expect(n * 12, 'the entry descriptors');
      const addresses = new Array<number>(n);
      const lengths = new Array<number>(n);
      let total = 0;
      for (let i = 0; i < n; i++) {
        addresses[i] = r.u64('an address');
        const length = r.u32('a payload length');
        lengths[i] = length;
        total += length;
      }
      if (total !== r.remaining) {
        throw new Malformed(`payload lengths add up to ${total} but ${r.remaining} payload bytes follow`);
      }
      const entries = new Array<{ address: number; payload: Uint8Array }>(n);
      for (let i = 0; i < n; i++) entries[i] = { address: addresses[i]!, payload: r.bytes(lengths[i]!, 'a payload') };
      return { type: 'request', op: 'WRITE', requestId, epoch, entries };
    }
    case 'READ':
    case 'FILL':
    case 'TRIM':
      return { type: 'request', op: h.op, requestId, epoch, addresses: addressList(r) };
    case 'PREFIX_TRIM':
      return { type: 'request', op: 'PREFIX_TRIM', requestId, epoch, address: r.u64('the address') };
    case 'TAIL':
    case 'PING':
    case 'INFO':
      return { type: 'request', op: h.op, requestId, epoch };
    case 'WAIT_TAIL': {
      const after = r.u64('the tail to wait past');
      const waitMs = r.u32('the wait');
      if (waitMs < 1 || waitMs > MAX_WAIT_TAIL_MS) throw new Malformed(`wait of ${waitMs} ms is outside 1..${MAX_WAIT_TAIL_MS}`);
      return { type: 'request', op: 'WAIT_TAIL', requestId, epoch, after, waitMs };
    }
    case 'SEAL':
      return { type: 'request', op: 'SEAL', requestId, epoch, newEpoch: r.u64('the new epoch') };
    case 'BOOTSTRAP': {
      const newEpoch = r.u64('the new epoch');
      const startTail = r.u64('the start tail');
      const flags = r.u8('the flags');
      if ((flags & ~BOOTSTRAP_RESET_STREAMS) !== 0) throw new Malformed(`unknown BOOTSTRAP flags 0x${flags.toString(16)}`);
      return { type: 'request', op: 'BOOTSTRAP', requestId, epoch, newEpoch, startTail, resetStreams: flags === BOOTSTRAP_RESET_STREAMS };
    }
    case 'TOKEN': {
      const count = r.u32('the token count');
      if (count < 1) throw new Malformed('token count 0');
      return { type: 'request', op: 'TOKEN', requestId, epoch, count };
    }
    case 'STREAM_TOKEN': {
      const count = r.u32('the token count');
      if (count < 1) throw new Malformed('token count 0');
      const streams = streamIds(r, streamCount(r, MAX_STREAMS_PER_ENTRY, 'stream'));
      return { type: 'request', op: 'STREAM_TOKEN', requestId, epoch, count, streams };
    }
    case 'STREAM_TAILS':
      return { type: 'request', op: 'STREAM_TAILS', requestId, epoch, streams: streamIds(r, streamCount(r, MAX_STREAMS_PER_QUERY, 'stream')) };
    case 'STREAM_SEED': {
      const from = r.u64('the range start');
      const to = r.u64('the range end');
      if (from > to) throw new Malformed(`seed range [${from}, ${to}) ends before it starts`);
      const done = r.u8('the done flag');
      if (done > 1) throw new Malformed(`done flag ${done} is not 0 or 1`);
      const n = r.u32('the stream count');
      if (n > MAX_SEED_STREAMS) throw new Malformed(`stream count ${n} is above ${MAX_SEED_STREAMS}`);
      // Each entry takes at least an id, a count and one address.
      r.expect(n * (STREAM_ID_BYTES + 1 + 8), 'the seed entries');
      const entries = new Array<SeedEntry>(n);
      for (let i = 0; i < n; i++) {
        const stream = r.bytes(STREAM_ID_BYTES, 'a stream id').toString('hex');
        entries[i] = { stream, addresses: streamAddresses(r, 1) };
      }
      return { type: 'request', op: 'STREAM_SEED', requestId, epoch, from, to, done: done === 1, entries };
    }
  }
}

const ROLE_BY_BYTE: ReadonlyMap<number, Role> = new Map((Object.keys(ROLE_BYTES) as Role[]).map((role) => [ROLE_BYTES[role], role]));

/** Bit 0 of BOOTSTRAP's flags byte: the sequencer rebuilds its stream tails (BootstrapRequest.resetStreams). */
const BOOTSTRAP_RESET_STREAMS = 1;

function statusBytes(r: Reader, n: number): Buffer {
  const statuses = r.bytes(n, 'the statuses');
  for (let i = 0; i < n; i++) {
    if (statuses[i]! >= STATUS_COUNT) throw new Malformed(`entry ${i}: unknown status byte ${statuses[i]}`);
  }
  return statuses;
}

function decodeResponse(h: FrameHeader, r: Reader): Response {
  const { requestId, epoch } = h;
  const status = r.u8('the status');
  if (status !== 0) {
    if (status >= STATUS_COUNT) throw new Malformed(`unknown status byte ${status}`);
    const unitEpoch = r.u64('the unit epoch');
    const length = r.u16('the message length');
    const message = r.bytes(length, 'the message').toString('utf8');
    return { type: 'response', op: h.op, requestId, epoch, status: codeName(status) as ErrorCode, unitEpoch, message };
  }
  switch (h.op) {
    case 'AUTH': {
      const byte = r.u8('the role');
      const role = ROLE_BY_BYTE.get(byte);
      if (role === undefined) throw new Malformed(`unknown role byte ${byte}`);
      return { type: 'response', op: 'AUTH', requestId, epoch, status: 'OK', role };
    }
    case 'WRITE':
    case 'FILL': {
      const n = entryCount(r, 1);
      const statuses = statusBytes(r, n);
      const written = r.bytes(n, 'the written bytes');
      for (let i = 0; i < n; i++) {
        if (written[i]! > WRITTEN.JUNK) throw new Malformed(`entry ${i}: unknown written byte ${written[i]}`);
      }
      return { type: 'response', op: h.op, requestId, epoch, status: 'OK', statuses, written };
    }
    case 'TRIM': {
      const n = entryCount(r, 1);
      return { type: 'response', op: 'TRIM', requestId, epoch, status: 'OK', statuses: statusBytes(r, n) };
    }
    case 'READ': {
      const n = entryCount(r, 1);
      const statuses = statusBytes(r, n);
      const kinds = r.bytes(n, 'the kinds');
      r.expect(n * 4, 'the lengths');
      const lengths = new Array<number>(n);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const length = r.u32('a length');
        const kind = kinds[i]!;
        if (statuses[i] === 0) {
          if (kind !== KIND.DATA && kind !== KIND.JUNK) throw new Malformed(`entry ${i}: OK entry with kind ${kind}`);
        } else if (kind !== KIND.NONE) {
          throw new Malformed(`entry ${i}: failed entry with kind ${kind}`);
        }
        if (length !== 0 && kind !== KIND.DATA) throw new Malformed(`entry ${i}: length ${length} on an entry without data`);
        lengths[i] = length;
        total += length;
      }
      if (total !== r.remaining) {
        throw new Malformed(`data lengths add up to ${total} but ${r.remaining} data bytes follow`);
      }
      const payloads = new Array<Uint8Array | null>(n);
      for (let i = 0; i < n; i++) payloads[i] = kinds[i] === KIND.DATA ? r.bytes(lengths[i]!, 'a payload') : null;
      return { type: 'response', op: 'READ', requestId, epoch, status: 'OK', statuses, kinds, payloads };
    }
    case 'PREFIX_TRIM':
    case 'PING':
      return { type: 'response', op: h.op, requestId, epoch, status: 'OK' };
    case 'TAIL':
    case 'SEAL':
    case 'BOOTSTRAP':
    case 'WAIT_TAIL':
      return { type: 'response', op: h.op, requestId, epoch, status: 'OK', tail: r.u64('the tail') };
    case 'TOKEN':
      return { type: 'response', op: 'TOKEN', requestId, epoch, status: 'OK', first: r.u64('the first token') };
    case 'STREAM_TOKEN': {
      const first = r.u64('the first token');
      const n = streamCount(r, MAX_STREAMS_PER_ENTRY, 'stream');
      const backpointers = new Array<StreamAddresses>(n);
      for (let i = 0; i < n; i++) backpointers[i] = streamAddresses(r, 0);
      return { type: 'response', op: 'STREAM_TOKEN', requestId, epoch, status: 'OK', first, backpointers };
    }
    case 'STREAM_TAILS': {
      const tail = r.u64('the tail');
      const n = streamCount(r, MAX_STREAMS_PER_QUERY, 'stream');
      const latest = new Array<StreamAddresses>(n);
      for (let i = 0; i < n; i++) latest[i] = streamAddresses(r, 0);
      return { type: 'response', op: 'STREAM_TAILS', requestId, epoch, status: 'OK', tail, latest, floor: r.u64('the floor') };
    }
    case 'STREAM_SEED': {
      const streamsFrom = r.u64('where the stream tails begin');
      const recovered = r.u8('the recovered flag');
      if (recovered > 1) throw new Malformed(`recovered flag ${recovered} is not 0 or 1`);
      return { type: 'response', op: 'STREAM_SEED', requestId, epoch, status: 'OK', streamsFrom, recovered: recovered === 1 };
    }
    case 'INFO': {
      const unitEpoch = r.u64('the unit epoch');
      const tail = r.u64('the tail');
      const trimMark = r.u64('the trim mark');
      const maxEntryBytes = r.u32('the max entry size');
      const pageBytes = r.u32('the page size');
      const dataPages = r.u64('the data pages');
      const usedPages = r.u64('the used pages');
      const unitId = r.u32('the unit id');
      const sync = r.u8('the sync mode');
      if (sync !== SYNC.NONE && sync !== SYNC.ALWAYS) throw new Malformed(`unknown sync mode ${sync}`);
      // Not a number: 64 random bits do not fit one.
      const formatId = Buffer.from(r.bytes(8, 'the format id')).reverse().toString('hex');
      const idLength = r.u8('the cluster id length');
      if (idLength > MAX_CLUSTER_ID_CHARS) throw new Malformed(`cluster id of ${idLength} characters, at most ${MAX_CLUSTER_ID_CHARS}`);
      const clusterId = r.bytes(idLength, 'the cluster id').toString('latin1');
      if (!/^[0-9a-f]*$/.test(clusterId)) throw new Malformed('the cluster id is not lower-case hex');
      return { type: 'response', op: 'INFO', requestId, epoch, status: 'OK', unitEpoch, tail, trimMark, maxEntryBytes, pageBytes, dataPages, usedPages, unitId, sync, formatId, clusterId };
    }
  }
}

// ---- encoding ---------------------------------------------------------------

function bad(what: string): never {
  throw new CorfuError('ERR_BAD_REQUEST', what);
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) bad(`${what} ${value} is not a u32`);
}

function checkU64(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) bad(`${what} ${value} is not a safe non-negative integer`);
}

function checkCount(n: number, what: string): void {
  if (n < 1) bad(`${what}: no entries`);
  if (n > MAX_ENTRIES) throw new CorfuError('ERR_TOO_LARGE', `${what}: ${n} entries, at most ${MAX_ENTRIES} per frame`);
}

function allocFrame(bodyBytes: number, opcode: number, requestId: number, epoch: number, what: string): Buffer {
  checkU32(requestId, 'requestId');
  checkU64(epoch, 'epoch');
  const frameBytes = HEADER_BYTES + bodyBytes;
  if (frameBytes > MAX_FRAME_BYTES) {
    throw new CorfuError('ERR_TOO_LARGE', `${what}: a ${frameBytes}-byte frame exceeds the cap of ${MAX_FRAME_BYTES}`);
  }
  // allocUnsafe: every byte is written below (the tests compare whole frames).
  const buf = Buffer.allocUnsafe(frameBytes);
  writeHeader(buf, frameBytes, opcode, requestId, epoch);
  return buf;
}

function copyInto(dst: Buffer, src: Uint8Array, offset: number): number {
  dst.set(src, offset);
  return offset + src.length;
}

/** Encodes a request into one freshly allocated frame. */
export function encodeRequest(msg: Request): Buffer {
  const opcode = OPCODES[msg.op];
  const { requestId, epoch } = msg;
  switch (msg.op) {
    case 'AUTH': {
      if (!(msg.token instanceof Uint8Array)) bad('AUTH: the token must be bytes');
      if (msg.token.length > MAX_AUTH_TOKEN_BYTES) bad(`AUTH: a token of ${msg.token.length} bytes, at most ${MAX_AUTH_TOKEN_BYTES}`);
      const buf = allocFrame(2 + msg.token.length, opcode, requestId, epoch, msg.op);
      buf.writeUInt16LE(msg.token.length, HEADER_BYTES);
      copyInto(buf, msg.token, HEADER_BYTES + 2);
      return buf;
    }
    case 'WRITE': {
      const n = msg.entries.length;
      checkCount(n, 'WRITE');
      let payloadBytes = 0;
      for (const e of msg.entries) {
        checkU64(e.address, 'address');
        payloadBytes += e.payload.length;
      }
      const buf = allocFrame(4 + 12 * n + payloadBytes, opcode, requestId, epoch, 'WRITE');
      let at = buf.writeUInt32LE(n, HEADER_BYTES);
      for (const e of msg.entries) {
        writeU64(buf, e.address, at);
        at = buf.writeUInt32LE(e.payload.length, at + 8);
      }
      for (const e of msg.entries) at = copyInto(buf, e.payload, at);
      return buf;
    }
    case 'READ':
    case 'FILL':
    case 'TRIM': {
      const n = msg.addresses.length;
      checkCount(n, msg.op);
      for (const a of msg.addresses) checkU64(a, 'address');
      const buf = allocFrame(4 + 8 * n, opcode, requestId, epoch, msg.op);
      let at = buf.writeUInt32LE(n, HEADER_BYTES);
      for (const a of msg.addresses) {
        writeU64(buf, a, at);
        at += 8;
      }
      return buf;
    }
    case 'PREFIX_TRIM': {
      checkU64(msg.address, 'address');
      const buf = allocFrame(8, opcode, requestId, epoch, msg.op);
      writeU64(buf, msg.address, HEADER_BYTES);
      return buf;
    }
    case 'TAIL':
    case 'PING':
    case 'INFO':
      return allocFrame(0, opcode, requestId, epoch, msg.op);
    case 'WAIT_TAIL': {
      checkU64(msg.after, 'after');
      checkU32(msg.waitMs, 'waitMs');
      if (msg.waitMs < 1 || msg.waitMs > MAX_WAIT_TAIL_MS) bad(`WAIT_TAIL: wait of ${msg.waitMs} ms is outside 1..${MAX_WAIT_TAIL_MS}`);
      const buf = allocFrame(12, opcode, requestId, epoch, msg.op);
      writeU64(buf, msg.after, HEADER_BYTES);
      buf.writeUInt32LE(msg.waitMs, HEADER_BYTES + 8);
      return buf;
    }
    case 'SEAL': {
      checkU64(msg.newEpoch, 'newEpoch');
      const buf = allocFrame(8, opcode, requestId, epoch, msg.op);
      writeU64(buf, msg.newEpoch, HEADER_BYTES);
      return buf;
    }
    case 'BOOTSTRAP': {
      checkU64(msg.newEpoch, 'newEpoch');
      checkU64(msg.startTail, 'startTail');
      const buf = allocFrame(17, opcode, requestId, epoch, msg.op);
      writeU64(buf, msg.newEpoch, HEADER_BYTES);
      writeU64(buf, msg.startTail, HEADER_BYTES + 8);
      buf[HEADER_BYTES + 16] = msg.resetStreams ? BOOTSTRAP_RESET_STREAMS : 0;
      return buf;
    }
    case 'TOKEN': {
      checkU32(msg.count, 'token count');
      if (msg.count < 1) bad('token count 0');
      const buf = allocFrame(4, opcode, requestId, epoch, msg.op);
      buf.writeUInt32LE(msg.count, HEADER_BYTES);
      return buf;
    }
    case 'STREAM_TOKEN': {
      checkU32(msg.count, 'token count');
      if (msg.count < 1) bad('token count 0');
      checkStreamCount(msg.streams.length, MAX_STREAMS_PER_ENTRY, msg.op);
      const buf = allocFrame(4 + 2 + STREAM_ID_BYTES * msg.streams.length, opcode, requestId, epoch, msg.op);
      let at = buf.writeUInt32LE(msg.count, HEADER_BYTES);
      at = buf.writeUInt16LE(msg.streams.length, at);
      for (const id of msg.streams) at = writeStreamId(buf, id, at);
      return buf;
    }
    case 'STREAM_TAILS': {
      checkStreamCount(msg.streams.length, MAX_STREAMS_PER_QUERY, msg.op);
      const buf = allocFrame(2 + STREAM_ID_BYTES * msg.streams.length, opcode, requestId, epoch, msg.op);
      let at = buf.writeUInt16LE(msg.streams.length, HEADER_BYTES);
      for (const id of msg.streams) at = writeStreamId(buf, id, at);
      return buf;
    }
    case 'STREAM_SEED': {
      checkU64(msg.from, 'from');
      checkU64(msg.to, 'to');
      if (msg.from > msg.to) bad(`STREAM_SEED: range [${msg.from}, ${msg.to}) ends before it starts`);
      if (msg.entries.length > MAX_SEED_STREAMS) throw new CorfuError('ERR_TOO_LARGE', `STREAM_SEED: ${msg.entries.length} streams, at most ${MAX_SEED_STREAMS} per frame`);
      let bodyBytes = 8 + 8 + 1 + 4;
      for (const e of msg.entries) bodyBytes += STREAM_ID_BYTES + addressesBytes(e.addresses, 1, msg.op);
      const buf = allocFrame(bodyBytes, opcode, requestId, epoch, msg.op);
      writeU64(buf, msg.from, HEADER_BYTES);
      writeU64(buf, msg.to, HEADER_BYTES + 8);
      buf[HEADER_BYTES + 16] = msg.done ? 1 : 0;
      let at = buf.writeUInt32LE(msg.entries.length, HEADER_BYTES + 17);
      for (const e of msg.entries) {
        at = writeStreamId(buf, e.stream, at);
        at = writeAddresses(buf, e.addresses, at);
      }
      return buf;
    }
  }
}

const STREAM_ID = /^[0-9a-f]{32}$/;

function checkStreamCount(n: number, max: number, what: string): void {
  if (n < 1) bad(`${what}: no streams`);
  if (n > max) throw new CorfuError('ERR_TOO_LARGE', `${what}: ${n} streams, at most ${max}`);
}

function writeStreamId(buf: Buffer, id: StreamId, at: number): number {
  if (!STREAM_ID.test(id)) bad(`a stream id must be ${2 * STREAM_ID_BYTES} lower-case hex digits, got ${JSON.stringify(id)}`);
  buf.write(id, at, 'hex');
  return at + STREAM_ID_BYTES;
}

/** The bytes of a count byte and its addresses, after checking them. */
function addressesBytes(addresses: StreamAddresses, min: number, what: string): number {
  if (addresses.length < min || addresses.length > STREAM_BACKPOINTERS) bad(`${what}: ${addresses.length} stream addresses, expected ${min}..${STREAM_BACKPOINTERS}`);
  for (const a of addresses) checkU64(a, 'stream address');
  return 1 + 8 * addresses.length;
}

function writeAddresses(buf: Buffer, addresses: StreamAddresses, at: number): number {
  buf[at++] = addresses.length;
  for (const a of addresses) {
    writeU64(buf, a, at);
    at += 8;
  }
  return at;
}

function checkStatuses(statuses: Uint8Array, n: number, what: string): void {
  if (statuses.length !== n) bad(`${what}: ${statuses.length} statuses for ${n} entries`);
  for (let i = 0; i < n; i++) if (statuses[i]! >= STATUS_COUNT) bad(`${what}: unknown status byte ${statuses[i]}`);
}

/** The message bytes, truncated to MAX_MESSAGE_BYTES at a UTF-8 character boundary. */
function messageBytes(message: string): Buffer {
  const full = Buffer.from(message, 'utf8');
  if (full.length <= MAX_MESSAGE_BYTES) return full;
  let end = MAX_MESSAGE_BYTES;
  while (end > 0 && (full[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return full.subarray(0, end);
}

function encodeError(msg: ErrorResponse, opcode: number): Buffer {
  if (!isErrorCode(msg.status)) bad(`unknown error code ${String(msg.status)}`);
  checkU64(msg.unitEpoch, 'unitEpoch');
  const text = messageBytes(msg.message);
  const buf = allocFrame(1 + 8 + 2 + text.length, opcode, msg.requestId, msg.epoch, `${msg.op} error`);
  buf[HEADER_BYTES] = codeByte(msg.status);
  writeU64(buf, msg.unitEpoch, HEADER_BYTES + 1);
  buf.writeUInt16LE(text.length, HEADER_BYTES + 9);
  copyInto(buf, text, HEADER_BYTES + 11);
  return buf;
}

/** Encodes a response into one freshly allocated frame (two for an error message longer than 64 KiB). */
export function encodeResponse(msg: Response): Buffer {
  const opcode = RESPONSE_BIT | OPCODES[msg.op];
  if (msg.status !== 'OK') return encodeError(msg, opcode);
  const { requestId, epoch } = msg;
  switch (msg.op) {
    case 'AUTH': {
      const byte = ROLE_BYTES[msg.role];
      if (byte === undefined) bad(`AUTH: unknown role ${String(msg.role)}`);
      const buf = allocFrame(2, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      buf[HEADER_BYTES + 1] = byte;
      return buf;
    }
    case 'WRITE':
    case 'FILL': {
      const n = msg.statuses.length;
      checkCount(n, msg.op);
      checkStatuses(msg.statuses, n, msg.op);
      if (msg.written.length !== n) bad(`${msg.op}: ${msg.written.length} written bytes for ${n} entries`);
      for (let i = 0; i < n; i++) if (msg.written[i]! > WRITTEN.JUNK) bad(`${msg.op}: unknown written byte ${msg.written[i]}`);
      const buf = allocFrame(1 + 4 + 2 * n, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      let at = buf.writeUInt32LE(n, HEADER_BYTES + 1);
      at = copyInto(buf, msg.statuses, at);
      copyInto(buf, msg.written, at);
      return buf;
    }
    case 'TRIM': {
      const n = msg.statuses.length;
      checkCount(n, msg.op);
      checkStatuses(msg.statuses, n, msg.op);
      const buf = allocFrame(1 + 4 + n, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      const at = buf.writeUInt32LE(n, HEADER_BYTES + 1);
      copyInto(buf, msg.statuses, at);
      return buf;
    }
    case 'READ': {
      const n = msg.statuses.length;
      checkCount(n, msg.op);
      checkStatuses(msg.statuses, n, msg.op);
      if (msg.kinds.length !== n || msg.payloads.length !== n) bad(`READ: kinds and payloads must have ${n} entries`);
      let dataBytes = 0;
      for (let i = 0; i < n; i++) {
        const kind = msg.kinds[i]!;
        const ok = msg.statuses[i] === 0;
        if (ok ? kind !== KIND.DATA && kind !== KIND.JUNK : kind !== KIND.NONE) bad(`READ: entry ${i} has kind ${kind}`);
        const payload = msg.payloads[i];
        if ((kind === KIND.DATA) !== (payload !== null && payload !== undefined)) {
          bad(`READ: entry ${i} must carry a payload exactly when it is OK data`);
        }
        dataBytes += payload?.length ?? 0;
      }
      const buf = allocFrame(1 + 4 + 2 * n + 4 * n + dataBytes, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      let at = buf.writeUInt32LE(n, HEADER_BYTES + 1);
      at = copyInto(buf, msg.statuses, at);
      at = copyInto(buf, msg.kinds, at);
      for (const p of msg.payloads) at = buf.writeUInt32LE(p?.length ?? 0, at);
      for (const p of msg.payloads) if (p) at = copyInto(buf, p, at);
      return buf;
    }
    case 'PREFIX_TRIM':
    case 'PING': {
      const buf = allocFrame(1, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      return buf;
    }
    case 'TAIL':
    case 'SEAL':
    case 'BOOTSTRAP':
    case 'WAIT_TAIL': {
      checkU64(msg.tail, 'tail');
      const buf = allocFrame(9, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      writeU64(buf, msg.tail, HEADER_BYTES + 1);
      return buf;
    }
    case 'TOKEN': {
      checkU64(msg.first, 'first token');
      const buf = allocFrame(9, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      writeU64(buf, msg.first, HEADER_BYTES + 1);
      return buf;
    }
    case 'STREAM_TOKEN':
    case 'STREAM_TAILS': {
      const lists = msg.op === 'STREAM_TOKEN' ? msg.backpointers : msg.latest;
      const value = msg.op === 'STREAM_TOKEN' ? msg.first : msg.tail;
      checkU64(value, msg.op === 'STREAM_TOKEN' ? 'first token' : 'tail');
      checkStreamCount(lists.length, msg.op === 'STREAM_TOKEN' ? MAX_STREAMS_PER_ENTRY : MAX_STREAMS_PER_QUERY, msg.op);
      // STREAM_TAILS ends with the floor.
      if (msg.op === 'STREAM_TAILS') checkU64(msg.floor, 'floor');
      let bodyBytes = 1 + 8 + 2 + (msg.op === 'STREAM_TAILS' ? 8 : 0);
      for (const l of lists) bodyBytes += addressesBytes(l, 0, msg.op);
      const buf = allocFrame(bodyBytes, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      writeU64(buf, value, HEADER_BYTES + 1);
      let at = buf.writeUInt16LE(lists.length, HEADER_BYTES + 9);
      for (const l of lists) at = writeAddresses(buf, l, at);
      if (msg.op === 'STREAM_TAILS') writeU64(buf, msg.floor, at);
      return buf;
    }
    case 'STREAM_SEED': {
      checkU64(msg.streamsFrom, 'streamsFrom');
      const buf = allocFrame(10, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      writeU64(buf, msg.streamsFrom, HEADER_BYTES + 1);
      buf[HEADER_BYTES + 9] = msg.recovered ? 1 : 0;
      return buf;
    }
    case 'INFO': {
      for (const [v, what] of [
        [msg.unitEpoch, 'unitEpoch'],
        [msg.tail, 'tail'],
        [msg.trimMark, 'trimMark'],
        [msg.dataPages, 'dataPages'],
        [msg.usedPages, 'usedPages'],
      ] as const)
        checkU64(v, what);
      for (const [v, what] of [
        [msg.maxEntryBytes, 'maxEntryBytes'],
        [msg.pageBytes, 'pageBytes'],
        [msg.unitId, 'unitId'],
      ] as const)
        checkU32(v, what);
      if (msg.sync !== SYNC.NONE && msg.sync !== SYNC.ALWAYS) bad(`INFO: unknown sync mode ${String(msg.sync)}`);
      if (!FORMAT_ID.test(msg.formatId)) bad(`INFO: the format id must be 16 lower-case hex digits, got ${JSON.stringify(msg.formatId)}`);
      if (msg.clusterId.length > MAX_CLUSTER_ID_CHARS || !/^[0-9a-f]*$/.test(msg.clusterId)) bad(`INFO: the cluster id must be at most ${MAX_CLUSTER_ID_CHARS} lower-case hex characters`);
      const buf = allocFrame(1 + 8 * 3 + 4 * 2 + 8 * 2 + 4 + 1 + 8 + 1 + msg.clusterId.length, opcode, requestId, epoch, msg.op);
      buf[HEADER_BYTES] = 0;
      let at = HEADER_BYTES + 1;
      for (const v of [msg.unitEpoch, msg.tail, msg.trimMark]) {
        writeU64(buf, v, at);
        at += 8;
      }
      at = buf.writeUInt32LE(msg.maxEntryBytes, at);
      at = buf.writeUInt32LE(msg.pageBytes, at);
      writeU64(buf, msg.dataPages, at);
      writeU64(buf, msg.usedPages, at + 8);
      at = buf.writeUInt32LE(msg.unitId, at + 16);
      buf[at++] = msg.sync;
      // Little-endian like every integer on the wire; the hex reads most significant digit first.
      Buffer.from(msg.formatId, 'hex').reverse().copy(buf, at);
      at += 8;
      buf[at++] = msg.clusterId.length;
      buf.write(msg.clusterId, at, 'latin1');
      return buf;
    }
  }
}

const FORMAT_ID = /^[0-9a-f]{16}$/;

/** The error response that carries `error` (code, message, and unitEpoch for ERR_SEALED). */
export function errorResponse(op: Op, requestId: number, epoch: number, error: CorfuError): ErrorResponse {
  return { type: 'response', op, requestId, epoch, status: error.code, unitEpoch: error.unitEpoch ?? 0, message: error.message };
}
