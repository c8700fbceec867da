// The client's append path in the simulator: the product's machine (the addon's
// AppendMachine, native/engine/src/appender/machine.rs, the same code Node's appender
// thread runs) driven on the virtual clock over the simulated network, through the
// process's own runtime (its dialer, timers and crash hooks). This file stands in for the
// appender's thread and sockets only: a turn after each wake-up (the thread's turn after
// each epoll wait), one link per server opened on first use, a timer for the earliest
// request deadline.
//
// Planted bug `native-ack-without-tail`: the driver answers WRITEs to a chain's tail
// itself, OK, and never sends them.

import { loadNative, type NativeAppendMachine } from '../../bindings/native.js';
import { APPEND_PATH_LIMITS, OutcomeRouter, pathLayout, type AppendPath, type AppendPathSink } from '../../src/client/append-path.js';
import type { Projection } from '../../src/layout/projection.js';
import type { TimerHandle } from '../../src/transport/clock.js';
import type { Link } from '../../src/transport/dialer.js';
import { splitHostPort } from '../../src/transport/address.js';
import type { SimRuntime } from './runtime.js';

const HEADER_BYTES = 20;
const WRITE_OPCODE = 1;

interface ServerLink {
  readonly link: Link;
  connected: boolean;
  /** Frames written before the link connected. */
  readonly waiting: Uint8Array[];
  inbuf: Buffer;
}

export class SimAppendPath implements AppendPath {
  readonly #runtime: SimRuntime;
  readonly #machine: NativeAppendMachine;
  readonly #router = new OutcomeRouter();
  readonly #links = new Map<string, ServerLink>();
  readonly #ackWithoutTail: boolean;
  /** Every chain's tail, of every layout registered (the planted bug's targets). */
  readonly #tails = new Set<string>();
  #turnScheduled = false;
  #timer: { readonly handle: TimerHandle; readonly atMs: number } | undefined;

  constructor(runtime: SimRuntime, bugs: { readonly ackWithoutTail: boolean }) {
    this.#runtime = runtime;
    this.#machine = new (loadNative().AppendMachine)(APPEND_PATH_LIMITS);
    this.#ackWithoutTail = bugs.ackWithoutTail;
  }

  layout(projection: Projection, timeoutMs: number): number | undefined {
    const layout = pathLayout(projection, timeoutMs);
    if (layout === undefined) return undefined;
    for (const c of layout.chains) this.#tails.add(c[c.length - 1]!);
    return this.#machine.layout(layout);
  }

  forget(layout: number): void {
    this.#machine.forget(layout);
  }

  abandon(servers: string[]): void {
    for (const s of servers) this.#drop(s);
    this.#scheduleTurn();
  }

  submit(layout: number, payloads: Uint8Array[], sink: AppendPathSink): boolean {
    const batch = this.#router.next();
    this.#router.open(batch, sink, payloads.length);
    this.#machine.submit(layout, batch, payloads);
    this.#scheduleTurn();
    return true;
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    this.#runtime.defer(() => {
      this.#turnScheduled = false;
      this.#turn();
    });
  }

  #turn(): void {
    const now = this.#runtime.clock.now();
    for (const server of this.#machine.expire(now)) this.#drop(server);
    this.#machine.turn(now);
    for (const { server, frame } of this.#machine.takeSends()) this.#send(server, frame);
    this.#router.route(this.#machine.takeOutcomes());
    this.#armTimer(now);
  }

  #armTimer(now: number): void {
    const due = this.#machine.nextDeadlineMs();
    if (due === null || due === undefined) return;
    if (this.#timer !== undefined && this.#timer.atMs <= due) return;
    if (this.#timer !== undefined) this.#runtime.clock.clearTimeout(this.#timer.handle);
    const handle = this.#runtime.clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#turn();
      },
      Math.max(0, due - now),
    );
    this.#timer = { handle, atMs: due };
  }

  #send(server: string, frame: Buffer): void {
    if (this.#ackWithoutTail && frame[5] === WRITE_OPCODE && this.#tails.has(server)) {
      const answer = writeOk(frame);
      this.#runtime.defer(() => this.#answer(server, answer));
      return;
    }
    const l = this.#link(server);
    if (l.connected) l.link.write(frame);
    else l.waiting.push(frame);
  }

  #link(server: string): ServerLink {
    const open = this.#links.get(server);
    if (open !== undefined) return open;
    const { host, port } = splitHostPort(server);
    // The handlers check the link is still the server's: a dropped one may report late.
    const current = (): boolean => this.#links.get(server) === l;
    const l: ServerLink = {
      connected: false,
      waiting: [],
      inbuf: Buffer.alloc(0),
      link: this.#runtime.dialer.dial(host, port, {
        onConnect: () => {
          if (!current()) return;
          l.connected = true;
          for (const f of l.waiting.splice(0)) l.link.write(f);
        },
        onData: (chunk) => {
          if (!current()) return;
          l.inbuf = l.inbuf.length === 0 ? Buffer.from(chunk) : Buffer.concat([l.inbuf, chunk]);
          while (l.inbuf.length >= 4) {
            const whole = l.inbuf.readUInt32LE(0) + 4;
            if (l.inbuf.length < whole) break;
            const frame = l.inbuf.subarray(0, whole);
            l.inbuf = l.inbuf.subarray(whole);
            if (!this.#answer(server, frame)) return;
          }
        },
        onDrain: () => {},
        onClose: () => {
          if (!current()) return;
          this.#links.delete(server);
          this.#machine.lost(server);
          this.#scheduleTurn();
        },
      }),
    };
    this.#links.set(server, l);
    return l;
  }

  /** Hands an answer to the machine; false when it could not read it (the link is dropped). */
  #answer(server: string, frame: Uint8Array): boolean {
    const refused = this.#machine.answer(server, frame);
    this.#scheduleTurn();
    if (refused === null || refused === undefined) return true;
    this.#drop(server);
    return false;
  }

  #drop(server: string): void {
    const l = this.#links.get(server);
    if (l !== undefined) {
      this.#links.delete(server);
      l.link.destroy();
    }
    this.#machine.lost(server);
  }
}

/** An OK answer to the WRITE `request`, every entry OK (the planted bug's forgery). */
function writeOk(request: Buffer): Buffer {
  const n = request.readUInt32LE(HEADER_BYTES);
  const body = Buffer.alloc(5 + 2 * n);
  body.writeUInt32LE(n, 1);
  const answer = Buffer.alloc(HEADER_BYTES + body.length);
  answer.writeUInt32LE(HEADER_BYTES - 4 + body.length, 0);
  answer[4] = 1;
  answer[5] = 0x80 | WRITE_OPCODE;
  request.copy(answer, 8, 8, HEADER_BYTES);
  body.copy(answer, HEADER_BYTES);
  return answer;
}
