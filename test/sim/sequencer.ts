// A simulated sequencer: the real pure Sequencer (src/sequencer/state.ts) on
// a CounterTokenSource, behind a LinkServer on the simulated network. A crash
// is permanent (its soft state is gone); a replacement is a new node at a new
// address, bootstrapped by a reconfiguration. Token ranges and every answer go
// to the checkers. Planted sequencer bugs wrap `handle`.

import { InvariantError } from '../../bindings/invariant.js';
import { CounterTokenSource, Sequencer } from '../../src/sequencer/state.js';
import { TailWaiters, wakesWaiters } from '../../src/sequencer/tail-waiters.js';
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
    if (wakesWaiters(req.op)) {
      for (const p of this.#waiters.ready(this.#seq)) p.who.reply(this.#answered(p.req, p.res));
    }
    if (this.#waiters.size > 0) this.#checkParked(req);
    return res;
  }

  /** No long poll stays parked once it can be answered: the tail passed what it waits for, or the epoch moved. */
  #checkParked(after: Request): void {
    let stale: string | undefined;
    // remove() with a filter that keeps everything: a look at the parked polls.
    this.#waiters.remove((p) => {
      if (stale === undefined && this.#seq.waitTail(p.req) !== undefined) stale = `WAIT_TAIL #${p.req.requestId} (after ${p.req.after}, epoch ${p.req.epoch})`;
      return false;
    });
    if (stale !== undefined)
      this.#check.fail('long-poll', `${this.name}: ${stale} is still parked after a ${after.op}, though it can be answered (tail ${this.#seq.nextToken}, epoch ${this.#seq.epoch})`);
  }

  /** Reports an answer to the checkers. */
  #answered(req: Request, res: Response): Response {
    this.#check.served(this.name, req, res, this.#seq.epoch);
    return res;
  }

  /** Answers one request, the checkers told; undefined when it crashes on it. */
  #handle(req: Request): Response | undefined {
    const epochAtService = this.#seq.epoch;
    const streamsBefore = req.op === 'STREAM_SEED' ? this.#seq.snapshot().streams : undefined;
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
    if (res.status === 'OK' && ((res.op === 'TOKEN' && req.op === 'TOKEN') || (res.op === 'STREAM_TOKEN' && req.op === 'STREAM_TOKEN')))
      this.#check.tokens(this.name, this.#seq.epoch, res.first, req.count);
    if (res.status === 'ERR_RECOVERING') this.#check.streamStats.recovering++;
    if (streamsBefore !== undefined && res.op === 'STREAM_SEED' && res.status === 'OK') {
      if (res.streamsFrom !== streamsBefore.from || res.recovered !== streamsBefore.recovered) this.#check.streamStats.seeds++;
      if (res.recovered && !streamsBefore.recovered) {
        this.#check.streamStats.recoveries++;
        this.#check.streamTailsRebuilt();
      }
    }
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
