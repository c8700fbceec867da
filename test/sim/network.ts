// The simulated network: every message between two nodes goes through here,
// and the seed decides its fate — delivered after a latency, delayed by a
// spike (which reorders it past later messages), dropped, duplicated, or
// blocked by a partition (symmetric or one-way) or a crashed receiver.
// With some probability a wire message is also encoded and decoded through
// src/wire on the way, so the codec is exercised with everything the
// simulation sends.

import { decodeFrame, encodeRequest, encodeResponse } from '../../src/wire/codec.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { Prng } from './prng.js';
import type { EventQueue } from './queue.js';
import type { Trace } from './trace.js';

export type Payload = { readonly kind: 'request'; readonly body: Request } | { readonly kind: 'response'; readonly body: Response };

export interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly payload: Payload;
}

export interface NetworkFaults {
  /** Probability a message is lost. */
  drop: number;
  /** Probability a message is delivered twice. */
  duplicate: number;
  /** Probability a message is held back by a latency spike (reordering it). */
  spike: number;
  /** The longest spike, ms. */
  spikeMaxMs: number;
  /** Probability a message goes through encode/decode. */
  codec: number;
}

export const CALM: NetworkFaults = { drop: 0, duplicate: 0, spike: 0, spikeMaxMs: 0, codec: 0.1 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  spiked: number;
  blocked: number;
  codec: number;
}

export type Receiver = (env: Envelope) => void | Promise<void>;

export class Network {
  faults: NetworkFaults = { ...CALM };
  /** Whether faults apply at all (the final phase turns them off). */
  faulty = true;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, spiked: 0, blocked: 0, codec: 0 };
  readonly #receivers = new Map<string, Receiver>();
  readonly #down = new Set<string>();
  /** Directed edges `from>to` that are cut, with a count (partitions may overlap). */
  readonly #cut = new Map<string, number>();
  readonly #queue: EventQueue;
  readonly #rng: Prng;
  readonly #trace: Trace;
  /** Called when a codec round trip does not give back the message (a wire bug). */
  onCodecMismatch: (what: string) => void = () => {};

  constructor(queue: EventQueue, rng: Prng, trace: Trace) {
    this.#queue = queue;
    this.#rng = rng;
    this.#trace = trace;
  }

  attach(node: string, receiver: Receiver): void {
    this.#receivers.set(node, receiver);
    this.#down.delete(node);
  }

  /** A crashed node: messages to it are lost until it is attached again. */
  detach(node: string): void {
    this.#down.add(node);
  }

  isUp(node: string): boolean {
    return this.#receivers.has(node) && !this.#down.has(node);
  }

  cut(from: string, to: string): void {
    const k = `${from}>${to}`;
    this.#cut.set(k, (this.#cut.get(k) ?? 0) + 1);
  }

  heal(from: string, to: string): void {
    const k = `${from}>${to}`;
    const n = (this.#cut.get(k) ?? 0) - 1;
    if (n <= 0) this.#cut.delete(k);
    else this.#cut.set(k, n);
  }

  healAll(): void {
    this.#cut.clear();
  }

  isCut(from: string, to: string): boolean {
    return this.#cut.has(`${from}>${to}`);
  }

  send(from: string, to: string, payload: Payload): void {
    this.stats.sent++;
    const f = this.faults;
    if (this.faulty && this.#rng.chance(f.drop)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.faulty && this.#rng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = 0.2 + this.#rng.below(30) / 10; // 0.2 .. 3.1 ms
      if (this.faulty && this.#rng.chance(f.spike)) {
        this.stats.spiked++;
        delay += this.#rng.between(5, Math.max(5, f.spikeMaxMs));
      }
      let p = payload;
      if (this.#rng.chance(f.codec)) p = this.#roundTrip(p);
      const env: Envelope = { from, to, payload: p };
      this.#queue.after(delay, () => this.#deliver(env));
    }
  }

  #deliver(env: Envelope): void | Promise<void> {
    const { from, to, payload } = env;
    const body = payload.body;
    if (this.#cut.has(`${from}>${to}`) || this.#down.has(to)) {
      this.stats.blocked++;
      this.#trace.event(this.#queue.now, ['lost', from, to, body.op, body.requestId]);
      return;
    }
    const receiver = this.#receivers.get(to);
    if (receiver === undefined) {
      this.stats.blocked++;
      return;
    }
    this.stats.delivered++;
    this.#trace.event(this.#queue.now, [payload.kind, from, to, body.op, body.requestId, 'status' in body ? body.status : '-'], () =>
      `${payload.kind} ${from} -> ${to} ${body.op} #${body.requestId} e${body.epoch}${'status' in body ? ` ${body.status}` : ''}${describe(body)}`,
    );
    return receiver(env);
  }

  #roundTrip(p: Payload): Payload {
    this.stats.codec++;
    const bytes = p.kind === 'request' ? encodeRequest(p.body) : encodeResponse(p.body);
    const decoded = decodeFrame(bytes);
    if (decoded.kind !== 'frame' || decoded.bytes !== bytes.length) {
      this.onCodecMismatch(`${p.kind} ${p.body.op}: decoded as ${decoded.kind}`);
      return p;
    }
    const frame = decoded.frame;
    if (frame.type !== p.kind || frame.op !== p.body.op || frame.requestId !== p.body.requestId || frame.epoch !== p.body.epoch) {
      this.onCodecMismatch(`${p.kind} ${p.body.op}: header changed in a round trip`);
      return p;
    }
    return frame.type === 'request' ? { kind: 'request', body: frame } : { kind: 'response', body: frame };
  }
}

function describe(body: Request | Response): string {
  const b = body as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of ['addresses', 'address', 'newEpoch', 'startTail', 'count', 'first', 'tail', 'unitEpoch']) {
    if (b[k] !== undefined) parts.push(`${k}=${Array.isArray(b[k]) ? (b[k] as unknown[]).join(',') : String(b[k])}`);
  }
  if (Array.isArray(b['entries'])) parts.push(`entries=${(b['entries'] as Array<{ address: number }>).map((e) => e.address).join(',')}`);
  if (b['statuses'] instanceof Uint8Array) parts.push(`statuses=${Array.from(b['statuses'] as Uint8Array).join(',')}`);
  if (b['written'] instanceof Uint8Array) parts.push(`written=${Array.from(b['written'] as Uint8Array).join(',')}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}
