// A simulated sequencer: the real pure Sequencer (src/sequencer/state.ts) on
// a CounterTokenSource, behind a LinkServer on the simulated network. A crash
// is permanent (its soft state is gone); a replacement is a new node at a new
// address, bootstrapped by a reconfiguration. Token ranges and every answer go
// to the checkers. Planted sequencer bugs wrap `handle`.

import { CounterTokenSource, Sequencer } from '../../src/sequencer/state.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';
import type { Network } from './network.js';
import { LinkServer } from './server.js';

export class SimSequencer {
  readonly name: string;
  readonly #seq: Sequencer;
  readonly #tokens = new CounterTokenSource(0);
  readonly #server: LinkServer;
  readonly #bugs: Bugs;
  readonly #check: Checkers;
  #alive = true;
  #tokenAnswers = 0;
  #lastFirst: number | undefined;
  #lastTail: number | undefined;

  constructor(name: string, epoch: number, net: Network, bugs: Bugs, check: Checkers) {
    this.name = name;
    this.#seq = new Sequencer({ epoch, tokens: this.#tokens });
    this.#bugs = bugs;
    this.#check = check;
    this.#server = new LinkServer(name, net);
    this.#server.start((req) => this.#serve(req));
  }

  get alive(): boolean {
    return this.#alive;
  }

  get epoch(): number {
    return this.#seq.epoch;
  }

  crash(): void {
    this.#alive = false;
    this.#server.stop();
  }

  #serve(req: Request): Response | undefined {
    const epochAtService = this.#seq.epoch;
    let res: Response;
    try {
      res = this.#handle(req);
    } catch (err) {
      // SequencerInvariantError: the real server crashes. So does this one.
      this.#check.fail('sequencer-invariant', `${this.name}: ${(err as Error).message}`);
      this.crash();
      return undefined;
    }
    this.#check.served(this.name, req, res, epochAtService);
    if (res.status === 'OK' && res.op === 'TOKEN' && req.op === 'TOKEN') this.#check.tokens(this.name, this.#seq.epoch, res.first, req.count);
    return res;
  }

  #handle(req: Request): Response {
    if (this.#bugs.has('sequencer-skip-epoch-check') && (req.op === 'TOKEN' || req.op === 'TAIL') && req.epoch !== this.#seq.epoch) {
      return this.#handle({ ...req, epoch: this.#seq.epoch });
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
