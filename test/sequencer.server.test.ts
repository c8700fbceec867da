// The sequencer as a real process: `node dist/src/cli/main.js sequencer`,
// talked to over TCP with the wire codec directly (no client library).

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { encodeRequest, encodeResponse } from '../src/wire/codec.js';
import { FrameDecoder } from '../src/wire/decoder.js';
import type { Request, Response } from '../src/wire/messages.js';
import { until } from './helpers/until.js';
import { logLines } from './helpers/log-lines.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
}

/** Starts `corfu sequencer` and waits for its `listening HOST:PORT` line. */
function startSequencer(...args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [CLI, 'sequencer', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = /^listening 127\.0\.0\.1:(\d+)$/m.exec(stdout);
      if (m) resolve({ child, port: Number(m[1]), exited });
    });
    void exited.then(({ code }) => reject(new Error(`sequencer exited with ${code} before listening: ${stderr}`)));
  });
}

/** A request without its id (distributes over the union). */
type Body = Request extends infer R ? (R extends Request ? Omit<R, 'requestId'> : never) : never;

/** A bare pipelining client: requests by id, answers matched by id. */
class RawClient {
  readonly #pending = new Map<number, (r: Response) => void>();
  readonly #decoder = new FrameDecoder();
  #nextId = 1;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let r = this.#decoder.pull(); r.kind !== 'need'; r = this.#decoder.pull()) {
        if (r.kind === 'error' || r.frame.type !== 'response') throw new Error('bad frame from the sequencer');
        const resolve = this.#pending.get(r.frame.requestId);
        if (!resolve) throw new Error(`answer to unknown request ${r.frame.requestId}`);
        this.#pending.delete(r.frame.requestId);
        resolve(r.frame);
      }
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  request(body: Body): Promise<Response> {
    const requestId = this.#nextId++;
    const answer = this.answerTo(requestId);
    this.socket.write(encodeRequest({ ...body, requestId }));
    return answer;
  }

  /** The answer to a request the caller writes itself (with this id). */
  answerTo(requestId: number): Promise<Response> {
    return new Promise<Response>((resolve) => this.#pending.set(requestId, resolve));
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }
}

function first(r: Response): number {
  if (r.op !== 'TOKEN' || r.status !== 'OK') throw new Error(`expected a token, got ${JSON.stringify(r)}`);
  return r.first;
}

describe('corfu sequencer', () => {
  it('hands 4 connections x 2,000 concurrent TOKEN requests unique, contiguous ranges', async () => {
    const seq = await startSequencer('--epoch', '1');
    const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(seq.port)));
    const PER_CLIENT = 2_000;
    const results = await Promise.all(
      clients.map(async (c, k) => {
        const counts = Array.from({ length: PER_CLIENT }, (_, i) => 1 + ((i * 7 + k) % 5));
        const answers = await Promise.all(counts.map((count) => c.request({ type: 'request', op: 'TOKEN', epoch: 1, count })));
        return answers.map((a, i) => [first(a), counts[i]!] as const);
      }),
    );
    const ranges = results.flat().sort((a, b) => a[0] - b[0]);
    expect(ranges).toHaveLength(4 * PER_CLIENT);
    let at = 0;
    for (const [f, count] of ranges) {
      expect(f).toBe(at); // no overlap, no gap
      at += count;
    }
    const tail = await clients[0]!.request({ type: 'request', op: 'TAIL', epoch: 1 });
    expect(tail).toMatchObject({ op: 'TAIL', status: 'OK', tail: at });
    await Promise.all(clients.map((c) => c.close()));
    seq.child.kill('SIGTERM');
    expect((await seq.exited).code).toBe(0);
  });

  it('refuses a wrong epoch with ERR_SEALED; SEAL moves it to the new epoch without reusing a token', async () => {
    const seq = await startSequencer('--epoch', '5', '--start-tail', '1000');
    const c = await RawClient.connect(seq.port);
    expect(first(await c.request({ type: 'request', op: 'TOKEN', epoch: 5, count: 10 }))).toBe(1000);
    for (const epoch of [4, 6]) {
      const r = await c.request({ type: 'request', op: 'TOKEN', epoch, count: 1 });
      expect(r).toMatchObject({ op: 'TOKEN', status: 'ERR_SEALED', unitEpoch: 5 });
    }
    expect(await c.request({ type: 'request', op: 'TAIL', epoch: 3 })).toMatchObject({ status: 'ERR_SEALED', unitEpoch: 5 });
    expect(await c.request({ type: 'request', op: 'PING', epoch: 0 })).toMatchObject({ op: 'PING', status: 'OK' });

    expect(await c.request({ type: 'request', op: 'SEAL', epoch: 5, newEpoch: 5 })).toMatchObject({ status: 'ERR_SEALED', unitEpoch: 5 });
    expect(await c.request({ type: 'request', op: 'SEAL', epoch: 5, newEpoch: 6 })).toMatchObject({ op: 'SEAL', status: 'OK', epoch: 6, tail: 1010 });
    expect(await c.request({ type: 'request', op: 'TOKEN', epoch: 5, count: 1 })).toMatchObject({ status: 'ERR_SEALED', unitEpoch: 6 });
    expect(first(await c.request({ type: 'request', op: 'TOKEN', epoch: 6, count: 1 }))).toBe(1010);

    // A well-formed request the sequencer does not serve is an answer, not a dropped connection.
    expect(await c.request({ type: 'request', op: 'READ', epoch: 6, addresses: [1] })).toMatchObject({ op: 'READ', status: 'ERR_BAD_REQUEST' });
    expect(await c.request({ type: 'request', op: 'TAIL', epoch: 6 })).toMatchObject({ status: 'OK', tail: 1011 });
    await c.close();
    seq.child.kill('SIGTERM');
    expect((await seq.exited).code).toBe(0);
  });

  it('closes only the connection that sent a malformed frame', async () => {
    const seq = await startSequencer();
    const good = await RawClient.connect(seq.port);
    const bad = await RawClient.connect(seq.port);
    expect(first(await good.request({ type: 'request', op: 'TOKEN', epoch: 0, count: 2 }))).toBe(0);

    // A whole header with protocol version 99; then a request that would be valid.
    const garbage = Buffer.alloc(20);
    garbage.writeUInt32LE(16, 0);
    garbage[4] = 99;
    garbage[5] = 8;
    bad.socket.write(Buffer.concat([garbage, encodeRequest({ type: 'request', op: 'TOKEN', requestId: 1, epoch: 0, count: 1 })]));
    await bad.closed;

    // A response frame sent to the server is malformed too.
    const confused = await RawClient.connect(seq.port);
    confused.socket.write(encodeResponse({ type: 'response', op: 'PING', requestId: 1, epoch: 0, status: 'OK' }));
    await confused.closed;

    // The good connection and new ones are still served; the failed requests took no tokens.
    expect(first(await good.request({ type: 'request', op: 'TOKEN', epoch: 0, count: 1 }))).toBe(2);
    const fresh = await RawClient.connect(seq.port);
    expect(await fresh.request({ type: 'request', op: 'TAIL', epoch: 0 })).toMatchObject({ status: 'OK', tail: 3 });
    await Promise.all([good.close(), fresh.close()]);
    seq.child.kill('SIGTERM');
    expect((await seq.exited).code).toBe(0);
  });

  it('stops reading a connection that does not read its answers, and keeps serving the others', async () => {
    const seq = await startSequencer();
    const slow = await RawClient.connect(seq.port);
    slow.socket.pause(); // reads nothing: answers pile up in the kernel, then in the server
    const N = 600_000;
    const frame = encodeRequest({ type: 'request', op: 'TOKEN', requestId: 0, epoch: 0, count: 1 });
    const burst = Buffer.alloc(frame.length * N);
    for (let i = 0; i < N; i++) {
      frame.writeUInt32LE(i + 1, 8); // request id
      frame.copy(burst, i * frame.length);
    }
    const answers = Array.from({ length: N }, (_, i) => slow.answerTo(i + 1));
    const other = await RawClient.connect(seq.port);
    slow.socket.write(burst);
    // The tokens handed out (TAIL, asked on another connection: the server's own counter)
    // stop growing once the server stops reading the slow connection. Without that pause it
    // would swallow the whole burst, answers piling up in its memory, and stop only at N.
    let handedOut = -1;
    await until(
      async () => {
        const res = await other.request({ type: 'request', op: 'TAIL', epoch: 0 });
        if (res.op !== 'TAIL' || res.status !== 'OK') throw new Error(`TAIL answered ${JSON.stringify(res)}`);
        const stopped = res.tail > 0 && res.tail === handedOut;
        handedOut = res.tail;
        return stopped;
      },
      'the sequencer to stop taking requests from the connection that does not read',
      { everyMs: 100, timeoutMs: 30_000 },
    );
    expect(handedOut).toBeLessThan(N);
    // Part of the burst still waits on the client's side.
    expect(slow.socket.writableLength).toBeGreaterThan(0);
    expect(await other.request({ type: 'request', op: 'PING', epoch: 0 })).toMatchObject({ status: 'OK' });
    slow.socket.resume();
    const firsts = (await Promise.all(answers)).map(first).sort((a, b) => a - b);
    expect(firsts[0]).toBe(0);
    expect(firsts[N - 1]).toBe(N - 1);
    expect(new Set(firsts).size).toBe(N);
    await Promise.all([slow.close(), other.close()]);
    seq.child.kill('SIGTERM');
    expect((await seq.exited).code).toBe(0);
  });

  it('exits 0 on SIGTERM with a client still connected', async () => {
    const seq = await startSequencer();
    const c = await RawClient.connect(seq.port);
    expect(await c.request({ type: 'request', op: 'PING', epoch: 0 })).toMatchObject({ status: 'OK' });
    seq.child.kill('SIGTERM');
    const { code, stderr } = await seq.exited;
    expect(code).toBe(0);
    // Only its log, and it says what the shutdown did.
    const lines = logLines(stderr);
    expect(lines.filter((l) => !['info', 'debug'].includes(l.level))).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^listening on /), 'SIGTERM: stopping: no new connections; closing 1 connection(s)', 'stopped']);
    await c.closed;
  });

  it('refuses a port in use with one line and exit 1', async () => {
    const seq = await startSequencer();
    const r = spawnSync(process.execPath, [CLI, 'sequencer', '--listen', `127.0.0.1:${seq.port}`], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(logLines(r.stderr)).toEqual([expect.objectContaining({ level: 'fatal', component: 'sequencer', exitCode: 1, msg: `cannot listen on 127.0.0.1:${seq.port}: address already in use` })]);
    seq.child.kill('SIGTERM');
    expect((await seq.exited).code).toBe(0);
  });

  it('refuses a bad --listen as a usage error (exit 2)', () => {
    const r = spawnSync(process.execPath, [CLI, 'sequencer', '--listen', 'localhost:70000'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('refuses a bad --front as a usage error (exit 2), naming the two loops', () => {
    const r = spawnSync(process.execPath, [CLI, 'sequencer', '--front', 'uring'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("expected 'native' or 'node'");
  });
});
