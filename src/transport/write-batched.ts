// One syscall per tick, not per frame: the first frame written to a socket in a tick
// corks it and the tick's end uncorks it, so Node hands every frame of the tick to the
// kernel in one writev. Measured before: socket.write per frame was 38% of a loaded
// client's CPU (docs/benchmarks.md).
//
// A server answering many connections can go further and hold a socket's answers to
// the end of the event loop's turn (`holdUntilTurnEnd`): every connection that was
// readable in this turn is answered, then all of them are written back to back. On a VM
// a write that wakes a sleeping peer costs the writer several µs; written in one burst,
// the later writes find the peer already awake. The sequencer answered 25 % more TOKEN
// requests at 16 x 32 this way (docs/benchmarks.md, "Answers at the turn's end").

import type { Socket } from 'node:net';

function uncork(socket: Socket): void {
  socket.uncork();
}

/** Writes `frame`, batched with the rest of this tick's frames. Returns what `write` returns. */
export function writeBatched(socket: Socket, frame: Uint8Array): boolean {
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(uncork, socket);
  }
  return socket.write(frame);
}

const heldSockets = new Set<Socket>();
let uncorkScheduled = false;

function uncorkHeld(): void {
  uncorkScheduled = false;
  for (const socket of heldSockets) socket.uncork();
  heldSockets.clear();
}

/**
 * Corks `socket` until the end of this turn of the event loop (setImmediate runs right
 * after the poll phase that delivered this turn's reads), once per turn however often
 * it is called. Writes meanwhile, `writeBatched` ones too, wait in the cork.
 */
export function holdUntilTurnEnd(socket: Socket): void {
  if (heldSockets.has(socket)) return;
  socket.cork();
  heldSockets.add(socket);
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    setImmediate(uncorkHeld);
  }
}
