// A unit stopped and continued (SIGSTOP, SIGCONT) while it writes keeps serving.
//
// Regression: found by the fault runs (test/faults, the `pause` fault, a SIGSTOP of a unit
// and a SIGCONT 1-3 s later), where a unit once died with SIGABRT: its I/O thread waited
// in io_uring_enter for the round's fdatasync, the stop and continue ended that wait early
// (io_uring_enter returns the entries it submitted, or EINTR, when a signal interrupts its
// wait: no completion need have arrived), and the engine took the early return for the
// completion (`expect("one completion")`: "engine invariant violated; aborting"). Here a
// real `corfu unit` (sync always) takes writes from eight lanes while it is stopped and
// continued 200 times, a few milliseconds each; before the fix it died within the first
// dozens. Then every acknowledged write reads back with its bytes.

import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { codeByte } from '../bindings/errors.js';
import { Connection } from '../src/transport/connection.js';
import type { ReadResponse, Response } from '../src/wire/index.js';
import { cliHarness } from './helpers/cli.js';

const harness = cliHarness('corfu-sigstop-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const CYCLES = 200;
const LANES = 8;
const OK = codeByte('OK');

const connections: Connection[] = [];
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
});

function valueOf(a: number): Buffer {
  const b = Buffer.alloc(24 + (a % 100));
  b.write(`entry ${a} `);
  for (let j = 12; j < b.length; j++) b[j] = (a * 31 + j) & 0xff;
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a unit stopped and continued while it writes', () => {
  it(`keeps serving through ${CYCLES} SIGSTOP/SIGCONT cycles; every acknowledged write reads back`, async () => {
    const device = join(harness.dir, 'unit.img');
    const f = harness.corfu('format', device, '--size', '64M');
    expect(f.code, f.stderr).toBe(0);
    const unit = await harness.startCorfu(['unit', '--device', device, '--listen', '127.0.0.1:0'], /^listening /);
    let exit: string | undefined;
    unit.proc.once('exit', (code, signal) => (exit = String(code ?? signal)));
    const port = Number(unit.out[0]!.split(':').pop());
    const conn = new Connection({ host: '127.0.0.1', port, timeoutMs: 20_000 });
    connections.push(conn);

    const acked: number[] = [];
    let next = 0;
    let stopping = false;
    const lane = async (): Promise<void> => {
      while (!stopping && exit === undefined) {
        const address = next++;
        let r: Response;
        try {
          r = await conn.request({ type: 'request', op: 'WRITE', epoch: 0, entries: [{ address, payload: valueOf(address) }] });
        } catch {
          continue; // the unit died: the test fails below
        }
        if (r.status === 'OK' && r.op === 'WRITE' && r.statuses[0] === OK) acked.push(address);
      }
    };
    const lanes = Array.from({ length: LANES }, lane);
    for (let i = 0; i < CYCLES && exit === undefined; i++) {
      await sleep(3 + (i % 7));
      unit.proc.kill('SIGSTOP');
      await sleep(1 + (i % 4));
      unit.proc.kill('SIGCONT');
    }
    stopping = true;
    await Promise.all(lanes);
    expect(exit, `the unit exited: ${unit.err.join('\n').slice(-1500)}`).toBeUndefined();
    expect(acked.length).toBeGreaterThan(CYCLES);

    for (let i = 0; i < acked.length; i += 500) {
      const addresses = acked.slice(i, i + 500);
      const r = await conn.request({ type: 'request', op: 'READ', epoch: 0, addresses });
      expect(r.status).toBe('OK');
      const read = r as ReadResponse;
      addresses.forEach((a, j) => {
        expect(read.statuses[j], `address ${a}`).toBe(OK);
        expect(Buffer.from(read.payloads[j]!).equals(valueOf(a)), `address ${a}`).toBe(true);
      });
    }
  }, 60_000);
});
