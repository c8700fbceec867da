// The reconfiguration the simulated clients run: the REAL pure machine of
// src/client/reconfigure.ts, driven as src/client/reconfigure-driver.ts drives
// it (client.ts `reconfigure`), wrapped here for the planted reconfiguration
// bugs (bugs.ts), as rewrites of the machine's actions and events.
//
// (The proposed fix for the bootstrap-after-seal bug the simulator found is in
// the sequencer, not here: see sequencer.ts and known-issues.ts.)

import { nextProjection } from '../../src/layout/next.js';
import type { Change } from '../../src/layout/next.js';
import type { Projection } from '../../src/layout/projection.js';
import { Reconfiguration } from '../../src/client/reconfigure.js';
import type { ReconfigAction, ReconfigEvent, ReconfigRequest } from '../../src/client/reconfigure.js';
import type { Bugs } from './bugs.js';

export type { Change, ReconfigAction, ReconfigEvent };

export class SimReconfiguration {
  readonly #m: Reconfiguration;
  readonly #bugs: Bugs;
  /** BOOTSTRAP sends by id. */
  readonly #bootstraps = new Set<number>();

  constructor(current: Projection, changes: readonly Change[], bugs: Bugs) {
    this.#m = new Reconfiguration(current, changes);
    this.#bugs = bugs;
  }

  get epoch(): number {
    return this.#m.epoch;
  }

  start(): ReconfigAction[] {
    return this.#actions(this.#m.start());
  }

  step(event: ReconfigEvent): ReconfigAction[] {
    if ('response' in event) {
      const { id, response } = event.response;
      if (this.#bugs.has('reconfig-ignore-sealed-unit') && response.status === 'ERR_SEALED' && response.unitEpoch === this.#m.epoch && response.op === 'SEAL' && !this.#bootstraps.has(id)) {
        return this.#actions(this.#m.step({ response: { id, response: { type: 'response', op: 'SEAL', requestId: response.requestId, epoch: this.#m.epoch, status: 'OK', tail: 0 } } }));
      }
    }
    return this.#actions(this.#m.step(event));
  }

  #actions(actions: ReconfigAction[]): ReconfigAction[] {
    return actions.map((a): ReconfigAction => {
      if ('send' in a) {
        let request: ReconfigRequest = a.send.request;
        if (request.op === 'SEAL' && a.send.role === 'unit' && this.#bugs.has('reconfig-skip-seal')) {
          request = { type: 'request', op: 'TAIL', epoch: this.#m.current.epoch };
        }
        if (request.op === 'BOOTSTRAP') {
          const tails = [...this.#m.tails.values()];
          if (this.#bugs.has('reconfig-min-tail') && tails.length > 0) request = { ...request, startTail: Math.min(...tails) };
          if (this.#bugs.has('bootstrap-at-zero')) request = { ...request, startTail: 0 };
          this.#bootstraps.add(a.send.id);
        }
        return request === a.send.request ? a : { send: { ...a.send, request } };
      }
      if ('done' in a && a.done.adopted && this.#bugs.has('reconfig-no-adopt')) {
        // Use what we proposed, not the winner.
        const mine = nextProjection(this.#m.current, this.#m.changes, Math.max(0, ...this.#m.tails.values()));
        return { done: { projection: mine, adopted: false } };
      }
      return a;
    });
  }
}
