// The process's native append path (native/engine/src/appender), shared by its clients as
// their connections are (server-pool.ts): single appends submitted in one tick go to it as
// one batch; its thread takes their tokens and walks their chains, and says how each
// entry ended. An entry written by every replica is done; any other goes back to the
// client, with what its walk learned, into the one append protocol (client.ts,
// #appendAt), exactly as an entry that fell out of the client's own chain walk.
//
// Loaded lazily, on a client's first append: the library works without the addon (a
// process that cannot load it appends through the JS path, as the simulator's clients
// and clients with TLS or a token always do). CORFU_NATIVE_APPENDS=0 turns it off for the
// process (for A/B measurements); `nativeAppends: false` for one client.

import { loadNative, type NativeAppenderInstance, type NativeAppendOutcomes } from '../../bindings/native.js';
import { invariant } from '../../bindings/invariant.js';
import type { Projection } from '../layout/projection.js';
import { MAX_TOKENS_PER_REQUEST } from '../wire/messages.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES } from './unit-batcher.js';

/** How an entry ended on the native path (the record's fate byte). */
export const FATE_WRITTEN = 0;
export const FATE_NO_TOKEN = 1;
export const FATE_FELL = 2;

/** Entries the path holds at once; a submission past it goes through the JS path. */
export const NATIVE_MAX_ENTRIES = 65_536;
/** Payload bytes the path holds at once. */
export const NATIVE_MAX_BYTES = 64 * 1024 * 1024;

const RECORD_BYTES = 24;
const NO_MESSAGE = 0xffff_ffff;

/** Where one batch's outcomes go: `index` is the entry's place in its submission. */
export interface NativeBatchSink {
  /**
   * `address`: its token (-1: none). `replica`: for FATE_FELL, the first replica of its
   * chain that did not answer OK. `status`: a whole-frame error answer's status byte
   * (0: none), with its `message`.
   */
  outcome(index: number, fate: number, address: number, replica: number, status: number, message: string | undefined): void;
}

interface OpenBatch {
  readonly sink: NativeBatchSink;
  left: number;
}

export class NativeAppends {
  /** undefined: not tried yet; null: unavailable in this process. */
  static #shared: NativeAppends | null | undefined;

  /** The process's path, started on first use; undefined where it cannot run. */
  static shared(): NativeAppends | undefined {
    if (NativeAppends.#shared === undefined) {
      if (process.env.CORFU_NATIVE_APPENDS === '0') NativeAppends.#shared = null;
      else {
        try {
          NativeAppends.#shared = new NativeAppends();
        } catch {
          // No addon here (not built, another platform): the JS path serves every append.
          NativeAppends.#shared = null;
        }
      }
    }
    return NativeAppends.#shared ?? undefined;
  }

  readonly #native: NativeAppenderInstance;
  readonly #batches = new Map<number, OpenBatch>();
  #nextBatch = 1;

  private constructor() {
    this.#native = loadNative().NativeAppender.start(
      {
        frameEntries: MAX_BATCH_ENTRIES,
        framePayloadBytes: MAX_BATCH_BYTES,
        tokensPerRequest: MAX_TOKENS_PER_REQUEST,
        maxEntries: NATIVE_MAX_ENTRIES,
        maxBytes: NATIVE_MAX_BYTES,
      },
      (o) => this.#onOutcomes(o),
    );
  }

  /**
   * Registers where `projection`'s new entries go (its last segment) for the path;
   * undefined when that segment is closed (every token would be outside it).
   */
  layout(projection: Projection, timeoutMs: number): number | undefined {
    const last = projection.segments[projection.segments.length - 1];
    if (last === undefined || last.end !== null) return undefined;
    return this.#native.layout({
      epoch: projection.epoch,
      timeoutMs,
      sequencer: projection.sequencer,
      start: last.start,
      chains: last.stripes.map((s) => [...s.chain]),
    });
  }

  forget(layout: number): void {
    this.#native.forget(layout);
  }

  /** Gives up on every request in flight to `servers`: their entries come back to their clients at once. */
  abandon(servers: string[]): void {
    if (servers.length > 0) this.#native.abandon(servers);
  }

  /** Queues `payloads` under `layout`; false (nothing queued) when the path cannot take them. */
  submit(layout: number, payloads: Uint8Array[], sink: NativeBatchSink): boolean {
    let batch = this.#nextBatch;
    while (this.#batches.has(batch)) batch = (batch + 1) >>> 0;
    this.#nextBatch = (batch + 1) >>> 0;
    if (!this.#native.submit(layout, batch, payloads)) return false;
    this.#batches.set(batch, { sink, left: payloads.length });
    return true;
  }

  #onOutcomes(o: NativeAppendOutcomes): void {
    const r = o.records;
    const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
    for (let at = 0; at < r.byteLength; at += RECORD_BYTES) {
      const batch = view.getUint32(at, true);
      const open = this.#batches.get(batch);
      invariant(open !== undefined, () => `native appends: an outcome for batch ${batch}, which is not open`);
      if (--open.left === 0) this.#batches.delete(batch);
      const m = view.getUint32(at + 20, true);
      open.sink.outcome(view.getUint32(at + 4, true), r[at + 16]!, view.getFloat64(at + 8, true), r[at + 17]!, r[at + 18]!, m === NO_MESSAGE ? undefined : o.messages[m]);
    }
  }
}
