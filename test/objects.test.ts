// The object layer on a real cluster (docs/objects.md): two `corfu unit` processes in one
// chain and a `corfu sequencer`, files as devices. Several CorfuRuntimes, each with its
// own client, play the same streams: maps, counters and a custom object, transactions
// across them decided the same way by every runtime, and the KV store.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuRuntime, type Codec, type RuntimeOptions } from '../src/objects/index.js';
import type { Transaction } from '../src/objects/index.js';
import { startCluster } from './helpers/cluster.js';
import { ownLoopback } from './helpers/ports.js';
import { Servers } from './helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-objects-'));
let LAYOUT = '';
const HOST = ownLoopback();
const servers = new Servers();
const runtimes: CorfuRuntime[] = [];

async function runtime(options: Partial<RuntimeOptions> = {}): Promise<CorfuRuntime> {
  const rt = await CorfuRuntime.connect({ layout: LAYOUT, shareConnections: false, ...options });
  runtimes.push(rt);
  return rt;
}

/** A promise and its resolve, to interleave two transactions by hand. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

beforeAll(async () => {
  LAYOUT = (await startCluster(servers, dir, { name: 'objects', chains: 1, replicas: 2, host: HOST })).layout;
}, 60_000);

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.close()));
  servers.killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('replicated objects', () => {
  it('a map written by one runtime is read by another at once (linearizable), from memory when stale, and as it was at an address', async () => {
    const [a, b] = [await runtime(), await runtime()];
    const ma = a.map<{ n: number }>('m1');
    const mb = b.map<{ n: number }>('m1');
    const first = await ma.put('x', { n: 1 });
    expect(await mb.get('x')).toEqual({ n: 1 });
    await ma.put('y', { n: 2 });
    await ma.delete('x');
    // Stale: b has not replayed the last two updates yet.
    expect(await mb.get('x', { stale: true })).toEqual({ n: 1 });
    expect(await mb.entries()).toEqual([['y', { n: 2 }]]);
    expect(await mb.has('x')).toBe(false);
    expect(await mb.size()).toBe(1);
    // In the past: at the first put's address.
    expect(await mb.get('x', { at: first })).toEqual({ n: 1 });
    expect(await mb.get('y', { at: first })).toBeUndefined();
    expect(await mb.get('x', { at: -1 })).toBeUndefined();
  });

  it('views are incremental: a second read replays only the entries appended since', async () => {
    const [a, b] = [await runtime(), await runtime()];
    const m = a.map<number>('m2');
    for (let i = 0; i < 20; i++) await m.put(`k${i}`, i);
    expect(await b.map<number>('m2').size()).toBe(20);
    const replayed = b.stats.replayed;
    await m.put('k20', 20);
    await m.put('k21', 21);
    expect(await b.map<number>('m2').get('k21')).toBe(21);
    expect(b.stats.replayed - replayed).toBe(2);
  });

  it("a counter, and an object of the caller's own type with its own codec", async () => {
    const [a, b] = [await runtime(), await runtime()];
    const c = a.counter('hits');
    await Promise.all([c.add(5), c.add(-2), c.add(10)]);
    expect(await b.counter('hits').get()).toBe(13);

    // A bounded log of strings, its updates in a codec of our own (not JSON).
    const codec: Codec<string> = { encode: (s) => Buffer.from(`!${s}`), decode: (b) => Buffer.from(b).toString().slice(1) };
    const def = { kind: 'last-three', initial: (): string[] => [], apply: (s: string[], u: string): string[] => [...s, u].slice(-3), codec };
    const la = a.object('recent', def);
    for (const w of ['a', 'b', 'c', 'd']) await la.apply(w);
    expect(await b.object('recent', def).get()).toEqual(['b', 'c', 'd']);
    expect(() => b.counter('recent')).toThrow(expect.objectContaining({ code: 'ERR_BAD_REQUEST', message: 'object recent is a last-three in this runtime; it cannot be opened as a counter' }));
  });

  it('keeps a bounded number of snapshots; a read older than them is replayed again, with the same answer', async () => {
    const [a, b] = [await runtime(), await runtime({ retainSnapshots: 3 })];
    const m = a.map<number>('m3');
    const addresses: number[] = [];
    for (let i = 0; i < 10; i++) addresses.push(await m.put('v', i));
    const mb = b.map<number>('m3');
    expect(await mb.get('v')).toBe(9);
    expect(await mb.get('v', { at: addresses[8]! })).toBe(8);
    expect(b.stats.rebuilds).toBe(0);
    expect(await mb.get('v', { at: addresses[2]! })).toBe(2);
    expect(b.stats.rebuilds).toBe(1);
  });
});

describe('transactions', () => {
  it('a transfer between two keys commits atomically; a read-only transaction appends nothing', async () => {
    const rt = await runtime();
    const acct = rt.map<number>('bank1');
    await acct.putAll({ alice: 100, bob: 0 });
    const result = await rt.transaction(async (tx) => {
      const a = (await tx.get(acct, 'alice'))!;
      tx.put(acct, 'alice', a - 30);
      tx.put(acct, 'bob', (await tx.get(acct, 'bob'))! + 30);
      expect(await tx.get(acct, 'alice')).toBe(70); // its own write
      return 'moved';
    });
    expect(result).toBe('moved');
    expect(await (await runtime()).map<number>('bank1').entries()).toEqual([
      ['alice', 70],
      ['bob', 30],
    ]);
    const tail = await rt.client.tail();
    const total = await rt.transaction(async (tx) => ((await tx.get(acct, 'alice')) ?? 0) + ((await tx.get(acct, 'bob')) ?? 0));
    expect(total).toBe(100);
    expect(await rt.client.tail()).toBe(tail);
  });

  it('of two transactions that read the same key and write, the second to commit aborts with ERR_CONFLICT, and every runtime agrees', async () => {
    const [a, b] = [await runtime(), await runtime()];
    const ma = a.map<number>('race');
    await ma.put('k', 1);
    const read = gate();
    const go = gate();
    const slow = b.transaction(async (tx) => {
      const v = (await tx.get(b.map<number>('race'), 'k'))!;
      read.open();
      await go.wait;
      tx.put(b.map<number>('race'), 'k', v + 100);
    });
    await read.wait;
    await a.transaction(async (tx) => tx.put(ma, 'k', ((await tx.get(ma, 'k')) ?? 0) + 1));
    go.open();
    await expect(slow).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
      message: expect.stringMatching(/^transaction aborted: it read key "k" of race at version \d+, and the write at \d+ committed before it/),
    });
    // A third runtime replays both commit records and reaches the same outcomes.
    const c = await runtime();
    expect(await c.map<number>('race').get('k')).toBe(2);
    expect(c.stats).toMatchObject({ committed: 1, aborted: 1 });
  });

  it('a write-only transaction always commits, whatever was written meanwhile', async () => {
    const [a, b] = [await runtime(), await runtime()];
    const m = a.map<string>('blind');
    const inside = gate();
    const go = gate();
    const blind = b.transaction(async (tx) => {
      inside.open();
      await go.wait;
      tx.put(b.map<string>('blind'), 'k', 'blind write');
    });
    await inside.wait;
    await m.put('k', 'plain write');
    go.open();
    await blind;
    expect(await m.get('k')).toBe('blind write');
  });

  it('retries a conflicting body until it commits, and spans maps and counters atomically', async () => {
    const rt = await runtime();
    const others = await runtime();
    const stock = rt.map<number>('stock');
    const sold = rt.counter('sold');
    await stock.put('apples', 10);
    let attempts = 0;
    await rt.transaction(
      async (tx) => {
        attempts++;
        const n = (await tx.get(stock, 'apples'))!;
        // The first attempt is overtaken by another client's write.
        if (attempts === 1) await others.map<number>('stock').put('apples', n + 5);
        tx.put(stock, 'apples', n - 1);
        tx.add(sold, 1);
      },
      { retries: 2 },
    );
    expect(attempts).toBe(2);
    expect(await stock.get('apples')).toBe(14);
    expect(await sold.get()).toBe(1);
  });

  it('reading a whole map conflicts with any write to it; reading one key does not conflict with a write to another', async () => {
    const [a, b] = [await runtime(), await runtime()];
    const m = a.map<number>('scope');
    await m.putAll({ x: 1, y: 1 });
    const attempt = async (read: (tx: Transaction) => Promise<unknown>, otherKey: string): Promise<string> => {
      const inside = gate();
      const go = gate();
      const p = b.transaction(async (tx) => {
        await read(tx);
        inside.open();
        await go.wait;
        tx.put(b.map<number>('scope'), 'z', 1);
      });
      await inside.wait;
      await m.put(otherKey, 2);
      go.open();
      return p.then(
        () => 'committed',
        (err: { code: string }) => err.code,
      );
    };
    expect(await attempt((tx) => tx.get(b.map<number>('scope'), 'x'), 'y')).toBe('committed');
    expect(await attempt((tx) => tx.size(b.map<number>('scope')), 'y')).toBe('ERR_CONFLICT');
  });

  it("refuses another runtime's objects and a handle used after its transaction ended", async () => {
    const [a, b] = [await runtime(), await runtime()];
    let kept: Transaction | undefined;
    await expect(a.transaction(async (tx) => tx.get(b.map('foreign'), 'k'))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'a transaction takes objects of its own runtime' });
    await a.transaction(async (tx) => {
      kept = tx;
    });
    expect(() => kept!.put(a.map('late'), 'k', 1)).toThrow(expect.objectContaining({ code: 'ERR_BAD_REQUEST' }));
  });
});

describe('the KV store', () => {
  it('multiPut is all or none and visible together: a concurrent multiGet never sees half of one', async () => {
    const [w, r] = [await runtime(), await runtime()];
    const kv = w.kv<number>('kv1');
    const reader = r.kv<number>('kv1');
    const keys = ['a', 'b', 'c', 'd'];
    const seen = new Set<string>();
    const check = (values: Array<number | undefined>): void => {
      seen.add(JSON.stringify(values));
      expect(new Set(values).size).toBe(1); // one multiPut's value everywhere, or none yet
    };
    const written: number[] = [];
    // Each multiPut races two multiGets: one started with it, one just after.
    for (let i = 0; i < 25; i++) {
      const [address] = await Promise.all([
        kv.multiPut(Object.fromEntries(keys.map((k) => [k, i]))),
        reader.multiGet(keys).then(check),
        Promise.resolve().then(async () => check(await reader.multiGet(keys))),
      ]);
      written.push(address);
    }
    expect(seen.size).toBeGreaterThan(1);
    expect(await reader.getAt('c', written[7]!)).toBe(7);
    await kv.delete('a');
    expect(await reader.multiGet(['a', 'b'])).toEqual([undefined, 24]);
    expect(await reader.get('b')).toBe(24);
  });
});

describe('concurrency in one runtime', () => {
  it('many transactions at once in one runtime on the same keys all finish (none waits on another forever)', async () => {
    const rt = await runtime();
    const m = rt.map<number>('busy');
    await m.putAll({ a: 0, b: 0 });
    let conflicts = 0;
    const one = async (i: number): Promise<void> => {
      for (let n = 0; n < 6; n++) {
        try {
          await rt.transaction(async (tx) => {
            const key = (i + n) % 2 === 0 ? 'a' : 'b';
            tx.put(m, key, ((await tx.get(m, key)) ?? 0) + 1);
          });
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_CONFLICT') throw err;
          conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => one(i)));
    const total = ((await m.get('a')) ?? 0) + ((await m.get('b')) ?? 0);
    expect(total).toBe(48 - conflicts);
  }, 60_000);
});
