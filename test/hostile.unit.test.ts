// A storage unit (`corfu unit`, a real child process) facing hostile peers:
// lying length fields, lengths over the cap, unknown opcodes, response frames,
// wrong and extreme epochs on every operation, a slowloris peer, frames that
// never arrive whole, 2,000 idle connections and a peer that never reads its
// answers. Each is refused with a typed error or its connection is closed
// (docs/protocol.md: a protocol error is answered with nothing; the connection
// closes). Through all of it the unit stays up, keeps its epoch, keeps serving a
// well-behaved client (checked while each attack runs) and keeps the data
// written before; its RSS is printed and bounded.

import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { codeByte } from '../bindings/errors.js';
import { Store } from '../bindings/index.js';
import { FRAME_TIMEOUT_MS, MAX_CONNECTIONS } from '../src/transport/server-limits.js';
import { Connection } from '../src/transport/connection.js';
import { MAX_ENTRIES, MAX_READ_ANSWER_BYTES, READ_ANSWER_ENTRY_BYTES } from '../src/wire/frame.js';
import { OPCODES, WRITTEN, encodeRequest, encodeResponse } from '../src/wire/index.js';
import type { ReadResponse, Response, WriteResponse } from '../src/wire/index.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { idleConnections, lengthOutOfBounds, refusedFrames, slowPeers, whileServing, type Target } from './helpers/hostile-attacks.js';
import { RawPeer, listeningPort, rawHeader, rssMiB, sleep } from './helpers/raw-socket.js';

/** The first opcode past the protocol's last one (the list grows: INFO, WAIT_TAIL, ...). */
const UNUSED_OPCODE = Math.max(...Object.values(OPCODES)) + 1;

const harness = cliHarness('corfu-hostile-unit-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const EPOCH = 3;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Addresses written before any attack; they must read back the same after each one. */
const BEFORE = Array.from({ length: 50 }, (_, i) => i);
/** Four 4 KiB entries, for answers that are big. */
const BIG = [60, 61, 62, 63];

interface Unit extends Started {
  port: number;
  stderr: () => string;
}

let devices = 0;
function device(): string {
  const path = join(harness.dir, `unit-${devices++}.img`);
  writeFileSync(path, '');
  truncateSync(path, 32 * 1024 * 1024);
  Store.format(path, { maxEntryBytes: 8192 });
  return path;
}

async function startUnit(path: string): Promise<Unit> {
  const s = await harness.startCorfu(['unit', '--device', path, '--listen', '127.0.0.1:0'], /^listening /);
  let stderr = '';
  s.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { ...s, port: listeningPort(s.out), stderr: () => stderr };
}

function payload(i: number, bytes = 100): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i * 31 + j * 7 + 1) & 0xff;
  return b;
}

let unit: Unit;
let good: Connection;
let nextAddress = 10_000;
const peers: RawPeer[] = [];

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.connect(unit.port);
  peers.push(p);
  return p;
}

/** A well-behaved client's step: write a fresh address, read it back. */
async function goodStep(): Promise<void> {
  const address = nextAddress++;
  const w = (await good.call({ type: 'request', op: 'WRITE', epoch: EPOCH, entries: [{ address, payload: payload(address) }] })) as WriteResponse;
  if (w.statuses[0] !== 0) throw new Error(`write ${address}: status ${w.statuses[0]}`);
  const r = (await good.call({ type: 'request', op: 'READ', epoch: EPOCH, addresses: [address] })) as ReadResponse;
  if (r.statuses[0] !== 0 || !Buffer.from(r.payloads[0]!).equals(payload(address))) throw new Error(`read ${address}: wrong answer`);
}

/** The unit as the shared attacks (helpers/hostile-attacks.ts) see it. */
function target(): Target {
  return { name: 'unit', pid: unit.proc.pid!, port: unit.port, stderr: () => unit.stderr(), peer, peers, during, goodStep };
}

/** Runs `attack` while a well-behaved client works; that client must never fail. */
function during<T>(attack: () => Promise<T>): Promise<T> {
  return whileServing(goodStep, attack);
}

/** The unit is up, at EPOCH, serving, and everything written before the attacks is intact. */
async function expectHealthy(): Promise<void> {
  expect(unit.proc.exitCode).toBeNull();
  expect(unit.proc.signalCode).toBeNull();
  const r = (await good.call({ type: 'request', op: 'READ', epoch: EPOCH, addresses: [...BEFORE, ...BIG] })) as ReadResponse;
  expect([...r.statuses]).toEqual(Array(BEFORE.length + BIG.length).fill(0));
  BEFORE.forEach((a, i) => expect(Buffer.from(r.payloads[i]!).equals(payload(a))).toBe(true));
  BIG.forEach((a, i) => expect(Buffer.from(r.payloads[BEFORE.length + i]!).equals(payload(a, 4096))).toBe(true));
  // The epoch did not move: sealing to it is refused, naming it.
  await expect(good.call({ type: 'request', op: 'SEAL', epoch: EPOCH, newEpoch: EPOCH })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
  await goodStep();
}

beforeAll(async () => {
  unit = await startUnit(device());
  good = new Connection({ host: '127.0.0.1', port: unit.port, timeoutMs: 10_000 });
  await good.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: EPOCH });
  await good.call({ type: 'request', op: 'WRITE', epoch: EPOCH, entries: BEFORE.map((a) => ({ address: a, payload: payload(a) })) });
  await good.call({ type: 'request', op: 'WRITE', epoch: EPOCH, entries: BIG.map((a) => ({ address: a, payload: payload(a, 4096) })) });
  await expectHealthy();
});

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.destroy()));
});

afterAll(async () => {
  await good?.close();
});

describe('a storage unit under hostile input', () => {
  it('closes a connection whose length field is over the cap (or under the header) after 4 bytes, sending nothing', async () => {
    await lengthOutOfBounds(target());
    expect(unit.stderr()).toMatch(/protocol error/);
    await expectHealthy();
  });
  it('closes a connection whose length field says less than the frame holds, and executes nothing of it', async () => {
    await during(async () => {
      const address = 5_000;
      const write = encodeRequest({ type: 'request', op: 'WRITE', requestId: 1, epoch: EPOCH, entries: [{ address, payload: payload(address) }] });
      const read = encodeRequest({ type: 'request', op: 'READ', requestId: 2, epoch: EPOCH, addresses: [0, 1, 2] });
      const trim = encodeRequest({ type: 'request', op: 'PREFIX_TRIM', requestId: 3, epoch: EPOCH, address: 40 });
      for (const [frame, less] of [
        [write, 5],
        [write, 1],
        [read, 8],
        [read, 3],
        [trim, 4],
      ] as const) {
        const lying = Buffer.from(frame);
        lying.writeUInt32LE(frame.length - 4 - less, 0);
        const p = await peer();
        p.send(lying);
        expect(await p.closedWithin(5_000)).toBe(true);
        expect(p.received).toBe(0);
      }
      const r = (await good.call({ type: 'request', op: 'READ', epoch: EPOCH, addresses: [address] })) as ReadResponse;
      expect([...r.statuses]).toEqual([2]); // ERR_UNWRITTEN: the lying WRITE never happened
    });
    await expectHealthy(); // and the lying PREFIX_TRIM trimmed nothing
  });

  it('closes a connection that sends an unknown opcode, version or flags, or a response frame, sending nothing', async () => {
    const bad: Buffer[] = [
      ...[0, UNUSED_OPCODE, 0x30, 0x7f, 0x80, 0x80 | UNUSED_OPCODE, 0xff].map((opcode) => rawHeader({ opcode, epoch: EPOCH })),
      rawHeader({ opcode: OPCODES.PING, version: 0 }),
      rawHeader({ opcode: OPCODES.PING, version: 2 }),
      rawHeader({ opcode: OPCODES.PING, flags: 1 }),
    ];
    const responses: Response[] = [
      { type: 'response', op: 'PING', requestId: 1, epoch: EPOCH, status: 'OK' },
      { type: 'response', op: 'WRITE', requestId: 2, epoch: EPOCH, status: 'OK', statuses: new Uint8Array([0]), written: new Uint8Array([WRITTEN.NA]) },
      { type: 'response', op: 'SEAL', requestId: 3, epoch: MAX_SAFE, status: 'OK', tail: 0 },
      { type: 'response', op: 'READ', requestId: 4, epoch: EPOCH, status: 'ERR_SEALED', unitEpoch: MAX_SAFE, message: 'sealed' },
    ];
    await refusedFrames(target(), [...bad, ...responses.map(encodeResponse)]);
    await expectHealthy(); // a SEAL *response* at 2^53-1 moved nothing
  });

  it('answers every operation at a wrong epoch with ERR_SEALED carrying its epoch, changes nothing, keeps the connection', async () => {
    const p = await peer();
    await during(async () => {
      for (const epoch of [MAX_SAFE, 2 ** 32, EPOCH + 1, EPOCH - 1, 0]) {
        const answers = await Promise.all([
          p.request({
            type: 'request',
            op: 'WRITE',
            epoch,
            entries: [
              { address: 6_000, payload: payload(6_000) },
              { address: 0, payload: Buffer.from('x') },
            ],
          }),
          p.request({ type: 'request', op: 'READ', epoch, addresses: [0, 1] }),
          p.request({ type: 'request', op: 'FILL', epoch, addresses: [6_001, 2] }),
          p.request({ type: 'request', op: 'TRIM', epoch, addresses: [3, MAX_SAFE] }),
          p.request({ type: 'request', op: 'PREFIX_TRIM', epoch, address: MAX_SAFE }),
          p.request({ type: 'request', op: 'TAIL', epoch }),
        ]);
        for (const a of answers) expect(a, `${a.op} at epoch ${epoch}`).toMatchObject({ status: 'ERR_SEALED', unitEpoch: EPOCH });
        expect(await p.request({ type: 'request', op: 'PING', epoch })).toMatchObject({ op: 'PING', status: 'OK' });
        // Not the unit's operations, at any epoch: a typed refusal.
        expect(await p.request({ type: 'request', op: 'TOKEN', epoch, count: 1 })).toMatchObject({ op: 'TOKEN', status: 'ERR_BAD_REQUEST' });
        expect(await p.request({ type: 'request', op: 'BOOTSTRAP', epoch, newEpoch: MAX_SAFE, startTail: MAX_SAFE, resetStreams: false })).toMatchObject({ status: 'ERR_BAD_REQUEST' });
        // SEAL to an epoch not above the unit's, whatever the sender claims to be at.
        for (const newEpoch of [0, EPOCH - 1, EPOCH]) {
          expect(await p.request({ type: 'request', op: 'SEAL', epoch, newEpoch }), `SEAL ${epoch} -> ${newEpoch}`).toMatchObject({ status: 'ERR_SEALED', unitEpoch: EPOCH });
        }
      }
    });
    expect(p.isClosed).toBe(false); // refusals are answers, not protocol errors
    expect(p.badFrame).toBeUndefined();
    const r = (await good.call({ type: 'request', op: 'READ', epoch: EPOCH, addresses: [6_000, 6_001] })) as ReadResponse;
    expect([...r.statuses]).toEqual([2, 2]); // nothing written, nothing filled
    await expectHealthy(); // nothing trimmed, epoch unchanged
  });

  it(`cuts a slowloris peer and peers whose frame never arrives whole after the frame timeout (${FRAME_TIMEOUT_MS} ms); memory stays bounded`, async () => {
    // The stalled peer's length promises more than it sends, then silence.
    const stalled = Buffer.concat([rawHeader({ length: 1_000, opcode: OPCODES.WRITE, epoch: EPOCH }), Buffer.alloc(30)]);
    await slowPeers(target(), OPCODES.WRITE, EPOCH, stalled);
    expect(unit.stderr()).toMatch(new RegExp(`no whole frame within ${FRAME_TIMEOUT_MS} ms`));
    await expectHealthy();
  }, 60_000);
  it(`holds 2,000 idle connections up to its cap (${MAX_CONNECTIONS}), closing the rest at once, and keeps serving`, async () => {
    await idleConnections(target(), { type: 'request', op: 'TAIL', epoch: EPOCH });
    await expectHealthy();
  }, 60_000);
  it('stops reading a peer that never reads its answers (384 MiB of READ answers asked for); memory stays bounded', async () => {
    const FRAMES = 1_500;
    const addresses = Array.from({ length: 64 }, (_, i) => BIG[i % BIG.length]!); // 64 x 4 KiB = 256 KiB per answer
    const rssBefore = rssMiB(unit.proc.pid!);
    const p = await peer();
    p.socket.pause();
    const rssHeld = await during(async () => {
      const burst = Buffer.concat(Array.from({ length: FRAMES }, (_, i) => encodeRequest({ type: 'request', op: 'READ', requestId: i + 1, epoch: EPOCH, addresses })));
      p.send(burst);
      await sleep(3_000);
      return rssMiB(unit.proc.pid!);
    });
    console.log(`unit RSS: ${rssBefore} MiB before, ${rssHeld} MiB while a peer had ${FRAMES} x 256 KiB of READ answers unread`);
    expect(rssHeld).toBeLessThan(300);
    // When the peer reads again, it gets every answer, whole.
    p.socket.resume();
    const deadline = Date.now() + 45_000;
    while (p.answers.length < FRAMES && Date.now() < deadline && !p.isClosed) await sleep(100);
    expect(p.badFrame).toBeUndefined();
    expect(p.answers).toHaveLength(FRAMES);
    expect(p.answers.every((a) => a.status === 'OK' && a.op === 'READ' && a.statuses.every((s) => s === 0))).toBe(true);
    p.answers.length = 0; // 384 MiB of views: let them go
    await expectHealthy();
  }, 90_000);

  it('answers a READ of 65,536 x 4 KiB (256 MiB asked) with the prefix that fits one frame and ERR_OVERLOADED for the rest', async () => {
    // (First the encoder threw in the unit and killed it; then the whole READ was refused with ERR_TOO_LARGE.)
    const addresses = Array.from({ length: MAX_ENTRIES }, (_, i) => BIG[i % BIG.length]!);
    const p = await peer();
    await during(async () => {
      const a = await p.request({ type: 'request', op: 'READ', epoch: EPOCH, addresses });
      expect(a).toMatchObject({ op: 'READ', status: 'OK' });
      const r = a as ReadResponse;
      const served = expectServedPrefix(r, (i) => payload(BIG[i % BIG.length]!, 4096));
      // As much as fits: one entry more would not have fit the frame.
      expect((served + 1) * 4096 + READ_ANSWER_ENTRY_BYTES * MAX_ENTRIES).toBeGreaterThan(MAX_READ_ANSWER_BYTES);
    });
    expect(p.isClosed).toBe(false);
    expect(p.badFrame).toBeUndefined();
    await expectHealthy();
  });

  it('serves a READ naming one 1 MiB entry 65,536 times with one budget of answer; the unit stays small and serving', async () => {
    const path = join(harness.dir, 'unit-1mib.img');
    writeFileSync(path, '');
    truncateSync(path, 16 * 1024 * 1024);
    Store.format(path, { maxEntryBytes: 1024 * 1024 });
    const other = await startUnit(path);
    const p = await RawPeer.connect(other.port);
    peers.push(p);
    try {
      const big = payload(7, 1024 * 1024);
      const w = await p.request({ type: 'request', op: 'WRITE', epoch: 0, entries: [{ address: 7, payload: big }] });
      expect(w.status === 'OK' && [...(w as WriteResponse).statuses]).toEqual([0]);
      const rssBefore = rssMiB(other.proc.pid!);
      let rssMax = rssBefore;
      for (let round = 0; round < 4; round++) {
        const a = await p.request({ type: 'request', op: 'READ', epoch: 0, addresses: new Array<number>(MAX_ENTRIES).fill(7) });
        rssMax = Math.max(rssMax, rssMiB(other.proc.pid!));
        expect(a).toMatchObject({ op: 'READ', status: 'OK' });
        // 16 MiB + 64 KiB of frame, less 6 bytes per entry: 15 copies of the entry.
        expect(expectServedPrefix(a as ReadResponse, () => big)).toBe(15);
      }
      console.log(`unit RSS: ${rssBefore} MiB before, at most ${rssMax} MiB answering 4 READs of 65,536 x 1 MiB`);
      // Without a budget one such READ is 64 GiB of answer.
      expect(rssMax).toBeLessThan(300);
      expect(other.proc.exitCode).toBeNull();
      const one = await p.request({ type: 'request', op: 'READ', epoch: 0, addresses: [7] });
      expect(one.status === 'OK' && Buffer.from((one as ReadResponse).payloads[0]!).equals(big)).toBe(true);
    } finally {
      other.proc.kill('SIGTERM');
      await other.exited;
    }
  });
});

/**
 * A READ answer that serves a prefix and defers the rest: the first `served`
 * entries are OK with `expected(i)`'s bytes, every later one ERR_OVERLOADED with
 * no kind and no bytes. Returns `served` (at least 1).
 */
function expectServedPrefix(r: ReadResponse, expected: (i: number) => Buffer): number {
  const served = r.statuses.findIndex((s) => s !== 0);
  expect(served).toBeGreaterThan(0);
  expect(r.statuses.subarray(served).every((s) => s === codeByte('ERR_OVERLOADED'))).toBe(true);
  expect(r.kinds.subarray(served).every((k) => k === 0)).toBe(true);
  expect(r.payloads.slice(served).every((pl) => pl === null)).toBe(true);
  for (let i = 0; i < served; i++) expect(Buffer.from(r.payloads[i]!).equals(expected(i)), `entry ${i}`).toBe(true);
  return served;
}

describe('a storage unit sealed to the last epoch', () => {
  it('accepts SEAL to 2^53-1 from any sender (that is the protocol), serves only that epoch after, and can never be sealed again', async () => {
    // Units accept any SEAL whose new epoch is above theirs; the header's epoch (the sender's) is not checked.
    // So one stale or hostile client can move a unit to 2^53-1, past every projection, and no later
    // reconfiguration can seal it again. Recorded here, not changed (docs/protocol.md, "Server limits").
    const other = await startUnit(device());
    const c = new Connection({ host: '127.0.0.1', port: other.port, timeoutMs: 10_000 });
    try {
      await c.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: 1 });
      await c.call({ type: 'request', op: 'WRITE', epoch: 1, entries: [{ address: 7, payload: payload(7) }] });
      expect(await c.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: MAX_SAFE })).toMatchObject({ op: 'SEAL', epoch: MAX_SAFE, tail: 8 });
      await expect(c.call({ type: 'request', op: 'READ', epoch: 1, addresses: [7] })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: MAX_SAFE });
      const r = (await c.call({ type: 'request', op: 'READ', epoch: MAX_SAFE, addresses: [7] })) as ReadResponse;
      expect(Buffer.from(r.payloads[0]!).equals(payload(7))).toBe(true);
      await expect(c.call({ type: 'request', op: 'SEAL', epoch: MAX_SAFE, newEpoch: MAX_SAFE })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: MAX_SAFE });
    } finally {
      await c.close();
      other.proc.kill('SIGTERM');
      await other.exited;
    }
  });
});
