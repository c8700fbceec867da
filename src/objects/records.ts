// What the object layer writes into an object's stream (docs/objects.md, "Records").
// The body of a stream entry (after the stream header) is one record:
//
//   update  (kind 1): one object's update, written by a plain put/increment/apply.
//           keys (the conflict keys it writes) and the update's bytes.
//   commit  (kind 2): a transaction, multi-appended to the stream of every object it
//           read or wrote. Its read set (object, key, version) and its writes
//           (object, keys, update bytes). Every client that replays it decides commit
//           or abort from the log alone (decide.ts).
//
// A key is a string; WHOLE_OBJECT ('') stands for "the object as a whole": a read of it
// conflicts with any write to the object, and an update whose keys include it (or that
// names no key) changes the whole object. Versions are log addresses: a key's version is
// the address of the last committed write to it, -1 before any.
//
// Layout (little-endian): kind u8, then
//   update: keys (u16 count, each u16 length + UTF-8), update (u32 length + bytes)
//   commit: snapshot i64, reads (u32 count, each: object str, key str,
//           version i64), writes (u32 count, each: object str, keys, update u32 + bytes)
// where str is u16 length + UTF-8 and i64 is two's complement (-1: never written).

import { CorfuError } from '../../bindings/errors.js';

/** The key that stands for a whole object. */
export const WHOLE_OBJECT = '';

export interface UpdateRecord {
  readonly kind: 'update';
  readonly keys: readonly string[];
  readonly update: Uint8Array;
}

export interface ReadVersion {
  readonly object: string;
  readonly key: string;
  /** The address of the last committed write to the key at the transaction's snapshot; -1: never written. */
  readonly version: number;
}

export interface WriteOp {
  readonly object: string;
  readonly keys: readonly string[];
  readonly update: Uint8Array;
}

export interface CommitRecord {
  readonly kind: 'commit';
  /** The log address the transaction read at. */
  readonly snapshot: number;
  readonly reads: readonly ReadVersion[];
  readonly writes: readonly WriteOp[];
}

export type ObjectRecord = UpdateRecord | CommitRecord;

const KIND_UPDATE = 1;
const KIND_COMMIT = 2;

class Writer {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  push(b: Buffer): void {
    this.#chunks.push(b);
    this.#size += b.length;
  }
  u8(v: number): void {
    this.push(Buffer.of(v));
  }
  u16(v: number, what: string): void {
    if (v > 0xffff) throw new CorfuError('ERR_TOO_LARGE', `${what}: ${v} is above 65,535`);
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(v);
    this.push(b);
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i64(v: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string, what: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u16(b.length, `${what} length`);
    this.push(b);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  keys(keys: readonly string[]): void {
    this.u16(keys.length, 'key count');
    for (const k of keys) this.str(k, 'key');
  }
  done(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }
}

class Reader {
  #at = 0;
  constructor(readonly buf: Buffer) {}
  #take(n: number): number {
    if (this.#at + n > this.buf.length) throw corrupt('it ends early');
    const at = this.#at;
    this.#at += n;
    return at;
  }
  u8(): number {
    return this.buf[this.#take(1)]!;
  }
  u16(): number {
    return this.buf.readUInt16LE(this.#take(2));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.#take(4));
  }
  i64(): number {
    const v = this.buf.readBigInt64LE(this.#take(8));
    if (v < -1n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`version ${v} is out of range`);
    return Number(v);
  }
  str(): string {
    const n = this.u16();
    return this.buf.toString('utf8', this.#take(n), this.#at);
  }
  bytes(): Buffer {
    const n = this.u32();
    const at = this.#take(n);
    return this.buf.subarray(at, at + n);
  }
  keys(): string[] {
    const n = this.u16();
    const keys = new Array<string>(n);
    for (let i = 0; i < n; i++) keys[i] = this.str();
    return keys;
  }
  end(): void {
    if (this.#at !== this.buf.length) throw corrupt(`${this.buf.length - this.#at} bytes after the record`);
  }
}

function corrupt(why: string): CorfuError {
  return new CorfuError('ERR_CORRUPT', `an object record is damaged: ${why}`);
}

export function encodeRecord(r: ObjectRecord): Buffer {
  const w = new Writer();
  if (r.kind === 'update') {
    w.u8(KIND_UPDATE);
    w.keys(r.keys);
    w.bytes(r.update);
    return w.done();
  }
  w.u8(KIND_COMMIT);
  w.i64(r.snapshot);
  w.u32(r.reads.length);
  for (const rd of r.reads) {
    w.str(rd.object, 'object name');
    w.str(rd.key, 'key');
    w.i64(rd.version);
  }
  w.u32(r.writes.length);
  for (const wr of r.writes) {
    w.str(wr.object, 'object name');
    w.keys(wr.keys);
    w.bytes(wr.update);
  }
  return w.done();
}

/** The record in a stream entry's body; ERR_CORRUPT when it is not one. */
export function decodeRecord(body: Uint8Array): ObjectRecord {
  const r = new Reader(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  const kind = r.u8();
  if (kind === KIND_UPDATE) {
    const keys = r.keys();
    const update = r.bytes();
    r.end();
    return { kind: 'update', keys, update };
  }
  if (kind !== KIND_COMMIT) throw corrupt(`unknown record kind ${kind}`);
  const snapshot = r.i64();
  const nReads = r.u32();
  const reads: ReadVersion[] = [];
  for (let i = 0; i < nReads; i++) reads.push({ object: r.str(), key: r.str(), version: r.i64() });
  const nWrites = r.u32();
  const writes: WriteOp[] = [];
  for (let i = 0; i < nWrites; i++) writes.push({ object: r.str(), keys: r.keys(), update: r.bytes() });
  r.end();
  return { kind: 'commit', snapshot, reads, writes };
}
