// One error table, three encodings: the Rust enum (via the addon's
// errorCodes()), this TS table, and the wire byte. They must agree exactly.

import { describe, expect, it } from 'vitest';

import { CorfuError, ERROR_TABLE, codeByte, codeName, isCorfuError, isErrorCode, loadNative } from '../bindings/index.js';
import { fromNativeError } from '../bindings/native-errors.js';

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
    expect(() => codeName(21)).toThrow(RangeError);
    expect(() => codeName(-1)).toThrow(RangeError);
  });

  it('knows which strings are error codes', () => {
    expect(isErrorCode('ERR_TRIMMED')).toBe(true);
    expect(isErrorCode('OK')).toBe(false);
    expect(isErrorCode('ERR_NOPE')).toBe(false);
    expect(isErrorCode(3)).toBe(false);
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
