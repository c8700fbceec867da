// The ProjectionStore contract, run against each kind of store: the file
// store (test/layout.conformance.file.test.ts) and etcd
// (test/layout.conformance.etcd.test.ts) face exactly the same checks.

import { afterAll, describe, expect, it } from 'vitest';

import { CorfuError } from '../../bindings/index.js';
import { openProjectionStore, parseProjection, projectionsEqual, type Projection, type ProjectionStore } from '../../src/layout/index.js';
import { rejectsWith } from './expect-error.js';
import { until } from './until.js';

/** One empty store of the kind under test, and ways to damage it behind the store's back. */
export interface StoreFixture {
  readonly url: string;
  /** Writes `text` as the raw value of epoch `epoch`'s slot. */
  plant(epoch: number, text: string): Promise<void>;
  /** Adds entries beside the slots that are not slots (names or keys a store must ignore), one sorting above every slot. */
  plantStrays(): Promise<void>;
}

export interface StoreKind {
  readonly name: string;
  fresh(): Promise<StoreFixture>;
}

export function projection(epoch: number, sequencer = '127.0.0.1:9000'): Projection {
  return parseProjection({
    epoch,
    sequencer,
    units: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004'],
    segments: [
      { start: 0, end: 1000, stripes: [{ chain: ['127.0.0.1:7001', '127.0.0.1:7002'] }] },
      {
        start: 1000,
        end: null,
        stripes: [{ chain: ['127.0.0.1:7001', '127.0.0.1:7002'] }, { chain: ['127.0.0.1:7003', '127.0.0.1:7004'] }],
      },
    ],
    maxEntryBytes: 65536,
  });
}

/** What a watch has reported so far. */
interface Recorder {
  readonly epochs: number[];
  readonly projections: Projection[];
  readonly errors: CorfuError[];
  readonly unsubscribe: () => void;
}

function record(store: ProjectionStore): Recorder {
  const epochs: number[] = [];
  const projections: Projection[] = [];
  const errors: CorfuError[] = [];
  const unsubscribe = store.watch(
    (p) => {
      epochs.push(p.epoch);
      projections.push(p);
    },
    (err) => errors.push(err),
  );
  return { epochs, projections, errors, unsubscribe };
}

function saw(r: Recorder, epoch: number): () => boolean {
  return () => r.epochs.includes(epoch);
}

export function projectionStoreSuite(kind: StoreKind): void {
  const opened: ProjectionStore[] = [];
  async function open(url: string): Promise<ProjectionStore> {
    const store = await openProjectionStore(url);
    opened.push(store);
    return store;
  }
  async function fresh(): Promise<{ fixture: StoreFixture; store: ProjectionStore }> {
    const fixture = await kind.fresh();
    return { fixture, store: await open(fixture.url) };
  }

  describe(`ProjectionStore conformance: ${kind.name}`, () => {
    it('an empty store has nothing; propose, get and latest round-trip; another store on the URL sees the same', async () => {
      const { fixture, store } = await fresh();
      expect(await store.latest()).toBeUndefined();
      expect(await store.get(1)).toBeUndefined();

      const one = projection(1);
      expect(await store.propose(one)).toEqual({ accepted: true, winner: one });
      const two = projection(2, '127.0.0.1:9001');
      expect(await store.propose(two)).toEqual({ accepted: true, winner: two });
      expect(await store.get(1)).toEqual(one);
      expect(await store.get(2)).toEqual(two);
      expect(await store.get(3)).toBeUndefined();
      expect(await store.latest()).toEqual(two);

      const again = await open(fixture.url);
      expect(await again.latest()).toEqual(two);
      expect(await again.get(1)).toEqual(one);
    });

    it('write-once: a later proposal for an epoch loses and gets the winner (an identical one too)', async () => {
      const { store } = await fresh();
      const first = projection(5, '127.0.0.1:9001');
      expect((await store.propose(first)).accepted).toBe(true);
      const lost = await store.propose(projection(5, '127.0.0.1:9002'));
      expect(lost).toEqual({ accepted: false, winner: first });
      const identical = await store.propose(projection(5, '127.0.0.1:9001'));
      expect(identical.accepted).toBe(false);
      expect(projectionsEqual(identical.winner, first)).toBe(true);
      expect(await store.get(5)).toEqual(first);
    });

    it('epochs need not be consecutive: latest is the highest slot, a lower one filled later does not change it', async () => {
      const { store } = await fresh();
      await store.propose(projection(3));
      await store.propose(projection(10));
      await store.propose(projection(7));
      expect((await store.latest())!.epoch).toBe(10);
      expect((await store.get(7))!.epoch).toBe(7);
      // Key order is epoch order however many digits the epoch has.
      await store.propose(projection(1_000_000_000_000));
      await store.propose(projection(Number.MAX_SAFE_INTEGER));
      await store.propose(projection(999_999_999_999));
      expect((await store.latest())!.epoch).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('concurrent proposals from separate store instances: exactly one accepted, every one gets the same winner', async () => {
      const { fixture } = await fresh();
      const stores = await Promise.all(Array.from({ length: 6 }, () => open(fixture.url)));
      for (let epoch = 1; epoch <= 4; epoch++) {
        const results = await Promise.all(stores.map((s, i) => s.propose(projection(epoch, `127.0.0.1:${9100 + i}`))));
        expect(results.filter((r) => r.accepted)).toHaveLength(1);
        const winner = results.find((r) => r.accepted)!.winner;
        for (const r of results) expect(r.winner).toEqual(winner);
        expect(await stores[0]!.get(epoch)).toEqual(winner);
      }
    });

    it('validates proposals and epochs with ERR_BAD_REQUEST, storing nothing', async () => {
      const { store } = await fresh();
      const bad = { ...projection(1), units: ['127.0.0.1:7001'] } as Projection;
      const err = await rejectsWith(store.propose(bad), 'ERR_BAD_REQUEST');
      expect(err.message).toMatch(/not listed in units/);
      await rejectsWith(store.get(0), 'ERR_BAD_REQUEST');
      await rejectsWith(store.get(1.5), 'ERR_BAD_REQUEST');
      await rejectsWith(store.get(-1), 'ERR_BAD_REQUEST');
      expect(await store.latest()).toBeUndefined();
    });

    it('a slot that holds no valid projection is ERR_CORRUPT (get, latest, propose), never a wrong projection', async () => {
      const { fixture, store } = await fresh();
      await store.propose(projection(1));
      await store.propose(projection(2));
      await fixture.plant(3, '{"epoch":3,"sequ');
      let err = await rejectsWith(store.get(3), 'ERR_CORRUPT');
      expect(err.message).toMatch(/is not valid JSON/);
      // latest() must not fall back to epoch 2.
      await rejectsWith(store.latest(), 'ERR_CORRUPT');
      await rejectsWith(store.propose(projection(3)), 'ERR_CORRUPT');

      await fixture.plant(4, JSON.stringify({ ...projection(4), units: [] }));
      err = await rejectsWith(store.get(4), 'ERR_CORRUPT');
      expect(err.message).toMatch(/is not a valid projection: units/);

      await fixture.plant(5, JSON.stringify(projection(6)));
      err = await rejectsWith(store.get(5), 'ERR_CORRUPT');
      expect(err.message).toMatch(/holds epoch 6, not 5/);

      expect(await store.get(2)).toEqual(projection(2));
    });

    it('entries beside the slots are ignored', async () => {
      const { fixture, store } = await fresh();
      await store.propose(projection(1));
      await store.propose(projection(2));
      await fixture.plantStrays();
      expect(await store.latest()).toEqual(projection(2));
      expect(await store.get(9)).toBeUndefined();
    });

    it('status records: last writer wins, seen by another store on the URL, beside the slots without touching them; bad names are refused', async () => {
      const { fixture, store } = await fresh();
      await store.propose(projection(1));
      expect(await store.getStatus('rebuild')).toBeUndefined();
      await store.putStatus('rebuild', { unit: 'a', addressesDone: 1 });
      await store.putStatus('rebuild', { unit: 'a', addressesDone: 2 });
      const again = await open(fixture.url);
      expect(await again.getStatus('rebuild')).toEqual({ unit: 'a', addressesDone: 2 });
      expect(await again.latest()).toEqual(projection(1));
      expect(await again.get(2)).toBeUndefined();
      for (const bad of ['', 'Rebuild', '../x', 'a/b', 'x'.repeat(65)]) {
        await rejectsWith(store.putStatus(bad, {}), 'ERR_BAD_REQUEST');
        await rejectsWith(store.getStatus(bad), 'ERR_BAD_REQUEST');
      }
    });

    it('close() ends the store: calls fail with ERR_CLOSED; close is idempotent', async () => {
      const { store } = await fresh();
      await store.propose(projection(1));
      await store.close();
      await store.close();
      await rejectsWith(store.latest(), 'ERR_CLOSED');
      await rejectsWith(store.get(1), 'ERR_CLOSED');
      await rejectsWith(store.propose(projection(2)), 'ERR_CLOSED');
      expect(() => store.watch(() => undefined)).toThrow(CorfuError);
    });

    describe('watch', () => {
      it('reports the latest projection at once, then each new latest in epoch order, each once', async () => {
        const { fixture, store } = await fresh();
        await store.propose(projection(1));
        await store.propose(projection(2));
        const proposer = await open(fixture.url);
        const r = record(store);
        await until(saw(r, 2), 'the watch to report the latest, epoch 2');
        expect(r.epochs).toEqual([2]);
        expect(r.projections[0]).toEqual(projection(2));

        await proposer.propose(projection(3, '127.0.0.1:9003'));
        await until(saw(r, 3), 'epoch 3');
        // A burst: every one was the latest in turn.
        await proposer.propose(projection(4));
        await proposer.propose(projection(5));
        await proposer.propose(projection(6));
        await until(saw(r, 6), 'epoch 6');
        expect(r.epochs).toEqual([2, 3, 4, 5, 6]);
        expect(r.projections[1]).toEqual(projection(3, '127.0.0.1:9003'));
        expect(r.errors).toEqual([]);
        r.unsubscribe();
      });

      it('on an empty store, reports the first proposal; a slot filled below the latest is not reported', async () => {
        const { store } = await fresh();
        const r = record(store);
        await store.propose(projection(1));
        await until(saw(r, 1), 'epoch 1');
        await store.propose(projection(7));
        await until(saw(r, 7), 'epoch 7');
        await store.propose(projection(6)); // never the latest
        await store.propose(projection(8));
        await until(saw(r, 8), 'epoch 8');
        expect(r.epochs).toEqual([1, 7, 8]);
        r.unsubscribe();
      });

      it('every watcher hears every epoch; an unsubscribed one hears nothing more', async () => {
        const { store } = await fresh();
        await store.propose(projection(1));
        const a = record(store);
        const b = record(store);
        await until(() => saw(a, 1)() && saw(b, 1)(), 'both watchers to report epoch 1');
        a.unsubscribe();
        a.unsubscribe(); // idempotent
        await store.propose(projection(2));
        await store.propose(projection(3));
        await until(saw(b, 3), 'the remaining watcher to report epoch 3');
        expect(b.epochs).toEqual([1, 2, 3]);
        expect(a.epochs).toEqual([1]);
        b.unsubscribe();
      });

      it('a corrupt slot is reported to onError as ERR_CORRUPT and passed over; later epochs still come', async () => {
        const { fixture, store } = await fresh();
        const r = record(store);
        await store.propose(projection(1));
        await until(saw(r, 1), 'epoch 1');
        await fixture.plant(2, 'garbage');
        await store.propose(projection(3));
        await until(saw(r, 3), 'epoch 3');
        expect(r.epochs).toEqual([1, 3]);
        expect(r.errors.map((e) => e.code)).toEqual(['ERR_CORRUPT']);
        r.unsubscribe();
      });

      it('close() ends every watch of the store', async () => {
        const { fixture, store } = await fresh();
        const r = record(store);
        await store.propose(projection(1));
        await until(saw(r, 1), 'epoch 1');
        await store.close();
        // Another store's watch is the witness that epoch 2 was there to see.
        const other = await open(fixture.url);
        const witness = record(other);
        await other.propose(projection(2));
        await until(saw(witness, 2), 'the witness to report epoch 2');
        expect(r.epochs).toEqual([1]);
        witness.unsubscribe();
      });
    });
  });

  // Every store a test opened, whatever it left: watches and connections end here.
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });
}
