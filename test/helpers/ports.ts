// Addresses for tests that need a port to stay free or to be theirs again.
//
// Test files run in parallel. A port found "free" by binding and releasing it
// may be taken by another file before it is used, and so may the port of a
// server killed to be restarted on the same address. Every 127.x.y.z address
// is local on Linux, and a listener on one specific address does not conflict
// with listeners on another; so:
//   - ownLoopback(): an address of this test process's own (from its pid).
//     Servers started on it with port 0 can be killed and restarted on the
//     same HOST:PORT: no other test file binds that host.
//   - refusedAddress(): HOST:PORT that refuses connections for as long as it
//     is held: this process keeps 127.0.0.1:P listening (so nobody else gets
//     P on a wildcard address) and hands out 127.0.0.2:P, where nothing listens.

import { createServer } from 'node:net';

/** 127.a.b.c from this process's pid (pids are below 2^22, never 1): unique among running test files. */
export function ownLoopback(): string {
  const pid = process.pid;
  return `127.${(pid >> 16) & 0xff}.${(pid >> 8) & 0xff}.${pid & 0xff}`;
}

export interface RefusedAddress {
  readonly host: string;
  readonly port: number;
  /** HOST:PORT. */
  readonly address: string;
  /** Stops holding the port. */
  close(): Promise<void>;
}

export async function refusedAddress(): Promise<RefusedAddress> {
  const guard = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    guard.once('error', reject);
    guard.listen(0, '127.0.0.1', resolve);
  });
  const port = (guard.address() as { port: number }).port;
  const host = '127.0.0.2';
  return { host, port, address: `${host}:${port}`, close: () => new Promise<void>((resolve) => guard.close(() => resolve())) };
}
