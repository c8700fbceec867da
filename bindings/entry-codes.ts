// The per-entry detail bytes beside a status byte, TypeScript encoding: `written` in a
// WRITE or FILL answer, `kind` in a READ answer. The same byte is the Rust enum's
// discriminant (native/engine/src/entry_codes.rs), the addon's answer and the wire's
// (docs/protocol.md); test/errors.test.ts checks these tables against the addon's
// `writtenCodes()` and `kindCodes()`. Pure: importing it loads nothing.

import { invariant } from './invariant.js';

/** `written[i]`: what an address already held when a write or fill was refused with ERR_WRITTEN. */
export const WRITTEN = { NA: 0, SAME: 1, DIFFERENT: 2, JUNK: 3 } as const;
export type WrittenByte = (typeof WRITTEN)[keyof typeof WRITTEN];

/** `kinds[i]` in a READ answer: DATA or JUNK where the status is OK, NONE elsewhere. */
export const KIND = { NONE: 0, DATA: 1, JUNK: 2 } as const;
export type KindByte = (typeof KIND)[keyof typeof KIND];

/** Byte -> name pairs in byte order (the shape `writtenCodes()` and `kindCodes()` return). */
export const WRITTEN_TABLE: ReadonlyArray<{ readonly code: number; readonly name: string }> = Object.entries(WRITTEN).map(([name, code]) => ({ code, name }));
export const KIND_TABLE: ReadonlyArray<{ readonly code: number; readonly name: string }> = Object.entries(KIND).map(([name, code]) => ({ code, name }));

/** What an address already held, as the API says it: the `written` byte without NA. */
export type WrittenAs = 'same' | 'different' | 'junk';

const WRITTEN_AS: ReadonlyArray<WrittenAs | undefined> = [undefined, 'same', 'different', 'junk'];
const BYTE_OF: { readonly [K in WrittenAs]: WrittenByte } = { same: WRITTEN.SAME, different: WRITTEN.DIFFERENT, junk: WRITTEN.JUNK };

/** Whether `byte` is a `written` byte (the decoder refuses any other). */
export function isWrittenByte(byte: number): byte is WrittenByte {
  return Number.isInteger(byte) && byte >= WRITTEN.NA && byte <= WRITTEN.JUNK;
}

/**
 * A `written` byte as a WrittenAs; undefined for NA. Only bytes the engine or
 * the decoder produced reach here, so an unknown one is a broken invariant.
 */
export function writtenAs(byte: number): WrittenAs | undefined {
  invariant(isWrittenByte(byte), `unknown written byte ${byte}`);
  return WRITTEN_AS[byte];
}

/** The `written` byte of a WrittenAs; NA for undefined. */
export function writtenByte(as: WrittenAs | undefined): WrittenByte {
  return as === undefined ? WRITTEN.NA : BYTE_OF[as];
}
