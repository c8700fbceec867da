// Payloads that can be checked: every entry a run appends is the run's template (a
// pattern seeded by the run id) with the run id and the entry's sequence number in its
// first 8 bytes. Whoever reads an entry back (the random readers, a follower, the
// final read-back) recomputes the exact bytes from the sequence number, so "it reads
// back" means byte for byte, without keeping a copy of what was written.

import { randomInt } from 'node:crypto';

import { fillPattern } from '../cli/pattern.js';

/** Bytes 0..3 the run id, 4..7 the sequence number (both u32 LE). */
export const STAMP_BYTES = 8;

export class Payloads {
  readonly runId = randomInt(1, 0xffff_ffff);
  readonly #template: Buffer;

  constructor(readonly entryBytes: number) {
    this.#template = Buffer.allocUnsafe(entryBytes);
    fillPattern(this.runId, this.#template);
  }

  /** A fresh buffer (the client may still hold the previous one while it is in flight). */
  make(seq: number): Buffer {
    const out = Buffer.allocUnsafe(this.entryBytes);
    this.#template.copy(out);
    return this.restamp(out, seq);
  }

  /**
   * `buf`, a buffer `make` returned, as the entry of `seq`: only the stamp changes. A
   * loop whose append has resolved reuses its buffer so (the client holds a payload only
   * until its call ends), instead of allocating and copying an entry per operation, which
   * was load-generator work counted as the client's CPU per append.
   */
  restamp(buf: Buffer, seq: number): Buffer {
    if (this.entryBytes >= STAMP_BYTES) {
      buf.writeUInt32LE(this.runId, 0);
      buf.writeUInt32LE(seq >>> 0, 4);
    } else {
      // Shorter than the stamp: as much of it as fits.
      const stamp = Buffer.allocUnsafe(STAMP_BYTES);
      stamp.writeUInt32LE(this.runId, 0);
      stamp.writeUInt32LE(seq >>> 0, 4);
      stamp.copy(buf, 0, 0, this.entryBytes);
    }
    return buf;
  }

  /** The sequence number of an entry of this run, or undefined for anything else. */
  seqOf(bytes: Uint8Array): number | undefined {
    if (bytes.length !== this.entryBytes || bytes.length < STAMP_BYTES) return undefined;
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return b.readUInt32LE(0) === this.runId ? b.readUInt32LE(4) : undefined;
  }

  matches(seq: number, bytes: Uint8Array): boolean {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(this.make(seq));
  }
}

/** Addresses acknowledged to this run, with the sequence number of the entry at each. */
export class Acked {
  #addresses = new Float64Array(1024);
  #seqs = new Uint32Array(1024);
  length = 0;

  push(address: number, seq: number): void {
    if (this.length === this.#addresses.length) {
      const a = new Float64Array(this.length * 2);
      a.set(this.#addresses);
      this.#addresses = a;
      const s = new Uint32Array(this.length * 2);
      s.set(this.#seqs);
      this.#seqs = s;
    }
    this.#addresses[this.length] = address;
    this.#seqs[this.length] = seq;
    this.length++;
  }

  address(i: number): number {
    return this.#addresses[i]!;
  }

  seq(i: number): number {
    return this.#seqs[i]!;
  }
}
