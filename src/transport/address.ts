// `host:port` strings as the projection stores them, and a quick reachability check.

import { connect as netConnect } from 'node:net';

/** Splits `HOST:PORT` (or `[v6]:PORT`) at the last colon. */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(value.slice(i + 1)) };
}

/**
 * Resolves once a TCP connection opens; rejects on refusal or after `timeoutMs`. Fails
 * fast (ECONNREFUSED) where a Connection would keep retrying until its deadline.
 */
export function probe(address: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = netConnect(splitHostPort(address));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}
