// `npm run bench:floor -- [--count N] [--runs K] [--entry-size B] [--json FILE]`
//
// The depth-1 floor of an append on this machine: what one append costs with no client
// library at all, against what one XADD costs the same way, in the same run.
//
// Corfu: a local cluster of one chain (a sequencer and two units, sync always, zeroed
// device files, `corfu unit` on its native front), and one lean loop in this process that
// sends TOKEN, then WRITE to the chain's head, then WRITE to its tail, each after the
// previous answer, on three lean links (src/bench/lean-link.ts): the protocol's three
// round trips and two synced writes, and nothing else (no call budget, no retries, no
// batching).
// Redis: redis-server with `appendonly yes` and `appendfsync always` (bench/peers/redis),
// and the same kind of loop sending one XADD after another on one socket.
//
// Each of the K runs does N appends, then N XADDs; the figures are p50s of each leg and
// the ratio of the two p50s, the median and range over the runs. This is the ceiling of
// what any client could do against these servers; `corfu bench compare --pairs append
// --clients 1 --depth 1` measures the real client against XADD.

import { createConnection } from 'node:net';
import { writeFileSync } from 'node:fs';

import { LeanLink } from '../src/bench/lean-link.js';
import { startLocalCluster } from '../src/bench/local-cluster.js';
import { spread } from '../src/bench/scaling.js';
import { splitHostPort } from '../src/transport/address.js';
import type { Spread } from '../src/bench/schema.js';
import { tcpDialer } from '../src/transport/dialer.js';
import type { Request } from '../src/wire/index.js';
import { formatCount, parseFlags, positiveFlag, renderTable, runMain, sizeFlag } from './common.js';
import { startRedis } from './peers/redis.js';

const USAGE = `usage: npm run bench:floor -- [--count N] [--runs K] [--entry-size B] [--json FILE]
  --count N        appends (and XADDs) per run (default 3000)
  --runs K         runs, each Corfu then Redis (default 3)
  --entry-size B   payload bytes (default 128)
  --json FILE      write the figures as JSON`;

/** The epoch a fresh local cluster runs in (src/bench/local-cluster.ts). */
const EPOCH = 1;

const microsSince = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1000;

/** A lean link (src/bench/lean-link.ts: no call budget, no retries) to `address`. */
function lean(address: string): Promise<LeanLink> {
  const { host, port } = splitHostPort(address);
  return LeanLink.open(tcpDialer, host, port);
}

interface ChainRun {
  token_us: number;
  head_write_us: number;
  tail_write_us: number;
  append_us: number;
}

async function corfuRun(count: number, payload: Buffer): Promise<ChainRun> {
  const cluster = await startLocalCluster({ units: 2, replicas: 2, sync: 'always', unitSizeBytes: 256 * 1024 * 1024 });
  const links: LeanLink[] = [];
  try {
    const sequencer = await lean(cluster.sequencer.address);
    const head = await lean(cluster.units[0]!.address);
    const tail = await lean(cluster.units[1]!.address);
    links.push(sequencer, head, tail);
    /** A token, then the WRITE of `payload` there. */
    const tokenAndWrite = async (requestId: number): Promise<Request> => {
      const token = await sequencer.send({ type: 'request', op: 'TOKEN', requestId, epoch: EPOCH, count: 1 });
      if (token.op !== 'TOKEN' || token.status !== 'OK') throw new Error(`TOKEN answered ${JSON.stringify(token)}`);
      return { type: 'request', op: 'WRITE', requestId, epoch: EPOCH, entries: [{ address: token.first, payload }] };
    };
    const write = async (unit: LeanLink, request: Request): Promise<void> => {
      const answer = await unit.send(request);
      if (answer.op !== 'WRITE' || answer.status !== 'OK' || answer.statuses[0] !== 0) throw new Error(`WRITE answered ${JSON.stringify(answer)}`);
    };
    const legs: number[][] = [[], [], [], []];
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const request = await tokenAndWrite(i + 1);
      legs[0]!.push(microsSince(t0));
      await write(head, request);
      await write(tail, request);
      legs[3]!.push(microsSince(t0));
    }
    // The two WRITEs apart, in a second pass (one clock read per leg above would add
    // to what the first pass times).
    for (let i = 0; i < count; i++) {
      const request = await tokenAndWrite(count + i + 1);
      for (const [k, unit] of [head, tail].entries()) {
        const t = process.hrtime.bigint();
        await write(unit, request);
        legs[1 + k]!.push(microsSince(t));
      }
    }
    const p50 = (leg: number[]): number => spread(leg).median;
    return { token_us: p50(legs[0]!), head_write_us: p50(legs[1]!), tail_write_us: p50(legs[2]!), append_us: p50(legs[3]!) };
  } finally {
    for (const l of links) l.close();
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
    return spread(times).median;
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
  const summary = Object.fromEntries(fields.map((f) => [f, spread(results.map((x) => x[f]))])) as Record<(typeof fields)[number], Spread>;
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
