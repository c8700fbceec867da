// A cluster inside the test process, for CorfuClient tests that start no server: units
// run the product's request handler (src/unit/handler.ts) over the simulator's in-memory
// engine (test/sim/engine.ts), sequencers the pure Sequencer (src/sequencer/state.ts),
// and the client reaches them through a Dialer whose links carry the real codec's frames
// to them and back (each answer in a later turn, as a socket's would be). The projection
// store is in memory, and can keep a new projection from its watchers (`quiet`), so that
// only a client's refresh after ERR_SEALED finds it.
//
// A test can answer any request itself first (`answer`): an error, a made-up INFO, or
// 'silent' (no answer, as a hung server), or take a server `down` (a killed process).
// Every request that reached a server is in `sent`.

import type { ClientRuntime } from '../../src/client/runtime.js';
import { CorfuClient, type ConnectOptions } from '../../src/client/index.js';
import type { Entry } from '../../src/client/client.js';
import { parseProjection, type Projection } from '../../src/layout/index.js';
import type { ProjectionStore, ProposeResult, WatchErrorHandler } from '../../src/layout/store.js';
import { Sequencer } from '../../src/sequencer/state.js';
import { systemClock } from '../../src/transport/clock.js';
import type { Link, LinkHandlers } from '../../src/transport/dialer.js';
import { handleRequest } from '../../src/unit/handler.js';
import { CorfuError, type ErrorCode } from '../../bindings/errors.js';
import { FrameDecoder, encodeResponse, errorResponse } from '../../src/wire/index.js';
import type { Request, Response } from '../../src/wire/index.js';
import { Bugs } from '../sim/bugs.js';
import { Disk, MemEngine } from '../sim/engine.js';

/** An entry's payload as text; '<junk>' for a filled hole. */
export const text = (e: Entry): string => (e.kind === 'data' ? Buffer.from(e.payload).toString() : '<junk>');

/** One turn of the event loop (the in-memory links answer in a later turn). */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The projection store in memory: write-once slots, watchers told of each new latest one unless `quiet`. */
export class MemStore implements ProjectionStore {
  readonly #slots = new Map<number, Projection>();
  readonly #watchers = new Set<(p: Projection) => void>();
  readonly #status = new Map<string, unknown>();
  /** Proposals are kept from the watchers: a client learns of them only by loading the latest. */
  quiet = false;
  latestCalls = 0;
  closed = false;

  get watchers(): number {
    return this.#watchers.size;
  }

  async get(epoch: number): Promise<Projection | undefined> {
    return this.#slots.get(epoch);
  }

  async latest(): Promise<Projection | undefined> {
    this.latestCalls++;
    return this.current();
  }

  /** The latest projection, without counting a load. */
  current(): Projection | undefined {
    const epochs = [...this.#slots.keys()];
    return epochs.length === 0 ? undefined : this.#slots.get(Math.max(...epochs));
  }

  async propose(projection: Projection): Promise<ProposeResult> {
    const held = this.#slots.get(projection.epoch);
    if (held !== undefined) return { accepted: false, winner: held };
    this.#slots.set(projection.epoch, projection);
    if (!this.quiet && this.current() === projection) for (const w of [...this.#watchers]) w(projection);
    return { accepted: true, winner: projection };
  }

  watch(onProjection: (p: Projection) => void, _onError?: WatchErrorHandler): () => void {
    const w = (p: Projection): void => onProjection(p);
    this.#watchers.add(w);
    return () => {
      this.#watchers.delete(w);
    };
  }

  async putStatus(name: string, value: unknown): Promise<void> {
    this.#status.set(name, value);
  }

  async getStatus(name: string): Promise<unknown> {
    return this.#status.get(name);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.#watchers.clear();
  }
}

/**
 * What a test answers for a request before the server does: a response, 'silent' (none), or
 * undefined (the server's own). It may take its time (a promise): the server waits for it.
 */
export type Answer = (to: string, req: Request) => Response | 'silent' | undefined | Promise<Response | 'silent' | undefined>;

export interface LayoutInput {
  readonly epoch: number;
  readonly sequencer: string;
  /** One chain, head first, over every address; or several segments. */
  readonly chain?: readonly string[];
  readonly segments?: ReadonlyArray<{ start: number; end: number | null; chains: ReadonlyArray<readonly string[]> }>;
  readonly maxEntryBytes?: number;
}

/** `req` refused whole with `code` and `message`, as a server answers. */
export function refuse(req: Request, code: ErrorCode, message: string): Response {
  return errorResponse(req.op, req.requestId, req.epoch, new CorfuError(code, message));
}

export function layout(input: LayoutInput): Projection {
  const segments = input.segments ?? [{ start: 0, end: null, chains: [input.chain ?? []] }];
  const units = [...new Set(segments.flatMap((s) => s.chains.flat()))];
  return parseProjection({
    epoch: input.epoch,
    sequencer: input.sequencer,
    units,
    segments: segments.map((s) => ({ start: s.start, end: s.end, stripes: s.chains.map((chain) => ({ chain })) })),
    ...(input.maxEntryBytes === undefined ? {} : { maxEntryBytes: input.maxEntryBytes }),
  });
}

export class FakeCluster {
  readonly store = new MemStore();
  readonly engines = new Map<string, MemEngine>();
  readonly sequencers = new Map<string, Sequencer>();
  /** Every request that reached a server (answered by the test or not), in order. */
  readonly sent: Array<{ readonly to: string; readonly req: Request }> = [];
  answer: Answer | undefined;
  dials = 0;
  /** Links the client destroyed (a closed client releases its connections). */
  destroyed = 0;
  readonly runtime: ClientRuntime;
  readonly #clients: CorfuClient[] = [];
  /** Servers that are down: their links were closed and they refuse new ones. */
  readonly #down = new Set<string>();
  readonly #links = new Map<string, Set<() => void>>();

  constructor() {
    this.runtime = {
      clock: systemClock,
      dialer: { dial: (host, port, handlers) => this.#dial(`${host}:${port}`, handlers) },
      defer: (fn) => {
        setImmediate(fn);
      },
    };
  }

  /** A unit at `epoch` (its device formatted, empty). */
  unit(name: string, epoch: number): MemEngine {
    const disk = new Disk({ formatId: '0'.repeat(15) + String(this.engines.size % 10) });
    disk.epoch = epoch;
    const engine = new MemEngine(disk, new Bugs());
    this.engines.set(name, engine);
    return engine;
  }

  sequencer(name: string, epoch: number, startTail = 0): Sequencer {
    const seq = new Sequencer({ epoch, startTail });
    this.sequencers.set(name, seq);
    return seq;
  }

  /** The units and sequencer of `input` (those not made yet, at its epoch), and the projection proposed. */
  async install(input: LayoutInput): Promise<Projection> {
    const p = layout(input);
    for (const u of p.units) if (!this.engines.has(u)) this.unit(u, p.epoch);
    if (!this.sequencers.has(p.sequencer)) this.sequencer(p.sequencer, p.epoch);
    const result = await this.store.propose(p);
    if (!result.accepted) throw new Error(`epoch ${p.epoch} is taken`);
    return p;
  }

  /**
   * A reconfiguration to `input`: every unit of the store's latest projection sealed at the
   * new epoch, the new sequencer bootstrapped at their largest tail or `startTail` (a new
   * one, or the same one moved up: its counter never goes down), the projection proposed
   * (watchers told unless the store is `quiet`).
   */
  async reconfigure(input: LayoutInput, options: { resetStreams?: boolean; startTail?: number } = {}): Promise<Projection> {
    const old = this.store.current();
    let sealed = 0;
    for (const u of old?.units ?? []) sealed = Math.max(sealed, await this.engines.get(u)!.seal(input.epoch));
    const tail = options.startTail ?? sealed;
    const p = layout(input);
    for (const u of p.units) if (!this.engines.has(u)) this.unit(u, p.epoch);
    const seq = this.sequencers.get(p.sequencer) ?? this.sequencer(p.sequencer, old?.epoch ?? 0);
    const res = seq.handle({ type: 'request', op: 'BOOTSTRAP', requestId: 0, epoch: seq.epoch, newEpoch: p.epoch, startTail: tail, resetStreams: options.resetStreams ?? false });
    if (res.status !== 'OK') throw new Error(`bootstrap: ${res.status}`);
    const result = await this.store.propose(p);
    if (!result.accepted) throw new Error(`epoch ${p.epoch} is taken`);
    return p;
  }

  /** `name` goes down, as a killed process: its connections close, and it refuses new ones. */
  down(name: string): void {
    this.#down.add(name);
    for (const close of [...(this.#links.get(name) ?? [])]) close();
  }

  /** Writes `payload` at `address` on `unit` directly (another client's write, say). */
  async write(unit: string, epoch: number, address: number, payload: Uint8Array): Promise<void> {
    const res = await handleRequest(this.engines.get(unit)!, { type: 'request', op: 'WRITE', requestId: 0, epoch, entries: [{ address, payload }] });
    if (res.status !== 'OK' || res.op !== 'WRITE' || res.statuses[0] !== 0) throw new Error(`write ${address} at ${unit}: ${res.status}`);
  }

  /** CorfuClient.connect on this cluster's store and runtime, closed by `closeAll`. */
  async connect(options: Partial<ConnectOptions> = {}): Promise<CorfuClient> {
    const c = await CorfuClient.connect({ layout: this.store, runtime: this.runtime, shareConnections: false, ...options });
    this.#clients.push(c);
    return c;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.#clients.map((c) => c.close()));
  }

  /** The requests of one operation that reached servers. */
  ops(op: Request['op']): Array<{ readonly to: string; readonly req: Request }> {
    return this.sent.filter((s) => s.req.op === op);
  }

  async #serve(to: string, req: Request): Promise<Response | undefined> {
    this.sent.push({ to, req });
    const own = await this.answer?.(to, req);
    if (own === 'silent') return undefined;
    if (own !== undefined) return own;
    return this.own(to, req);
  }

  /** The server's own answer to `req` (for an `answer` that changes it). */
  async own(to: string, req: Request): Promise<Response> {
    const engine = this.engines.get(to);
    if (engine !== undefined) return handleRequest(engine, req);
    return this.sequencers.get(to)!.handle(req);
  }

  #dial(to: string, handlers: LinkHandlers): Link {
    this.dials++;
    let open = true;
    const later = (fn: () => void): void => {
      setImmediate(() => {
        if (open) fn();
      });
    };
    if ((!this.engines.has(to) && !this.sequencers.has(to)) || this.#down.has(to)) {
      open = false;
      setImmediate(() => handlers.onClose(Object.assign(new Error(`connect ECONNREFUSED ${to}`), { code: 'ECONNREFUSED' })));
      return { write: () => true, destroy: () => {} };
    }
    later(() => handlers.onConnect());
    const decoder = new FrameDecoder();
    const links = this.#links.get(to) ?? new Set<() => void>();
    this.#links.set(to, links);
    const reset = (): void => {
      if (!open) return;
      open = false;
      links.delete(reset);
      setImmediate(() => handlers.onClose(Object.assign(new Error(`read ECONNRESET ${to}`), { code: 'ECONNRESET' })));
    };
    links.add(reset);
    return {
      write: (bytes) => {
        decoder.push(bytes);
        for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) {
          void this.#serve(to, r.frame as Request).then((res) => {
            if (res !== undefined) later(() => handlers.onData(encodeResponse(res)));
          });
        }
        return true;
      },
      destroy: () => {
        if (!open) return;
        open = false;
        links.delete(reset);
        this.destroyed++;
        setImmediate(() => handlers.onClose(undefined));
      },
    };
  }
}
