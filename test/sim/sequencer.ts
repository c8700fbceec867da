// A simulated sequencer: the real pure Sequencer (src/sequencer/state.ts) on
// a CounterTokenSource, behind a LinkServer on the simulated network. A crash
// is permanent (its soft state is gone); a replacement is a new node at a new
// address, bootstrapped by a reconfiguration. Token ranges and every answer go
// to the checkers. Planted sequencer bugs wrap `handle`.

import { InvariantError } from '../../bindings/invariant.js';
import { CounterTokenSource, Sequencer } from '../../src/sequencer/state.js';
import { TailWaiters } from '../../src/sequencer/tail-waiters.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';
import type { Network } from './network.js';
import type { EventQueue } from './queue.js';
import { LinkServer } from './server.js';

/** A parked WAIT_TAIL: how to answer it, and whether its wait is still on. */
interface Waiter {
  readonly reply: (res: Response) => void;
}

export class SimSequencer {
  readonly name: string;
  readonly #seq: Sequencer;
  readonly #tokens = new CounterTokenSource(0);
  readonly #server: LinkServer;
  readonly #bugs: Bugs;
  readonly #check: Checkers;
  readonly #queue: EventQueue;
  /** The product's parking of long polls, driven here on the virtual clock. */
  readonly #waiters = new TailWaiters<Waiter>();
  #alive = true;
  #tokenAnswers = 0;
  #lastFirst: number | undefined;
  #lastTail: number | undefined;

  constructor(name: string, epoch: number, net: Network, queue: EventQueue, bugs: Bugs, check: Checkers) {
    this.name = name;
    this.#queue = queue;
    this.#seq = new Sequencer({ epoch, tokens: this.#tokens });
    this.#bugs = bugs;
    this.#check = check;
    this.#server = new LinkServer(name, net);
    this.#server.start((req, reply) => this.#serve(req, reply));
  }

  get alive(): boolean {
    return this.#alive;
  }

  get epoch(): number {
    return this.#seq.epoch;
  }

  crash(): void {
    this.#alive = false;
    this.#waiters.remove(() => true);
    this.#server.stop();
  }

  #serve(req: Request, reply: (res: Response) => void): Response | undefined {
    if (req.op === 'WAIT_TAIL') {
      const now = this.#seq.waitTail(req);
      if (now !== undefined) return this.#answered(req, now);
      const who: Waiter = { reply };
      if (!this.#waiters.park(req, who)) return this.#answered(req, this.#seq.handle(req));
      this.#queue.after(req.waitMs, () => {
        for (const p of this.#waiters.remove((w) => w.who === who)) p.who.reply(this.#answered(p.req, this.#seq.handle(p.req)));
      });
      return undefined;
    }
    const res = this.#handle(req);
    if (res === undefined) return undefined;
    if (req.op === 'TOKEN' || req.op === 'SEAL' || req.op === 'BOOTSTRAP') {
      for (const p of this.#waiters.ready(this.#seq)) p.who.reply(this.#answered(p.req, p.res));
    }
    return res;
  }

  /** Reports an answer to the checkers. */
  #answered(req: Request, res: Response): Response {
    this.#check.served(this.name, req, res, this.#seq.epoch);
    return res;
  }

  /** Answers one request, the checkers told; undefined when it crashes on it. */
  #handle(req: Request): Response | undefined {
    const epochAtService = this.#seq.epoch;
    let res: Response;
    try {
      res = this.#planted(req);
    } catch (err) {
      // An InvariantError: the real server crashes. So does this one. Anything else
      // thrown is a bug too, but not one the sequencer's own assertions caught.
      this.#check.fail(err instanceof InvariantError ? 'sequencer-invariant' : 'exception', `${this.name}: ${(err as Error).message}`);
      this.crash();
      return undefined;
    }
    this.#check.served(this.name, req, res, epochAtService);
    if (res.status === 'OK' && res.op === 'TOKEN' && req.op === 'TOKEN') this.#check.tokens(this.name, this.#seq.epoch, res.first, req.count);
    return res;
  }

  /** The Sequencer's answer, with the planted sequencer bugs. */
  #planted(req: Request): Response {
    if (this.#bugs.has('sequencer-skip-epoch-check') && (req.op === 'TOKEN' || req.op === 'TAIL') && req.epoch !== this.#seq.epoch) {
      return this.#planted({ ...req, epoch: this.#seq.epoch });
    }
    const res = this.#seq.handle(req);
    if (res.status !== 'OK') return res;
    if (res.op === 'TOKEN' && this.#bugs.has('sequencer-duplicate-token')) {
      this.#tokenAnswers++;
      const previous = this.#lastFirst;
      this.#lastFirst = res.first;
      if (this.#tokenAnswers % 5 === 0 && previous !== undefined) return { ...res, first: previous };
    }
    if (res.op === 'TAIL' && this.#bugs.has('sequencer-tail-inflated')) return { ...res, tail: res.tail + 1000 };
    if (res.op === 'TAIL' && this.#bugs.has('tail-stale')) {
      const previous = this.#lastTail;
      this.#lastTail = res.tail;
      if (previous !== undefined) return { ...res, tail: previous };
    }
    return res;
  }
}
