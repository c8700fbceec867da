// An acknowledged single-address TRIM survives kill -9 of the unit: a real
// `corfu unit` process (sync always) takes 24,000 writes, then TRIMs of two
// addresses in three, eight frames in flight, and is killed with SIGKILL while
// they run. The unit restarted on the same file must read every acknowledged
// trim as ERR_TRIMMED, every untrimmed entry with its bytes, and a trim that
// was never acknowledged either way. The trims cross an index summary (one per
// 32 Ki records), so recovery reads them from a summary and from the scan after it.

import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { codeByte } from '../bindings/errors.js';
import { Connection } from '../src/transport/connection.js';
import type { ReadResponse, Response, TrimResponse, WriteResponse } from '../src/wire/index.js';
import { cliHarness, type Started } from './helpers/cli.js';

const harness = cliHarness('corfu-trim-kill9-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const ENTRIES = 24_000;
const TRIMS_PER_FRAME = 40;
const FRAMES_IN_FLIGHT = 8;
/** Acknowledged trims before the kill: with the writes, past the first index summary (32,768 records). */
const KILL_AFTER_TRIMS = 12_000;
const OK = codeByte('OK');
const TRIMMED = codeByte('ERR_TRIMMED');

const connections: Connection[] = [];
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
});

function valueOf(a: number): Buffer {
  const b = Buffer.alloc(40 + (a % 80));
  b.write(`entry ${a} `);
  for (let j = 12; j < b.length; j++) b[j] = (a * 131 + j * 7) & 0xff;
  return b;
}

async function startUnit(device: string): Promise<{ unit: Started; conn: Connection }> {
  const unit = await harness.startCorfu(['unit', '--device', device, '--listen', '127.0.0.1:0'], /^listening /);
  const port = Number(unit.out[0]!.split(':').pop());
  const conn = new Connection({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  connections.push(conn);
  return { unit, conn };
}

function ok<T extends Response>(r: Response): T {
  if (r.status !== 'OK') throw new Error(`${r.op}: ${r.status} ${r.message}`);
  return r as T;
}

describe('kill -9 of a unit during single-address TRIMs', () => {
  it('every acknowledged TRIM reads ERR_TRIMMED after restart; untrimmed entries keep their bytes', async () => {
    const device = join(harness.dir, 'unit.img');
    const f = harness.corfu('format', device, '--size', '64M');
    expect(f.code, f.stderr).toBe(0);
    const { unit, conn } = await startUnit(device);

    for (let first = 0; first < ENTRIES; first += 1_000) {
      const entries = Array.from({ length: 1_000 }, (_, i) => ({ address: first + i, payload: valueOf(first + i) }));
      const w = ok<WriteResponse>(await conn.request({ type: 'request', op: 'WRITE', epoch: 0, entries }));
      expect(w.statuses.every((s) => s === OK)).toBe(true);
    }

    // Two addresses in three are trimmed, in address order, FRAMES_IN_FLIGHT frames at a time.
    const toTrim = Array.from({ length: ENTRIES }, (_, a) => a).filter((a) => a % 3 !== 0);
    const acked = new Set<number>();
    const issued = new Set<number>();
    let next = 0;
    let killed = false;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => unit.proc.once('exit', (_code, signal) => resolve(signal)));
    const lane = async (): Promise<void> => {
      while (!killed && next < toTrim.length) {
        const addresses = toTrim.slice(next, next + TRIMS_PER_FRAME);
        next += addresses.length;
        for (const a of addresses) issued.add(a);
        let r: Response;
        try {
          r = await conn.request({ type: 'request', op: 'TRIM', epoch: 0, addresses });
        } catch {
          return; // the unit is gone: this frame's outcome is unknown
        }
        const t = ok<TrimResponse>(r);
        addresses.forEach((a, i) => {
          if (t.statuses[i] === OK) acked.add(a);
        });
        if (acked.size >= KILL_AFTER_TRIMS && !killed) {
          killed = true;
          unit.proc.kill('SIGKILL'); // the other lanes' frames are still in flight
        }
      }
    };
    await Promise.all(Array.from({ length: FRAMES_IN_FLIGHT }, lane));
    expect(killed).toBe(true);
    expect(await exited).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_TRIMS);
    await conn.close();

    const restarted = await startUnit(device);
    const wrong: string[] = [];
    let unacknowledgedTrimmed = 0;
    for (let first = 0; first < ENTRIES; first += 2_000) {
      const addresses = Array.from({ length: 2_000 }, (_, i) => first + i);
      const r = ok<ReadResponse>(await restarted.conn.request({ type: 'request', op: 'READ', epoch: 0, addresses }));
      addresses.forEach((a, i) => {
        const status = r.statuses[i]!;
        const intact = status === OK && Buffer.from(r.payloads[i]!).equals(valueOf(a));
        if (acked.has(a)) {
          if (status !== TRIMMED) wrong.push(`${a}: trim acknowledged, reads status ${status}`);
        } else if (issued.has(a)) {
          if (status === TRIMMED) unacknowledgedTrimmed++;
          else if (!intact) wrong.push(`${a}: trim not acknowledged, reads status ${status} without its bytes`);
        } else if (!intact) {
          wrong.push(`${a}: never trimmed, reads status ${status} without its bytes`);
        }
      });
    }
    expect(wrong).toEqual([]);
    console.log(`${acked.size} trims acknowledged before kill -9, ${issued.size - acked.size} in flight (${unacknowledgedTrimmed} of those trimmed after restart)`);

    // The trimmed addresses stay trimmed for writers too, and the unit takes new work.
    const someTrimmed = [...acked].slice(0, 3);
    const w = ok<WriteResponse>(await restarted.conn.request({ type: 'request', op: 'WRITE', epoch: 0, entries: [...someTrimmed, ENTRIES].map((a) => ({ address: a, payload: valueOf(a) })) }));
    expect([...w.statuses]).toEqual([TRIMMED, TRIMMED, TRIMMED, OK]);
    restarted.unit.proc.kill('SIGTERM');
    expect(await restarted.unit.exited).toBe(0);
  }, 120_000);
});
