// `corfu unit` as a real process on 127.0.0.1 with an ephemeral port, serving a
// real file formatted with the engine, driven through src/transport.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { Connection } from '../src/transport/connection.js';
import type { UnitEngine } from '../src/unit/handler.js';
import { UnitServer } from '../src/unit/server.js';
import type { ReadResponse, WriteResponse } from '../src/wire/index.js';
import { until } from './helpers/until.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const MAX_ENTRY = 4096;
const dir = mkdtempSync(join(tmpdir(), 'corfu-unit-'));
const children = new Set<ChildProcess>();
const connections: Connection[] = [];
let devices = 0;

function device(formatted = true): string {
  const path = join(dir, `unit-${devices++}.img`);
  writeFileSync(path, '');
  truncateSync(path, 16 * 1024 * 1024);
  if (formatted) Store.format(path, { maxEntryBytes: MAX_ENTRY });
  return path;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Unit {
  child: ChildProcess;
  port: number;
  exited: Promise<Exit>;
}

function run(args: string[]): { child: ChildProcess; exited: Promise<Exit>; output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function startUnit(path: string, port = 0): Promise<Unit> {
  const { child, exited, output } = run(['unit', '--device', path, '--listen', `127.0.0.1:${port}`, '--sync', 'always']);
  const listening = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const m = /^listening 127\.0\.0\.1:(\d+)$/m.exec(output().stdout);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on('data', check);
    void exited.then((e) => reject(new Error(`unit exited (${e.code}) before listening: ${e.stderr}`)));
  });
  return { child, port: listening, exited };
}

function connect(port: number): Connection {
  const c = new Connection({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  connections.push(c);
  return c;
}

function payload(i: number, bytes = 100): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i * 31 + j * 7) & 0xff;
  return b;
}

async function write(c: Connection, epoch: number, entries: Array<{ address: number; payload: Uint8Array }>): Promise<WriteResponse> {
  return (await c.call({ type: 'request', op: 'WRITE', epoch, entries })) as WriteResponse;
}

async function read(c: Connection, epoch: number, addresses: number[]): Promise<ReadResponse> {
  return (await c.call({ type: 'request', op: 'READ', epoch, addresses })) as ReadResponse;
}

/** A raw socket that sends `bytes` and reports whether the unit closed it without sending anything. */
async function sendRaw(port: number, bytes: Buffer): Promise<{ closed: boolean; received: number }> {
  const socket = new Socket();
  let received = 0;
  socket.on('data', (d: Buffer) => (received += d.length));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
  socket.write(bytes);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { closed, received };
}

/** A 20-byte header with an empty body (docs: length, version, opcode, flags, id, epoch). */
function rawHeader(opcode: number, version = 1): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(16, 0);
  b[4] = version;
  b[5] = opcode;
  b.writeUInt32LE(7, 8);
  return b;
}

afterAll(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('corfu unit', () => {
  let unit: Unit;
  let a: Connection;
  let b: Connection;
  const EPOCH = 1;

  beforeAll(async () => {
    unit = await startUnit(device());
    a = connect(unit.port);
    b = connect(unit.port);
    await expect(a.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: EPOCH })).resolves.toMatchObject({ op: 'SEAL', tail: 0 });
  });

  it('writes and reads back the exact bytes', async () => {
    const bytes = payload(1, 777);
    const w = await write(a, EPOCH, [{ address: 0, payload: bytes }]);
    expect([...w.statuses]).toEqual([0]);
    const r = await read(b, EPOCH, [0, 1]);
    expect([...r.statuses]).toEqual([0, 2]); // OK, ERR_UNWRITTEN
    expect(Buffer.from(r.payloads[0]!).equals(bytes)).toBe(true);
    expect(r.payloads[1]).toBeNull();
  });

  it('serves pipelined writes from two connections, each answered by id', async () => {
    const n = 300;
    const base = 100;
    const all = [];
    for (let i = 0; i < n; i++) {
      const conn = i % 2 === 0 ? a : b;
      all.push(write(conn, EPOCH, [{ address: base + i, payload: payload(base + i) }]));
    }
    const results = await Promise.all(all);
    expect(results.every((r) => r.statuses[0] === 0)).toBe(true);
    const addresses = Array.from({ length: n }, (_, i) => base + i);
    const r = await read(a, EPOCH, addresses);
    expect([...r.statuses].every((s) => s === 0)).toBe(true);
    r.payloads.forEach((p, i) => expect(Buffer.from(p!).equals(payload(base + i))).toBe(true));
    const tail = await a.call({ type: 'request', op: 'TAIL', epoch: EPOCH });
    expect(tail).toMatchObject({ tail: base + n });
  });

  it('refuses a rewrite with ERR_WRITTEN per entry, saying whether the bytes were the same', async () => {
    const w = await write(a, EPOCH, [
      { address: 0, payload: payload(1, 777) },
      { address: 0 + 1000, payload: payload(5) },
      { address: 100, payload: Buffer.from('other') },
    ]);
    expect([...w.statuses]).toEqual([1, 0, 1]); // ERR_WRITTEN, OK, ERR_WRITTEN
    expect([...w.written]).toEqual([1, 0, 2]); // same, n/a, different
  });

  it('refuses an oversized entry with ERR_TOO_LARGE for that entry only', async () => {
    const w = await write(a, EPOCH, [
      { address: 2000, payload: payload(9, MAX_ENTRY + 1) },
      { address: 2001, payload: payload(10, MAX_ENTRY) },
    ]);
    expect([...w.statuses]).toEqual([5, 0]);
    const r = await read(a, EPOCH, [2000, 2001]);
    expect([...r.statuses]).toEqual([2, 0]);
  });

  it('answers a wrong epoch with ERR_SEALED carrying the unit epoch', async () => {
    for (const epoch of [0, 5]) {
      await expect(read(a, epoch, [0])).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH });
    }
    await expect(a.request({ type: 'request', op: 'WRITE', epoch: 0, entries: [{ address: 3000, payload: payload(1) }] })).resolves.toMatchObject({
      status: 'ERR_SEALED',
      unitEpoch: EPOCH,
    });
  });

  it('closes a connection that sends a malformed frame, and only that one', async () => {
    const bad = Buffer.from([3, 0, 0, 0, 1, 2, 3]); // a length below the header size
    expect(await sendRaw(unit.port, bad)).toEqual({ closed: true, received: 0 });
    const withGarbage = Buffer.concat([rawHeader(9), Buffer.alloc(32, 0xff)]); // a PING, then garbage
    const r = await sendRaw(unit.port, withGarbage);
    expect(r.closed).toBe(true);
    expect(r.received).toBeLessThanOrEqual(21); // at most the PING's answer, nothing after the garbage
    const again = await read(a, EPOCH, [0]);
    expect(Buffer.from(again.payloads[0]!).equals(payload(1, 777))).toBe(true);
    expect(unit.child.exitCode).toBeNull();
  });

  it('closes a connection that sends an unknown opcode or a response frame', async () => {
    expect(await sendRaw(unit.port, rawHeader(0x30))).toEqual({ closed: true, received: 0 });
    expect(await sendRaw(unit.port, rawHeader(2, 9))).toEqual({ closed: true, received: 0 }); // unknown version
    const response = Buffer.concat([rawHeader(0x89), Buffer.from([0])]);
    response.writeUInt32LE(17, 0);
    expect(await sendRaw(unit.port, response)).toEqual({ closed: true, received: 0 });
    await expect(b.call({ type: 'request', op: 'PING', epoch: EPOCH })).resolves.toMatchObject({ status: 'OK' });
  });

  it('answers TOKEN with ERR_BAD_REQUEST (that is the sequencer)', async () => {
    await expect(a.call({ type: 'request', op: 'TOKEN', epoch: EPOCH, count: 1 })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
  });

  it('seals to a higher epoch, answering its tail; the old epoch is refused after', async () => {
    const seal = await a.call({ type: 'request', op: 'SEAL', epoch: EPOCH, newEpoch: EPOCH + 1 });
    expect(seal).toMatchObject({ op: 'SEAL', tail: 2002, epoch: EPOCH + 1 });
    await expect(write(b, EPOCH, [{ address: 4000, payload: payload(4) }])).rejects.toMatchObject({ code: 'ERR_SEALED', unitEpoch: EPOCH + 1 });
    const r = await read(b, EPOCH + 1, [0]);
    expect([...r.statuses]).toEqual([0]);
    await expect(a.call({ type: 'request', op: 'SEAL', epoch: EPOCH + 1, newEpoch: EPOCH })).rejects.toMatchObject({ code: 'ERR_SEALED' });
  });
});

describe('corfu unit: startup and shutdown', () => {
  it('refuses an unformatted device, naming corfu format (exit 1)', async () => {
    const { exited } = run(['unit', '--device', device(false), '--listen', '127.0.0.1:0']);
    const e = await exited;
    expect(e.code).toBe(1);
    expect(e.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(e.stderr).toMatch(/ERR_NOT_FORMATTED.*corfu format/);
  });

  it('refuses a port in use with one line (exit 1)', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const a = blocker.address();
    const port = typeof a === 'object' && a !== null ? a.port : 0;
    try {
      const { exited } = run(['unit', '--device', device(), '--listen', `127.0.0.1:${port}`]);
      const e = await exited;
      expect(e.code).toBe(1);
      expect(e.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(e.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*already in use`));
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('exits 0 on SIGTERM after answering what was in flight; the data is there after a restart', async () => {
    const path = device();
    const unit = await startUnit(path);
    const c = new Connection({ host: '127.0.0.1', port: unit.port, timeoutMs: 10_000, reconnectMinMs: 1000 });
    connections.push(c);
    await c.call({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: 3 });
    const n = 64;
    const writes = Array.from({ length: n }, (_, i) => c.request({ type: 'request', op: 'WRITE', epoch: 3, entries: [{ address: i, payload: payload(i, 200) }] }));
    await writes[0]; // the unit is busy with the rest when the signal lands
    unit.child.kill('SIGTERM');
    const results = await Promise.allSettled(writes);
    const exit = await unit.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    await c.close();
    const acked = results.flatMap((r, i) => (r.status === 'fulfilled' && r.value.status === 'OK' && (r.value as WriteResponse).statuses[0] === 0 ? [i] : []));
    expect(acked.length).toBeGreaterThan(0);

    const again = await startUnit(path);
    const d = connect(again.port);
    const r = await read(d, 3, acked);
    expect([...r.statuses].every((s) => s === 0)).toBe(true);
    r.payloads.forEach((p, k) => expect(Buffer.from(p!).equals(payload(acked[k]!, 200))).toBe(true));
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });
});

describe('UnitServer backpressure (in process, a fake engine)', () => {
  it('hands at most maxInFlightPerConnection requests of a connection to the engine, the rest wait in the socket', async () => {
    const waiting: Array<() => void> = [];
    // The engine counts what it holds: the bound is checked at every call, not at a moment picked by a sleep.
    let held = 0;
    let mostHeld = 0;
    const never = (): Promise<never> => Promise.reject(new Error('not used'));
    const engine: UnitEngine = {
      tail: () => {
        mostHeld = Math.max(mostHeld, ++held);
        return new Promise<number>((resolve) =>
          waiting.push(() => {
            held--;
            resolve(42);
          }),
        );
      },
      writePacked: never,
      fill: never,
      read: never,
      trim: never,
      prefixTrim: never,
      seal: never,
      info: never,
    };
    const server = await UnitServer.listen(engine, { port: 0, maxInFlightPerConnection: 4 });
    const c = connect(server.address().port);
    let answered = 0;
    const answers = Array.from({ length: 10 }, () => c.call({ type: 'request', op: 'TAIL', epoch: 1 }).then((r) => (answered++, r)));
    await until(() => waiting.length >= 4, 'the engine to hold 4 requests');
    // Release whatever the engine holds, round after round, until all 10 are answered.
    while (answered < 10) {
      waiting.splice(0).forEach((go) => go());
      await until(() => waiting.length > 0 || answered === 10, 'the next requests to reach the engine, or the last answers');
    }
    expect(await Promise.all(answers)).toHaveLength(10);
    expect(mostHeld).toBe(4);
    await c.close();
    await server.shutdown();
  });
});
