// The workload of `corfu up --demo N` (what `npm start` runs): once the
// cluster is up, a CorfuClient appends N entries (DEPTH appends in flight),
// reads every one back and checks its bytes, and prints appends/s and the
// append latency p50/p99 (an HDR histogram in microseconds, shown in ms).
//
// Each payload describes itself: bytes 0..3 are the run id, 4..7 the entry's
// index in the run (both u32 LE), the rest is patternFor(run * 2^32 + index).
// The run's first address and id go to DIR/demo-last.json, so the next run on
// the same directory re-reads the previous run's first entry and checks it:
// data appended before a restart is still there.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';

import { Presets, SingleBar } from 'cli-progress';
import { build as buildHistogram } from 'hdr-histogram-js';

import { CorfuError } from '../../bindings/errors.js';
import { CorfuClient } from '../client/client.js';
import { fillPattern } from './pattern.js';
import { formatCount } from './units.js';
import { cliConnectOptions } from './security.js';

const DEPTH = 64;
const HEADER = 8;
/** The smallest --entry-bytes the demo accepts (the header plus some pattern). */
export const MIN_DEMO_ENTRY_BYTES = 16;

interface LastRun {
  readonly run: number;
  readonly first: number;
  readonly count: number;
  readonly entryBytes: number;
}

function payloadFor(run: number, index: number, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32LE(run, 0);
  out.writeUInt32LE(index, 4);
  fillPattern(run * 0x1_0000_0000 + index, out.subarray(HEADER));
  return out;
}

function readLastRun(path: string): LastRun | undefined {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Partial<LastRun>;
    if ([j.run, j.first, j.count, j.entryBytes].every((v) => Number.isSafeInteger(v))) return j as LastRun;
  } catch {
    // no earlier run (or an unreadable note): nothing to check
  }
  return undefined;
}

/** Progress: a bar on a terminal, a line every ~10% otherwise. */
function progress(label: string, total: number): { tick: (n: number) => void; done: () => void } {
  if (process.stdout.isTTY === true) {
    const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total}  {eta}s left`, hideCursor: true }, Presets.shades_classic);
    bar.start(total, 0);
    return { tick: (n) => bar.update(n), done: () => bar.stop() };
  }
  const step = Math.max(1, Math.ceil(total / 10));
  let next = step;
  return {
    tick: (n) => {
      if (n >= next || n === total) {
        process.stdout.write(`${label} ${n}/${total}\n`);
        while (next <= n) next += step;
      }
    },
    done: () => {},
  };
}

async function pool(count: number, depth: number, stop: () => boolean, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && !stop()) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, worker));
}

/** Runs the demo; `stop()` true (a signal) ends it early. Throws ERR_CORRUPT on any byte that reads back wrong. */
export async function runUpDemo(opts: {
  dir: string;
  layout: string;
  entries: number;
  entryBytes: number;
  reused: boolean;
  stop: () => boolean;
  /** Called once, halfway through the appends: kills a unit and says which. */
  chaos?: () => string;
}): Promise<void> {
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const notePath = join(opts.dir, 'demo-last.json');
  const client = await CorfuClient.connect({ layout: opts.layout, ...cliConnectOptions() });
  try {
    out('');
    out(`demo: ${formatCount(opts.entries)} appends of ${opts.entryBytes} B, ${DEPTH} in flight, through CorfuClient over loopback (every chain replica written before the ack)`);

    // Persistence: the previous run's first entry.
    const last = opts.reused ? readLastRun(notePath) : undefined;
    if (opts.reused) {
      if (last === undefined) {
        out(`reusing the data in ${opts.dir} (no earlier demo run recorded)`);
      } else {
        const entry = await client.read(last.first);
        const want = payloadFor(last.run, 0, last.entryBytes);
        if (entry.kind !== 'data' || !Buffer.from(entry.payload).equals(want)) {
          throw new CorfuError('ERR_CORRUPT', `address ${last.first}, the first entry of the previous demo run, reads back ${entry.kind === 'data' ? 'different bytes' : 'as junk'}`);
        }
        out(`reusing the data in ${opts.dir}: the previous run's first entry (address ${last.first}) was re-read and verified`);
      }
    }

    const run = randomInt(0, 0x1_0000_0000);
    const payloads = Array.from({ length: opts.entries }, (_, i) => payloadFor(run, i, opts.entryBytes));
    const addresses = new Array<number>(opts.entries).fill(-1);
    const histogram = buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

    // Append.
    let appended = 0;
    let epochBefore: number | undefined;
    const bar = progress('append', opts.entries);
    const t0 = performance.now();
    try {
      await pool(opts.entries, DEPTH, opts.stop, async (i) => {
        const start = performance.now();
        addresses[i] = await client.append(payloads[i]!);
        histogram.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
        bar.tick(++appended);
        if (opts.chaos !== undefined && appended === Math.floor(opts.entries / 2)) {
          epochBefore = client.epoch;
          out(`${opts.chaos()} after ${formatCount(appended)} appends; the appends go on`);
        }
      });
    } finally {
      bar.done();
    }
    const appendSeconds = (performance.now() - t0) / 1000;
    if (opts.stop()) {
      out(`demo interrupted after ${formatCount(appended)} appends`);
      return;
    }
    const first = Math.min(...addresses);
    writeFileSync(notePath, `${JSON.stringify({ run, first: addresses[0]!, count: opts.entries, entryBytes: opts.entryBytes })}\n`);

    // Read back and verify every byte.
    let verified = 0;
    const readBar = progress('verify', opts.entries);
    const t1 = performance.now();
    try {
      await pool(opts.entries, DEPTH, opts.stop, async (i) => {
        const entry = await client.read(addresses[i]!);
        if (entry.kind !== 'data' || !Buffer.from(entry.payload).equals(payloads[i]!)) {
          throw new CorfuError('ERR_CORRUPT', `address ${addresses[i]!} (entry ${i}) reads back ${entry.kind === 'data' ? 'different bytes' : 'as junk'}`);
        }
        readBar.tick(++verified);
      });
    } finally {
      readBar.done();
    }
    const readSeconds = (performance.now() - t1) / 1000;
    if (opts.stop()) {
      out(`demo interrupted after verifying ${formatCount(verified)} entries`);
      return;
    }

    const ms = (p: number): string => (histogram.getValueAtPercentile(p) / 1000).toFixed(3);
    out(
      `appended ${formatCount(opts.entries)} entries at addresses ${first}..${Math.max(...addresses)} in ${appendSeconds.toFixed(2)} s: ${formatCount(Math.round(opts.entries / appendSeconds))} appends/s`,
    );
    out(`append latency (ms): p50 ${ms(50)}  p99 ${ms(99)}  max ${(histogram.maxValue / 1000).toFixed(3)}`);
    out(`verified ${formatCount(verified)} entries byte for byte in ${readSeconds.toFixed(2)} s (${formatCount(Math.round(verified / readSeconds))} reads/s)`);
    if (epochBefore !== undefined) {
      const p = client.projection;
      const rebuilding = [...new Set(p.segments.flatMap((s) => s.stripes.flatMap((t) => t.rebuilding ?? [])))];
      out(
        `chaos: the manager moved the log from epoch ${epochBefore} to ${p.epoch} (units now ${p.units.join(', ')}); the max append latency above is the stall; ` +
          (rebuilding.length === 0 ? 'every chain is whole' : `rebuilding ${rebuilding.join(', ')} (corfu status shows it)`),
      );
    }
    out(`run \`npm start\` (or \`corfu up --demo N\`) again: the entries stay, and the next run re-reads address ${addresses[0]!}`);
  } finally {
    await client.close();
  }
}
