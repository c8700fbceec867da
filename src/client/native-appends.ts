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
  /** This tick's submissions, handed to the thread together at its end. */
  #layouts: number[] = [];
  #batches: number[] = [];
  #counts: number[] = [];
  #payloads: Uint8Array[] = [];

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
    if (this.#batches.length === 0) queueMicrotask(() => this.#flush());
    this.#layouts.push(layout);
    this.#batches.push(batch);
    this.#counts.push(payloads.length);
    for (const p of payloads) this.#payloads.push(p);
    return true;
  }

  #flush(): void {
    const refused = this.#native.submit(this.#layouts, this.#batches, this.#counts, this.#payloads);
    this.#layouts = [];
    this.#batches = [];
    this.#counts = [];
    this.#payloads = [];
    // Larger than the path ever holds: each entry goes back to its client without a token.
    for (const batch of refused) this.#router.refuse(batch);
  }
}
