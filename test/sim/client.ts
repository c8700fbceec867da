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
// Fault hooks: the client crashes right after it is handed a token (TOKEN or
// STREAM_TOKEN), or instead of sending a WRITE to a replica below the head,
// when the injector armed it.
// Planted client bugs: patches.ts (chain and reconfiguration machines) and the
// store views below (`client-no-refresh`, `refresh-epoch-only`).

import { CorfuError } from '../../bindings/errors.js';
import { InvariantError } from '../../bindings/invariant.js';
import { CorfuClient, type Entry } from '../../src/client/client.js';
import { reconfigure } from '../../src/client/reconfigure-driver.js';
import { StreamTrimmedError, type StreamReader } from '../../src/client/stream-reader.js';
import { chainTarget } from '../../src/client/target.js';
import { locate, wholeReplicas } from '../../src/layout/mapping.js';
import type { Change } from '../../src/layout/next.js';
import type { Projection } from '../../src/layout/projection.js';
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
    return new SimRuntime(this.node, w.queue, w.net, () => w.wake(), {
      beforeSend: (to, bytes) => w.armedMidChain.has(this.node) && this.#belowHead(to, bytes) && w.crashMidChain(this.node),
      beforeReceive: (_from, bytes) => w.armedAfterToken.has(this.node) && isToken(bytes) && w.crashAfterToken(this.node),
      onCrash: () => this.#ended(),
    });
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
  }

  /** A new incarnation: a fresh process that connects (reads the latest projection). */
  restart(): void {
    this.incarnation++;
    this.#connected = undefined;
    this.#readers = new Map();
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

  #readLike(kind: 'read' | 'fill', address: number, call: (c: CorfuClient) => Promise<Entry>, done?: Done<Entry>): void {
    const w = this.#w;
    this.#run(
      kind,
      address,
      call,
      done,
      (entry, caller) => w.check.observe(address, keyOf(entry), caller.by, caller.invokedAt, this.#chainOf(address)),
      (error, caller) => {
        if (error instanceof CorfuError && error.code === 'ERR_TRIMMED') w.check.observeTrimmed(address, caller.by);
        if (error instanceof CorfuError && error.code === 'ERR_UNWRITTEN') w.check.observeUnwritten(address, caller.by, caller.invokedAt);
      },
    );
  }

  /** Runs one operation against this incarnation's client, recorded in the history. */
  #run<R>(
    kind: OpKind,
    arg: number | string | undefined,
    call: (c: CorfuClient) => Promise<R>,
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
    // Every client call ends by its deadline (a reconfiguration is the driver's, with its own timeouts).
    const inTime = (): void => {
      if (kind === 'reconfigure' || startedAt === undefined) return;
      const took = w.queue.now - startedAt;
      if (took > w.timings.deadlineMs + 1) w.check.fail('deadline', `${caller.by} took ${took.toFixed(1)} ms, past its deadline of ${w.timings.deadlineMs} ms`);
    };
    this.#client
      .then((c) => {
        startedAt = w.queue.now;
        return call(c);
      })
      .then(
        (value) => {
          if (!current()) return;
          inTime();
          onOk?.(value, caller);
          w.history.end(op, 'ok', summarize(value), w.queue.now);
          done?.({ ok: true, value });
        },
        (error: unknown) => {
          if (!current()) return;
          inTime();
          if (error instanceof CorfuError) {
            onError?.(error, caller);
            w.history.end(op, 'fail', error.code, w.queue.now);
          } else {
            const e = error as Error;
            w.history.end(op, 'fail', e?.name ?? 'Error', w.queue.now);
            // A thrown InvariantError is an invariant the client's own machines caught (the chain's,
            // the stream recovery's, or a unit answering outside the protocol); anything else is a bug too.
            const invariantKind = kind === 'appendTo' ? 'stream/invariant' : 'chain-invariant';
            w.check.fail(error instanceof InvariantError ? invariantKind : 'exception', `${caller.by}: ${e?.stack ?? String(e)}`);
          }
          done?.({ ok: false, error });
        },
      );
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
