// One error table, three encodings: the Rust enum (via the addon's
// errorCodes()), this TS table, and the wire byte. They must agree exactly.
// So must the per-entry `written` and `kind` tables (writtenCodes(), kindCodes()).

import { describe, expect, it } from 'vitest';

import { KIND, KIND_TABLE, WRITTEN, WRITTEN_TABLE, isWrittenByte, writtenAs, writtenByte } from '../bindings/entry-codes.js';
import { CorfuError, ERROR_TABLE, STATUS_NAMES, codeByte, codeName, isCorfuError, isErrorCode, loadNative } from '../bindings/index.js';
import { InvariantError, invariant } from '../bindings/invariant.js';
import { fromNativeError } from '../bindings/native-errors.js';
import * as wire from '../src/wire/index.js';

describe('error table', () => {
  it('equals the Rust table byte for byte and name for name', () => {
    const native = loadNative().errorCodes();
    expect(native.map(({ code, name }) => ({ code, name }))).toEqual(ERROR_TABLE.map(({ code, name }) => ({ code, name })));
  });

  it('matches the documented bytes', () => {
    // docs/native-api.md, spot checks of both ends and the retry-relevant codes.
    expect(codeName(0)).toBe('OK');
    expect(codeName(1)).toBe('ERR_WRITTEN');
    expect(codeName(4)).toBe('ERR_SEALED');
    expect(codeName(16)).toBe('ERR_CLOSED');
    expect(codeByte('ERR_FULL')).toBe(9);
    expect(ERROR_TABLE.every(({ code, name }) => codeByte(name) === code && codeName(code) === name)).toBe(true);
  });

  it('throws on a byte outside the table instead of inventing a code', () => {
    expect(() => codeName(STATUS_NAMES.length)).toThrow(InvariantError);
    expect(() => codeName(-1)).toThrow(InvariantError);
  });

  it('knows which strings are error codes', () => {
    expect(isErrorCode('ERR_TRIMMED')).toBe(true);
    expect(isErrorCode('OK')).toBe(false);
    expect(isErrorCode('ERR_NOPE')).toBe(false);
    expect(isErrorCode(3)).toBe(false);
  });
});

describe('written and kind tables', () => {
  it('equal the Rust tables byte for byte and name for name', () => {
    const native = loadNative();
    expect(native.writtenCodes().map(({ code, name }) => ({ code, name }))).toEqual(WRITTEN_TABLE.map(({ code, name }) => ({ code, name })));
    expect(native.kindCodes().map(({ code, name }) => ({ code, name }))).toEqual(KIND_TABLE.map(({ code, name }) => ({ code, name })));
  });

  it('are the tables the wire uses, not copies of them', () => {
    expect(wire.WRITTEN).toBe(WRITTEN);
    expect(wire.KIND).toBe(KIND);
  });

  it('map written bytes to what the API says and back', () => {
    for (const { code } of WRITTEN_TABLE) {
      expect(isWrittenByte(code)).toBe(true);
      expect(writtenByte(writtenAs(code))).toBe(code);
    }
    expect(writtenAs(WRITTEN.NA)).toBeUndefined();
    expect(writtenAs(WRITTEN.SAME)).toBe('same');
    expect(writtenAs(WRITTEN.JUNK)).toBe('junk');
  });

  it('refuse a written byte outside the table as a broken invariant', () => {
    expect(isWrittenByte(WRITTEN_TABLE.length)).toBe(false);
    expect(() => writtenAs(WRITTEN_TABLE.length)).toThrow(InvariantError);
    expect(() => writtenAs(-1)).toThrow(InvariantError);
  });
});

describe('invariant', () => {
  it('returns on a true condition and throws InvariantError, never a CorfuError, on a false one', () => {
    expect(() => invariant(1 + 1 === 2, 'arithmetic')).not.toThrow();
    let err: unknown;
    try {
      invariant(false, 'the head said junk, then data');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvariantError);
    expect(err).not.toBeInstanceOf(CorfuError);
    expect(err).toMatchObject({ name: 'InvariantError', message: 'corfu invariant broken: the head said junk, then data' });
  });

  it('builds a message function only when the condition fails', () => {
    let built = 0;
    const message = (): string => `built ${++built}`;
    invariant(true, message);
    expect(built).toBe(0);
    expect(() => invariant(0, message)).toThrow('corfu invariant broken: built 1');
  });
});

describe('CorfuError', () => {
  it('carries a code and, for ERR_SEALED, the unit epoch', () => {
    const err = new CorfuError('ERR_SEALED', 'unit is at epoch 3', { unitEpoch: 3 });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('CorfuError');
    expect(err.code).toBe('ERR_SEALED');
    expect(err.unitEpoch).toBe(3);
    expect(isCorfuError(err)).toBe(true);
    expect(isCorfuError(err, 'ERR_SEALED')).toBe(true);
    expect(isCorfuError(err, 'ERR_IO')).toBe(false);
    expect(isCorfuError(new Error('x'))).toBe(false);
  });

  it('is built from the addon JSON error convention', () => {
    const converted = fromNativeError(new Error('{"code":"ERR_SEALED","message":"unit is at epoch 3, request carried 2","unitEpoch":3}'));
    expect(converted).toBeInstanceOf(CorfuError);
    expect(converted).toMatchObject({ code: 'ERR_SEALED', message: 'unit is at epoch 3, request carried 2', unitEpoch: 3 });
    const plain = fromNativeError(new Error('{"code":"ERR_IO","message":"disk on fire"}')) as CorfuError;
    expect(plain.code).toBe('ERR_IO');
    expect(plain.unitEpoch).toBeUndefined();
  });

  it('passes through errors that do not follow the convention', () => {
    const napi = new Error('Failed to convert JavaScript value `String` into rust type `f64`');
    expect(fromNativeError(napi)).toBe(napi);
    const unknownCode = new Error('{"code":"ERR_MADE_UP","message":"x"}');
    expect(fromNativeError(unknownCode)).toBe(unknownCode);
    expect(fromNativeError('a string')).toBe('a string');
  });
});
