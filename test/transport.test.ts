// The client connection (src/transport) against tiny servers this test
// controls: one that never answers, one that drops the socket, one that
// answers out of order, and a port nobody listens on. Timeouts, fail-fast on
// refused connects, ERR_OVERLOADED, reconnect, clean close.

import { createServer, type Server, type Socket } from 'node:net';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { Connection, backoffDelayMs } from '../src/transport/connection.js';
import { FrameDecoder, encodeResponse } from '../src/wire/index.js';
import type { Request } from '../src/wire/index.js';
import { refusedAddress } from './helpers/ports.js';
import { until } from './helpers/until.js';

type Mode = 'silent' | 'drop' | 'answer' | 'reverse3';

interface FakeServer {
  server: Server;
  port: number;
  mode: Mode;
  accepted: number;
  /** Request frames received, for tests to wait on. */
  received: number;
  sockets: Set<Socket>;
}

const servers: FakeServer[] = [];
const connections: Connection[] = [];

function answer(req: Request): Buffer {
  if (req.op === 'TAIL') return encodeResponse({ type: 'response', op: 'TAIL', requestId: req.requestId, epoch: req.epoch, status: 'OK', tail: req.epoch * 10 });
  if (req.op === 'PING') return encodeResponse({ type: 'response', op: 'PING', requestId: req.requestId, epoch: req.epoch, status: 'OK' });
  return encodeResponse({ type: 'response', op: req.op, requestId: req.requestId, epoch: req.epoch, status: 'ERR_SEALED', unitEpoch: 9, message: 'sealed' });
}

async function fakeServer(mode: Mode, port = 0, host = '127.0.0.1'): Promise<FakeServer> {
  const fake: FakeServer = { server: createServer(), port: 0, mode, accepted: 0, received: 0, sockets: new Set() };
  fake.server.on('connection', (socket) => {
    fake.accepted++;
    fake.sockets.add(socket);
    socket.on('close', () => fake.sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    let held: Request[] = [];
    socket.on('data', (chunk) => {
      if (fake.mode === 'drop') {
        socket.destroy();
        return;
      }
      decoder.push(chunk);
      for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) {
        const req = r.frame as Request;
        fake.received++;
        if (fake.mode === 'answer') socket.write(answer(req));
        else if (fake.mode === 'reverse3') {
          held.push(req);
          if (held.length === 3) {
            for (const h of held.reverse()) socket.write(answer(h));
            held = [];
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => fake.server.listen(port, host, resolve));
  const a = fake.server.address();
  fake.port = typeof a === 'object' && a !== null ? a.port : 0;
  servers.push(fake);
  return fake;
}

async function stop(fake: FakeServer): Promise<void> {
  for (const s of fake.sockets) s.destroy();
  await new Promise<void>((resolve) => fake.server.close(() => resolve()));
}

function connect(port: number, options: Partial<ConstructorParameters<typeof Connection>[0]> = {}): Connection {
  const c = new Connection({ host: '127.0.0.1', port, reconnectMinMs: 10, reconnectMaxMs: 100, ...options });
  connections.push(c);
  return c;
}

/** Cleanups of the current test. */
const after: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await Promise.all(after.splice(0).map((f) => f()));
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map(stop));
});

describe('Connection', () => {
  it('computes exponential backoff, capped', () => {
    expect([0, 1, 2, 3, 10, 100].map((a) => backoffDelayMs(a, 50, 2000))).toEqual([50, 100, 200, 400, 2000, 2000]);
  });

  it('pipelines requests and matches answers by id, whatever their order', async () => {
    const fake = await fakeServer('reverse3');
    const c = connect(fake.port);
    const answers = await Promise.all([1, 2, 3].map((epoch) => c.call({ type: 'request', op: 'TAIL', epoch })));
    expect(answers.map((a) => (a.op === 'TAIL' ? a.tail : -1))).toEqual([10, 20, 30]);
    const ids = answers.map((a) => a.requestId);
    expect(new Set(ids).size).toBe(3);
    expect(c.inFlight).toBe(0);
  });

  it('resolves error responses with request() and throws them with call(), ERR_SEALED carrying the unit epoch', async () => {
    const fake = await fakeServer('answer');
    const c = connect(fake.port);
    const res = await c.request({ type: 'request', op: 'READ', epoch: 1, addresses: [0] });
    expect(res).toMatchObject({ status: 'ERR_SEALED', unitEpoch: 9 });
    await expect(c.call({ type: 'request', op: 'READ', epoch: 1, addresses: [0] })).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: 9 });
  });

  it('fails a request the server never answers with ERR_UNAVAILABLE after its timeout, and frees its slot', async () => {
    const fake = await fakeServer('silent');
    const c = connect(fake.port, { maxInFlight: 1 });
    const started = performance.now();
    await expect(c.request({ type: 'request', op: 'PING', epoch: 0 }, { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: expect.stringMatching(/no answer within 100 ms/),
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(c.inFlight).toBe(0);
    fake.mode = 'answer';
    // The slot is free again: the next call goes out and is answered.
    await expect(c.call({ type: 'request', op: 'PING', epoch: 0 })).resolves.toMatchObject({ op: 'PING', status: 'OK' });
  });

  it('fails calls beyond maxInFlight + maxQueued at once with ERR_OVERLOADED; close() fails the rest with ERR_CLOSED', async () => {
    const fake = await fakeServer('silent');
    const c = connect(fake.port, { maxInFlight: 1, maxQueued: 2 });
    const ping = () => c.request({ type: 'request', op: 'PING', epoch: 0 });
    const outstanding = [ping(), ping(), ping()].map((p) => p.catch((e: unknown) => e));
    await expect(ping()).rejects.toMatchObject({ code: 'ERR_OVERLOADED' });
    await until(() => fake.received === 1, 'the first request to reach the server');
    expect(c.inFlight).toBe(1);
    expect(c.queued).toBe(2);
    await c.close();
    for (const e of await Promise.all(outstanding)) expect(e).toMatchObject({ code: 'ERR_CLOSED', message: expect.stringMatching(/closed/) });
    await expect(ping()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(c.state).toBe('closed');
  });

  it('fails in-flight requests with ERR_UNAVAILABLE when the socket drops, then reconnects', async () => {
    const fake = await fakeServer('drop');
    const c = connect(fake.port);
    await expect(c.request({ type: 'request', op: 'PING', epoch: 0 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: expect.stringMatching(/lost/),
    });
    fake.mode = 'answer';
    await expect(c.call({ type: 'request', op: 'PING', epoch: 0 })).resolves.toMatchObject({ status: 'OK' });
    expect(c.connects).toBe(2);
    expect(fake.accepted).toBe(2);
  });

  it('opens no connection until the first call', async () => {
    const fake = await fakeServer('answer');
    const c = connect(fake.port);
    expect(c.state).toBe('idle');
    await expect(c.call({ type: 'request', op: 'PING', epoch: 0 })).resolves.toMatchObject({ status: 'OK' });
    expect(fake.accepted).toBe(1);
    expect(c.state).toBe('open');
  });

  it('fails fast when the connection is refused: ERR_UNAVAILABLE with the refusal as its cause, not a timeout', async () => {
    // An address that refuses connections and that no other test file can listen on.
    const gone = await refusedAddress();
    after.push(() => gone.close());
    const c = connect(gone.port, { host: gone.host, timeoutMs: 60_000, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
    const err = (await c.request({ type: 'request', op: 'TAIL', epoch: 4 }).catch((e: unknown) => e)) as { code: string; cause: { code: string } };
    expect(err).toMatchObject({ code: 'ERR_UNAVAILABLE', message: expect.stringMatching(/ECONNREFUSED/) });
    expect(err.cause.code).toBe('ECONNREFUSED');
    // During the backoff after a refusal, calls fail at once the same way, without dialling.
    expect(c.state).toBe('backoff');
    await expect(c.request({ type: 'request', op: 'PING', epoch: 0 })).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', cause: { code: 'ECONNREFUSED' } });
  });

  it('dials again after the backoff and serves a server that came up meanwhile', async () => {
    // Down: refused, and no other test file can take the port; then this test listens there.
    const down = await refusedAddress();
    after.push(() => down.close());
    const c = connect(down.port, { host: down.host, reconnectMinMs: 20, reconnectMaxMs: 20 });
    await expect(c.request({ type: 'request', op: 'TAIL', epoch: 4 })).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
    const fake = await fakeServer('answer', down.port, down.host);
    await until(() => c.state === 'idle', 'the backoff to end');
    await expect(c.call({ type: 'request', op: 'TAIL', epoch: 4 })).resolves.toMatchObject({ op: 'TAIL', tail: 40 });
    expect(fake.accepted).toBe(1);
  });

  it('drops the socket on a frame that is not a response (protocol error)', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write(Buffer.from([1, 0, 0, 0, 0])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    const c = connect(typeof a === 'object' && a !== null ? a.port : 0);
    await expect(c.request({ type: 'request', op: 'PING', epoch: 0 })).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
      message: expect.stringMatching(/protocol error/),
    });
    await c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
