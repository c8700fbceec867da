// The unit's request handler (src/unit/handler.ts) over a stub engine: what the
// engine answers reaches the wire byte for byte through the one table of written
// and kind bytes, an engine error becomes an error response, and an answer the
// engine can never give legitimately is a broken invariant, not an invented entry.

import { describe, expect, it } from 'vitest';

import { KIND, WRITTEN } from '../bindings/entry-codes.js';
import { CorfuError } from '../bindings/errors.js';
import { InvariantError } from '../bindings/invariant.js';
import type { ReadOutcome, WriteOutcome } from '../bindings/store.js';
import { handleRequest, type UnitEngine } from '../src/unit/handler.js';
import type { Request } from '../src/wire/messages.js';

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
});
