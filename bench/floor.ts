// `npm run bench:floor -- [--count N] [--runs K] [--entry-size B] [--json FILE]`
//
// The depth-1 floor of an append on this machine: what one append costs with no client
// library at all, against what one XADD costs the same way, in the same run.
//
// Corfu: a local cluster of one chain (a sequencer and two units, sync always, zeroed
// device files, `corfu unit` on its native front), and one lean loop in this process that
// sends TOKEN, then WRITE to the chain's head, then WRITE to its tail, each after the
// previous answer, on three plain sockets: the protocol's three round trips and two
// synced writes, and nothing else (no call budget, no retries, no batching).
// Redis: redis-server with `appendonly yes` and `appendfsync always` (bench/peers/redis),
// and the same kind of loop sending one XADD after another on one socket.
//
// Each of the K runs does N appends, then N XADDs; the figures are p50s of each leg and
// the ratio of the two p50s, the median and range over the runs. This is the ceiling of
// what any client could do against these servers; `corfu bench compare --pairs append
// --clients 1 --depth 1` measures the real client against XADD.

import { createConnection, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';

import { startLocalCluster } from '../src/bench/local-cluster.js';
import { FrameDecoder, encodeRequest, type Request, type Response } from '../src/wire/index.js';
import { formatCount, parseFlags, positiveFlag, renderTable, runMain, sizeFlag } from './common.js';
import { startRedis } from './peers/redis.js';

const USAGE = `usage: npm run bench:floor -- [--count N] [--runs K] [--entry-size B] [--json FILE]
  --count N        appends (and XADDs) per run (default 3000)
  --runs K         runs, each Corfu then Redis (default 3)
  --entry-size B   payload bytes (default 128)
  --json FILE      write the figures as JSON`;

/** The epoch a fresh local cluster runs in (src/bench/local-cluster.ts). */
const EPOCH = 1;

/** One request at a time on one socket: its answer, decoded. */
class Lean {
  readonly #decoder = new FrameDecoder();
  #waiting: ((r: Response) => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let r = this.#decoder.pull(); r.kind !== 'need'; r = this.#decoder.pull()) {
        if (r.kind === 'error' || r.frame.type !== 'response' || this.#waiting === undefined) throw new Error(`unexpected bytes from ${socket.remotePort}`);
        const w = this.#waiting;
        this.#waiting = undefined;
        w(r.frame);
      }
    });
  }

  static async open(address: string): Promise<Lean> {
    const [host, port] = splitAddress(address);
    const socket = createConnection({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new Lean(socket);
  }

  call(request: Request): Promise<Response> {
    return new Promise<Response>((resolve) => {
      this.#waiting = resolve;
      this.socket.write(encodeRequest(request));
    });
  }
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

const microsSince = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1000;

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

interface ChainRun {
  token_us: number;
  head_write_us: number;
  tail_write_us: number;
  append_us: number;
}

async function corfuRun(count: number, payload: Buffer): Promise<ChainRun> {
  const cluster = await startLocalCluster({ units: 2, replicas: 2, sync: 'always', unitSizeBytes: 256 * 1024 * 1024 });
  const links: Lean[] = [];
  try {
    const sequencer = await Lean.open(cluster.sequencer.address);
    const head = await Lean.open(cluster.units[0]!.address);
    const tail = await Lean.open(cluster.units[1]!.address);
    links.push(sequencer, head, tail);
    const legs: number[][] = [[], [], [], []];
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const token = await sequencer.call({ type: 'request', op: 'TOKEN', requestId: i + 1, epoch: EPOCH, count: 1 });
      if (token.op !== 'TOKEN' || token.status !== 'OK') throw new Error(`TOKEN answered ${JSON.stringify(token)}`);
      const t1 = process.hrtime.bigint();
      const write: Request = { type: 'request', op: 'WRITE', requestId: i + 1, epoch: EPOCH, entries: [{ address: token.first, payload }] };
      for (const unit of [head, tail]) {
        const answer = await unit.call(write);
        if (answer.op !== 'WRITE' || answer.status !== 'OK' || answer.statuses[0] !== 0) throw new Error(`WRITE answered ${JSON.stringify(answer)}`);
      }
      const t2 = process.hrtime.bigint();
      legs[0]!.push(Number(t1 - t0) / 1000);
      legs[3]!.push(Number(t2 - t0) / 1000);
    }
    // The two WRITEs apart, in a second pass (one clock read per leg above would add
    // to what the first pass times).
    for (let i = 0; i < count; i++) {
      const token = await sequencer.call({ type: 'request', op: 'TOKEN', requestId: count + i + 1, epoch: EPOCH, count: 1 });
      if (token.op !== 'TOKEN' || token.status !== 'OK') throw new Error(`TOKEN answered ${JSON.stringify(token)}`);
      const write: Request = { type: 'request', op: 'WRITE', requestId: count + i + 1, epoch: EPOCH, entries: [{ address: token.first, payload }] };
      for (const [k, unit] of [head, tail].entries()) {
        const t = process.hrtime.bigint();
        const answer = await unit.call(write);
        if (answer.op !== 'WRITE' || answer.status !== 'OK') throw new Error(`WRITE answered ${JSON.stringify(answer)}`);
        legs[1 + k]!.push(microsSince(t));
      }
    }
    return { token_us: p50(legs[0]!), head_write_us: p50(legs[1]!), tail_write_us: p50(legs[2]!), append_us: p50(legs[3]!) };
  } finally {
    for (const l of links) l.socket.destroy();
    await cluster.stop();
  }
}

/** XADD s * f <payload>, one at a time: the p50 of its round trip. */
async function redisRun(count: number, payload: Buffer): Promise<number> {
  const redis = await startRedis('aof-always');
  const socket = createConnection({ host: '127.0.0.1', port: redis.port, noDelay: true });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const command = Buffer.concat([Buffer.from(`*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nf\r\n$${payload.length}\r\n`), payload, Buffer.from('\r\n')]);
    let got = '';
    let answered: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
      // A bulk string: "$<n>\r\n<id>\r\n"; an error would be "-...\r\n".
      if (got.startsWith('-')) throw new Error(`XADD answered ${got.trim()}`);
      const first = got.indexOf('\r\n');
      if (first >= 0 && got.indexOf('\r\n', first + 2) >= 0) {
        got = '';
        answered?.();
      }
    });
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        answered = resolve;
        socket.write(command);
      });
      times.push(microsSince(t));
    }
    return p50(times);
  } finally {
    socket.destroy();
    await redis.stop();
  }
}

async function main(): Promise<void> {
  const values = parseFlags(process.argv.slice(2), { count: { type: 'string' }, runs: { type: 'string' }, 'entry-size': { type: 'string' }, json: { type: 'string' } }, USAGE);
  const count = positiveFlag('count', values.count ?? '3000');
  const runs = positiveFlag('runs', values.runs ?? '3');
  const entryBytes = sizeFlag('entry-size', values['entry-size'] ?? '128', 1);
  const payload = Buffer.alloc(entryBytes, 0x61);
  const results: (ChainRun & { xadd_us: number; ratio: number })[] = [];
  for (let r = 0; r < runs; r++) {
    const chain = await corfuRun(count, payload);
    const xadd = await redisRun(count, payload);
    results.push({ ...chain, xadd_us: xadd, ratio: chain.append_us / xadd });
    process.stderr.write(`run ${r + 1}/${runs}: append ${chain.append_us.toFixed(0)} µs, XADD ${xadd.toFixed(0)} µs\n`);
  }
  const fields = ['token_us', 'head_write_us', 'tail_write_us', 'append_us', 'xadd_us', 'ratio'] as const;
  const summary = Object.fromEntries(
    fields.map((f) => {
      const v = results.map((x) => x[f]);
      return [f, { median: p50(v), min: Math.min(...v), max: Math.max(...v) }];
    }),
  ) as Record<(typeof fields)[number], { median: number; min: number; max: number }>;
  const show = (f: (typeof fields)[number], digits = 0): string => `${summary[f].median.toFixed(digits)} (${summary[f].min.toFixed(digits)}-${summary[f].max.toFixed(digits)})`;
  process.stdout.write(
    `Depth-1 floor: ${runs} runs of ${formatCount(count)} appends and ${formatCount(count)} XADDs, ${entryBytes}-byte payloads, lean loops (no client library), p50 per run; median (range)\n`,
  );
  process.stdout.write(
    `${renderTable([
      ['leg', 'p50 µs'],
      ['TOKEN (sequencer)', show('token_us')],
      ['WRITE, chain head (synced)', show('head_write_us')],
      ['WRITE, chain tail (synced)', show('tail_write_us')],
      ['append: TOKEN + both WRITEs', show('append_us')],
      ['XADD, appendfsync always', show('xadd_us')],
      ['append / XADD', show('ratio', 2)],
    ])}\n`,
  );
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ count, runs, entry_size_bytes: entryBytes, runs_p50: results, summary }, null, 2)}\n`);
}

runMain(main, 'bench:floor');
