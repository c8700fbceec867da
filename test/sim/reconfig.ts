// A minimal reconfiguration as a pure state machine (DESIGN.md "The client
// protocol": seal the units with epoch+1, collect their tails, bootstrap the
// sequencer above every written address, propose projection epoch+1, adopt
// the winner). The simulator's own, used until src/client/reconfigure.ts
// exists; it has that module's announced shape (start/step returning
// actions; send / propose / done / failed; response / lost / proposed), so
// the driver in client.ts drives either.
//
// - Every unit of the current projection must answer the seal: a lost SEAL is
//   sent again (up to MAX_ATTEMPTS times per target), then the whole thing fails.
// - A unit that answers ERR_SEALED at exactly epoch+1 was sealed by a
//   concurrent reconfiguration: its tail is asked with TAIL at epoch+1.
//   Anything above epoch+1: someone went further; fail (the caller re-reads).
// - A new sequencer is bootstrapped with BOOTSTRAP(epoch+1, max tail); the
//   old one, when replaced, is sealed best-effort. A sequencer that answers
//   ERR_SEALED at epoch+1 was bootstrapped by a concurrent reconfiguration —
//   or only SEALed by one that replaces it, which sets no start tail (the
//   simulator found this: seed 1759 before the check). So its TAIL at
//   epoch+1 is asked, and it is used only if that is at least our start tail.
//
// Planted reconfiguration bugs (bugs.ts) are switched on here.

import type { ErrorCode } from '../../bindings/errors.js';
import type { Projection, Segment } from '../../src/layout/projection.js';
import type { ProposeResult } from '../../src/layout/store.js';
import type { RequestBody } from '../../src/transport/connection.js';
import type { Response } from '../../src/wire/messages.js';
import type { Bugs } from './bugs.js';

export type Change =
  /** Replace the sequencer (failover). */
  | { readonly sequencer: string }
  /** Start a new segment at the new sequencer's start tail with these chains (head first). */
  | { readonly stripes: readonly (readonly string[])[] };

export type ReconfigAction =
  | { readonly send: { readonly id: number; readonly target: string; readonly role: 'unit' | 'sequencer'; readonly request: RequestBody } }
  | { readonly propose: Projection }
  | { readonly done: { readonly projection: Projection; readonly adopted: boolean } }
  | { readonly failed: { readonly code: ErrorCode; readonly message: string } };

export type ReconfigEvent =
  | { readonly response: { readonly id: number; readonly response: Response } }
  | { readonly lost: { readonly id: number } }
  | { readonly proposed: ProposeResult };

const MAX_ATTEMPTS = 12;

interface Outstanding {
  readonly target: string;
  readonly role: 'unit' | 'sequencer';
  readonly request: RequestBody;
  readonly attempts: number;
  /** Best effort: losing it changes nothing. */
  readonly optional: boolean;
}

export class SimReconfiguration {
  readonly current: Projection;
  readonly changes: readonly Change[];
  readonly newEpoch: number;
  readonly #bugs: Bugs;
  #phase: 'new' | 'seal' | 'bootstrap' | 'propose' | 'finished' = 'new';
  #nextId = 1;
  readonly #out = new Map<number, Outstanding>();
  readonly #tails = new Map<string, number>();
  #proposal: Projection | undefined;
  #startTail = 0;

  constructor(current: Projection, changes: readonly Change[], bugs: Bugs) {
    this.current = current;
    this.changes = changes;
    this.newEpoch = current.epoch + 1;
    this.#bugs = bugs;
  }

  get sequencer(): string {
    let s = this.current.sequencer;
    for (const c of this.changes) if ('sequencer' in c) s = c.sequencer;
    return s;
  }

  start(): ReconfigAction[] {
    if (this.#phase !== 'new') throw new Error('reconfiguration already started');
    this.#phase = 'seal';
    const e = this.current.epoch;
    return this.current.units.map((u) =>
      this.#bugs.has('reconfig-skip-seal')
        ? this.#send(u, 'unit', { type: 'request', op: 'TAIL', epoch: e })
        : this.#send(u, 'unit', { type: 'request', op: 'SEAL', epoch: e, newEpoch: this.newEpoch }),
    );
  }

  step(event: ReconfigEvent): ReconfigAction[] {
    if (this.#phase === 'finished') return [];
    if ('proposed' in event) return this.#onProposed(event.proposed);
    const id = 'response' in event ? event.response.id : event.lost.id;
    const out = this.#out.get(id);
    if (out === undefined) return [];
    this.#out.delete(id);
    if ('lost' in event) {
      if (out.optional) return this.#maybeAdvance();
      if (out.attempts >= MAX_ATTEMPTS) return this.#fail('ERR_IO', `${out.request.op} to ${out.target}: no answer after ${out.attempts} attempts`);
      return [this.#send(out.target, out.role, out.request, out.attempts + 1)];
    }
    const res = event.response.response;
    if (out.optional) return this.#maybeAdvance();
    if (out.role === 'unit') return this.#onUnit(out, res);
    return this.#onSequencer(out, res);
  }

  #onUnit(out: Outstanding, res: Response): ReconfigAction[] {
    if (res.status === 'OK' && (res.op === 'SEAL' || res.op === 'TAIL')) {
      this.#tails.set(out.target, res.tail);
      return this.#maybeAdvance();
    }
    if (res.status === 'ERR_SEALED') {
      const at = res.unitEpoch;
      if (at === this.newEpoch && out.request.op === 'SEAL') {
        if (this.#bugs.has('reconfig-ignore-sealed-unit')) {
          this.#tails.set(out.target, 0);
          return this.#maybeAdvance();
        }
        // Sealed by a concurrent reconfiguration: ask its tail at the new epoch.
        return [this.#send(out.target, 'unit', { type: 'request', op: 'TAIL', epoch: this.newEpoch })];
      }
      if (at < this.newEpoch && out.request.op === 'TAIL' && !this.#bugs.has('reconfig-skip-seal')) {
        // The unit is below the new epoch again (it should not be): seal it.
        return [this.#send(out.target, 'unit', { type: 'request', op: 'SEAL', epoch: this.current.epoch, newEpoch: this.newEpoch })];
      }
      return this.#fail('ERR_SEALED', `${out.target} is at epoch ${at}, beyond ${this.newEpoch}: another reconfiguration went further`);
    }
    if (res.status === 'OK') return this.#fail('ERR_BAD_REQUEST', `${out.target} answered ${res.op} to ${out.request.op}`);
    return this.#fail(res.status, `${out.request.op} at ${out.target}: ${res.status}`);
  }

  #onSequencer(out: Outstanding, res: Response): ReconfigAction[] {
    if (res.status === 'OK' && res.op === 'TAIL' && res.tail < this.#startTail) {
      return this.#fail('ERR_SEALED', `${out.target} is at epoch ${this.newEpoch} with its next token ${res.tail} below the start tail ${this.#startTail}`);
    }
    if (res.status === 'OK') return this.#propose();
    if (res.status === 'ERR_SEALED' && res.unitEpoch === this.newEpoch && out.request.op === 'BOOTSTRAP') {
      // Already at the new epoch: bootstrapped by a concurrent reconfiguration, or only
      // SEALed by one that replaces it (SEAL sets no start tail). Its TAIL tells which.
      return [this.#send(out.target, 'sequencer', { type: 'request', op: 'TAIL', epoch: this.newEpoch })];
    }
    return this.#fail(res.status, `${out.request.op} at ${out.target}: ${res.status}`);
  }

  #maybeAdvance(): ReconfigAction[] {
    if (this.#phase !== 'seal') return [];
    for (const u of this.current.units) if (!this.#tails.has(u)) return [];
    const tails = [...this.#tails.values()];
    const maxTail = this.#bugs.has('reconfig-min-tail') ? Math.min(...tails) : Math.max(...tails);
    this.#startTail = this.#bugs.has('bootstrap-at-zero') ? 0 : maxTail;
    this.#phase = 'bootstrap';
    const actions: ReconfigAction[] = [];
    const seq = this.sequencer;
    if (seq !== this.current.sequencer) {
      actions.push(this.#send(this.current.sequencer, 'sequencer', { type: 'request', op: 'SEAL', epoch: this.current.epoch, newEpoch: this.newEpoch }, 1, true));
    }
    actions.push(
      this.#send(seq, 'sequencer', { type: 'request', op: 'BOOTSTRAP', epoch: this.current.epoch, newEpoch: this.newEpoch, startTail: this.#startTail }),
    );
    return actions;
  }

  #propose(): ReconfigAction[] {
    if (this.#phase !== 'bootstrap') return [];
    this.#phase = 'propose';
    this.#proposal = this.#next();
    return [{ propose: this.#proposal }];
  }

  #onProposed(result: ProposeResult): ReconfigAction[] {
    if (this.#phase !== 'propose') return [];
    this.#phase = 'finished';
    if (result.accepted) return [{ done: { projection: result.winner, adopted: false } }];
    if (this.#bugs.has('reconfig-no-adopt') && this.#proposal !== undefined) return [{ done: { projection: this.#proposal, adopted: false } }];
    return [{ done: { projection: result.winner, adopted: true } }];
  }

  /** The proposal: epoch+1 with the changes applied. */
  #next(): Projection {
    let segments: Segment[] = this.current.segments.map((s) => ({ start: s.start, end: s.end, stripes: s.stripes.map((t) => ({ chain: [...t.chain] })) }));
    for (const c of this.changes) {
      if (!('stripes' in c)) continue;
      const stripes = c.stripes.map((chain) => ({ chain: [...chain] }));
      const last = segments[segments.length - 1]!;
      const at = Math.max(this.#startTail, last.start);
      if (at === last.start) segments = [...segments.slice(0, -1), { start: at, end: null, stripes }];
      else segments = [...segments.slice(0, -1), { ...last, end: at }, { start: at, end: null, stripes }];
    }
    return { epoch: this.newEpoch, sequencer: this.sequencer, units: [...this.current.units], segments };
  }

  #send(target: string, role: 'unit' | 'sequencer', request: RequestBody, attempts = 1, optional = false): ReconfigAction {
    const id = this.#nextId++;
    this.#out.set(id, { target, role, request, attempts, optional });
    return { send: { id, target, role, request } };
  }

  #fail(code: ErrorCode, message: string): ReconfigAction[] {
    this.#phase = 'finished';
    this.#out.clear();
    return [{ failed: { code, message } }];
  }
}
