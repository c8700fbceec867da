// The client's chain protocol for ONE log address, as pure state machines
// (the etcd-raft habit, docs/design.md "Layers" and "The client protocol").
//
// An operation is constructed with its inputs (projection, address, payload),
// started, and then fed events one at a time; every call returns the actions
// the caller must perform next. The caller — the real client's driver, or the
// seeded simulator (test/sim) — owns sockets, timers and retries. Nothing here
// reads a clock, draws a random number or does I/O, so one seed replays a run.
//
//   append  WRITE head -> tail in order; `done` only after the tail answered.
//   read    READ the tail; on ERR_UNWRITTEN ask the head at once and copy its
//           value down; if the head is empty too, `wait`: the driver feeds
//           `recheck` (READ the head again, and wait again if it is still
//           empty) as often as it likes, then `hole-timeout` to fill.
//   fill    FILL junk at the head; if the head already holds a value, that
//           value wins (read it when it is data); then walk the rest of the
//           chain in order writing the winner.
//   trims   A read or fill that meets ERR_TRIMMED at one replica copies the
//           trim to every other replica (TRIM in chain order) before it
//           answers trimmed, as it would copy a value. An append that meets it takes a
//           new token — unless the head already took its write (it remembers
//           that across refreshes, AppendProgress) and is still the head: then
//           the address is its, and the append is acknowledged there
//           (written, then trimmed).
//
// Every request an operation sends is idempotent under write-once storage (a
// repeated WRITE answers ERR_WRITTEN 'same', a repeated FILL answers
// ERR_WRITTEN 'junk', a repeated TRIM ERR_TRIMMED), so a lost message is handled by feeding `{ resend: true }`:
// the outstanding request goes out again under a new id.
//
// At most one request is outstanding per operation: a chain is walked in
// order, never in parallel — that order is what makes "whoever wins the head
// decides the value for the whole chain" true.
//
// A broken invariant (a replica below the head holding a value other than the
// head's, a unit answering outside the protocol) is not an error code: it throws
// InvariantError (bindings/invariant.ts).

import type { WrittenAs } from '../../bindings/entry-codes.js';
import type { ErrorCode, StatusName } from '../../bindings/errors.js';
import { InvariantError, invariant } from '../../bindings/invariant.js';
import type { Projection } from '../layout/index.js';
import { chainTarget, type ChainTarget } from './target.js';

export { writtenAs } from '../../bindings/entry-codes.js';
export type { WrittenAs } from '../../bindings/entry-codes.js';

/** The unit operations the chain protocol uses. */
export type ChainOpName = 'WRITE' | 'READ' | 'FILL' | 'TRIM';

/** One request to one unit. `id` is local to the operation (1, 2, ...). */
export interface UnitRequest {
  readonly id: number;
  /** `host:port` of the unit, as in the projection. */
  readonly unit: string;
  readonly op: ChainOpName;
  readonly epoch: number;
  readonly address: number;
  /** WRITE only. */
  readonly payload?: Uint8Array;
}

/** A unit's answer for the one address of a request. */
export interface UnitResponse {
  readonly unit: string;
  /** The request's id. When given it must match the outstanding request; without it the unit alone is matched. */
  readonly id?: number;
  readonly status: StatusName;
  /** Required with ERR_WRITTEN to a WRITE or FILL. */
  readonly written?: WrittenAs;
  /** Required with OK to a READ. */
  readonly kind?: 'data' | 'junk';
  /** With OK to a READ of data. Kept by reference: the caller must not reuse the buffer. */
  readonly payload?: Uint8Array;
  /** The unit's epoch, with ERR_SEALED. */
  readonly unitEpoch?: number;
  /** The unit's own words, with a whole-request error (e.g. why its store failed). */
  readonly message?: string;
}

/** The value an address holds. */
export type Value = { readonly kind: 'data'; readonly payload: Uint8Array } | { readonly kind: 'junk' };

/** What a read or a fill returns: the address's value, or that it was trimmed (terminal). */
export type ReadResult =
  { readonly address: number; readonly kind: 'data'; readonly payload: Uint8Array } | { readonly address: number; readonly kind: 'junk' } | { readonly address: number; readonly kind: 'trimmed' };

/** An acknowledged append: every replica of the chain holds the payload. */
export interface AppendResult {
  readonly address: number;
}

export interface RefreshProjection {
  /** The epoch the operation ran under. */
  readonly epoch: number;
  /** The unit that answered ERR_SEALED. */
  readonly unit: string;
  readonly unitEpoch?: number;
}

export interface NewToken {
  /** The address this append could not have. */
  readonly address: number;
  /** What took it: a filler's junk, other data, or a trim. */
  readonly holder: 'junk' | 'data' | 'trimmed';
}

export interface Failed {
  readonly unit: string;
  readonly op: ChainOpName;
  /** The unit's error (ERR_IO, ERR_OVERLOADED, ERR_TOO_LARGE, ...): the caller's retry policy keys on it. */
  readonly code: ErrorCode;
  /** The unit's message, when it sent one. */
  readonly message?: string;
}

/** Ends an operation: exactly one per operation, always the last action it returns. */
export type TerminalAction<R> = { readonly done: R } | { readonly refreshProjection: RefreshProjection } | { readonly newToken: NewToken } | { readonly failed: Failed };

export type ChainAction<R> =
  | { readonly send: UnitRequest }
  /** Start the hole timer; feed `{ timeout: 'hole-timeout' }` when it fires. */
  | { readonly wait: 'hole-timeout' }
  | TerminalAction<R>;

export type ChainEvent =
  | { readonly response: UnitResponse }
  /** While waiting on a hole: 'recheck' asks the head again, 'hole-timeout' gives up waiting and fills. */
  | { readonly timeout: 'hole-timeout' | 'recheck' }
  /** The outstanding request or its answer was lost: send it again. */
  | { readonly resend: true };

export type ChainPhase = 'new' | 'write-chain' | 'read-tail' | 'read-head' | 'hole-wait' | 'fill-head' | 'read-winner' | 'trim-chain' | 'finished';

type State =
  | { readonly name: 'new' | 'read-tail' | 'read-head' | 'hole-wait' | 'fill-head' | 'read-winner' | 'finished' }
  /** Writing `value` to chain[index], then on down to the tail. */
  | { readonly name: 'write-chain'; readonly index: number; readonly value: Value }
  /** Copying a trim met at `skip` to chain[index], then on to the tail. */
  | { readonly name: 'trim-chain'; readonly index: number; readonly skip: string };

const JUNK: Value = { kind: 'junk' };

function describeValue(v: Value): string {
  return v.kind === 'junk' ? 'junk' : `data (${v.payload.length} bytes)`;
}

function broken(message: string): InvariantError {
  return new InvariantError(`chain: ${message}`);
}

/**
 * A unit answered outside the protocol (a missing field, a status its operation
 * never answers): the unit or the wire is wrong, and the machine cannot go on.
 */
function protocolViolation(message: string): InvariantError {
  return new InvariantError(`chain protocol: ${message}`);
}

function isTerminal<R>(action: ChainAction<R>): action is TerminalAction<R> {
  return 'done' in action || 'refreshProjection' in action || 'newToken' in action || 'failed' in action;
}

/**
 * The shared machinery: one outstanding request, response matching, resend,
 * the chain walk, the hole wait and the fill. Subclasses pick the first phase
 * and the shape of the result.
 */
abstract class ChainOperation<R> {
  readonly target: ChainTarget;
  #state: State = { name: 'new' };
  #nextId = 1;
  #pending: UnitRequest | undefined;
  #outcome: TerminalAction<R> | undefined;
  /** Every request sent, in order (resends included): for traces and checkers. */
  readonly sent: UnitRequest[] = [];

  protected constructor(projection: Projection, address: number) {
    this.target = chainTarget(projection, address);
  }

  get address(): number {
    return this.target.address;
  }

  get phase(): ChainPhase {
    return this.#state.name;
  }

  /** The request awaiting an answer, if any. */
  get pending(): UnitRequest | undefined {
    return this.#pending;
  }

  /** Whether the operation waits for the hole timeout. */
  get waiting(): boolean {
    return this.#state.name === 'hole-wait';
  }

  /** The terminal action, once the operation finished. */
  get outcome(): TerminalAction<R> | undefined {
    return this.#outcome;
  }

  get finished(): boolean {
    return this.#outcome !== undefined;
  }

  /** The first actions. Call once. */
  start(): ChainAction<R>[] {
    invariant(this.#state.name === 'new', 'chain: start() called twice');
    return this.begin();
  }

  /**
   * Feeds one event. A response that does not answer the outstanding request
   * (a duplicate, a stale answer to a resent request, anything after the
   * operation finished) and a timeout nobody waits for are ignored: they
   * return no actions.
   */
  step(event: ChainEvent): ChainAction<R>[] {
    invariant(this.#state.name !== 'new', 'chain: step() before start()');
    if (this.#outcome !== undefined) return [];
    if ('response' in event) {
      const response = event.response;
      const request = this.#pending;
      if (request === undefined || response.unit !== request.unit) return [];
      if (response.id !== undefined && response.id !== request.id) return [];
      this.#pending = undefined;
      return this.#onResponse(request, response);
    }
    if ('timeout' in event) {
      if (this.#state.name !== 'hole-wait') return [];
      if (event.timeout === 'recheck') {
        // The writer may have got there meanwhile: a reader near the tail need not wait out the whole timeout.
        this.#state = { name: 'read-head' };
        return [this.#send(this.target.head, 'READ')];
      }
      return this.#fill();
    }
    const request = this.#pending;
    if (request === undefined) return [];
    return [this.#send(request.unit, request.op, request.payload)];
  }

  protected abstract begin(): ChainAction<R>[];

  /** The result once `value` is on every replica. */
  protected abstract result(value: Value): R;

  /** Append overrides: the head took the value this operation writes (OK, or ERR_WRITTEN 'same'). */
  protected onHeadWrite(): void {}

  /** Append overrides: ERR_WRITTEN at the head means the address is someone else's. */
  protected headTaken(_written: WrittenAs): ChainAction<R>[] | undefined {
    return undefined;
  }

  /** ERR_TRIMMED from `request`'s replica: a read's result; a new token or an acknowledgement for an append. */
  protected abstract trimmed(request: UnitRequest): ChainAction<R>[];

  /**
   * A read or a fill met ERR_TRIMMED at `unit`. Trims reach the replicas one at
   * a time (trim walks head -> tail; prefix trims go to every unit at once) and
   * can stop part-way. A replica below may still serve the value, or still
   * take it from a writer that passed the head before the trim (the simulator's
   * `trim-flicker`, test/sim/known-issues.ts). A replica above may hold the value
   * too, and serve it once the trimmed one is lost and replaced
   * (`partial-prefix-trim`). So before
   * answering "trimmed", the trim goes to every other replica, in chain order:
   * from then on no replica, nor any survivor of a lost one, answers a value
   * (invariant 1). It costs one TRIM per other replica, on reads of trimmed
   * addresses only.
   */
  protected trimEverywhere(unit: string): ChainAction<R>[] {
    return this.#trimChain(0, unit);
  }

  #trimChain(index: number, skip: string): ChainAction<R>[] {
    const chain = this.target.chain;
    while (index < chain.length && chain[index] === skip) index++;
    if (index >= chain.length) return this.#finish({ done: this.trimmedResult() });
    this.#state = { name: 'trim-chain', index, skip };
    return [this.#send(chain[index]!, 'TRIM')];
  }

  /** What a trimmed address answers, once the trim is on every replica. */
  protected trimmedResult(): R {
    throw broken('this operation does not copy trims down');
  }

  protected finish(action: TerminalAction<R>): ChainAction<R>[] {
    return this.#finish(action);
  }

  protected readTail(): ChainAction<R>[] {
    this.#state = { name: 'read-tail' };
    return [this.#send(this.target.tail, 'READ')];
  }

  protected writeChain(value: Value, index: number): ChainAction<R>[] {
    const chain = this.target.chain;
    if (index >= chain.length) return this.#finish({ done: this.result(value) });
    this.#state = { name: 'write-chain', index, value };
    const unit = chain[index]!;
    return [value.kind === 'data' ? this.#send(unit, 'WRITE', value.payload) : this.#send(unit, 'FILL')];
  }

  protected startFill(): ChainAction<R>[] {
    return this.#fill();
  }

  #fill(): ChainAction<R>[] {
    this.#state = { name: 'fill-head' };
    return [this.#send(this.target.head, 'FILL')];
  }

  #send(unit: string, op: ChainOpName, payload?: Uint8Array): ChainAction<R> {
    const base = { id: this.#nextId++, unit, op, epoch: this.target.epoch, address: this.address };
    const request: UnitRequest = payload === undefined ? base : { ...base, payload };
    this.#pending = request;
    this.sent.push(request);
    return { send: request };
  }

  #finish(action: TerminalAction<R>): ChainAction<R>[] {
    this.#state = { name: 'finished' };
    this.#pending = undefined;
    this.#outcome = action;
    return [action];
  }

  /** The answers every phase treats alike; undefined when the phase must decide. */
  #common(request: UnitRequest, response: UnitResponse): ChainAction<R>[] | undefined {
    switch (response.status) {
      case 'ERR_SEALED': {
        const refresh: RefreshProjection =
          response.unitEpoch === undefined ? { epoch: this.target.epoch, unit: response.unit } : { epoch: this.target.epoch, unit: response.unit, unitEpoch: response.unitEpoch };
        return this.#finish({ refreshProjection: refresh });
      }
      case 'ERR_TRIMMED':
        // A replica below, already trimmed, while a trim is copied down: the walk goes on.
        return this.#state.name === 'trim-chain' ? undefined : this.trimmed(request);
      case 'OK':
      case 'ERR_WRITTEN':
      case 'ERR_UNWRITTEN':
        return undefined;
      default:
        return this.#finish({
          failed:
            response.message === undefined ? { unit: response.unit, op: request.op, code: response.status } : { unit: response.unit, op: request.op, code: response.status, message: response.message },
        });
    }
  }

  #readValue(response: UnitResponse): Value {
    if (response.kind === 'junk') return JUNK;
    if (response.kind === 'data') {
      if (response.payload === undefined) throw protocolViolation(`READ of ${this.address} at ${response.unit}: OK data without a payload`);
      return { kind: 'data', payload: response.payload };
    }
    throw protocolViolation(`READ of ${this.address} at ${response.unit}: OK without a kind`);
  }

  #written(response: UnitResponse): WrittenAs {
    if (response.written === undefined) {
      throw protocolViolation(`ERR_WRITTEN at ${response.unit} for ${this.address} without the 'written' detail`);
    }
    return response.written;
  }

  #unexpected(request: UnitRequest, response: UnitResponse): never {
    throw protocolViolation(`${request.op} of ${this.address} at ${response.unit} answered ${response.status}`);
  }

  #onResponse(request: UnitRequest, response: UnitResponse): ChainAction<R>[] {
    const common = this.#common(request, response);
    if (common !== undefined) return common;
    const state = this.#state;
    const { chain, head } = this.target;
    switch (state.name) {
      case 'write-chain': {
        if (response.status === 'OK') {
          if (state.index === 0) this.onHeadWrite();
          return this.writeChain(state.value, state.index + 1);
        }
        if (response.status !== 'ERR_WRITTEN') return this.#unexpected(request, response);
        const written = this.#written(response);
        if (state.index === 0) {
          const taken = this.headTaken(written);
          if (taken !== undefined) return taken;
          this.onHeadWrite();
        }
        const same = state.value.kind === 'data' ? written === 'same' : written === 'junk' || written === 'same';
        if (!same) {
          throw broken(
            `${response.unit} (replica ${state.index} of ${chain.length}) holds ${written === 'junk' ? 'junk' : 'different data'} ` +
              `at ${this.address} where the head decided ${describeValue(state.value)}`,
          );
        }
        return this.writeChain(state.value, state.index + 1);
      }
      case 'read-tail': {
        if (response.status === 'OK') {
          // Read from the last whole replica while units after it are still being rebuilt:
          // copy the value onto them before answering. A value a reader was given must be
          // on every replica of the chain — the rebuild may have passed this address while
          // it was still a hole, and the writer that put the value here may die before it
          // reaches them (the simulator's `read-ahead-of-rebuild`, test/sim/known-issues.ts).
          const value = this.#readValue(response);
          const after = chain.indexOf(this.target.tail) + 1;
          if (after > 0 && after < chain.length) return this.writeChain(value, after);
          return this.#finish({ done: this.result(value) });
        }
        if (response.status !== 'ERR_UNWRITTEN') return this.#unexpected(request, response);
        if (chain.length === 1) {
          this.#state = { name: 'hole-wait' };
          return [{ wait: 'hole-timeout' }];
        }
        // The tail is empty: a writer may have stopped part-way. Ask the head at once.
        this.#state = { name: 'read-head' };
        return [this.#send(head, 'READ')];
      }
      case 'read-head': {
        if (response.status === 'OK') return this.writeChain(this.#readValue(response), 1);
        if (response.status !== 'ERR_UNWRITTEN') return this.#unexpected(request, response);
        this.#state = { name: 'hole-wait' };
        return [{ wait: 'hole-timeout' }];
      }
      case 'fill-head': {
        if (response.status === 'OK') return this.writeChain(JUNK, 1);
        if (response.status !== 'ERR_WRITTEN') return this.#unexpected(request, response);
        const written = this.#written(response);
        // Junk already there: another filler won; copy junk down. Data: read it, it wins.
        if (written === 'junk' || written === 'same') return this.writeChain(JUNK, 1);
        this.#state = { name: 'read-winner' };
        return [this.#send(head, 'READ')];
      }
      case 'read-winner': {
        if (response.status === 'ERR_UNWRITTEN') {
          throw broken(`head ${head} refused a fill at ${this.address} as written, then read it as unwritten`);
        }
        if (response.status !== 'OK') return this.#unexpected(request, response);
        const value = this.#readValue(response);
        if (value.kind !== 'data') throw broken(`head ${head} refused a fill at ${this.address} as data, then read junk`);
        return this.writeChain(value, 1);
      }
      case 'trim-chain': {
        // Trimmed now, already trimmed, or (an engine that trims only written addresses) nothing there.
        if (response.status !== 'OK' && response.status !== 'ERR_TRIMMED' && response.status !== 'ERR_UNWRITTEN') return this.#unexpected(request, response);
        return this.#trimChain(state.index + 1, state.skip);
      }
      case 'new':
      case 'hole-wait':
      case 'finished':
        // No request is outstanding in these phases, so step() never gets here.
        throw broken(`a response in phase ${state.name}`);
    }
  }
}

/**
 * What one append learned about its address, kept by the driver across the
 * AppendOps of successive projections (a refresh restarts the chain walk).
 */
export interface AppendProgress {
  /**
   * The unit that took our write as the chain's head. While it is still the
   * head, the address is ours whatever happens to it next: nobody can have
   * filled it. If a reconfiguration replaced it, that knowledge is gone (its
   * copy may have died with it and a filler may have taken the new head).
   */
  head: string | undefined;
}

/** Writes one payload at one address (a token), head -> tail; done only after the tail. */
export class AppendOp extends ChainOperation<AppendResult> {
  readonly payload: Uint8Array;
  readonly progress: AppendProgress;

  constructor(projection: Projection, address: number, payload: Uint8Array, progress: AppendProgress = { head: undefined }) {
    super(projection, address);
    if (!(payload instanceof Uint8Array)) throw new TypeError('corfu append: payload must be a Uint8Array');
    this.payload = payload;
    this.progress = progress;
  }

  protected override onHeadWrite(): void {
    this.progress.head = this.target.head;
  }

  protected begin(): ChainAction<AppendResult>[] {
    return this.writeChain({ kind: 'data', payload: this.payload }, 0);
  }

  protected result(): AppendResult {
    return { address: this.address };
  }

  protected override headTaken(written: WrittenAs): ChainAction<AppendResult>[] | undefined {
    // 'same' at the head is our own earlier attempt (a resend): tokens are never
    // handed out twice, so nobody else writes these bytes here. Continue.
    if (written === 'same') return undefined;
    return this.finish({ newToken: { address: this.address, holder: written === 'junk' ? 'junk' : 'data' } });
  }

  /**
   * Before the head took our write, a trim took the address: a new token. After
   * it, the value was decided here (a reader may have copied it down and
   * returned it already), so a trim met anywhere — further down, or at the head
   * after a refresh restarted the walk — acknowledges the append at this
   * address: written, then trimmed. A new token would append the payload twice
   * (the simulator's `append-trimmed-below-head`, test/sim/known-issues.ts).
   * That holds only while the unit that took it is still the head: a replaced
   * head may have taken our only copy with it, and a filler the new head
   * (`append-acked-after-head-replaced`).
   */
  protected trimmed(): ChainAction<AppendResult>[] {
    if (this.progress.head === this.target.head) return this.finish({ done: { address: this.address } });
    return this.finish({ newToken: { address: this.address, holder: 'trimmed' } });
  }
}

function valueResult(address: number, value: Value): ReadResult {
  return value.kind === 'data' ? { address, kind: 'data', payload: value.payload } : { address, kind: 'junk' };
}

/** A read or a fill: answers the address's value, or "trimmed" once the trim is on every replica. */
abstract class ValueOperation extends ChainOperation<ReadResult> {
  protected result(value: Value): ReadResult {
    return valueResult(this.address, value);
  }

  protected trimmed(request: UnitRequest): ChainAction<ReadResult>[] {
    return this.trimEverywhere(request.unit);
  }

  protected override trimmedResult(): ReadResult {
    return { address: this.address, kind: 'trimmed' };
  }
}

/** Reads one address from the tail, completing a half-written chain or filling a hole. */
export class ReadOp extends ValueOperation {
  constructor(projection: Projection, address: number) {
    super(projection, address);
  }

  protected begin(): ChainAction<ReadResult>[] {
    return this.readTail();
  }
}

/** Fills one address with junk unless a value already won its head; returns the winner. */
export class FillOp extends ValueOperation {
  constructor(projection: Projection, address: number) {
    super(projection, address);
  }

  protected begin(): ChainAction<ReadResult>[] {
    return this.startFill();
  }
}

export type ChainOp = AppendOp | ReadOp | FillOp;

export { isTerminal };
