// A loopback port that was free a moment ago, for a peer that cannot bind port 0 itself
// (redis-server, etcd). Another process may take it first: callers retry or report it.

import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
