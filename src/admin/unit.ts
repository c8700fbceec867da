// The unit's admin sources: its metrics (an observer of every answer, and
// gauges read from the engine at scrape time), its readiness checks and its
// /status. The CLI (src/cli/unit.ts) wires them to the store and the server.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

import { codeName } from '../../bindings/errors.js';
import type { NativeFrontOpMetrics, NativeUnitFrontMetrics, StoreStats } from '../../bindings/native-types.js';
import type { UnitInfo } from '../unit/handler.js';
import type { UnitObserver } from '../unit/server.js';
import type { Request, Response } from '../wire/messages.js';
import { SYNC } from '../wire/messages.js';
import type { AdminSources } from './listener.js';
import { LATENCY_BUCKETS_SECONDS, mergedHistogram, serverRegistry } from './registry.js';

export interface UnitAdminSource {
  /** What INFO answers; undefined while the store is not open. */
  info(): Promise<UnitInfo> | undefined;
  /** The wire listener's address; undefined until it listens. */
  listening(): { host: string; port: number } | undefined;
  connections(): number;
  /** The engine's counters (the index's size, the last checkpoint); undefined while the store is not open. */
  stats?(): Promise<StoreStats> | undefined;
  /** What the WRITEs and READs the native front answered add up to so far; undefined without a native front. */
  frontAnswers?(): NativeUnitFrontMetrics | undefined;
}

/** The operations whose entries are counted and timed one by one. */
type EntryOp = 'WRITE' | 'READ' | 'FILL' | 'TRIM';

export interface UnitAdmin extends AdminSources {
  readonly observer: UnitObserver;
}

export function unitAdmin(source: UnitAdminSource): UnitAdmin {
  const registry = serverRegistry();
  // One INFO and one stats request per scrape, each shared by every gauge that reads it
  // (they are collected concurrently).
  const info = sharedRead(() => source.info());
  const stats = sharedRead(() => source.stats?.());
  /** A gauge of what `read` takes from `from`'s answer; a store that is not open has no value: the series is absent rather than a made-up 0. */
  const gaugeOf =
    <T>(from: () => Promise<T | undefined>) =>
    (name: string, help: string, read: (t: T) => number): Gauge =>
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect(this: Gauge) {
          const t = await from();
          this.reset();
          if (t !== undefined) this.set(read(t));
        },
      });
  const statsGauge = gaugeOf(stats);
  statsGauge('corfu_unit_index_addresses', 'addresses the in-memory index holds', (s) => s.addresses);
  statsGauge('corfu_unit_index_bytes', "the in-memory index's heap: runs of addresses, and one slot per address where the order broke", (s) => s.indexBytes);
  statsGauge('corfu_unit_index_checkpoint_bytes', 'encoded bytes of the newest durable index checkpoint (0: none yet)', (s) => s.checkpointBytes);
  statsGauge('corfu_unit_index_checkpoints_since_open', 'index checkpoints written since the store was opened (a clean close writes one more)', (s) => s.checkpointsWritten);
  const gauge = gaugeOf(info);
  gauge('corfu_unit_epoch', "the unit's epoch: requests of an older one are refused with ERR_SEALED", (i) => i.unitEpoch);
  gauge('corfu_unit_tail', 'one past the highest address written, filled or trimmed-to on this unit', (i) => i.tail);
  gauge('corfu_unit_trim_mark', 'every address below it is trimmed (prefix trim)', (i) => i.trimMark);
  gauge('corfu_unit_used_bytes', 'bytes of the data region holding live pages', (i) => i.usedPages * i.pageBytes);
  gauge('corfu_unit_free_bytes', 'bytes of the data region free for writes (a prefix trim frees more)', (i) => (i.dataPages - i.usedPages) * i.pageBytes);
  gauge('corfu_unit_capacity_bytes', 'bytes of the data region', (i) => i.dataPages * i.pageBytes);
  new Gauge({
    name: 'corfu_unit_info',
    help: "always 1; the unit's identity in its labels",
    labelNames: ['cluster_id', 'unit_id', 'sync'],
    registers: [registry],
    async collect(this: Gauge<'cluster_id' | 'unit_id' | 'sync'>) {
      const i = await info();
      this.reset();
      if (i !== undefined) this.set({ cluster_id: i.clusterId, unit_id: String(i.unitId), sync: i.sync === SYNC.ALWAYS ? 'always' : 'none' }, 1);
    },
  });
  new Gauge({
    name: 'corfu_unit_connections',
    help: 'client connections open',
    registers: [registry],
    collect(this: Gauge) {
      this.set(source.connections());
    },
  });

  const observer = new UnitMetrics(registry, () => source.frontAnswers?.());
  return {
    registry,
    observer,
    checks: [
      { name: 'listener', check: () => (source.listening() === undefined ? 'not listening for requests yet' : undefined) },
      {
        name: 'store',
        check: async () => {
          const p = source.info();
          if (p === undefined) return 'the store is not open';
          await p;
          return undefined;
        },
      },
      {
        name: 'epoch',
        check: async () => {
          const i = await info();
          return i === undefined ? 'unknown until the store answers' : undefined;
        },
      },
    ],
    status: async () => {
      const [i, s] = await Promise.all([info(), stats()]);
      const l = source.listening();
      return {
        role: 'unit',
        listen: l === undefined ? null : `${l.host}:${l.port}`,
        connections: source.connections(),
        ...(i === undefined
          ? { storeOpen: false }
          : {
              storeOpen: true,
              clusterId: i.clusterId,
              unitId: i.unitId,
              formatId: i.formatId,
              epoch: i.unitEpoch,
              tail: i.tail,
              trimMark: i.trimMark,
              usedBytes: i.usedPages * i.pageBytes,
              freeBytes: (i.dataPages - i.usedPages) * i.pageBytes,
              capacityBytes: i.dataPages * i.pageBytes,
              maxEntryBytes: i.maxEntryBytes,
              sync: i.sync === SYNC.ALWAYS ? 'always' : 'none',
              ...(s === undefined
                ? {}
                : {
                    index: {
                      addresses: s.addresses,
                      bytes: s.indexBytes,
                      checkpointPage: s.checkpointSeq,
                      checkpointBytes: s.checkpointBytes,
                      recoveryMs: s.recoveryMs,
                    },
                  }),
            }),
      };
    },
  };
}

/** `get` called at most once at a time: callers while one is pending share its answer (undefined on failure). */
function sharedRead<T>(get: () => Promise<T> | undefined): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return () => {
    pending ??= (get() ?? Promise.resolve(undefined)).catch(() => undefined).finally(() => (pending = undefined));
    return pending;
  };
}

/** Nothing answered yet: what a front's first snapshot is counted from. */
function nothingAnswered(): NativeFrontOpMetrics {
  return { requests: 0, entries: 0, payloadBytes: 0, requestErrors: [], entryErrors: [], latencyBuckets: [], latencySumSeconds: 0 };
}

/** The operations a native front answers itself. */
const FRONT_OPS = [
  ['WRITE', 'write'],
  ['READ', 'read'],
] as const;

/**
 * Counts and times every answer; label values come only from the opcode and status tables.
 * The WRITEs and READs a native front answered never reach JS: their counts are brought in
 * at scrape time (the first counter's collect), and their latencies are added to the
 * histograms' own.
 */
class UnitMetrics implements UnitObserver {
  readonly latencyBoundsSeconds = LATENCY_BUCKETS_SECONDS;
  readonly #front: () => NativeUnitFrontMetrics | undefined;
  /** The front's counts already added to the counters, by operation. */
  #frontCounted = { write: nothingAnswered(), read: nothingAnswered() };
  readonly #requests: Counter<'op'>;
  readonly #requestErrors: Counter<'op' | 'code'>;
  readonly #entryErrors: Counter<'op' | 'code'>;
  readonly #entries: Record<EntryOp, Counter>;
  readonly #latency: Record<EntryOp, Histogram>;
  readonly #writeBytes: Counter;
  readonly #readBytes: Counter;

  constructor(registry: Registry, front: () => NativeUnitFrontMetrics | undefined) {
    const registers = [registry];
    this.#front = front;
    const sync = (): void => this.#countFront();
    this.#requests = new Counter({
      name: 'corfu_unit_requests_total',
      help: 'requests answered, by opcode',
      labelNames: ['op'],
      registers,
      // Registered before the other request metrics: a scrape collects them in order.
      collect() {
        sync();
      },
    });
    this.#requestErrors = new Counter({
      name: 'corfu_unit_request_errors_total',
      help: 'requests refused as a whole (ERR_SEALED, ERR_IO, ERR_BAD_REQUEST, ...), by opcode and code',
      labelNames: ['op', 'code'],
      registers,
    });
    this.#entryErrors = new Counter({
      name: 'corfu_unit_entry_errors_total',
      help: 'entries of answered requests whose status was not OK (ERR_WRITTEN, ERR_UNWRITTEN, ERR_TRIMMED, ERR_FULL, ...), by opcode and code',
      labelNames: ['op', 'code'],
      registers,
    });
    const entries = (op: string, what: string): Counter => new Counter({ name: `corfu_unit_${op}_entries_total`, help: `entries asked to ${what}, in answered requests`, registers });
    this.#entries = { WRITE: entries('write', 'write'), READ: entries('read', 'read'), FILL: entries('fill', 'fill with junk'), TRIM: entries('trim', 'trim (single addresses)') };
    const latency = (op: string): Histogram =>
      new Histogram({ name: `corfu_unit_${op}_latency_seconds`, help: `${op.toUpperCase()} requests: from decoding to the answer`, buckets: LATENCY_BUCKETS_SECONDS, registers });
    // WRITE's and READ's latencies: prom-client's observations plus the front's buckets.
    const frontLatency = (op: 'write' | 'read'): Histogram =>
      mergedHistogram(registry, { name: `corfu_unit_${op}_latency_seconds`, help: `${op.toUpperCase()} requests: from decoding to the answer`, buckets: LATENCY_BUCKETS_SECONDS }, () => {
        const m = front()?.[op];
        return m === undefined ? undefined : { buckets: m.latencyBuckets, sumSeconds: m.latencySumSeconds };
      });
    this.#latency = { WRITE: frontLatency('write'), READ: frontLatency('read'), FILL: latency('fill'), TRIM: latency('trim') };
    this.#writeBytes = new Counter({ name: 'corfu_unit_write_bytes_total', help: 'payload bytes of entries in answered WRITE requests', registers });
    this.#readBytes = new Counter({ name: 'corfu_unit_read_bytes_total', help: 'payload bytes of data entries answered to READ requests', registers });
  }

  answered(req: Request, res: Response, seconds: number): void {
    this.#requests.inc({ op: req.op });
    if (res.status !== 'OK') {
      this.#requestErrors.inc({ op: req.op, code: res.status });
      return;
    }
    switch (req.op) {
      case 'WRITE': {
        let bytes = 0;
        for (const e of req.entries) bytes += e.payload.length;
        this.#writeBytes.inc(bytes);
        this.#entry('WRITE', req.entries.length, seconds, res);
        return;
      }
      case 'READ': {
        if (res.op === 'READ') {
          let bytes = 0;
          for (const p of res.payloads) if (p !== null) bytes += p.length;
          this.#readBytes.inc(bytes);
        }
        this.#entry('READ', req.addresses.length, seconds, res);
        return;
      }
      case 'FILL':
      case 'TRIM':
        this.#entry(req.op, req.addresses.length, seconds, res);
        return;
      default:
    }
  }

  /** Adds what the native front answered since the last scrape to the counters. */
  #countFront(): void {
    const now = this.#front();
    if (now === undefined) return;
    for (const [op, key] of FRONT_OPS) {
      const was = this.#frontCounted[key];
      const is = now[key];
      // A front started anew (a new server in this process) counts from zero again.
      const before = is.requests < was.requests ? nothingAnswered() : was;
      this.#frontCounted[key] = is;
      const delta = (a: number, b: number | undefined): number => a - (b ?? 0);
      if (is.requests > before.requests) this.#requests.inc({ op }, delta(is.requests, before.requests));
      if (is.entries > before.entries) this.#entries[op].inc(delta(is.entries, before.entries));
      const bytes = op === 'WRITE' ? this.#writeBytes : this.#readBytes;
      if (is.payloadBytes > before.payloadBytes) bytes.inc(delta(is.payloadBytes, before.payloadBytes));
      is.requestErrors.forEach((n, code) => {
        const d = delta(n, before.requestErrors[code]);
        if (d > 0) this.#requestErrors.inc({ op, code: codeName(code) }, d);
      });
      is.entryErrors.forEach((n, code) => {
        const d = delta(n, before.entryErrors[code]);
        if (d > 0) this.#entryErrors.inc({ op, code: codeName(code) }, d);
      });
    }
  }

  #entry(op: EntryOp, count: number, seconds: number, res: Response): void {
    this.#entries[op].inc(count);
    this.#latency[op].observe(seconds);
    if (!('statuses' in res)) return;
    for (const byte of res.statuses) if (byte !== 0) this.#entryErrors.inc({ op, code: codeName(byte) });
  }
}
