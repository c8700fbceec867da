// Reconfiguration as a pure state machine (docs/design.md, "The client protocol":
// seal with epoch+1, then propose; if another proposal won, adopt it).
//
// Like the chain machines (chain.ts): construct it with its inputs, call
// start(), feed it events; every call returns the actions to perform. The
// driver (reconfigure-driver.ts, or the simulator) owns sockets, the store and
// timers; nothing here reads a clock or does I/O.
//
//   1. SEAL(E = epoch+1) to every unit of the current projection and every
//      unit the changes bring in, all at once. A unit already at E (a
//      concurrent or retried reconfiguration sealed it) is asked its TAIL at
//      E instead. A unit above E means a later epoch exists: fail with
//      ERR_SEALED, the caller reloads and starts over. A unit that does not
//      answer fails the reconfiguration unless the changes replace it.
//   2. Once every seal has settled, no write under the old epoch can be
//      acknowledged any more (each chain's tail refuses it), and T = the
//      largest answered tail is above every address written under it.
//   3. BOOTSTRAP(E, T) the next projection's sequencer: it hands out no token
//      below T (invariant 5). One already at E was bootstrapped by a
//      concurrent reconfiguration from the same sealed tails: accepted.
//   4. Propose the next projection (layout/next.ts). Accepted, or an equal
//      one already there: done. Another one won: done, adopting the winner.
//   5. When our projection moved the sequencer, SEAL the old one, best effort
//      (it may be dead, which may be why it moved). Only now: a move that
//      failed earlier must not leave the current layout's sequencer sealed
//      with no newer projection to go to.

import type { ErrorCode } from '../../bindings/errors.js';
import { CorfuError } from '../../bindings/errors.js';
import { InvariantError, invariant } from '../../bindings/invariant.js';
import { nextProjection, unitsAdded, unitsReplaced } from '../layout/next.js';
import type { Change } from '../layout/next.js';
import { projectionsEqual } from '../layout/projection.js';
import type { Projection, ProposeResult } from '../layout/index.js';
import type { BootstrapRequest, Response, SealRequest, EmptyRequest } from '../wire/messages.js';

type Body<R> = R extends unknown ? Omit<R, 'requestId'> : never;
export type ReconfigRequest = Body<SealRequest | BootstrapRequest | EmptyRequest>;

export interface ReconfigSend {
  /** Local to this reconfiguration: 1, 2, ... */
  readonly id: number;
  /** `host:port`. */
  readonly target: string;
  readonly role: 'unit' | 'sequencer';
  readonly request: ReconfigRequest;
}

export type ReconfigAction =
  | { readonly send: ReconfigSend }
  | { readonly propose: Projection }
  | { readonly done: { readonly projection: Projection; readonly adopted: boolean } }
  | { readonly failed: { readonly code: ErrorCode; readonly message: string; readonly unitEpoch?: number } };

export type ReconfigEvent =
  | { readonly response: { readonly id: number; readonly response: Response } }
  /** No answer (unreachable, timed out, connection reset). */
  | { readonly lost: { readonly id: number } }
  | { readonly proposed: ProposeResult };

type Phase = 'new' | 'sealing' | 'bootstrapping' | 'proposing' | 'sealing-old-sequencer' | 'finished';

interface Outstanding {
  readonly send: ReconfigSend;
  /** A failure here does not stop the reconfiguration. */
  readonly optional: boolean;
  /** The phase it was sent in: an answer that comes after its phase is over is ignored. */
  readonly phase: Phase;
}

export class Reconfiguration {
  readonly current: Projection;
  readonly changes: readonly Change[];
  /** The epoch being installed. */
  readonly epoch: number;
  #phase: Phase = 'new';
  #nextId = 1;
  readonly #outstanding = new Map<number, Outstanding>();
  /** Each unit's tail as answered at the new epoch. */
  readonly #tails = new Map<string, number>();
  #next: Projection | undefined;

  constructor(current: Projection, changes: readonly Change[]) {
    this.current = current;
    this.changes = changes;
    this.epoch = current.epoch + 1;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** The tails the units answered (for reports). */
  get tails(): ReadonlyMap<string, number> {
    return this.#tails;
  }

  start(): ReconfigAction[] {
    invariant(this.#phase === 'new', 'reconfiguration: start() called twice');
    this.#phase = 'sealing';
    const replaced = unitsReplaced(this.changes);
    const actions: ReconfigAction[] = [];
    for (const unit of [...this.current.units, ...unitsAdded(this.current, this.changes)]) {
      actions.push(this.#send(unit, 'unit', { type: 'request', op: 'SEAL', epoch: this.current.epoch, newEpoch: this.epoch }, replaced.has(unit)));
    }
    return actions;
  }

  step(event: ReconfigEvent): ReconfigAction[] {
    if (this.#phase === 'finished') return [];
    if ('proposed' in event) return this.#onProposed(event.proposed);
    const id = 'lost' in event ? event.lost.id : event.response.id;
    const out = this.#outstanding.get(id);
    if (out === undefined) return []; // a duplicate or a late answer to a settled request
    this.#outstanding.delete(id);
    // A replaced unit's seal the sealing phase did not wait for (see #afterSettled).
    if (out.phase !== this.#phase) return [];
    const { send } = out;
    if ('lost' in event) {
      if (!out.optional) return this.#fail('ERR_UNAVAILABLE', `${send.role} ${send.target} did not answer ${send.request.op}${send.role === 'unit' ? ' (replace it)' : ' (move the sequencer)'}`);
      return this.#afterSettled();
    }
    const res = event.response.response;
    if (res.status === 'OK') {
      if (res.op === 'SEAL' || res.op === 'TAIL') {
        if (send.role === 'unit') this.#tails.set(send.target, res.tail);
      } else if (res.op !== 'BOOTSTRAP') {
        return this.#fail('ERR_IO', `${send.target} answered ${send.request.op} with ${res.op}`);
      }
      return this.#afterSettled();
    }
    if (res.status === 'ERR_SEALED' && res.unitEpoch === this.epoch) {
      // Already at the new epoch: a concurrent or earlier attempt got here first.
      if (send.role === 'unit' && send.request.op === 'SEAL') return [this.#send(send.target, 'unit', { type: 'request', op: 'TAIL', epoch: this.epoch }, out.optional)];
      return this.#afterSettled();
    }
    if (res.status === 'ERR_SEALED' && res.unitEpoch > this.epoch) {
      return this.#fail('ERR_SEALED', `${send.role} ${send.target} is at epoch ${res.unitEpoch}: a later projection exists`, res.unitEpoch);
    }
    if (out.optional) return this.#afterSettled();
    return this.#fail(res.status, `${send.role} ${send.target} refused ${send.request.op}: ${res.message}`);
  }

  #afterSettled(): ReconfigAction[] {
    // The seal does not wait for the units being replaced: they may be dead or hung (a hung
    // one would hold the new epoch back by a whole request timeout), and the tail that
    // counts is the other replicas' (nextProjection refuses to replace every whole replica
    // of a chain). A replaced unit that answers in time still has its tail counted.
    const waiting = [...this.#outstanding.values()].some((o) => o.phase === this.#phase && !(o.optional && this.#phase === 'sealing'));
    if (waiting) return [];
    if (this.#phase === 'sealing') {
      const sealedTail = Math.max(0, ...this.#tails.values());
      try {
        this.#next = nextProjection(this.current, this.changes, sealedTail);
      } catch (err) {
        if (err instanceof CorfuError) return this.#fail(err.code, err.message);
        throw err;
      }
      this.#phase = 'bootstrapping';
      // A sequencer that did not serve the current epoch may hold stream tails from an
      // older one it served, missing every stream token handed out since: it rebuilds them.
      const resetStreams = this.#next.sequencer !== this.current.sequencer;
      const request: ReconfigRequest = { type: 'request', op: 'BOOTSTRAP', epoch: this.current.epoch, newEpoch: this.epoch, startTail: sealedTail, resetStreams };
      return [this.#send(this.#next.sequencer, 'sequencer', request, false)];
    }
    if (this.#phase === 'bootstrapping') {
      this.#phase = 'proposing';
      return [{ propose: this.#next! }];
    }
    if (this.#phase === 'sealing-old-sequencer') {
      this.#phase = 'finished';
      return [{ done: { projection: this.#next!, adopted: false } }];
    }
    throw new InvariantError(`reconfiguration: a request settled in phase ${this.#phase}`);
  }

  #onProposed(result: ProposeResult): ReconfigAction[] {
    invariant(this.#phase === 'proposing', () => `reconfiguration: a proposal result in phase ${this.#phase}`);
    const mine = result.accepted || projectionsEqual(result.winner, this.#next!);
    const old = this.current.sequencer;
    if (mine && this.#next!.sequencer !== old) {
      // Stop the sequencer we moved away from, now that the move is installed (best effort:
      // it may be dead, which may be why it moved). Not earlier: a move that fails must not
      // leave the current layout with a sealed sequencer and no newer projection. Clients
      // still on it meanwhile are safe: their tokens are checked against the new
      // sequencer's TAIL, and tail() counts only under the latest epoch.
      this.#phase = 'sealing-old-sequencer';
      return [this.#send(old, 'sequencer', { type: 'request', op: 'SEAL', epoch: this.current.epoch, newEpoch: this.epoch }, true)];
    }
    this.#phase = 'finished';
    return [{ done: { projection: mine ? this.#next! : result.winner, adopted: !mine } }];
  }

  #send(target: string, role: 'unit' | 'sequencer', request: ReconfigRequest, optional: boolean): ReconfigAction {
    const send: ReconfigSend = { id: this.#nextId++, target, role, request };
    this.#outstanding.set(send.id, { send, optional, phase: this.#phase });
    return { send };
  }

  #fail(code: ErrorCode, message: string, unitEpoch?: number): ReconfigAction[] {
    this.#phase = 'finished';
    this.#outstanding.clear();
    return [{ failed: unitEpoch === undefined ? { code, message } : { code, message, unitEpoch } }];
  }
}
