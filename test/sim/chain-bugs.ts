// Planted client bugs in the chain protocol, as wrappers around the REAL
// chain machines (src/client/chain.ts): each rewrites the actions a machine
// returns or the events fed to it, the way a broken driver would. Without a
// client bug switched on, `plant` returns the machine itself.

import type { ChainAction, ChainEvent, UnitRequest } from '../../src/client/chain.js';
import type { ChainTarget } from '../../src/client/target.js';
import type { Bugs } from './bugs.js';

export interface Driveable<R> {
  readonly target: ChainTarget;
  start(): ChainAction<R>[];
  step(event: ChainEvent): ChainAction<R>[];
}

/** A chain machine as the wrappers see it (AppendOp, ReadOp, FillOp). */
interface Machine<R> extends Driveable<R> {
  readonly pending: UnitRequest | undefined;
}

const CLIENT_BUGS = ['ack-after-head', 'fill-without-reading-head', 'read-from-head', 'junk-not-propagated', 'chain-reversed', 'append-ignores-newtoken'];

export function plant<R>(op: Machine<R>, kind: 'append' | 'read' | 'fill', bugs: Bugs): Driveable<R> {
  if (!CLIENT_BUGS.some((b) => bugs.has(b))) return op;
  return new Planted<R>(op, kind, bugs);
}

class Planted<R> implements Driveable<R> {
  readonly #op: Machine<R>;
  readonly #kind: 'append' | 'read' | 'fill';
  readonly #bugs: Bugs;
  /** Request id -> the unit the machine meant, for requests sent elsewhere. */
  readonly #redirected = new Map<number, string>();
  #finished = false;

  constructor(op: Machine<R>, kind: 'append' | 'read' | 'fill', bugs: Bugs) {
    this.#op = op;
    this.#kind = kind;
    this.#bugs = bugs;
  }

  get target(): ChainTarget {
    return this.#op.target;
  }

  get pending(): UnitRequest | undefined {
    return this.#op.pending;
  }

  start(): ChainAction<R>[] {
    return this.#actions(this.#op.start());
  }

  step(event: ChainEvent): ChainAction<R>[] {
    if (this.#finished) return [];
    let e = event;
    const { head, chain } = this.target;
    if ('response' in e) {
      let r = e.response;
      const meant = r.id === undefined ? undefined : this.#redirected.get(r.id);
      if (meant !== undefined) r = { ...r, unit: meant };
      const pending = this.#op.pending;
      if (
        this.#bugs.has('fill-without-reading-head') &&
        pending?.op === 'FILL' && pending.unit === head && r.status === 'ERR_WRITTEN' && r.written === 'different'
      ) {
        r = { ...r, written: 'junk' };
      }
      e = { response: r };
      const actions = this.#op.step(e);
      if (
        this.#bugs.has('ack-after-head') && this.#kind === 'append' && chain.length > 1 &&
        pending?.op === 'WRITE' && pending.unit === head && r.status === 'OK'
      ) {
        this.#finished = true;
        return [{ done: { address: this.target.address } as R }];
      }
      return this.#actions(actions);
    }
    return this.#actions(this.#op.step(e));
  }

  #mirror(unit: string): string {
    if (!this.#bugs.has('chain-reversed') || this.#kind !== 'append') return unit;
    const chain = this.target.chain;
    const i = chain.indexOf(unit);
    return i < 0 ? unit : chain[chain.length - 1 - i]!;
  }

  #actions(actions: ChainAction<R>[]): ChainAction<R>[] {
    const out: ChainAction<R>[] = [];
    const { head, tail, address } = this.target;
    for (const a of actions) {
      if ('send' in a) {
        const req = a.send;
        if (this.#bugs.has('junk-not-propagated') && req.op === 'FILL' && req.unit !== head) {
          this.#finished = true;
          out.push({ done: { address, kind: 'junk' } as R });
          return out;
        }
        let to = req.unit;
        if (this.#bugs.has('read-from-head') && this.#kind === 'read' && req.op === 'READ' && req.unit === tail) to = head;
        to = this.#mirror(to);
        if (to !== req.unit) {
          this.#redirected.set(req.id, req.unit);
          out.push({ send: { ...req, unit: to } });
        } else out.push(a);
        continue;
      }
      if ('newToken' in a && this.#bugs.has('append-ignores-newtoken') && a.newToken.holder !== 'trimmed') {
        this.#finished = true;
        out.push({ done: { address } as R });
        continue;
      }
      if ('done' in a || 'refreshProjection' in a || 'newToken' in a || 'failed' in a) this.#finished = true;
      out.push(a);
    }
    return out;
  }
}
