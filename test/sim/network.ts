// The simulated network: every packet between two nodes goes through here,
// and the seed decides its fate — delivered after a latency, delayed by a
// spike (which reorders it past later packets), dropped, duplicated, or
// blocked by a partition (symmetric or one-way).
//
// Clients reach servers over links, as the real Connection reaches them over
// TCP (src/transport/dialer.ts): a link opens (`open` answered by `accept`),
// carries wire frames — the bytes of src/wire, encoded and decoded by the real
// codec — both ways, and ends with `reset` (a crashed server), `refuse` (no
// process listening) or `fin` (the client closed it). A packet to a node whose
// process is down is answered by its host, as a kernel would: `refuse` to an
// `open`, `reset` to a `frame`. A partition answers nothing.
//
// The faults are harsher than TCP's: a frame in the middle of a live link can
// be lost or duplicated, and frames can overtake each other. The protocol must
// survive that anyway (every request is idempotent and matched by its id).

import { checkHeader } from '../../src/wire/frame.js';
import type { Prng } from './prng.js';
import type { EventQueue } from './queue.js';
import type { Trace } from './trace.js';

export type Packet =
  | { readonly kind: 'open'; readonly link: number }
  | { readonly kind: 'accept'; readonly link: number }
  | { readonly kind: 'refuse'; readonly link: number }
  | { readonly kind: 'frame'; readonly link: number; readonly bytes: Uint8Array }
  | { readonly kind: 'reset'; readonly link: number }
  | { readonly kind: 'fin'; readonly link: number };

export interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly packet: Packet;
}

export interface NetworkFaults {
  /** Probability a packet is lost. */
  drop: number;
  /** Probability a packet is delivered twice. */
  duplicate: number;
  /** Probability a packet is held back by a latency spike (reordering it). */
  spike: number;
  /** The longest spike, ms. */
  spikeMaxMs: number;
}

export const CALM: NetworkFaults = { drop: 0, duplicate: 0, spike: 0, spikeMaxMs: 0 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  spiked: number;
  blocked: number;
}

/** A node's packet handler; a promise is awaited before the next event runs. */
export type Receiver = (env: Envelope) => void | Promise<void>;

export class Network {
  faults: NetworkFaults = { ...CALM };
  /** Whether faults apply at all (the final phase turns them off). */
  faulty = true;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, spiked: 0, blocked: 0 };
  readonly #receivers = new Map<string, Receiver>();
  readonly #down = new Set<string>();
  /** Directed edges `from>to` that are cut, with a count (partitions may overlap). */
  readonly #cut = new Map<string, number>();
  readonly #queue: EventQueue;
  readonly #rng: Prng;
  readonly #trace: Trace;
  #nextLink = 1;

  constructor(queue: EventQueue, rng: Prng, trace: Trace) {
    this.#queue = queue;
    this.#rng = rng;
    this.#trace = trace;
  }

  /** A fresh link id (deterministic: ids are handed out in event order). */
  newLink(): number {
    return this.#nextLink++;
  }

  attach(node: string, receiver: Receiver): void {
    this.#receivers.set(node, receiver);
    this.#down.delete(node);
  }

  /** A crashed process: its host answers for it until it is attached again. */
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

  send(from: string, to: string, packet: Packet): void {
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
      const env: Envelope = { from, to, packet };
      this.#queue.after(delay, () => this.#deliver(env));
    }
  }

  #deliver(env: Envelope): void | Promise<void> {
    const { from, to, packet } = env;
    if (this.#cut.has(`${from}>${to}`)) {
      this.stats.blocked++;
      this.#trace.event(this.#queue.now, ['lost', from, to, packet.kind, packet.link]);
      return;
    }
    const receiver = this.#receivers.get(to);
    if (receiver === undefined || this.#down.has(to)) {
      // The host is up, the process is not: its kernel answers.
      this.stats.blocked++;
      this.#trace.event(this.#queue.now, ['down', from, to, packet.kind, packet.link]);
      if (packet.kind === 'open') this.send(to, from, { kind: 'refuse', link: packet.link });
      else if (packet.kind === 'frame') this.send(to, from, { kind: 'reset', link: packet.link });
      return;
    }
    this.stats.delivered++;
    this.#trace.event(this.#queue.now, [packet.kind, from, to, packet.link, ...frameParts(packet)], () => `${packet.kind} ${from} -> ${to} link ${packet.link}${describe(packet)}`);
    return receiver(env);
  }
}

/** A frame's operation, direction and request id, for the trace hash. */
function frameParts(packet: Packet): Array<number | string> {
  if (packet.kind !== 'frame') return [];
  const h = checkHeader(packet.bytes);
  return h.kind === 'header' ? [h.header.op, h.header.isResponse ? 1 : 0, h.header.requestId, h.header.epoch] : ['?'];
}

function describe(packet: Packet): string {
  if (packet.kind !== 'frame') return '';
  const h = checkHeader(packet.bytes);
  if (h.kind !== 'header') return ' (not a frame)';
  const { op, isResponse, requestId, epoch } = h.header;
  return ` ${isResponse ? 'answer' : 'request'} ${op} #${requestId} e${epoch} ${packet.bytes.length} B`;
}
