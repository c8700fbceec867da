// commander argument parsers: each rejects bad input with InvalidArgumentError,
// which commander prints as one line and main.ts turns into exit code 2.

import { InvalidArgumentError } from 'commander';

import { parseSize } from './units.js';

export function sizeArg(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < 1) throw new InvalidArgumentError('expected a size in bytes, like 4096, 64K or 1G.');
  return bytes;
}

export function countArg(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number.');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('number too large.');
  return n;
}

export function positiveCountArg(value: string): number {
  const n = countArg(value);
  if (n < 1) throw new InvalidArgumentError('expected a number of at least 1.');
  return n;
}

export function clusterIdArg(value: string): string {
  if (!/^[0-9a-fA-F]{32}$/.test(value)) throw new InvalidArgumentError('expected 32 hex digits (16 bytes).');
  return value.toLowerCase();
}

export function syncArg(value: string): 'always' | 'none' {
  if (value !== 'always' && value !== 'none') throw new InvalidArgumentError("expected 'always' or 'none'.");
  return value;
}
