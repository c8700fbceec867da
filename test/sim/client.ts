// A simulated client process running the REAL CorfuClient (src/client/client.ts)
// — token coalescing, per-unit batching, the server pool, the Connection, the
// resends, refreshes and the hole timer — on a SimRuntime (runtime.ts): the
// virtual clock and links over the simulated network. Reconfigurations run the
// real driver (src/client/reconfigure-driver.ts) from the same process, as
// `corfu layout reconfigure` would from the client's machine.
//
// This file only records: every operation goes into the history, and what the
// client returns goes to the checkers (every value it was given, every
// acknowledged append, every trim issued, every tail() answer). A crash kills
// the runtime (its operations end `unknown`); a restart is a new process that
// connects again.
//
// Streams: appendTo is recorded like append (its body is the payload the
// linearizability checker sees); a stream read is one sync of a real
// StreamReader (client.stream(name), one per incarnation and stream, kept across
// operations): readNext until it answers undefined, seeking past an address
// ERR_TRIMMED names and going on. Each call must end by its deadline; every
// delivery, ERR_TRIMMED and the sync's end go to the stream checks (checkers.ts).
//
// Objects (transaction seeds, bank.ts): each incarnation has one real CorfuRuntime
// (src/objects) over its own CorfuClient, made at its first object operation and dying
// with the process. The runtime's log calls go through a recording view of the client:
// appendTo (update and commit records, checkpoint markers), appendBatch (checkpoint
// parts), read (checkpoint loads) and prefixTrim (compaction) are operations of the
// history like the workload's own, checked the same way (deadlines, values, trims); what
// its views replay and what it decides go to the transaction checks (TxChecks).
//
// Fault hooks: the client crashes right after it is handed a token (TOKEN or
// STREAM_TOKEN: a commit record's too, so clients die mid-commit), or instead of sending
// a WRITE to a replica below the head, when the injector armed it.
// Planted client bugs: patches.ts (chain and reconfiguration machines) and the
// store views below (`client-no-refresh`, `refresh-epoch-only`).

import { CorfuError } from '../../bindings/errors.js';
import { InvariantError } from '../../bindings/invariant.js';
import type { CallOptions } from '../../src/client/budget.js';
import { CorfuClient, type Entry } from '../../src/client/client.js';
import { reconfigure } from '../../src/client/reconfigure-driver.js';
import { StreamTrimmedError, type StreamEntry, type StreamReader } from '../../src/client/stream-reader.js';
import { chainTarget } from '../../src/client/target.js';
import { locate, wholeReplicas } from '../../src/layout/mapping.js';
import type { Change } from '../../src/layout/next.js';
import type { Projection } from '../../src/layout/projection.js';
import { decodeRecord } from '../../src/objects/records.js';
import { CorfuRuntime, objectStream } from '../../src/objects/runtime.js';
import { decodeFrame } from '../../src/wire/codec.js';
import { checkHeader } from '../../src/wire/frame.js';
import { keyOf, StreamReaderCheck } from './checkers.js';
import type { World } from './context.js';
import type { OpKind, OpRecord } from './history.js';
import { SimRuntime } from './runtime.js';
import { SimStoreView } from './store.js';

export type Outcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };
type Done<R> = (result: Outcome<R>) => void;

/** Who is asking, for the checkers. */
interface Caller {
  readonly by: string;
  readonly invokedAt: number;
}

export class SimClient {
  readonly node: string;
  readonly #w: World;
  incarnation = 0;
  #runtime: SimRuntime;
  #client: Promise<CorfuClient>;
  /** The connected client of this incarnation, once connect resolved. */
  #connected: CorfuClient | undefined;
  /** Operations of this incarnation still running. */
  readonly #running = new Set<OpRecord>();
  #following: AbortController | undefined;
  /** This incarnation's stream readers, by stream name. */
  #readers = new Map<string, SimStreamReader>();
  /** This incarnation's CorfuRuntime, once an object operation asked for it. */
  #objects: Promise<CorfuRuntime> | undefined;
  /** Its appends of commit records still running (a crash then is a death mid-commit). */
  readonly #commits = new Set<OpRecord>();

  constructor(world: World, node: string) {
    this.#w = world;
    this.node = node;
    this.#runtime = this.#newRuntime();
    this.#client = this.#connect();
  }

  get alive(): boolean {
    return this.#runtime.alive;
  }

  get busy(): number {
    return this.#running.size;
  }

  /** The projection the client works under (undefined before it connected). */
  get projection(): Projection | undefined {
    return this.#connected?.projection;
  }

  #newRuntime(): SimRuntime {
    const w = this.#w;
    return new SimRuntime(
      this.node,
      w.queue,
      w.net,
      () => w.wake(),
      {
        beforeSend: (to, bytes) => w.armedMidChain.has(this.node) && this.#belowHead(to, bytes) && w.crashMidChain(this.node),
        beforeReceive: (_from, bytes) => w.armedAfterToken.has(this.node) && isToken(bytes) && w.crashAfterToken(this.node),
        onCrash: () => this.#ended(),
      },
      w.nativeAppends ? { ackWithoutTail: w.bugs.has('native-ack-without-tail') } : undefined,
    );
  }

  #connect(): Promise<CorfuClient> {
    const w = this.#w;
    const runtime = this.#runtime;
    let view: ((latest: Projection | undefined) => Projection | undefined) | undefined;
    let first: Projection | undefined;
    if (w.bugs.has('client-no-refresh')) view = (latest) => (first ??= latest);
    else if (w.bugs.has('refresh-epoch-only')) view = (latest) => (first === undefined || latest === undefined ? (first = latest) : { ...first, epoch: latest.epoch });
    const store = new SimStoreView(
      w.store,
      runtime.clock,
      () => w.storeDelay(),
      (latest) => {
        const seen = view === undefined ? latest : view(latest);
        if (seen !== undefined) w.check.projection(seen, `${this.node} (store.latest)`);
        return seen;
      },
    );
    const t = w.timings;
    const connecting = CorfuClient.connect({
      layout: store,
      runtime,
      deadlineMs: t.deadlineMs,
      timeoutMs: t.timeoutMs,
      holeTimeoutMs: t.holeTimeoutMs,
      maxRefreshes: t.maxRefreshes,
      refreshDelayMs: t.refreshDelayMs,
      streamRecoveryRange: w.streamRecoveryRange,
    });
    connecting.then(
      (c) => {
        if (runtime === this.#runtime) this.#connected = c;
      },
      () => {},
    );
    return connecting;
  }

  /** The process dies: its operations end `unknown`. */
  crash(): void {
    this.#runtime.kill();
    this.#ended();
  }

  #ended(): void {
    const w = this.#w;
    for (const op of this.#running) w.history.end(op, 'unknown', undefined, w.queue.now);
    this.#running.clear();
    w.tx.stats.diedMidCommit += this.#commits.size;
    this.#commits.clear();
  }

  /** A new incarnation: a fresh process that connects (reads the latest projection). */
  restart(): void {
    this.incarnation++;
    this.#connected = undefined;
    this.#readers = new Map();
    this.#objects = undefined;
    this.#runtime = this.#newRuntime();
    this.#client = this.#connect();
  }

  // ---- operations --------------------------------------------------------------------

  append(payload: Uint8Array, done?: Done<number>): void {
    const key = keyOf({ kind: 'data', payload });
    this.#run(
      'append',
      Buffer.from(payload).toString('latin1'),
      (c) => c.append(payload),
      done,
      (address, caller) => {
        this.#w.check.appendAcked(address, key, caller.by, caller.invokedAt, this.#chainOf(address));
      },
    );
  }

  /** appendTo(streams, payload): recorded as an append of the payload (the entry's body). */
  appendTo(streams: readonly string[], payload: Uint8Array, done?: Done<number>): void {
    const w = this.#w;
    const body = Buffer.from(payload).toString('latin1');
    w.check.streamAppendInvoked(body, streams);
    this.#run(
      'appendTo',
      body,
      (c) => c.appendTo(streams, payload),
      done,
      (address, caller) => {
        w.check.streamAppendAcked(address, body, caller.by, caller.invokedAt, this.#chainOf(address));
      },
    );
  }

  /**
   * One sync of this incarnation's reader of `stream`: readNext until it answers
   * undefined (ERR_TRIMMED: seek past the address it names and go on). `done` hears
   * how many entries it delivered. `final`: a fresh reader at the end of the run (the
   * stream checks then want the whole stream).
   */
  streamRead(stream: string, done?: Done<number>, final = false): void {
    const w = this.#w;
    const op = w.history.invoke(this.node, 'streamRead', stream, w.queue.now);
    const by = `${this.node}#${op.id} streamRead(${stream})`;
    if (!this.alive) {
      w.history.end(op, 'unknown', undefined, w.queue.now);
      return;
    }
    const runtime = this.#runtime;
    const readers = this.#readers;
    this.#running.add(op);
    w.wake();
    const live = (): boolean => runtime === this.#runtime && runtime.alive && this.#running.has(op);
    const delivered: NonNullable<OpRecord['delivered']> = (op.delivered = []);
    const end = (result: Outcome<number>, r: SimStreamReader | undefined): void => {
      this.#running.delete(op);
      if (r !== undefined) {
        w.check.streamStats.scanned += r.reader.stats.scanned - r.scanned;
        r.scanned = r.reader.stats.scanned;
      }
      if (result.ok) w.history.end(op, 'ok', result.value, w.queue.now);
      else w.history.end(op, 'fail', result.error instanceof CorfuError ? result.error.code : ((result.error as Error)?.name ?? 'Error'), w.queue.now);
      done?.(result);
    };
    let r: SimStreamReader | undefined;
    const run = async (c: CorfuClient): Promise<void> => {
      r = readers.get(stream);
      if (r === undefined) readers.set(stream, (r = { reader: c.stream(stream), check: new StreamReaderCheck(stream), since: undefined, scanned: 0 }));
      // Entries found by an operation that failed are delivered by a later one: their reads were sent since then.
      r.since ??= op.invokedAt;
      w.check.streamSyncStarted(r.check, r.reader.position, by);
      for (;;) {
        const startedAt = w.queue.now;
        let entry: Awaited<ReturnType<StreamReader['readNext']>>;
        try {
          entry = await r.reader.readNext();
        } catch (error) {
          if (!live()) return;
          this.#streamInTime(by, startedAt);
          if (error instanceof CorfuError && error.code === 'ERR_TRIMMED') {
            if (!(error instanceof StreamTrimmedError)) {
              w.check.fail('stream/trimmed', `${by}: ERR_TRIMMED names no address: ${error.message}`);
              return end({ ok: false, error }, r);
            }
            const address = error.address;
            w.check.streamTrimmed(r.check, address);
            r.reader.seek(address + 1);
            continue;
          }
          if (error instanceof CorfuError && error.code === 'ERR_CORRUPT') w.check.fail('stream/corrupt', `${by}: ${error.message}`);
          else if (!(error instanceof CorfuError)) {
            const e = error as Error;
            w.check.fail(error instanceof InvariantError ? 'stream/invariant' : 'exception', `${by}: ${e?.stack ?? String(e)}`);
          } else if (final) w.check.fail('liveness', `${by}: the final read of the stream failed: ${error.code} ${error.message}`);
          return end({ ok: false, error }, r);
        }
        if (!live()) return;
        this.#streamInTime(by, startedAt);
        if (entry === undefined) {
          w.check.streamSyncEnded(r.check, final);
          r.since = undefined;
          return end({ ok: true, value: delivered.length }, r);
        }
        const body = Buffer.from(entry.payload).toString('latin1');
        w.check.streamDelivered(r.check, entry.address, body, entry.streams, r.since, this.#chainOf(entry.address));
        delivered.push({ address: entry.address, body, since: r.since, at: w.queue.now });
      }
    };
    this.#client.then(run).catch((error: unknown) => {
      if (!live()) return;
      // Connect failed (a CorfuError), or the checks or the loop above threw: a bug.
      if (!(error instanceof CorfuError)) w.check.fail('exception', `${by}: ${(error as Error)?.stack ?? String(error)}`);
      end({ ok: false, error }, r);
    });
  }

  /** Each readNext ends by the client's deadline. */
  #streamInTime(by: string, startedAt: number): void {
    const took = this.#w.queue.now - startedAt;
    if (took > this.#w.timings.deadlineMs + 1) this.#w.check.fail('deadline', `${by}: a readNext took ${took.toFixed(1)} ms, past its deadline of ${this.#w.timings.deadlineMs} ms`);
  }

  read(address: number, done?: Done<Entry>): void {
    this.#readLike('read', address, (c) => c.read(address), done);
  }

  fill(address: number, done?: Done<Entry>): void {
    this.#readLike('fill', address, (c) => c.fill(address), done);
  }

  trim(address: number, done?: Done<void>): void {
    this.#w.check.trimIssued(address);
    this.#run('trim', address, (c) => c.trim(address), done);
  }

  prefixTrim(address: number, done?: Done<void>): void {
    this.#w.check.prefixTrimIssued(address);
    this.#run('prefixTrim', address, (c) => c.prefixTrim(address), done);
  }

  tail(done?: Done<number>): void {
    const w = this.#w;
    const before = w.check.tailInvoked();
    this.#run(
      'tail',
      undefined,
      (c) => c.tail(),
      done,
      (tail, caller) => {
        const latest = w.store.latestSync();
        const detail = `the client is at epoch ${this.projection?.epoch}; the store's latest epoch is ${latest?.epoch} with sequencer ${latest?.sequencer}`;
        w.check.tailReturned(before, tail, caller.by, detail);
      },
    );
  }

  /**
   * Follows the log from `from` in this incarnation (client.follow): every
   * entry goes to the checkers, then to `onEntry`; `onEnd` hears how it ended
   * (not at all if the process dies). `stopFollowing()` ends it.
   */
  follow(from: number, onEntry: (e: Entry) => void, onEnd: (error: unknown) => void): void {
    const w = this.#w;
    const runtime = this.#runtime;
    const controller = new AbortController();
    this.#following = controller;
    const by = `${this.node} follow(${from})`;
    const live = (): boolean => runtime === this.#runtime && runtime.alive;
    // The follower reads ahead: an entry yielded now may have been read long
    // before. When its read was sent is not visible from here, so the checks
    // that compare it with other operations ("read as trimmed earlier") take
    // the latest time it certainly was not sent before: when follow began.
    const startedAt = w.queue.now;
    w.wake();
    void this.#client.then(async (c) => {
      try {
        // A 1 s long poll, not the default 10 s: a lost WAIT_TAIL is resent after the poll plus
        // the timeout, and the run idles (the manager probing) until then.
        for await (const e of c.follow(from, { signal: controller.signal, pollMs: 1000 })) {
          if (!live()) return;
          w.check.observe(e.address, keyOf(e), by, startedAt, this.#chainOf(e.address));
          onEntry(e);
        }
        if (live()) onEnd(undefined);
      } catch (err) {
        if (live()) onEnd(err);
      }
    });
  }

  stopFollowing(): void {
    this.#following?.abort();
    this.#following = undefined;
    this.#w.wake();
  }

  /** Reconfigures with the real driver from this process (as the CLI would); the client itself is not told. */
  reconfigure(changes: readonly Change[], done?: Done<Projection>): void {
    const w = this.#w;
    const runtime = this.#runtime;
    const store = new SimStoreView(w.store, runtime.clock, () => w.storeDelay());
    // The driver's answer is what an operator is told the new layout is: it must be the one the store holds.
    this.#run(
      'reconfigure',
      JSON.stringify(changes),
      async () => (await reconfigure(store, changes, { timeoutMs: w.timings.timeoutMs, runtime })).projection,
      done,
      (p) => {
        w.check.projection(p, `${this.node} (reconfigure result)`);
      },
    );
  }

  // ---- objects (transaction seeds) ----------------------------------------------------

  /** This incarnation's CorfuRuntime over its client (made at the first call). */
  runtime(): Promise<CorfuRuntime> {
    const w = this.#w;
    const name = `${this.node}.${this.incarnation}`;
    const runtime = this.#runtime;
    this.#objects ??= this.#client.then((c) => {
      w.tx.stats.runtimes++;
      return CorfuRuntime.wrap(this.#recording(c, runtime), { onDecision: (address, record, decision) => w.tx.decided(name, address, record, decision) });
    });
    return this.#objects;
  }

  /** One object operation with this incarnation's runtime (bank.ts), recorded in the history as 'tx'. `by` names it for the checks. */
  objects<R>(label: string, body: (rt: CorfuRuntime, by: string) => Promise<R>, done?: Done<R>): void {
    const w = this.#w;
    this.#run(
      'tx',
      label,
      async (_c, caller) => body(await this.runtime(), caller.by),
      done,
      undefined,
      (error, caller) => {
        // A view that meets an entry it cannot apply stops for good: never, with a correct writer.
        if (error instanceof CorfuError && error.code === 'ERR_CORRUPT') w.check.fail('tx/corrupt', `${caller.by}: ${error.message}`);
      },
    );
  }

  /**
   * The client as the runtime of this incarnation sees it: the real one, with its log
   * calls recorded as operations and checked like the workload's (see the header), and
   * its stream readers' deliveries reported.
   */
  #recording(c: CorfuClient, runtime: SimRuntime): CorfuClient {
    const w = this.#w;
    const chainOf = (address: number): readonly string[] => this.#chainOf(address);
    const overrides: Partial<Record<keyof CorfuClient, unknown>> = {
      appendTo: (streams: readonly string[], payload: Uint8Array, options?: CallOptions): Promise<number> => {
        const body = Buffer.from(payload).toString('latin1');
        const object = streams.length === 1 ? objectOf(streams[0]!) : undefined;
        let commit = false;
        try {
          commit = decodeRecord(payload).kind === 'commit';
        } catch {
          // a checkpoint's marker
        }
        return this.#track(
          runtime,
          'appendTo',
          body,
          () => c.appendTo(streams, payload, options),
          (address, caller) => {
            w.check.objectAppendAcked(address, body, caller.by, caller.invokedAt, chainOf(address));
            if (object !== undefined || commit) w.tx.record(address, payload, object ?? '');
            if (!commit && object !== undefined) w.tx.acknowledged(address);
          },
          undefined,
          commit,
        );
      },
      appendBatch: (payloads: readonly Uint8Array[], options?: CallOptions): Promise<number[]> => {
        const keys = payloads.map((p) => keyOf({ kind: 'data', payload: p }));
        for (const k of keys) w.tx.parts.add(k.slice(1));
        return this.#track(
          runtime,
          'appendBatch',
          payloads.length,
          () => c.appendBatch(payloads, options),
          (addresses, caller) => addresses.forEach((a, i) => w.check.appendAcked(a, keys[i]!, caller.by, caller.invokedAt, chainOf(a), false)),
        );
      },
      read: (address: number, options?: CallOptions): Promise<Entry> =>
        this.#track(
          runtime,
          'read',
          address,
          () => c.read(address, options),
          (entry, caller) => w.check.observe(address, keyOf(entry), caller.by, caller.invokedAt, chainOf(address)),
          (error, caller) => this.#readFailed(address, error, caller),
        ),
      prefixTrim: (address: number, options?: CallOptions): Promise<void> => {
        w.check.prefixTrimIssued(address);
        return this.#track(runtime, 'prefixTrim', address, () => c.prefixTrim(address, options));
      },
      stream: (name: string): StreamReader => this.#objectReader(c.stream(name), runtime),
    };
    return new Proxy(c, {
      get: (target, prop) => {
        if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof CorfuClient];
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /** A view's reader of an object stream: what it delivers is in the log (TxChecks.record, and a value for the write-once checks). */
  #objectReader(reader: StreamReader, runtime: SimRuntime): StreamReader {
    const w = this.#w;
    const object = objectOf(reader.name) ?? '';
    const by = `${this.node}.${this.incarnation} view ${object}`;
    // The reader may deliver what it read in an earlier call: its reads were sent after it was made.
    const since = w.queue.now;
    const live = (): boolean => runtime === this.#runtime && runtime.alive;
    const seen = (e: StreamEntry): void => {
      if (!live()) return;
      w.check.observe(e.address, 'B' + Buffer.from(e.payload).toString('latin1'), by, since, this.#chainOf(e.address));
      w.tx.record(e.address, e.payload, object);
    };
    const failed = (error: unknown): void => {
      if (!live() || !(error instanceof CorfuError) || error.code !== 'ERR_TRIMMED') return;
      const named = /entry at (\d+) was trimmed/.exec(error.message);
      if (named !== null && !w.check.mayBeTrimmed(Number(named[1]))) w.check.fail('stream/trimmed', `${by}: ERR_TRIMMED named ${named[1]}, which no client trimmed`);
    };
    const overrides = {
      readNext: async (options?: CallOptions): Promise<StreamEntry | undefined> => {
        try {
          const e = await reader.readNext(options);
          if (e !== undefined) seen(e);
          return e;
        } catch (error) {
          failed(error);
          throw error;
        }
      },
      readUpTo: async (address: number, options?: CallOptions): Promise<StreamEntry[]> => {
        try {
          const entries = await reader.readUpTo(address, options);
          for (const e of entries) seen(e);
          return entries;
        } catch (error) {
          failed(error);
          throw error;
        }
      },
    };
    return new Proxy(reader, {
      get: (target, prop) => {
        if (prop === 'readNext' || prop === 'readUpTo') return overrides[prop];
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /**
   * One log call of this incarnation's runtime, recorded in the history and checked to
   * end by its deadline; resolves or rejects as the call does. `commit`: the append of a
   * commit record (a crash while it runs is a death mid-commit).
   */
  #track<R>(
    runtime: SimRuntime,
    kind: OpKind,
    arg: number | string | undefined,
    call: () => Promise<R>,
    onOk?: (value: R, caller: Caller) => void,
    onError?: (error: unknown, caller: Caller) => void,
    commit = false,
  ): Promise<R> {
    const w = this.#w;
    const op = w.history.invoke(this.node, kind, arg, w.queue.now);
    const caller: Caller = { by: `${this.node}#${op.id} ${kind}(${typeof arg === 'string' ? `${arg.length} bytes` : (arg ?? '')})`, invokedAt: op.invokedAt };
    if (runtime !== this.#runtime || !runtime.alive) {
      w.history.end(op, 'unknown', undefined, w.queue.now);
      return call();
    }
    this.#running.add(op);
    if (commit) this.#commits.add(op);
    w.wake();
    const current = (): boolean => {
      this.#commits.delete(op);
      return runtime === this.#runtime && runtime.alive && this.#running.delete(op);
    };
    const startedAt = w.queue.now;
    const inTime = (): void => {
      const took = w.queue.now - startedAt;
      if (took > w.timings.deadlineMs + 1) w.check.fail('deadline', `${caller.by} took ${took.toFixed(1)} ms, past its deadline of ${w.timings.deadlineMs} ms`);
    };
    const p = call();
    p.then(
      (value) => {
        if (!current()) return;
        inTime();
        this.#answered(op, caller, value, onOk);
      },
      (error: unknown) => {
        if (!current()) return;
        inTime();
        this.#failed(op, kind, caller, error, onError);
      },
    );
    return p;
  }

  #readFailed(address: number, error: unknown, caller: Caller): void {
    const w = this.#w;
    if (error instanceof CorfuError && error.code === 'ERR_TRIMMED') w.check.observeTrimmed(address, caller.by);
    if (error instanceof CorfuError && error.code === 'ERR_UNWRITTEN') w.check.observeUnwritten(address, caller.by, caller.invokedAt);
  }

  #readLike(kind: 'read' | 'fill', address: number, call: (c: CorfuClient) => Promise<Entry>, done?: Done<Entry>): void {
    const w = this.#w;
    this.#run(
      kind,
      address,
      call,
      done,
      (entry, caller) => w.check.observe(address, keyOf(entry), caller.by, caller.invokedAt, this.#chainOf(address)),
      (error, caller) => this.#readFailed(address, error, caller),
    );
  }

  /** Runs one operation against this incarnation's client, recorded in the history. */
  #run<R>(
    kind: OpKind,
    arg: number | string | undefined,
    call: (c: CorfuClient, caller: Caller) => Promise<R>,
    done?: Done<R>,
    onOk?: (value: R, caller: Caller) => void,
    onError?: (error: unknown, caller: Caller) => void,
  ): void {
    const w = this.#w;
    const op = w.history.invoke(this.node, kind, arg, w.queue.now);
    const caller: Caller = { by: `${this.node}#${op.id} ${kind}(${arg ?? ''})`, invokedAt: op.invokedAt };
    if (!this.alive) {
      w.history.end(op, 'unknown', undefined, w.queue.now);
      return;
    }
    const runtime = this.#runtime;
    this.#running.add(op);
    w.wake();
    // Whatever settles after this incarnation died was never seen by anyone.
    const current = (): boolean => runtime === this.#runtime && runtime.alive && this.#running.delete(op);
    let startedAt: number | undefined;
    // Every client call ends by its deadline (a reconfiguration is the driver's, with its own timeouts;
    // an object operation makes many calls, each recorded and checked by itself).
    const inTime = (): void => {
      if (kind === 'reconfigure' || kind === 'tx' || startedAt === undefined) return;
      const took = w.queue.now - startedAt;
      if (took > w.timings.deadlineMs + 1) w.check.fail('deadline', `${caller.by} took ${took.toFixed(1)} ms, past its deadline of ${w.timings.deadlineMs} ms`);
    };
    this.#client
      .then((c) => {
        startedAt = w.queue.now;
        return call(c, caller);
      })
      .then(
        (value) => {
          if (!current()) return;
          inTime();
          this.#answered(op, caller, value, onOk);
          done?.({ ok: true, value });
        },
        (error: unknown) => {
          if (!current()) return;
          inTime();
          this.#failed(op, kind, caller, error, onError);
          done?.({ ok: false, error });
        },
      );
  }

  /** A recorded call answered: the caller's check, then its end in the history. */
  #answered<R>(op: OpRecord, caller: Caller, value: R, onOk: ((value: R, caller: Caller) => void) | undefined): void {
    onOk?.(value, caller);
    this.#w.history.end(op, 'ok', summarize(value), this.#w.queue.now);
  }

  /** A recorded call failed: a CorfuError is an answer (the caller's check); anything else fails the run. */
  #failed(op: OpRecord, kind: OpKind, caller: Caller, error: unknown, onError: ((error: unknown, caller: Caller) => void) | undefined): void {
    const w = this.#w;
    if (error instanceof CorfuError) {
      onError?.(error, caller);
      w.history.end(op, 'fail', error.code, w.queue.now);
      return;
    }
    const e = error as Error;
    w.history.end(op, 'fail', e?.name ?? 'Error', w.queue.now);
    // A thrown InvariantError is an invariant the client's own machines caught (the chain's,
    // the stream recovery's, or a unit answering outside the protocol); anything else is a bug too.
    const invariantKind = kind === 'appendTo' ? 'stream/invariant' : kind === 'tx' ? 'tx/invariant' : 'chain-invariant';
    w.check.fail(error instanceof InvariantError ? invariantKind : 'exception', `${caller.by}: ${e?.stack ?? String(e)}`);
  }

  // ---- helpers --------------------------------------------------------------------

  /**
   * The replicas of `address` under the client's projection that the checkers
   * expect a value on: its whole replicas (a unit being rebuilt may not have it
   * yet; the rebuild checker looks at it when it becomes whole).
   */
  #chainOf(address: number): readonly string[] {
    const p = this.projection;
    if (p === undefined) return [];
    try {
      const { segmentIndex, stripeIndex } = locate(p, address);
      return wholeReplicas(p.segments[segmentIndex]!.stripes[stripeIndex]!);
    } catch {
      return [];
    }
  }

  /** Whether `bytes` is a WRITE to `to` for an address whose head is another unit. */
  #belowHead(to: string, bytes: Uint8Array): boolean {
    const h = checkHeader(bytes);
    if (h.kind !== 'header' || h.header.op !== 'WRITE' || h.header.isResponse) return false;
    const d = decodeFrame(bytes);
    if (d.kind !== 'frame' || d.frame.type !== 'request' || d.frame.op !== 'WRITE') return false;
    const p = this.projection;
    if (p === undefined) return false;
    return d.frame.entries.some((e) => {
      try {
        return chainTarget(p, e.address).head !== to;
      } catch {
        return false;
      }
    });
  }
}

/** A stream reader of one incarnation, and what the checks keep of it. */
interface SimStreamReader {
  readonly reader: StreamReader;
  readonly check: StreamReaderCheck;
  /** When the first operation began whose reads the reader may still hold (undefined: none). */
  since: number | undefined;
  /** reader.stats.scanned already counted. */
  scanned: number;
}

/** The object whose stream `stream` is (corfu.object.NAME); undefined for any other stream. */
function objectOf(stream: string): string | undefined {
  return stream.startsWith(OBJECT_STREAM_PREFIX) ? stream.slice(OBJECT_STREAM_PREFIX.length) : undefined;
}

const OBJECT_STREAM_PREFIX = objectStream('');

/** Whether `bytes` is an OK answer to TOKEN or STREAM_TOKEN. */
function isToken(bytes: Uint8Array): boolean {
  const h = checkHeader(bytes);
  if (h.kind !== 'header' || (h.header.op !== 'TOKEN' && h.header.op !== 'STREAM_TOKEN') || !h.header.isResponse) return false;
  const d = decodeFrame(bytes);
  return d.kind === 'frame' && d.frame.type === 'response' && d.frame.status === 'OK';
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
