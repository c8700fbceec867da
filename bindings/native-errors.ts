// The addon reports whole-request failures as an Error whose message is JSON:
//   {"code":"ERR_SEALED","message":"unit is at epoch 3, request carried 2","unitEpoch":3}
// (docs/native-api.md). This file is the only place that knows that convention.

import { CorfuError, isErrorCode } from './errors.js';

interface NativeErrorBody {
  code: string;
  message: string;
  unitEpoch?: number;
}

function parseBody(message: string): NativeErrorBody | undefined {
  if (!message.startsWith('{')) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { code, message: text, unitEpoch } = body as Record<string, unknown>;
  if (typeof code !== 'string' || typeof text !== 'string') return undefined;
  return typeof unitEpoch === 'number' ? { code, message: text, unitEpoch } : { code, message: text };
}

/**
 * A CorfuError for a native rejection that follows the JSON convention.
 * Anything else (a napi type-conversion error, a panic) is a bug on one side
 * of the boundary, so it is passed through untouched rather than disguised
 * as a log error.
 */
export function fromNativeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const body = parseBody(err.message);
  if (body === undefined || !isErrorCode(body.code)) return err;
  return new CorfuError(body.code, body.message, body.unitEpoch === undefined ? { cause: err } : { unitEpoch: body.unitEpoch, cause: err });
}

/** Runs a synchronous native call, converting its throw. */
export function callSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNativeError(err);
  }
}

/** Awaits a native promise, converting its rejection. */
export async function callAsync<T>(promise: () => Promise<T>): Promise<T> {
  try {
    return await promise();
  } catch (err) {
    throw fromNativeError(err);
  }
}
