// The sequencer (`corfu sequencer`, a real child process) facing hostile peers:
// lying length fields, lengths over the cap, unknown opcodes, response frames,
// wrong and extreme epochs on every operation (SEAL and BOOTSTRAP included), a
// slowloris peer, frames that never arrive whole and 2,000 idle connections.
// Each is refused with a typed error or its connection is closed with nothing
// sent; the sequencer stays up, keeps its epoch, never hands a token out twice,
// and keeps serving a well-behaved client (checked while each attack runs).
// Its RSS is printed and bounded. (A peer that never reads its answers is
// test/sequencer.server.test.ts.)

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Connection } from '../src/transport/connection.js';
import { FRAME_TIMEOUT_MS, MAX_CONNECTIONS } from '../src/transport/server-limits.js';
import { OPCODES, encodeRequest, encodeResponse } from '../src/wire/index.js';
import type { Response } from '../src/wire/index.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { idleConnections, lengthOutOfBounds, refusedFrames, slowPeers, whileServing, type Target } from './helpers/hostile-attacks.js';
import { RawPeer, listeningPort, rawHeader } from './helpers/raw-socket.js';

/** The first opcode past the protocol's last one (the list grows: INFO, WAIT_TAIL, ...). */
const UNUSED_OPCODE = Math.max(...Object.values(OPCODES)) + 1;

const harness = cliHarness('corfu-hostile-seq-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const EPOCH = 5;
const START = 1_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

interface Sequencer extends Started {
  port: number;
  stderr: () => string;
}

async function startSequencer(epoch: number, startTail: number): Promise<Sequencer> {
  const s = await harness.startCorfu(['sequencer', '--listen', '127.0.0.1:0', '--epoch', String(epoch), '--start-tail', String(startTail)], /^listening /);
  let stderr = '';
  s.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { ...s, port: listeningPort(s.out), stderr: () => stderr };
}

let seq: Sequencer;
let good: Connection;
/** Every token below this was handed to the good client or skipped; the next must be at or above it. */
let issuedEnd = START;
const peers: RawPeer[] = [];

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.connect(seq.port);
  peers.push(p);
  return p;
}

async function tail(): Promise<number> {
  const r = await good.call({ type: 'request', op: 'TAIL', epoch: EPOCH });
  if (r.op !== 'TAIL') throw new Error(`TAIL answered as ${r.op}`);
  return r.tail;
}

/** A well-behaved client's step: take tokens; each range starts at or above the end of the last. */
async function goodStep(): Promise<void> {
  const count = 3;
  const r = await good.call({ type: 'request', op: 'TOKEN', epoch: EPOCH, count });
  if (r.op !== 'TOKEN') throw new Error(`TOKEN answered as ${r.op}`);
  if (r.first < issuedEnd) throw new Error(`token ${r.first} handed out again (issued up to ${issuedEnd})`);
  issuedEnd = r.first + count;
}

/** The sequencer as the shared attacks (helpers/hostile-attacks.ts) see it. */
function target(): Target {
  return { name: 'sequencer', pid: seq.proc.pid!, port: seq.port, stderr: () => seq.stderr(), peer, peers, during, goodStep };
}

/** Runs `attack` while a well-behaved client works; that client must never fail. */
function during<T>(attack: () => Promise<T>): Promise<T> {
  return whileServing(goodStep, attack);
}

/** Up, at EPOCH, handing out fresh tokens, nobody else took any. */
async function expectHealthy(): Promise<void> {
  expect(seq.proc.exitCode).toBeNull();
  expect(seq.proc.signalCode).toBeNull();
  await expect(good.call({ type: 'request', op: 'SEAL', epoch: EPOCH, newEpoch: EPOCH })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
  expect(await tail()).toBe(issuedEnd); // no hostile request took a token
  await goodStep();
}

beforeAll(async () => {
  seq = await startSequencer(EPOCH, START);
  good = new Connection({ host: '127.0.0.1', port: seq.port, timeoutMs: 10_000 });
  await expectHealthy();
});

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.destroy()));
});

afterAll(async () => {
  await good?.close();
});

describe('the sequencer under hostile input', () => {
  it('closes a connection whose length field is over the cap (or under the header) after 4 bytes, sending nothing', async () => {
    await lengthOutOfBounds(target());
    await expectHealthy();
  });
  it('closes a connection whose length field says less than the frame holds, and takes no token for it', async () => {
    await during(async () => {
      const token = encodeRequest({ type: 'request', op: 'TOKEN', requestId: 1, epoch: EPOCH, count: 100 });
      const bootstrap = encodeRequest({ type: 'request', op: 'BOOTSTRAP', requestId: 2, epoch: EPOCH, newEpoch: EPOCH + 1, startTail: MAX_SAFE, resetStreams: false });
      const seal = encodeRequest({ type: 'request', op: 'SEAL', requestId: 3, epoch: EPOCH, newEpoch: EPOCH + 1 });
      for (const [frame, less] of [
        [token, 1],
        [token, 4],
        [bootstrap, 8],
        [bootstrap, 1],
        [seal, 8],
      ] as const) {
        const lying = Buffer.from(frame);
        lying.writeUInt32LE(frame.length - 4 - less, 0);
        const p = await peer();
        p.send(lying);
        expect(await p.closedWithin(5_000)).toBe(true);
        expect(p.received).toBe(0);
      }
    });
    await expectHealthy(); // no lying SEAL or BOOTSTRAP moved the epoch or the counter
  });

  it('closes a connection that sends an unknown opcode, version or flags, or a response frame, sending nothing', async () => {
    const bad: Buffer[] = [
      ...[0, UNUSED_OPCODE, 0x30, 0x7f, 0x80, 0x80 | UNUSED_OPCODE, 0xff].map((opcode) => rawHeader({ opcode, epoch: EPOCH })),
      rawHeader({ opcode: OPCODES.TOKEN, version: 0 }),
      rawHeader({ opcode: OPCODES.TOKEN, version: 2 }),
      rawHeader({ opcode: OPCODES.PING, flags: 0x8000 }),
    ];
    const responses: Response[] = [
      { type: 'response', op: 'TOKEN', requestId: 1, epoch: EPOCH, status: 'OK', first: 0 },
      { type: 'response', op: 'SEAL', requestId: 2, epoch: MAX_SAFE, status: 'OK', tail: MAX_SAFE },
      { type: 'response', op: 'BOOTSTRAP', requestId: 3, epoch: MAX_SAFE, status: 'OK', tail: MAX_SAFE },
      { type: 'response', op: 'TOKEN', requestId: 4, epoch: EPOCH, status: 'ERR_SEALED', unitEpoch: MAX_SAFE, message: 'sealed' },
    ];
    await refusedFrames(target(), [...bad, ...responses.map(encodeResponse)]);
    await expectHealthy();
  });

  it('answers every operation at a wrong epoch with ERR_SEALED carrying its epoch, takes no token, keeps the connection', async () => {
    const p = await peer();
    await during(async () => {
      for (const epoch of [MAX_SAFE, 2 ** 32, EPOCH + 1, EPOCH - 1, 0]) {
        const answers = await Promise.all([
          p.request({ type: 'request', op: 'TOKEN', epoch, count: 65_536 }),
          p.request({ type: 'request', op: 'TAIL', epoch }),
          p.request({ type: 'request', op: 'WRITE', epoch, entries: [{ address: 0, payload: Buffer.from('x') }] }),
          p.request({ type: 'request', op: 'READ', epoch, addresses: [0] }),
          p.request({ type: 'request', op: 'FILL', epoch, addresses: [0] }),
          p.request({ type: 'request', op: 'TRIM', epoch, addresses: [0] }),
          p.request({ type: 'request', op: 'PREFIX_TRIM', epoch, address: MAX_SAFE }),
        ]);
        for (const a of answers) expect(a, `${a.op} at epoch ${epoch}`).toMatchObject({ status: 'ERR_SEALED', unitEpoch: EPOCH });
        expect(await p.request({ type: 'request', op: 'PING', epoch })).toMatchObject({ op: 'PING', status: 'OK' });
        // SEAL to an epoch not above the sequencer's and BOOTSTRAP to one below it, whatever the
        // sender claims to be at and however high the start tail: refused, nothing moves. (BOOTSTRAP
        // at its own epoch raises the counter, by design: see the test of trusted BOOTSTRAPs below.)
        for (const newEpoch of [0, EPOCH - 1, EPOCH]) {
          expect(await p.request({ type: 'request', op: 'SEAL', epoch, newEpoch })).toMatchObject({ status: 'ERR_SEALED', unitEpoch: EPOCH });
          if (newEpoch < EPOCH) {
            expect(await p.request({ type: 'request', op: 'BOOTSTRAP', epoch, newEpoch, startTail: MAX_SAFE, resetStreams: false })).toMatchObject({ status: 'ERR_SEALED', unitEpoch: EPOCH });
          }
        }
      }
      // At the right epoch, a unit's operation is a typed refusal too.
      expect(await p.request({ type: 'request', op: 'READ', epoch: EPOCH, addresses: [0] })).toMatchObject({ op: 'READ', status: 'ERR_BAD_REQUEST' });
    });
    expect(p.isClosed).toBe(false);
    expect(p.badFrame).toBeUndefined();
    await expectHealthy();
  });

  it(`cuts a slowloris peer and peers whose frame never arrives whole after the frame timeout (${FRAME_TIMEOUT_MS} ms); memory stays bounded`, async () => {
    // The stalled peer sends 22 of a TOKEN frame's bytes, then silence.
    const stalled = encodeRequest({ type: 'request', op: 'TOKEN', requestId: 1, epoch: EPOCH, count: 1 }).subarray(0, 22);
    await slowPeers(target(), OPCODES.TOKEN, EPOCH, stalled);
    await expectHealthy();
  }, 60_000);
  it(`holds 2,000 idle connections up to its cap (${MAX_CONNECTIONS}), closing the rest at once, and keeps serving`, async () => {
    await idleConnections(target(), { type: 'request', op: 'PING', epoch: 0 });
    await expectHealthy();
  }, 60_000);
});

describe('a sequencer sealed to the last epoch or bootstrapped to the last token', () => {
  it('accepts SEAL and BOOTSTRAP to 2^53-1 from any sender (that is the protocol); one BOOTSTRAP can exhaust the token space', async () => {
    // Like a unit, the sequencer takes any SEAL whose new epoch is above its own (and any BOOTSTRAP at or
    // above its own) and does not check the sender's epoch; BOOTSTRAP's start tail is trusted. So one stale or hostile client can move it to
    // epoch 2^53-1 (no reconfiguration can follow) or its counter to 2^53-1 (every TOKEN is ERR_FULL after).
    // Recorded here, not changed (docs/protocol.md, "Server limits").
    const other = await startSequencer(1, 0);
    const c = new Connection({ host: '127.0.0.1', port: other.port, timeoutMs: 10_000 });
    try {
      expect(await c.call({ type: 'request', op: 'TOKEN', epoch: 1, count: 10 })).toMatchObject({ first: 0 });
      expect(await c.call({ type: 'request', op: 'BOOTSTRAP', epoch: 0, newEpoch: 2, startTail: MAX_SAFE, resetStreams: false })).toMatchObject({ op: 'BOOTSTRAP', epoch: 2, tail: MAX_SAFE });
      await expect(c.call({ type: 'request', op: 'TOKEN', epoch: 2, count: 1 })).rejects.toMatchObject({ code: 'ERR_FULL' });
      expect(await c.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: MAX_SAFE })).toMatchObject({ op: 'SEAL', epoch: MAX_SAFE, tail: MAX_SAFE });
      await expect(c.call({ type: 'request', op: 'SEAL', epoch: MAX_SAFE, newEpoch: MAX_SAFE })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: MAX_SAFE });
      await expect(c.call({ type: 'request', op: 'TAIL', epoch: 2 })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: MAX_SAFE });
    } finally {
      await c.close();
      other.proc.kill('SIGTERM');
      await other.exited;
    }
  });
});
