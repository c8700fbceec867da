// A proposed fix for a bug the simulator found in src/client/chain.ts, as a
// wrapper around the real machine (the simulator never edits src/). Switched
// on with `fixes` (run.ts); without it the real machine runs as it is.
//
// trim-flicker: a read or fill that meets ERR_TRIMMED at a replica other than
// the tail takes it as final, but trims do not reach every replica at once
// (trim walks the chain head -> tail, prefixTrim asks every unit in parallel,
// and either can stop half-way on a lost request). The tail may still hold a
// value, or still take one from a writer that passed the head before the trim,
// so a fill answers "trimmed" and a later read of the tail answers a value.
//
// The fix treats a trim like a value decided at the head: a read or fill that
// meets ERR_TRIMMED at replica i < tail copies the trim down the chain (TRIM at
// i+1 .. tail, in order) before it answers "trimmed". Once the tail is
// trimmed, every read answers trimmed, and a writer still on its way down the
// chain gets ERR_TRIMMED there (a new token), never an acknowledgement.

import type { ChainAction, ChainEvent, ChainOpName, ReadResult, UnitRequest, UnitResponse } from '../../src/client/chain.js';
import type { ChainTarget } from '../../src/client/target.js';
import type { Driveable } from './chain-bugs.js';

interface Machine extends Driveable<ReadResult> {
  readonly pending: UnitRequest | undefined;
}

export function fixTrimFlicker(op: Machine): Driveable<ReadResult> {
  return op.target.chain.length > 1 ? new TrimFlickerFix(op) : op;
}

/** The simulated driver also sends TRIM for this wrapper. */
export const TRIM_OP = 'TRIM' as unknown as ChainOpName;

class TrimFlickerFix implements Driveable<ReadResult> {
  readonly #op: Machine;
  /** Copying a trim down: the outstanding TRIM, and the ERR_TRIMMED to feed the machine at the end. */
  #copy: { req: UnitRequest; index: number; readonly trimmed: UnitResponse } | undefined;
  #nextId = -1;

  constructor(op: Machine) {
    this.#op = op;
  }

  get target(): ChainTarget {
    return this.#op.target;
  }

  start(): ChainAction<ReadResult>[] {
    return this.#op.start();
  }

  step(event: ChainEvent): ChainAction<ReadResult>[] {
    const copy = this.#copy;
    if (copy !== undefined) {
      if ('resend' in event) return [this.#trimAt(copy.index, copy.trimmed)];
      if (!('response' in event)) return [];
      const r = event.response;
      if (r.unit !== copy.req.unit || (r.id !== undefined && r.id !== copy.req.id)) return [];
      this.#copy = undefined;
      if (r.status === 'OK' || r.status === 'ERR_TRIMMED' || r.status === 'ERR_UNWRITTEN') {
        if (copy.index + 1 < this.target.chain.length) return [this.#trimAt(copy.index + 1, copy.trimmed)];
        return this.#op.step({ response: copy.trimmed });
      }
      // Sealed, or an error: the machine decides, as if the trimmed replica had said it.
      const { unit, id } = copy.trimmed;
      return this.#op.step({ response: id === undefined ? { ...r, unit } : { ...r, unit, id } });
    }
    if ('response' in event) {
      const r = event.response;
      const pending = this.#op.pending;
      if (r.status === 'ERR_TRIMMED' && pending !== undefined && r.unit === pending.unit && pending.unit !== this.target.tail && (r.id === undefined || r.id === pending.id)) {
        return [this.#trimAt(this.target.chain.indexOf(pending.unit) + 1, r)];
      }
    }
    return this.#op.step(event);
  }

  #trimAt(index: number, trimmed: UnitResponse): ChainAction<ReadResult> {
    const pending = this.#op.pending!;
    const req: UnitRequest = { id: this.#nextId--, unit: this.target.chain[index]!, op: TRIM_OP, epoch: pending.epoch, address: this.target.address };
    this.#copy = { req, index, trimmed };
    return { send: req };
  }
}

// append-trimmed-below-head: AppendOp takes a new token on ERR_TRIMMED from any
// replica. But once the head took our write, the address is ours (the head
// decides): a trim that reaches the next replica first, or the head itself
// after a refresh restarted the chain walk (client.ts starts a new AppendOp at
// the same address), destroys the evidence, and the new token appends the
// payload a second time — while a reader may already have copied it down and
// returned it at the first address. The fix: remember that the head took the
// write (across refreshes, for this address) and, after that, ERR_TRIMMED
// anywhere acknowledges the append at its address (written, then trimmed).

interface AppendMachine extends Driveable<{ address: number }> {
  readonly pending: UnitRequest | undefined;
}

/** Per address of one append, kept across the AppendOps of successive projections. */
export interface AppendState {
  headTook: boolean;
}

export function fixAppendTrimmed(op: AppendMachine, state: AppendState): Driveable<{ address: number }> {
  return {
    get target() {
      return op.target;
    },
    start: () => op.start(),
    step: (event) => {
      if ('response' in event) {
        const r = event.response;
        const p = op.pending;
        const ours = p?.op === 'WRITE' && r.unit === p.unit && (r.id === undefined || r.id === p.id);
        if (ours && p.unit === op.target.head && (r.status === 'OK' || (r.status === 'ERR_WRITTEN' && r.written === 'same'))) state.headTook = true;
        if (ours && r.status === 'ERR_TRIMMED' && state.headTook) return [{ done: { address: op.target.address } }];
      }
      return op.step(event);
    },
  };
}
