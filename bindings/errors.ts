// The one error table, TypeScript encoding. The same byte is the Rust
// `#[repr(u8)]` discriminant and the wire status byte; test/errors.test.ts
// checks this table against the addon's `errorCodes()` so the three cannot drift.

import { InvariantError } from './invariant.js';

/** Status bytes, indexed by byte. Order matters: index === byte. */
export const STATUS_NAMES = [
  'OK',
  'ERR_WRITTEN',
  'ERR_UNWRITTEN',
  'ERR_TRIMMED',
  'ERR_SEALED',
  'ERR_TOO_LARGE',
  'ERR_BAD_REQUEST',
  'ERR_OVERLOADED',
  'ERR_IO',
  'ERR_FULL',
  'ERR_NO_DEVICE',
  'ERR_NOT_FORMATTED',
  'ERR_ALREADY_FORMATTED',
  'ERR_DEVICE_BUSY',
  'ERR_DEVICE_TOO_SMALL',
  'ERR_CORRUPT',
  'ERR_CLOSED',
  // Client-side codes (never produced by a unit or the engine):
  /** No answer or no connection; the call had no effect. Retryable. */
  'ERR_UNAVAILABLE',
  /** The call's deadline passed; for a write the outcome is unknown. */
  'ERR_TIMEOUT',
  /** The caller's AbortSignal fired; for a write the outcome is unknown. */
  'ERR_ABORTED',
  /** The projection store holds no projection (or does not exist). */
  'ERR_NO_LAYOUT',
  // Produced by the sequencer:
  /** The sequencer is rebuilding its stream tails from the log; retry once they are seeded (STREAM_SEED). */
  'ERR_RECOVERING',
  // Client-side (the object layer, src/objects):
  /** A transaction aborted: something it read was changed by a write committed before it (the message names it). */
  'ERR_CONFLICT',
  // Produced by a unit or the sequencer (src/transport/auth.ts):
  /** The peer has not authenticated, or its role (client, admin) may not send this request. Not retryable. */
  'ERR_UNAUTHORIZED',
] as const;

/** A per-entry status: success or one of the error codes. */
export type StatusName = (typeof STATUS_NAMES)[number];

/** Every name except OK: what `CorfuError.code` can be. */
export type ErrorCode = Exclude<StatusName, 'OK'>;

/** Byte -> name pairs, in byte order (the shape `errorCodes()` returns natively). */
export const ERROR_TABLE: ReadonlyArray<{ readonly code: number; readonly name: StatusName }> = STATUS_NAMES.map((name, code) => ({ code, name }));

const BYTE_BY_NAME: ReadonlyMap<string, number> = new Map(STATUS_NAMES.map((name, code) => [name, code]));

/**
 * The name of a status byte. An unknown byte means the addon and this table
 * disagree (the wire decoder refuses unknown bytes before they get here) — a
 * broken invariant, not a recoverable error — so it throws InvariantError
 * instead of inventing a code.
 */
export function codeName(byte: number): StatusName {
  const name = STATUS_NAMES[byte];
  if (name === undefined) throw new InvariantError(`unknown Corfu status byte ${byte}`);
  return name;
}

/** The byte of a status name (inverse of `codeName`). */
export function codeByte(name: StatusName): number {
  const byte = BYTE_BY_NAME.get(name);
  if (byte === undefined) throw new InvariantError(`unknown Corfu status name ${String(name)}`);
  return byte;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value !== 'OK' && BYTE_BY_NAME.has(value);
}

export interface CorfuErrorOptions {
  /** The unit's current epoch, carried by ERR_SEALED so the caller can refresh. */
  unitEpoch?: number;
  cause?: unknown;
}

/** Every expected failure of the log: a typed code the caller's retry policy keys on. */
export class CorfuError extends Error {
  readonly code: ErrorCode;
  readonly unitEpoch?: number;

  constructor(code: ErrorCode, message: string, options: CorfuErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CorfuError';
    this.code = code;
    if (options.unitEpoch !== undefined) this.unitEpoch = options.unitEpoch;
  }
}

export function isCorfuError(value: unknown, code?: ErrorCode): value is CorfuError {
  return value instanceof CorfuError && (code === undefined || value.code === code);
}
