// Planted bugs in the client's machines, switched on for one seed by patching
// the REAL classes the real CorfuClient and reconfiguration driver construct
// (src/client/chain.ts AppendOp/ReadOp/FillOp, src/client/reconfigure.ts
// Reconfiguration, src/client/budget.ts CallBudget): each patch rewrites the actions a machine returns or the
// events fed to it, the way a broken driver would. The stream bugs patch the
// sequencer's StreamTails and Sequencer and the client's StreamReader. `installPatches` returns
// the function that takes them out again; runs never overlap (one seed at a time).

import { CallBudget } from '../../src/client/budget.js';
import { AppendOp, FillOp, ReadOp } from '../../src/client/chain.js';
import type { ChainAction, ChainEvent, UnitRequest } from '../../src/client/chain.js';
import { Reconfiguration } from '../../src/client/reconfigure.js';
import type { ReconfigAction, ReconfigEvent, ReconfigRequest } from '../../src/client/reconfigure.js';
import type { ChainTarget } from '../../src/client/target.js';
import { locate } from '../../src/layout/mapping.js';
import { nextProjection } from '../../src/layout/next.js';
import { FailureDetector, type ProbeAnswer } from '../../src/manager/detector.js';
import { Manager, type ManagerAction, type ManagerEvent } from '../../src/manager/machine.js';
import { ChainProgress, Rebuild, type RebuildChain, type RebuildResult } from '../../src/manager/rebuild.js';
import { StreamReader } from '../../src/client/stream-reader.js';
import { Sequencer } from '../../src/sequencer/state.js';
import { StreamTails } from '../../src/sequencer/streams.js';
import type { Request, Response, SeedEntry, StreamAddresses, StreamId } from '../../src/wire/messages.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';

const CHAIN_BUGS = ['ack-after-head', 'fill-without-reading-head', 'read-from-head', 'junk-not-propagated', 'chain-reversed', 'append-ignores-newtoken'];
const MANAGER_BUGS = [
  'rebuild-resume-past-gap',
  'rebuild-skip-copy',
  'rebuild-done-on-failure',
  'rebuild-never-retries',
  'rebuild-drops-last',
  'rebuild-copies-from-tail',
  'spare-not-empty',
  'epoch-storm',
  'rebuilt-on-start',
  'rebuilt-marks-all',
];
const STEP_BUGS = ['rebuild-done-on-failure', 'rebuild-never-retries', 'epoch-storm', 'rebuilt-on-start', 'rebuilt-marks-all'];
const RECONFIG_BUGS = ['reconfig-skip-seal', 'reconfig-min-tail', 'bootstrap-at-zero', 'reconfig-no-adopt', 'reconfig-ignore-sealed-unit'];
const STREAM_BUGS = ['streams-never-reset', 'stream-tails-while-recovering', 'backpointers-drop-newest', 'seed-skips-contiguity', 'recovery-done-early', 'reader-no-scan'];

type Kind = 'append' | 'read' | 'fill';

/** A machine as the planted wrappers see it: its original methods, bound. */
interface Machine<R> {
  readonly target: ChainTarget;
  readonly pending: UnitRequest | undefined;
  start(): ChainAction<R>[];
  step(event: ChainEvent): ChainAction<R>[];
}

/** Replaces `proto[name]` with `make(original)`; returns the undo. */
function patch<T extends object>(proto: T, name: keyof T & string, make: (original: (...args: never[]) => unknown) => (...args: never[]) => unknown): () => void {
  const own = Object.prototype.hasOwnProperty.call(proto, name);
  const original = proto[name] as (...args: never[]) => unknown;
  (proto as Record<string, unknown>)[name] = make(original);
  return () => {
    if (own) (proto as Record<string, unknown>)[name] = original;
    else delete (proto as Record<string, unknown>)[name];
  };
}

/**
 * Not a bug: a watch over every CallBudget of the run. A call's budget is over once the call
 * returned (`done`); nothing of the call may send a request after that (`requestTimeout`
 * is asked for each one). Reported as `deadline`. Returns the undo.
 */
export function watchBudgets(check: Checkers): () => void {
  const over = new WeakSet<CallBudget>();
  const undo = [
    patch(
      CallBudget.prototype,
      'done',
      (original) =>
        function (this: CallBudget) {
          over.add(this);
          original.call(this);
        },
    ),
    patch(
      CallBudget.prototype,
      'requestTimeout',
      (original) =>
        function (this: CallBudget, timeoutMs: number) {
          const ms = (original as (t: number) => number).call(this, timeoutMs);
          if (over.has(this)) check.fail('deadline', `${this.what}: a request was sent after the call returned (its budget was over)`);
          return ms;
        },
    ),
  ];
  return () => {
    for (const u of undo.reverse()) u();
  };
}

/** Plants the chain and reconfiguration bugs of `bugs`; returns the undo. */
export function installPatches(bugs: Bugs): () => void {
  const undo: Array<() => void> = [];
  if (CHAIN_BUGS.some((b) => bugs.has(b))) {
    for (const [cls, kind] of [
      [AppendOp, 'append'],
      [ReadOp, 'read'],
      [FillOp, 'fill'],
    ] as const)
      undo.push(...patchChain(cls.prototype, kind, bugs));
  }
  if (RECONFIG_BUGS.some((b) => bugs.has(b))) undo.push(...patchReconfiguration(bugs));
  if (MANAGER_BUGS.some((b) => bugs.has(b))) undo.push(...patchManager(bugs));
  if (STREAM_BUGS.some((b) => bugs.has(b))) undo.push(...patchStreams(bugs));
  if (bugs.has('budget-not-raced')) {
    // Waits no longer end at the deadline: only the checks between them do.
    undo.push(
      patch(
        CallBudget.prototype,
        'race',
        () =>
          function <T>(this: CallBudget, p: Promise<T>): Promise<T> {
            return p;
          },
      ),
    );
  }
  return () => {
    for (const u of undo.reverse()) u();
  };
}

function patchChain(proto: AppendOp | ReadOp | FillOp, kind: Kind, bugs: Bugs): Array<() => void> {
  const planted = new WeakMap<object, Planted<unknown>>();
  let start: (...a: never[]) => unknown = () => undefined;
  let step: (...a: never[]) => unknown = () => undefined;
  const wrapperOf = (op: Machine<unknown>): Planted<unknown> => {
    let p = planted.get(op);
    if (p === undefined) {
      const machine: Machine<unknown> = {
        get target() {
          return op.target;
        },
        get pending() {
          return op.pending;
        },
        start: () => start.call(op) as ChainAction<unknown>[],
        step: (e) => (step as (e: ChainEvent) => unknown).call(op, e) as ChainAction<unknown>[],
      };
      planted.set(op, (p = new Planted(machine, kind, bugs)));
    }
    return p;
  };
  return [
    patch(proto as unknown as Machine<unknown>, 'start', (original) => {
      start = original;
      return function (this: Machine<unknown>) {
        return wrapperOf(this).start();
      };
    }),
    patch(proto as unknown as Machine<unknown>, 'step', (original) => {
      step = original;
      return function (this: Machine<unknown>, e: ChainEvent) {
        return wrapperOf(this).step(e);
      };
    }),
  ];
}

class Planted<R> {
  readonly #op: Machine<R>;
  readonly #kind: Kind;
  readonly #bugs: Bugs;
  /** Request id -> the unit the machine meant, for requests sent elsewhere. */
  readonly #redirected = new Map<number, string>();
  #finished = false;

  constructor(op: Machine<R>, kind: Kind, bugs: Bugs) {
    this.#op = op;
    this.#kind = kind;
    this.#bugs = bugs;
  }

  get target(): ChainTarget {
    return this.#op.target;
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
      if (this.#bugs.has('fill-without-reading-head') && pending?.op === 'FILL' && pending.unit === head && r.status === 'ERR_WRITTEN' && r.written === 'different') {
        r = { ...r, written: 'junk' };
      }
      e = { response: r };
      const actions = this.#op.step(e);
      if (this.#bugs.has('ack-after-head') && this.#kind === 'append' && chain.length > 1 && pending?.op === 'WRITE' && pending.unit === head && r.status === 'OK') {
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

// ---- reconfiguration ---------------------------------------------------------------

function patchReconfiguration(bugs: Bugs): Array<() => void> {
  const proto = Reconfiguration.prototype;
  /** Per machine: the ids of its BOOTSTRAP sends. */
  const bootstraps = new WeakMap<Reconfiguration, Set<number>>();
  const ids = (m: Reconfiguration): Set<number> => {
    let s = bootstraps.get(m);
    if (s === undefined) bootstraps.set(m, (s = new Set()));
    return s;
  };
  const rewrite = (m: Reconfiguration, actions: ReconfigAction[]): ReconfigAction[] =>
    actions.map((a): ReconfigAction => {
      if ('send' in a) {
        let request: ReconfigRequest = a.send.request;
        if (request.op === 'SEAL' && a.send.role === 'unit' && bugs.has('reconfig-skip-seal')) {
          request = { type: 'request', op: 'TAIL', epoch: m.current.epoch };
        }
        if (request.op === 'BOOTSTRAP') {
          const tails = [...m.tails.values()];
          if (bugs.has('reconfig-min-tail') && tails.length > 0) request = { ...request, startTail: Math.min(...tails) };
          if (bugs.has('bootstrap-at-zero')) request = { ...request, startTail: 0 };
          ids(m).add(a.send.id);
        }
        return request === a.send.request ? a : { send: { ...a.send, request } };
      }
      if ('done' in a && a.done.adopted && bugs.has('reconfig-no-adopt')) {
        // Use what we proposed, not the winner.
        const mine = nextProjection(m.current, m.changes, Math.max(0, ...m.tails.values()));
        return { done: { projection: mine, adopted: false } };
      }
      return a;
    });
  return [
    patch(
      proto,
      'start',
      (original) =>
        function (this: Reconfiguration) {
          return rewrite(this, original.call(this) as ReconfigAction[]);
        },
    ),
    patch(
      proto,
      'step',
      (original) =>
        function (this: Reconfiguration, event: ReconfigEvent) {
          const step = (e: ReconfigEvent): ReconfigAction[] => rewrite(this, (original as (e: ReconfigEvent) => unknown).call(this, e) as ReconfigAction[]);
          if ('response' in event) {
            const { id, response } = event.response;
            if (bugs.has('reconfig-ignore-sealed-unit') && response.status === 'ERR_SEALED' && response.unitEpoch === this.epoch && response.op === 'SEAL' && !ids(this).has(id)) {
              return step({ response: { id, response: { type: 'response', op: 'SEAL', requestId: response.requestId, epoch: this.epoch, status: 'OK', tail: 0 } } });
            }
          }
          return step(event);
        },
    ),
  ];
}

/** The manager's planted bugs: in its machine (src/manager/machine.ts), its failure detector and its rebuild pass. */
function patchManager(bugs: Bugs): Array<() => void> {
  const undo: Array<() => void> = [];
  if (bugs.has('rebuild-skip-copy')) {
    // Reports every chain copied without reading or writing anything.
    undo.push(
      patch(
        Rebuild.prototype,
        'run',
        () =>
          async function (this: Rebuild): Promise<RebuildResult> {
            return { addresses: this.plan().reduce((n, c) => n + c.addresses.length, 0), bytes: 0, trimMark: 0, resumed: 0, resume: { formatId: '', copiedBelow: {} } };
          },
      ),
    );
  }
  if (bugs.has('rebuild-drops-last') || bugs.has('rebuild-copies-from-tail')) {
    undo.push(
      patch(
        Rebuild.prototype,
        'plan',
        (original) =>
          function (this: Rebuild): RebuildChain[] {
            const plan = (original as () => RebuildChain[]).call(this);
            if (bugs.has('rebuild-drops-last')) return plan.map((c) => ({ ...c, addresses: c.addresses.slice(0, -1) }));
            // The chain's last unit (one being rebuilt, maybe the unit itself) instead of its last whole replica.
            return plan.map((c) => {
              const chain = chainHolding(this.layout, c.addresses[0]);
              return chain === undefined ? c : { ...c, source: chain[chain.length - 1]! };
            });
          },
      ),
    );
  }
  if (STEP_BUGS.some((b) => bugs.has(b))) {
    undo.push(
      patch(
        Manager.prototype,
        'step',
        (original) =>
          function (this: Manager, event: ManagerEvent): ManagerAction[] {
            const step = original as (e: ManagerEvent) => ManagerAction[];
            if ('rebuildDone' in event && !event.rebuildDone.ok) {
              // A pass that stopped short is taken for a finished one, or forgotten (the machine waits for it forever).
              if (bugs.has('rebuild-done-on-failure')) return step.call(this, { rebuildDone: { ...event.rebuildDone, ok: true } });
              if (bugs.has('rebuild-never-retries')) return [];
            }
            let actions = step.call(this, event);
            // The unit is marked whole as its copy starts, not when it ends.
            if (bugs.has('rebuilt-on-start') && !this.reconfiguring) {
              const started = actions.find((a): a is Extract<ManagerAction, { rebuild: unknown }> => 'rebuild' in a);
              if (started !== undefined) actions = [...actions, { reconfigure: { changes: [{ kind: 'rebuilt', unit: started.rebuild.unit }], reason: `rebuild of ${started.rebuild.unit} started` } }];
            }
            // When one unit's rebuild is done, every unit being rebuilt is marked whole.
            if (bugs.has('rebuilt-marks-all')) {
              const rebuilding = [...new Set(this.layout.segments.flatMap((s) => s.stripes.flatMap((t) => t.rebuilding ?? [])))];
              actions = actions.map((a) =>
                'reconfigure' in a && a.reconfigure.changes.some((c) => c.kind === 'rebuilt')
                  ? { reconfigure: { ...a.reconfigure, changes: rebuilding.map((unit) => ({ kind: 'rebuilt' as const, unit })) } }
                  : a,
              );
            }
            // Flapping taken for a reason to move: a new epoch at every tick, past the per-minute guard.
            if (bugs.has('epoch-storm') && 'tick' in event && !this.reconfiguring && !actions.some((a) => 'reconfigure' in a)) {
              actions = [...actions, { reconfigure: { changes: [], reason: 'storm' } }];
            }
            return actions;
          },
      ),
    );
  }
  if (bugs.has('rebuild-resume-past-gap')) {
    // The resume point follows the highest batch done, not the lowest one still copying:
    // a pass cut short leaves a record that skips the batches that had not finished.
    const highest = new WeakMap<ChainProgress, number>();
    undo.push(
      patch(
        ChainProgress.prototype,
        'done',
        (original) =>
          function (this: ChainProgress, index: number) {
            highest.set(this, Math.max(index, highest.get(this) ?? -1));
            return (original as (i: number) => unknown).call(this, index);
          },
      ),
    );
    undo.push(
      patch(
        ChainProgress.prototype,
        'copiedBelow',
        (original) =>
          function (this: ChainProgress): number {
            const h = highest.get(this);
            const right = (original as () => number).call(this);
            return h === undefined ? right : Math.max(right, this.batches[h + 1]?.[0] ?? this.end);
          },
      ),
    );
  }
  if (bugs.has('spare-not-empty')) {
    // Every probe answer reads as an empty unit: a spare that holds entries is used as if it were formatted.
    undo.push(
      patch(
        FailureDetector.prototype,
        'record',
        (original) =>
          function (this: FailureDetector, server: string, now: number, answer: ProbeAnswer | undefined) {
            return (original as (s: string, n: number, a: ProbeAnswer | undefined) => unknown).call(this, server, now, answer === undefined ? undefined : { ...answer, tail: 0 });
          },
      ),
    );
  }
  return undo;
}

// ---- streams -----------------------------------------------------------------------

/**
 * The stream bugs: in the sequencer's stream tails (src/sequencer/streams.ts), in what a
 * recovering client seeds (rewritten where the Sequencer takes it, src/sequencer/state.ts)
 * and in the stream reader (src/client/stream-reader.ts).
 */
function patchStreams(bugs: Bugs): Array<() => void> {
  const undo: Array<() => void> = [];
  if (bugs.has('streams-never-reset')) {
    // A reset forgets nothing and leaves the tails whole: after a failover the new sequencer
    // answers from empty tails at once (and a kept one from stale ones), never recovering.
    undo.push(patch(StreamTails.prototype, 'reset', () => function (this: StreamTails) {}));
  }
  if (bugs.has('stream-tails-while-recovering')) {
    // STREAM_TOKEN and STREAM_TAILS are answered while the tails are being rebuilt.
    undo.push(patch(StreamTails.prototype, 'unlessRecovered', () => () => undefined));
  }
  if (bugs.has('backpointers-drop-newest')) {
    // A STREAM_TOKEN's backpointers leave out each stream's newest address (the tails themselves are right).
    undo.push(
      patch(
        StreamTails.prototype,
        'issue',
        (original) =>
          function (this: StreamTails, first: number, count: number, streams: readonly StreamId[]) {
            const before = (original as (f: number, c: number, s: readonly StreamId[]) => StreamAddresses[]).call(this, first, count, streams);
            return before.map((list) => list.slice(1));
          },
      ),
    );
  }
  if (bugs.has('seed-skips-contiguity')) {
    // A STREAM_SEED is taken even when its range does not end where the sequencer's
    // knowledge begins (a late or racing seeder): its addresses are added after those
    // already held. (The class's state is private: what such a seed would have added is
    // kept beside it and shows through latest(), which issue() reads too.)
    const added = new WeakMap<StreamTails, Map<StreamId, number[]>>();
    undo.push(
      patch(
        StreamTails.prototype,
        'seed',
        (original) =>
          function (this: StreamTails, from: number, to: number, done: boolean, entries: readonly SeedEntry[]) {
            const now = this.snapshot();
            if (!now.recovered && to !== now.from) {
              let extra = added.get(this);
              if (extra === undefined) added.set(this, (extra = new Map<StreamId, number[]>()));
              for (const e of entries) extra.set(e.stream, [...(extra.get(e.stream) ?? []), ...e.addresses]);
            }
            return (original as (f: number, t: number, d: boolean, e: readonly SeedEntry[]) => unknown).call(this, from, to, done, entries);
          },
      ),
      patch(
        StreamTails.prototype,
        'latest',
        (original) =>
          function (this: StreamTails, streams: readonly StreamId[]) {
            const lists = (original as (s: readonly StreamId[]) => StreamAddresses[]).call(this, streams);
            const extra = added.get(this);
            return extra === undefined ? lists : lists.map((l, i) => [...l, ...(extra.get(streams[i]!) ?? [])].slice(0, 4));
          },
      ),
      patch(
        StreamTails.prototype,
        'reset',
        (original) =>
          function (this: StreamTails, from: number) {
            added.delete(this);
            return (original as (f: number) => unknown).call(this, from);
          },
      ),
    );
  }
  if (bugs.has('recovery-done-early')) {
    // The recovering client says `done` one range early: with the range below this one
    // reaching address 0, this one is taken as the last.
    undo.push(
      patch(
        Sequencer.prototype,
        'handle',
        (original) =>
          function (this: Sequencer, req: Request): Response {
            const early = req.op === 'STREAM_SEED' && !req.done && req.to > req.from && req.from <= req.to - req.from;
            return (original as (r: Request) => Response).call(this, early ? { ...req, done: true } : req);
          },
      ),
    );
  }
  if (bugs.has('reader-no-scan')) {
    // A reader whose backpointer walk is cut (four addresses in a row not the stream's) does
    // not scan down for the stream's next entry: it takes the cut for the stream's start.
    undo.push(patch(StreamReader.prototype as unknown as { scanDown: () => Promise<number | undefined> }, 'scanDown', () => async () => undefined));
  }
  return undo;
}

/** The chain of `layout` that holds `address`. */
function chainHolding(layout: Rebuild['layout'], address: number | undefined): readonly string[] | undefined {
  return address === undefined ? undefined : locate(layout, address).chain;
}
