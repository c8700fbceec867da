// The sequencer as a pure state machine, driven directly (no sockets): token
// ranges from any interleaving of clients are disjoint and gapless, epochs are
// checked, bootstrap only moves forward, and a broken counter is caught.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/errors.js';
import { InvariantError } from '../bindings/invariant.js';
import { encodeResponse } from '../src/wire/codec.js';
import { MAX_TOKENS_PER_REQUEST } from '../src/wire/messages.js';
import type { Request, Response, WaitTailRequest } from '../src/wire/messages.js';
import { CounterTokenSource, Sequencer } from '../src/sequencer/state.js';
import type { TokenSource } from '../src/sequencer/state.js';
import { NativeTokenSource } from '../src/sequencer/native-token-source.js';
import { throwsWith } from './helpers/expect-error.js';

let nextId = 1;
function token(epoch: number, count: number): Request {
  return { type: 'request', op: 'TOKEN', requestId: nextId++ >>> 0, epoch, count };
}
function tail(epoch: number): Request {
  return { type: 'request', op: 'TAIL', requestId: nextId++ >>> 0, epoch };
}
function seal(epoch: number, newEpoch: number): Request {
  return { type: 'request', op: 'SEAL', requestId: nextId++ >>> 0, epoch, newEpoch };
}

function bootstrapReq(epoch: number, newEpoch: number, startTail: number): Request {
  return { type: 'request', op: 'BOOTSTRAP', requestId: nextId++ >>> 0, epoch, newEpoch, startTail, resetStreams: false };
}

function firstOf(r: Response): number {
  if (r.op !== 'TOKEN' || r.status !== 'OK') throw new Error(`expected a TOKEN answer, got ${JSON.stringify(r)}`);
  // Every answer must also be encodable on the wire.
  encodeResponse(r);
  return r.first;
}

function tailOf(r: Response): number {
  if ((r.op !== 'TAIL' && r.op !== 'SEAL' && r.op !== 'BOOTSTRAP') || r.status !== 'OK') throw new Error(`expected a tail, got ${JSON.stringify(r)}`);
  encodeResponse(r);
  return r.tail;
}

/** Sorts ranges and checks they are disjoint; returns them sorted. */
function disjoint(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    expect(sorted[i]![0], `range ${String(sorted[i])} overlaps ${String(sorted[i - 1])}`).toBeGreaterThanOrEqual(sorted[i - 1]![0] + sorted[i - 1]![1]);
  }
  return sorted;
}

describe('Sequencer: tokens', () => {
  it('any interleaving of TOKEN requests from several clients yields disjoint, gapless ranges', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1_000_000 }),
        fc.array(fc.record({ client: fc.nat({ max: 5 }), count: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: MAX_TOKENS_PER_REQUEST })) }), {
          minLength: 1,
          maxLength: 200,
        }),
        (start, requests) => {
          const seq = new Sequencer({ epoch: 3, startTail: start });
          const perClient = new Map<number, Array<[number, number]>>();
          for (const { client, count } of requests) {
            const first = firstOf(seq.handle(token(3, count)));
            const mine = perClient.get(client) ?? [];
            // Each client sees its own ranges strictly increasing.
            if (mine.length > 0) expect(first).toBeGreaterThan(mine[mine.length - 1]![0]);
            mine.push([first, count]);
            perClient.set(client, mine);
          }
          const sorted = disjoint([...perClient.values()].flat());
          // Gapless: the ranges tile [start, start + total) exactly.
          let at = start;
          for (const [first, count] of sorted) {
            expect(first).toBe(at);
            at += count;
          }
          expect(tailOf(seq.handle(tail(3)))).toBe(at);
          expect(seq.snapshot().tokensIssued).toBe(at - start);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a count of 0 or above the per-request bound, and an exhausted token space, without moving', () => {
    const seq = new Sequencer({ epoch: 1, startTail: 10 });
    expect(seq.handle(token(1, 0))).toMatchObject({ status: 'ERR_BAD_REQUEST' });
    expect(seq.handle(token(1, MAX_TOKENS_PER_REQUEST + 1))).toMatchObject({ status: 'ERR_TOO_LARGE' });
    expect(seq.nextToken).toBe(10);
    expect(firstOf(seq.handle(token(1, MAX_TOKENS_PER_REQUEST)))).toBe(10);
    expect(seq.nextToken).toBe(10 + MAX_TOKENS_PER_REQUEST);

    const full = new Sequencer({ startTail: Number.MAX_SAFE_INTEGER - 2 });
    expect(firstOf(full.handle(token(0, 2)))).toBe(Number.MAX_SAFE_INTEGER - 2);
    expect(full.handle(token(0, 1))).toMatchObject({ status: 'ERR_FULL' });
    expect(full.nextToken).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("answers PING at any epoch and refuses operations that are not the sequencer's", () => {
    const seq = new Sequencer({ epoch: 4 });
    expect(seq.handle({ type: 'request', op: 'PING', requestId: 9, epoch: 0 })).toMatchObject({ op: 'PING', status: 'OK', requestId: 9, epoch: 0 });
    const write = seq.handle({ type: 'request', op: 'WRITE', requestId: 10, epoch: 4, entries: [{ address: 0, payload: new Uint8Array(1) }] });
    expect(write).toMatchObject({ op: 'WRITE', status: 'ERR_BAD_REQUEST', requestId: 10 });
    encodeResponse(write);
    expect(seq.nextToken).toBe(0);
  });
});

describe('Sequencer: epochs', () => {
  it('refuses TOKEN and TAIL at any other epoch with ERR_SEALED carrying its own epoch, and changes nothing', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), fc.integer({ min: 1, max: 100 }), (mine, theirs, count) => {
        fc.pre(mine !== theirs);
        const seq = new Sequencer({ epoch: mine, startTail: 5 });
        for (const req of [token(theirs, count), tail(theirs)]) {
          const r = seq.handle(req);
          expect(r).toMatchObject({ op: req.op, requestId: req.requestId, status: 'ERR_SEALED', unitEpoch: mine, epoch: theirs });
          encodeResponse(r);
        }
        expect(seq.snapshot()).toMatchObject({ epoch: mine, nextToken: 5, tokensIssued: 0 });
      }),
    );
  });

  it('SEAL refuses an epoch at or below the current one; bootstrap refuses one below it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.nat(), fc.nat({ max: 1_000_000 }), (current, below, startTail) => {
        const atOrBelow = below % (current + 1); // 0..current
        const lower = below % current; // 0..current-1
        const seq = new Sequencer({ epoch: current, startTail: 7 });
        expect(seq.bootstrap(lower, startTail)).toMatchObject({ code: 'ERR_SEALED', unitEpoch: current });
        expect(seq.handle(seal(current, atOrBelow))).toMatchObject({ op: 'SEAL', status: 'ERR_SEALED', unitEpoch: current });
        expect(seq.handle(bootstrapReq(current, lower, startTail))).toMatchObject({ op: 'BOOTSTRAP', status: 'ERR_SEALED', unitEpoch: current });
        expect(seq.snapshot()).toMatchObject({ epoch: current, nextToken: 7 });
      }),
    );
  });

  it('BOOTSTRAP at the current epoch only raises the counter (two reconfigurations racing to one epoch)', () => {
    const seq = new Sequencer({ epoch: 1, startTail: 10 });
    // One reconfiguration SEALs it to 2 (it moves the sequencer away) ...
    expect(tailOf(seq.handle(seal(1, 2)))).toBe(10);
    // ... the other BOOTSTRAPs it to 2 with the sealed tail 500, and its projection wins.
    expect(tailOf(seq.handle(bootstrapReq(1, 2, 500)))).toBe(500);
    expect(firstOf(seq.handle(token(2, 1)))).toBe(500);
    // A lower start tail at the same epoch never moves it down.
    expect(tailOf(seq.handle(bootstrapReq(2, 2, 3)))).toBe(501);
    expect(seq.epoch).toBe(2);
  });

  it('after bootstrap(e, startTail) every token is >= startTail and none is handed out twice; old-epoch requests are sealed', () => {
    type Op = { kind: 'token'; count: number } | { kind: 'bootstrap'; startTail: number } | { kind: 'seal' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 300 }).map((count) => ({ kind: 'token' as const, count })) },
      { weight: 1, arbitrary: fc.nat({ max: 20_000 }).map((startTail) => ({ kind: 'bootstrap' as const, startTail })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'seal' as const }) },
    );
    fc.assert(
      fc.property(fc.nat({ max: 5_000 }), fc.array(op, { maxLength: 120 }), (start, ops) => {
        const seq = new Sequencer({ epoch: 1, startTail: start });
        const ranges: Array<[number, number]> = [];
        let floor = start;
        for (const o of ops) {
          const epoch = seq.epoch;
          if (o.kind === 'token') {
            const first = firstOf(seq.handle(token(epoch, o.count)));
            expect(first).toBeGreaterThanOrEqual(floor);
            ranges.push([first, o.count]);
          } else {
            const before = seq.nextToken;
            // BOOTSTRAP over the wire half the time, the method the other half.
            const next =
              o.kind === 'seal'
                ? tailOf(seq.handle(seal(epoch, epoch + 1)))
                : o.startTail % 2 === 0
                  ? tailOf(seq.handle(bootstrapReq(epoch, epoch + 1, o.startTail)))
                  : seq.bootstrap(epoch + 1, o.startTail);
            const startTail = o.kind === 'bootstrap' ? o.startTail : before;
            expect(next).toBe(Math.max(before, startTail));
            expect(seq.epoch).toBe(epoch + 1);
            floor = Math.max(floor, startTail);
            // The old epoch is now refused.
            expect(seq.handle(token(epoch, 1))).toMatchObject({ status: 'ERR_SEALED', unitEpoch: epoch + 1 });
          }
        }
        disjoint(ranges);
      }),
      { numRuns: 300 },
    );
  });

  it('a fresh sequencer starts at its start tail; a counter already above it is never moved down', () => {
    expect(new Sequencer({ epoch: 2, startTail: 1234 }).nextToken).toBe(1234);
    const ahead = new CounterTokenSource(5000);
    const seq = new Sequencer({ epoch: 2, startTail: 1234, tokens: ahead });
    expect(seq.nextToken).toBe(5000);
    expect(seq.bootstrap(3, 100)).toBe(5000);
    expect(firstOf(seq.handle(token(3, 1)))).toBe(5000);
  });
});

describe('Sequencer: long polls, bad input and its answers', () => {
  const waitReq = (epoch: number, after: number): WaitTailRequest => ({ type: 'request', op: 'WAIT_TAIL', requestId: nextId++ >>> 0, epoch, after, waitMs: 100 });

  it('WAIT_TAIL waits while the tail is at or below `after`, is answered once it passes, and is sealed at another epoch', () => {
    const seq = new Sequencer({ epoch: 2, startTail: 10 });
    expect(seq.waitTail(waitReq(2, 10))).toBeUndefined();
    expect(seq.waitTail(waitReq(2, 11))).toBeUndefined();
    expect(seq.waitTail(waitReq(2, 9))).toMatchObject({ type: 'response', op: 'WAIT_TAIL', status: 'OK', epoch: 2, tail: 10 });
    firstOf(seq.handle(token(2, 1)));
    expect(seq.waitTail(waitReq(2, 10))).toMatchObject({ op: 'WAIT_TAIL', status: 'OK', tail: 11 });
    expect(seq.waitTail(waitReq(1, 100))).toMatchObject({ op: 'WAIT_TAIL', status: 'ERR_SEALED', unitEpoch: 2, epoch: 1 });
    expect(seq.waitTail(waitReq(3, 0))).toMatchObject({ op: 'WAIT_TAIL', status: 'ERR_SEALED', unitEpoch: 2 });
  });

  it('refuses a start, an epoch or a bootstrap that is not a non-negative safe integer', () => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => new CounterTokenSource(bad)).toThrow(/start must be a non-negative safe integer/);
      expect(throwsWith(() => new CounterTokenSource(0).reset(bad), 'ERR_BAD_REQUEST').message).toBe(`start must be a non-negative safe integer, got ${bad}`);
      expect(() => new Sequencer({ epoch: bad })).toThrow(/epoch must be a non-negative safe integer/);
      expect(() => new Sequencer({ startTail: bad })).toThrow(/startTail must be a non-negative safe integer/);
      const seq = new Sequencer({ epoch: 1 });
      for (const [e, t] of [
        [bad, 0],
        [2, bad],
      ] as const) {
        const r = seq.bootstrap(e, t);
        expect(r).toBeInstanceOf(CorfuError);
        expect((r as CorfuError).code).toBe('ERR_BAD_REQUEST');
        expect((r as CorfuError).message).toMatch(/expected non-negative safe integers/);
      }
      expect(seq.epoch).toBe(1);
    }
    // SEAL to an epoch past the safe integers: refused, nothing changes.
    const seq = new Sequencer({ epoch: 1 });
    expect(seq.handle(seal(1, Number.MAX_SAFE_INTEGER + 1))).toMatchObject({ op: 'SEAL', status: 'ERR_BAD_REQUEST', epoch: 1 });
    expect(seq.epoch).toBe(1);
  });

  it("answers are responses of the request's operation, and errors say why", () => {
    const seq = new Sequencer({ epoch: 1, startTail: 7 });
    const ping: Request = { type: 'request', op: 'PING', requestId: 9, epoch: 5 };
    expect(seq.handle(ping)).toEqual({ type: 'response', op: 'PING', requestId: 9, epoch: 5, status: 'OK' });
    expect(seq.handle(token(1, 2))).toMatchObject({ type: 'response', op: 'TOKEN', status: 'OK', first: 7 });
    expect(seq.handle(tail(1))).toMatchObject({ type: 'response', op: 'TAIL', status: 'OK', tail: 9 });
    expect(seq.handle(token(0, 1))).toMatchObject({ type: 'response', op: 'TOKEN', status: 'ERR_SEALED', message: 'request epoch 0; the sequencer is at epoch 1' });
    expect(seq.handle(token(1, 0))).toMatchObject({ op: 'TOKEN', status: 'ERR_BAD_REQUEST', message: 'token count 0: expected at least 1' });
    expect(seq.handle(token(1, MAX_TOKENS_PER_REQUEST + 1))).toMatchObject({
      op: 'TOKEN',
      status: 'ERR_TOO_LARGE',
      message: `token count ${MAX_TOKENS_PER_REQUEST + 1}: at most ${MAX_TOKENS_PER_REQUEST} per request`,
    });
    const read: Request = { type: 'request', op: 'READ', requestId: 3, epoch: 1, addresses: [0] };
    expect(seq.handle(read)).toMatchObject({
      op: 'READ',
      status: 'ERR_BAD_REQUEST',
      message: 'READ is not a sequencer operation (TOKEN, TAIL, WAIT_TAIL, STREAM_TOKEN, STREAM_TAILS, STREAM_SEED, SEAL, BOOTSTRAP, PING)',
    });
    expect(seq.handle(seal(1, 1))).toMatchObject({ op: 'SEAL', status: 'ERR_SEALED', message: 'new epoch 1 is not above it; the sequencer is at epoch 1' });
    expect(seq.handle(seal(1, 2))).toMatchObject({ type: 'response', op: 'SEAL', status: 'OK', epoch: 2, tail: 9 });
    expect(seq.handle(bootstrapReq(2, 3, 20))).toMatchObject({ type: 'response', op: 'BOOTSTRAP', status: 'OK', epoch: 3, tail: 20 });
    expect(seq.handle(bootstrapReq(3, 2, 30))).toMatchObject({ op: 'BOOTSTRAP', status: 'ERR_SEALED', message: 'new epoch 2 is below it; the sequencer is at epoch 3' });
    const full = new Sequencer({ startTail: Number.MAX_SAFE_INTEGER - 1 });
    expect(full.handle(token(0, 2))).toMatchObject({ op: 'TOKEN', status: 'ERR_FULL', message: 'the token space (2^53) is exhausted' });
  });
});

describe('Sequencer: invariants', () => {
  it('asserts (throws InvariantError) when the counter hands out a token twice', () => {
    /** A broken counter: counts, but always answers 0. */
    let counted = 0;
    const broken: TokenSource = {
      next: (n) => {
        counted += n;
        return 0;
      },
      peek: () => counted,
      reset: () => {},
    };
    const seq = new Sequencer({ tokens: broken });
    firstOf(seq.handle(token(0, 1)));
    expect(() => seq.handle(token(0, 1))).toThrow(InvariantError);
    expect(() => seq.handle(token(0, 1))).toThrow(/token 0 handed out below/);
  });

  it('asserts when the counter does not advance past what it handed out', () => {
    const stuck: TokenSource = { next: () => 0, peek: () => 0, reset: () => {} };
    const seq = new Sequencer({ tokens: stuck });
    expect(() => seq.handle(token(0, 1))).toThrow(InvariantError);
    expect(() => new Sequencer({ tokens: stuck }).handle(token(0, 1))).toThrow(/counter at 0 below the issued end 1/);
  });

  it('asserts when a bootstrap reset does not take', () => {
    const stuck: TokenSource = { next: () => 0, peek: () => 0, reset: () => {} };
    const seq = new Sequencer({ tokens: stuck });
    expect(() => seq.bootstrap(1, 10)).toThrow(InvariantError);
    expect(() => new Sequencer({ tokens: stuck }).bootstrap(1, 10)).toThrow(/counter at 0 after bootstrap from 0 to 10/);
    // Nor at the start: a fresh sequencer must start at its start tail.
    expect(() => new Sequencer({ startTail: 10, tokens: stuck })).toThrow(/counter at 0 after starting at 10/);
  });

  it('asserts when the counter moved below what it handed out before a bootstrap', () => {
    let at = 5;
    const slipping: TokenSource = {
      next: (n) => {
        const first = at;
        at += n;
        return first;
      },
      peek: () => at,
      reset: (start) => (at = start),
    };
    const seq = new Sequencer({ tokens: slipping });
    firstOf(seq.handle(token(0, 5)));
    at = 3; // the counter went back
    expect(() => seq.bootstrap(1, 0)).toThrow(/counter at 3 is below the issued end 10/);
  });

  it('runs the same on the native counter', () => {
    const seq = new Sequencer({ epoch: 1, startTail: 100, tokens: new NativeTokenSource(0) });
    expect(seq.nextToken).toBe(100);
    expect(firstOf(seq.handle(token(1, 10)))).toBe(100);
    expect(seq.bootstrap(2, 500)).toBe(500);
    expect(firstOf(seq.handle(token(2, 3)))).toBe(500);
    expect(seq.bootstrap(3, 0)).toBe(503);
    expect(tailOf(seq.handle(tail(3)))).toBe(503);
  });
});
