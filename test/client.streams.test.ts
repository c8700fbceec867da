// Streams on a real cluster (docs/streams.md): 4 `corfu unit` processes (2 chains of
// 2) and two `corfu sequencer`s (one standby), files as devices, on a loopback address
// of this process's own. appendTo writes one entry into several streams; a stream
// reader finds its entries by backpointers, in O(k) unit reads, skips junk, stops at a
// trim with ERR_TRIMMED, and keeps working after the sequencer is killed and its
// stream tails are rebuilt from the log by the client.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient } from '../src/client/index.js';
import { streamId } from '../src/client/stream-entry.js';
import { StreamTrimmedError } from '../src/client/stream-reader.js';
import { reconfigure } from '../src/client/reconfigure-driver.js';
import { FileProjectionStore } from '../src/layout/index.js';
import { splitHostPort } from '../src/transport/address.js';
import { Connection } from '../src/transport/connection.js';
import { startCluster } from './helpers/cluster.js';
import { ownLoopback } from './helpers/ports.js';
import { Servers, type Server } from './helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-streams-'));
let LAYOUT = '';
let layoutDir = '';
const HOST = ownLoopback();
const servers = new Servers();
const clients: CorfuClient[] = [];
let sequencer: Server;
let standby: Server;
let spareSequencer: Server;

async function client(options: { holeTimeoutMs?: number } = {}): Promise<CorfuClient> {
  const c = await CorfuClient.connect({ layout: LAYOUT, shareConnections: false, holeTimeoutMs: options.holeTimeoutMs ?? 50 });
  clients.push(c);
  return c;
}

const text = (p: Uint8Array): string => Buffer.from(p).toString();

/** Every entry of the stream from the start, as text, through a fresh reader. */
async function readAll(c: CorfuClient, name: string): Promise<{ addresses: number[]; payloads: string[]; reads: number; scanned: number }> {
  const reader = c.stream(name);
  const addresses: number[] = [];
  const payloads: string[] = [];
  for (let e = await reader.readNext(); e !== undefined; e = await reader.readNext()) {
    addresses.push(e.address);
    payloads.push(text(e.payload));
  }
  return { addresses, payloads, ...reader.stats };
}

/** A STREAM_TOKEN taken by hand and never written: a writer that died holding it. */
async function abandonStreamToken(name: string, epoch: number): Promise<number> {
  const conn = new Connection({ ...splitHostPort(sequencer.address), timeoutMs: 2000 });
  try {
    const res = await conn.request({ type: 'request', op: 'STREAM_TOKEN', epoch, count: 1, streams: [streamId(name)] });
    if (res.status !== 'OK' || res.op !== 'STREAM_TOKEN') throw new Error(`STREAM_TOKEN: ${JSON.stringify(res)}`);
    return res.first;
  } finally {
    await conn.close();
  }
}

beforeAll(async () => {
  const c = await startCluster(servers, dir, { name: 'streams', chains: 2, replicas: 2, sequencers: 3, host: HOST });
  LAYOUT = c.layout;
  layoutDir = c.layoutDir;
  [sequencer, standby, spareSequencer] = c.sequencers as [Server, Server, Server];
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('streams on a real cluster', () => {
  it('an entry appended to several streams is one log entry, read back by each stream in log order among plain entries', async () => {
    const c = await client();
    const expected = new Map<string, Array<[number, string]>>([
      ['orders', []],
      ['payments', []],
    ]);
    for (let i = 0; i < 30; i++) {
      await c.append(Buffer.from(`plain ${i}`));
      const streams = i % 3 === 0 ? ['orders', 'payments'] : i % 3 === 1 ? ['orders'] : ['payments'];
      const body = `${streams.join('+')} ${i}`;
      const address = await c.appendTo(streams, Buffer.from(body));
      for (const s of streams) expected.get(s)!.push([address, body]);
    }
    for (const [name, entries] of expected) {
      const got = await readAll(await client(), name);
      expect(got.addresses).toEqual(entries.map(([a]) => a));
      expect(got.payloads).toEqual(entries.map(([, b]) => b));
    }
    // The shared entries carry both streams; a plain read sees the stream header first.
    const shared = expected.get('orders')![0]![0];
    const entry = await c.read(shared);
    expect(entry.kind === 'data' && text(entry.payload).startsWith('CORFUSE1')).toBe(true);
    const reader = c.stream('orders');
    expect([...(await reader.readNext())!.streams].sort()).toEqual([streamId('orders'), streamId('payments')].sort());
    expect(await reader.tail()).toBe(expected.get('orders')!.at(-1)![0]);
  });

  it('reads a stream of k entries in k unit READs, however long the log around it', async () => {
    const c = await client();
    const k = 40;
    const mine: number[] = [];
    for (let i = 0; i < k; i++) {
      await c.appendBatch(Array.from({ length: 50 }, (_, j) => Buffer.from(`noise ${i}.${j}`)));
      mine.push(await c.appendTo(['sparse'], Buffer.from(`sparse ${i}`)));
    }
    const reader = await client();
    const before = reader.stats.unitReads;
    const got = await readAll(reader, 'sparse');
    expect(got.addresses).toEqual(mine);
    // 2,000 plain entries around them were never read.
    expect(reader.stats.unitReads - before).toBe(k);
    expect(got).toMatchObject({ reads: k, scanned: 0 });
    // A second pass from a later position reads only what is new.
    const r = reader.stream('sparse');
    r.seek(mine[k - 5]!);
    expect((await r.readUpTo(mine[k - 1]!)).map((e) => e.address)).toEqual(mine.slice(k - 5));
    expect(r.stats.reads).toBe(5);
    const last = await c.appendTo(['sparse'], Buffer.from('one more'));
    expect((await r.readNext())!.address).toBe(last);
    expect(r.stats.reads).toBe(6);
    expect(await r.readNext()).toBeUndefined();
  });

  it('skips holes (a writer died holding a token), and scans past more of them in a row than the backpointers span', async () => {
    const c = await client();
    const epoch = c.epoch;
    const first = await c.appendTo(['gappy'], Buffer.from('before one hole'));
    await abandonStreamToken('gappy', epoch);
    const second = await c.appendTo(['gappy'], Buffer.from('after one hole'));
    // Five holes in a row: the next entry's four backpointers all point at holes.
    for (let i = 0; i < 5; i++) await abandonStreamToken('gappy', epoch);
    const third = await c.appendTo(['gappy'], Buffer.from('after five holes'));
    const got = await readAll(await client(), 'gappy');
    expect(got.addresses).toEqual([first, second, third]);
    expect(got.payloads).toEqual(['before one hole', 'after one hole', 'after five holes']);
    expect(got.scanned).toBeGreaterThan(0); // the walk was cut and the scan found `second` again
    expect(got.scanned).toBeLessThan(third - first + 256);
  });

  it('a trimmed entry of a stream stops the reader with ERR_TRIMMED, never a silent gap; seek past it to go on', async () => {
    const c = await client();
    const a = await c.appendTo(['trimmed-stream'], Buffer.from('a'));
    const b = await c.appendTo(['trimmed-stream'], Buffer.from('b'));
    const d = await c.appendTo(['trimmed-stream'], Buffer.from('c'));
    await c.trim(b);
    const reader = c.stream('trimmed-stream');
    expect(text((await reader.readNext())!.payload)).toBe('a');
    await expect(reader.readNext()).rejects.toMatchObject({
      code: 'ERR_TRIMMED',
      message: `stream trimmed-stream: its entry at ${b} was trimmed; load a checkpoint of what the stream holds, then seek past ${b} to go on`,
    });
    reader.seek(b + 1);
    expect((await reader.readNext())!.address).toBe(d);
    expect(a).toBeLessThan(b);
  });

  it('refuses bad stream names and an entry too large with its header, appending nothing', async () => {
    const c = await client();
    const tail = await c.tail();
    await expect(c.appendTo([], Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    await expect(c.appendTo([''], Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    await expect(c.appendTo(['s', 's'], Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'appendTo: a stream is named twice in ["s","s"]' });
    await expect(c.appendTo(['s'], 'x' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    const limit = c.maxEntryBytes!;
    await expect(c.appendTo(['s'], Buffer.alloc(limit - 10))).rejects.toMatchObject({ code: 'ERR_TOO_LARGE', message: expect.stringMatching(/plus a 59-byte stream header, above the log's maximum/) });
    expect(await c.tail()).toBe(tail);
    expect(() => c.stream('')).toThrow(expect.objectContaining({ code: 'ERR_BAD_REQUEST' }));
  });

  it('after the sequencer is killed (-9) mid-stream, the new one rebuilds the stream tails from the log and the stream stays whole', async () => {
    const c = await client();
    const before: number[] = [];
    for (let i = 0; i < 12; i++) before.push(await c.appendTo(['survivor', i % 2 === 0 ? 'even' : 'odd'], Buffer.from(`before ${i}`)));
    await servers.kill9(sequencer.proc);
    await reconfigure(new FileProjectionStore(layoutDir), [{ kind: 'move-sequencer', sequencer: standby.address }]);
    // The first stream request meets ERR_RECOVERING; the client seeds the tails and goes on.
    const after = await c.appendTo(['survivor'], Buffer.from('after'));
    expect(c.stats.streamRecoveryReads).toBeGreaterThanOrEqual(before.at(-1)!);
    const got = await readAll(await client(), 'survivor');
    expect(got.addresses).toEqual([...before, after]);
    // The new entry's backpointers reach the old ones: the walk needed no scan.
    expect(got.scanned).toBe(0);
    const even = await readAll(await client(), 'even');
    expect(even.payloads).toEqual(before.filter((_, i) => i % 2 === 0).map((_, j) => `before ${2 * j}`));
    // Streams written only before the failover are known too.
    expect(await c.stream('odd').tail()).toBe(before[11]);
  });

  it('a stream trimmed away before a failover is not a silent gap: a reader below the rebuilt floor gets ERR_TRIMMED', async () => {
    const c = await client();
    const doomed = [];
    for (let i = 0; i < 3; i++) doomed.push(await c.appendTo(['doomed'], Buffer.from(`doomed ${i}`)));
    const kept = await c.appendTo(['kept'], Buffer.from('kept'));
    // Everything below `kept` goes: the doomed stream has no entry left, and no tail will list one.
    await c.prefixTrim(kept);
    await servers.kill9(standby.proc);
    await reconfigure(new FileProjectionStore(layoutDir), [{ kind: 'move-sequencer', sequencer: spareSequencer.address }]);
    const reader = (await client()).stream('doomed');
    const err = await reader.readNext().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StreamTrimmedError);
    expect(err).toMatchObject({ code: 'ERR_TRIMMED', address: kept - 1, message: expect.stringMatching(/trimmed before the sequencer rebuilt its stream tails/) });
    reader.seek(kept);
    expect(await reader.readNext()).toBeUndefined();
    expect(doomed.every((a) => a < kept)).toBe(true);
    // A stream with a live entry above the floor reads it after the same notice.
    const keptReader = (await client()).stream('kept');
    await expect(keptReader.readNext()).rejects.toMatchObject({ code: 'ERR_TRIMMED', address: kept - 1 });
    keptReader.seek(kept);
    expect(text((await keptReader.readNext())!.payload)).toBe('kept');
  });
});
