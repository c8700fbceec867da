// The sequencer as a pure state machine (docs/design.md, "Layers"; invariants 5 and 6).
//
// Input: a decoded request. Output: the one response to send. No clocks, no
// randomness, no sockets: the driver (server.ts) owns those, and a simulator
// can run this same code on a plain JS counter.
//
// State: the epoch, the token counter (behind TokenSource, so the driver can
// plug in the native lock-free counter) and the stream tails (streams.ts).
//
// Rules:
// - Every request except PING, SEAL and BOOTSTRAP must carry the sequencer's
//   epoch; otherwise ERR_SEALED with the sequencer's epoch, and nothing changes.
// - TOKEN(n) returns the first of n consecutive tokens; 1 <= n <= MAX_TOKENS_PER_REQUEST.
//   A token is never handed out twice (asserted: every range starts at or
//   above the end of the previous one).
// - TAIL returns the next token: every token handed out so far is below it.
// - WAIT_TAIL is TAIL held back until the tail passes `after`: waitTail()
//   says whether it can be answered now; the driver parks it (TailWaiters)
//   and answers it when a TOKEN moves the tail or its wait is over.
// - BOOTSTRAP(newEpoch, startTail): newEpoch must be at or above the current
//   epoch (the current one again only raises the counter: two reconfigurations
//   may race to it); the next token becomes max(next, startTail), so the
//   counter never moves down. A reconfiguration sends it with the largest tail the units answered
//   to their SEAL, so a fresh sequencer after failover starts above every
//   written address. SEAL(newEpoch) is BOOTSTRAP with no start tail (it only
//   stops a sequencer that is being replaced).
// - STREAM_TOKEN(n, streams) is TOKEN(n) for entries of those streams: it answers
//   each stream's latest addresses (the first entry's backpointers) and records
//   the new ones. STREAM_TAILS answers the streams' latest addresses and the tail.
//   Both are refused with ERR_RECOVERING while the stream tails are being rebuilt
//   (STREAM_SEED). A BOOTSTRAP forgets them when it says so (resetStreams: another
//   sequencer served in between) or when its start tail is above everything this
//   machine handed out (a fresh process over an old log).
//
// Response headers follow the unit's convention (src/unit/handler.ts): the
// request's id; the epoch of an OK answer is the sequencer's (equal to the
// request's), a SEAL or BOOTSTRAP answer's is the new epoch, an error answer and PING echo
// the request's epoch (ERR_SEALED carries the sequencer's in `unitEpoch`).
//
// A broken invariant is not an error code: it throws InvariantError
// (bindings/invariant.ts), and the driver crashes.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import { errorResponse } from '../wire/codec.js';
import { MAX_TOKENS_PER_REQUEST } from '../wire/messages.js';
import type { Request, Response, WaitTailRequest } from '../wire/messages.js';
import { StreamTails } from './streams.js';
import type { StreamTailsSnapshot } from './streams.js';

/** Where tokens come from: a plain JS counter in tests and simulation, the native AtomicU64 in the server. */
export interface TokenSource {
  /** Reserves `n` (>= 1) consecutive tokens and returns the first. */
  next(n: number): number;
  /** The next token that would be handed out, without taking it. */
  peek(): number;
  /** Makes `start` the next token. The sequencer only ever moves it up. */
  reset(start: number): void;
}

/** A plain, single-threaded counter. */
export class CounterTokenSource implements TokenSource {
  #next: number;

  constructor(start = 0) {
    this.#next = checkPosition(start, 'start');
  }

  next(n: number): number {
    const first = this.#next;
    this.#next += n;
    return first;
  }

  peek(): number {
    return this.#next;
  }

  reset(start: number): void {
    this.#next = checkPosition(start, 'start');
  }
}

function checkPosition(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CorfuError('ERR_BAD_REQUEST', `${what} must be a non-negative safe integer, got ${value}`);
  }
  return value;
}

export interface SequencerOptions {
  /** The epoch this sequencer serves (default 0). */
  readonly epoch?: number;
  /** The first token to hand out; must be above every address written on any unit (default 0). */
  readonly startTail?: number;
  /** The counter (default: a CounterTokenSource). It is moved up to startTail, never down. */
  readonly tokens?: TokenSource;
  /** The most streams it keeps tails for (default DEFAULT_MAX_STREAMS); a STREAM_TOKEN for one more is ERR_FULL. */
  readonly maxStreams?: number;
}

/** A read-only view of the state, for tests, simulation checkers and status output. */
export interface SequencerSnapshot {
  readonly epoch: number;
  readonly nextToken: number;
  readonly tokensIssued: number;
  readonly streams: StreamTailsSnapshot;
}

export class Sequencer {
  #epoch: number;
  readonly #tokens: TokenSource;
  /** Everything below this was handed out by this machine (or skipped by a bootstrap). */
  #issuedEnd: number;
  #tokensIssued = 0;
  readonly #streams: StreamTails;

  constructor(options: SequencerOptions = {}) {
    this.#epoch = checkPosition(options.epoch ?? 0, 'epoch');
    const startTail = checkPosition(options.startTail ?? 0, 'startTail');
    this.#tokens = options.tokens ?? new CounterTokenSource(startTail);
    if (this.#tokens.peek() < startTail) this.#tokens.reset(startTail);
    this.#issuedEnd = this.#tokens.peek();
    invariant(this.#issuedEnd >= startTail, () => `sequencer: counter at ${this.#issuedEnd} after starting at ${startTail}`);
    this.#streams = new StreamTails(this.#issuedEnd, options.maxStreams);
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** The next token: the log's tail as this sequencer knows it. */
  get nextToken(): number {
    return this.#tokens.peek();
  }

  snapshot(): SequencerSnapshot {
    return {
      epoch: this.#epoch,
      nextToken: this.#tokens.peek(),
      tokensIssued: this.#tokensIssued,
      streams: this.#streams.snapshot(),
    };
  }

  /** Answers one request. Never throws on peer input; throws InvariantError on a bug. */
  handle(req: Request): Response {
    const { requestId } = req;
    if (req.op === 'PING') {
      return { type: 'response', op: 'PING', requestId, epoch: req.epoch, status: 'OK' };
    }
    if (req.op === 'SEAL') {
      if (req.newEpoch <= this.#epoch) return errorResponse('SEAL', requestId, req.epoch, this.sealed(`new epoch ${req.newEpoch} is not above it`));
      const result = this.bootstrap(req.newEpoch, this.#tokens.peek());
      if (result instanceof CorfuError) return errorResponse('SEAL', requestId, req.epoch, result);
      return { type: 'response', op: 'SEAL', requestId, epoch: this.#epoch, status: 'OK', tail: result };
    }
    if (req.op === 'BOOTSTRAP') {
      const result = this.bootstrap(req.newEpoch, req.startTail, req.resetStreams);
      if (result instanceof CorfuError) return errorResponse('BOOTSTRAP', requestId, req.epoch, result);
      return { type: 'response', op: 'BOOTSTRAP', requestId, epoch: this.#epoch, status: 'OK', tail: result };
    }
    if (req.epoch !== this.#epoch) {
      return errorResponse(req.op, requestId, req.epoch, this.sealed(`request epoch ${req.epoch}`));
    }
    switch (req.op) {
      case 'TOKEN': {
        const result = this.take(req.count);
        if (result instanceof CorfuError) return errorResponse('TOKEN', requestId, req.epoch, result);
        return { type: 'response', op: 'TOKEN', requestId, epoch: this.#epoch, status: 'OK', first: result };
      }
      case 'TAIL':
      case 'WAIT_TAIL':
        // WAIT_TAIL here is its answer when its wait is over (waitTail() decides whether to park it).
        return { type: 'response', op: req.op, requestId, epoch: this.#epoch, status: 'OK', tail: this.#tokens.peek() };
      case 'STREAM_TOKEN': {
        const refused = this.#streams.unlessRecovered() ?? this.#streams.checkToken(req.streams);
        if (refused !== undefined) return errorResponse('STREAM_TOKEN', requestId, req.epoch, refused);
        const first = this.take(req.count);
        if (first instanceof CorfuError) return errorResponse('STREAM_TOKEN', requestId, req.epoch, first);
        const backpointers = this.#streams.issue(first, req.count, req.streams);
        return { type: 'response', op: 'STREAM_TOKEN', requestId, epoch: this.#epoch, status: 'OK', first, backpointers };
      }
      case 'STREAM_TAILS': {
        const refused = this.#streams.unlessRecovered();
        if (refused !== undefined) return errorResponse('STREAM_TAILS', requestId, req.epoch, refused);
        return {
          type: 'response',
          op: 'STREAM_TAILS',
          requestId,
          epoch: this.#epoch,
          status: 'OK',
          tail: this.#tokens.peek(),
          latest: this.#streams.latest(req.streams),
          floor: this.#streams.floor,
        };
      }
      case 'STREAM_SEED': {
        if (req.from > this.#tokens.peek()) {
          return errorResponse(
            'STREAM_SEED',
            requestId,
            req.epoch,
            new CorfuError('ERR_BAD_REQUEST', `STREAM_SEED of [${req.from}, ${req.to}): nothing at or above the tail ${this.#tokens.peek()} is written`),
          );
        }
        const result = this.#streams.seed(req.from, req.to, req.done, req.entries);
        if (result instanceof CorfuError) return errorResponse('STREAM_SEED', requestId, req.epoch, result);
        return { type: 'response', op: 'STREAM_SEED', requestId, epoch: this.#epoch, status: 'OK', streamsFrom: result.from, recovered: result.recovered };
      }
      default:
        return errorResponse(
          req.op,
          requestId,
          req.epoch,
          new CorfuError('ERR_BAD_REQUEST', `${req.op} is not a sequencer operation (TOKEN, TAIL, WAIT_TAIL, STREAM_TOKEN, STREAM_TAILS, STREAM_SEED, SEAL, BOOTSTRAP, PING)`),
        );
    }
  }

  /**
   * A long poll: its answer now if the tail is past `req.after` (or the
   * request is of another epoch: ERR_SEALED), undefined if it must wait.
   */
  waitTail(req: WaitTailRequest): Response | undefined {
    if (req.epoch !== this.#epoch || this.#tokens.peek() > req.after) return this.handle(req);
    return undefined;
  }

  /**
   * Installs `newEpoch` (at or above the current epoch) and moves the next
   * token up to `startTail` if it is below. Returns the next token, or
   * ERR_SEALED carrying the current epoch for an older epoch.
   *
   * The current epoch again is accepted and only raises the counter: two
   * reconfigurations to one epoch may reach this sequencer in either order
   * (one SEALs it on its way to moving the sequencer, the other BOOTSTRAPs it
   * with the sealed tail), and the projection that wins may be the one that
   * keeps it. Refusing the second start tail would let it hand out addresses
   * already written (the simulator's `bootstrap-after-seal`, test/sim/known-issues.ts).
   *
   * The stream tails are forgotten when `resetStreams` says another sequencer served
   * since this one last did, and when `startTail` is above everything this one handed
   * out (it cannot know the stream entries there); they are then known from the new
   * next token up, and rebuilt below it by STREAM_SEED.
   */
  bootstrap(newEpoch: number, startTail: number, resetStreams = false): number | CorfuError {
    if (!Number.isSafeInteger(newEpoch) || newEpoch < 0 || !Number.isSafeInteger(startTail) || startTail < 0) {
      return new CorfuError('ERR_BAD_REQUEST', `bootstrap(${newEpoch}, ${startTail}): expected non-negative safe integers`);
    }
    if (newEpoch < this.#epoch) return this.sealed(`new epoch ${newEpoch} is below it`);
    const before = this.#tokens.peek();
    invariant(before >= this.#issuedEnd, () => `sequencer: counter at ${before} is below the issued end ${this.#issuedEnd}`);
    if (startTail > before) this.#tokens.reset(startTail);
    const after = this.#tokens.peek();
    invariant(after === Math.max(before, startTail), () => `sequencer: counter at ${after} after bootstrap from ${before} to ${startTail}`);
    if (resetStreams || startTail > this.#issuedEnd) this.#streams.reset(after);
    this.#issuedEnd = after;
    this.#epoch = newEpoch;
    return after;
  }

  /** Takes `count` consecutive tokens; returns the first, or an error for a bad count or an exhausted space. */
  take(count: number): number | CorfuError {
    if (!Number.isInteger(count) || count < 1) {
      return new CorfuError('ERR_BAD_REQUEST', `token count ${count}: expected at least 1`);
    }
    if (count > MAX_TOKENS_PER_REQUEST) {
      return new CorfuError('ERR_TOO_LARGE', `token count ${count}: at most ${MAX_TOKENS_PER_REQUEST} per request`);
    }
    return this.#issue(count);
  }

  /**
   * The tokens of a run of TOKEN requests answered together (token-run.ts): `total` is the
   * sum of their counts, each already within 1..MAX_TOKENS_PER_REQUEST, and the caller
   * hands the range out in request order. ERR_FULL when the whole run does not fit.
   */
  takeRun(total: number): number | CorfuError {
    invariant(Number.isSafeInteger(total) && total >= 1, () => `sequencer: a run of ${total} tokens`);
    return this.#issue(total);
  }

  #issue(count: number): number | CorfuError {
    if (this.#tokens.peek() + count > Number.MAX_SAFE_INTEGER) {
      return new CorfuError('ERR_FULL', 'the token space (2^53) is exhausted');
    }
    const first = this.#tokens.next(count);
    // Never hand out an address twice: each range starts at or above where the last one ended.
    invariant(Number.isSafeInteger(first) && first >= this.#issuedEnd, () => `sequencer: token ${first} handed out below ${this.#issuedEnd}`);
    this.#issuedEnd = first + count;
    this.#tokensIssued += count;
    invariant(this.#tokens.peek() >= this.#issuedEnd, () => `sequencer: counter at ${this.#tokens.peek()} below the issued end ${this.#issuedEnd}`);
    return first;
  }

  private sealed(what: string): CorfuError {
    return new CorfuError('ERR_SEALED', `${what}; the sequencer is at epoch ${this.#epoch}`, { unitEpoch: this.#epoch });
  }
}
