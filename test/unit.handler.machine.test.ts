// The unit's request handling (src/unit/handler.ts) over the simulator's
// in-memory engine (the differential test checks it answers like the real one);
// unit.handler.test.ts covers the byte tables over a stub engine. What a peer
// relies on: operations that belong to the sequencer are refused with words
// that say where to go, a FILL cannot reach absurdly far past the tail, and
// INFO, SEAL and PING answer as the protocol says. (The real-process tests
// cover the same over sockets; this is what Stryker's mutation set can run.)

import { describe, expect, it } from 'vitest';

import { codeByte } from '../bindings/errors.js';
import { MAX_FILL_AHEAD, handleRequest } from '../src/unit/handler.js';
import type { Request } from '../src/wire/messages.js';
import { Bugs } from './sim/bugs.js';
import { Disk, MemEngine } from './sim/engine.js';

function engine(epoch = 1): MemEngine {
  const disk = new Disk({ formatId: '0123456789abcdef' });
  disk.epoch = epoch;
  return new MemEngine(disk, new Bugs());
}

describe('the unit handler over an engine', () => {
  it("refuses the sequencer's operations and says where they belong", async () => {
    const e = engine();
    const cases: Array<[Request, string]> = [
      [{ type: 'request', op: 'WAIT_TAIL', requestId: 1, epoch: 1, after: 0, waitMs: 10 }, 'WAIT_TAIL is for the sequencer; a storage unit answers TAIL'],
      [{ type: 'request', op: 'TOKEN', requestId: 2, epoch: 1, count: 1 }, 'a storage unit does not hand out tokens; ask the sequencer'],
      [{ type: 'request', op: 'BOOTSTRAP', requestId: 3, epoch: 1, newEpoch: 2, startTail: 0, resetStreams: false }, 'BOOTSTRAP is for the sequencer; a storage unit is sealed with SEAL'],
      [
        { type: 'request', op: 'STREAM_TOKEN', requestId: 6, epoch: 1, count: 1, streams: ['0'.repeat(32)] },
        'STREAM_TOKEN is for the sequencer, which keeps the stream tails; a storage unit knows no streams',
      ],
      [{ type: 'request', op: 'STREAM_TAILS', requestId: 7, epoch: 1, streams: ['0'.repeat(32)] }, 'STREAM_TAILS is for the sequencer, which keeps the stream tails; a storage unit knows no streams'],
      [
        { type: 'request', op: 'STREAM_SEED', requestId: 8, epoch: 1, from: 0, to: 0, done: false, entries: [] },
        'STREAM_SEED is for the sequencer, which keeps the stream tails; a storage unit knows no streams',
      ],
    ];
    for (const [req, message] of cases) {
      expect(await handleRequest(e, req)).toMatchObject({ type: 'response', op: req.op, requestId: req.requestId, epoch: 1, status: 'ERR_BAD_REQUEST', message });
    }
  });

  it('answers PING, INFO and SEAL as the protocol says', async () => {
    const e = engine();
    expect(await handleRequest(e, { type: 'request', op: 'PING', requestId: 4, epoch: 7 })).toEqual({ type: 'response', op: 'PING', requestId: 4, epoch: 7, status: 'OK' });
    expect(await handleRequest(e, { type: 'request', op: 'INFO', requestId: 5, epoch: 0 })).toMatchObject({
      type: 'response',
      op: 'INFO',
      requestId: 5,
      epoch: 0,
      status: 'OK',
      unitEpoch: 1,
      formatId: '0123456789abcdef',
    });
    // A SEAL's answer carries the new epoch in its header and the unit's tail.
    expect(await handleRequest(e, { type: 'request', op: 'SEAL', requestId: 6, epoch: 1, newEpoch: 3 })).toEqual({ type: 'response', op: 'SEAL', requestId: 6, epoch: 3, status: 'OK', tail: 0 });
  });

  it('a FILL may reach at most MAX_FILL_AHEAD past the tail, judged by the highest of its addresses', async () => {
    const e = engine();
    const M = MAX_FILL_AHEAD;
    const fill = (...addresses: number[]): Request => ({ type: 'request', op: 'FILL', requestId: 8, epoch: 1, addresses });
    const filled = (n: number) => ({ type: 'response', op: 'FILL', requestId: 8, epoch: 1, status: 'OK', statuses: new Uint8Array(n), written: new Uint8Array(n) });
    const refused = (highest: number, tail: number) => ({
      type: 'response',
      op: 'FILL',
      requestId: 8,
      epoch: 1,
      status: 'ERR_BAD_REQUEST',
      unitEpoch: 0,
      message: `FILL at ${highest} is ${highest - tail} above this unit's tail ${tail}; the most a FILL may reach is ${M} above it`,
    });
    // Tail 0: MAX_FILL_AHEAD itself is one too far, one below is within reach.
    expect(await handleRequest(e, fill(M))).toEqual(refused(M, 0));
    expect(await handleRequest(e, fill(M - 1))).toEqual(filled(1));
    expect(e.tailNow).toBe(M);
    // Tail M: tail + M is refused wherever it sits in the request, and nothing of the request is filled.
    for (const addresses of [[2 * M], [1, 2 * M, 2], [2 * M, 1], [1, 2 * M]]) {
      expect(await handleRequest(e, fill(...addresses))).toEqual(refused(2 * M, M));
    }
    const unwritten = Uint8Array.from([1, 2, 3], () => codeByte('ERR_UNWRITTEN'));
    expect(await handleRequest(e, { type: 'request', op: 'READ', requestId: 9, epoch: 1, addresses: [1, 2, 2 * M] })).toEqual({
      type: 'response',
      op: 'READ',
      requestId: 9,
      epoch: 1,
      status: 'OK',
      statuses: unwritten,
      kinds: new Uint8Array(3),
      payloads: [null, null, null],
    });
    expect(await handleRequest(e, fill(2 * M + 5))).toEqual(refused(2 * M + 5, M));
    // One below tail + M is within reach, though far above MAX_FILL_AHEAD.
    expect(await handleRequest(e, fill(1, 2 * M - 1, 2))).toEqual(filled(3));
    expect(e.tailNow).toBe(2 * M);
  });
});
