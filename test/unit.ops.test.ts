// FILL, TRIM and PREFIX_TRIM on a real storage unit (`corfu unit`, a child
// process on a formatted file) over the wire, through src/transport's
// Connection: single and vectored forms with mixed per-entry outcomes, the
// `written` byte of ERR_WRITTEN (docs/protocol.md: 1 same bytes, 2 different
// bytes, 3 junk), wrong epochs, and every outcome again after the unit is
// stopped and started on the same device.

import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KIND, WRITTEN } from '../bindings/entry-codes.js';
import { Store, codeByte } from '../bindings/index.js';
import { Connection } from '../src/transport/connection.js';
import { MAX_FILL_AHEAD } from '../src/unit/handler.js';
import type { OkResponse, ReadResponse, TrimResponse, WriteResponse } from '../src/wire/index.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { listeningPort } from './helpers/raw-socket.js';

const harness = cliHarness('corfu-unit-ops-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const EPOCH = 2;

// Status bytes (docs/protocol.md, "Error codes") and the `written` and `kinds` tables:
// the one table of each (test/errors.test.ts checks them against the engine's).
const OK = codeByte('OK');
const ERR_WRITTEN = codeByte('ERR_WRITTEN');
const ERR_UNWRITTEN = codeByte('ERR_UNWRITTEN');
const ERR_TRIMMED = codeByte('ERR_TRIMMED');
const { NA, SAME, DIFFERENT, JUNK } = WRITTEN;
const { NONE: KIND_NONE, DATA: KIND_DATA, JUNK: KIND_JUNK } = KIND;

type Held = { kind: 'data'; payload: Buffer } | { kind: 'junk' } | { kind: 'trimmed' } | { kind: 'unwritten' };

function payload(i: number, bytes = 64): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i * 13 + j * 5 + 3) & 0xff;
  return b;
}

const path = join(harness.dir, 'unit.img');
let unit: Started;
let c: Connection;
/** What every address this file touched must read as, now. */
const model = new Map<number, Held>();

async function start(): Promise<void> {
  unit = await harness.startCorfu(['unit', '--device', path, '--listen', '127.0.0.1:0'], /^listening /);
  c = new Connection({ host: '127.0.0.1', port: listeningPort(unit.out), timeoutMs: 10_000 });
}

async function restart(): Promise<void> {
  await c.close();
  unit.proc.kill('SIGTERM');
  expect(await unit.exited).toBe(0);
  await start();
}

async function write(entries: Array<[number, Buffer]>, epoch = EPOCH): Promise<WriteResponse> {
  return (await c.call({ type: 'request', op: 'WRITE', epoch, entries: entries.map(([address, p]) => ({ address, payload: p })) })) as WriteResponse;
}

async function fill(addresses: number[], epoch = EPOCH): Promise<WriteResponse> {
  const r = await c.call({ type: 'request', op: 'FILL', epoch, addresses });
  expect(r.op).toBe('FILL');
  return r as WriteResponse;
}

async function trim(addresses: number[], epoch = EPOCH): Promise<TrimResponse> {
  return (await c.call({ type: 'request', op: 'TRIM', epoch, addresses })) as TrimResponse;
}

async function prefixTrim(address: number, epoch = EPOCH): Promise<OkResponse> {
  return c.call({ type: 'request', op: 'PREFIX_TRIM', epoch, address });
}

async function read(addresses: number[], epoch = EPOCH): Promise<ReadResponse> {
  return (await c.call({ type: 'request', op: 'READ', epoch, addresses })) as ReadResponse;
}

/** One vectored READ of every address in the model; each must read as the model says. */
async function expectModel(): Promise<void> {
  const addresses = [...model.keys()].sort((a, b) => a - b);
  const r = await read(addresses);
  addresses.forEach((a, i) => {
    const held = model.get(a)!;
    const got = { status: r.statuses[i], kind: r.kinds[i], payload: r.payloads[i] === null ? null : Buffer.from(r.payloads[i]!) };
    const want =
      held.kind === 'data'
        ? { status: OK, kind: KIND_DATA, payload: held.payload }
        : held.kind === 'junk'
          ? { status: OK, kind: KIND_JUNK, payload: null }
          : { status: held.kind === 'trimmed' ? ERR_TRIMMED : ERR_UNWRITTEN, kind: KIND_NONE, payload: null };
    expect(got, `address ${a}`).toEqual(want);
  });
}

beforeAll(async () => {
  writeFileSync(path, '');
  truncateSync(path, 16 * 1024 * 1024);
  Store.format(path, { maxEntryBytes: 4096 });
  await start();
  await c.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: EPOCH });
  // Data at 0..9 (the prefix-trim region) and 100..109.
  const data = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 100 + i)];
  const w = await write(data.map((a) => [a, payload(a)]));
  expect([...w.statuses]).toEqual(data.map(() => OK));
  for (const a of data) model.set(a, { kind: 'data', payload: payload(a) });
  model.set(120, { kind: 'unwritten' });
});

afterAll(async () => {
  await c?.close();
});

describe('FILL, TRIM and PREFIX_TRIM over the wire', () => {
  it('FILL on an empty address writes junk, which reads back as junk', async () => {
    const f = await fill([120]);
    expect([...f.statuses]).toEqual([OK]);
    expect([...f.written]).toEqual([NA]);
    model.set(120, { kind: 'junk' });
    const r = await read([120]);
    expect([...r.statuses]).toEqual([OK]);
    expect([...r.kinds]).toEqual([KIND_JUNK]);
    expect(r.payloads[0]).toBeNull();
    await expectModel();
  });

  it('FILL on a written address is ERR_WRITTEN per entry, saying different bytes (data) or junk', async () => {
    const f = await fill([100, 120]);
    expect([...f.statuses]).toEqual([ERR_WRITTEN, ERR_WRITTEN]);
    expect([...f.written]).toEqual([DIFFERENT, JUNK]);
    // A WRITE over them: same bytes, different bytes (same length, and another length), junk.
    const w = await write([
      [101, payload(101)],
      [102, payload(999)],
      [103, payload(103, 65)],
      [120, payload(120)],
    ]);
    expect([...w.statuses]).toEqual([ERR_WRITTEN, ERR_WRITTEN, ERR_WRITTEN, ERR_WRITTEN]);
    expect([...w.written]).toEqual([SAME, DIFFERENT, DIFFERENT, JUNK]);
    await expectModel(); // nothing changed
  });

  it('TRIM makes an address read ERR_TRIMMED, written or not; FILL and WRITE on it are ERR_TRIMMED; trimming again is OK', async () => {
    const t = await trim([104, 130]);
    expect([...t.statuses]).toEqual([OK, OK]);
    model.set(104, { kind: 'trimmed' });
    model.set(130, { kind: 'trimmed' });
    await expectModel();
    const f = await fill([104, 130]);
    expect([...f.statuses]).toEqual([ERR_TRIMMED, ERR_TRIMMED]);
    expect([...f.written]).toEqual([NA, NA]);
    const w = await write([[104, payload(104)]]);
    expect([...w.statuses]).toEqual([ERR_TRIMMED]);
    expect([...(await trim([104])).statuses]).toEqual([OK]);
    await expectModel();
  });

  it('PREFIX_TRIM trims everything below its address, and only that; a lower one later is a no-op', async () => {
    await expect(prefixTrim(5)).resolves.toMatchObject({ op: 'PREFIX_TRIM', status: 'OK' });
    for (let a = 0; a < 5; a++) model.set(a, { kind: 'trimmed' });
    await expectModel(); // 0..4 trimmed, 5..9 and everything above still readable
    const f = await fill([4, 10]);
    expect([...f.statuses]).toEqual([ERR_TRIMMED, OK]);
    model.set(10, { kind: 'junk' });
    expect([...(await write([[3, payload(3)]])).statuses]).toEqual([ERR_TRIMMED]);
    expect([...(await trim([2])).statuses]).toEqual([OK]); // already below the mark: done
    await expect(prefixTrim(2)).resolves.toMatchObject({ status: 'OK' });
    await expectModel(); // the mark did not move down: 2..4 still trimmed, 5 still readable
  });

  it('vectored FILL and TRIM: one frame, mixed outcomes per entry', async () => {
    // empty, data, junk, single-trimmed, below the prefix mark
    const f = await fill([200, 105, 120, 104, 1]);
    expect([...f.statuses]).toEqual([OK, ERR_WRITTEN, ERR_WRITTEN, ERR_TRIMMED, ERR_TRIMMED]);
    expect([...f.written]).toEqual([NA, DIFFERENT, JUNK, NA, NA]);
    model.set(200, { kind: 'junk' });
    // data, empty, junk, already trimmed, below the mark
    const t = await trim([106, 201, 200, 130, 0]);
    expect([...t.statuses]).toEqual([OK, OK, OK, OK, OK]);
    for (const a of [106, 201, 200]) model.set(a, { kind: 'trimmed' });
    model.set(202, { kind: 'unwritten' });
    await expectModel();
  });

  it("refuses a FILL reaching far above the unit's tail (ERR_BAD_REQUEST) and writes nothing: the tail stays", async () => {
    const before = await c.call({ type: 'request', op: 'TAIL', epoch: EPOCH });
    const tail = before.op === 'TAIL' ? before.tail : -1;
    for (const far of [tail + MAX_FILL_AHEAD, tail + 1_000_000_000, Number.MAX_SAFE_INTEGER - 1]) {
      const res = await c.request({ type: 'request', op: 'FILL', epoch: EPOCH, addresses: [tail + 1, far] });
      expect(res).toMatchObject({ status: 'ERR_BAD_REQUEST', message: expect.stringMatching(/above this unit's tail/) });
    }
    expect(await c.call({ type: 'request', op: 'TAIL', epoch: EPOCH })).toMatchObject({ tail });
    const r = (await c.call({ type: 'request', op: 'READ', epoch: EPOCH, addresses: [tail + 1] })) as ReadResponse;
    expect(r.statuses[0]).toBe(ERR_UNWRITTEN);
    // Just within reach is a hole fill like any other.
    const near = (await c.call({ type: 'request', op: 'FILL', epoch: EPOCH, addresses: [tail + MAX_FILL_AHEAD - 1] })) as WriteResponse;
    expect(near.statuses[0]).toBe(OK);
    model.set(tail + MAX_FILL_AHEAD - 1, { kind: 'junk' });
  });

  it('refuses FILL, TRIM and PREFIX_TRIM at a wrong epoch with ERR_SEALED carrying the unit epoch, and changes nothing', async () => {
    for (const epoch of [0, EPOCH - 1, EPOCH + 1]) {
      await expect(fill([202], epoch)).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
      await expect(trim([107], epoch)).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
      await expect(prefixTrim(1_000, epoch)).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
      const raw = await c.request({ type: 'request', op: 'FILL', epoch, addresses: [202, 203] });
      expect(raw).toMatchObject({ op: 'FILL', status: 'ERR_SEALED', unitEpoch: EPOCH, epoch });
    }
    await expectModel(); // 202 unfilled, 107 untrimmed, the mark still at 5
  });

  it('every outcome survives a restart of the unit on the same device', async () => {
    await restart();
    await expectModel();
    await expect(read([5], EPOCH - 1)).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
    // The same requests give the same answers as before the restart.
    const f = await fill([202, 105, 120, 104, 1]);
    expect([...f.statuses]).toEqual([OK, ERR_WRITTEN, ERR_WRITTEN, ERR_TRIMMED, ERR_TRIMMED]);
    expect([...f.written]).toEqual([NA, DIFFERENT, JUNK, NA, NA]);
    model.set(202, { kind: 'junk' });
    const w = await write([
      [101, payload(101)],
      [102, payload(999)],
      [200, payload(200)],
      [3, payload(3)],
    ]);
    expect([...w.statuses]).toEqual([ERR_WRITTEN, ERR_WRITTEN, ERR_TRIMMED, ERR_TRIMMED]);
    expect([...w.written]).toEqual([SAME, DIFFERENT, NA, NA]);
    // New trims and a new prefix mark after the restart, then once more across another restart.
    expect([...(await trim([107, 108])).statuses]).toEqual([OK, OK]);
    model.set(107, { kind: 'trimmed' });
    model.set(108, { kind: 'trimmed' });
    await prefixTrim(8);
    for (let a = 5; a < 8; a++) model.set(a, { kind: 'trimmed' });
    await expectModel();
    await restart();
    await expectModel();
    expect([...(await fill([7, 8])).statuses]).toEqual([ERR_TRIMMED, ERR_WRITTEN]);
  });
});
