// A simulated client: the policy of the real CorfuClient (src/client/client.ts)
// written as coroutines on the virtual clock, driving the REAL chain machines
// (AppendOp / ReadOp / FillOp of src/client/chain.ts):
//
// - append: a token (and its epoch) from the sequencer, then AppendOp with the
//   append's AppendProgress; `newToken` takes a new token; `refreshProjection`
//   reloads the projection and retries at the same address, kept under a newer
//   epoch only below that epoch's sequencer TAIL; an address outside the new
//   projection's segments takes a new token.
// - read / fill: ReadOp / FillOp; `wait` sleeps the hole timeout then fills;
//   trimmed is terminal (ERR_TRIMMED).
// - a chain request lost to the transport is resent after 10 * 2^n ms, at most
//   MAX_RESENDS times, then the operation fails ERR_IO; the sequencer likewise.
//   Before each resend the projection is reloaded (a398a4e): a newer one ends a
//   chain operation with refreshProjection, and sends the next sequencer try
//   to the new sequencer.
// - ERR_SEALED: if the projection is not newer already, reload it from the
//   store; if the store has nothing newer, sleep refreshDelayMs and try again,
//   failing ERR_SEALED after maxRefreshes stalls.
// - trim walks the chain; prefixTrim asks every unit at once; a lost TRIM or
//   PREFIX_TRIM is resent (at most MAX_RESENDS times), then ERR_IO.
// - tail() counts an answer only if its epoch is still the latest after it.
// Token coalescing, the shared TAIL per epoch and per-unit batching into
// vectored frames are left out (one request per chain request).
// This mirrors src/client/client.ts as of 8ec2d36.
//
// Checker hooks report every value a client is given, every acknowledged
// append, every trim issued and every tail() answer. Planted client bugs:
// chain-bugs.ts, and `client-no-refresh` / `refresh-epoch-only` below.

import { CorfuError, codeName } from '../../bindings/errors.js';
import { AppendOp, FillOp, ReadOp, writtenAs } from '../../src/client/chain.js';
import type { AppendProgress, ChainEvent, ReadResult, TerminalAction, UnitRequest, UnitResponse } from '../../src/client/chain.js';
import { chainTarget } from '../../src/client/target.js';
import type { Projection } from '../../src/layout/projection.js';
import type { RequestBody } from '../../src/transport/connection.js';
import { KIND } from '../../src/wire/messages.js';
import type { Response } from '../../src/wire/messages.js';
import { plant, type Driveable } from './chain-bugs.js';
import { keyOf } from './checkers.js';
import type { World } from './context.js';
import type { OpKind, OpRecord } from './history.js';
import { SimReconfiguration, type Change, type ReconfigEvent } from './reconfig.js';
import { TaskRunner, rpc, send, sleep, timer, waitAny, withStore, type Co, type Task } from './tasks.js';

/** As in client.ts. */
const MAX_RESENDS = 5;

export type Entry = { readonly address: number; readonly kind: 'data'; readonly payload: Uint8Array } | { readonly address: number; readonly kind: 'junk' };

interface Token {
  readonly first: number;
  readonly epoch: number;
}

/** Who is asking, for the checkers and the history. */
interface Caller {
  readonly by: string;
  readonly invokedAt: number;
}


export class SimClient {
  readonly node: string;
  readonly #w: World;
  projection: Projection;
  #runner: TaskRunner;
  readonly #ops = new Map<Task, OpRecord>();
  incarnation = 0;
  alive = true;
  readonly stats = { refreshes: 0, newTokens: 0, resends: 0 };

  constructor(world: World, node: string, projection: Projection) {
    this.#w = world;
    this.node = node;
    this.projection = projection;
    world.check.projection(projection, `${node} (connect)`);
    this.#runner = this.#newRunner();
    world.net.attach(node, (env) => {
      if (env.payload.kind === 'response') this.#runner.answer(env.from, env.payload.body);
    });
  }

  #newRunner(): TaskRunner {
    const w = this.#w;
    return new TaskRunner({
      node: this.node,
      after: (d, run) => w.queue.after(d, run),
      storeDelay: () => w.storeDelay(),
      store: w.store,
      sendRequest: (to, req) => w.net.send(this.node, to, { kind: 'request', body: req }),
      nextRequestId: () => w.nextRequestId(),
    });
  }

  get busy(): number {
    return this.#runner.tasks.size;
  }

  /** Runs one operation as a task, recorded in the history. */
  run<R>(kind: OpKind, arg: number | string | undefined, body: (caller: Caller) => Co<R>, done?: (result: { ok: true; value: R } | { ok: false; error: unknown }) => void): void {
    const w = this.#w;
    const op = w.history.invoke(this.node, kind, arg, w.queue.now);
    const caller: Caller = { by: `${this.node}#${op.id} ${kind}(${arg ?? ''})`, invokedAt: op.invokedAt };
    const task = this.#runner.spawn(body(caller), `${kind}`, (r) => {
      this.#ops.delete(task);
      if (r.ok) {
        w.history.end(op, 'ok', summarize(r.value), w.queue.now);
      } else if (r.error instanceof CorfuError) {
        w.history.end(op, 'fail', r.error.code, w.queue.now);
      } else {
        const e = r.error as Error;
        w.history.end(op, 'fail', e?.name ?? 'Error', w.queue.now);
        // A thrown AssertionError is a chain invariant the machine itself caught; anything else is a bug too.
        w.check.fail(e?.name === 'AssertionError' ? 'chain-invariant' : 'exception', `${caller.by}: ${e?.stack ?? String(e)}`);
      }
      done?.(r as { ok: true; value: R } | { ok: false; error: unknown });
    });
    if (task.alive) this.#ops.set(task, op);
  }

  crash(): void {
    if (!this.alive) return;
    this.alive = false;
    const w = this.#w;
    for (const t of this.#runner.killAll()) {
      const op = this.#ops.get(t);
      if (op !== undefined) w.history.end(op, 'unknown', undefined, w.queue.now);
    }
    this.#ops.clear();
    w.net.detach(this.node);
  }

  /** A new incarnation: a fresh process that connects (reads the latest projection). */
  restart(projection: Projection): void {
    this.incarnation++;
    this.alive = true;
    this.projection = projection;
    this.#w.check.projection(projection, `${this.node} (reconnect)`);
    this.#runner = this.#newRunner();
    this.#w.net.attach(this.node, (env) => {
      if (env.payload.kind === 'response') this.#runner.answer(env.from, env.payload.body);
    });
  }

  #adopt(p: Projection, why: string): void {
    if (p.epoch <= this.projection.epoch) return;
    this.#w.check.projection(p, `${this.node} (${why})`);
    this.projection = p;
  }

  // ---- append ------------------------------------------------------------------

  *append(payload: Uint8Array, caller: Caller): Co<number> {
    const token = yield* this.#token(1);
    if (this.#w.crashAfterToken(this.node)) {
      this.crash();
      yield* sleep(0);
    }
    return yield* this.#appendAt(payload, token, caller);
  }

  *#appendAt(payload: Uint8Array, token: Token, caller: Caller): Co<number> {
    let address = token.first;
    let tokenEpoch = token.epoch;
    // What this append learned about its address, across the AppendOps of successive projections.
    let progress: AppendProgress = { head: undefined };
    const self = this;
    function* renew(): Co<void> {
      ({ first: address, epoch: tokenEpoch } = yield* self.#token(1));
      progress = { head: undefined };
    }
    let stalls = 0;
    for (;;) {
      const projection = this.projection;
      if (projection.epoch > tokenEpoch) {
        // Kept under a newer epoch only below its sequencer's TAIL (client.ts #appendAt).
        const tail = yield* this.#tailUnder(projection.epoch);
        if (tail === undefined) {
          stalls = yield* this.#afterSealed(projection.epoch, stalls, `append at ${address}`);
          continue;
        }
        if (address >= tail) {
          this.stats.newTokens++;
          yield* renew();
          continue;
        }
        tokenEpoch = projection.epoch;
      }
      let op: AppendOp;
      try {
        op = new AppendOp(projection, address, payload, progress);
      } catch (err) {
        if (err instanceof CorfuError && err.code === 'ERR_BAD_REQUEST') {
          yield* renew();
          continue;
        }
        throw err;
      }
      const driven = plant<{ address: number }>(op, 'append', this.#w.bugs);
      const outcome = yield* this.#drive(driven);
      if ('done' in outcome) {
        this.#w.check.appendAcked(outcome.done.address, keyOf({ kind: 'data', payload }), caller.by, caller.invokedAt, driven.target.chain);
        return outcome.done.address;
      }
      if ('newToken' in outcome) {
        this.stats.newTokens++;
        yield* renew();
        continue;
      }
      if ('refreshProjection' in outcome) {
        stalls = yield* this.#afterSealed(projection.epoch, stalls, `append at ${address}`);
        continue;
      }
      throw failure(outcome, `append at ${address}`);
    }
  }

  /** The sequencer's TAIL asked under `epoch`; undefined when the sequencer is past it. */
  *#tailUnder(epoch: number): Co<number | undefined> {
    const res = yield* this.#sequencerRequest({ type: 'request', op: 'TAIL', epoch });
    if (res.status === 'ERR_SEALED') return undefined;
    if (res.status !== 'OK' || res.op !== 'TAIL') throw new CorfuError(res.status === 'OK' ? 'ERR_BAD_REQUEST' : res.status, `TAIL: ${res.status}`);
    return res.tail;
  }

  /** `count` tokens: the first, and the epoch of the sequencer that handed them out. */
  *#token(count: number): Co<Token> {
    let stalls = 0;
    for (;;) {
      const epoch = this.projection.epoch;
      const res = yield* this.#sequencerRequest({ type: 'request', op: 'TOKEN', epoch, count });
      if (res.status === 'ERR_SEALED') {
        stalls = yield* this.#afterSealed(epoch, stalls, 'TOKEN');
        continue;
      }
      if (res.status !== 'OK' || res.op !== 'TOKEN') throw new CorfuError(res.status === 'OK' ? 'ERR_BAD_REQUEST' : res.status, `TOKEN(${count}): ${res.status}`);
      return { first: res.first, epoch };
    }
  }

  // ---- read, fill ------------------------------------------------------------------

  *read(address: number, caller: Caller): Co<Entry> {
    return yield* this.#readLike(address, (p) => plant(new ReadOp(p, address), 'read', this.#w.bugs), 'read', caller);
  }

  *fill(address: number, caller: Caller): Co<Entry> {
    return yield* this.#readLike(address, (p) => plant(new FillOp(p, address), 'fill', this.#w.bugs), 'fill', caller);
  }

  *#readLike(address: number, make: (p: Projection) => Driveable<ReadResult>, what: string, caller: Caller): Co<Entry> {
    let stalls = 0;
    for (;;) {
      const projection = this.projection;
      const op = make(projection);
      const outcome = yield* this.#drive(op);
      if ('done' in outcome) {
        const r = outcome.done;
        if (r.kind === 'trimmed') {
          this.#w.check.observeTrimmed(address, caller.by);
          throw new CorfuError('ERR_TRIMMED', `${what} ${address}: the address is trimmed`);
        }
        this.#w.check.observe(address, keyOf(r), caller.by, caller.invokedAt, op.target.chain);
        return r;
      }
      if ('refreshProjection' in outcome) {
        stalls = yield* this.#afterSealed(projection.epoch, stalls, `${what} ${address}`);
        continue;
      }
      if ('newToken' in outcome) throw new Error('corfu client: a read asked for a new token');
      throw failure(outcome, `${what} ${address}`);
    }
  }

  // ---- trim, tail --------------------------------------------------------------------

  *trim(address: number): Co<void> {
    this.#w.check.trimIssued(address);
    let stalls = 0;
    for (;;) {
      const projection = this.projection;
      const { chain, epoch } = chainTarget(projection, address);
      let sealed = false;
      for (const unit of chain) {
        const res = yield* this.#unitCall(unit, { type: 'request', op: 'TRIM', epoch, addresses: [address] });
        if (res === 'sealed') {
          sealed = true;
          break;
        }
        if (res.op !== 'TRIM' || res.status !== 'OK') throw new CorfuError('ERR_BAD_REQUEST', `trim ${address} at ${unit}: answered ${res.op}`);
        const status = codeName(res.statuses[0] ?? 0);
        if (status !== 'OK' && status !== 'ERR_TRIMMED' && status !== 'ERR_UNWRITTEN') throw new CorfuError(status, `trim ${address} at ${unit}: ${status}`);
      }
      if (!sealed) return;
      stalls = yield* this.#afterSealed(epoch, stalls, `trim ${address}`);
    }
  }

  *prefixTrim(address: number): Co<void> {
    this.#w.check.prefixTrimIssued(address);
    let stalls = 0;
    for (;;) {
      const projection = this.projection;
      const body: RequestBody = { type: 'request', op: 'PREFIX_TRIM', epoch: projection.epoch, address };
      // Promise.all over #unitCall: each unit's request is resent on its own; the first failure decides.
      const requests = new Map<number, { unit: string; attempt: number }>();
      const timers = new Map<number, { unit: string; attempt: number }>();
      for (const unit of projection.units) requests.set(yield* send(unit, body, this.#w.timings.timeoutMs), { unit, attempt: 0 });
      let sealed = false;
      while (requests.size + timers.size > 0) {
        const c = yield* waitAny([...requests.keys(), ...timers.keys()]);
        const wake = timers.get(c.handle);
        if (wake !== undefined) {
          timers.delete(c.handle);
          requests.set(yield* send(wake.unit, body, this.#w.timings.timeoutMs), wake);
          continue;
        }
        const { unit, attempt } = requests.get(c.handle)!;
        requests.delete(c.handle);
        const res = c.response;
        if (res === undefined) {
          if (attempt >= MAX_RESENDS) throw new CorfuError('ERR_IO', `PREFIX_TRIM at ${unit}: request timed out`);
          this.stats.resends++;
          timers.set(yield* timer(Math.min(1000, 10 * 2 ** attempt)), { unit, attempt: attempt + 1 });
          continue;
        }
        if (res.status === 'ERR_SEALED') {
          sealed = true;
          break;
        }
        if (res.status !== 'OK') throw new CorfuError(res.status, `PREFIX_TRIM at ${unit}: ${res.status}`);
      }
      if (!sealed) return;
      stalls = yield* this.#afterSealed(projection.epoch, stalls, `prefixTrim ${address}`);
    }
  }

  *tail(caller: Caller): Co<number> {
    const before = this.#w.check.tailInvoked();
    let stalls = 0;
    for (;;) {
      const epoch = this.projection.epoch;
      const res = yield* this.#sequencerRequest({ type: 'request', op: 'TAIL', epoch });
      if (res.status === 'ERR_SEALED') {
        stalls = yield* this.#afterSealed(epoch, stalls, 'tail');
        continue;
      }
      if (res.status !== 'OK' || res.op !== 'TAIL') throw new CorfuError(res.status === 'OK' ? 'ERR_BAD_REQUEST' : res.status, `TAIL: ${res.status}`);
      // As client.ts: the answer counts only if its epoch is still the latest after it
      // (a load that starts now; each simulated refresh is one).
      yield* this.#refresh();
      if (this.projection.epoch > epoch) continue;
      const latest = this.#w.store.latestSync()?.epoch;
      this.#w.check.tailReturned(before, res.tail, caller.by, `answered by ${this.projection.sequencer} at epoch ${epoch}; the store's latest epoch is ${latest}`);
      return res.tail;
    }
  }

  // ---- reconfiguration ------------------------------------------------------------------

  /**
   * Reconfigures as src/client/reconfigure-driver.ts does: from the store's
   * latest projection, every request sent at once (one attempt each: no
   * answer is `lost`), events fed in arrival order. Adopts the result.
   */
  *reconfigure(changes: readonly Change[]): Co<Projection> {
    const previous = yield* withStore((s) => s.latestSync());
    if (previous === undefined) throw new CorfuError('ERR_BAD_REQUEST', 'the projection store is empty');
    const machine = new SimReconfiguration(previous, changes, this.#w.bugs);
    const inflight = new Map<number, number>(); // handle -> action id
    const events: ReconfigEvent[] = [];
    let actions = machine.start();
    for (;;) {
      for (const a of actions) {
        if ('send' in a) {
          const h = yield* send(a.send.target, a.send.request, this.#w.timings.timeoutMs);
          inflight.set(h, a.send.id);
        } else if ('propose' in a) {
          const proposal = a.propose;
          events.push({ proposed: yield* withStore((s) => s.proposeSync(proposal)) });
        } else if ('done' in a) {
          this.#adopt(a.done.projection, a.done.adopted ? 'reconfigure: adopted' : 'reconfigure: won');
          return a.done.projection;
        } else {
          throw new CorfuError(a.failed.code, `reconfigure epoch ${machine.epoch}: ${a.failed.message}`);
        }
      }
      let event = events.shift();
      if (event === undefined) {
        if (inflight.size === 0) throw new Error('reconfiguration: the machine is waiting on nothing');
        const c = yield* waitAny([...inflight.keys()]);
        const id = inflight.get(c.handle)!;
        inflight.delete(c.handle);
        event = c.response === undefined ? { lost: { id } } : { response: { id, response: c.response } };
      }
      actions = machine.step(event);
    }
  }

  // ---- the driver ------------------------------------------------------------------------

  *#drive<R>(op: Driveable<R>): Co<TerminalAction<R>> {
    let actions = op.start();
    let resends = 0;
    for (;;) {
      let event: ChainEvent | undefined;
      for (const action of actions) {
        if ('send' in action) {
          const response = yield* this.#send(action.send, op);
          if (response === undefined) {
            // As client.ts since a398a4e: a unit that does not answer may have been replaced.
            yield* this.#refresh();
            if (this.projection.epoch > action.send.epoch) return { refreshProjection: { epoch: action.send.epoch, unit: action.send.unit } };
            if (++resends > MAX_RESENDS) return { failed: { unit: action.send.unit, op: action.send.op, code: 'ERR_IO' } };
            this.stats.resends++;
            yield* sleep(Math.min(1000, 10 * 2 ** resends));
            event = { resend: true };
          } else {
            event = { response };
          }
        } else if ('wait' in action) {
          yield* sleep(this.#w.timings.holeTimeoutMs);
          event = { timeout: 'hole-timeout' };
        } else {
          return action;
        }
      }
      if (event === undefined) throw new Error('corfu client: a chain operation returned no action');
      actions = op.step(event);
    }
  }

  /** One chain request as a wire request; undefined when it was lost to the transport. */
  *#send<R>(req: UnitRequest, op: Driveable<R>): Co<UnitResponse | undefined> {
    if (req.op === 'WRITE' && req.unit !== op.target.head && this.#w.crashMidChain(this.node, req, op.target)) {
      this.crash();
      yield* sleep(0);
    }
    let body: RequestBody;
    if (req.op === 'TRIM') {
      // A read or fill copying a trim down the chain.
      const res = yield* rpc(req.unit, { type: 'request', op: 'TRIM', epoch: req.epoch, addresses: [req.address] }, this.#w.timings.timeoutMs);
      if (res === undefined) return undefined;
      if (res.status !== 'OK') return res.status === 'ERR_SEALED' ? { unit: req.unit, id: req.id, status: res.status, unitEpoch: res.unitEpoch } : { unit: req.unit, id: req.id, status: res.status };
      return { unit: req.unit, id: req.id, status: res.op === 'TRIM' ? codeName(res.statuses[0] ?? 0) : 'ERR_BAD_REQUEST' };
    }
    if (req.op === 'WRITE') {
      body = { type: 'request', op: 'WRITE', epoch: req.epoch, entries: [{ address: req.address, payload: req.payload! }] };
    } else {
      body = { type: 'request', op: req.op, epoch: req.epoch, addresses: [req.address] };
    }
    const res = yield* rpc(req.unit, body, this.#w.timings.timeoutMs);
    if (res === undefined) return undefined;
    if (res.status !== 'OK') {
      return res.status === 'ERR_SEALED'
        ? { unit: req.unit, id: req.id, status: res.status, unitEpoch: res.unitEpoch }
        : { unit: req.unit, id: req.id, status: res.status };
    }
    switch (res.op) {
      case 'WRITE':
      case 'FILL': {
        const status = codeName(res.statuses[0] ?? 0);
        const written = writtenAs(res.written[0]);
        return written === undefined ? { unit: req.unit, id: req.id, status } : { unit: req.unit, id: req.id, status, written };
      }
      case 'READ': {
        const status = codeName(res.statuses[0] ?? 0);
        if (status !== 'OK') return { unit: req.unit, id: req.id, status };
        if (res.kinds[0] === KIND.JUNK) return { unit: req.unit, id: req.id, status, kind: 'junk' };
        const payload = res.payloads[0];
        return payload == null
          ? { unit: req.unit, id: req.id, status, kind: 'data' }
          : { unit: req.unit, id: req.id, status, kind: 'data', payload: Uint8Array.prototype.slice.call(payload) };
      }
      default:
        throw new Error(`corfu client: ${req.op} answered as ${res.op}`);
    }
  }

  /** A unit request whose OK is required: 'sealed' on ERR_SEALED; other errors throw; a lost one is resent MAX_RESENDS times. */
  *#unitCall(unit: string, body: RequestBody): Co<Response | 'sealed'> {
    let res: Response | undefined;
    for (let attempt = 0; ; attempt++) {
      res = yield* rpc(unit, body, this.#w.timings.timeoutMs);
      if (res !== undefined) break;
      if (attempt >= MAX_RESENDS) throw new CorfuError('ERR_IO', `${body.op} at ${unit}: request timed out`);
      this.stats.resends++;
      yield* sleep(Math.min(1000, 10 * 2 ** attempt));
    }
    if (res.status === 'ERR_SEALED') return 'sealed';
    if (res.status !== 'OK') throw new CorfuError(res.status, `${body.op} at ${unit}: ${res.status}`);
    return res;
  }

  *#sequencerRequest(body: RequestBody): Co<Response> {
    let attempts = 0;
    for (;;) {
      const res = yield* rpc(this.projection.sequencer, body, this.#w.timings.timeoutMs);
      if (res !== undefined) return res;
      if (++attempts > MAX_RESENDS) throw new CorfuError('ERR_IO', `${body.op} at ${this.projection.sequencer}: request timed out`);
      this.stats.resends++;
      // As client.ts since a398a4e: the next try goes to the latest projection's sequencer
      // (under the old epoch, which it refuses with ERR_SEALED: the caller retries under the new one).
      yield* this.#refresh();
      yield* sleep(Math.min(1000, 10 * 2 ** attempts));
    }
  }

  // ---- projections ---------------------------------------------------------------------------

  *#afterSealed(staleEpoch: number, stalls: number, what: string): Co<number> {
    if (this.projection.epoch > staleEpoch) return 0;
    yield* this.#refresh();
    if (this.projection.epoch > staleEpoch) return 0;
    if (stalls + 1 > this.#w.timings.maxRefreshes) {
      throw new CorfuError('ERR_SEALED', `${what}: sealed at epoch ${staleEpoch} and the store has no newer projection after ${stalls} tries`);
    }
    yield* sleep(this.#w.timings.refreshDelayMs);
    return stalls + 1;
  }

  *#refresh(): Co<void> {
    if (this.#w.bugs.has('client-no-refresh')) return;
    const latest = yield* withStore((s) => s.latestSync());
    this.stats.refreshes++;
    if (latest === undefined || latest.epoch <= this.projection.epoch) return;
    if (this.#w.bugs.has('refresh-epoch-only')) this.#adopt({ ...this.projection, epoch: latest.epoch }, 'refresh (epoch only)');
    else this.#adopt(latest, 'refresh');
  }
}

function failure(outcome: TerminalAction<unknown>, what: string): CorfuError {
  if ('failed' in outcome) {
    const f = outcome.failed;
    return new CorfuError(f.code, `${what}: ${f.op} at ${f.unit} failed with ${f.code}`);
  }
  return new CorfuError('ERR_IO', `${what}: unexpected outcome`);
}

function summarize(value: unknown): number | string | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && 'kind' in value) {
    const e = value as Entry;
    return e.kind === 'junk' ? 'junk' : Buffer.from(e.payload).toString('latin1');
  }
  if (typeof value === 'object' && value !== null && 'epoch' in value) return `epoch ${(value as Projection).epoch}`;
  return undefined;
}
