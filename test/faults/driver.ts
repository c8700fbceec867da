// The client side of a fault run: one process in a client network namespace
// running K CorfuClients, every operation recorded for the linearizability
// checker (test/check/history.ts) on the machine-wide monotonic clock.
//
//   node dist-faults/test/faults/driver.js --mode load --store file:DIR --label c0 \
//        --clients 3 --depth 2 --rate 150 --seed 7 --out FILE [--timeout-ms 1000 --hole-timeout-ms 200]
//   node dist-faults/test/faults/driver.js --mode final --store file:DIR --label final --out FILE [--upto N]
//   node dist-faults/test/faults/driver.js --mode prefill --store URL --label pf --out FILE --bytes B [--entry-bytes 4096]
//
// prefill (test/faults/hosts-run.ts): before the load, appends B bytes of random
// entries (--clients x --depth in flight) so that a rebuild has something to
// copy. They are not in the history (megabytes of payload as hex would swamp
// it): the output lists each acknowledged entry's address, sha256 and length,
// and the log's tail after it. The load is then started with --low TAIL (its
// reads and its consumer stay at or above it), and the final read with
// --low TAIL --prefill FILE checks every prefilled entry's bytes against its
// sha256 instead of recording those reads.
//
// load: each client runs `depth` workers; a shared pacer holds the whole
// process to `rate` operations a second. The mix: appends of unique payloads,
// reads of random earlier addresses, a consumer reading the addresses it has
// not consumed yet in order, tail(), fills of addresses just beyond the tail
// (racing the appenders who will get those tokens), trims of addresses
// acknowledged to this driver and prefix trims of what it consumed
// (consumed.ts: acknowledged to it, or read by it with a result). Prints
// `ready`, then `progress ACKED OPS` every second; on `stop` (stdin) it stops
// starting operations, waits up to --drain-ms for those in flight (the rest
// stay pending: unknown to the checker), writes --out and prints `done`.
//
// final: one fresh client reads tail() and then every address in
// [0, max(tail, --upto)), 32 at a time (holes get filled: readsMayFill), a
// failed read retried up to 5 times; every attempt is recorded.
//
// How an error is recorded (history.ts: 'fail' = certainly no effect,
// 'unknown' = may have taken effect):
//   append: ERR_TOO_LARGE / ERR_BAD_REQUEST are refusals before anything is
//     written: fail. Everything else is unknown: an append that got a token
//     may have written the chain head before failing (ERR_IO after resends,
//     ERR_SEALED after maxRefreshes, ...), and a reader may then complete the
//     chain with its value. A failed TOKEN request cannot be told apart from
//     the outside (its ERR_IO looks like a write's), so it is unknown too.
//   read / fill: ERR_TRIMMED is a result (trimmed); ERR_BAD_REQUEST is fail;
//     anything else is unknown (a read may fill a hole before failing).
//   trim / prefixTrim: unknown (some replicas or units may be trimmed already).
//   tail: fail (TAIL changes nothing).
// --trims off leaves trims and prefix trims out of the load (every
// acknowledged append must then read back with its bytes).
// A thrown value that is not a CorfuError is a client bug: counted in `bugs`.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

import { CorfuError } from '../../bindings/errors.js';
import { CorfuClient } from '../../src/client/index.js';
import { HistoryRecorder } from '../check/history.js';
import type { PendingOp } from '../check/history.js';
import { Consumed } from './consumed.js';
import { serializeOps, type DriverOutput } from './history-io.js';
import { exitWithParent, flags, nowMs, Rng, sleep, stdinLines } from './util.js';

const args = flags(process.argv.slice(2));
const need = (name: string): string => {
  const v = args.get(name);
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const num = (name: string, fallback: number): number => (args.has(name) ? Number(args.get(name)) : fallback);

const mode = need('mode') as 'load' | 'final' | 'prefill';
const store = need('store');
const label = need('label');
const out = need('out');
const timeoutMs = num('timeout-ms', 1000);
const holeTimeoutMs = num('hole-timeout-ms', 200);
/** The load and the final read leave the addresses below this (a prefill) out of the history. */
const low = num('low', 0);

const history = new HistoryRecorder(nowMs);
const errors: Record<string, number> = {};
const bugs: string[] = [];

function countError(op: string, err: unknown): string {
  const code = err instanceof CorfuError ? err.code : 'BUG';
  const key = `${op} ${code}`;
  errors[key] = (errors[key] ?? 0) + 1;
  if (!(err instanceof CorfuError) && bugs.length < 50) bugs.push(`${op}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return err instanceof CorfuError ? `${err.code}: ${err.message}`.slice(0, 300) : String(err).slice(0, 300);
}

function failOrUnknown(pending: PendingOp<'append'> | PendingOp<'read'> | PendingOp<'fill'>, op: 'append' | 'read' | 'fill', err: unknown): void {
  const text = countError(op, err);
  const code = err instanceof CorfuError ? err.code : undefined;
  const refusal = code === 'ERR_BAD_REQUEST' || (op === 'append' && code === 'ERR_TOO_LARGE');
  if (refusal) pending.fail(text);
  else pending.unknown(text);
}

function write(extra: Partial<DriverOutput> = {}): void {
  const output: DriverOutput = { label, mode, ops: serializeOps(history.operations()), errors, bugs, ...extra };
  writeFileSync(out, JSON.stringify(output));
}

process.on('unhandledRejection', (err) => {
  bugs.push(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});

// ---- load ------------------------------------------------------------------------

async function load(): Promise<void> {
  const clientCount = num('clients', 3);
  const depth = num('depth', 2);
  const rate = num('rate', 150);
  const drainMs = num('drain-ms', 8000);
  const rng = new Rng(num('seed', 1));
  const trims = args.get('trims') !== 'off';
  const clients = await Promise.all(Array.from({ length: clientCount }, () => CorfuClient.connect({ layout: store, timeoutMs, holeTimeoutMs, shareConnections: false })));
  let stopping = false;
  let acked = 0;
  let ops = 0;
  /** Every address known to hold a value or to have been handed out: reads pick below it. */
  let known = low;
  let nextSlot = 0;
  const interval = 1000 / rate;
  /** The pacer: one slot per operation, never bunched up after a stall. */
  const pace = async (): Promise<void> => {
    const now = nowMs();
    nextSlot = Math.max(nextSlot + interval, now);
    const wait = nextSlot - now;
    if (wait > 0) await sleep(wait);
  };

  const consumed = new Consumed();
  consumed.mark = low;
  consumed.prefixIssued = low;
  // Prefix trims stay behind the consumed mark by 40 %: the newer part of the log is left
  // for the final read, whose check that nothing acknowledged was lost skips trimmed addresses.
  const prefixLimit = (): number => low + Math.floor((consumed.mark - low) * 0.6);
  const read = async (c: CorfuClient, name: string, address: number): Promise<void> => {
    const p = history.invoke(name, { op: 'read', address });
    try {
      const e = await c.read(address);
      p.ok(e.kind === 'data' ? { kind: 'data', payload: e.payload } : { kind: 'junk' });
      consumed.resolved(address);
    } catch (err) {
      if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') {
        p.ok({ kind: 'trimmed' });
        consumed.resolved(address);
      } else failOrUnknown(p, 'read', err);
    }
  };
  const trim = async (c: CorfuClient, name: string, op: 'trim' | 'prefixTrim', address: number): Promise<void> => {
    const p = history.invoke(name, { op, address });
    try {
      await (op === 'trim' ? c.trim(address) : c.prefixTrim(address));
      p.ok();
    } catch (err) {
      p.unknown(countError(op, err));
    }
  };

  const worker = async (c: CorfuClient, name: string, wrng: Rng): Promise<void> => {
    for (let i = 0; !stopping; i++) {
      await pace();
      if (stopping) break;
      ops++;
      const r = wrng.float();
      if (r < 0.56 || known <= low) {
        const text = `${name}#${i} `;
        const payload = Buffer.from(text.padEnd(text.length + wrng.int(8, 160), String.fromCharCode(97 + wrng.int(0, 25))));
        const p = history.invoke(name, { op: 'append', payload });
        try {
          const a = await c.append(payload);
          p.ok(a);
          acked++;
          known = Math.max(known, a + 1);
          consumed.ack(a);
        } catch (err) {
          failOrUnknown(p, 'append', err);
        }
      } else if (r < 0.72) {
        await read(c, name, wrng.int(low, known - 1));
      } else if (r < 0.76) {
        // The consumer: the next addresses this driver has not consumed, read together.
        await Promise.all(consumed.next(8, known).map((a) => read(c, name, a)));
      } else if (r < 0.79) {
        const address = known + wrng.int(0, 3);
        const p = history.invoke(name, { op: 'fill', address });
        try {
          const e = await c.fill(address);
          p.ok(e.kind === 'data' ? { kind: 'data', payload: e.payload } : { kind: 'junk' });
          known = Math.max(known, address + 1);
          consumed.resolved(address);
        } catch (err) {
          if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') p.ok({ kind: 'trimmed' });
          else failOrUnknown(p, 'fill', err);
        }
      } else if (trims && r < 0.84 && consumed.acked.length > 0) {
        // Mostly recent: where reads and appends meet the trim.
        const n = consumed.acked.length;
        const k = wrng.float() < 0.7 ? n - 1 - wrng.int(0, Math.min(n, 50) - 1) : wrng.int(0, n - 1);
        await trim(c, name, 'trim', consumed.acked[k]!);
      } else if (trims && r < 0.87 && prefixLimit() > consumed.prefixIssued) {
        const bound = wrng.int(consumed.prefixIssued + 1, prefixLimit());
        consumed.prefixIssued = bound;
        await trim(c, name, 'prefixTrim', bound);
      } else {
        const p = history.invoke(name, { op: 'tail' });
        try {
          const t = await c.tail();
          p.ok(t);
          known = Math.max(known, t);
        } catch (err) {
          p.fail(countError('tail', err));
        }
      }
    }
  };

  const done = clients.flatMap((c, k) => Array.from({ length: depth }, (_, d) => worker(c, `${label}.${k}.${d}`, new Rng(rng.u32()))));
  process.stdout.write('ready\n');
  const progress = setInterval(() => process.stdout.write(`progress ${acked} ${ops}\n`), 1000);

  await new Promise<void>((resolve) => {
    stdinLines((line) => {
      if (line.trim() === 'stop') resolve();
    });
    process.stdin.once('end', () => resolve());
  });
  stopping = true;
  clearInterval(progress);
  const all = Promise.allSettled(done);
  await Promise.race([all, sleep(drainMs)]);
  write();
  process.stdout.write(`done ${acked} ${ops}\n`);
  // Operations still in flight stay pending in the file; closing fails them with ERR_CLOSED here.
  await Promise.race([Promise.all(clients.map((c) => c.close())), sleep(2000)]);
  process.exit(0);
}

// ---- final ---------------------------------------------------------------------------

async function final(): Promise<void> {
  const upto = num('upto', 0);
  const c = await CorfuClient.connect({ layout: store, timeoutMs: Math.max(timeoutMs, 2000), holeTimeoutMs, shareConnections: false });
  let tail = -1;
  for (let attempt = 0; attempt < 5 && tail < 0; attempt++) {
    const p = history.invoke(label, { op: 'tail' });
    try {
      tail = await c.tail();
      p.ok(tail);
    } catch (err) {
      p.fail(countError('tail', err));
      await sleep(500);
    }
  }
  if (tail < 0) throw new Error('final read: tail() failed 5 times');
  const end = Math.max(tail, upto);
  const unreadable: number[] = [];
  // Prefilled entries (below --low): checked against their sha256, not recorded.
  const expected = new Map<number, [string, number]>();
  const prefillFile = args.get('prefill');
  if (prefillFile !== undefined) {
    for (const [a, sha, len] of (JSON.parse(readFileSync(prefillFile, 'utf8')) as DriverOutput).prefill ?? []) expected.set(a, [sha, len]);
  }
  let prefillChecked = 0;
  const prefillLost: string[] = [];
  const checkPrefilled = async (address: number): Promise<void> => {
    const want = expected.get(address);
    let got = 'unreadable';
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const e = await c.read(address);
        got = e.kind === 'data' ? createHash('sha256').update(e.payload).digest('hex') : e.kind;
        break;
      } catch (err) {
        countError('read', err);
        if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') {
          got = 'trimmed';
          break;
        }
        await sleep(200);
      }
    }
    if (want === undefined) return; // a hole of the prefill (an append that failed): anything goes
    prefillChecked++;
    if (got !== want[0]) prefillLost.push(`prefilled entry at ${address} (${want[1]} bytes): read ${got === 'unreadable' || got === 'junk' || got === 'trimmed' ? got : 'other bytes'}`);
  };
  let next = 0;
  const reader = async (): Promise<void> => {
    for (;;) {
      const address = next++;
      if (address >= end) return;
      if (address < low) {
        await checkPrefilled(address);
        continue;
      }
      let okay = false;
      for (let attempt = 0; attempt < 5 && !okay; attempt++) {
        const p = history.invoke(label, { op: 'read', address });
        try {
          const e = await c.read(address);
          p.ok(e.kind === 'data' ? { kind: 'data', payload: e.payload } : { kind: 'junk' });
          okay = true;
        } catch (err) {
          if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') {
            p.ok({ kind: 'trimmed' });
            okay = true;
          } else {
            failOrUnknown(p, 'read', err);
            await sleep(200);
          }
        }
      }
      if (!okay) unreadable.push(address);
    }
  };
  await Promise.all(Array.from({ length: 32 }, reader));
  write({ tail, unreadable, ...(prefillFile === undefined ? {} : { prefillChecked, prefillLost }) });
  process.stdout.write(`done ${tail} ${end} ${unreadable.length}${prefillFile === undefined ? '' : ` prefill ${prefillChecked} checked ${prefillLost.length} lost`}\n`);
  await Promise.race([c.close(), sleep(2000)]);
  process.exit(0);
}

// ---- prefill -------------------------------------------------------------------------

async function prefill(): Promise<void> {
  const bytes = num('bytes', 16 * 1024 * 1024);
  const entryBytes = num('entry-bytes', 4096);
  const clientCount = num('clients', 4);
  const depth = num('depth', 16);
  const clients = await Promise.all(Array.from({ length: clientCount }, () => CorfuClient.connect({ layout: store, timeoutMs, holeTimeoutMs, shareConnections: false })));
  const entries: Array<[number, string, number]> = [];
  let issued = 0;
  let failed = 0;
  const worker = async (c: CorfuClient, name: string): Promise<void> => {
    for (let i = 0; issued < bytes; i++) {
      issued += entryBytes;
      const head = Buffer.from(`${name}#${i} `);
      const payload = Buffer.concat([head, randomBytes(Math.max(0, entryBytes - head.length))]);
      try {
        const a = await c.append(payload);
        entries.push([a, createHash('sha256').update(payload).digest('hex'), payload.length]);
      } catch (err) {
        countError('append', err);
        failed++;
      }
    }
  };
  const t0 = nowMs();
  await Promise.all(clients.flatMap((c, k) => Array.from({ length: depth }, (_, d) => worker(c, `${label}.${k}.${d}`))));
  const ms = nowMs() - t0;
  const tail = await clients[0]!.tail();
  entries.sort((a, b) => a[0] - b[0]);
  write({ tail, prefill: entries });
  process.stdout.write(`done ${entries.length} ${failed} ${tail} ${Math.round(ms)}\n`);
  await Promise.race([Promise.all(clients.map((c) => c.close())), sleep(2000)]);
  process.exit(0);
}

exitWithParent();
(mode === 'load' ? load() : mode === 'final' ? final() : prefill()).catch((err: unknown) => {
  process.stderr.write(`driver ${label}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  try {
    write();
  } catch {
    // nothing more to save
  }
  process.exit(1);
});
