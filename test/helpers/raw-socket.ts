// A hostile peer's tools: raw sockets that send arbitrary bytes to a server and
// record what (if anything) comes back and when the server closes them, plus
// the server's RSS and a well-behaved client kept busy during an attack.

import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';

import { HEADER_BYTES } from '../../src/wire/frame.js';
import { FrameDecoder, encodeRequest } from '../../src/wire/index.js';
import type { Request, Response } from '../../src/wire/index.js';

/** A request without its id (distributes over the union). */
export type Body = Request extends infer R ? (R extends Request ? Omit<R, 'requestId'> : never) : never;

export class RawPeer {
  /** Bytes the server sent. */
  received = 0;
  /** What the server answered, decoded, in arrival order. */
  readonly answers: Response[] = [];
  /** Set if the server sent something that is not a response frame. */
  badFrame: string | undefined;
  readonly closed: Promise<void>;
  #isClosed = false;
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<number, (r: Response) => void>();
  #nextId = 1;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        resolve();
      }),
    );
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.#decoder.push(chunk);
      for (let r = this.#decoder.pull(); r.kind !== 'need'; r = this.#decoder.pull()) {
        if (r.kind === 'error' || r.frame.type !== 'response') {
          this.badFrame = r.kind === 'error' ? r.error.message : `a ${r.frame.op} request`;
          return;
        }
        this.answers.push(r.frame);
        const resolve = this.#pending.get(r.frame.requestId);
        this.#pending.delete(r.frame.requestId);
        resolve?.(r.frame);
      }
    });
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      socket.once('error', reject);
      socket.connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new RawPeer(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends a well-formed request; resolves with its answer (matched by id). */
  request(body: Body): Promise<Response> {
    const requestId = this.#nextId++;
    const answer = new Promise<Response>((resolve) => this.#pending.set(requestId, resolve));
    this.send(encodeRequest({ ...body, requestId }));
    return answer;
  }

  /** True once the server has closed the connection, false if it is still open after `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const open = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const r = await Promise.race([this.closed.then(() => true as const), open]);
    clearTimeout(timer);
    return r;
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** A frame header (20 bytes) with any field values, lying ones included. */
export function rawHeader(fields: { length?: number; version?: number; opcode: number; flags?: number; requestId?: number; epoch?: number }): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt32LE(fields.length ?? HEADER_BYTES - 4, 0);
  b[4] = fields.version ?? 1;
  b[5] = fields.opcode;
  b.writeUInt16LE(fields.flags ?? 0, 6);
  b.writeUInt32LE(fields.requestId ?? 1, 8);
  b.writeBigUInt64LE(BigInt(fields.epoch ?? 0), 12);
  return b;
}

/** Opens `n` connections that send nothing, `batch` at a time; failures to connect count as refused. */
export async function openIdle(port: number, n: number, batch = 200): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  for (let i = 0; i < n; i += batch) {
    const settled = await Promise.allSettled(Array.from({ length: Math.min(batch, n - i) }, () => RawPeer.connect(port)));
    for (const s of settled) if (s.status === 'fulfilled') peers.push(s.value);
  }
  return peers;
}

/** A process's resident set, MiB (Linux). */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round(Number(m[1]) / 1024);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `step` over and over (a well-behaved client's work) until stopped;
 * stop() says how many steps ran and every error one threw.
 */
export function keepServing(step: () => Promise<void>, pauseMs = 10): { stop(): Promise<{ steps: number; errors: unknown[] }> } {
  let running = true;
  let steps = 0;
  const errors: unknown[] = [];
  const loop = (async () => {
    while (running) {
      try {
        await step();
        steps++;
      } catch (err) {
        errors.push(err);
      }
      await sleep(pauseMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { steps, errors };
    },
  };
}

/** The port in a `listening 127.0.0.1:PORT` line. */
export function listeningPort(lines: readonly string[]): number {
  for (const line of lines) {
    const m = /^listening 127\.0\.0\.1:(\d+)$/.exec(line);
    if (m) return Number(m[1]);
  }
  throw new Error(`no listening line in ${JSON.stringify(lines)}`);
}
