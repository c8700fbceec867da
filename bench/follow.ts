// `npm run bench:follow -- --layout URL [--entries N] [--rate R] [--entry-size B] [--runs K] [--json FILE] [--no-redis]`
//
// The time from append to delivery: one client appends at a steady rate while
// another follows the log (client.follow: a WAIT_TAIL long poll on the
// sequencer, then reads); each entry carries the time its append started, and
// the follower records how long it took to see it. The reference, measured in
// the same run on the same machine (these machines are noisy): Redis streams,
// XADD on one connection and XREAD BLOCK on another, `appendfsync always`.
//
// Each figure is the median of --runs runs, with the range. A benchmark, not a
// test: it prints figures and exits 0.

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';

import { CorfuClient } from '../src/client/client.js';
import { UsageError, positiveFlag, renderTable, runMain, sizeFlag } from './common.js';
import { startRedis } from './servers.js';

const USAGE = `usage: npm run bench:follow -- --layout URL [--entries N] [--rate R] [--entry-size B] [--runs K] [--json FILE] [--no-redis]
  --layout URL      the log to use (corfu up prints it); appends go to its tail
  --entries N       entries per run (default 2000)
  --rate R          appends per second, paced (default 500)
  --entry-size B    payload bytes (default 128)
  --runs K          runs of each system; figures are medians with the range (default 3)
  --json FILE       also write the figures as JSON
  --no-redis        skip the Redis reference (no ratios then)`;

interface Args {
  layout: string;
  entries: number;
  rate: number;
  entrySize: number;
  runs: number;
  json: string | undefined;
  redis: boolean;
}

function args(): Args {
  const { values } = parseArgs({
    options: {
      layout: { type: 'string' },
      entries: { type: 'string', default: '2000' },
      rate: { type: 'string', default: '500' },
      'entry-size': { type: 'string', default: '128' },
      runs: { type: 'string', default: '3' },
      json: { type: 'string' },
      'no-redis': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.layout === undefined) throw new UsageError(`--layout is required\n${USAGE}`);
  const count = positiveFlag;
  const entrySize = sizeFlag('entry-size', values['entry-size'], 8);
  return {
    layout: values.layout,
    entries: count('entries', values.entries),
    rate: count('rate', values.rate),
    entrySize,
    runs: count('runs', values.runs),
    json: values.json,
    redis: !values['no-redis'],
  };
}

interface Latency {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

function summary(h: hdr.Histogram): Latency {
  const ms = (us: number): number => us / 1000;
  return { p50Ms: ms(h.getValueAtPercentile(50)), p99Ms: ms(h.getValueAtPercentile(99)), maxMs: ms(h.maxValue) };
}

/** A payload that carries the time its append started (performance.now(), µs). */
function stamped(size: number): Buffer {
  const b = Buffer.alloc(size, 0x61);
  b.writeDoubleLE(performance.now() * 1000, 0);
  return b;
}

/** Calls `send` `entries` times at `rate` per second (not faster; never two at once). */
async function paced(entries: number, rate: number, send: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < entries; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await send();
  }
}

async function corfuRun(a: Args): Promise<Latency> {
  const writer = await CorfuClient.connect({ layout: a.layout });
  // Its own connections: the follower stands for another process.
  const reader = await CorfuClient.connect({ layout: a.layout, shareConnections: false });
  try {
    const from = await writer.tail();
    const h = histogram();
    const stop = new AbortController();
    let seen = 0;
    const following = (async () => {
      for await (const e of reader.follow(from, { signal: stop.signal, skipJunk: true })) {
        if (e.kind !== 'data') continue;
        h.recordValue(Math.max(1, Math.round(performance.now() * 1000 - Buffer.from(e.payload).readDoubleLE(0))));
        if (++seen === a.entries) stop.abort();
      }
    })();
    await paced(a.entries, a.rate, () => writer.append(stamped(a.entrySize)));
    await following;
    return summary(h);
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
}

async function redisRun(a: Args, port: number, run: number): Promise<Latency> {
  const writer = new Redis({ port, host: '127.0.0.1' });
  const reader = new Redis({ port, host: '127.0.0.1' });
  const stream = `follow-bench-${run}`;
  try {
    const h = histogram();
    let seen = 0;
    let last = '$';
    const following = (async () => {
      while (seen < a.entries) {
        const got = await reader.xreadBuffer('BLOCK', 0, 'STREAMS', stream, last);
        for (const [, entries] of got ?? []) {
          for (const [id, fields] of entries) {
            last = id.toString();
            h.recordValue(Math.max(1, Math.round(performance.now() * 1000 - fields[1]!.readDoubleLE(0))));
            seen++;
          }
        }
      }
    })();
    // XREAD with '$' must be waiting before the first XADD, or it misses it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await paced(a.entries, a.rate, () => writer.xadd(stream, '*', 'e', stamped(a.entrySize)));
    await following;
    return summary(h);
  } finally {
    writer.disconnect();
    reader.disconnect();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

function figure(runs: readonly Latency[], key: keyof Latency): { median: number; min: number; max: number } {
  const xs = runs.map((r) => r[key]);
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

runMain(async () => {
  const a = args();
  const corfu: Latency[] = [];
  const redis: Latency[] = [];
  const server = a.redis ? await startRedis() : undefined;
  try {
    // Interleaved, so a noisy minute hits both systems alike.
    for (let run = 0; run < a.runs; run++) {
      corfu.push(await corfuRun(a));
      if (server !== undefined) redis.push(await redisRun(a, server.port, run));
    }
  } finally {
    await server?.stop();
  }
  const show = (f: { median: number; min: number; max: number }): string => `${f.median.toFixed(3)} (${f.min.toFixed(3)}–${f.max.toFixed(3)})`;
  const rows: string[][] = [['append -> delivery, ms', 'Corfu', ...(a.redis ? ['Redis XADD/XREAD BLOCK', 'ratio'] : [])]];
  for (const key of ['p50Ms', 'p99Ms', 'maxMs'] as const) {
    const c = figure(corfu, key);
    const row = [key.replace('Ms', ''), show(c)];
    if (a.redis) {
      const r = figure(redis, key);
      row.push(show(r), (c.median / r.median).toFixed(2));
    }
    rows.push(row);
  }
  process.stdout.write(`${a.entries} entries of ${a.entrySize} B at ${a.rate}/s, ${a.runs} runs each (median, range)\n${renderTable(rows)}\n`);
  if (a.json !== undefined) {
    const out = {
      entries: a.entries,
      rate: a.rate,
      entrySize: a.entrySize,
      runs: a.runs,
      corfu,
      redis,
      medians: {
        corfu: { p50Ms: figure(corfu, 'p50Ms').median, p99Ms: figure(corfu, 'p99Ms').median },
        redis: a.redis ? { p50Ms: figure(redis, 'p50Ms').median, p99Ms: figure(redis, 'p99Ms').median } : null,
      },
    };
    writeFileSync(a.json, `${JSON.stringify(out, null, 2)}\n`);
  }
}, 'bench:follow');
