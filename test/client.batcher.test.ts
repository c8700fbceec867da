// The client's per-unit batcher (src/client/unit-batcher.ts) against a tiny unit
// this test controls, over a real socket: a unit that serves only a few entries
// of each READ and answers the rest ERR_OVERLOADED ("not served in this frame,
// ask again", docs/protocol.md). The batcher must ask again until every entry
// has its own answer, and must not loop on a unit that serves nothing.

import { createServer, type Server, type Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { codeByte, isCorfuError } from '../bindings/errors.js';
import { UnitBatcher, type EntryAnswer } from '../src/client/unit-batcher.js';
import { Connection } from '../src/transport/connection.js';
import { FrameDecoder, KIND, encodeResponse } from '../src/wire/index.js';
import type { AddressesRequest, Request } from '../src/wire/index.js';

const DEFERRED = codeByte('ERR_OVERLOADED');
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const valueOf = (address: number): Buffer => Buffer.from(`value of ${address}`);

/** A unit whose READ serves its first `served(n)` entries (data: `valueOf`) and defers the rest; it records each READ's addresses. */
async function deferringUnit(served: (n: number) => number): Promise<{ port: number; reads: number[][] }> {
  const reads: number[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      decoder.push(chunk);
      for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) {
        const req = r.frame as Request & AddressesRequest;
        reads.push([...req.addresses]);
        const n = req.addresses.length;
        const k = served(n);
        const statuses = Uint8Array.from(req.addresses, (_, i) => (i < k ? 0 : DEFERRED));
        const kinds = Uint8Array.from(req.addresses, (_, i) => (i < k ? KIND.DATA : KIND.NONE));
        const payloads = req.addresses.map((a, i) => (i < k ? valueOf(a) : null));
        socket.write(encodeResponse({ type: 'response', op: 'READ', requestId: req.requestId, epoch: req.epoch, status: 'OK', statuses, kinds, payloads }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const a = server.address();
  return { port: typeof a === 'object' && a !== null ? a.port : 0, reads };
}

function batcherFor(port: number): UnitBatcher {
  const connection = new Connection({ host: '127.0.0.1', port, timeoutMs: 5_000 });
  closers.push(() => connection.close());
  return new UnitBatcher(connection, 5_000, (fn) => setImmediate(fn));
}

describe('UnitBatcher and a unit that defers part of a READ', () => {
  it('asks again for the deferred entries, frame after frame, until each has its own value', async () => {
    const unit = await deferringUnit((n) => Math.min(n, 7));
    const batcher = batcherFor(unit.port);
    const addresses = Array.from({ length: 100 }, (_, i) => 1_000 + i);
    const answers: EntryAnswer[] = await Promise.all(addresses.map((a) => batcher.submit('READ', 4, a)));
    answers.forEach((answer, i) => {
      expect(answer.kind).toBe('read');
      if (answer.kind !== 'read') return;
      expect(answer.status).toBe(0);
      expect(Buffer.from(answer.payload!).equals(valueOf(addresses[i]!))).toBe(true);
      expect(answer.deferrals).toBe(Math.floor(i / 7));
    });
    // One frame per round, each the previous one's deferred tail, in order.
    expect(unit.reads.map((r) => r.length)).toEqual(Array.from({ length: 15 }, (_, k) => 100 - 7 * k));
    expect(unit.reads.every((r) => r.every((a, i) => a === r[0]! + i))).toBe(true);
  });

  it('a unit that serves none of a READ gets each entry rejected with ERR_OVERLOADED after one frame, not a loop', async () => {
    const unit = await deferringUnit(() => 0);
    const batcher = batcherFor(unit.port);
    const results = await Promise.allSettled([1, 2, 3].map((a) => batcher.submit('READ', 4, a)));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(r.status === 'rejected' && isCorfuError(r.reason, 'ERR_OVERLOADED')).toBe(true);
    }
    expect(unit.reads).toEqual([[1, 2, 3]]);
  });
});

describe('UnitBatcher.submitMany (appendBatch walks a chain with it)', () => {
  it("answers each entry in its place, in the same frames as the tick's single submissions", async () => {
    const unit = await deferringUnit((n) => Math.min(n, 7));
    const batcher = batcherFor(unit.port);
    const single = batcher.submit('READ', 4, 500);
    const many = batcher.submitMany(
      'READ',
      4,
      Array.from({ length: 20 }, (_, i) => ({ address: 600 + i })),
    );
    const [one, all] = await Promise.all([single, many]);
    expect(one).toMatchObject({ kind: 'read', status: 0 });
    expect(all).toHaveLength(20);
    all.forEach((answer, i) => {
      expect(answer.kind).toBe('read');
      if (answer.kind !== 'read') return;
      expect(Buffer.from(answer.payload!).equals(valueOf(600 + i))).toBe(true);
    });
    // The first frame held the single entry and the twenty.
    expect(unit.reads[0]).toEqual([500, ...Array.from({ length: 20 }, (_, i) => 600 + i)]);
  });

  it('never rejects: an entry whose frame got no answer is lost, with the error submit would have thrown', async () => {
    const unit = await deferringUnit(() => 0);
    const batcher = batcherFor(unit.port);
    const all = await batcher.submitMany('READ', 4, [{ address: 1 }, { address: 2 }]);
    expect(all.map((a) => a.kind)).toEqual(['lost', 'lost']);
    for (const a of all) expect(a.kind === 'lost' && isCorfuError(a.error, 'ERR_OVERLOADED')).toBe(true);
    expect(await batcher.submitMany('READ', 4, [])).toEqual([]);
  });
});
