// The etcd projection store beyond the shared contract: racing proposers in
// separate processes, the key layout, a watch that survives an etcd restart
// and compactions, and the errors of an etcd that cannot be reached or does
// not answer. One real etcd for the file; each test has its own prefix.

import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/index.js';
import { EtcdProjectionStore } from '../src/layout/etcd-store.js';
import { openProjectionStore, type Projection, type ProjectionStore } from '../src/layout/index.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';
import { rejectsWith } from './helpers/expect-error.js';
import { refusedAddress, type RefusedAddress } from './helpers/ports.js';
import { projection } from './helpers/projection-store-suite.js';
import { startProposers } from './helpers/proposers.js';
import { until } from './helpers/until.js';

let etcd: EtcdServer;
let raw: Etcd3;
let refused: RefusedAddress;
const opened: ProjectionStore[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  refused = await refusedAddress();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  raw?.close();
  await refused?.close();
  await etcd?.close();
});

let prefixes = 0;
function freshPrefix(): string {
  return `corfu/etcd-${++prefixes}`;
}
async function open(url: string, options: { timeoutMs?: number } = {}): Promise<ProjectionStore> {
  const store = await openProjectionStore(url, options);
  opened.push(store);
  return store;
}

interface Watched {
  readonly epochs: number[];
  readonly errors: CorfuError[];
  readonly stop: () => void;
}
function watched(store: ProjectionStore): Watched {
  const epochs: number[] = [];
  const errors: CorfuError[] = [];
  const stop = store.watch(
    (p: Projection) => epochs.push(p.epoch),
    (err) => errors.push(err),
  );
  return { epochs, errors, stop };
}

/** The current etcd revision (a put elsewhere advances it). */
async function revision(): Promise<bigint> {
  const res = await raw.getAll().prefix('corfu/none/').limit(1).exec();
  return BigInt(res.header.revision);
}

describe('EtcdProjectionStore', () => {
  it('racing proposers in separate processes: exactly one accepted per epoch, all get the same winner', async () => {
    const url = etcd.url(freshPrefix());
    const proposers = await startProposers(url, 4);
    try {
      for (let epoch = 1; epoch <= 6; epoch++) {
        const results = await proposers.race(epoch);
        for (const r of results) expect(r.error).toBeUndefined();
        const accepted = results.filter((r) => r.accepted === true);
        expect(accepted).toHaveLength(1);
        for (const r of results) {
          expect(r.epoch).toBe(epoch);
          expect(r.winner).toEqual(accepted[0]!.winner);
        }
        expect(await (await open(url)).get(epoch)).toEqual(accepted[0]!.winner);
      }
    } finally {
      await proposers.close();
    }
  });

  it('keeps each epoch at PREFIX/epochs/<16 digits> as the canonical JSON of its projection', async () => {
    const prefix = freshPrefix();
    const store = await open(etcd.url(prefix));
    await store.propose(projection(1));
    await store.propose(projection(12));
    const keys = await raw.getAll().prefix(`${prefix}/`).keys();
    expect(keys).toEqual([`${prefix}/epochs/0000000000000001`, `${prefix}/epochs/0000000000000012`]);
    expect(JSON.parse((await raw.get(`${prefix}/epochs/0000000000000012`).string())!)).toEqual(projection(12));
  });

  it('a store works when one of its endpoints refuses connections', async () => {
    const prefix = freshPrefix();
    const store = await open(`etcd://${refused.address},${etcd.endpoint}/${prefix}`);
    const w = watched(store);
    for (let epoch = 1; epoch <= 5; epoch++) {
      expect((await store.propose(projection(epoch))).accepted).toBe(true);
      expect((await store.latest())!.epoch).toBe(epoch);
    }
    await until(() => w.epochs.includes(5), 'the watch to report epoch 5');
    expect(w.epochs.at(-1)).toBe(5);
    w.stop();
  });

  it('an unreachable etcd is ERR_UNAVAILABLE with the cause; the watch reports it and keeps trying', async () => {
    const store = await open(`etcd://${refused.address}/${freshPrefix()}`);
    for (const call of [store.latest(), store.get(1), store.propose(projection(1))]) {
      const err = await rejectsWith(call, 'ERR_UNAVAILABLE');
      expect(err.message).toContain(refused.address);
      expect(err.cause).toBeInstanceOf(Error);
    }
    const w = watched(store);
    await until(() => w.errors.length > 0, 'the watch to report the unreachable etcd');
    expect(w.errors[0]!.code).toBe('ERR_UNAVAILABLE');
    w.stop();
  });

  it('an etcd that stops answering: reads are ERR_UNAVAILABLE, a proposal ERR_TIMEOUT (outcome unknown); both recover', async () => {
    const url = etcd.url(freshPrefix());
    const store = await open(url, { timeoutMs: 300 });
    await store.propose(projection(1));
    await etcd.pause();
    try {
      await rejectsWith(store.latest(), 'ERR_UNAVAILABLE');
      const err = await rejectsWith(store.propose(projection(2)), 'ERR_TIMEOUT');
      expect(err.message).toMatch(/may have been stored/);
    } finally {
      etcd.resume();
    }
    // Whether or not the timed-out proposal landed, proposing it again settles it.
    const again = await store.propose(projection(2));
    expect(again.winner).toEqual(projection(2));
    expect((await store.latest())!.epoch).toBe(2);
  });

  it('a watch survives etcd being killed and restarted on the same data: it reports the loss, then every new epoch', async () => {
    const url = etcd.url(freshPrefix());
    const store = await open(url);
    await store.propose(projection(1));
    const w = watched(store);
    await until(() => w.epochs.includes(1), 'epoch 1');

    await etcd.stop('SIGKILL');
    await until(() => w.errors.some((e) => e.code === 'ERR_UNAVAILABLE'), 'the watch to report that etcd went away');
    await etcd.start();

    // Proposed by another store as soon as etcd is back, perhaps before the watch is.
    const other = await open(url);
    await until(async () => (await other.propose(projection(2)).catch(() => undefined)) !== undefined, 'etcd to take a proposal again');
    await until(() => w.epochs.includes(2), 'the watch to report epoch 2 after the restart');
    await other.propose(projection(3));
    await until(() => w.epochs.includes(3), 'the watch to report epoch 3');
    expect(w.epochs).toEqual([1, 2, 3]);
    w.stop();
  });

  it('a compaction under a live watch does not disturb it', async () => {
    const store = await open(etcd.url(freshPrefix()));
    const w = watched(store);
    for (let epoch = 1; epoch <= 3; epoch++) await store.propose(projection(epoch));
    await until(() => w.epochs.includes(3), 'epoch 3');
    await raw.kv.compact({ revision: String(await revision()), physical: true });
    await store.propose(projection(4));
    await until(() => w.epochs.includes(4), 'epoch 4 after the compaction');
    expect(w.epochs).toEqual([1, 2, 3, 4]);
    w.stop();
  });

  it('a watch that starts from a compacted revision (ErrCompacted) re-reads and watches from the current revision', async () => {
    const prefix = freshPrefix();
    const url = etcd.url(prefix);
    const location = { endpoints: [etcd.endpoint], prefix };
    const proposer = await open(url);
    await proposer.propose(projection(1));
    const starts: bigint[] = [];
    let compactedAt = 0n;
    // Between the store's read and its watch: epoch 2 lands, and etcd compacts
    // past both, so the watch is refused with ErrCompacted and epoch 2's put
    // is gone from the history. Only a re-read can find it.
    const store = new EtcdProjectionStore(location.endpoints, location.prefix, {
      beforeWatch: async (from) => {
        starts.push(BigInt(from));
        if (starts.length > 1) return;
        await proposer.propose(projection(2));
        await raw.put('corfu/none/advance').value('x');
        compactedAt = await revision();
        await raw.kv.compact({ revision: String(compactedAt), physical: true });
      },
    });
    opened.push(store);
    const w = watched(store);
    await until(() => w.epochs.includes(2), 'the watch to find epoch 2 by re-reading');
    await until(() => starts.length >= 2, 'the watch to start again');
    expect(starts[0]!).toBeLessThan(compactedAt);
    expect(starts[1]!).toBeGreaterThan(compactedAt);
    await proposer.propose(projection(3));
    await until(() => w.epochs.includes(3), 'epoch 3 on the new watch');
    expect(w.epochs).toEqual([1, 2, 3]);
    // A compaction is not a failure: nothing to report.
    expect(w.errors).toEqual([]);
    w.stop();
  });
});
