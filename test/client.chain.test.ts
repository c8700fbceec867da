// The client's chain protocol (src/client/chain.ts), driven one event at a
// time against in-memory write-once units. FakeUnit is a test double of a
// unit's *storage* (the engine's write-once semantics and status codes, as in
// native/engine/src/store.rs `stage`), never of the protocol: every protocol
// decision is made by the machines under test. No sockets, no timers.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CorfuError, type ErrorCode } from '../bindings/errors.js';
import { InvariantError } from '../bindings/invariant.js';
import { AppendOp, FillOp, ReadOp, chainTarget, isTerminal, type ChainAction, type ChainOp, type ReadResult, type UnitRequest, type UnitResponse } from '../src/client/index.js';
import { parseProjection, type Projection } from '../src/layout/index.js';

// ---- the storage double ------------------------------------------------------

type Slot = { kind: 'data'; payload: Uint8Array } | { kind: 'junk' } | { kind: 'trimmed' };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One unit's write-once address space, answering with the engine's codes. */
class FakeUnit {
  readonly slots = new Map<number, Slot>();
  /** Answer every request with this error (ERR_IO, ...), as a failing device would. */
  failWith: ErrorCode | undefined;

  constructor(
    readonly name: string,
    public epoch = 1,
  ) {}

  handle(req: UnitRequest): UnitResponse {
    const base = { unit: this.name, id: req.id };
    if (this.failWith !== undefined) return { ...base, status: this.failWith };
    if (req.epoch !== this.epoch) return { ...base, status: 'ERR_SEALED', unitEpoch: this.epoch };
    const slot = this.slots.get(req.address);
    if (slot?.kind === 'trimmed') return { ...base, status: 'ERR_TRIMMED' };
    switch (req.op) {
      case 'READ':
        if (slot === undefined) return { ...base, status: 'ERR_UNWRITTEN' };
        if (slot.kind === 'junk') return { ...base, status: 'OK', kind: 'junk' };
        return { ...base, status: 'OK', kind: 'data', payload: Uint8Array.from(slot.payload) };
      case 'WRITE': {
        const payload = req.payload;
        if (payload === undefined) throw new Error('WRITE without payload');
        if (slot === undefined) {
          this.slots.set(req.address, { kind: 'data', payload: Uint8Array.from(payload) });
          return { ...base, status: 'OK' };
        }
        if (slot.kind === 'junk') return { ...base, status: 'ERR_WRITTEN', written: 'junk' };
        return { ...base, status: 'ERR_WRITTEN', written: sameBytes(slot.payload, payload) ? 'same' : 'different' };
      }
      case 'FILL':
        if (req.payload !== undefined) throw new Error('FILL with a payload');
        if (slot === undefined) {
          this.slots.set(req.address, { kind: 'junk' });
          return { ...base, status: 'OK' };
        }
        return { ...base, status: 'ERR_WRITTEN', written: slot.kind === 'junk' ? 'junk' : 'different' };
      case 'TRIM':
        // The engine records a trim whether or not the address held anything.
        this.slots.set(req.address, { kind: 'trimmed' });
        return { ...base, status: 'OK' };
    }
  }
}

// ---- a cluster and drivers ----------------------------------------------------

const ADDRESS = 7;

function projectionOf(chains: string[][], epoch = 1): Projection {
  return parseProjection({
    epoch,
    sequencer: 'seq:9000',
    units: chains.flat(),
    segments: [{ start: 0, end: null, stripes: chains.map((chain) => ({ chain })) }],
  });
}

function cluster(replicas: number): { projection: Projection; units: Map<string, FakeUnit>; chain: string[] } {
  const chain = Array.from({ length: replicas }, (_, i) => `u${i}:${7000 + i}`);
  return { projection: projectionOf([chain]), units: new Map(chain.map((n) => [n, new FakeUnit(n)])), chain };
}

function sendsOf<R>(actions: ChainAction<R>[]): UnitRequest[] {
  return actions.flatMap((a) => ('send' in a ? [a.send] : []));
}

/** Runs `op` to its end, answering every send at once; fires the hole timer when asked. Returns every action. */
function run(op: ChainOp, units: Map<string, FakeUnit>): ChainAction<unknown>[] {
  const log: ChainAction<unknown>[] = [];
  let actions: ChainAction<unknown>[] = op.start();
  for (let guard = 0; guard < 100; guard++) {
    log.push(...actions);
    const next: ChainAction<unknown>[] = [];
    for (const a of actions) {
      if ('send' in a) next.push(...op.step({ response: units.get(a.send.unit)!.handle(a.send) }));
      else if ('wait' in a) next.push(...op.step({ timeout: 'hole-timeout' }));
    }
    if (next.length === 0) return log;
    actions = next;
  }
  throw new Error('operation did not finish');
}

function valueKey(v: Slot | ReadResult | undefined): string {
  if (v === undefined) return 'unwritten';
  if (v.kind === 'data') return `data:${Buffer.from(v.payload).toString('hex')}`;
  return v.kind;
}

function replicaKeys(units: Map<string, FakeUnit>, chain: string[], address = ADDRESS): string[] {
  return chain.map((n) => valueKey(units.get(n)!.slots.get(address)));
}

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

// ---- tests ----------------------------------------------------------------------

describe('chainTarget', () => {
  it('picks the stripe that locate() maps the address to', () => {
    const p = projectionOf([
      ['a:1', 'b:1'],
      ['c:1', 'd:1', 'e:1'],
    ]);
    expect(chainTarget(p, 4)).toEqual({ address: 4, epoch: 1, chain: ['a:1', 'b:1'], head: 'a:1', tail: 'b:1' });
    expect(chainTarget(p, 5)).toEqual({ address: 5, epoch: 1, chain: ['c:1', 'd:1', 'e:1'], head: 'c:1', tail: 'e:1' });
    const op = new ReadOp(p, 5);
    expect(op.start()).toEqual([{ send: { id: 1, unit: 'e:1', op: 'READ', epoch: 1, address: 5 } }]);
  });

  it('refuses an address outside every segment with a CorfuError', () => {
    const p = parseProjection({ epoch: 3, sequencer: 's:1', units: ['a:1'], segments: [{ start: 0, end: 10, stripes: [{ chain: ['a:1'] }] }] });
    expect(() => new AppendOp(p, 10, bytes(1))).toThrow(CorfuError);
  });
});

describe('append', () => {
  it('writes head -> tail in order and acknowledges only after the tail (chains of 1..3)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ maxLength: 64 }), (replicas, payload) => {
        const { projection, units, chain } = cluster(replicas);
        const op = new AppendOp(projection, ADDRESS, payload);
        let actions = op.start();
        for (let i = 0; i < replicas; i++) {
          // Exactly one request out, to replica i, and nothing acknowledged yet.
          expect(actions).toHaveLength(1);
          const [req] = sendsOf(actions);
          expect(req).toMatchObject({ unit: chain[i], op: 'WRITE', epoch: 1, address: ADDRESS });
          expect(op.outcome).toBeUndefined();
          // The replicas after i are still empty: the chain is written in order.
          expect(replicaKeys(units, chain).slice(i)).toEqual(Array(replicas - i).fill('unwritten'));
          actions = op.step({ response: units.get(req!.unit)!.handle(req!) });
        }
        expect(actions).toEqual([{ done: { address: ADDRESS } }]);
        expect(op.finished).toBe(true);
        expect(new Set(replicaKeys(units, chain))).toEqual(new Set([valueKey({ kind: 'data', payload })]));
      }),
    );
  });

  it('gets a new token when a filler took the head', () => {
    const { projection, units } = cluster(2);
    run(new FillOp(projection, ADDRESS), units);
    const op = new AppendOp(projection, ADDRESS, bytes(1, 2));
    expect(run(op, units).at(-1)).toEqual({ newToken: { address: ADDRESS, holder: 'junk' } });
  });

  it('treats ERR_WRITTEN "same" at the head as its own earlier attempt (a lost answer, resent)', () => {
    const { projection, units, chain } = cluster(2);
    const op = new AppendOp(projection, ADDRESS, bytes(9));
    const [first] = sendsOf(op.start());
    units.get(first!.unit)!.handle(first!); // the head stores it; the answer is lost
    const [again] = sendsOf(op.step({ resend: true }));
    expect(again).toMatchObject({ id: 2, unit: chain[0], op: 'WRITE' });
    // The late answer to the first attempt is ignored (wrong id)...
    expect(op.step({ response: { unit: chain[0]!, id: 1, status: 'OK' } })).toEqual([]);
    // ...and the resend's ERR_WRITTEN 'same' moves on down the chain.
    const [next] = sendsOf(op.step({ response: units.get(again!.unit)!.handle(again!) }));
    expect(next).toMatchObject({ unit: chain[1], op: 'WRITE' });
    expect(op.step({ response: units.get(next!.unit)!.handle(next!) })).toEqual([{ done: { address: ADDRESS } }]);
  });

  it('asserts (InvariantError, not CorfuError) when a replica below the head holds another value', () => {
    for (const planted of [{ kind: 'junk' } as const, { kind: 'data', payload: bytes(6, 6) } as const]) {
      const { projection, units, chain } = cluster(3);
      units.get(chain[2]!)!.slots.set(ADDRESS, planted);
      const op = new AppendOp(projection, ADDRESS, bytes(1));
      let err: unknown;
      try {
        run(op, units);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvariantError);
      expect(err).not.toBeInstanceOf(CorfuError);
    }
  });

  it('ignores responses from other units, duplicates and anything after the end', () => {
    const { projection, units, chain } = cluster(2);
    const op = new AppendOp(projection, ADDRESS, bytes(3));
    const [req] = sendsOf(op.start());
    expect(op.step({ response: { unit: chain[1]!, status: 'OK' } })).toEqual([]);
    expect(op.step({ timeout: 'hole-timeout' })).toEqual([]);
    const answer = units.get(req!.unit)!.handle(req!);
    const [second] = sendsOf(op.step({ response: answer }));
    expect(op.step({ response: answer })).toEqual([]); // a duplicate of the head's answer
    op.step({ response: units.get(second!.unit)!.handle(second!) });
    expect(op.finished).toBe(true);
    expect(op.step({ response: answer })).toEqual([]);
    expect(op.step({ resend: true })).toEqual([]);
  });
});

describe('read', () => {
  it('returns the tail value, data or junk, in one request', () => {
    const { projection, units, chain } = cluster(3);
    for (const n of chain) units.get(n)!.slots.set(ADDRESS, { kind: 'data', payload: bytes(4, 2) });
    const log = run(new ReadOp(projection, ADDRESS), units);
    expect(sendsOf(log)).toHaveLength(1);
    expect(log.at(-1)).toEqual({ done: { address: ADDRESS, kind: 'data', payload: bytes(4, 2) } });
  });

  it('completes the chain with the value of a writer that died after the head, without waiting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3 }), fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.nat(), (replicas, payload, k) => {
        const { projection, units, chain } = cluster(replicas);
        // The writer gets 1..replicas-1 replicas written, then stops for good.
        const reached = 1 + (k % (replicas - 1));
        const writer = new AppendOp(projection, ADDRESS, payload);
        let actions = writer.start();
        for (let i = 0; i < reached; i++) {
          const [req] = sendsOf(actions);
          actions = writer.step({ response: units.get(req!.unit)!.handle(req!) });
        }
        expect(writer.finished).toBe(false);

        const log = run(new ReadOp(projection, ADDRESS), units);
        expect(log.some((a) => 'wait' in a)).toBe(false);
        expect(log.at(-1)).toEqual({ done: { address: ADDRESS, kind: 'data', payload } });
        // tail (unwritten), head (the value), then every replica after the head in order.
        expect(sendsOf(log).map((s) => `${s.op} ${s.unit}`)).toEqual([`READ ${chain.at(-1)}`, `READ ${chain[0]}`, ...chain.slice(1).map((n) => `WRITE ${n}`)]);
        expect(new Set(replicaKeys(units, chain))).toEqual(new Set([valueKey({ kind: 'data', payload })]));
      }),
    );
  });

  it('with a replica still being rebuilt, reads the last whole one and copies the value onto the rebuilding ones before answering', () => {
    // [0, 100) of u0 -> u1 -> s9, s9 being rebuilt; the open segment after it does not matter here.
    const projection = parseProjection({
      epoch: 1,
      sequencer: 'seq:9000',
      units: ['u0:7000', 'u1:7001', 's9:7009'],
      segments: [
        { start: 0, end: 100, stripes: [{ chain: ['u0:7000', 'u1:7001', 's9:7009'], rebuilding: ['s9:7009'] }] },
        { start: 100, end: null, stripes: [{ chain: ['u0:7000', 'u1:7001', 's9:7009'] }] },
      ],
    });
    const units = new Map(['u0:7000', 'u1:7001', 's9:7009'].map((n) => [n, new FakeUnit(n)]));
    for (const value of [{ kind: 'data' as const, payload: bytes(4, 2) }, { kind: 'junk' as const }]) {
      // A writer (or filler) got the whole replicas and died before the one being rebuilt.
      const address = value.kind === 'data' ? ADDRESS : ADDRESS + 1;
      for (const n of ['u0:7000', 'u1:7001']) units.get(n)!.slots.set(address, value);
      const log = run(new ReadOp(projection, address), units);
      expect(sendsOf(log).map((r) => `${r.op} ${r.unit}`)).toEqual([`READ u1:7001`, `${value.kind === 'data' ? 'WRITE' : 'FILL'} s9:7009`]);
      expect(log.at(-1)).toEqual({ done: { address, ...value } });
      expect(replicaKeys(units, ['u0:7000', 'u1:7001', 's9:7009'], address)).toEqual(Array(3).fill(valueKey(value)));
    }
  });

  it('finds the head empty, waits for the hole timeout, then fills: junk everywhere', () => {
    for (const replicas of [1, 2, 3]) {
      const { projection, units, chain } = cluster(replicas);
      const op = new ReadOp(projection, ADDRESS);
      let actions = op.start();
      // Ask the tail, then (for chains longer than one) the head; both are empty.
      while (!actions.some((a) => 'wait' in a)) {
        const [req] = sendsOf(actions);
        expect(req!.op).toBe('READ');
        actions = op.step({ response: units.get(req!.unit)!.handle(req!) });
      }
      expect(actions).toEqual([{ wait: 'hole-timeout' }]);
      expect(op.waiting).toBe(true);
      expect(op.pending).toBeUndefined();
      actions = op.step({ timeout: 'hole-timeout' });
      expect(sendsOf(actions)[0]).toMatchObject({ unit: chain[0], op: 'FILL' });
      while (!op.finished) {
        const [req] = sendsOf(actions);
        actions = op.step({ response: units.get(req!.unit)!.handle(req!) });
      }
      expect(op.outcome).toEqual({ done: { address: ADDRESS, kind: 'junk' } });
      expect(replicaKeys(units, chain)).toEqual(Array(replicas).fill('junk'));
      // A late writer with that token must take a new one.
      expect(run(new AppendOp(projection, ADDRESS, bytes(1)), units).at(-1)).toEqual({ newToken: { address: ADDRESS, holder: 'junk' } });
    }
  });

  it('while waiting on a hole, a recheck asks the head again: still empty, it waits again; written meanwhile, the value is copied down without a fill', () => {
    for (const replicas of [1, 2, 3]) {
      const { projection, units, chain } = cluster(replicas);
      const op = new ReadOp(projection, ADDRESS);
      let actions = op.start();
      while (!actions.some((a) => 'wait' in a)) {
        const [req] = sendsOf(actions);
        actions = op.step({ response: units.get(req!.unit)!.handle(req!) });
      }
      // Still empty: READ of the head, then wait again.
      actions = op.step({ timeout: 'recheck' });
      expect(sendsOf(actions)).toMatchObject([{ unit: chain[0], op: 'READ' }]);
      actions = op.step({ response: units.get(chain[0]!)!.handle(sendsOf(actions)[0]!) });
      expect(actions).toEqual([{ wait: 'hole-timeout' }]);
      // A writer reaches the head meanwhile: the next recheck finds it and copies it down.
      const payload = bytes(9);
      units.get(chain[0]!)!.handle({ id: 99, unit: chain[0]!, op: 'WRITE', epoch: 1, address: ADDRESS, payload });
      actions = op.step({ timeout: 'recheck' });
      const sent: UnitRequest[] = [];
      while (!op.finished) {
        const [req] = sendsOf(actions);
        sent.push(req!);
        actions = op.step({ response: units.get(req!.unit)!.handle(req!) });
      }
      expect(sent.some((r) => r.op === 'FILL')).toBe(false);
      expect(op.outcome).toEqual({ done: { address: ADDRESS, kind: 'data', payload } });
      expect(replicaKeys(units, chain)).toEqual(Array(replicas).fill(valueKey({ kind: 'data', payload })));
    }
  });

  it('ignores a recheck or a hole timeout when it is not waiting', () => {
    const { projection } = cluster(2);
    const op = new ReadOp(projection, ADDRESS);
    op.start();
    expect(op.step({ timeout: 'recheck' })).toEqual([]);
    expect(op.step({ timeout: 'hole-timeout' })).toEqual([]);
  });

  it('a trim met above the tail is copied to the rest of the chain before a read or fill answers trimmed (no flicker)', () => {
    for (const make of [(p: Projection) => new ReadOp(p, ADDRESS), (p: Projection) => new FillOp(p, ADDRESS)]) {
      const { projection, units, chain } = cluster(3);
      // A trim walking head -> tail stopped after the head; the rest still holds the value.
      units.get(chain[0]!)!.slots.set(ADDRESS, { kind: 'trimmed' });
      for (const n of chain.slice(1)) units.get(n)!.slots.set(ADDRESS, { kind: 'data', payload: bytes(5) });
      if (make(projection) instanceof ReadOp) units.get(chain[2]!)!.slots.delete(ADDRESS); // the tail is empty: the read asks the head
      const log = run(make(projection), units);
      expect(log.at(-1)).toEqual({ done: { address: ADDRESS, kind: 'trimmed' } });
      expect(
        sendsOf(log)
          .filter((r) => r.op === 'TRIM')
          .map((r) => r.unit),
      ).toEqual(chain.slice(1));
      // Every replica is trimmed now: any later read agrees.
      expect(replicaKeys(units, chain)).toEqual(['trimmed', 'trimmed', 'trimmed']);
      expect(run(new ReadOp(projection, ADDRESS), units).at(-1)).toEqual({ done: { address: ADDRESS, kind: 'trimmed' } });
    }
  });

  it('a trim met at the tail goes up the chain too: once a read answered trimmed, losing the tail resurrects nothing', () => {
    const { projection, units, chain } = cluster(3);
    // A prefix trim reached only the tail; the head and the middle still hold the value.
    for (const n of chain.slice(0, 2)) units.get(n)!.slots.set(ADDRESS, { kind: 'data', payload: bytes(8) });
    units.get(chain[2]!)!.slots.set(ADDRESS, { kind: 'trimmed' });
    const log = run(new ReadOp(projection, ADDRESS), units);
    expect(log.at(-1)).toEqual({ done: { address: ADDRESS, kind: 'trimmed' } });
    expect(
      sendsOf(log)
        .filter((r) => r.op === 'TRIM')
        .map((r) => r.unit),
    ).toEqual(chain.slice(0, 2));
    // The tail is lost and replaced: the survivors answer trimmed, not the old value.
    const survivors = projectionOf([chain.slice(0, 2)]);
    expect(run(new ReadOp(survivors, ADDRESS), units).at(-1)).toEqual({ done: { address: ADDRESS, kind: 'trimmed' } });
  });

  it('an append whose write the head took is acknowledged when a trim meets it further down, even after a refresh', () => {
    const { projection, units, chain } = cluster(3);
    units.get(chain[1]!)!.slots.set(ADDRESS, { kind: 'trimmed' });
    const op = new AppendOp(projection, ADDRESS, bytes(4));
    expect(run(op, units).at(-1)).toEqual({ done: { address: ADDRESS } });
    expect(op.progress.head).toBe(chain[0]);
    // A refresh restarts the walk at the head, which is trimmed by now: still ours, not a new token.
    units.get(chain[0]!)!.slots.set(ADDRESS, { kind: 'trimmed' });
    expect(run(new AppendOp(projection, ADDRESS, bytes(4), op.progress), units).at(-1)).toEqual({ done: { address: ADDRESS } });
    // Without the head's word, a trim means a new token.
    expect(run(new AppendOp(projection, ADDRESS, bytes(4)), units).at(-1)).toEqual({ newToken: { address: ADDRESS, holder: 'trimmed' } });
    // So it does when the unit that took the write is no longer the head (replaced: its copy may be gone).
    const replaced = projectionOf([[chain[1]!, chain[2]!]], 2);
    for (const n of chain) units.get(n)!.epoch = 2;
    expect(run(new AppendOp(replaced, ADDRESS, bytes(4), op.progress), units).at(-1)).toEqual({ newToken: { address: ADDRESS, holder: 'trimmed' } });
  });

  it('ends with a trimmed result when the address was trimmed', () => {
    const { projection, units, chain } = cluster(2);
    for (const n of chain) units.get(n)!.slots.set(ADDRESS, { kind: 'trimmed' });
    expect(run(new ReadOp(projection, ADDRESS), units).at(-1)).toEqual({ done: { address: ADDRESS, kind: 'trimmed' } });
    expect(run(new AppendOp(projection, ADDRESS, bytes(1)), units).at(-1)).toEqual({ newToken: { address: ADDRESS, holder: 'trimmed' } });
  });
});

describe('fill', () => {
  it('lets the data at the head win and copies it down the chain', () => {
    const { projection, units, chain } = cluster(3);
    units.get(chain[0]!)!.slots.set(ADDRESS, { kind: 'data', payload: bytes(5) });
    const log = run(new FillOp(projection, ADDRESS), units);
    expect(sendsOf(log).map((s) => `${s.op} ${s.unit}`)).toEqual([`FILL ${chain[0]}`, `READ ${chain[0]}`, `WRITE ${chain[1]}`, `WRITE ${chain[2]}`]);
    expect(log.at(-1)).toEqual({ done: { address: ADDRESS, kind: 'data', payload: bytes(5) } });
  });

  it('asserts when a replica holds data behind a junk head', () => {
    const { projection, units, chain } = cluster(2);
    units.get(chain[1]!)!.slots.set(ADDRESS, { kind: 'data', payload: bytes(5) });
    expect(() => run(new FillOp(projection, ADDRESS), units)).toThrow(InvariantError);
  });
});

describe('sealed units and failures', () => {
  it('asks for a new projection on ERR_SEALED at any replica', () => {
    for (const sealedAt of [0, 1, 2]) {
      for (const make of [(p: Projection) => new AppendOp(p, ADDRESS, bytes(1)), (p: Projection) => new ReadOp(p, ADDRESS), (p: Projection) => new FillOp(p, ADDRESS)]) {
        const { projection, units, chain } = cluster(3);
        units.get(chain[sealedAt]!)!.epoch = 2;
        const log = run(make(projection), units);
        const last = log.at(-1)!;
        if ('refreshProjection' in last) {
          expect(last).toEqual({ refreshProjection: { epoch: 1, unit: chain[sealedAt], unitEpoch: 2 } });
        } else {
          // A read that never reached the sealed unit (e.g. a junk-filled chain). Not here: every path touches it.
          throw new Error(`expected refreshProjection, got ${JSON.stringify(last)}`);
        }
      }
    }
  });

  it('stops with the unit error for anything else (ERR_IO)', () => {
    const { projection, units, chain } = cluster(2);
    units.get(chain[1]!)!.failWith = 'ERR_IO';
    expect(run(new AppendOp(projection, ADDRESS, bytes(1)), units).at(-1)).toEqual({ failed: { unit: chain[1], op: 'WRITE', code: 'ERR_IO' } });
  });
});

// ---- the machines' surface, protocol violations and broken invariants --------------

type Reply = Omit<UnitResponse, 'unit' | 'id'>;

/** Answers the outstanding request by hand, with a reply the test shapes (a storage double cannot answer outside the protocol). */
function answer(op: ChainOp, reply: Reply): ChainAction<unknown>[] {
  const req = op.pending;
  if (req === undefined) throw new Error('no request outstanding');
  return op.step({ response: { unit: req.unit, id: req.id, ...reply } });
}

/** Answers the outstanding request from the unit it went to. */
function serve(op: ChainOp, units: Map<string, FakeUnit>): ChainAction<unknown>[] {
  const req = op.pending;
  if (req === undefined) throw new Error('no request outstanding');
  return op.step({ response: units.get(req.unit)!.handle(req) });
}

/** The message of the InvariantError (never a CorfuError) that `f` throws. */
function invariantMessage(f: () => unknown): string {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvariantError);
  expect(err).not.toBeInstanceOf(CorfuError);
  return (err as Error).message;
}

const req = (id: number, unit: string, op: UnitRequest['op'], payload?: Uint8Array): UnitRequest =>
  payload === undefined ? { id, unit, op, epoch: 1, address: ADDRESS } : { id, unit, op, epoch: 1, address: ADDRESS, payload };

describe('the operation surface', () => {
  it('isTerminal is true for done, refreshProjection, newToken and failed, false for send and wait', () => {
    expect(isTerminal({ done: { address: ADDRESS } })).toBe(true);
    expect(isTerminal({ refreshProjection: { epoch: 1, unit: 'u0:7000' } })).toBe(true);
    expect(isTerminal({ newToken: { address: ADDRESS, holder: 'junk' } })).toBe(true);
    expect(isTerminal({ failed: { unit: 'u0:7000', op: 'READ', code: 'ERR_IO' } })).toBe(true);
    expect(isTerminal({ send: req(1, 'u0:7000', 'READ') })).toBe(false);
    expect(isTerminal({ wait: 'hole-timeout' })).toBe(false);
  });

  it('reports its phase, the pending request, whether it waits, and every request sent, through a read that fills a hole', () => {
    const { projection, units } = cluster(3);
    const op = new ReadOp(projection, ADDRESS);
    expect([op.phase, op.pending, op.waiting, op.sent]).toEqual(['new', undefined, false, []]);
    expect(op.start()).toEqual([{ send: req(1, 'u2:7002', 'READ') }]);
    expect([op.phase, op.pending, op.waiting]).toEqual(['read-tail', req(1, 'u2:7002', 'READ'), false]);
    expect(serve(op, units)).toEqual([{ send: req(2, 'u0:7000', 'READ') }]);
    expect([op.phase, op.pending, op.waiting]).toEqual(['read-head', req(2, 'u0:7000', 'READ'), false]);
    expect(serve(op, units)).toEqual([{ wait: 'hole-timeout' }]);
    expect([op.phase, op.pending, op.waiting]).toEqual(['hole-wait', undefined, true]);
    // Nothing is outstanding while it waits: a resend sends nothing, and a late copy of
    // the head's answer (a duplicated packet) is ignored.
    expect(op.step({ resend: true })).toEqual([]);
    expect(op.step({ response: { unit: 'u0:7000', id: 2, status: 'ERR_UNWRITTEN' } })).toEqual([]);
    expect([op.phase, op.waiting]).toEqual(['hole-wait', true]);
    expect(op.step({ timeout: 'hole-timeout' })).toEqual([{ send: req(3, 'u0:7000', 'FILL') }]);
    expect([op.phase, op.waiting]).toEqual(['fill-head', false]);
    expect(serve(op, units)).toEqual([{ send: req(4, 'u1:7001', 'FILL') }]);
    expect(op.phase).toBe('write-chain');
    expect(serve(op, units)).toEqual([{ send: req(5, 'u2:7002', 'FILL') }]);
    expect(serve(op, units)).toEqual([{ done: { address: ADDRESS, kind: 'junk' } }]);
    expect([op.phase, op.pending, op.waiting, op.outcome]).toEqual(['finished', undefined, false, { done: { address: ADDRESS, kind: 'junk' } }]);
    // Exactly these requests: a READ or FILL carries no payload key at all.
    expect(op.sent).toStrictEqual([req(1, 'u2:7002', 'READ'), req(2, 'u0:7000', 'READ'), req(3, 'u0:7000', 'FILL'), req(4, 'u1:7001', 'FILL'), req(5, 'u2:7002', 'FILL')]);
  });

  it('an answer without a request id is matched by its unit alone; with an id, only the outstanding one counts', () => {
    const { projection, units } = cluster(2);
    const op = new ReadOp(projection, ADDRESS);
    units.get('u0:7000')!.slots.set(ADDRESS, { kind: 'junk' });
    units.get('u1:7001')!.slots.set(ADDRESS, { kind: 'junk' });
    expect(op.start()).toEqual([{ send: req(1, 'u1:7001', 'READ') }]);
    expect(op.step({ response: { unit: 'u1:7001', id: 9, status: 'OK', kind: 'junk' } })).toEqual([]);
    expect(op.step({ response: { unit: 'u0:7000', status: 'OK', kind: 'junk' } })).toEqual([]);
    expect(op.step({ response: { unit: 'u1:7001', status: 'OK', kind: 'junk' } })).toEqual([{ done: { address: ADDRESS, kind: 'junk' } }]);
  });

  it("start() twice and step() before start() are the caller's bugs: InvariantError", () => {
    const { projection } = cluster(2);
    const op = new ReadOp(projection, ADDRESS);
    expect(invariantMessage(() => op.step({ resend: true }))).toBe('corfu invariant broken: chain: step() before start()');
    op.start();
    expect(invariantMessage(() => op.start())).toBe('corfu invariant broken: chain: start() called twice');
  });

  it('an append refuses a payload that is not a Uint8Array (TypeError), and starts with no head known', () => {
    const { projection } = cluster(2);
    expect(() => new AppendOp(projection, ADDRESS, 'abc' as unknown as Uint8Array)).toThrow(new TypeError('corfu append: payload must be a Uint8Array'));
    expect(() => new AppendOp(projection, ADDRESS, 'abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(new AppendOp(projection, ADDRESS, bytes(1)).progress).toStrictEqual({ head: undefined });
  });
});

describe('terminal actions, exactly', () => {
  it('ERR_SEALED without the unit epoch asks for a refresh without one', () => {
    const { projection } = cluster(2);
    const op = new AppendOp(projection, ADDRESS, bytes(1));
    op.start();
    expect(answer(op, { status: 'ERR_SEALED' })).toStrictEqual([{ refreshProjection: { epoch: 1, unit: 'u0:7000' } }]);
  });

  it("a unit error ends the operation as failed, with the unit's message only when it sent one", () => {
    const { projection } = cluster(2);
    const bare = new ReadOp(projection, ADDRESS);
    bare.start();
    expect(answer(bare, { status: 'ERR_OVERLOADED' })).toStrictEqual([{ failed: { unit: 'u1:7001', op: 'READ', code: 'ERR_OVERLOADED' } }]);
    const worded = new FillOp(projection, ADDRESS);
    worded.start();
    expect(answer(worded, { status: 'ERR_IO', message: 'disk gone' })).toStrictEqual([{ failed: { unit: 'u0:7000', op: 'FILL', code: 'ERR_IO', message: 'disk gone' } }]);
  });

  it('an append whose head holds other data gets a new token (holder data)', () => {
    const { projection, units } = cluster(2);
    units.get('u0:7000')!.slots.set(ADDRESS, { kind: 'data', payload: bytes(6) });
    const log = run(new AppendOp(projection, ADDRESS, bytes(1)), units);
    expect(log).toEqual([{ send: req(1, 'u0:7000', 'WRITE', bytes(1)) }, { newToken: { address: ADDRESS, holder: 'data' } }]);
  });

  it('a single-replica read of an empty address waits at once (its tail is its head: no second READ)', () => {
    const { projection } = cluster(1);
    const op = new ReadOp(projection, ADDRESS);
    op.start();
    expect(answer(op, { status: 'ERR_UNWRITTEN' })).toEqual([{ wait: 'hole-timeout' }]);
    expect(op.sent).toEqual([req(1, 'u0:7000', 'READ')]);
  });

  it('copying a trim down goes on past a replica that answers ERR_UNWRITTEN (nothing there) or ERR_TRIMMED (trimmed already)', () => {
    const { projection } = cluster(3);
    const op = new ReadOp(projection, ADDRESS);
    op.start();
    expect(answer(op, { status: 'ERR_TRIMMED' })).toEqual([{ send: req(2, 'u0:7000', 'TRIM') }]);
    expect(op.phase).toBe('trim-chain');
    expect(answer(op, { status: 'ERR_UNWRITTEN' })).toEqual([{ send: req(3, 'u1:7001', 'TRIM') }]);
    expect(answer(op, { status: 'ERR_TRIMMED' })).toEqual([{ done: { address: ADDRESS, kind: 'trimmed' } }]);
  });

  it('a fill that finds junk at the head (another filler won) copies junk down without reading; ERR_WRITTEN "same" to a FILL counts as junk', () => {
    // The engine answers a FILL over junk with 'junk'; the machine takes 'same' (the unit holds what was asked) alike, at the head and below.
    for (const atHead of ['junk', 'same'] as const) {
      for (const below of ['junk', 'same'] as const) {
        const { projection } = cluster(3);
        const op = new FillOp(projection, ADDRESS);
        expect(op.start()).toEqual([{ send: req(1, 'u0:7000', 'FILL') }]);
        expect(answer(op, { status: 'ERR_WRITTEN', written: atHead })).toEqual([{ send: req(2, 'u1:7001', 'FILL') }]);
        expect(answer(op, { status: 'ERR_WRITTEN', written: below })).toEqual([{ send: req(3, 'u2:7002', 'FILL') }]);
        expect(answer(op, { status: 'OK' })).toEqual([{ done: { address: ADDRESS, kind: 'junk' } }]);
      }
    }
  });
});

describe('protocol violations and broken invariants (InvariantError, with the words that locate them)', () => {
  const read = (p: Projection): ChainOp => new ReadOp(p, ADDRESS);
  const fill = (p: Projection): ChainOp => new FillOp(p, ADDRESS);
  const append = (p: Projection): ChainOp => new AppendOp(p, ADDRESS, bytes(1));
  const cases: Array<{ what: string; make: (p: Projection) => ChainOp; before: Reply[]; reply: Reply; message: string }> = [
    { what: 'OK data without a payload', make: read, before: [], reply: { status: 'OK', kind: 'data' }, message: 'READ of 7 at u2:7002: OK data without a payload' },
    { what: 'OK without a kind', make: read, before: [], reply: { status: 'OK' }, message: 'READ of 7 at u2:7002: OK without a kind' },
    { what: 'ERR_WRITTEN to a WRITE without written', make: append, before: [], reply: { status: 'ERR_WRITTEN' }, message: "ERR_WRITTEN at u0:7000 for 7 without the 'written' detail" },
    { what: 'ERR_WRITTEN to a FILL without written', make: fill, before: [], reply: { status: 'ERR_WRITTEN' }, message: "ERR_WRITTEN at u0:7000 for 7 without the 'written' detail" },
    { what: 'WRITE answered ERR_UNWRITTEN', make: append, before: [{ status: 'OK' }], reply: { status: 'ERR_UNWRITTEN' }, message: 'WRITE of 7 at u1:7001 answered ERR_UNWRITTEN' },
    { what: 'READ of the tail answered ERR_WRITTEN', make: read, before: [], reply: { status: 'ERR_WRITTEN', written: 'same' }, message: 'READ of 7 at u2:7002 answered ERR_WRITTEN' },
    {
      what: 'READ of the head answered ERR_WRITTEN',
      make: read,
      before: [{ status: 'ERR_UNWRITTEN' }],
      reply: { status: 'ERR_WRITTEN', written: 'same' },
      message: 'READ of 7 at u0:7000 answered ERR_WRITTEN',
    },
    { what: 'FILL answered ERR_UNWRITTEN', make: fill, before: [], reply: { status: 'ERR_UNWRITTEN' }, message: 'FILL of 7 at u0:7000 answered ERR_UNWRITTEN' },
    {
      what: 'READ of the winner answered ERR_WRITTEN',
      make: fill,
      before: [{ status: 'ERR_WRITTEN', written: 'different' }],
      reply: { status: 'ERR_WRITTEN', written: 'same' },
      message: 'READ of 7 at u0:7000 answered ERR_WRITTEN',
    },
    { what: 'TRIM answered ERR_WRITTEN', make: read, before: [{ status: 'ERR_TRIMMED' }], reply: { status: 'ERR_WRITTEN', written: 'same' }, message: 'TRIM of 7 at u0:7000 answered ERR_WRITTEN' },
  ];
  for (const c of cases) {
    it(`a unit answering outside the protocol: ${c.what}`, () => {
      const op = c.make(cluster(3).projection);
      op.start();
      for (const r of c.before) expect(answer(op, r)).toHaveLength(1);
      expect(invariantMessage(() => answer(op, c.reply))).toBe(`corfu invariant broken: chain protocol: ${c.message}`);
    });
  }

  it('a head that refused a fill as written, then reads unwritten or junk', () => {
    for (const [reply, words] of [
      [{ status: 'ERR_UNWRITTEN' }, 'as written, then read it as unwritten'],
      [{ status: 'OK', kind: 'junk' }, 'as data, then read junk'],
    ] as const) {
      const op = new FillOp(cluster(3).projection, ADDRESS);
      op.start();
      expect(answer(op, { status: 'ERR_WRITTEN', written: 'different' })).toEqual([{ send: req(2, 'u0:7000', 'READ') }]);
      expect(op.phase).toBe('read-winner');
      expect(invariantMessage(() => answer(op, reply))).toBe(`corfu invariant broken: chain: head u0:7000 refused a fill at 7 ${words}`);
    }
  });

  it('a replica below the head holding another value: which replica, what it holds, what the head decided', () => {
    const planted: Array<{ replicas: number; at: number; slot: Slot; make: (p: Projection) => ChainOp; words: string }> = [
      { replicas: 3, at: 2, slot: { kind: 'junk' }, make: (p) => new AppendOp(p, ADDRESS, bytes(1)), words: 'u2:7002 (replica 2 of 3) holds junk at 7 where the head decided data (1 bytes)' },
      {
        replicas: 3,
        at: 1,
        slot: { kind: 'data', payload: bytes(6, 6) },
        make: (p) => new AppendOp(p, ADDRESS, bytes(1, 2)),
        words: 'u1:7001 (replica 1 of 3) holds different data at 7 where the head decided data (2 bytes)',
      },
      { replicas: 2, at: 1, slot: { kind: 'data', payload: bytes(5) }, make: (p) => new FillOp(p, ADDRESS), words: 'u1:7001 (replica 1 of 2) holds different data at 7 where the head decided junk' },
    ];
    for (const c of planted) {
      const { projection, units, chain } = cluster(c.replicas);
      units.get(chain[c.at]!)!.slots.set(ADDRESS, c.slot);
      expect(invariantMessage(() => run(c.make(projection), units))).toBe(`corfu invariant broken: chain: ${c.words}`);
    }
  });
});

// ---- racing operations under chosen schedules -----------------------------------

interface Actor {
  readonly name: string;
  readonly op: ChainOp;
  /** The message on the wire: a request not yet at its unit, or an answer not yet at the client. */
  inflight: { request: UnitRequest } | { response: UnitResponse } | undefined;
  waiting: boolean;
  dead: boolean;
  ended: ChainAction<unknown> | undefined;
}

interface Move {
  actor: Actor;
  kind: 'request' | 'response' | 'timeout';
}

function absorb(actor: Actor, actions: ChainAction<unknown>[]): void {
  for (const a of actions) {
    if ('send' in a) actor.inflight = { request: a.send };
    else if ('wait' in a) actor.waiting = true;
    else if (isTerminal(a)) actor.ended = a;
  }
}

function moves(actors: Actor[]): Move[] {
  const out: Move[] = [];
  for (const actor of actors) {
    if (actor.dead || actor.ended !== undefined) continue;
    if (actor.inflight !== undefined) out.push({ actor, kind: 'request' in actor.inflight ? 'request' : 'response' });
    else if (actor.waiting) out.push({ actor, kind: 'timeout' });
  }
  return out;
}

interface Race {
  replicas: number;
  payload: Uint8Array;
  /** The competitors besides the writer: a reader goes tail -> head -> wait -> fill; a filler fills at once. */
  others: Array<'reader' | 'filler'>;
  /** Each step: which eligible move (mod their count), and whether to lose that message (then it is resent). */
  schedule: Array<{ pick: number; lose: boolean }>;
  /** The writer stops for good after this many of its own moves (null: it lives). */
  writerDiesAfter: number | null;
}

const raceArb: fc.Arbitrary<Race> = fc.record({
  replicas: fc.integer({ min: 1, max: 3 }),
  payload: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  others: fc.array(fc.constantFrom<'reader' | 'filler'>('reader', 'filler'), { minLength: 1, maxLength: 3 }),
  schedule: fc.array(fc.record({ pick: fc.nat(), lose: fc.boolean() }), { maxLength: 60 }),
  writerDiesAfter: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }),
});

function runRace(race: Race): { actors: Actor[]; units: Map<string, FakeUnit>; chain: string[]; trace: string[] } {
  const { projection, units, chain } = cluster(race.replicas);
  const mk = (name: string, op: ChainOp): Actor => ({ name, op, inflight: undefined, waiting: false, dead: false, ended: undefined });
  const writer = mk('writer', new AppendOp(projection, ADDRESS, race.payload));
  const actors = [writer, ...race.others.map((kind, i) => mk(`${kind}${i}`, kind === 'reader' ? new ReadOp(projection, ADDRESS) : new FillOp(projection, ADDRESS)))];
  for (const a of actors) absorb(a, a.op.start());
  const trace: string[] = [];
  const seen = new Map<string, string>(); // actor -> the value it was given
  let writerMoves = 0;
  let losses = 0;
  for (let step = 0; step < 500; step++) {
    if (race.writerDiesAfter !== null && writerMoves >= race.writerDiesAfter) writer.dead = true;
    const eligible = moves(actors);
    if (eligible.length === 0) break;
    // Past the end of the chosen schedule, run the rest in a fixed order.
    const choice = race.schedule[step] ?? { pick: 0, lose: false };
    const move = eligible[choice.pick % eligible.length]!;
    const { actor } = move;
    if (actor === writer) writerMoves++;
    if (move.kind === 'timeout') {
      actor.waiting = false;
      trace.push(`${actor.name}: hole timeout`);
      absorb(actor, actor.op.step({ timeout: 'hole-timeout' }));
    } else if (choice.lose && losses < 4) {
      // The request or its answer is lost (the request may already have been served).
      losses++;
      trace.push(`${actor.name}: lost ${move.kind}`);
      actor.inflight = undefined;
      absorb(actor, actor.op.step({ resend: true }));
    } else if (move.kind === 'request') {
      const req = (actor.inflight as { request: UnitRequest }).request;
      const response = units.get(req.unit)!.handle(req);
      trace.push(`${actor.name}: ${req.op} ${req.unit} -> ${response.status}${response.written ? ` (${response.written})` : ''}`);
      actor.inflight = { response };
    } else {
      const response = (actor.inflight as { response: UnitResponse }).response;
      actor.inflight = undefined;
      absorb(actor, actor.op.step({ response }));
    }
    // Checker after every step: no two actors were ever given different values.
    if (actor.ended !== undefined && 'done' in actor.ended && actor !== writer) {
      seen.set(actor.name, valueKey(actor.ended.done as ReadResult));
      if (new Set(seen.values()).size > 1) throw new Error(`two values at one address: ${JSON.stringify([...seen])}\n${trace.join('\n')}`);
    }
  }
  return { actors, units, chain, trace };
}

describe('a writer racing fillers and readers (fast-check schedules)', () => {
  it('ends with one value on every replica; the writer either won (its data) or got a new token (junk)', () => {
    fc.assert(
      fc.property(raceArb, (race) => {
        const { actors, units, chain, trace } = runRace(race);
        const why = `\n${trace.join('\n')}`;
        const [writer, ...others] = actors;
        // Everyone alive finished.
        for (const o of others) expect(o.ended, `${o.name} did not finish${why}`).toBeDefined();
        if (!writer!.dead) expect(writer!.ended, `writer did not finish${why}`).toBeDefined();

        // One value on every replica.
        const keys = replicaKeys(units, chain);
        expect(new Set(keys).size, `replicas disagree: ${keys.join(', ')}${why}`).toBe(1);
        const final = keys[0]!;
        const data = valueKey({ kind: 'data', payload: race.payload });
        expect([data, 'junk']).toContain(final);

        // The writer's fate matches the value.
        const ended = writer!.ended;
        if (ended !== undefined && 'done' in ended) expect(final, why).toBe(data);
        else if (ended !== undefined) expect(ended, why).toEqual({ newToken: { address: ADDRESS, holder: 'junk' } });

        // Every reader and filler was given that same value, and so is a reader that comes later.
        for (const o of others) expect(valueKey((o.ended as { done: ReadResult }).done), why).toBe(final);
        const late = run(new ReadOp(projectionOf([chain]), ADDRESS), units).at(-1) as { done: ReadResult };
        expect(valueKey(late.done)).toBe(final);
      }),
      { numRuns: 2000 },
    );
  });

  it('covers both outcomes: some schedules let the writer win, some let a filler win', () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(raceArb, (race) => {
        const ended = runRace({ ...race, writerDiesAfter: null }).actors[0]!.ended!;
        outcomes.add(Object.keys(ended)[0]!);
      }),
      { numRuns: 300, seed: 42 },
    );
    expect(outcomes).toEqual(new Set(['done', 'newToken']));
  });
});
