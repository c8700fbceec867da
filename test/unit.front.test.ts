// A storage unit's native front (native/engine/src/front, unit_front.rs, src/unit/front.ts):
// the addon reads the sockets, runs a turn's WRITEs as one round on its own thread (or the
// store's I/O thread when that one is busy), reads a lone READ there too (others go to the
// read service), sends the answers back, and hands every other frame to the TypeScript
// handler. The unit's other suites (the CLI's, the hostile peers', the admin's) run on it
// too, since it is the default; this file checks what a second path can break: the same
// bytes as the Node path for the same requests, an epoch change racing WRITEs from other
// connections and following one on the same connection, a malformed WRITE, the device let
// go when the front stops, and the counts the metrics read.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';
import { unitAdmin } from '../src/admin/unit.js';
import { ServerAuth } from '../src/transport/auth.js';
import type { UnitEngine } from '../src/unit/handler.js';
import { UnitServer, type FrontKind, type UnitServerOptions } from '../src/unit/server.js';
import { storeEngine } from '../src/unit/store-engine.js';
import { decodeFrame, encodeRequest } from '../src/wire/codec.js';
import type { ReadResponse, Request, Response, TailResponse, WriteResponse } from '../src/wire/messages.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const MAX_ENTRY = 1024;
const dir = mkdtempSync(join(tmpdir(), 'corfu-unit-front-'));
let devices = 0;
const open: Array<{ server: UnitServer; store: Store }> = [];

async function unit(front: FrontKind, options: Partial<UnitServerOptions> = {}): Promise<{ server: UnitServer; store: Store; engine: UnitEngine }> {
  const path = join(dir, `unit-${devices++}.img`);
  writeFileSync(path, '');
  truncateSync(path, 32 * 1024 * 1024);
  Store.format(path, { maxEntryBytes: MAX_ENTRY });
  // The superblock before the open, which locks the device.
  const identity = Store.identity(path);
  const store = Store.open(path, { sync: 'none' });
  const engine = storeEngine(store, identity);
  const server = await UnitServer.listen(engine, { port: 0, front, ...options });
  open.push({ server, store });
  return { server, store, engine };
}

afterEach(async () => {
  for (const { server, store } of open.splice(0)) {
    await server.shutdown(1_000);
    await store.close();
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A raw connection: sends bytes, keeps every answer frame's bytes by request id. */
class Raw {
  readonly frames = new Map<number, Buffer>();
  readonly closed: Promise<void>;
  isClosed = false;
  #buffered = Buffer.alloc(0);
  #waiting: { ids: readonly number[]; resolve: () => void } | undefined;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      while (this.#buffered.length >= 4) {
        const whole = this.#buffered.readUInt32LE(0) + 4;
        if (this.#buffered.length < whole) break;
        const frame = Buffer.from(this.#buffered.subarray(0, whole));
        this.#buffered = this.#buffered.subarray(whole);
        const id = frame.readUInt32LE(8);
        expect(this.frames.has(id), `request ${id} answered twice`).toBe(false);
        this.frames.set(id, frame);
      }
      this.#check();
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

  /** Writes `bytes` in pieces cut at `cuts` (offsets), a turn of the event loop apart. */
  async send(bytes: Buffer, cuts: readonly number[] = []): Promise<void> {
    let from = 0;
    for (const at of [...cuts, bytes.length]) {
      if (at <= from) continue;
      this.socket.write(bytes.subarray(from, at));
      from = at;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Resolves once every id in `ids` is answered (rejects if the connection closes first). */
  async answers(ids: readonly number[]): Promise<Buffer[]> {
    const done = (): boolean => ids.every((id) => this.frames.has(id));
    if (!done()) {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#waiting = { ids, resolve };
          this.#check();
        }),
        this.closed.then(() => {
          if (!done()) throw new Error(`closed with ${ids.filter((id) => !this.frames.has(id)).length} of ${ids.length} unanswered`);
        }),
      ]);
    }
    return ids.map((id) => this.frames.get(id)!);
  }

  answer(id: number): Response {
    const r = decodeFrame(this.frames.get(id)!);
    if (r.kind !== 'frame' || r.frame.type !== 'response') throw new Error(`answer ${id} does not decode`);
    return r.frame;
  }

  #check(): void {
    if (this.#waiting !== undefined && this.#waiting.ids.every((id) => this.frames.has(id))) {
      this.#waiting.resolve();
      this.#waiting = undefined;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A seeded generator, so a failing stream can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function payload(address: number, length: number, salt = 0): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (address * 31 + i * 7 + salt) & 0xff));
}

describe("a storage unit's native front", () => {
  it('is what a unit over a Store gets; TLS, authentication, an engine without a Store or front: node get Node sockets', async () => {
    expect((await unit('native')).server.front).toBe('native');
    expect((await unit('node')).server.front).toBe('node');
    const auth = new ServerAuth({ adminToken: 'a'.repeat(32) });
    expect((await unit('native', { auth })).server.front).toBe('node');
    const { engine } = await unit('node');
    const { store: _store, ...withoutStore } = engine;
    const bare = await UnitServer.listen(withoutStore, { port: 0 });
    try {
      expect(bare.front).toBe('node');
    } finally {
      await bare.shutdown(1_000);
    }
  });

  it('answers a random stream of WRITEs (good, at an old epoch, over written addresses, too large, at 2^53-1), FILLs, READs, TAILs, PINGs and SEALs, cut anywhere, byte for byte as the Node path', async () => {
    const native = await unit('native');
    const node = await unit('node');
    const peers = [await Raw.open(native.server.address().port), await Raw.open(node.server.address().port)];
    const random = prng(0x5eed);
    const int = (n: number): number => Math.floor(random() * n);
    let epoch = 0;
    let id = 1;
    let fresh = 0;
    const written: number[] = [];
    for (let round = 0; round < 40; round++) {
      const requests: Request[] = [];
      const touched = new Set<number>();
      // One address per request at most within a round, so that the order two paths
      // finish a round's requests in cannot change what they answer.
      const old = (): number | undefined => {
        const a = written[int(written.length)];
        if (a === undefined || touched.has(a)) return undefined;
        touched.add(a);
        return a;
      };
      if (round % 9 === 8) {
        epoch++;
        requests.push({ type: 'request', op: 'SEAL', requestId: id++, epoch: epoch - 1, newEpoch: epoch });
      } else {
        for (let k = 1 + int(12); k > 0; k--) {
          const kind = int(10);
          if (kind < 5) {
            const n = 1 + int(4);
            const entries = Array.from({ length: n }, () => {
              const a = fresh++;
              touched.add(a);
              const tooLarge = int(20) === 0;
              return { address: a, payload: payload(a, tooLarge ? MAX_ENTRY + 1 : int(300)) };
            });
            const stale = epoch > 0 && int(8) === 0;
            requests.push({ type: 'request', op: 'WRITE', requestId: id++, epoch: stale ? epoch - 1 : epoch, entries });
            for (const e of entries) if (e.payload.length <= MAX_ENTRY) written.push(e.address);
          } else if (kind === 5) {
            const a = old();
            if (a !== undefined) requests.push({ type: 'request', op: 'WRITE', requestId: id++, epoch, entries: [{ address: a, payload: payload(a, 10, int(2)) }] });
          } else if (kind === 6) {
            const a = old();
            if (a !== undefined) requests.push({ type: 'request', op: 'READ', requestId: id++, epoch, addresses: [a] });
          } else if (kind === 7) {
            const a = fresh++;
            touched.add(a);
            requests.push({ type: 'request', op: 'FILL', requestId: id++, epoch, addresses: [a] });
          } else if (kind === 8) {
            requests.push({ type: 'request', op: int(2) === 0 ? 'PING' : 'TAIL', requestId: id++, epoch });
          } else {
            // Refused by the unit as a whole (ERR_BAD_REQUEST): the front leaves it to the handler.
            requests.push({ type: 'request', op: 'WRITE', requestId: id++, epoch, entries: [{ address: 2 ** 53 - 1, payload: payload(1, 3) }] });
          }
        }
      }
      if (requests.some((r) => r.op === 'TAIL')) {
        // TAIL reads the unit's tail, which the round's WRITEs move: alone in its round.
        requests.splice(0, requests.length, ...requests.filter((r) => r.op === 'TAIL').slice(0, 1));
      }
      const bytes = Buffer.concat(requests.map((r) => encodeRequest(r)));
      const cuts = Array.from({ length: int(4) }, () => int(bytes.length)).sort((a, b) => a - b);
      const ids = requests.map((r) => r.requestId);
      const [a, b] = await Promise.all(
        peers.map(async (p) => {
          await p.send(bytes, cuts);
          return p.answers(ids);
        }),
      );
      for (let i = 0; i < ids.length; i++)
        expect(a![i]!.equals(b![i]!), `round ${round}: ${requests[i]!.op} ${ids[i]} answered differently:\n${a![i]!.toString('hex')}\n${b![i]!.toString('hex')}`).toBe(true);
    }
    // The stream exercised what it says it did.
    const statuses = [...peers[0]!.frames.keys()].map((k) => peers[0]!.answer(k));
    const writes = statuses.filter((r) => r.op === 'WRITE');
    expect(writes.some((r) => r.status === 'OK' && (r as WriteResponse).statuses.every((s) => s === 0))).toBe(true);
    expect(writes.some((r) => r.status === 'ERR_SEALED')).toBe(true);
    expect(writes.some((r) => r.status === 'ERR_BAD_REQUEST')).toBe(true);
    expect(writes.some((r) => r.status === 'OK' && (r as WriteResponse).statuses.includes(1))).toBe(true);
    expect(writes.some((r) => r.status === 'OK' && (r as WriteResponse).statuses.includes(5))).toBe(true);
    expect(statuses.some((r) => r.op === 'READ' && r.status === 'OK' && r.statuses[0] === 0)).toBe(true);
    // Both paths ran: the front took WRITEs itself and handed the rest over.
    expect(native.server.frontAnswers()!.write.requests).toBeGreaterThan(0);
    expect(native.server.frontAnswers()!.read.requests).toBeGreaterThan(0);
    for (const p of peers) p.destroy();
  });

  it('a SEAL racing pipelined WRITEs on three other connections: none is answered OK at or past the tail the SEAL reports, each OK one reads back, every one is answered, and none after the SEAL is answered OK', async () => {
    const { server } = await unit('native');
    const port = server.address().port;
    const writers = await Promise.all([0, 1, 2].map(() => Raw.open(port)));
    const sealer = await Raw.open(port);
    const PER_WRITER = 900;
    const write = (k: number, i: number): Buffer => {
      const address = i * 3 + k;
      return encodeRequest({ type: 'request', op: 'WRITE', requestId: i + 1, epoch: 0, entries: [{ address, payload: payload(address, 64) }] });
    };
    const ids = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i + 1);
    // A third before the SEAL (answered first), a third racing it, a third after its answer.
    const third = PER_WRITER / 3;
    await Promise.all(writers.map((w, k) => w.send(Buffer.concat(ids(0, third).map((id) => write(k, id - 1)))).then(() => w.answers(ids(0, third)))));
    sealer.socket.write(encodeRequest({ type: 'request', op: 'SEAL', requestId: 1, epoch: 0, newEpoch: 1 }));
    for (const [k, w] of writers.entries()) w.socket.write(Buffer.concat(ids(third, 2 * third).map((id) => write(k, id - 1))));
    await sealer.answers([1]);
    const seal = sealer.answer(1);
    expect(seal).toMatchObject({ op: 'SEAL', status: 'OK' });
    const tail = (seal as Response & { tail: number }).tail;
    for (const [k, w] of writers.entries()) w.socket.write(Buffer.concat(ids(2 * third, PER_WRITER).map((id) => write(k, id - 1))));
    const okAddresses: number[] = [];
    for (const [k, w] of writers.entries()) {
      await w.answers(ids(0, PER_WRITER));
      for (const id of ids(0, PER_WRITER)) {
        const r = w.answer(id);
        const address = (id - 1) * 3 + k;
        if (id <= third) expect(r.status).toBe('OK');
        if (id > 2 * third) expect(r.status).toBe('ERR_SEALED');
        if (r.status === 'OK') {
          expect([...(r as WriteResponse).statuses]).toEqual([0]);
          expect(address).toBeLessThan(tail);
          okAddresses.push(address);
        } else expect(r.status).toBe('ERR_SEALED');
      }
    }
    const reader = await Raw.open(port);
    await reader.send(Buffer.concat(okAddresses.map((a, i) => encodeRequest({ type: 'request', op: 'READ', requestId: i + 1, epoch: 1, addresses: [a] }))));
    await reader.answers(okAddresses.map((_, i) => i + 1));
    okAddresses.forEach((a, i) => {
      const r = reader.answer(i + 1) as ReadResponse;
      expect(r.status).toBe('OK');
      expect(Buffer.from(r.payloads[0]!).equals(payload(a, 64))).toBe(true);
    });
    for (const p of [...writers, sealer, reader]) p.destroy();
  });

  it('closes a connection that sends a malformed WRITE (lengths that do not add up), sending nothing after it and executing nothing after it', async () => {
    for (const front of ['native', 'node'] as const) {
      const { server } = await unit(front);
      const port = server.address().port;
      const p = await Raw.open(port);
      const good = (requestId: number, address: number): Buffer => encodeRequest({ type: 'request', op: 'WRITE', requestId, epoch: 0, entries: [{ address, payload: payload(address, 8) }] });
      const bad = good(2, 1);
      bad.writeUInt32LE(9, 20 + 4 + 8); // the entry claims 9 of the 8 bytes that follow
      await p.send(Buffer.concat([good(1, 0), bad, good(3, 2)]));
      await p.closed;
      // What came before was started, as on any protocol error; its answer may be dropped with the connection.
      expect(
        [...p.frames.keys()].every((id) => id === 1),
        front,
      ).toBe(true);
      // The first WRITE was started before the bad frame came, so it lands (a read sees it
      // once its round is durable); the third, after it, never does.
      const q = await Raw.open(port);
      let statuses: number[] = [];
      for (let i = 1; i <= 200 && statuses[0] !== 0; i++) {
        await q.send(encodeRequest({ type: 'request', op: 'READ', requestId: i, epoch: 0, addresses: [0, 1, 2] }));
        await q.answers([i]);
        statuses = [...(q.answer(i) as ReadResponse).statuses];
        if (statuses[0] !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(statuses, front).toEqual([0, 2, 2]);
      q.destroy();
    }
  });

  it('runs a WRITE before the SEAL sent after it on the same connection, as the Node path does: the WRITE is OK and below the tail the SEAL answers', async () => {
    const { server } = await unit('native');
    const p = await Raw.open(server.address().port);
    for (let epoch = 0; epoch < 40; epoch++) {
      const [w, s] = [2 * epoch + 1, 2 * epoch + 2];
      await p.send(
        Buffer.concat([
          encodeRequest({ type: 'request', op: 'WRITE', requestId: w, epoch, entries: [{ address: epoch, payload: payload(epoch, 32) }] }),
          encodeRequest({ type: 'request', op: 'SEAL', requestId: s, epoch, newEpoch: epoch + 1 }),
        ]),
      );
      await p.answers([w, s]);
      const write = p.answer(w) as WriteResponse;
      expect(write.status, `epoch ${epoch}`).toBe('OK');
      expect(write.statuses[0]).toBe(0);
      const seal = p.answer(s) as TailResponse;
      expect(seal.status).toBe('OK');
      expect(seal.tail).toBeGreaterThan(epoch);
    }
    p.destroy();
  });

  it('lets go of the device when it stops: the store, closed right after, opens again at once with what was written and read through the front', async () => {
    const path = join(dir, `unit-${devices++}.img`);
    writeFileSync(path, '');
    truncateSync(path, 32 * 1024 * 1024);
    Store.format(path, { maxEntryBytes: MAX_ENTRY });
    for (let round = 0; round < 5; round++) {
      // The superblock before the open, which locks the device.
      const identity = Store.identity(path);
      const store = Store.open(path, { sync: 'always' });
      const server = await UnitServer.listen(storeEngine(store, identity), { port: 0, front: 'native' });
      const p = await Raw.open(server.address().port);
      // One at a time: the WRITE runs on the front's thread, the READ is read there too.
      await p.send(encodeRequest({ type: 'request', op: 'WRITE', requestId: 1, epoch: 0, entries: [{ address: round, payload: payload(round, 16) }] }));
      await p.answers([1]);
      expect((p.answer(1) as WriteResponse).statuses[0]).toBe(0);
      await p.send(encodeRequest({ type: 'request', op: 'READ', requestId: 2, epoch: 0, addresses: [round] }));
      await p.answers([2]);
      expect(Buffer.from((p.answer(2) as ReadResponse).payloads[0]!)).toEqual(payload(round, 16));
      p.destroy();
      await server.shutdown(1_000);
      await store.close();
    }
    const store = Store.open(path, { sync: 'none' });
    const read = await store.read(0, [0, 1, 2, 3, 4]);
    expect(read.map((r) => Buffer.from(r.payload!))).toEqual([0, 1, 2, 3, 4].map((a) => payload(a, 16)));
    await store.close();
  });

  it("counts the WRITEs and READs it answers into the unit's metrics: requests, entries, bytes, errors and the latency histograms", async () => {
    const sources: { server?: UnitServer } = {};
    const admin = unitAdmin({ info: () => undefined, listening: () => sources.server?.address(), connections: () => 0, frontAnswers: () => sources.server?.frontAnswers() });
    const { server } = await unit('native', { observer: admin.observer });
    sources.server = server;
    const p = await Raw.open(server.address().port);
    const requests: Request[] = [
      {
        type: 'request',
        op: 'WRITE',
        requestId: 1,
        epoch: 0,
        entries: [
          { address: 0, payload: payload(0, 100) },
          { address: 1, payload: payload(1, 50) },
        ],
      },
      { type: 'request', op: 'SEAL', requestId: 2, epoch: 0, newEpoch: 1 },
    ];
    await p.send(Buffer.concat(requests.map((r) => encodeRequest(r))));
    await p.answers([1, 2]);
    const after: Request[] = [
      { type: 'request', op: 'WRITE', requestId: 3, epoch: 0, entries: [{ address: 2, payload: payload(2, 10) }] },
      {
        type: 'request',
        op: 'WRITE',
        requestId: 4,
        epoch: 1,
        entries: [
          { address: 0, payload: payload(0, 100) },
          { address: 3, payload: payload(3, 7) },
        ],
      },
      { type: 'request', op: 'READ', requestId: 5, epoch: 1, addresses: [0] },
    ];
    await p.send(Buffer.concat(after.map((r) => encodeRequest(r))));
    await p.answers([3, 4, 5]);
    expect(p.answer(3).status).toBe('ERR_SEALED');
    const text = await admin.registry.metrics();
    const value = (series: string): number =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.slice(series.length + 1),
      );
    expect(value('corfu_unit_requests_total{op="WRITE"}')).toBe(3);
    expect(value('corfu_unit_requests_total{op="READ"}')).toBe(1);
    expect(value('corfu_unit_request_errors_total{op="WRITE",code="ERR_SEALED"}')).toBe(1);
    expect(value('corfu_unit_entry_errors_total{op="WRITE",code="ERR_WRITTEN"}')).toBe(1);
    expect(value('corfu_unit_write_entries_total')).toBe(4);
    expect(value('corfu_unit_write_bytes_total')).toBe(257);
    expect(value('corfu_unit_write_latency_seconds_count')).toBe(2);
    expect(value('corfu_unit_write_latency_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(value('corfu_unit_write_latency_seconds_sum')).toBeGreaterThan(0);
    expect(value('corfu_unit_read_entries_total')).toBe(1);
    expect(value('corfu_unit_read_bytes_total')).toBe(100);
    expect(value('corfu_unit_read_latency_seconds_count')).toBe(1);
    // A second scrape adds nothing new.
    expect(Number(/^corfu_unit_requests_total\{op="WRITE"\} (\S+)$/m.exec(await admin.registry.metrics())?.[1])).toBe(3);
    p.destroy();
  });

  it('refuses a bad --front as a usage error (exit 2), naming the two loops', () => {
    const r = spawnSync(process.execPath, [CLI, 'unit', '--device', '/nonexistent', '--front', 'uring'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("expected 'native' or 'node'");
  });
});
