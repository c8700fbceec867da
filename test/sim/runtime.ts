// The runtime a simulated client process runs the REAL CorfuClient on
// (src/client/runtime.ts): the virtual clock's timers, links over the
// simulated network (network.ts) as its dialer, and the event queue as its
// "later in this turn". One runtime is one process incarnation: `kill()` is a
// crash — its timers never fire, its links go silent, and whatever its
// promises were waiting for never comes.
//
// Determinism: everything that wakes client code is an event of the queue,
// and tells `wake` so. The loop (run.ts) then drains — lets the promise
// continuations it caused run to the end (microtasks: deterministic, FIFO) —
// before the next event.

import type { AppendPath } from '../../src/client/append-path.js';
import type { ClientRuntime } from '../../src/client/runtime.js';
import type { Clock, TimerHandle } from '../../src/transport/clock.js';
import type { Dialer, Link, LinkHandlers } from '../../src/transport/dialer.js';
import { SimAppendPath } from './append-path.js';
import type { Envelope, Network } from './network.js';
import type { EventQueue } from './queue.js';

// Taken before any test traps it (sim.determinism checks that nothing simulated defers work
// outside the event queue).
const nextTick = process.nextTick.bind(process);

/**
 * Resolves once every microtask queued so far, and every one they queue, has run.
 *
 * Node runs the nextTick queue only once V8's microtask queue is empty, and a tick queued
 * from inside a microtask waits for that whole drain. So: a microtask that queues the tick.
 * (A setImmediate did the same at the cost of an event-loop turn per event: about 9 % of a seed.)
 * Nothing simulated may use process.nextTick itself: a tick of its own queued after ours
 * could queue microtasks that run after the loop resumed.
 */
export function drain(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(() => nextTick(resolve)));
}

export interface SimProcessHooks {
  /** Called with every frame the process is about to send; true crashes the process instead. */
  beforeSend?(to: string, bytes: Uint8Array): boolean;
  /** Called with every frame about to be delivered to the process; true crashes it instead. */
  beforeReceive?(from: string, bytes: Uint8Array): boolean;
  /** The process crashed (a hook said so). */
  onCrash?(): void;
}

interface Timer {
  cancelled: boolean;
}

interface ClientLink {
  readonly to: string;
  readonly handlers: LinkHandlers;
  connected: boolean;
}

export class SimRuntime implements ClientRuntime {
  readonly node: string;
  readonly clock: Clock;
  readonly dialer: Dialer;
  #alive = true;
  readonly #queue: EventQueue;
  readonly #net: Network;
  readonly #hooks: SimProcessHooks;
  readonly #wake: () => void;
  readonly #links = new Map<number, ClientLink>();
  /** Whether its clients' single appends take the product's append path (append-path.ts), and its planted bug. */
  readonly #nativeAppends: { readonly ackWithoutTail: boolean } | undefined;
  #appendPath: SimAppendPath | undefined;

  constructor(node: string, queue: EventQueue, net: Network, wake: () => void, hooks: SimProcessHooks = {}, nativeAppends?: { readonly ackWithoutTail: boolean }) {
    this.node = node;
    this.#nativeAppends = nativeAppends;
    this.#wake = wake;
    this.#queue = queue;
    this.#net = net;
    this.#hooks = hooks;
    this.clock = {
      now: () => queue.now,
      setTimeout: (fn, ms) => {
        const t: Timer = { cancelled: false };
        // As Node's setTimeout: a delay below 1 ms (or not a number) is 1 ms, so time always moves.
        queue.after(ms >= 1 ? ms : 1, () => (t.cancelled ? undefined : this.#run(fn)));
        return t;
      },
      clearTimeout: (handle: TimerHandle) => {
        (handle as Timer).cancelled = true;
      },
    };
    this.dialer = { dial: (host, port, handlers) => this.#dial(`${host}:${port}`, handlers) };
    net.attach(node, (env) => this.#receive(env));
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** One path per process incarnation, shared by its clients (as Node's appender thread is). */
  appendPath(): AppendPath | undefined {
    if (this.#nativeAppends === undefined) return undefined;
    return (this.#appendPath ??= new SimAppendPath(this, this.#nativeAppends));
  }

  defer(fn: () => void): void {
    this.#queue.after(0, () => this.#run(fn));
  }

  /** The process dies: nothing it scheduled runs, nothing reaches it, nothing it sends leaves. */
  kill(): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.#links.clear();
    this.#net.detach(this.node);
  }

  #run(fn: () => void): void {
    if (!this.#alive) return;
    fn();
    this.#wake();
  }

  #crash(): void {
    this.kill();
    this.#hooks.onCrash?.();
  }

  #dial(to: string, handlers: LinkHandlers): Link {
    const link = this.#net.newLink();
    if (this.#alive) {
      this.#links.set(link, { to, handlers, connected: false });
      this.#net.send(this.node, to, { kind: 'open', link });
    }
    return {
      write: (bytes) => {
        if (!this.#alive || !this.#links.has(link)) return true;
        if (this.#hooks.beforeSend?.(to, bytes) === true) {
          this.#crash();
          return true;
        }
        this.#net.send(this.node, to, { kind: 'frame', link, bytes });
        return true;
      },
      destroy: () => {
        const l = this.#links.get(link);
        if (l === undefined) return;
        this.#links.delete(link);
        if (this.#alive) this.#net.send(this.node, to, { kind: 'fin', link });
        // As a socket's 'close' after destroy(): reported in a later turn.
        this.defer(() => l.handlers.onClose(undefined));
      },
    };
  }

  #receive(env: Envelope): void {
    if (!this.#alive) return;
    const { packet } = env;
    const l = this.#links.get(packet.link);
    if (l === undefined || l.to !== env.from) return; // a link this process closed or never had
    switch (packet.kind) {
      case 'accept':
        if (l.connected) return; // a duplicated accept
        l.connected = true;
        l.handlers.onConnect();
        break;
      case 'frame':
        if (this.#hooks.beforeReceive?.(env.from, packet.bytes) === true) {
          this.#crash();
          return;
        }
        l.handlers.onData(packet.bytes);
        break;
      case 'refuse':
        this.#links.delete(packet.link);
        l.handlers.onClose(Object.assign(new Error(`connect ECONNREFUSED ${l.to}`), { code: 'ECONNREFUSED' }));
        break;
      case 'reset':
        this.#links.delete(packet.link);
        l.handlers.onClose(Object.assign(new Error(`read ECONNRESET ${l.to}`), { code: 'ECONNRESET' }));
        break;
      default:
        return;
    }
    this.#wake();
  }
}
