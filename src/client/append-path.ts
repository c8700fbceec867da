// The client's append path for single appends (native/engine/src/appender): a machine
// that takes their tokens and walks their chains, head first, for the appends on which
// nothing goes wrong, and says how each entry ended. An entry written by every replica
// is done; any other goes back to its client, with what its walk learned, into the one
// append protocol (client.ts, #appendAt), exactly as an entry that fell out of the
// client's own chain walk.
//
// The runtime provides it (runtime.ts): Node's runs the machine on a native thread with
// its own connections (native-appends.ts); the seeded simulator drives the same machine
// through the addon's AppendMachine on its virtual clock and network (test/sim).

import type { NativeAppendOutcomes } from '../../bindings/native.js';
import { invariant } from '../../bindings/invariant.js';
import type { Projection } from '../layout/projection.js';
import type { NativeAppenderLayout, NativeAppenderOptions } from '../../bindings/native.js';
import { MAX_TOKENS_PER_REQUEST } from '../wire/messages.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES } from './unit-batcher.js';

/** How an entry ended on the path (the record's fate byte). */
export const FATE_WRITTEN = 0;
export const FATE_NO_TOKEN = 1;
export const FATE_FELL = 2;

/** The machine's limits: frames as the JS batchers make them; what it holds at once. */
export const APPEND_PATH_LIMITS: NativeAppenderOptions = {
  frameEntries: MAX_BATCH_ENTRIES,
  framePayloadBytes: MAX_BATCH_BYTES,
  tokensPerRequest: MAX_TOKENS_PER_REQUEST,
  maxEntries: 65_536,
  maxBytes: 64 * 1024 * 1024,
};

/** Where one submission's outcomes go: `index` is the entry's place in it. */
export interface AppendPathSink {
  /**
   * `address`: its token (-1: none). `replica`: for FATE_FELL, the first replica of its
   * chain that did not answer OK. `status`: a whole-frame error answer's status byte
   * (0: none), with its `message`.
   */
  outcome(index: number, fate: number, address: number, replica: number, status: number, message: string | undefined): void;
}

export interface AppendPath {
  /** Registers where `projection`'s new entries go; undefined when its last segment is closed. */
  layout(projection: Projection, timeoutMs: number): number | undefined;
  forget(layout: number): void;
  /** Gives up on every request in flight to `servers`: their entries come back at once. */
  abandon(servers: string[]): void;
  /**
   * Queues `payloads` under `layout`; false (nothing queued) when the path cannot take
   * them. One it takes and then cannot hold comes back as FATE_NO_TOKEN outcomes.
   */
  submit(layout: number, payloads: Uint8Array[], sink: AppendPathSink): boolean;
}

/** `projection`'s last segment as the machine takes it; undefined when that segment is closed. */
export function pathLayout(projection: Projection, timeoutMs: number): NativeAppenderLayout | undefined {
  const last = projection.segments[projection.segments.length - 1];
  if (last === undefined || last.end !== null) return undefined;
  return { epoch: projection.epoch, timeoutMs, sequencer: projection.sequencer, start: last.start, chains: last.stripes.map((s) => [...s.chain]) };
}

const RECORD_BYTES = 24;
const NO_MESSAGE = 0xffff_ffff;

interface OpenBatch {
  readonly sink: AppendPathSink;
  left: number;
}

/**
 * The open submissions of one machine, by batch number, and the routing of its outcome
 * records to them. A batch number is the submission's slot in an array, not a key in a
 * Map: a Map's table is rebuilt as it grows and shrinks, and a table left behind in V8's
 * old generation keeps pointing at the submissions it held until the next full
 * collection, pointers the scavenger takes as live. With a Map, every append's objects
 * (its promise, closures, budget and payload) could end up promoted, and the client's
 * process then ran in a mode of constant full collections; with the slots it did not
 * (docs/benchmarks.md, "The busy mode found"). A slot is cleared as its submission ends.
 */
export class OutcomeRouter {
  #slots: (OpenBatch | undefined)[] = new Array<OpenBatch | undefined>(64).fill(undefined);
  #open = 0;
  #next = 0;

  /** A batch number not in use (the slots double when every one is). */
  next(): number {
    if (this.#open === this.#slots.length) {
      const old = this.#slots;
      this.#slots = old.concat(new Array<OpenBatch | undefined>(old.length).fill(undefined));
      // The old array may be in the old generation: empty it, so it points at nothing.
      old.length = 0;
    }
    let batch = this.#next;
    while (this.#slots[batch] !== undefined) batch = (batch + 1) % this.#slots.length;
    this.#next = (batch + 1) % this.#slots.length;
    return batch;
  }

  open(batch: number, sink: AppendPathSink, entries: number): void {
    invariant(this.#slots[batch] === undefined, () => `append path: batch ${batch} opened twice`);
    this.#slots[batch] = { sink, left: entries };
    this.#open++;
  }

  /** Every entry of `batch` ends without a token (the path refused the batch). */
  refuse(batch: number): void {
    const open = this.#slots[batch];
    invariant(open !== undefined, () => `append path: batch ${batch} refused, which is not open`);
    this.#close(batch);
    for (let i = 0; i < open.left; i++) open.sink.outcome(i, FATE_NO_TOKEN, -1, 0, 0, undefined);
  }

  #close(batch: number): void {
    this.#slots[batch] = undefined;
    this.#open--;
  }

  /** Hands each record (native/node/src/appender.rs) to its batch's sink. */
  route(o: NativeAppendOutcomes): void {
    const r = o.records;
    const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
    for (let at = 0; at < r.byteLength; at += RECORD_BYTES) {
      const batch = view.getUint32(at, true);
      const open = this.#slots[batch];
      invariant(open !== undefined, () => `append path: an outcome for batch ${batch}, which is not open`);
      if (--open.left === 0) this.#close(batch);
      const m = view.getUint32(at + 20, true);
      open.sink.outcome(view.getUint32(at + 4, true), r[at + 16]!, view.getFloat64(at + 8, true), r[at + 17]!, r[at + 18]!, m === NO_MESSAGE ? undefined : o.messages[m]);
    }
  }
}
