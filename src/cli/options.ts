// commander argument parsers: each rejects bad input with InvalidArgumentError,
// which commander prints as one line and main.ts turns into exit code 2.

import { isIP } from 'node:net';

import { InvalidArgumentError } from 'commander';

import { CorfuError } from '../../bindings/errors.js';
import { parseStoreUrl } from '../layout/store-url.js';
import { parseSize } from './units.js';

/** `--store` / `--layout`: a layout URL, file:DIR or etcd://HOST:PORT[,HOST:PORT...]/PREFIX. */
export function storeUrlArg(value: string): string {
  try {
    parseStoreUrl(value);
  } catch (err) {
    if (err instanceof CorfuError) throw new InvalidArgumentError(`${err.message}.`);
    throw err;
  }
  return value;
}

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

/** `corfu sequencer --front`, `corfu unit --front`: which loop reads the sockets (src/sequencer/server.ts, src/unit/server.ts). */
export function frontArg(value: string): 'native' | 'node' {
  if (value !== 'native' && value !== 'node') throw new InvalidArgumentError("expected 'native' or 'node'.");
  return value;
}

/**
 * `--listen`: `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (host 127.0.0.1:
 * servers listen on loopback unless told otherwise); port 0..65535, 0 for an
 * ephemeral one. An unbracketed IPv6 address is refused: `::1:7000` is ambiguous.
 */
export function listenArg(value: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(value);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, [IPv6]:PORT or PORT, with a port of 0..65535, like 127.0.0.1:7000.');
  const rawHost = m[1] ?? '';
  return { host: rawHost === '' ? '127.0.0.1' : rawHost.replace(/^\[(.*)\]$/, '$1'), port };
}

const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `corfu certs init --host`: an IP address (IPv6 with or without brackets) or a DNS name (`*.` for a wildcard); repeatable. */
export function certHostArg(value: string, previous: string[] = []): string[] {
  const host = value.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) === 0 && !(DNS_NAME.test(host) && host.length <= 253)) throw new InvalidArgumentError('expected an IP address or a DNS name, like 10.0.0.1 or node1.example.com.');
  return [...previous, host];
}
