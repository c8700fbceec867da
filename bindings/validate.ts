// Input checks done in JS before crossing into native code, so a bad argument
// is a typed ERR_BAD_REQUEST naming the culprit instead of a napi conversion
// error (or, worse, a float silently truncated to a different address).

import { CorfuError } from './errors.js';

function bad(message: string): CorfuError {
  return new CorfuError('ERR_BAD_REQUEST', message);
}

/** Addresses and epochs: integers in [0, 2^53). */
export function checkPosition(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${what} must be a non-negative safe integer, got ${describe(value)}`);
  }
  return value;
}

export function checkPositiveInt(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw bad(`${what} must be an integer in 1..${max}, got ${describe(value)}`);
  }
  return value;
}

export function checkPath(value: unknown, what = 'path'): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) {
    throw bad(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

export function checkBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw bad(`${what} must be a Buffer, got ${describe(value)}`);
  return value;
}

/** An address list as the Float64Array the addon takes; one pass, one allocation. */
export function toAddressArray(addresses: unknown, what = 'addresses'): Float64Array {
  if (addresses instanceof Float64Array) {
    for (let i = 0; i < addresses.length; i++) checkPosition(addresses[i], `${what}[${i}]`);
    return addresses;
  }
  if (!Array.isArray(addresses)) throw bad(`${what} must be an array of addresses, got ${describe(addresses)}`);
  const out = new Float64Array(addresses.length);
  for (let i = 0; i < addresses.length; i++) out[i] = checkPosition(addresses[i], `${what}[${i}]`);
  return out;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'string':
      return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'undefined':
      return 'undefined';
    default:
      return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  }
}
