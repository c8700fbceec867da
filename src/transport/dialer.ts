// How a Connection reaches a server: a Dialer opens a Link, a byte stream in
// both directions. The default is TCP (node:net); the seeded simulator
// (test/sim) plugs in links over its simulated network, so the real
// Connection — request ids, pipelining, deadlines, reconnects — runs there too.

import { Socket } from 'node:net';

import { writeBatched } from './write-batched.js';

/** What a Link reports. Never called synchronously from `dial`. */
export interface LinkHandlers {
  onConnect(): void;
  onData(chunk: Uint8Array): void;
  /** The link takes writes again after `write` returned false. */
  onDrain(): void;
  /** The link is gone: refused, reset, closed by the peer, or destroyed. `error` says why, when there was one. */
  onClose(error: Error | undefined): void;
}

export interface Link {
  /** Queues bytes; false asks the writer to wait for onDrain. */
  write(bytes: Uint8Array): boolean;
  /** Closes the link at once; onClose follows. */
  destroy(): void;
}

export interface Dialer {
  dial(host: string, port: number, handlers: LinkHandlers): Link;
}

/** TCP with Nagle off; the frames of one tick go to the kernel in one writev (write-batched.ts). */
export const tcpDialer: Dialer = {
  dial(host, port, handlers) {
    const socket = new Socket();
    socket.setNoDelay(true);
    let lastError: Error | undefined;
    socket.on('connect', () => handlers.onConnect());
    socket.on('data', (chunk: Buffer) => handlers.onData(chunk));
    socket.on('drain', () => handlers.onDrain());
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.on('close', () => handlers.onClose(lastError));
    socket.connect({ host, port });
    return {
      write: (bytes) => writeBatched(socket, bytes),
      destroy: () => {
        socket.destroy();
      },
    };
  },
};
