// The attacks every server faces alike (test/hostile.unit.test.ts and
// test/hostile.sequencer.test.ts), against a `Target`: the server process and
// the file's own well-behaved client. Each asserts what the server must do;
// the caller checks afterwards that it stayed healthy.

import { expect } from 'vitest';

import { FRAME_TIMEOUT_MS, MAX_CONNECTIONS } from '../../src/transport/server-limits.js';
import type { RequestBody } from '../../src/transport/connection.js';
import { MAX_LENGTH_FIELD } from '../../src/wire/index.js';
import { keepServing, openIdle, rawHeader, rssMiB, sleep, type RawPeer } from './raw-socket.js';

export interface Target {
  /** 'unit' or 'sequencer', for the RSS lines. */
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  stderr(): string;
  /** A raw connection, closed after the test. */
  peer(): Promise<RawPeer>;
  /** Connections the file's afterEach closes. */
  readonly peers: RawPeer[];
  /** Runs `attack` while the well-behaved client works; that client must never fail. */
  during<T>(attack: () => Promise<T>): Promise<T>;
  /** One step of the well-behaved client. */
  goodStep(): Promise<void>;
}

/** Runs `attack` while `goodStep` keeps running; the good client must never fail, and must make progress. */
export async function whileServing<T>(goodStep: () => Promise<void>, attack: () => Promise<T>): Promise<T> {
  const client = keepServing(goodStep);
  try {
    return await attack();
  } finally {
    const { steps, errors } = await client.stop();
    expect(errors).toEqual([]);
    expect(steps).toBeGreaterThan(0);
  }
}

/** A length over the cap, or under the header: refused after its 4 bytes, nothing sent back. */
export async function lengthOutOfBounds(t: Target): Promise<void> {
  await t.during(async () => {
    for (const length of [MAX_LENGTH_FIELD + 1, 0xffff_ffff, 2 ** 31, 15, 0]) {
      const p = await t.peer();
      const b = Buffer.alloc(4);
      b.writeUInt32LE(length, 0);
      p.send(b); // no more bytes: the length alone must be refused
      expect(await p.closedWithin(5_000), `length ${length}`).toBe(true);
      expect(p.received).toBe(0);
    }
  });
}

/** Each frame on its own connection: the connection is closed and nothing is sent back. */
export async function refusedFrames(t: Target, frames: readonly Uint8Array[]): Promise<void> {
  await t.during(async () => {
    for (const frame of frames) {
      const p = await t.peer();
      p.send(frame);
      expect(await p.closedWithin(5_000)).toBe(true);
      expect(p.received).toBe(0);
    }
  });
}

/**
 * A slowloris peer (one byte of a 1,000-byte frame every 100 ms), a peer whose
 * frame stops part-way (`stalled`), and 200 peers announcing a 16 MiB frame and
 * sending only its header: all cut by the frame timeout; RSS stays bounded.
 */
export async function slowPeers(t: Target, opcode: number, epoch: number, stalled: Uint8Array): Promise<void> {
  const rssBefore = rssMiB(t.pid);
  const { cutPeers, rssHeld } = await t.during(async () => {
    const slow = await t.peer();
    const frame = Buffer.concat([rawHeader({ length: 1_000, opcode, epoch }), Buffer.alloc(1_000)]);
    let sent = 0;
    const drip = setInterval(() => slow.send(frame.subarray(sent, ++sent)), 100);
    const stall = await t.peer();
    stall.send(stalled);
    const huge = await Promise.all(Array.from({ length: 200 }, () => t.peer()));
    for (const h of huge) h.send(rawHeader({ length: MAX_LENGTH_FIELD, opcode, epoch }));
    await sleep(2_000);
    const rssHeld = rssMiB(t.pid);
    expect(slow.isClosed).toBe(false); // still dripping, not yet cut
    const cutPeers = [slow, stall, ...huge];
    const cut = await Promise.all(cutPeers.map((p) => p.closedWithin(FRAME_TIMEOUT_MS + 10_000)));
    clearInterval(drip);
    expect(cut.every(Boolean)).toBe(true);
    return { cutPeers, rssHeld };
  });
  for (const p of cutPeers) expect(p.received).toBe(0);
  console.log(`${t.name} RSS: ${rssBefore} MiB before, ${rssHeld} MiB holding a slowloris + 201 unfinished frames (200 announcing 16 MiB), ${rssMiB(t.pid)} MiB after they were cut`);
  expect(rssHeld).toBeLessThan(300); // 200 x 16 MiB announced: nothing is allocated from a length
}

/**
 * 2,000 idle connections: held up to the cap, the rest closed at once, the
 * well-behaved client still served; once they go, `probe` is answered OK on a
 * new connection.
 */
export async function idleConnections(t: Target, probe: RequestBody): Promise<void> {
  const rssBefore = rssMiB(t.pid);
  const { idle, rssHeld } = await t.during(async () => {
    const idle = await openIdle(t.port, 2_000);
    t.peers.push(...idle);
    // The kernel accepts every connect; the server closes those past the cap as it takes
    // them from its accept queue. On a loaded machine (the whole suite on two cores) that
    // took longer than a fixed second once (1,037 still open), so wait for it, bounded: a
    // server that does not enforce the cap keeps 2,000 open and fails below.
    for (let waited = 0; waited < 15_000 && idle.filter((p) => !p.isClosed).length > MAX_CONNECTIONS - 1; waited += 100) await sleep(100);
    await sleep(500);
    return { idle, rssHeld: rssMiB(t.pid) };
  });
  const open = idle.filter((p) => !p.isClosed).length;
  console.log(`${t.name} RSS: ${rssBefore} MiB before, ${rssHeld} MiB with ${idle.length} idle connections attempted (${open} held open, ${idle.length - open} closed by the cap)`);
  expect(idle.length).toBe(2_000); // every TCP connect succeeded (the kernel accepts; the server closes)
  expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS - 1); // the well-behaved client holds one slot
  expect(open).toBeGreaterThanOrEqual(MAX_CONNECTIONS - 10);
  expect(idle.every((p) => p.received === 0)).toBe(true);
  expect(rssHeld).toBeLessThan(300);
  // While full, a new connection is closed at once; the old client still works.
  const late = await t.peer();
  expect(await late.closedWithin(5_000)).toBe(true);
  await t.goodStep();
  expect(t.stderr()).toMatch(/connections open \(the cap\)/);
  // Once they go, new connections are served again.
  await Promise.all(t.peers.splice(0).map((p) => p.destroy()));
  await sleep(500);
  const fresh = await t.peer();
  expect(await fresh.request(probe)).toMatchObject({ op: probe.op, status: 'OK' });
  console.log(`${t.name} RSS: ${rssMiB(t.pid)} MiB after the idle connections closed`);
}
