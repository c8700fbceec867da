// `host:port` strings as the projection stores them, and a quick reachability check.

import { systemClock, type Clock } from './clock.js';
import { tcpDialer, type Dialer } from './dialer.js';

/** Splits `HOST:PORT` (or `[v6]:PORT`) at the last colon. */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(value.slice(i + 1)) };
}

/**
 * Resolves once a connection opens; rejects on refusal or after `timeoutMs`. Fails
 * fast (ECONNREFUSED) where a Connection would keep retrying until its deadline.
 */
export function probe(address: string, timeoutMs: number, dialer: Dialer = tcpDialer, clock: Clock = systemClock): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { host, port } = splitHostPort(address);
    let settled = false;
    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      link.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const link = dialer.dial(host, port, {
      onConnect: () => settle(undefined),
      onData: () => {},
      onDrain: () => {},
      onClose: (err) => settle(err ?? new Error(`connection to ${address} closed`)),
    });
    const timer = clock.setTimeout(() => settle(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
}
