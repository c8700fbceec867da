// The reconfiguration machine (src/client/reconfigure.ts), driven directly:
// a small world of unit models, the real Sequencer state machine and an
// in-memory write-once projection store, with deliveries in any order.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/errors.js';
import { Reconfiguration, type ReconfigAction, type ReconfigEvent, type ReconfigSend } from '../src/client/reconfigure.js';
import { parseProjection, projectionsEqual, type Projection, type ProposeResult } from '../src/layout/index.js';
import type { Change } from '../src/layout/next.js';
import { Sequencer } from '../src/sequencer/state.js';
import { errorResponse } from '../src/wire/codec.js';
import type { Response } from '../src/wire/messages.js';

const u = (i: number): string => `127.0.0.1:${7000 + i}`;
const SEQ = '127.0.0.1:6000';

const epoch1: Projection = parseProjection({
  epoch: 1,
  sequencer: SEQ,
  units: [u(0), u(1), u(2), u(3)],
  segments: [{ start: 0, end: null, stripes: [{ chain: [u(0), u(1)] }, { chain: [u(2), u(3)] }] }],
});

/** A unit as the reconfiguration sees it: an epoch that only moves up, and a tail. */
class UnitModel {
  constructor(
    public epoch: number,
    public tail: number,
    public up = true,
  ) {}
  answer(send: ReconfigSend): Response {
    const r = send.request;
    const sealed = (): Response => errorResponse(r.op, 0, r.epoch, new CorfuError('ERR_SEALED', `unit at ${this.epoch}`, { unitEpoch: this.epoch }));
    if (r.op === 'SEAL') {
      if (r.newEpoch <= this.epoch) return sealed();
      this.epoch = r.newEpoch;
      return { type: 'response', op: 'SEAL', requestId: 0, epoch: r.newEpoch, status: 'OK', tail: this.tail };
    }
    if (r.op === 'TAIL') return r.epoch === this.epoch ? { type: 'response', op: 'TAIL', requestId: 0, epoch: r.epoch, status: 'OK', tail: this.tail } : sealed();
    return errorResponse(r.op, 0, r.epoch, new CorfuError('ERR_BAD_REQUEST', `${r.op} is not for a unit`));
  }
}

class World {
  readonly units = new Map<string, UnitModel>();
  readonly sequencers = new Map<string, Sequencer>();
  readonly slots = new Map<number, Projection>();

  constructor(tails: number[], extra: number[] = []) {
    tails.forEach((tail, i) => this.units.set(u(i), new UnitModel(1, tail)));
    for (const i of extra) this.units.set(u(i), new UnitModel(0, 0));
    this.sequencers.set(SEQ, new Sequencer({ epoch: 1, startTail: Math.max(...tails) }));
    this.slots.set(1, epoch1);
  }

  deliver(send: ReconfigSend): ReconfigEvent {
    if (send.role === 'sequencer') {
      const seq = this.sequencers.get(send.target);
      if (seq === undefined) return { lost: { id: send.id } };
      return { response: { id: send.id, response: seq.handle({ ...send.request, requestId: 0 }) } };
    }
    const unit = this.units.get(send.target);
    if (unit === undefined || !unit.up) return { lost: { id: send.id } };
    return { response: { id: send.id, response: unit.answer(send) } };
  }

  propose(p: Projection): ProposeResult {
    const winner = this.slots.get(p.epoch);
    if (winner !== undefined) return { accepted: false, winner };
    this.slots.set(p.epoch, p);
    return { accepted: true, winner: p };
  }
}

type Terminal = Extract<ReconfigAction, { done: unknown } | { failed: unknown }>;

/** Runs one machine to the end, delivering every action at once, in order. */
function run(world: World, machine: Reconfiguration): Terminal {
  const queue: ReconfigAction[] = machine.start();
  while (queue.length > 0) {
    const action = queue.shift()!;
    if ('send' in action) queue.push(...machine.step(world.deliver(action.send)));
    else if ('propose' in action) queue.push(...machine.step({ proposed: world.propose(action.propose) }));
    else return action;
  }
  throw new Error('the machine stopped without a terminal action');
}

describe('Reconfiguration', () => {
  it('replaces a dead unit: seals the living, bootstraps the sequencer above every tail, proposes the split layout', () => {
    const world = new World([120, 0, 80, 80], [9]);
    world.units.get(u(1))!.up = false;
    const machine = new Reconfiguration(epoch1, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }]);
    const end = run(world, machine);
    expect(end).toHaveProperty('done.adopted', false);
    const next = (end as { done: { projection: Projection } }).done.projection;
    expect(next.epoch).toBe(2);
    expect(next.segments.map((s) => [s.start, s.end])).toEqual([
      [0, 120],
      [120, null],
    ]);
    expect(next.segments[1]!.stripes[0]!.chain).toEqual([u(0), u(9)]);
    expect(world.slots.get(2)).toBe(next);
    for (const i of [0, 2, 3, 9]) expect(world.units.get(u(i))!.epoch).toBe(2);
    const seq = world.sequencers.get(SEQ)!;
    expect(seq.epoch).toBe(2);
    expect(seq.nextToken).toBeGreaterThanOrEqual(120);
  });

  it('does not wait for the seal of a unit it replaces (a hung one would hold the new epoch back a whole timeout); a late answer is ignored', () => {
    const world = new World([120, 120, 80, 80], [9]);
    const machine = new Reconfiguration(epoch1, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }]);
    const sends = machine.start().map((a) => (a as { send: ReconfigSend }).send);
    const hung = sends.find((s) => s.target === u(1))!;
    // Every unit answers but the one being replaced: the machine goes on to BOOTSTRAP.
    const next: ReconfigAction[] = [];
    for (const s of sends) if (s !== hung) next.push(...machine.step(world.deliver(s)));
    expect(next).toEqual([{ send: expect.objectContaining({ role: 'sequencer', request: expect.objectContaining({ op: 'BOOTSTRAP', startTail: 120 }) }) }]);
    // Its answer, when it comes, changes nothing.
    expect(machine.step(world.deliver(hung))).toEqual([]);
    expect(machine.phase).toBe('bootstrapping');
  });

  it('a fresh sequencer elsewhere starts at the largest sealed tail; the old one is sealed on the way', () => {
    const world = new World([5, 5, 700, 690]);
    world.sequencers.set('127.0.0.1:6001', new Sequencer());
    const end = run(world, new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]));
    expect(end).toHaveProperty('done.projection.sequencer', '127.0.0.1:6001');
    expect(world.sequencers.get('127.0.0.1:6001')!.snapshot()).toMatchObject({ epoch: 2, nextToken: 700 });
    expect(world.sequencers.get(SEQ)!.epoch).toBe(2);
  });

  it('a move that fails or loses leaves the old sequencer unsealed: the current layout keeps working', () => {
    const failing = new World([5, 5, 5, 5]);
    failing.sequencers.set('127.0.0.1:6001', new Sequencer());
    failing.units.get(u(2))!.up = false;
    expect(run(failing, new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]))).toMatchObject({ failed: { code: 'ERR_UNAVAILABLE' } });
    expect(failing.sequencers.get(SEQ)!.epoch).toBe(1);

    const losing = new World([5, 5, 5, 5]);
    losing.sequencers.set('127.0.0.1:6001', new Sequencer());
    expect(run(losing, new Reconfiguration(epoch1, []))).toHaveProperty('done.adopted', false); // keeps SEQ at epoch 2
    const late = new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]);
    expect(run(losing, late)).toMatchObject({ done: { adopted: true, projection: { sequencer: SEQ } } });
    // The winner's sequencer was not sealed past epoch 2 by the loser.
    expect(losing.sequencers.get(SEQ)!.epoch).toBe(2);
  });

  it('moving away from a dead sequencer works; a dead sequencer that stays fails the reconfiguration', () => {
    const world = new World([5, 5, 5, 5]);
    world.sequencers.delete(SEQ);
    const stay = run(world, new Reconfiguration(epoch1, []));
    expect(stay).toMatchObject({ failed: { code: 'ERR_UNAVAILABLE' } });
    expect((stay as { failed: { message: string } }).failed.message).toMatch(/sequencer 127.0.0.1:6000 did not answer BOOTSTRAP/);
    expect(world.slots.has(2)).toBe(false);

    const world2 = new World([5, 5, 5, 5]);
    world2.sequencers.delete(SEQ);
    world2.sequencers.set('127.0.0.1:6001', new Sequencer());
    expect(run(world2, new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]))).toHaveProperty('done.adopted', false);
  });

  it('a unit that does not answer and is not being replaced fails it, naming the unit; nothing is proposed', () => {
    const world = new World([5, 5, 5, 5]);
    world.units.get(u(2))!.up = false;
    const end = run(world, new Reconfiguration(epoch1, []));
    expect(end).toMatchObject({ failed: { code: 'ERR_UNAVAILABLE' } });
    expect((end as { failed: { message: string } }).failed.message).toMatch(/unit 127\.0\.0\.1:7002 did not answer SEAL \(replace it\)/);
    expect(world.slots.has(2)).toBe(false);
  });

  it('a unit already above the new epoch means a later projection exists: ERR_SEALED with that epoch', () => {
    const world = new World([5, 5, 5, 5]);
    world.units.get(u(3))!.epoch = 7;
    expect(run(world, new Reconfiguration(epoch1, []))).toMatchObject({ failed: { code: 'ERR_SEALED', unitEpoch: 7 } });
  });

  it('ignores duplicate and late answers', () => {
    const world = new World([5, 5, 5, 5]);
    const machine = new Reconfiguration(epoch1, []);
    const sends = machine.start().map((a) => (a as { send: ReconfigSend }).send);
    const first = world.deliver(sends[0]!);
    expect(machine.step(first)).toEqual([]);
    expect(machine.step(first)).toEqual([]); // a duplicate
    expect(machine.step({ lost: { id: 999 } })).toEqual([]); // never sent
  });

  it('property: two reconfigurations racing in any order install exactly one projection, and the sequencer starts above every tail', () => {
    const changesArb: fc.Arbitrary<Change[]> = fc.constantFrom<Change[]>(
      [],
      [{ kind: 'replace-unit', old: u(1), replacement: u(8) }],
      [{ kind: 'replace-unit', old: u(3), replacement: u(9) }],
      [{ kind: 'add-segment', stripes: [[u(8), u(9)]] }],
      [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }],
    );
    const arb = fc.record({
      tails: fc.array(fc.nat({ max: 1000 }), { minLength: 4, maxLength: 4 }),
      a: changesArb,
      b: changesArb,
      order: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    });
    fc.assert(
      fc.property(arb, ({ tails, a, b, order }) => {
        const world = new World(tails, [8, 9]);
        world.sequencers.set('127.0.0.1:6001', new Sequencer());
        const machines = [new Reconfiguration(epoch1, a), new Reconfiguration(epoch1, b)];
        // Pending deliveries per machine; the schedule picks which goes next.
        const pending: ReconfigAction[][] = machines.map((m) => m.start());
        const ends: (Terminal | undefined)[] = [undefined, undefined];
        let k = 0;
        while (pending.some((p) => p.length > 0)) {
          const live = [0, 1].filter((i) => pending[i]!.length > 0);
          const i = live[order[k++ % order.length]! % live.length]!;
          const queue = pending[i]!;
          const action = queue.splice(order[k++ % order.length]! % queue.length, 1)[0]!;
          if ('send' in action) queue.push(...machines[i]!.step(world.deliver(action.send)));
          else if ('propose' in action) queue.push(...machines[i]!.step({ proposed: world.propose(action.propose) }));
          else ends[i] = action;
        }
        const winner = world.slots.get(2)!;
        expect(winner).toBeDefined();
        for (const end of ends) {
          expect(end).toBeDefined();
          expect(end).toHaveProperty('done');
          const done = (end as { done: { projection: Projection; adopted: boolean } }).done;
          expect(projectionsEqual(done.projection, winner)).toBe(true);
        }
        const seq = world.sequencers.get(winner.sequencer)!;
        expect(seq.epoch).toBe(2);
        expect(seq.nextToken).toBeGreaterThanOrEqual(Math.max(...tails));
      }),
      { numRuns: 500 },
    );
  });
});

// ---- the machine's surface and every refusal, exactly -------------------------------

const ok = (op: 'SEAL' | 'TAIL', tail: number, epoch = 2): Response => ({ type: 'response', op, requestId: 0, epoch, status: 'OK', tail });
const refused = (op: 'SEAL' | 'TAIL' | 'BOOTSTRAP', code: 'ERR_IO' | 'ERR_SEALED', message: string, unitEpoch?: number): Response =>
  errorResponse(op, 0, 1, new CorfuError(code, message, unitEpoch === undefined ? {} : { unitEpoch }));
const sendsOf = (actions: ReconfigAction[]): ReconfigSend[] => actions.map((a) => (a as { send: ReconfigSend }).send);

describe('Reconfiguration, exactly', () => {
  it('start() seals every unit of the current projection and each unit the changes bring in, at once; twice is an InvariantError', () => {
    const machine = new Reconfiguration(epoch1, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }]);
    expect(machine.phase).toBe('new');
    const sends = sendsOf(machine.start());
    expect(sends).toStrictEqual([u(0), u(1), u(2), u(3), u(9)].map((target, i) => ({ id: i + 1, target, role: 'unit', request: { type: 'request', op: 'SEAL', epoch: 1, newEpoch: 2 } })));
    expect(machine.phase).toBe('sealing');
    expect(() => machine.start()).toThrow('corfu invariant broken: reconfiguration: start() called twice');
  });

  it('a unit already at the new epoch is asked its TAIL there, and that tail counts; BOOTSTRAP carries the largest tail, resetStreams only when the sequencer moves', () => {
    const machine = new Reconfiguration(epoch1, []);
    const sends = sendsOf(machine.start());
    expect(machine.step({ response: { id: sends[0]!.id, response: ok('SEAL', 10) } })).toEqual([]);
    const again = machine.step({ response: { id: sends[1]!.id, response: refused('SEAL', 'ERR_SEALED', 'sealed', 2) } });
    expect(again).toStrictEqual([{ send: { id: 5, target: u(1), role: 'unit', request: { type: 'request', op: 'TAIL', epoch: 2 } } }]);
    expect(machine.step({ response: { id: sends[2]!.id, response: ok('SEAL', 7) } })).toEqual([]);
    expect(machine.step({ response: { id: sends[3]!.id, response: ok('SEAL', 3) } })).toEqual([]);
    expect(machine.phase).toBe('sealing');
    const boot = machine.step({ response: { id: 5, response: ok('TAIL', 42) } });
    expect(boot).toStrictEqual([{ send: { id: 6, target: SEQ, role: 'sequencer', request: { type: 'request', op: 'BOOTSTRAP', epoch: 1, newEpoch: 2, startTail: 42, resetStreams: false } } }]);
    expect([...machine.tails]).toEqual([
      [u(0), 10],
      [u(2), 7],
      [u(3), 3],
      [u(1), 42],
    ]);
    expect(machine.phase).toBe('bootstrapping');

    const moving = new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]);
    const seals = sendsOf(moving.start());
    const last = seals.flatMap((s) => moving.step({ response: { id: s.id, response: ok('SEAL', 0) } }));
    expect(last).toStrictEqual([
      { send: { id: 5, target: '127.0.0.1:6001', role: 'sequencer', request: { type: 'request', op: 'BOOTSTRAP', epoch: 1, newEpoch: 2, startTail: 0, resetStreams: true } } },
    ]);
  });

  it('a unit that answers SEAL with another operation, or refuses it, fails the reconfiguration with its words; a replaced unit that refuses does not', () => {
    const wrongOp = new Reconfiguration(epoch1, []);
    const s1 = sendsOf(wrongOp.start());
    const ping: Response = { type: 'response', op: 'PING', requestId: 0, epoch: 2, status: 'OK' };
    expect(wrongOp.step({ response: { id: s1[0]!.id, response: ping } })).toStrictEqual([{ failed: { code: 'ERR_IO', message: `${u(0)} answered SEAL with PING` } }]);
    expect(wrongOp.phase).toBe('finished');
    expect(wrongOp.step({ response: { id: s1[1]!.id, response: ok('SEAL', 1) } })).toEqual([]);

    const refusing = new Reconfiguration(epoch1, []);
    const s2 = sendsOf(refusing.start());
    expect(refusing.step({ response: { id: s2[2]!.id, response: refused('SEAL', 'ERR_IO', 'device failed') } })).toStrictEqual([
      { failed: { code: 'ERR_IO', message: `unit ${u(2)} refused SEAL: device failed` } },
    ]);

    const replacing = new Reconfiguration(epoch1, [{ kind: 'replace-unit', old: u(1), replacement: u(9) }]);
    const s3 = sendsOf(replacing.start());
    const out = s3.flatMap((s) => replacing.step({ response: { id: s.id, response: s.target === u(1) ? refused('SEAL', 'ERR_IO', 'dying') : ok('SEAL', 4) } }));
    expect(out).toStrictEqual([{ send: { id: 6, target: SEQ, role: 'sequencer', request: { type: 'request', op: 'BOOTSTRAP', epoch: 1, newEpoch: 2, startTail: 4, resetStreams: false } } }]);
  });

  it('a refusing or silent sequencer fails it; a change the next projection refuses fails it with that refusal', () => {
    const machine = new Reconfiguration(epoch1, []);
    const seals = sendsOf(machine.start());
    const [boot] = sendsOf(seals.flatMap((s) => machine.step({ response: { id: s.id, response: ok('SEAL', 0) } })));
    expect(machine.step({ lost: { id: boot!.id } })).toStrictEqual([{ failed: { code: 'ERR_UNAVAILABLE', message: `sequencer ${SEQ} did not answer BOOTSTRAP (move the sequencer)` } }]);

    const bad = new Reconfiguration(epoch1, [{ kind: 'replace-unit', old: '127.0.0.1:7777', replacement: u(9) }]);
    const s = sendsOf(bad.start());
    const end = s.flatMap((x) => bad.step({ response: { id: x.id, response: ok('SEAL', 0) } }));
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({ failed: { code: 'ERR_BAD_REQUEST' } });
    expect((end[0] as { failed: { message: string } }).failed.message).toContain('127.0.0.1:7777');
  });

  it('a proposal result before it proposes is an InvariantError; after the end every event is ignored; a lost proposal race adopts the winner', () => {
    const early = new Reconfiguration(epoch1, []);
    early.start();
    expect(() => early.step({ proposed: { accepted: true, winner: epoch1 } })).toThrow('corfu invariant broken: reconfiguration: a proposal result in phase sealing');

    const machine = new Reconfiguration(epoch1, []);
    const seals = sendsOf(machine.start());
    const [boot] = sendsOf(seals.flatMap((s) => machine.step({ response: { id: s.id, response: ok('SEAL', 0) } })));
    const proposing = machine.step({ response: { id: boot!.id, response: { type: 'response', op: 'BOOTSTRAP', requestId: 0, epoch: 2, status: 'OK' } as Response } });
    expect(proposing).toHaveLength(1);
    expect(machine.phase).toBe('proposing');
    const winner = parseProjection({ ...epoch1, epoch: 2, units: [u(0), u(1), u(2), u(3)] });
    const theirs = parseProjection({ ...winner, segments: [{ start: 0, end: null, stripes: [{ chain: [u(1), u(0)] }, { chain: [u(2), u(3)] }] }] });
    expect(machine.step({ proposed: { accepted: false, winner: theirs } })).toStrictEqual([{ done: { projection: theirs, adopted: true } }]);
    expect(machine.phase).toBe('finished');
    expect(machine.step({ proposed: { accepted: true, winner } })).toEqual([]);
    expect(machine.step({ lost: { id: 1 } })).toEqual([]);
  });
});

describe('Reconfiguration, the sequencer', () => {
  /** Seals every unit (OK, tail 0) and returns the BOOTSTRAP send. */
  const toBootstrap = (machine: Reconfiguration): ReconfigSend => {
    const seals = sendsOf(machine.start());
    const [boot] = sendsOf(seals.flatMap((s) => machine.step({ response: { id: s.id, response: ok('SEAL', 0) } })));
    return boot!;
  };
  const bootstrapped: Response = { type: 'response', op: 'BOOTSTRAP', requestId: 0, epoch: 2, status: 'OK' } as Response;

  it('one already bootstrapped at the new epoch (a concurrent reconfiguration) is taken as it is: the machine proposes', () => {
    const machine = new Reconfiguration(epoch1, []);
    const boot = toBootstrap(machine);
    const next = machine.step({ response: { id: boot.id, response: refused('BOOTSTRAP', 'ERR_SEALED', 'at 2', 2) } });
    expect(next).toHaveLength(1);
    expect(next[0]).toHaveProperty('propose.epoch', 2);
  });

  it('a move that wins seals the old sequencer (best effort) and ends there; only units count as tails', () => {
    const machine = new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]);
    const boot = toBootstrap(machine);
    const [propose] = machine.step({ response: { id: boot.id, response: bootstrapped } });
    const mine = (propose as { propose: Projection }).propose;
    const sealOld = machine.step({ proposed: { accepted: true, winner: mine } });
    expect(sealOld).toStrictEqual([{ send: { id: 6, target: SEQ, role: 'sequencer', request: { type: 'request', op: 'SEAL', epoch: 1, newEpoch: 2 } } }]);
    expect(machine.phase).toBe('sealing-old-sequencer');
    expect(machine.step({ response: { id: 6, response: { type: 'response', op: 'SEAL', requestId: 0, epoch: 2, status: 'OK', tail: 99 } } })).toStrictEqual([
      { done: { projection: mine, adopted: false } },
    ]);
    expect(machine.phase).toBe('finished');
    expect([...machine.tails.keys()].sort()).toEqual([u(0), u(1), u(2), u(3)]);
  });

  it('a move that loses adopts the winner and leaves the old sequencer alone; an equal projection already there counts as ours', () => {
    const losing = new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]);
    const boot = toBootstrap(losing);
    const [propose] = losing.step({ response: { id: boot.id, response: bootstrapped } });
    const theirs = parseProjection({ ...(propose as { propose: Projection }).propose, sequencer: '127.0.0.1:6002' });
    expect(losing.step({ proposed: { accepted: false, winner: theirs } })).toStrictEqual([{ done: { projection: theirs, adopted: true } }]);

    const retried = new Reconfiguration(epoch1, []);
    const boot2 = toBootstrap(retried);
    const [propose2] = retried.step({ response: { id: boot2.id, response: bootstrapped } });
    const same = parseProjection({ ...(propose2 as { propose: Projection }).propose });
    expect(retried.step({ proposed: { accepted: false, winner: same } })).toStrictEqual([{ done: { projection: (propose2 as { propose: Projection }).propose, adopted: false } }]);
  });

  it('a unit above the new epoch fails it with words that name it and the epoch', () => {
    const machine = new Reconfiguration(epoch1, []);
    const sends = sendsOf(machine.start());
    expect(machine.step({ response: { id: sends[3]!.id, response: refused('SEAL', 'ERR_SEALED', 'at 7', 7) } })).toStrictEqual([
      { failed: { code: 'ERR_SEALED', message: `unit ${u(3)} is at epoch 7: a later projection exists`, unitEpoch: 7 } },
    ]);
  });
});

describe('Reconfiguration, a move racing another', () => {
  it('the old sequencer already sealed at the new epoch (a concurrent move got there) ends the machine: it is not asked anything more', () => {
    const machine = new Reconfiguration(epoch1, [{ kind: 'move-sequencer', sequencer: '127.0.0.1:6001' }]);
    const seals = sendsOf(machine.start());
    const [boot] = sendsOf(seals.flatMap((s) => machine.step({ response: { id: s.id, response: ok('SEAL', 0) } })));
    const [propose] = machine.step({ response: { id: boot!.id, response: { type: 'response', op: 'BOOTSTRAP', requestId: 0, epoch: 2, status: 'OK' } as Response } });
    const mine = (propose as { propose: Projection }).propose;
    const [sealOld] = sendsOf(machine.step({ proposed: { accepted: true, winner: mine } }));
    expect(machine.step({ response: { id: sealOld!.id, response: refused('SEAL', 'ERR_SEALED', 'at 2', 2) } })).toStrictEqual([{ done: { projection: mine, adopted: false } }]);
  });
});
