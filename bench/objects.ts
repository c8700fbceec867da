// `npm run bench:objects -- --layout URL [--concurrency N] [--runtimes R] [--seconds S] [--runs K] [--keys N] [--json FILE] [--no-redis] [--no-etcd]`
//
// The object layer (docs/objects.md) against Redis and etcd, measured side by
// side in the same run at the same concurrency (these machines are noisy):
//
//   1. atomic 10-key multi-puts/s, 128 B values: Corfu kv.multiPut (one log
//      entry); Redis MULTI + 10 SET + EXEC with `appendfsync always`; etcd one
//      txn of 10 puts (single member; it fsyncs its WAL before answering);
//   2. consistent 10-key multi-gets/s of 128 B values: Corfu kv.multiGet
//      (linearizable: plays the stream to its tail, then one snapshot); Redis
//      MGET of the 10 keys (one atomic command); etcd one txn of 10 gets
//      (linearizable);
//   3. transfers: read 2 keys, write both (one -1, one +1), on uniform and on
//      Zipfian key choice over --keys keys. Corfu rt.transaction with no
//      retries (ERR_CONFLICT is an abort); Redis WATCH a b, MGET a b, MULTI,
//      SET, SET, EXEC (a null EXEC is an abort); etcd a txn reading both, then
//      a txn comparing both keys' mod_revision (a failed compare is an abort).
//      Committed transfers/s, attempts/s and the abort rate. After each
//      measurement the balances must still add up to the opening total (a lost
//      or doubled transfer fails the benchmark, exit 1).
//
// Concurrency: N operations in flight per system at all times (closed loop:
// N workers, each starting its next operation when its last one ends). Corfu:
// the workers share R runtimes in this process (default R = N: one runtime,
// one operation each, like N separate clients; each runtime replays every
// entry of the objects it reads); Redis: N connections (WATCH needs its own);
// etcd: N requests in flight on one client (gRPC multiplexes them).
//
// Each measurement has its own fresh data (a new store, key prefix), is
// preceded by --warmup seconds not counted, and lasts --seconds. Runs
// interleave the systems figure by figure. Each figure is the median of --runs
// runs, with the range; latencies are per operation (an aborted transfer is an
// operation), from hdr-histogram. A benchmark, not a test: it prints figures
// and exits 0.

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { CompareResult, CompareTarget, Etcd3, type IRequestOp } from 'etcd3';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';

import { CorfuError } from '../bindings/errors.js';
import { CorfuRuntime } from '../src/objects/index.js';
import { UsageError, formatCount, positiveFlag, renderTable, runMain } from './common.js';
import { startEtcd, startRedis, type Server } from './servers.js';

const USAGE = `usage: npm run bench:objects -- --layout URL [--concurrency N] [--runtimes R] [--seconds S] [--warmup S] [--runs K]
                                [--keys N] [--zipf S] [--json FILE] [--no-redis] [--no-etcd]
  --layout URL       the log to use (corfu up prints it), e.g. a cluster of 'corfu up --units 4 --replicas 2'
  --concurrency N    operations in flight per system, closed loop (default 16)
  --runtimes R       Corfu runtimes (clients) in this process the N workers share (default N: one each)
  --seconds S        measured seconds per system, figure and run (default 5)
  --warmup S         seconds run before each measurement, not counted (default 1)
  --runs K           runs; figures are medians with the range (default 3)
  --keys N           keyspace of every figure, at least 10 (default 1000)
  --zipf S           Zipfian exponent of the skewed transfers (default 0.99)
  --json FILE        also write the figures as JSON
  --no-redis         skip Redis (redis-server, started here with appendfsync always)
  --no-etcd          skip etcd (etcd-server, a single member started here)`;

interface Args {
  layout: string;
  concurrency: number;
  runtimes: number;
  seconds: number;
  warmup: number;
  runs: number;
  keys: number;
  zipf: number;
  json: string | undefined;
  redis: boolean;
  etcd: boolean;
}

function args(): Args {
  const { values } = parseArgs({
    options: {
      layout: { type: 'string' },
      concurrency: { type: 'string', default: '16' },
      runtimes: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
      keys: { type: 'string', default: '1000' },
      zipf: { type: 'string', default: '0.99' },
      json: { type: 'string' },
      'no-redis': { type: 'boolean', default: false },
      'no-etcd': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.layout === undefined) throw new UsageError(`--layout is required\n${USAGE}`);
  const concurrency = positiveFlag('concurrency', values.concurrency);
  const runtimes = values.runtimes === undefined ? concurrency : positiveFlag('runtimes', values.runtimes);
  if (runtimes > concurrency) throw new UsageError(`--runtimes (${runtimes}) cannot exceed --concurrency (${concurrency})`);
  const keys = positiveFlag('keys', values.keys);
  if (keys < KEYS_PER_OP) throw new UsageError(`--keys must be at least ${KEYS_PER_OP}, got ${keys}`);
  const warmup = Number(values.warmup);
  if (!Number.isFinite(warmup) || warmup < 0) throw new UsageError(`--warmup must be a non-negative number, got '${values.warmup}'`);
  return {
    layout: values.layout,
    concurrency,
    runtimes,
    seconds: positiveFlag('seconds', values.seconds, false),
    warmup,
    runs: positiveFlag('runs', values.runs),
    keys,
    zipf: positiveFlag('zipf', values.zipf, false),
    json: values.json,
    redis: !values['no-redis'],
    etcd: !values['no-etcd'],
  };
}

/** Keys per multi-put and multi-get. */
const KEYS_PER_OP = 10;
const VALUE_BYTES = 128;
/** Every account's opening balance in the transfer figures. */
const OPENING = 1_000_000;
/** A measurement with more failures (not aborts) than this stops the benchmark. */
const MAX_ERRORS = 100;
/** An operation that has not finished after this long stops the benchmark (something is stuck, not slow). */
const STALL_MS = 30_000;

type FigureName = 'multiPut' | 'multiGet' | 'txUniform' | 'txZipf';
const FIGURES: readonly FigureName[] = ['multiPut', 'multiGet', 'txUniform', 'txZipf'];
const isTransfer = (f: FigureName): boolean => f === 'txUniform' || f === 'txZipf';

type SystemName = 'Corfu' | 'Redis' | 'etcd';

/** One operation: resolves true when it took effect, false when it aborted (a transfer's conflict); throws on a failure. */
type Op = () => Promise<boolean>;

interface Prepared {
  /** One per worker. */
  readonly ops: readonly Op[];
  /** Runs after the measurement: the sum of every balance (transfers only). */
  readonly total?: () => Promise<number>;
}

interface System {
  readonly name: SystemName;
  prepare(figure: FigureName, prefix: string, a: Args): Promise<Prepared>;
  close(): Promise<void>;
}

interface Measured {
  /** Operations that took effect per second (for transfers: committed). */
  perSec: number;
  /** Operations completed per second, aborted ones included. */
  attemptsPerSec: number;
  abortRate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
}

// ---- workload helpers -------------------------------------------------------------

function keyName(i: number, n: number): string {
  return `k${String(i).padStart(String(n - 1).length, '0')}`;
}

/** A 128-byte value (as a string: 128 ASCII bytes). */
function value(seq: number): string {
  return `v${seq}:`.padEnd(VALUE_BYTES, 'x');
}

/** `count` distinct key indexes, uniform over [0, n). */
function distinct(count: number, n: number, pick: () => number = () => Math.floor(Math.random() * n)): number[] {
  const seen = new Set<number>();
  while (seen.size < count) seen.add(pick());
  return [...seen];
}

/** Key indexes in [0, n) with P(i) proportional to 1/(i+1)^s. */
function zipfian(n: number, s: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  return () => {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function picker(figure: FigureName, a: Args): () => number {
  return figure === 'txZipf' ? zipfian(a.keys, a.zipf) : () => Math.floor(Math.random() * a.keys);
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

let seq = 0;

// ---- Corfu ------------------------------------------------------------------------

async function corfuSystem(a: Args): Promise<System> {
  const rts: CorfuRuntime[] = [];
  try {
    for (let i = 0; i < a.runtimes; i++) rts.push(await CorfuRuntime.connect({ layout: a.layout }));
  } catch (err) {
    await Promise.all(rts.map((rt) => rt.close()));
    throw err;
  }
  const rtOf = (worker: number): CorfuRuntime => rts[worker % rts.length]!;
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => keyName(i, n));
  return {
    name: 'Corfu',
    async prepare(figure, prefix) {
      const keys = names(a.keys);
      const ops: Op[] = [];
      if (figure === 'multiPut' || figure === 'multiGet') {
        if (figure === 'multiGet') {
          const kv = rts[0]!.kv<string>(prefix);
          for (const part of chunks(keys, 100)) await kv.multiPut(part.map((k) => [k, value(seq++)] as const));
          // Every runtime plays the store's stream once before the clock starts.
          await Promise.all(rts.map((rt) => rt.kv<string>(prefix).multiGet([keys[0]!])));
        }
        for (let w = 0; w < a.concurrency; w++) {
          const kv = rtOf(w).kv<string>(prefix);
          ops.push(
            figure === 'multiPut'
              ? async () => {
                  await kv.multiPut(distinct(KEYS_PER_OP, a.keys).map((i) => [keys[i]!, value(seq++)] as const));
                  return true;
                }
              : async () => {
                  const got = await kv.multiGet(distinct(KEYS_PER_OP, a.keys).map((i) => keys[i]!));
                  if (got.some((v) => v === undefined)) throw new Error('multiGet: a prefilled key is missing');
                  return true;
                },
          );
        }
        return { ops };
      }
      const map0 = rts[0]!.map<number>(prefix);
      for (const part of chunks(keys, 500)) await map0.putAll(part.map((k) => [k, OPENING] as const));
      await Promise.all(rts.map((rt) => rt.map<number>(prefix).size()));
      for (let w = 0; w < a.concurrency; w++) {
        const rt = rtOf(w);
        const map = rt.map<number>(prefix);
        const pick = picker(figure, a);
        ops.push(async () => {
          const [from, to] = distinct(2, a.keys, pick).map((i) => keys[i]!) as [string, string];
          try {
            await rt.transaction(async (tx) => {
              const [x, y] = await Promise.all([tx.get(map, from), tx.get(map, to)]);
              tx.put(map, from, (x ?? 0) - 1);
              tx.put(map, to, (y ?? 0) + 1);
            });
            return true;
          } catch (err) {
            if (err instanceof CorfuError && err.code === 'ERR_CONFLICT') return false;
            throw err;
          }
        });
      }
      return { ops, total: async () => (await map0.entries()).reduce((s, [, v]) => s + v, 0) };
    },
    async close() {
      await Promise.all(rts.map((rt) => rt.close()));
    },
  };
}

// ---- Redis ------------------------------------------------------------------------

async function redisSystem(a: Args, port: number): Promise<System> {
  const conns = Array.from({ length: a.concurrency }, () => new Redis({ port, host: '127.0.0.1' }));
  await Promise.all(conns.map((c) => c.ping()));
  return {
    name: 'Redis',
    async prepare(figure, prefix) {
      const keys = Array.from({ length: a.keys }, (_, i) => `${prefix}:${keyName(i, a.keys)}`);
      const c0 = conns[0]!;
      if (figure === 'multiGet') for (const part of chunks(keys, 100)) await c0.mset(...part.flatMap((k) => [k, value(seq++)]));
      if (isTransfer(figure)) for (const part of chunks(keys, 500)) await c0.mset(...part.flatMap((k) => [k, String(OPENING)]));
      const ops = conns.map((c): Op => {
        if (figure === 'multiPut') {
          return async () => {
            const m = c.multi();
            for (const i of distinct(KEYS_PER_OP, a.keys)) m.set(keys[i]!, value(seq++));
            const r = await m.exec();
            if (r === null || r.some(([err]) => err !== null)) throw new Error(`MULTI/EXEC failed: ${JSON.stringify(r)}`);
            return true;
          };
        }
        if (figure === 'multiGet') {
          return async () => {
            const got = await c.mget(...distinct(KEYS_PER_OP, a.keys).map((i) => keys[i]!));
            if (got.some((v) => v === null)) throw new Error('MGET: a prefilled key is missing');
            return true;
          };
        }
        const pick = picker(figure, a);
        return async () => {
          const [from, to] = distinct(2, a.keys, pick).map((i) => keys[i]!) as [string, string];
          await c.watch(from, to);
          const [x, y] = await c.mget(from, to);
          const r = await c
            .multi()
            .set(from, String(Number(x) - 1))
            .set(to, String(Number(y) + 1))
            .exec();
          if (r === null) return false;
          if (r.some(([err]) => err !== null)) throw new Error(`MULTI/EXEC failed: ${JSON.stringify(r)}`);
          return true;
        };
      });
      return { ops, ...(isTransfer(figure) ? { total: async () => (await c0.mget(...keys)).reduce((s, v) => s + Number(v), 0) } : {}) };
    },
    async close() {
      await Promise.all(conns.map((c) => c.quit()));
    },
  };
}

// ---- etcd -------------------------------------------------------------------------

async function etcdSystem(a: Args, port: number): Promise<System> {
  const client = new Etcd3({ hosts: `http://127.0.0.1:${port}` });
  const kv = client.kv;
  await kv.range({ key: Buffer.from('probe') });
  const range = (key: Buffer): IRequestOp => ({ request_range: { key } });
  const put = (key: Buffer, v: string): IRequestOp => ({ request_put: { key, value: Buffer.from(v) } });
  return {
    name: 'etcd',
    async prepare(figure, prefix) {
      const keys = Array.from({ length: a.keys }, (_, i) => Buffer.from(`${prefix}/${keyName(i, a.keys)}`));
      if (figure === 'multiGet') for (const part of chunks(keys, 100)) await kv.txn({ success: part.map((k) => put(k, value(seq++))) });
      if (isTransfer(figure)) for (const part of chunks(keys, 100)) await kv.txn({ success: part.map((k) => put(k, String(OPENING))) });
      const ops = Array.from({ length: a.concurrency }, (): Op => {
        if (figure === 'multiPut') {
          return async () => {
            const r = await kv.txn({ success: distinct(KEYS_PER_OP, a.keys).map((i) => put(keys[i]!, value(seq++))) });
            if (!r.succeeded) throw new Error('etcd txn of puts did not succeed');
            return true;
          };
        }
        if (figure === 'multiGet') {
          return async () => {
            const r = await kv.txn({ success: distinct(KEYS_PER_OP, a.keys).map((i) => range(keys[i]!)) });
            if (r.responses.some((x) => x.response_range.kvs.length !== 1)) throw new Error('etcd txn of gets: a prefilled key is missing');
            return true;
          };
        }
        const pick = picker(figure, a);
        return async () => {
          const [from, to] = distinct(2, a.keys, pick).map((i) => keys[i]!) as [Buffer, Buffer];
          const read = await kv.txn({ success: [range(from), range(to)] });
          const [x, y] = read.responses.map((r) => r.response_range.kvs[0]!);
          const r = await kv.txn({
            compare: [
              { key: from, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: x!.mod_revision },
              { key: to, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: y!.mod_revision },
            ],
            success: [put(from, String(Number(x!.value.toString()) - 1)), put(to, String(Number(y!.value.toString()) + 1))],
          });
          return r.succeeded;
        };
      });
      const total = async (): Promise<number> => {
        const end = Buffer.from(`${prefix}0`); // '/' + 1
        const r = await kv.range({ key: Buffer.from(`${prefix}/`), range_end: end });
        return r.kvs.reduce((s, x) => s + Number(x.value.toString()), 0);
      };
      return { ops, ...(isTransfer(figure) ? { total } : {}) };
    },
    close() {
      client.close();
      return Promise.resolve();
    },
  };
}

// ---- measuring ----------------------------------------------------------------------

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

class Stalled extends Error {
  constructor() {
    super(
      `an operation has not finished in ${STALL_MS / 1000} s: stuck, not slow. ` +
        '(Known: concurrent transactions in one CorfuRuntime can deadlock, so --runtimes below --concurrency may stall the transfers.)',
    );
  }
}

/** Runs every op in its own closed loop for warmup + seconds; counts what completes in the last `seconds`. */
async function measure(ops: readonly Op[], warmupS: number, seconds: number): Promise<Measured> {
  const h = histogram();
  let ok = 0;
  let aborted = 0;
  let errors = 0;
  let firstError: string | undefined;
  const from = performance.now() + warmupS * 1000;
  const to = from + seconds * 1000;
  await Promise.all(
    ops.map(async (op) => {
      while (performance.now() < to) {
        const t0 = performance.now();
        let took: boolean | undefined;
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Stalled()), STALL_MS);
        });
        try {
          took = await Promise.race([op(), stalled]);
        } catch (err) {
          if (err instanceof Stalled) throw err;
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
          if (errors > MAX_ERRORS) throw new Error(`more than ${MAX_ERRORS} failed operations; the first: ${firstError}`);
        } finally {
          clearTimeout(timer);
        }
        const t1 = performance.now();
        if (t1 < from || t1 > to || took === undefined) continue;
        h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
        if (took) ok++;
        else aborted++;
      }
    }),
  );
  const done = ok + aborted;
  const ms = (us: number): number => us / 1000;
  return {
    perSec: ok / seconds,
    attemptsPerSec: done / seconds,
    abortRate: done === 0 ? 0 : aborted / done,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

// ---- reporting ----------------------------------------------------------------------

interface Stat {
  median: number;
  min: number;
  max: number;
}

function stat(runs: readonly Measured[], key: 'perSec' | 'attemptsPerSec' | 'abortRate' | 'p50Ms' | 'p99Ms'): Stat {
  const xs = runs.map((r) => r[key]).sort((x, y) => x - y);
  return { median: xs[Math.floor(xs.length / 2)]!, min: xs[0]!, max: xs[xs.length - 1]! };
}

const TITLES: Record<FigureName, string> = {
  multiPut: `atomic ${KEYS_PER_OP}-key multi-puts, ${VALUE_BYTES} B values`,
  multiGet: `consistent ${KEYS_PER_OP}-key multi-gets, ${VALUE_BYTES} B values`,
  txUniform: 'transfers (read 2 keys, write 2), uniform keys',
  txZipf: 'transfers (read 2 keys, write 2), Zipfian keys',
};

const LABELS: Record<SystemName, Record<FigureName, string>> = {
  Corfu: { multiPut: 'Corfu kv.multiPut', multiGet: 'Corfu kv.multiGet', txUniform: 'Corfu rt.transaction', txZipf: 'Corfu rt.transaction' },
  Redis: { multiPut: 'Redis MULTI/10 SET/EXEC', multiGet: 'Redis MGET', txUniform: 'Redis WATCH/MULTI/EXEC', txZipf: 'Redis WATCH/MULTI/EXEC' },
  etcd: { multiPut: 'etcd txn of 10 puts', multiGet: 'etcd txn of 10 gets', txUniform: 'etcd txn on mod_revision', txZipf: 'etcd txn on mod_revision' },
};

function table(figure: FigureName, results: ReadonlyMap<SystemName, Measured[]>): string {
  const tx = isTransfer(figure);
  const cols = tx ? (['perSec', 'attemptsPerSec', 'abortRate', 'p50Ms', 'p99Ms'] as const) : (['perSec', 'p50Ms', 'p99Ms'] as const);
  const head = tx ? ['', 'committed/s', 'attempts/s', 'abort rate', 'p50 ms', 'p99 ms'] : ['', 'ops/s', 'p50 ms', 'p99 ms'];
  const fmt = (key: (typeof cols)[number], x: number): string => (key === 'abortRate' ? `${(x * 100).toFixed(1)}%` : key.endsWith('Ms') ? x.toFixed(2) : formatCount(x));
  const rows: string[][] = [head];
  for (const [name, runs] of results) {
    rows.push([
      LABELS[name][figure],
      ...cols.map((k) => {
        const s = stat(runs, k);
        return runs.length === 1 ? fmt(k, s.median) : `${fmt(k, s.median)} (${fmt(k, s.min)}–${fmt(k, s.max)})`;
      }),
    ]);
  }
  const corfu = results.get('Corfu')!;
  for (const [name, runs] of results) {
    if (name === 'Corfu') continue;
    rows.push([
      `Corfu/${name}`,
      ...cols.map((k) => {
        const p = stat(runs, k).median;
        return p > 0 ? (stat(corfu, k).median / p).toFixed(2) : '—';
      }),
    ]);
  }
  const notes: string[] = [];
  for (const [name, runs] of results) {
    const errors = runs.reduce((s, r) => s + r.errors, 0);
    if (errors > 0) notes.push(`  ${name}: ${errors} failed operations (not counted), the first: ${runs.find((r) => r.firstError !== undefined)?.firstError ?? '?'}`);
  }
  return [renderTable(rows), ...notes].join('\n');
}

runMain(async () => {
  const a = args();
  const servers: Server[] = [];
  const systems: System[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(systems.map((s) => s.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results = new Map<FigureName, Map<SystemName, Measured[]>>(FIGURES.map((f) => [f, new Map()]));
  try {
    systems.push(await corfuSystem(a));
    if (a.redis) {
      const server = await startRedis();
      servers.push(server);
      systems.push(await redisSystem(a, server.port));
    }
    if (a.etcd) {
      const server = await startEtcd();
      servers.push(server);
      systems.push(await etcdSystem(a, server.port));
    }
    const id = `objbench-${Date.now().toString(36)}`;
    for (let run = 0; run < a.runs; run++) {
      // Figure by figure, every system in turn: a noisy minute hits them alike.
      for (const figure of FIGURES) {
        for (const system of systems) {
          const prepared = await system.prepare(figure, `${id}-${run}-${figure}`, a);
          const m = await measure(prepared.ops, a.warmup, a.seconds);
          if (prepared.total !== undefined && m.errors === 0) {
            const total = await prepared.total();
            if (total !== a.keys * OPENING) throw new Error(`${system.name} ${figure} run ${run}: balances add up to ${total}, not ${a.keys * OPENING}: a transfer was lost or doubled`);
          }
          const byFigure = results.get(figure)!;
          byFigure.set(system.name, [...(byFigure.get(system.name) ?? []), m]);
          process.stderr.write(`run ${run + 1}/${a.runs} ${figure} ${system.name}: ${formatCount(m.perSec)}/s\n`);
        }
      }
    }
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const who = `Corfu: ${a.runtimes} runtime${a.runtimes === 1 ? '' : 's'} in this process`;
  const peers = [...(a.redis ? [`Redis: ${a.concurrency} connections, appendfsync always`] : []), ...(a.etcd ? ['etcd: one client, single member'] : [])];
  process.stdout.write(
    `${a.concurrency} operations in flight per system (${[who, ...peers].join('; ')}); ${a.keys} keys; ${a.seconds} s measured after ${a.warmup} s warm-up; ` +
      `${a.runs} run${a.runs === 1 ? '' : 's'} (median, range)\n`,
  );
  for (const figure of FIGURES) {
    const title = figure === 'txZipf' ? `${TITLES[figure]} (s = ${a.zipf})` : TITLES[figure];
    process.stdout.write(`\n${title}\n${table(figure, results.get(figure)!)}\n`);
  }
  if (a.json !== undefined) {
    const out = {
      ...a,
      keysPerOp: KEYS_PER_OP,
      valueBytes: VALUE_BYTES,
      figures: Object.fromEntries(
        FIGURES.map((f) => {
          const byFigure = results.get(f)!;
          const runs = Object.fromEntries(byFigure);
          const medians = Object.fromEntries(
            [...byFigure].map(([name, rs]) => [name, Object.fromEntries((['perSec', 'attemptsPerSec', 'abortRate', 'p50Ms', 'p99Ms'] as const).map((k) => [k, stat(rs, k).median]))]),
          );
          return [f, { runs, medians }];
        }),
      ),
    };
    writeFileSync(a.json, `${JSON.stringify(out, null, 2)}\n`);
  }
}, 'bench:objects');
