// The sequencer's native front (native/engine/src/seq_front, src/sequencer/front.ts): the
// addon's TCP loop answers TOKEN runs on its own thread and hands every other frame to
// the TypeScript state machine. What the server's other suites check over it (limits,
// malformed frames, the CLI) runs on it too, since it is the default; this file checks
// what only a second thread can break: an epoch change racing TOKENs, a long poll woken
// by TOKENs the front answered, the end of the token space, a peer that half-closes,
// and the counts the metrics read.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ServerAuth } from '../src/transport/auth.js';
import { CounterTokenSource } from '../src/sequencer/state.js';
import { ListenError, SequencerServer, type SequencerObserver } from '../src/sequencer/server.js';
import { encodeRequest } from '../src/wire/codec.js';
import { FrameDecoder } from '../src/wire/decoder.js';
import type { Request, Response } from '../src/wire/messages.js';

const EPOCH = 3;

/** A raw connection: sends request bytes, collects decoded answers. */
class Raw {
  readonly answers: Response[] = [];
  readonly #decoder = new FrameDecoder();
  readonly #socket: Socket;
  readonly closed: Promise<void>;
  #waiting: { n: number; resolve: () => void } | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let r = this.#decoder.pull(); r.kind === 'frame'; r = this.#decoder.pull()) this.answers.push(r.frame as Response);
      if (this.#waiting !== undefined && this.answers.length >= this.#waiting.n) this.#waiting.resolve();
    });
  }

  static async open(port: number): Promise<Raw> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new Raw(socket);
  }

  send(...reqs: Request[]): void {
    this.#socket.write(Buffer.concat(reqs.map((r) => encodeRequest(r))));
  }

  /** Resolves once `n` answers in all have come (rejects if the connection closes first). */
  async until(n: number): Promise<Response[]> {
    if (this.answers.length < n) {
      await Promise.race([
        new Promise<void>((resolve) => (this.#waiting = { n, resolve })),
        this.closed.then(() => {
          if (this.answers.length < n) throw new Error(`closed after ${this.answers.length} of ${n} answers`);
        }),
      ]);
    }
    return this.answers;
  }

  /** Sends the requests and the FIN back to back (the front reads both in one turn). */
  endWith(...reqs: Request[]): void {
    this.#socket.end(Buffer.concat(reqs.map((r) => encodeRequest(r))));
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

const token = (requestId: number, count = 1, epoch = EPOCH): Request => ({ type: 'request', op: 'TOKEN', requestId, epoch, count });

const servers: SequencerServer[] = [];
const raws: Raw[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Parameters<typeof SequencerServer.start>[0] = {}): Promise<SequencerServer> {
  const s = await SequencerServer.start({ epoch: EPOCH, ...options });
  servers.push(s);
  return s;
}

async function open(s: SequencerServer): Promise<Raw> {
  const r = await Raw.open(s.address.port);
  raws.push(r);
  return r;
}

describe("the sequencer's native front", () => {
  it('is the default; TLS, authentication, an injected counter or front: node get Node sockets', async () => {
    expect((await start()).front).toBe('native');
    expect((await start({ front: 'node' })).front).toBe('node');
    expect((await start({ tokens: new CounterTokenSource(0) })).front).toBe('node');
    expect((await start({ auth: new ServerAuth({ clientToken: 'client-token-1', adminToken: 'admin-token-1' }) })).front).toBe('node');
  });

  it('hands out no TOKEN of the old epoch at or past the tail a racing SEAL answered, and no token twice', async () => {
    const s = await start({ startTail: 100 });
    const flooders = await Promise.all([open(s), open(s), open(s)]);
    const admin = await open(s);
    const PER = 400;
    // Each flooder pipelines PER TOKENs in bursts while the SEAL goes out mid-way.
    const sends = flooders.map(async (f, k) => {
      for (let i = 0; i < PER; i += 20) {
        f.send(...Array.from({ length: 20 }, (_, j) => token(k * 10_000 + i + j, 1 + ((i + j) % 3))));
        await new Promise((r) => setImmediate(r));
      }
    });
    await new Promise((r) => setTimeout(r, 2));
    admin.send({ type: 'request', op: 'SEAL', requestId: 1, epoch: EPOCH, newEpoch: EPOCH + 1 });
    await Promise.all(sends);
    const [seal] = await admin.until(1);
    expect(seal).toMatchObject({ op: 'SEAL', status: 'OK', epoch: EPOCH + 1 });
    const sealTail = (seal as { tail: number }).tail;
    const ranges: Array<[number, number]> = [];
    let refused = 0;
    for (const f of flooders) {
      for (const a of await f.until(PER)) {
        if (a.status === 'OK') {
          const first = (a as { first: number }).first;
          const count = 1 + ((a.requestId % 10_000) % 3);
          // Granted at the old epoch: before the seal took the tail.
          expect(first + count).toBeLessThanOrEqual(sealTail);
          ranges.push([first, count]);
        } else {
          expect(a).toMatchObject({ status: 'ERR_SEALED', unitEpoch: EPOCH + 1 });
          refused++;
        }
      }
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![0] + ranges[i - 1]![1]);
    expect(ranges.length + refused).toBe(3 * PER);
    // The new epoch's TOKENs start at the seal's tail.
    const after = await open(s);
    after.send(token(1, 1, EPOCH + 1));
    expect((await after.until(1))[0]).toMatchObject({ status: 'OK', first: sealTail });
  });

  it('answers a parked WAIT_TAIL when TOKENs it answered itself move the tail, and serves that connection meanwhile', async () => {
    const s = await start({ startTail: 50 });
    const poller = await open(s);
    poller.send({ type: 'request', op: 'WAIT_TAIL', requestId: 1, epoch: EPOCH, after: 52, waitMs: 10_000 });
    while (s.waiting === 0) await new Promise((r) => setTimeout(r, 1));
    // The poller's own TOKEN is answered while its poll is parked.
    poller.send(token(2));
    expect((await poller.until(1))[0]).toMatchObject({ requestId: 2, status: 'OK', first: 50 });
    expect(s.waiting).toBe(1);
    const taker = await open(s);
    taker.send(token(3, 2));
    await taker.until(1);
    const answers = await poller.until(2);
    expect(answers[1]).toMatchObject({ op: 'WAIT_TAIL', requestId: 1, status: 'OK', tail: 53 });
    expect(s.waiting).toBe(0);
  });

  it('near the end of the token space answers what fits and leaves ERR_FULL to the state machine', async () => {
    const top = Number.MAX_SAFE_INTEGER - 3;
    const s = await start({ startTail: top });
    const r = await open(s);
    r.send(token(1, 1), token(2, 2), token(3, 5), token(4, 1));
    const a = await r.until(4);
    expect(a.map((x) => x.status)).toEqual(['OK', 'OK', 'ERR_FULL', 'ERR_FULL']);
    expect(a.slice(0, 2)).toMatchObject([{ first: top }, { first: top + 1 }]);
    expect(s.sequencer.nextToken).toBe(top + 3);
  });

  it('answers a peer that half-closes after its requests (a held frame included), then closes', async () => {
    const s = await start();
    const r = await open(s);
    r.endWith(token(1), { type: 'request', op: 'PING', requestId: 2, epoch: EPOCH }, token(3), { type: 'request', op: 'TAIL', requestId: 4, epoch: EPOCH });
    await r.closed;
    expect(r.answers.map((a) => [a.requestId, a.op, a.status])).toEqual([
      [1, 'TOKEN', 'OK'],
      [2, 'PING', 'OK'],
      [3, 'TOKEN', 'OK'],
      [4, 'TAIL', 'OK'],
    ]);
    expect(r.answers[3]).toMatchObject({ tail: 2 });
  });

  it('reads a FIN that comes with requests behind a held frame, answers them all, then closes', async () => {
    // The hold (a PING with the state machine) must last until the rest and the FIN are in:
    // the client is another process, and this thread (the one that answers the PING) is
    // blocked until that process says it sent everything.
    const s = await start();
    const dir = mkdtempSync(join(tmpdir(), 'corfu-front-fin-'));
    const sent = join(dir, 'sent');
    const frames = (...reqs: Request[]): string => Buffer.concat(reqs.map((r) => encodeRequest(r))).toString('hex');
    const first = frames(token(1), { type: 'request', op: 'PING', requestId: 2, epoch: EPOCH });
    const rest = frames(token(3), { type: 'request', op: 'TAIL', requestId: 4, epoch: EPOCH });
    const client = `
      const net = require('node:net'), fs = require('node:fs');
      const got = [];
      const c = net.connect(${s.address.port}, '127.0.0.1', () => {
        c.write(Buffer.from('${first}', 'hex'));
        setTimeout(() => c.end(Buffer.from('${rest}', 'hex'), () => setTimeout(() => fs.writeFileSync('${sent}', ''), 100)), 100);
      });
      c.on('data', (d) => got.push(d));
      c.on('close', () => process.stdout.write(Buffer.concat(got).toString('hex')));`;
    const child = spawn(process.execPath, ['-e', client], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const t0 = Date.now(); !existsSync(sent) && Date.now() - t0 < 10_000;) Atomics.wait(pause, 0, 0, 10);
    await exited;
    rmSync(dir, { recursive: true, force: true });
    const decoder = new FrameDecoder();
    decoder.push(Buffer.from(out, 'hex'));
    const answers: Response[] = [];
    for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) answers.push(r.frame as Response);
    expect(answers.map((a) => [a.requestId, a.op, a.status])).toEqual([
      [1, 'TOKEN', 'OK'],
      [2, 'PING', 'OK'],
      [3, 'TOKEN', 'OK'],
      [4, 'TAIL', 'OK'],
    ]);
  });

  it('counts its tokens and requests for the metrics (tokensIssued, syncObserver)', async () => {
    let fast = 0;
    const observed: string[] = [];
    const observer: SequencerObserver = {
      answered: (res) => observed.push(res.op),
      answeredTokens: (n) => (fast += n),
    };
    const s = await start({ observer });
    const r = await open(s);
    r.send(token(1, 4), token(2, 1), { type: 'request', op: 'STREAM_TOKEN', requestId: 3, epoch: EPOCH, count: 2, streams: ['0123456789abcdef0123456789abcdef'] }, token(4, 3));
    await r.until(4);
    expect(s.tokensIssued).toBe(10);
    expect(observed).toEqual(['STREAM_TOKEN']);
    s.syncObserver();
    expect(fast).toBe(3);
    s.syncObserver();
    expect(fast).toBe(3);
  });

  it('refuses a port in use with ListenError EADDRINUSE', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(SequencerServer.start({ port })).rejects.toSatisfy((e: unknown) => e instanceof ListenError && e.code === 'EADDRINUSE' && /address already in use/.test(e.message));
    } finally {
      taken.close();
    }
  });
});
