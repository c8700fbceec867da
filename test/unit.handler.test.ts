// The unit's request handler (src/unit/handler.ts) over a stub engine: what the
// engine answers reaches the wire byte for byte through the one table of written
// and kind bytes, an engine error becomes an error response, and an answer the
// engine can never give legitimately is a broken invariant, not an invented entry.

import { describe, expect, it } from 'vitest';

import { KIND, WRITTEN } from '../bindings/entry-codes.js';
import { CorfuError, codeByte } from '../bindings/errors.js';
import { InvariantError } from '../bindings/invariant.js';
import type { ReadOutcome, WriteOutcome } from '../bindings/store.js';
import { handleRequest, type UnitEngine } from '../src/unit/handler.js';
import type { Request, WriteRequest } from '../src/wire/messages.js';

function engine(over: Partial<UnitEngine>): UnitEngine {
  const none = (): never => {
    throw new Error('not used by this test');
  };
  return { writePacked: none, fill: none, read: none, trim: none, prefixTrim: none, seal: none, tail: none, info: none, ...over };
}

const read = (addresses: number[]): Request => ({ type: 'request', op: 'READ', requestId: 7, epoch: 2, addresses });
const fill = (addresses: number[]): Request => ({ type: 'request', op: 'FILL', requestId: 8, epoch: 2, addresses });

describe('unit handler', () => {
  it('answers a READ with the kind bytes of the table and the payloads as given, an empty one included', async () => {
    const outcomes: ReadOutcome[] = [
      { address: 1, status: 'OK', kind: 'data', payload: Buffer.from('ab') },
      { address: 2, status: 'OK', kind: 'data', payload: Buffer.alloc(0) },
      { address: 3, status: 'OK', kind: 'junk' },
      { address: 4, status: 'ERR_UNWRITTEN' },
    ];
    const res = await handleRequest(engine({ read: async () => outcomes }), read([1, 2, 3, 4]));
    expect(res).toMatchObject({ op: 'READ', status: 'OK', requestId: 7 });
    if (res.op !== 'READ' || res.status !== 'OK') throw new Error('not a READ answer');
    expect([...res.kinds]).toEqual([KIND.DATA, KIND.DATA, KIND.JUNK, KIND.NONE]);
    expect(res.payloads.map((p) => (p === null ? null : Buffer.from(p).toString()))).toEqual(['ab', '', null, null]);
  });

  it('refuses to invent an empty entry: OK data without a payload from the engine is a broken invariant', async () => {
    const outcomes: ReadOutcome[] = [{ address: 1, status: 'OK', kind: 'data' }];
    await expect(handleRequest(engine({ read: async () => outcomes }), read([1]))).rejects.toBeInstanceOf(InvariantError);
  });

  it('answers a FILL with the written bytes of the table', async () => {
    const outcomes: WriteOutcome[] = [
      { address: 1, status: 'OK' },
      { address: 2, status: 'ERR_WRITTEN', written: 'junk' },
      { address: 3, status: 'ERR_WRITTEN', written: 'different' },
      { address: 4, status: 'ERR_WRITTEN', written: 'same' },
    ];
    const res = await handleRequest(engine({ fill: async () => outcomes }), fill([1, 2, 3, 4]));
    if (res.op !== 'FILL' || res.status !== 'OK') throw new Error('not a FILL answer');
    expect([...res.written]).toEqual([WRITTEN.NA, WRITTEN.JUNK, WRITTEN.DIFFERENT, WRITTEN.SAME]);
  });

  it('turns an engine CorfuError into an error response, and lets anything else through', async () => {
    const sealed = engine({ read: async () => Promise.reject(new CorfuError('ERR_SEALED', 'unit is at epoch 3', { unitEpoch: 3 })) });
    expect(await handleRequest(sealed, read([1]))).toMatchObject({ op: 'READ', status: 'ERR_SEALED', unitEpoch: 3, requestId: 7 });
    const bug = engine({ read: async () => Promise.reject(new TypeError('boom')) });
    await expect(handleRequest(bug, read([1]))).rejects.toBeInstanceOf(TypeError);
  });

  it('answers each data operation with exactly its OK response: op, request id, epoch and the engine bytes', async () => {
    const writeStatus = Uint8Array.from([codeByte('OK'), codeByte('ERR_WRITTEN')]);
    const writeWritten = Uint8Array.from([WRITTEN.NA, WRITTEN.SAME]);
    const writing = engine({ writePacked: async () => ({ status: writeStatus, written: writeWritten }) });
    const write: Request = {
      type: 'request',
      op: 'WRITE',
      requestId: 3,
      epoch: 2,
      entries: [
        { address: 1, payload: Buffer.from('a') },
        { address: 2, payload: Buffer.from('b') },
      ],
    };
    expect(await handleRequest(writing, write)).toEqual({ type: 'response', op: 'WRITE', requestId: 3, epoch: 2, status: 'OK', statuses: writeStatus, written: writeWritten });

    const fills: WriteOutcome[] = [
      { address: 1, status: 'OK' },
      { address: 2, status: 'ERR_TRIMMED' },
    ];
    expect(await handleRequest(engine({ fill: async () => fills }), fill([1, 2]))).toEqual({
      type: 'response',
      op: 'FILL',
      requestId: 8,
      epoch: 2,
      status: 'OK',
      statuses: Uint8Array.from([codeByte('OK'), codeByte('ERR_TRIMMED')]),
      written: Uint8Array.from([WRITTEN.NA, WRITTEN.NA]),
    });

    const reads: ReadOutcome[] = [
      { address: 1, status: 'OK', kind: 'data', payload: Buffer.from('xy') },
      { address: 2, status: 'ERR_TRIMMED' },
    ];
    expect(await handleRequest(engine({ read: async () => reads }), read([1, 2]))).toEqual({
      type: 'response',
      op: 'READ',
      requestId: 7,
      epoch: 2,
      status: 'OK',
      statuses: Uint8Array.from([codeByte('OK'), codeByte('ERR_TRIMMED')]),
      kinds: Uint8Array.from([KIND.DATA, KIND.NONE]),
      payloads: [Buffer.from('xy'), null],
    });

    const tail = engine({ tail: async (epoch) => (epoch === 2 ? 17 : -1) });
    expect(await handleRequest(tail, { type: 'request', op: 'TAIL', requestId: 5, epoch: 2 })).toEqual({ type: 'response', op: 'TAIL', requestId: 5, epoch: 2, status: 'OK', tail: 17 });
  });

  it('answers a TRIM with the status of every address, byte for byte', async () => {
    const trimmed: Array<[number, Float64Array]> = [];
    const e = engine({
      trim: async (epoch, addresses) => {
        trimmed.push([epoch, addresses]);
        return [
          { address: 4, status: 'OK' },
          { address: 5, status: 'ERR_BAD_REQUEST' },
          { address: 6, status: 'ERR_FULL' },
        ];
      },
    });
    expect(await handleRequest(e, { type: 'request', op: 'TRIM', requestId: 9, epoch: 2, addresses: [4, 5, 6] })).toEqual({
      type: 'response',
      op: 'TRIM',
      requestId: 9,
      epoch: 2,
      status: 'OK',
      statuses: Uint8Array.from([codeByte('OK'), codeByte('ERR_BAD_REQUEST'), codeByte('ERR_FULL')]),
    });
    expect(trimmed).toEqual([[2, Float64Array.from([4, 5, 6])]]);
  });

  it('answers a PREFIX_TRIM after moving the trim mark, and asks the engine nothing else', async () => {
    const marks: Array<[number, number]> = [];
    const e = engine({
      prefixTrim: async (epoch, address) => {
        marks.push([epoch, address]);
      },
    });
    expect(await handleRequest(e, { type: 'request', op: 'PREFIX_TRIM', requestId: 10, epoch: 2, address: 40 })).toEqual({
      type: 'response',
      op: 'PREFIX_TRIM',
      requestId: 10,
      epoch: 2,
      status: 'OK',
    });
    expect(marks).toEqual([[2, 40]]);
  });

  it('says in its words which contract an OK read without data broke: the kind and whether a payload came', async () => {
    // Outcomes the engine must never give (a kind it does not have is cast past the types).
    const cases: Array<[ReadOutcome, string]> = [
      [{ address: 1, status: 'OK', kind: 'data' }, 'the engine read 1 as OK but gave kind data and no payload'],
      [{ address: 2, status: 'OK' }, 'the engine read 2 as OK but gave no kind and no payload'],
      [{ address: 3, status: 'OK', payload: Buffer.from('p') }, 'the engine read 3 as OK but gave no kind and a payload'],
      [{ address: 4, status: 'OK', kind: 'hole' as 'data', payload: Buffer.from('p') }, 'the engine read 4 as OK but gave kind hole and a payload'],
      [{ address: 5, status: 'OK', kind: 'hole' as 'data' }, 'the engine read 5 as OK but gave kind hole and no payload'],
    ];
    for (const [outcome, words] of cases) {
      const answer = handleRequest(engine({ read: async () => [outcome] }), read([outcome.address]));
      await expect(answer).rejects.toBeInstanceOf(InvariantError);
      await expect(answer).rejects.toMatchObject({ name: 'InvariantError', message: `corfu invariant broken: ${words}` });
    }
  });
});

// A WRITE's entries reach the engine packed: addresses, lengths and one buffer
// of the payloads back to back. The decoder hands out payloads as adjacent views
// into the received frame; then the buffer is a view over them (no copy), else a
// concatenation. Either way the engine must get exactly the payloads' bytes.
describe('unit handler: the packed WRITE the engine receives', () => {
  interface Packed {
    addresses: number[];
    lengths: number[];
    /** As the engine got it (a view into the payloads' buffer, or a copy). */
    data: Buffer;
  }

  /** Writes `payloads` at 10, 11, ... through the handler; what the engine was asked to write. */
  async function packed(payloads: Uint8Array[]): Promise<Packed> {
    const got: Packed[] = [];
    const e = engine({
      writePacked: async (_epoch, addresses, lengths, data) => {
        got.push({ addresses: [...addresses], lengths: [...lengths], data });
        return { status: new Uint8Array(addresses.length), written: new Uint8Array(addresses.length) };
      },
    });
    const req: WriteRequest = { type: 'request', op: 'WRITE', requestId: 1, epoch: 2, entries: payloads.map((payload, i) => ({ address: 10 + i, payload })) };
    expect(await handleRequest(e, req)).toMatchObject({ op: 'WRITE', status: 'OK' });
    expect(got).toHaveLength(1);
    return got[0]!;
  }

  const frame = (): Buffer => Buffer.from('..ABCDEFGH..');

  it('passes adjacent views of one frame as one view over them, not a copy', async () => {
    const f = frame();
    const adjacent = await packed([f.subarray(2, 4), f.subarray(4, 7), f.subarray(7, 8)]);
    expect(adjacent).toEqual({ addresses: [10, 11, 12], lengths: [2, 3, 1], data: Buffer.from('ABCDEF') });
    const single = await packed([f.subarray(3, 9)]);
    expect(single).toEqual({ addresses: [10], lengths: [6], data: Buffer.from('BCDEFG') });
    for (const [{ data }, from] of [
      [adjacent, 2],
      [single, 3],
    ] as const) {
      expect(data.buffer).toBe(f.buffer);
      expect(data.byteOffset).toBe(f.byteOffset + from);
    }
  });

  it('concatenates payloads that are not back to back in one buffer: gaps, reversed order, separate buffers at adjacent offsets', async () => {
    const f = frame();
    // One frame with a gap between the views; one frame with the second view ending where the first starts.
    expect(await packed([f.subarray(2, 4), f.subarray(5, 7)])).toEqual({ addresses: [10, 11], lengths: [2, 2], data: Buffer.from('ABDE') });
    expect(await packed([f.subarray(4, 6), f.subarray(2, 4)])).toEqual({ addresses: [10, 11], lengths: [2, 2], data: Buffer.from('CDAB') });
    // Two buffers whose views would be adjacent if they were one.
    const a = new Uint8Array(new ArrayBuffer(8), 0, 2);
    a.set([0x61, 0x62]);
    const b = new Uint8Array(new ArrayBuffer(8), 2, 2);
    b.set([0x63, 0x64]);
    expect(await packed([a, b])).toEqual({ addresses: [10, 11], lengths: [2, 2], data: Buffer.from('abcd') });
  });

  it('passes zero entries and zero-length payloads as they are', async () => {
    expect(await packed([])).toEqual({ addresses: [], lengths: [], data: Buffer.alloc(0) });
    const f = frame();
    expect(await packed([Buffer.alloc(0), f.subarray(2, 4), f.subarray(4, 4), f.subarray(4, 6)])).toEqual({ addresses: [10, 11, 12, 13], lengths: [0, 2, 0, 2], data: Buffer.from('ABCD') });
    expect(await packed([f.subarray(3, 3), f.subarray(3, 3)])).toEqual({ addresses: [10, 11], lengths: [0, 0], data: Buffer.alloc(0) });
  });
});
