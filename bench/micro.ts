// `npm run bench:micro [-- --json] [--time MS]`
//
// tinybench micro-benchmarks of the N-API boundary, on temporary files in the
// OS temp directory (sparse, O_DIRECT, sync 'none' — nothing here waits for an
// fsync):
//
//   - one crossing: a 1-entry write of 128 B, awaited (per call), through the
//     typed Store.writePacked and through the raw addon's NativeStore.write;
//   - a 1024-entry batch write of 128 B entries (per call and per entry);
//   - a 1-entry read of one 128 B entry, awaited (per call);
//   - TokenCounter.next() (per call), typed wrapper and raw addon;
//   - and, outside tinybench, 1-entry writes with 32 calls outstanding: what
//     one crossing costs when the device time is overlapped.
//
// An awaited call includes a full round trip: the JS call, a hop to the
// store's I/O thread, one io_uring submission to the file, and the promise
// settling back on the JS thread. Benchmarks are not tests: numbers only.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Bench, type Task } from 'tinybench';

import { Store, TokenCounter, loadNative } from '../bindings/index.js';
import type { NativeStoreInstance } from '../bindings/native.js';
import { UsageError, formatCount, formatNs, renderTable, runMain } from './common.js';
import { StoreChannel } from '../bindings/store-channel.js';

const ENTRY_BYTES = 128;
const BATCH = 1024;
const EPOCH = 0;
const FILE_BYTES = 2 * 1024 ** 3;
const PIPELINE_DEPTH = 32;

interface Row {
  name: string;
  /** Entries one call carries: per-entry figures divide by it. */
  entries: number;
  meanNs: number;
  p50Ns: number;
  p99Ns: number;
  rmePercent: number;
  samples: number;
  callsPerSecond: number;
}

function rowOf(task: Task, entries: number): Row {
  const r = task.result;
  if (r.state === 'errored') throw new Error(`${task.name}: ${r.error.message}`);
  if (r.state !== 'completed' && r.state !== 'aborted-with-statistics') throw new Error(`${task.name}: ${r.state}`);
  return {
    name: task.name,
    entries,
    meanNs: r.latency.mean * 1e6,
    p50Ns: r.latency.p50 * 1e6,
    p99Ns: r.latency.p99 * 1e6,
    rmePercent: r.latency.rme,
    samples: r.latency.samplesCount,
    callsPerSecond: 1e3 / r.latency.mean,
  };
}

function check(status: Buffer, what: string): void {
  for (let i = 0; i < status.length; i++) {
    if (status[i] !== 0) throw new Error(`${what}: entry ${i} answered status ${status[i]}`);
  }
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { json: { type: 'boolean', default: false }, time: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: npm run bench:micro [-- --json] [--time MS]`);
  }
  const time = values.time === undefined ? 1000 : Number(values.time);
  if (!Number.isFinite(time) || time <= 0) throw new UsageError(`--time must be a positive number of milliseconds, got ${JSON.stringify(values.time)}`);

  const dir = mkdtempSync(join(tmpdir(), 'corfu-micro-'));
  const stores: Array<{ close(): Promise<void> }> = [];
  const open = (name: string): string => {
    const path = join(dir, name);
    Store.format(path, { sizeBytes: FILE_BYTES });
    return path;
  };
  try {
    const single = Store.open(open('single.img'), { sync: 'none' });
    stores.push(single);
    const raw: NativeStoreInstance = StoreChannel.open((onRound) => loadNative().NativeStore.open(open('raw.img'), { sync: 'none' }, onRound));
    stores.push(raw);
    const batched = Store.open(open('batch.img'), { sync: 'none' });
    stores.push(batched);
    const piped = Store.open(open('pipelined.img'), { sync: 'none' });
    stores.push(piped);

    const one = Buffer.alloc(ENTRY_BYTES, 0x61);
    const oneLength = Uint32Array.of(ENTRY_BYTES);
    const many = Buffer.alloc(ENTRY_BYTES * BATCH, 0x62);
    const manyLengths = new Uint32Array(BATCH).fill(ENTRY_BYTES);
    const addr1 = new Float64Array(1);
    const addrN = new Float64Array(BATCH);
    let nextSingle = 0;
    let nextRaw = 0;
    let nextBatch = 0;

    const tokens = new TokenCounter(0);
    const rawTokens = new (loadNative().TokenCounter)(0);

    const bench = new Bench({ time, warmupTime: Math.min(250, time / 4), subtractTimerOverhead: true });
    bench
      .add('write 1 x 128 B, Store.writePacked (awaited)', async () => {
        addr1[0] = nextSingle++;
        check((await single.writePacked(EPOCH, addr1, oneLength, one)).status, 'write 1');
      })
      .add('write 1 x 128 B, raw NativeStore.write (awaited)', async () => {
        addr1[0] = nextRaw++;
        check((await raw.write(EPOCH, addr1, oneLength, one)).status, 'raw write 1');
      })
      .add(`write ${BATCH} x 128 B, Store.writePacked (awaited)`, async () => {
        const first = nextBatch;
        nextBatch += BATCH;
        for (let i = 0; i < BATCH; i++) addrN[i] = first + i;
        check((await batched.writePacked(EPOCH, addrN, manyLengths, many)).status, 'write batch');
      })
      .add('read 1 x 128 B, Store.read (awaited)', async () => {
        // Addresses the first task wrote; tinybench runs tasks in order.
        addr1[0] = Math.floor(Math.random() * nextSingle);
        const [outcome] = await single.read(EPOCH, addr1);
        if (outcome?.status !== 'OK' || outcome.payload?.length !== ENTRY_BYTES) throw new Error(`read ${addr1[0]}: ${outcome?.status}`);
      })
      .add('TokenCounter.next(1), bindings', () => {
        tokens.next(1);
      })
      .add('TokenCounter.next(1), raw addon', () => {
        rawTokens.next(1);
      });
    process.stderr.write(`bench:micro: ${bench.tasks.length} tinybench tasks, ${time} ms each, files in ${dir}\n`);
    await bench.run();

    const perEntry: Record<string, number> = { [`write ${BATCH} x 128 B, Store.writePacked (awaited)`]: BATCH };
    const rows = bench.tasks.map((t) => rowOf(t, perEntry[t.name] ?? 1));

    // Pipelined: PIPELINE_DEPTH calls outstanding, so the device overlaps and
    // what remains per call is mostly the crossing and the JS around it.
    const pipeSeconds = Math.max(1, time / 1000);
    const pipelined = async (name: string, op: (a: Float64Array) => Promise<void>): Promise<Row> => {
      let calls = 0;
      const addrs = Array.from({ length: PIPELINE_DEPTH }, () => new Float64Array(1));
      const t0 = performance.now();
      const end = t0 + pipeSeconds * 1000;
      await Promise.all(
        addrs.map(async (a) => {
          while (performance.now() < end) {
            await op(a);
            calls++;
          }
        }),
      );
      const ns = ((performance.now() - t0) * 1e6) / calls;
      return { name, entries: 1, meanNs: ns, p50Ns: Number.NaN, p99Ns: Number.NaN, rmePercent: Number.NaN, samples: calls, callsPerSecond: 1e9 / ns };
    };
    let pipeNext = 0;
    rows.push(
      await pipelined(`write 1 x 128 B, ${PIPELINE_DEPTH} calls outstanding (wall / calls)`, async (a) => {
        a[0] = pipeNext++;
        check((await piped.writePacked(EPOCH, a, oneLength, one)).status, 'pipelined write');
      }),
    );
    const pipeStats = await piped.stats();
    const written = pipeNext;
    let seed = 0x2545f491;
    rows.push(
      await pipelined(`read 1 x 128 B, ${PIPELINE_DEPTH} calls outstanding (wall / calls)`, async (a) => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        a[0] = (seed >>> 0) % written;
        const [outcome] = await piped.read(EPOCH, a);
        if (outcome?.status !== 'OK') throw new Error(`pipelined read ${a[0]}: ${outcome?.status}`);
      }),
    );

    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({
          node: process.version,
          sync: 'none',
          entry_bytes: ENTRY_BYTES,
          batch: BATCH,
          time_ms: time,
          pipelined_entries_per_round: pipeStats.rounds > 0 ? pipeStats.entriesWritten / pipeStats.rounds : null,
          tasks: rows.map((r) => ({
            name: r.name,
            entries_per_call: r.entries,
            mean_ns_per_call: Math.round(r.meanNs),
            mean_ns_per_entry: Math.round(r.meanNs / r.entries),
            p50_ns_per_call: Number.isNaN(r.p50Ns) ? null : Math.round(r.p50Ns),
            p99_ns_per_call: Number.isNaN(r.p99Ns) ? null : Math.round(r.p99Ns),
            rme_percent: Number.isNaN(r.rmePercent) ? null : Math.round(r.rmePercent * 100) / 100,
            calls_per_s: Math.round(r.callsPerSecond),
            entries_per_s: Math.round(r.callsPerSecond * r.entries),
            samples: r.samples,
          })),
        })}\n`,
      );
      return;
    }
    const table = [
      ['task (sync none, temp file)', 'per call (mean)', 'p50', 'p99', '±%', 'per entry', 'calls/s', 'samples'],
      ...rows.map((r) => [
        r.name,
        formatNs(r.meanNs),
        Number.isNaN(r.p50Ns) ? '' : formatNs(r.p50Ns),
        Number.isNaN(r.p99Ns) ? '' : formatNs(r.p99Ns),
        Number.isNaN(r.rmePercent) ? '' : r.rmePercent.toFixed(1),
        formatNs(r.meanNs / r.entries),
        formatCount(r.callsPerSecond),
        formatCount(r.samples),
      ]),
    ];
    process.stdout.write(`node ${process.version}; writes are 128 B entries with sync 'none' on a temporary file (O_DIRECT); awaited = one call at a time.\n`);
    process.stdout.write(`${renderTable(table)}\n`);
    process.stdout.write(`pipelined run: ${(pipeStats.rounds > 0 ? pipeStats.entriesWritten / pipeStats.rounds : 0).toFixed(1)} single-entry calls per engine round on average.\n`);
  } finally {
    for (const s of stores) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main, 'bench:micro');
