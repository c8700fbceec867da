// A minimal pipelined client for one server, for load generation: the request is
// encoded once and written again for every call (`send` takes any other, for a lean
// loop that needs a new one each time: bench/floor.ts), answers are taken in order (the
// sequencer answers TOKEN requests in the order they came), and there is no per-call
// timer, id map or retry. What a call costs the generator is a promise, a write and a
// decode: the `tokens` workload measures the sequencer, not the client library's
// bookkeeping (CorfuClient's path is what `append` measures). The link comes from the
// CLI's dialer, so TLS flags apply.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { Dialer, Link } from '../transport/dialer.js';
import { FrameDecoder, encodeRequest, type Request, type Response } from '../wire/index.js';

interface Waiter {
  resolve(r: Response): void;
  reject(e: unknown): void;
}

export class LeanLink {
  /** The request `call` sends, encoded once; a link opened without one only `send`s. */
  readonly #frame: Buffer | undefined;
  readonly #link: Link;
  readonly #decoder = new FrameDecoder();
  /** Calls awaiting their answer, oldest first. */
  #waiting: Waiter[] = [];
  #head = 0;
  #connected: Promise<void>;
  #closed: Error | undefined;

  private constructor(dialer: Dialer, host: string, port: number, request: Request | undefined) {
    this.#frame = request === undefined ? undefined : encodeRequest(request);
    let connected!: () => void;
    let failed!: (e: Error) => void;
    this.#connected = new Promise<void>((res, rej) => {
      connected = res;
      failed = rej;
    });
    this.#link = dialer.dial(host, port, {
      onConnect: () => connected(),
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => {},
      onClose: (error) => {
        const e = new CorfuError('ERR_UNAVAILABLE', `${host}:${port}: the link closed${error === undefined ? '' : `: ${error.message}`}`);
        this.#closed = e;
        failed(e);
        for (let i = this.#head; i < this.#waiting.length; i++) this.#waiting[i]!.reject(e);
        this.#waiting = [];
        this.#head = 0;
      },
    });
  }

  /** A link that sends `request` on every call (and any other with `send`); resolves once connected. */
  static async open(dialer: Dialer, host: string, port: number, request?: Request): Promise<LeanLink> {
    const l = new LeanLink(dialer, host, port, request);
    await l.#connected;
    return l;
  }

  call(): Promise<Response> {
    invariant(this.#frame !== undefined, 'LeanLink.call on a link opened without a request');
    return this.#write(this.#frame);
  }

  /** Sends `request`, encoded now; its answer comes in order with the others. */
  send(request: Request): Promise<Response> {
    return this.#write(encodeRequest(request));
  }

  #write(frame: Buffer): Promise<Response> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    return new Promise<Response>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#link.write(frame);
    });
  }

  #onData(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
    for (let r = this.#decoder.pull(); ; r = this.#decoder.pull()) {
      if (r.kind === 'need') break;
      if (r.kind === 'error') {
        this.#link.destroy();
        return;
      }
      const w = this.#waiting[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      if (w === undefined || r.frame.type !== 'response') {
        this.#link.destroy();
        return;
      }
      w.resolve(r.frame);
    }
  }

  close(): void {
    this.#link.destroy();
  }
}
