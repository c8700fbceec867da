// A storage unit's request handling: one decoded request in, one response out.
// No sockets, no timers, no clocks: the engine sits behind `UnitEngine` (the
// Store methods used here), so a simulator can drive this with a fake engine.
//
// - Status codes come straight from the engine: whole-request failures
//   (ERR_SEALED with the unit's epoch, ERR_IO, ...) become an error response;
//   per-entry statuses (ERR_WRITTEN, ERR_TOO_LARGE, ERR_UNWRITTEN,
//   ERR_TRIMMED, ...) are passed through byte for byte.
// - The epoch check is the engine's: every call carries the request's epoch.
//   SEAL carries the new epoch instead and answers with the unit's tail.
// - A FILL reaching more than MAX_FILL_AHEAD above the unit's tail is refused
//   (ERR_BAD_REQUEST): a read never writes past the log's tail.
// - PING is answered without touching the engine (a liveness probe carries
//   no state); INFO (identity, epoch, tail, space, limits) at any epoch too. TOKEN and BOOTSTRAP are the sequencer's: ERR_BAD_REQUEST.
// - The response header carries the request's id. Its epoch is the request's:
//   an OK answer passed the engine's epoch check, so that is the unit's epoch
//   too; a SEAL answer carries the new epoch; an error answer echoes the
//   request's epoch (ERR_SEALED says the unit's in `unitEpoch`); PING echoes.
// - Anything thrown that is not a CorfuError is a bug (a broken contract with
//   the engine, InvariantError) and propagates: the server crashes rather than
//   answer it.

import { writtenByte } from '../../bindings/entry-codes.js';
import { CorfuError, codeByte } from '../../bindings/errors.js';
import { InvariantError } from '../../bindings/invariant.js';
import type { ReadOutcome, Store, TrimOutcome, WriteOutcome } from '../../bindings/store.js';
import { KIND, errorResponse } from '../wire/index.js';
import type { AddressesRequest, InfoResponse, Request, Response, WriteRequest } from '../wire/index.js';

/** What the handler needs of the engine: exactly these Store methods. */
export interface UnitEngine {
  writePacked(epoch: number, addresses: Float64Array, lengths: Uint32Array, data: Buffer): Promise<{ status: Uint8Array; written: Uint8Array }>;
  fill(epoch: number, addresses: Float64Array): Promise<WriteOutcome[]>;
  read(epoch: number, addresses: Float64Array): Promise<ReadOutcome[]>;
  trim(epoch: number, addresses: Float64Array): Promise<TrimOutcome[]>;
  prefixTrim(epoch: number, address: number): Promise<void>;
  seal(newEpoch: number): Promise<number>;
  tail(epoch: number): Promise<number>;
  /** What INFO answers: the unit's identity, epoch, tail and space (at any epoch). */
  info(): Promise<UnitInfo>;
  /**
   * The Store these methods drive, when there is one: a native front (src/unit/front.ts)
   * queues the WRITEs it reads to it directly, as `writePacked` would.
   */
  readonly store?: Store;
}

/** The body of an INFO answer. */
export type UnitInfo = Omit<InfoResponse, 'type' | 'op' | 'requestId' | 'epoch' | 'status'>;

/** Handles one request. Resolves with the response to send; rejects only on a bug. */
export async function handleRequest(engine: UnitEngine, req: Request): Promise<Response> {
  try {
    return await dispatch(engine, req);
  } catch (err) {
    if (err instanceof CorfuError) return errorResponse(req.op, req.requestId, req.epoch, err);
    throw err;
  }
}

async function dispatch(engine: UnitEngine, req: Request): Promise<Response> {
  const { requestId, epoch } = req;
  switch (req.op) {
    case 'WRITE': {
      const { addresses, lengths, data } = packWrite(req);
      const { status, written } = await engine.writePacked(epoch, addresses, lengths, data);
      return { type: 'response', op: 'WRITE', requestId, epoch, status: 'OK', statuses: status, written };
    }
    case 'FILL': {
      const addresses = addressArray(req);
      await checkFillReach(engine, epoch, addresses);
      const outcomes = await engine.fill(epoch, addresses);
      const statuses = new Uint8Array(outcomes.length);
      const written = new Uint8Array(outcomes.length);
      outcomes.forEach((o, i) => {
        statuses[i] = codeByte(o.status);
        written[i] = writtenByte(o.written);
      });
      return { type: 'response', op: 'FILL', requestId, epoch, status: 'OK', statuses, written };
    }
    case 'READ': {
      const outcomes = await engine.read(epoch, addressArray(req));
      const statuses = new Uint8Array(outcomes.length);
      const kinds = new Uint8Array(outcomes.length);
      const payloads = new Array<Uint8Array | null>(outcomes.length);
      outcomes.forEach((o, i) => {
        statuses[i] = codeByte(o.status);
        if (o.status !== 'OK') {
          kinds[i] = KIND.NONE;
          payloads[i] = null;
        } else if (o.kind === 'junk') {
          kinds[i] = KIND.JUNK;
          payloads[i] = null;
        } else {
          // An OK data entry always has its payload (an empty one is a zero-length view):
          // answering one without would invent an empty entry.
          if (o.kind !== 'data' || o.payload === undefined)
            throw new InvariantError(`the engine read ${o.address} as OK but gave ${o.kind === undefined ? 'no kind' : `kind ${o.kind}`} and ${o.payload === undefined ? 'no payload' : 'a payload'}`);
          kinds[i] = KIND.DATA;
          payloads[i] = o.payload;
        }
      });
      return { type: 'response', op: 'READ', requestId, epoch, status: 'OK', statuses, kinds, payloads };
    }
    case 'TRIM': {
      const outcomes = await engine.trim(epoch, addressArray(req));
      const statuses = Uint8Array.from(outcomes, (o) => codeByte(o.status));
      return { type: 'response', op: 'TRIM', requestId, epoch, status: 'OK', statuses };
    }
    case 'PREFIX_TRIM':
      await engine.prefixTrim(epoch, req.address);
      return { type: 'response', op: 'PREFIX_TRIM', requestId, epoch, status: 'OK' };
    case 'TAIL':
      return { type: 'response', op: 'TAIL', requestId, epoch, status: 'OK', tail: await engine.tail(epoch) };
    case 'SEAL':
      return { type: 'response', op: 'SEAL', requestId, epoch: req.newEpoch, status: 'OK', tail: await engine.seal(req.newEpoch) };
    case 'PING':
      return { type: 'response', op: 'PING', requestId, epoch, status: 'OK' };
    case 'INFO':
      return { type: 'response', op: 'INFO', requestId, epoch, status: 'OK', ...(await engine.info()) };
    case 'WAIT_TAIL':
      throw new CorfuError('ERR_BAD_REQUEST', 'WAIT_TAIL is for the sequencer; a storage unit answers TAIL');
    case 'TOKEN':
      throw new CorfuError('ERR_BAD_REQUEST', 'a storage unit does not hand out tokens; ask the sequencer');
    case 'BOOTSTRAP':
      throw new CorfuError('ERR_BAD_REQUEST', 'BOOTSTRAP is for the sequencer; a storage unit is sealed with SEAL');
    case 'STREAM_TOKEN':
    case 'STREAM_TAILS':
    case 'STREAM_SEED':
      throw new CorfuError('ERR_BAD_REQUEST', `${req.op} is for the sequencer, which keeps the stream tails; a storage unit knows no streams`);
    case 'AUTH':
      // The server answers AUTH itself (it changes the connection, not the unit); one
      // that reaches the handler came from a driver without authentication.
      throw new CorfuError('ERR_BAD_REQUEST', 'AUTH is answered by the server, not the unit');
  }
}

/**
 * How far above a unit's tail a FILL may reach. Clients fill only holes below
 * the sequencer's tail, which runs ahead of a unit's own tail by the appends
 * still in flight and the tokens abandoned; a FILL further out comes from a
 * buggy or hostile peer and would push the unit's tail, and so the log's
 * after the next reconfiguration, arbitrarily far.
 */
export const MAX_FILL_AHEAD = 1 << 24;

async function checkFillReach(engine: UnitEngine, epoch: number, addresses: Float64Array): Promise<void> {
  let highest = -1;
  for (const a of addresses) if (a > highest) highest = a;
  if (highest < MAX_FILL_AHEAD) return; // within reach of any tail
  const tail = await engine.tail(epoch);
  if (highest >= tail + MAX_FILL_AHEAD) {
    throw new CorfuError('ERR_BAD_REQUEST', `FILL at ${highest} is ${highest - tail} above this unit's tail ${tail}; the most a FILL may reach is ${MAX_FILL_AHEAD} above it`);
  }
}

function addressArray(req: AddressesRequest): Float64Array {
  return Float64Array.from(req.addresses);
}

/**
 * The engine's packed form of a WRITE. The decoder hands out payloads as views
 * into the received frame, back to back; when they are, `data` is one view
 * over all of them (no copy), else one concatenation.
 */
export function packWrite(req: WriteRequest): { addresses: Float64Array; lengths: Uint32Array; data: Buffer } {
  const n = req.entries.length;
  const addresses = new Float64Array(n);
  const lengths = new Uint32Array(n);
  let total = 0;
  let contiguous = true;
  let prev: Uint8Array | undefined;
  for (let i = 0; i < n; i++) {
    const { address, payload } = req.entries[i]!;
    addresses[i] = address;
    lengths[i] = payload.length;
    total += payload.length;
    if (prev !== undefined && (prev.buffer !== payload.buffer || prev.byteOffset + prev.length !== payload.byteOffset)) contiguous = false;
    prev = payload;
  }
  const first = req.entries[0]?.payload;
  let data: Buffer;
  if (first === undefined) data = Buffer.alloc(0);
  else if (contiguous) data = Buffer.from(first.buffer, first.byteOffset, total);
  else
    data = Buffer.concat(
      req.entries.map((e) => e.payload),
      total,
    );
  return { addresses, lengths, data };
}
