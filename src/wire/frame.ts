// The frame header and the protocol constants (docs/protocol.md, "Frame").
//
//   offset size field
//        0    4 length     u32 LE: bytes that follow this field (header rest + body)
//        4    1 version    u8, WIRE_VERSION
//        5    1 opcode     u8: a request opcode, or 0x80 | request opcode for its response
//        6    2 flags      u16 LE, must be 0
//        8    4 requestId  u32 LE
//       12    8 epoch      u64 LE, the sender's epoch (a safe integer)
//       20    … body
//
// Pure: no I/O, no clocks, no randomness.

/** The only protocol version this code speaks. */
export const WIRE_VERSION = 1;

/** Size of the `length` field itself. */
export const LENGTH_PREFIX_BYTES = 4;

/** The whole fixed header, the length field included. */
export const HEADER_BYTES = 20;

/**
 * The cap on a whole frame, length field included: 16 MiB + 64 KiB. A length
 * field that announces more (length + 4 > MAX_FRAME_BYTES) is a protocol error
 * as soon as the 4 bytes of the field have arrived; nothing is ever allocated
 * from it.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024;

/**
 * The most bytes one READ answer may hold: the frame cap less 64 bytes for the
 * frame header and the answer's status and count (docs/protocol.md, READ). The
 * unit's engine plans every READ against it (native/engine/src/shared.rs, checked
 * equal by test/limits.test.ts).
 */
export const MAX_READ_ANSWER_BYTES = MAX_FRAME_BYTES - 64;

/** What each entry a READ names costs its answer besides the payload: status, kind, length. */
export const READ_ANSWER_ENTRY_BYTES = 6;

/** The largest legal value of the length field. */
export const MAX_LENGTH_FIELD = MAX_FRAME_BYTES - LENGTH_PREFIX_BYTES;

/** The smallest legal value of the length field (a header with an empty body). */
export const MIN_LENGTH_FIELD = HEADER_BYTES - LENGTH_PREFIX_BYTES;

/** Entries in one vectored request or response (WRITE, READ, FILL, TRIM). */
export const MAX_ENTRIES = 65_536;

/** Set on the opcode of every response. */
export const RESPONSE_BIT = 0x80;

export const OPCODES = {
  WRITE: 1,
  READ: 2,
  FILL: 3,
  TRIM: 4,
  PREFIX_TRIM: 5,
  TAIL: 6,
  SEAL: 7,
  TOKEN: 8,
  PING: 9,
  BOOTSTRAP: 10,
  INFO: 11,
  WAIT_TAIL: 12,
  STREAM_TOKEN: 13,
  STREAM_TAILS: 14,
  STREAM_SEED: 15,
  AUTH: 16,
} as const;

export type Op = keyof typeof OPCODES;

const OP_BY_CODE: ReadonlyMap<number, Op> = new Map((Object.keys(OPCODES) as Op[]).map((op) => [OPCODES[op], op]));

/** The operation of a request opcode (1..16), or undefined. */
export function opOfCode(code: number): Op | undefined {
  return OP_BY_CODE.get(code);
}

/** What the header says, once all 20 bytes of it have arrived. */
export interface FrameHeader {
  /** Total bytes of the frame, length field included. */
  readonly frameBytes: number;
  readonly op: Op;
  readonly isResponse: boolean;
  readonly requestId: number;
  readonly epoch: number;
}

/** The result of looking at the first bytes of a buffer. */
export type HeaderCheck =
  | { readonly kind: 'header'; readonly header: FrameHeader }
  /** `bytes`: how many bytes the buffer must hold: 4 before the length is known, then the whole frame. */
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'error'; readonly reason: string };

/**
 * Checks as much of the header as `buf` holds, and rejects a bad field as soon
 * as its bytes are there: a bad length before the version arrives, a bad
 * version before the opcode, and so on. Never throws, never allocates more
 * than the result object.
 */
export function checkHeader(buf: Uint8Array): HeaderCheck {
  const have = buf.length;
  if (have < LENGTH_PREFIX_BYTES) return { kind: 'need', bytes: LENGTH_PREFIX_BYTES };
  const length = u32At(buf, 0);
  if (length < MIN_LENGTH_FIELD) {
    return { kind: 'error', reason: `frame length ${length} is below the ${MIN_LENGTH_FIELD}-byte header` };
  }
  if (length > MAX_LENGTH_FIELD) {
    return { kind: 'error', reason: `frame length ${length} exceeds the cap of ${MAX_LENGTH_FIELD}` };
  }
  const frameBytes = length + LENGTH_PREFIX_BYTES;
  if (have < 5) return { kind: 'need', bytes: frameBytes };
  const version = buf[4]!;
  if (version !== WIRE_VERSION) return { kind: 'error', reason: `unsupported protocol version ${version}` };
  if (have < 6) return { kind: 'need', bytes: frameBytes };
  const opcode = buf[5]!;
  const op = opOfCode(opcode & ~RESPONSE_BIT);
  if (op === undefined) return { kind: 'error', reason: `unknown opcode 0x${opcode.toString(16).padStart(2, '0')}` };
  if (have < 8) return { kind: 'need', bytes: frameBytes };
  const flags = buf[6]! | (buf[7]! << 8);
  if (flags !== 0) return { kind: 'error', reason: `reserved flags 0x${flags.toString(16)} must be 0` };
  if (have < HEADER_BYTES) return { kind: 'need', bytes: frameBytes };
  const epochHigh = u32At(buf, 16);
  if (epochHigh > MAX_SAFE_HIGH) return { kind: 'error', reason: 'epoch exceeds 2^53-1' };
  return {
    kind: 'header',
    header: {
      frameBytes,
      op,
      isResponse: (opcode & RESPONSE_BIT) !== 0,
      requestId: u32At(buf, 8),
      epoch: epochHigh * 2 ** 32 + u32At(buf, 12),
    },
  };
}

/** The high 32 bits of Number.MAX_SAFE_INTEGER (2^53 - 1). */
export const MAX_SAFE_HIGH = 0x1f_ffff;

/**
 * Writes the 20-byte header at offset 0. `frameBytes` is the whole frame's
 * size; the caller has validated every value.
 */
export function writeHeader(buf: Buffer, frameBytes: number, opcode: number, requestId: number, epoch: number): void {
  buf.writeUInt32LE(frameBytes - LENGTH_PREFIX_BYTES, 0);
  buf[4] = WIRE_VERSION;
  buf[5] = opcode;
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(requestId, 8);
  writeU64(buf, epoch, 12);
}

/** Writes a safe, non-negative integer as u64 LE. */
export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % 2 ** 32, offset);
  buf.writeUInt32LE(Math.floor(value / 2 ** 32), offset + 4);
}

function u32At(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16)) + buf[offset + 3]! * 0x1000000;
}
