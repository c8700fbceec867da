// Incremental decoding of a byte stream into frames.
//
//   const d = new FrameDecoder();
//   socket.on('data', (chunk) => {
//     d.push(chunk);
//     for (let r = d.pull(); r.kind === 'frame'; r = d.pull()) handle(r.frame);
//     if (d.failed) closeConnection(d.error);
//   });
//
// The decoder keeps the caller's chunks (no copy) and copies only a frame that
// spans chunks, into one buffer of exactly the frame's size, once all of its
// bytes have arrived. A frame's header is checked as soon as its bytes are
// there, so an oversized length field fails at once. What it holds is bounded:
// after the caller pulls until `need`, less than one frame (< MAX_FRAME_BYTES);
// pushing while MAX_FRAME_BYTES or more are already held is a caller bug and
// throws InvariantError. After a protocol error the decoder stays failed: the
// stream has lost its framing and the connection must be closed.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import { decodeFrame } from './codec.js';
import { HEADER_BYTES, MAX_FRAME_BYTES, checkHeader } from './frame.js';
import type { Message } from './messages.js';

export type PullResult =
  | { readonly kind: 'frame'; readonly frame: Message; readonly bytes: number }
  /** No whole frame yet; `bytes` more bytes are needed at least. */
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'error'; readonly error: CorfuError };

const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** Offset of the first unconsumed byte in chunks[0]. */
  private offset = 0;
  private held = 0;
  private failure: CorfuError | undefined;
  private readonly scratch = Buffer.alloc(HEADER_BYTES);

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.held;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  get error(): CorfuError | undefined {
    return this.failure;
  }

  /** Adds received bytes. The chunk is kept, not copied: do not reuse its memory. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined || chunk.length === 0) return;
    invariant(this.held < MAX_FRAME_BYTES, () => `FrameDecoder holds ${this.held} bytes: pull frames before pushing more`);
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.chunks.push(buf);
    this.held += buf.length;
  }

  /**
   * The unconsumed bytes of the first held chunk, in place: where a fast path may read a
   * run of frames without decoding them (src/sequencer/token-run.ts). Empty after a failure.
   */
  head(): Buffer {
    const first = this.chunks[0];
    return first === undefined ? EMPTY : first.subarray(this.offset);
  }

  /** Consumes the first `n` bytes of head(): whole frames a fast path has answered. */
  skip(n: number): void {
    const first = this.chunks[0];
    invariant(first !== undefined && n >= 0 && n <= first.length - this.offset, () => `FrameDecoder.skip(${n}) past its first chunk`);
    this.offset += n;
    this.held -= n;
    if (this.offset === first.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** The next whole frame, or how many more bytes it needs, or the (sticky) protocol error. */
  pull(): PullResult {
    if (this.failure !== undefined) return { kind: 'error', error: this.failure };
    const check = checkHeader(this.peek(Math.min(this.held, HEADER_BYTES)));
    if (check.kind === 'need') return { kind: 'need', bytes: check.bytes - this.held };
    if (check.kind === 'error') return this.fail(new CorfuError('ERR_BAD_REQUEST', check.reason));
    const size = check.header.frameBytes;
    if (this.held < size) return { kind: 'need', bytes: size - this.held };
    const result = decodeFrame(this.take(size));
    if (result.kind === 'frame') return result;
    // 'need' cannot happen (all `size` bytes are there); treat it as malformed all the same.
    return this.fail(result.kind === 'error' ? result.error : new CorfuError('ERR_BAD_REQUEST', 'frame shorter than its length field'));
  }

  /** A header error or a body error: either way the framing is lost, for good. */
  private fail(error: CorfuError): PullResult {
    this.failure = error;
    this.chunks = [];
    this.offset = 0;
    this.held = 0;
    return { kind: 'error', error };
  }

  /** The first `n` held bytes (n <= HEADER_BYTES), contiguous, without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first === undefined) return this.scratch.subarray(0, 0);
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    return this.gather(this.scratch, n, false);
  }

  /** Removes and returns the first `n` held bytes: a view when they sit in one chunk, else one copy. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      this.held -= n;
      return view;
    }
    const out = this.gather(Buffer.allocUnsafe(n), n, true);
    this.held -= n;
    return out;
  }

  private gather(dst: Buffer, n: number, consume: boolean): Buffer {
    let copied = 0;
    let i = 0;
    let offset = this.offset;
    while (copied < n) {
      const chunk = this.chunks[i]!;
      const piece = Math.min(chunk.length - offset, n - copied);
      chunk.copy(dst, copied, offset, offset + piece);
      copied += piece;
      offset += piece;
      if (offset === chunk.length) {
        i++;
        offset = 0;
      }
    }
    if (consume) {
      this.chunks.splice(0, i);
      this.offset = offset;
    }
    return dst.subarray(0, n);
  }
}
