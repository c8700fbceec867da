// Transactions in the simulator (docs/objects.md): the bank workload of a transaction
// seed, run by each client process with its own real CorfuRuntime (client.ts), and the
// checks that are the bank's own (tx/bank, tx/kv). The generic transaction checks
// (agreement, strict, reads, serializability) are TxChecks (checkers.ts).
//
// The objects: accounts over TWO maps (bank.a: a0.., bank.b: b0..), so a transfer spans
// objects; bank.a also holds tags (t0, t1) that plain puts write; bank.log maps each
// transfer's id to what it moved and bank.count counts transfers, both written in the
// transfer's own transaction (as test/objects.bank.test.ts); bank.audit keeps audits;
// kv is a KvStore. An account never written holds OPENING.
//
// The operations (drawn from the seed's transaction stream):
//   transfer   has(log, id); sometimes read the counter (a read of a whole object) or a
//              tag (then stamp it); move an amount between two accounts; sometimes a
//              second leg on from the receiver (reading it again: read-your-writes);
//              log it; count it. Retries 0-2.
//   snapshot   read-only: every balance (entries of bank.a, gets of bank.b) must add up to
//              the opening total; the counter must equal the log's size.
//   audit      entries of both maps (whole-object reads) in a writing transaction: its
//              sum must be the total too.
//   put        a plain put of a tag (a non-transactional write transfers may read).
//   multiPut   every KV key in one entry, one tag; multiGet must see one tag for all
//              keys, and a tag no older than a multiPut acknowledged before it began.
//   checkpoint rt.checkpoint of one object.
//   compact    rt.compact (workload.ts runs it once no other operation is in flight: a
//              compaction trims every address below it, an append in flight there too).
//
// At the end a fresh runtime reads everything in one read-only transaction: the balances
// must be the opening ones plus every logged transfer once, every transfer a client saw
// commit must be logged and none it saw abort (ERR_CONFLICT).

import { CorfuError } from '../../bindings/errors.js';
import type { CorfuCounter, CorfuMap } from '../../src/objects/handles.js';
import type { KvStore } from '../../src/objects/kv.js';
import type { CorfuRuntime } from '../../src/objects/runtime.js';
import type { Transaction } from '../../src/objects/transaction.js';
import { counterType, mapType, type ObjectType } from '../../src/objects/types.js';
import type { BodyRead, TxChecks } from './checkers.js';
import type { SimClient } from './client.js';
import type { Prng } from './prng.js';

export const OPENING = 100;
const TAGS = ['t0', 't1'];
const KV_KEYS = ['k0', 'k1', 'k2'];
const A = 'bank.a';
const B = 'bank.b';
const LOG = 'bank.log';
const COUNT = 'bank.count';
const AUDIT = 'bank.audit';
const KV = 'kv';

/** Every object of the bank and its type (TxChecks replays values with them). */
export const BANK_TYPES: ReadonlyMap<string, ObjectType<unknown, unknown>> = new Map<string, ObjectType<unknown, unknown>>([
  [A, mapType()],
  [B, mapType()],
  [LOG, mapType()],
  [COUNT, counterType()],
  [AUDIT, mapType()],
  [KV, mapType()],
]);

/** Whether and how a seed runs transactions, drawn from its own random stream. */
export interface TxProfile {
  readonly on: boolean;
  /** The share of the workload's operations that are object operations. */
  readonly share: number;
  /** Accounts in bank.a and in bank.b (few: transfers conflict). */
  readonly accounts: readonly string[];
}

export function drawTx(rng: Prng): TxProfile {
  const on = rng.chance(0.2);
  const share = rng.pick([0.3, 0.45]);
  const na = rng.between(2, 3);
  const nb = rng.between(1, 3);
  const accounts = [...Array.from({ length: na }, (_, i) => `a${i}`), ...Array.from({ length: nb }, (_, i) => `b${i}`)];
  return { on, share, accounts };
}

export type ObjectOp = 'transfer' | 'snapshot' | 'audit' | 'put' | 'multiPut' | 'multiGet' | 'checkpoint' | 'compact';

/** What a transfer logs (bank.log). */
interface Logged {
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  /** A second leg: `amount2` from `to` on to `via`. */
  readonly via?: string;
  readonly amount2?: number;
}

/** The bank's handles in one runtime (every object opened at once, so a compaction covers all). */
interface Handles {
  readonly a: CorfuMap<unknown>;
  readonly b: CorfuMap<unknown>;
  readonly log: CorfuMap<Logged>;
  readonly count: CorfuCounter;
  readonly audit: CorfuMap<number>;
  readonly kv: KvStore<string>;
}

const handles = new WeakMap<CorfuRuntime, Handles>();

function open(rt: CorfuRuntime): Handles {
  let h = handles.get(rt);
  if (h === undefined) {
    h = { a: rt.map(A), b: rt.map(B), log: rt.map(LOG), count: rt.counter(COUNT), audit: rt.map(AUDIT), kv: rt.kv(KV) };
    handles.set(rt, h);
  }
  return h;
}

/** A transaction's handle, with what its body read from the snapshot recorded (reads of its own writes are not). */
class Recorded {
  readonly reads: BodyRead[] = [];
  readonly #written = new Set<string>();
  readonly tx: Transaction;

  constructor(tx: Transaction) {
    this.tx = tx;
  }

  async get<V>(map: CorfuMap<V>, key: string): Promise<V | undefined> {
    const own = this.#written.has(`${map.name}\u0000${key}`);
    const value = await this.tx.get(map, key);
    if (!own) this.reads.push({ object: map.name, key, kind: 'get', value });
    return value;
  }

  async has<V>(map: CorfuMap<V>, key: string): Promise<boolean> {
    const own = this.#written.has(`${map.name}\u0000${key}`);
    const value = await this.tx.has(map, key);
    if (!own) this.reads.push({ object: map.name, key, kind: 'has', value });
    return value;
  }

  async entries<V>(map: CorfuMap<V>): Promise<Array<[string, V]>> {
    const value = await this.tx.entries(map);
    if (!this.#written.has(map.name)) this.reads.push({ object: map.name, key: '', kind: 'entries', value });
    return value;
  }

  async size<V>(map: CorfuMap<V>): Promise<number> {
    const value = await this.tx.size(map);
    if (!this.#written.has(map.name)) this.reads.push({ object: map.name, key: '', kind: 'size', value });
    return value;
  }

  async read(counter: CorfuCounter): Promise<number> {
    const value = await this.tx.read(counter);
    if (!this.#written.has(counter.name)) this.reads.push({ object: counter.name, key: '', kind: 'counter', value });
    return value;
  }

  put<V>(map: CorfuMap<V>, key: string, value: V): void {
    this.#written.add(`${map.name}\u0000${key}`).add(map.name);
    this.tx.put(map, key, value);
  }

  add(counter: CorfuCounter, n: number): void {
    this.#written.add(counter.name);
    this.tx.add(counter, n);
  }
}

/** The bank workload and its checks for one run. */
export class Bank {
  readonly profile: TxProfile;
  readonly #rng: Prng;
  readonly #tx: TxChecks;
  readonly #fail: (kind: string, message: string) => void;
  readonly total: number;
  /** Every transfer by id: what it would move, and how it ended for its client. */
  readonly #transfers = new Map<string, { logged: Logged; outcome: 'committed' | 'aborted' | 'unknown' | 'running' }>();
  /** Acknowledged multiPuts: tag -> address; and the highest address acknowledged so far. */
  readonly #multiPuts = new Map<string, number>();
  #multiPutFloor = -1;
  #n = 0;

  constructor(profile: TxProfile, rng: Prng, tx: TxChecks, fail: (kind: string, message: string) => void) {
    this.profile = profile;
    this.#rng = rng;
    this.#tx = tx;
    this.#fail = fail;
    this.total = profile.accounts.length * OPENING;
  }

  /** The next object operation (compact only on seeds that trim). */
  pick(trims: boolean): ObjectOp {
    const x = this.#rng.float();
    if (x < 0.42) return 'transfer';
    if (x < 0.6) return 'snapshot';
    if (x < 0.65) return 'audit';
    if (x < 0.75) return 'put';
    if (x < 0.83) return 'multiPut';
    if (x < 0.91) return 'multiGet';
    if (x < 0.97 || !trims) return 'checkpoint';
    return 'compact';
  }

  /** Runs `op` on `c` (its runtime); `done` when it ended, however. */
  run(c: SimClient, op: ObjectOp, done: () => void): void {
    const id = `${op}.${c.node}.${c.incarnation}.${this.#n++}`;
    const s = this.#tx.stats;
    switch (op) {
      case 'transfer':
        return this.#transfer(c, id, done);
      case 'snapshot':
        return c.objects(id, (rt, by) => this.#snapshot(rt, by).then(() => undefined), done);
      case 'audit':
        return this.#audit(c, id, done);
      case 'put': {
        const tag = this.#rng.pick(TAGS);
        s.updates++;
        return c.objects(id, (rt) => open(rt).a.put(tag, id), done);
      }
      case 'multiPut':
        s.updates++;
        return c.objects(
          id,
          async (rt) => {
            const address = await open(rt).kv.multiPut(KV_KEYS.map((k) => [k, id] as const));
            this.#multiPuts.set(id, address);
            if (address > this.#multiPutFloor) this.#multiPutFloor = address;
            return address;
          },
          done,
        );
      case 'multiGet': {
        s.multiGets++;
        const floor = this.#multiPutFloor;
        return c.objects(
          id,
          async (rt, by) => {
            const values = await open(rt).kv.multiGet(KV_KEYS);
            if (new Set(values).size !== 1) this.#fail('tx/kv', `${by}: multiGet saw ${JSON.stringify(values)}: not one multiPut's`);
            const at = values[0] === undefined ? -1 : this.#multiPuts.get(values[0]);
            if (at !== undefined && at < floor) this.#fail('tx/strict', `${by}: multiGet saw the multiPut at ${at}, older than the one at ${floor} acknowledged before it began`);
            return undefined;
          },
          done,
        );
      }
      case 'checkpoint': {
        const which = this.#rng.below(6);
        s.checkpoints++;
        return c.objects(
          id,
          async (rt) => {
            const h = open(rt);
            const handle = [h.a, h.b, h.log, h.count, h.audit, h.kv.map][which]!;
            return (await rt.checkpoint(handle)).snapshot;
          },
          done,
        );
      }
      case 'compact':
        s.compactions++;
        return c.objects(
          id,
          async (rt) => {
            open(rt);
            return rt.compact();
          },
          done,
        );
    }
  }

  /** Runs a transaction recording what the body read; resolves with the body's result once it committed (or read-only, ended). */
  async #transaction<R>(rt: CorfuRuntime, by: string, body: (r: Recorded) => Promise<R>, retries: number): Promise<R> {
    const floor = this.#tx.floor;
    let last: Recorded | undefined;
    const result = await rt.transaction(
      async (tx) => {
        last = new Recorded(tx);
        return body(last);
      },
      { retries },
    );
    const tx = last!.tx;
    this.#tx.observed({ by, snapshot: tx.snapshot, floor, reads: tx.readSet, bodyReads: last!.reads, address: tx.address });
    return result;
  }

  #transfer(c: SimClient, id: string, done: () => void): void {
    const rng = this.#rng;
    const accounts = this.profile.accounts;
    const from = rng.pick(accounts);
    const to = rng.pick(accounts.filter((x) => x !== from));
    const amount = rng.between(1, 20);
    const twoLegs = rng.chance(0.3);
    const via = twoLegs ? rng.pick(accounts.filter((x) => x !== to)) : undefined;
    const amount2 = twoLegs ? rng.between(1, 20) : undefined;
    const readCount = rng.chance(0.4);
    const tag = rng.chance(0.25) ? rng.pick(TAGS) : undefined;
    const retries = rng.pick([0, 0, 1, 2]);
    const logged: Logged = { from, to, amount, ...(via === undefined ? {} : { via, amount2: amount2! }) };
    const entry = { logged, outcome: 'running' as 'committed' | 'aborted' | 'unknown' | 'running' };
    this.#transfers.set(id, entry);
    const s = this.#tx.stats;
    s.transactions++;
    c.objects(
      id,
      async (rt, by) => {
        const h = open(rt);
        const mapOf = (acct: string): CorfuMap<unknown> => (acct.startsWith('a') ? h.a : h.b);
        await this.#transaction(
          rt,
          by,
          async (r) => {
            if (await r.has(h.log, id)) return;
            if (readCount) await r.read(h.count);
            if (tag !== undefined) {
              await r.get(h.a, tag);
              r.put(h.a, tag, id);
            }
            const f = ((await r.get(mapOf(from), from)) as number | undefined) ?? OPENING;
            r.put(mapOf(from), from, f - amount);
            const t = ((await r.get(mapOf(to), to)) as number | undefined) ?? OPENING;
            r.put(mapOf(to), to, t + amount);
            if (via !== undefined) {
              // The receiver again: this transaction's own write (read your writes).
              const t2 = ((await r.get(mapOf(to), to)) as number | undefined) ?? OPENING;
              r.put(mapOf(to), to, t2 - amount2!);
              const v = ((await r.get(mapOf(via), via)) as number | undefined) ?? OPENING;
              r.put(mapOf(via), via, v + amount2!);
            }
            r.put(h.log, id, logged);
            r.add(h.count, 1);
          },
          retries,
        );
        return undefined;
      },
      (r) => {
        if (r.ok) {
          entry.outcome = 'committed';
          s.committed++;
        } else if (r.error instanceof CorfuError && r.error.code === 'ERR_CONFLICT') {
          entry.outcome = 'aborted';
          s.aborted++;
        } else {
          entry.outcome = 'unknown';
          s.unknown++;
        }
        done();
      },
    );
    // A process that dies never calls back: the outcome stays 'running' (unknown).
  }

  /** Every balance from one snapshot: they must add up to the total; the counter must equal the log's size. */
  async #snapshot(rt: CorfuRuntime, by: string): Promise<number> {
    const h = open(rt);
    const checkCount = this.#rng.chance(0.5);
    this.#tx.stats.readOnly++;
    const { sum, count, size } = await this.#transaction(
      rt,
      by,
      async (r) => {
        const sum = this.#sum(await r.entries(h.a), 'a') + (await this.#sumOfGets(r, h.b));
        return checkCount ? { sum, count: await r.read(h.count), size: await r.size(h.log) } : { sum, count: 0, size: 0 };
      },
      0,
    );
    if (sum !== this.total) this.#fail('tx/bank', `${by}: a snapshot of every balance adds up to ${sum}, not ${this.total}`);
    if (count !== size) this.#fail('tx/bank', `${by}: a snapshot has ${count} transfers counted but ${size} logged`);
    return sum;
  }

  /**
   * The accounts of one map (bank.a's start with 'a', bank.b's with 'b') in `entries`, with
   * OPENING for one never written, and any account key found there that is not that map's.
   */
  #sum(entries: ReadonlyArray<readonly [string, unknown]>, map: 'a' | 'b'): number {
    const held = new Map(entries);
    let sum = 0;
    for (const acct of this.profile.accounts) {
      if (acct.startsWith(map)) sum += (held.get(acct) as number | undefined) ?? OPENING;
      else if (held.has(acct)) sum += held.get(acct) as number;
    }
    return sum;
  }

  async #sumOfGets(r: Recorded, b: CorfuMap<unknown>): Promise<number> {
    let sum = 0;
    for (const acct of this.profile.accounts) if (acct.startsWith('b')) sum += ((await r.get(b, acct)) as number | undefined) ?? OPENING;
    return sum;
  }

  /** A writing transaction of whole-object reads: both maps' entries; its sum is logged and must be the total. */
  #audit(c: SimClient, id: string, done: () => void): void {
    const s = this.#tx.stats;
    s.transactions++;
    c.objects(
      id,
      async (rt, by) => {
        const h = open(rt);
        const sum = await this.#transaction(
          rt,
          by,
          async (r) => {
            const entriesB = await r.entries(h.b);
            const sum = this.#sum(await r.entries(h.a), 'a') + this.#sum(entriesB, 'b');
            r.put(h.audit, id, sum);
            return sum;
          },
          0,
        );
        if (sum !== this.total) this.#fail('tx/bank', `${by}: an audit committed with a sum of ${sum}, not ${this.total}`);
        return undefined;
      },
      (r) => {
        if (r.ok) s.committed++;
        else if (r.error instanceof CorfuError && r.error.code === 'ERR_CONFLICT') s.aborted++;
        else s.unknown++;
        done();
      },
    );
  }

  /**
   * The end: a fresh runtime (the final client's) reads everything in one read-only
   * transaction. `done(ok)`: false when it could not (after a few tries).
   */
  final(c: SimClient, done: (ok: boolean) => void, attempt = 0): void {
    c.objects(
      `final-bank.${attempt}`,
      async (rt, by) => {
        const h = open(rt);
        const seen = await this.#transaction(
          rt,
          by,
          async (r) => ({ a: await r.entries(h.a), b: await r.entries(h.b), log: await r.entries(h.log), count: await r.read(h.count), kv: await r.entries(h.kv.map) }),
          0,
        );
        this.#checkFinal(by, seen);
        return undefined;
      },
      (r) => {
        if (r.ok) return done(true);
        if (attempt < 3) return this.final(c, done, attempt + 1);
        const e = r.error as { code?: string; message?: string };
        this.#fail('tx/liveness', `the final runtime could not read the bank after every fault healed: ${e.code ?? ''} ${e.message ?? String(r.error)}`);
        done(false);
      },
    );
  }

  #checkFinal(
    by: string,
    seen: {
      a: ReadonlyArray<readonly [string, unknown]>;
      b: ReadonlyArray<readonly [string, unknown]>;
      log: ReadonlyArray<readonly [string, Logged]>;
      count: number;
      kv: ReadonlyArray<readonly [string, string]>;
    },
  ): void {
    const fail = (message: string): void => this.#fail('tx/bank', `${by}: ${message}`);
    const sum = this.#sum(seen.a, 'a') + this.#sum(seen.b, 'b');
    if (sum !== this.total) fail(`the final balances add up to ${sum}, not ${this.total}`);
    // The opening balances plus every logged transfer, each once.
    const expected = new Map(this.profile.accounts.map((acct) => [acct, OPENING]));
    const move = (from: string, to: string, amount: number): void => {
      expected.set(from, expected.get(from)! - amount);
      expected.set(to, expected.get(to)! + amount);
    };
    const logged = new Map(seen.log);
    for (const [id, t] of seen.log) {
      const mine = this.#transfers.get(id);
      if (mine === undefined || JSON.stringify(mine.logged) !== JSON.stringify(t)) {
        fail(`the log holds ${id}: ${JSON.stringify(t)}, which no transfer wrote`);
        return;
      }
      move(t.from, t.to, t.amount);
      if (t.via !== undefined) move(t.to, t.via, t.amount2!);
    }
    const held = new Map([...seen.a, ...seen.b]);
    for (const [acct, want] of expected) {
      const got = (held.get(acct) as number | undefined) ?? OPENING;
      if (got !== want) {
        fail(`account ${acct} holds ${got}, but the opening balance plus the ${logged.size} logged transfers make ${want}`);
        break;
      }
    }
    if (seen.count !== logged.size) fail(`${seen.count} transfers counted but ${logged.size} logged`);
    for (const [id, t] of this.#transfers) {
      if (t.outcome === 'committed' && !logged.has(id)) fail(`${id} committed for its client but never took effect`);
      if (t.outcome === 'aborted' && logged.has(id)) fail(`${id} aborted for its client (ERR_CONFLICT) but took effect`);
    }
    const tags = new Set(seen.kv.map(([, v]) => v));
    if (tags.size > 1) this.#fail('tx/kv', `${by}: the KV store holds ${JSON.stringify(seen.kv)}: not one multiPut's`);
  }
}
