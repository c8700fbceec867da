// Checkpoints of an object (docs/objects.md, "Checkpoints and compaction"): the object's
// state and versions at one log address, written into the log so that a new runtime
// starts from it instead of replaying the object's whole stream, and so that the log
// below it can be trimmed.
//
// A checkpoint is written in two steps:
//   1. its payload, in parts of at most the log's entry size, as plain entries (start
//      and continuation records: no stream lists them);
//   2. an end marker in the object's checkpoint stream (`corfu.checkpoint.NAME`) naming
//      the snapshot address, every part's address, the payload's size and SHA-256.
// A checkpoint without its marker (the writer died half-way) is never seen: torn
// checkpoints are ignored by construction. Loading reads the newest markers (the
// stream's latest addresses) and takes the one of the highest snapshot whose parts read
// back whole.
//
// Payload: u32 length of a JSON header { snapshot, wholeVersion, objectVersion,
// versions: [[key, version], ...] }, the header, then the state (the type's stateCodec).

import { createHash } from 'node:crypto';

import { Map as ImmutableMap } from 'immutable';

import { CorfuError } from '../../bindings/errors.js';
import type { CallOptions } from '../client/budget.js';
import type { CorfuClient } from '../client/client.js';
import { decodeStreamEntry } from '../client/stream-entry.js';
import type { ObjectType } from './types.js';
import type { Snapshot } from './view.js';

/** The stream holding an object's checkpoint markers. */
export function checkpointStream(name: string): string {
  return `corfu.checkpoint.${name}`;
}

/** What an end marker says. */
interface Marker {
  readonly v: 1;
  readonly object: string;
  readonly kind: string | null;
  readonly snapshot: number;
  readonly parts: readonly number[];
  readonly bytes: number;
  readonly sha256: string;
}

/** Room left in an entry for the stream header of a plain part (none) and slack. */
const PART_SLACK_BYTES = 64;

export interface WrittenCheckpoint {
  readonly snapshot: number;
  /** The marker's address. */
  readonly address: number;
  readonly bytes: number;
  readonly parts: number;
}

export async function writeCheckpoint<S>(client: CorfuClient, name: string, type: ObjectType<S, unknown> | undefined, snap: Snapshot<S>, options?: CallOptions): Promise<WrittenCheckpoint> {
  const header = Buffer.from(JSON.stringify({ snapshot: snap.at, wholeVersion: snap.wholeVersion, objectVersion: snap.objectVersion, versions: [...snap.versions.entries()] }), 'utf8');
  const state = type === undefined ? new Uint8Array(0) : type.stateCodec.encode(snap.state as S);
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32LE(header.length);
  const payload = Buffer.concat([length, header, state]);
  const partBytes = Math.max(1024, (client.maxEntryBytes ?? 64 * 1024) - PART_SLACK_BYTES);
  const chunks: Buffer[] = [];
  for (let at = 0; at < payload.length; at += partBytes) chunks.push(payload.subarray(at, at + partBytes));
  if (chunks.length === 0) chunks.push(Buffer.alloc(0));
  const parts = await client.appendBatch(chunks, options);
  const marker: Marker = { v: 1, object: name, kind: type?.kind ?? null, snapshot: snap.at, parts, bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') };
  const address = await client.appendTo([checkpointStream(name)], Buffer.from(JSON.stringify(marker), 'utf8'), options);
  return { snapshot: snap.at, address, bytes: payload.length, parts: parts.length };
}

/**
 * The whole checkpoint of `name` with the highest snapshot at or below `atMost` among the
 * stream's latest four markers, as a snapshot; undefined when there is none. A marker
 * whose parts do not read back whole (trimmed, or not what the marker says) is passed
 * over for the next one.
 */
export async function loadCheckpoint<S>(
  client: CorfuClient,
  name: string,
  type: ObjectType<S, unknown> | undefined,
  options?: CallOptions,
  atMost = Number.MAX_SAFE_INTEGER,
): Promise<Snapshot<S> | undefined> {
  // The newest markers only (the sequencer's latest addresses of the stream), the highest
  // snapshot first: a marker written later may hold an older snapshot (its writer played the
  // object less far), older than a compaction's trim.
  const { latest } = await client.streamTails([checkpointStream(name)], options);
  const markers: Marker[] = [];
  for (const address of latest[0]!) {
    const m = await readMarker(client, name, address, options);
    if (m !== undefined && m.snapshot <= atMost) markers.push(m);
  }
  markers.sort((x, y) => y.snapshot - x.snapshot);
  for (const m of markers) {
    if (type !== undefined && m.kind !== null && m.kind !== type.kind) {
      throw new CorfuError('ERR_BAD_REQUEST', `object ${name}'s checkpoint is of a ${m.kind}; it cannot be opened as a ${type.kind}`);
    }
    const payload = await readParts(client, m, options);
    if (payload === undefined) continue;
    const headerBytes = payload.readUInt32LE(0);
    const header = JSON.parse(payload.toString('utf8', 4, 4 + headerBytes)) as { snapshot: number; wholeVersion: number; objectVersion: number; versions: Array<[string, number]> };
    if (header.snapshot !== m.snapshot) throw new CorfuError('ERR_CORRUPT', `object ${name}: a checkpoint's marker says ${m.snapshot} and its payload ${header.snapshot}`);
    const state = type === undefined || m.kind === null ? type?.initial() : type.stateCodec.decode(payload.subarray(4 + headerBytes));
    return { at: header.snapshot, state, versions: ImmutableMap(header.versions), wholeVersion: header.wholeVersion, objectVersion: header.objectVersion };
  }
  return undefined;
}

/** The marker at `address`; undefined for junk (its writer died holding the token) or a trimmed one. */
async function readMarker(client: CorfuClient, name: string, address: number, options?: CallOptions): Promise<Marker | undefined> {
  const payload = await readData(client, address, options);
  if (payload === undefined) return undefined;
  const decoded = decodeStreamEntry(payload);
  if (decoded === undefined) return undefined; // the address was handed out again to a plain append
  const m = JSON.parse(Buffer.from(decoded.body).toString('utf8')) as Marker;
  if (m.v !== 1 || m.object !== name) throw new CorfuError('ERR_CORRUPT', `the checkpoint stream of ${name} holds a marker of ${JSON.stringify(m.object)} (version ${String(m.v)})`);
  return m;
}

async function readParts(client: CorfuClient, m: Marker, options?: CallOptions): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  for (const address of m.parts) {
    const part = await readData(client, address, options);
    if (part === undefined) return undefined;
    parts.push(Buffer.from(part));
  }
  const payload = Buffer.concat(parts);
  if (payload.length !== m.bytes || createHash('sha256').update(payload).digest('hex') !== m.sha256) return undefined;
  return payload;
}

/** The payload at `address`; undefined for junk or a trimmed address. */
async function readData(client: CorfuClient, address: number, options?: CallOptions): Promise<Uint8Array | undefined> {
  try {
    const entry = await client.read(address, options);
    return entry.kind === 'data' ? entry.payload : undefined;
  } catch (err) {
    if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') return undefined;
    throw err;
  }
}
