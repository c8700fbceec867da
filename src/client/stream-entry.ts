// The payload of a stream entry (docs/streams.md, "Entries"): a header naming the
// streams the entry belongs to, each with its backpointers, then the caller's bytes.
// Units and the sequencer never look inside a payload; stream readers and the
// clients rebuilding a sequencer's stream tails do.
//
//   magic      8 bytes  "CORFUSE1"
//   n          u16      streams, 1..MAX_STREAMS_PER_ENTRY
//   n times:   id 16 bytes, k u8 (0..STREAM_BACKPOINTERS), k x u64 addresses, newest first
//   body       the rest
//
// All integers little-endian, as on the wire. An entry without the magic is a plain
// log entry (append), not a stream entry. One with the magic and a bad header is
// ERR_CORRUPT: 8 bytes of magic do not turn up by chance.

import { createHash } from 'node:crypto';

import { CorfuError } from '../../bindings/errors.js';
import { MAX_STREAMS_PER_ENTRY, STREAM_BACKPOINTERS, STREAM_ID_BYTES } from '../wire/messages.js';
import type { StreamAddresses, StreamId } from '../wire/messages.js';

const MAGIC = Buffer.from('CORFUSE1', 'latin1');

/** The longest stream name, in UTF-8 bytes. */
export const MAX_STREAM_NAME_BYTES = 1024;

/** A stream's id: the first 16 bytes of SHA-256 of its UTF-8 name, in hex. */
export function streamId(name: string): StreamId {
  if (typeof name !== 'string' || name.length === 0) throw new CorfuError('ERR_BAD_REQUEST', `a stream name must be a non-empty string, got ${JSON.stringify(name)}`);
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > MAX_STREAM_NAME_BYTES) throw new CorfuError('ERR_BAD_REQUEST', `a stream name is at most ${MAX_STREAM_NAME_BYTES} UTF-8 bytes, got ${bytes.length}`);
  return createHash('sha256').update(bytes).digest().subarray(0, STREAM_ID_BYTES).toString('hex');
}

export interface StreamMembership {
  readonly id: StreamId;
  /** The stream's previous addresses, newest first, all below this entry's address. */
  readonly backpointers: StreamAddresses;
}

export interface StreamEntryPayload {
  readonly streams: readonly StreamMembership[];
  /** A view into the payload, not a copy. */
  readonly body: Uint8Array;
}

/** The header's size for these streams. */
export function streamHeaderBytes(streams: readonly StreamMembership[]): number {
  let n = MAGIC.length + 2;
  for (const s of streams) n += STREAM_ID_BYTES + 1 + 8 * s.backpointers.length;
  return n;
}

export function encodeStreamEntry(streams: readonly StreamMembership[], body: Uint8Array): Buffer {
  if (streams.length < 1 || streams.length > MAX_STREAMS_PER_ENTRY) throw new CorfuError('ERR_BAD_REQUEST', `a stream entry belongs to 1..${MAX_STREAMS_PER_ENTRY} streams, got ${streams.length}`);
  const buf = Buffer.allocUnsafe(streamHeaderBytes(streams) + body.length);
  MAGIC.copy(buf, 0);
  let at = buf.writeUInt16LE(streams.length, MAGIC.length);
  for (const s of streams) {
    if (!/^[0-9a-f]{32}$/.test(s.id)) throw new CorfuError('ERR_BAD_REQUEST', `a stream id must be 32 lower-case hex digits, got ${JSON.stringify(s.id)}`);
    if (s.backpointers.length > STREAM_BACKPOINTERS) throw new CorfuError('ERR_BAD_REQUEST', `at most ${STREAM_BACKPOINTERS} backpointers per stream, got ${s.backpointers.length}`);
    at += buf.write(s.id, at, 'hex');
    buf[at++] = s.backpointers.length;
    for (const a of s.backpointers) {
      if (!Number.isSafeInteger(a) || a < 0) throw new CorfuError('ERR_BAD_REQUEST', `a backpointer must be a non-negative safe integer, got ${a}`);
      at = buf.writeUInt32LE(a % 2 ** 32, at);
      at = buf.writeUInt32LE(Math.floor(a / 2 ** 32), at);
    }
  }
  buf.set(body, at);
  return buf;
}

/** The streams and body of a stream entry; undefined for a plain entry; ERR_CORRUPT for a bad header. */
export function decodeStreamEntry(payload: Uint8Array): StreamEntryPayload | undefined {
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.length < MAGIC.length || !MAGIC.equals(buf.subarray(0, MAGIC.length))) return undefined;
  const corrupt = (why: string): CorfuError => new CorfuError('ERR_CORRUPT', `a stream entry's header is damaged: ${why}`);
  let at = MAGIC.length;
  if (buf.length < at + 2) throw corrupt('it ends inside the stream count');
  const n = buf.readUInt16LE(at);
  at += 2;
  if (n < 1 || n > MAX_STREAMS_PER_ENTRY) throw corrupt(`stream count ${n} is outside 1..${MAX_STREAMS_PER_ENTRY}`);
  const streams = new Array<StreamMembership>(n);
  for (let i = 0; i < n; i++) {
    if (buf.length < at + STREAM_ID_BYTES + 1) throw corrupt(`it ends inside stream ${i}`);
    const id = buf.toString('hex', at, at + STREAM_ID_BYTES);
    at += STREAM_ID_BYTES;
    const k = buf[at++]!;
    if (k > STREAM_BACKPOINTERS) throw corrupt(`stream ${i} has ${k} backpointers, at most ${STREAM_BACKPOINTERS}`);
    if (buf.length < at + 8 * k) throw corrupt(`it ends inside stream ${i}'s backpointers`);
    const backpointers = new Array<number>(k);
    for (let j = 0; j < k; j++) {
      const high = buf.readUInt32LE(at + 4);
      if (high >= 2 ** 21) throw corrupt(`a backpointer of stream ${i} exceeds 2^53-1`);
      backpointers[j] = high * 2 ** 32 + buf.readUInt32LE(at);
      at += 8;
    }
    streams[i] = { id, backpointers };
  }
  return { streams, body: buf.subarray(at) };
}
