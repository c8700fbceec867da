// A small TCP proxy whose delay the nemesis turns up and down. Every unit of a
// fault run sits behind one, always on, in the unit's own network namespace:
// the projection names the proxy (IP:7000), the unit listens on IP:7001.
//
//   node dist-faults/test/faults/proxy.js --listen 10.213.0.10:7000 --upstream 10.213.0.10:7001
//
// stdin:  `delay MS JITTER` (each chunk, both ways, is held MS + random(0..JITTER)
//         ms; order is kept per direction), `stats`
// stdout: `listening`, `ok`, `stats DELAYED_CHUNKS BYTES CONNECTIONS`
//
// With delay 0 and nothing queued a chunk is written at once. A connection
// whose upstream cannot be reached (the unit is dead) is closed, so a client
// sees the connection drop rather than hang.

import { createServer, connect, type Socket } from 'node:net';

import { splitHostPort } from '../../src/transport/address.js';
import { exitWithParent, flags, stdinLines } from './util.js';

const args = flags(process.argv.slice(2));
const listen = splitHostPort(args.get('listen') ?? '');
const upstream = splitHostPort(args.get('upstream') ?? '');

let delayMs = 0;
let jitterMs = 0;
let delayedChunks = 0;
let delayedBytes = 0;
let connections = 0;

function pipe(src: Socket, dst: Socket): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let lastDue = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (!dst.destroyed) dst.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
  };
  src.on('data', (chunk: Buffer) => {
    if (delayMs === 0 && queue.length === 0) {
      dst.write(chunk);
      return;
    }
    const due = Math.max(Date.now() + delayMs + Math.floor(Math.random() * (jitterMs + 1)), lastDue);
    lastDue = due;
    delayedChunks++;
    delayedBytes += chunk.length;
    queue.push({ due, chunk });
    if (timer === undefined) timer = setTimeout(flush, due - Date.now());
  });
  src.on('close', () => {
    // Deliver what is queued, then close the other side.
    const drain = (): void => {
      if (queue.length > 0) {
        setTimeout(drain, 10);
        return;
      }
      dst.end();
    };
    drain();
  });
}

const server = createServer((down) => {
  connections++;
  down.setNoDelay(true);
  const up = connect(upstream);
  up.setNoDelay(true);
  const kill = (): void => {
    down.destroy();
    up.destroy();
  };
  down.on('error', kill);
  up.on('error', kill);
  pipe(down, up);
  pipe(up, down);
});
server.on('error', (err) => {
  process.stderr.write(`proxy: ${err.message}\n`);
  process.exit(1);
});
server.listen(listen.port, listen.host, () => process.stdout.write('listening\n'));

exitWithParent();
process.stdin.once('end', () => process.exit(0));
stdinLines((line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'delay') {
    delayMs = Number(a ?? 0);
    jitterMs = Number(b ?? 0);
    process.stdout.write('ok\n');
  } else if (cmd === 'stats') {
    process.stdout.write(`stats ${delayedChunks} ${delayedBytes} ${connections}\n`);
  }
});
