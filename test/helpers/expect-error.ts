// Assertions for typed failures: the error must be a CorfuError with exactly
// this code, not merely "something threw".

import { expect } from 'vitest';

import { CorfuError, type ErrorCode } from '../../bindings/index.js';

export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<CorfuError> {
  let value: unknown;
  try {
    value = await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CorfuError);
    expect((err as CorfuError).code).toBe(code);
    return err as CorfuError;
  }
  throw new Error(`expected a CorfuError ${code}, but the call resolved with ${JSON.stringify(value)}`);
}

export function throwsWith(fn: () => unknown, code: ErrorCode): CorfuError {
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CorfuError);
    expect((err as CorfuError).code).toBe(code);
    return err as CorfuError;
  }
  throw new Error(`expected a CorfuError ${code}, but the call returned ${JSON.stringify(value)}`);
}
