// The unit's request handling (src/unit/handler.ts) over the simulator's
// in-memory engine (the differential test checks it answers like the real one);
// unit.handler.test.ts covers the byte tables over a stub engine. What a peer
// relies on: operations that belong to the sequencer are refused with words
// that say where to go, a FILL cannot reach absurdly far past the tail, and
// INFO, SEAL and PING answer as the protocol says. (The real-process tests
// cover the same over sockets; this is what Stryker's mutation set can run.)

import { describe, expect, it } from 'vitest';

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

  it('a FILL may reach at most MAX_FILL_AHEAD past the tail', async () => {
    const e = engine();
    const fill = (address: number): Request => ({ type: 'request', op: 'FILL', requestId: 8, epoch: 1, addresses: [address] });
    expect(await handleRequest(e, fill(MAX_FILL_AHEAD - 1))).toMatchObject({ op: 'FILL', status: 'OK' });
    expect(await handleRequest(e, fill(2 * MAX_FILL_AHEAD + 5))).toMatchObject({
      op: 'FILL',
      status: 'ERR_BAD_REQUEST',
      message: `FILL at ${2 * MAX_FILL_AHEAD + 5} is ${MAX_FILL_AHEAD + 5} above this unit's tail ${MAX_FILL_AHEAD}; the most a FILL may reach is ${MAX_FILL_AHEAD} above it`,
    });
  });
});
