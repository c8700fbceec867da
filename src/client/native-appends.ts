// Node's append path (append-path.ts): the machine on a native thread of the addon, with
// its own connections, shared by the process's clients as their connections are
// (server-pool.ts). The submissions of one tick, of every client, reach the thread in one
// call and one wake-up, and share a TOKEN and one WRITE frame per unit.
//
// Loaded lazily, on a client's first append: the library works without the addon (a
// process that cannot load it appends through the JS path, as clients with TLS or a token
// always do). CORFU_NATIVE_APPENDS=0 turns it off for the process (for A/B measurements);
// `nativeAppends: false` for one client.

import { loadNative, type NativeAppenderInstance } from '../../bindings/native.js';
import type { Projection } from '../layout/projection.js';
import { APPEND_PATH_LIMITS, OutcomeRouter, pathLayout, type AppendPath, type AppendPathSink } from './append-path.js';

export class NativeAppends implements AppendPath {
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
  readonly #router = new OutcomeRouter();
  /**
   * This tick's submissions, handed to the thread together at its end: `#submissions` of
   * them (layout, batch, entry count each), `#entries` entries whose payloads are packed
   * back to back in `#bytes` up to `#used`. Reused from tick to tick (the addon copies
   * them during the call), so a tick allocates nothing here and crosses N-API as five
   * values however many appends it holds.
   */
  #layouts = new Uint32Array(64);
  #batches = new Uint32Array(64);
  #counts = new Uint32Array(64);
  #submissions = 0;
  #lengths = new Uint32Array(1024);
  #entries = 0;
  #bytes = Buffer.allocUnsafe(SCRATCH_KEPT_BYTES);
  #used = 0;

  private constructor() {
    this.#native = loadNative().NativeAppender.start(APPEND_PATH_LIMITS, (o) => this.#router.route(o));
  }

  layout(projection: Projection, timeoutMs: number): number | undefined {
    const layout = pathLayout(projection, timeoutMs);
    return layout === undefined ? undefined : this.#native.layout(layout);
  }

  forget(layout: number): void {
    this.#native.forget(layout);
  }

  abandon(servers: string[]): void {
    if (servers.length > 0) this.#native.abandon(servers);
  }

  submit(layout: number, payloads: Uint8Array[], sink: AppendPathSink): boolean {
    const batch = this.#router.next();
    this.#router.open(batch, sink, payloads.length);
    if (this.#submissions === 0) queueMicrotask(() => this.#flush());
    if (this.#submissions === this.#layouts.length) {
      this.#layouts = grown(this.#layouts, this.#submissions + 1);
      this.#batches = grown(this.#batches, this.#submissions + 1);
      this.#counts = grown(this.#counts, this.#submissions + 1);
    }
    const s = this.#submissions++;
    this.#layouts[s] = layout;
    this.#batches[s] = batch;
    this.#counts[s] = payloads.length;
    if (this.#entries + payloads.length > this.#lengths.length) this.#lengths = grown(this.#lengths, this.#entries + payloads.length);
    let bytes = 0;
    for (const p of payloads) bytes += p.length;
    if (this.#used + bytes > this.#bytes.length) {
      const larger = Buffer.allocUnsafe(Math.max(2 * this.#bytes.length, this.#used + bytes));
      this.#bytes.copy(larger, 0, 0, this.#used);
      this.#bytes = larger;
    }
    for (const p of payloads) {
      this.#lengths[this.#entries++] = p.length;
      this.#bytes.set(p, this.#used);
      this.#used += p.length;
    }
    return true;
  }

  #flush(): void {
    const n = this.#submissions;
    const refused = this.#native.submit(
      this.#layouts.subarray(0, n),
      this.#batches.subarray(0, n),
      this.#counts.subarray(0, n),
      this.#lengths.subarray(0, this.#entries),
      this.#bytes.subarray(0, this.#used),
    );
    this.#submissions = 0;
    this.#entries = 0;
    this.#used = 0;
    // A tick of very large payloads does not pin its scratch for the process's life.
    if (this.#bytes.length > SCRATCH_KEPT_BYTES) this.#bytes = Buffer.allocUnsafe(SCRATCH_KEPT_BYTES);
    // Larger than the path ever holds: each entry goes back to its client without a token.
    for (const batch of refused) this.#router.refuse(batch);
  }
}

/** The payload scratch kept between ticks; a tick that needs more grows it for itself. */
const SCRATCH_KEPT_BYTES = 1 << 20;

/** A copy of `a` with room for at least `atLeast` elements. */
function grown(a: Uint32Array<ArrayBuffer>, atLeast: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(Math.max(2 * a.length, atLeast));
  b.set(a);
  return b;
}
