// The clients' workload, the liveness probe and the final read of the log.
//
// Each client runs one operation at a time, a few virtual ms apart, until the
// run's budget of operations is spent. Half the seeds use the balanced mix
// (appends 50%, reads 27%, tail 10%, fills 4%, trims 5% and prefix trims 2%
// when the seed trims, else reads); the others draw their own weights.
// Reads and fills pick addresses near or below the highest token handed out,
// and sometimes past it (they must answer ERR_UNWRITTEN and write nothing).
// Trims touch settled addresses only (Checkers.settled) unless `wildTrims`.
//
// Streams (about half the seeds, cluster.ts StreamProfile): a share of the appends
// are appendTo to one or two of three streams, a share of the reads are one sync of
// the client's reader of a stream. Those draws come from the seed's stream random
// stream, so the rest of the mix draws what it drew without streams. At the end a
// fresh reader per stream reads each stream whole (the stream checks' final part).

import { STREAM_NAMES, type Cluster } from './cluster.js';
import type { SimClient } from './client.js';

export class Workload {
  readonly #cl: Cluster;
  readonly #targetOps: number;
  readonly #wildTrims: boolean;
  #issued = 0;
  #prefixMark = 0;
  /** Cumulative thresholds: append, read, tail, fill, trim, prefix trim (then read). */
  readonly #mix: readonly number[];

  constructor(cl: Cluster, targetOps: number, wildTrims: boolean) {
    this.#cl = cl;
    this.#targetOps = targetOps;
    this.#wildTrims = wildTrims;
    const rng = cl.workRng;
    const weights = rng.chance(0.5) ? [50, 27, 10, 4, 5, 2, 2] : [rng.between(10, 60), rng.between(5, 40), rng.between(2, 40), rng.between(0, 8), rng.between(0, 8), rng.between(0, 4), 0];
    const total = weights.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.#mix = weights.map((w) => (acc += w / total));
  }

  get done(): boolean {
    return this.#issued >= this.#targetOps;
  }

  /** The next address the follower must deliver. */
  followed = 0;

  start(): void {
    for (const c of this.#cl.clients) this.resume(c);
    if (this.#cl.follower !== undefined) this.#follow(this.#cl.follower);
  }

  /**
   * The follower: client.follow from where it got to, its entries checked to
   * come exactly once and in order. A trimmed address (a prefix trim passed
   * it) is skipped; a new incarnation follows on from where the old one was.
   */
  #follow(c: SimClient): void {
    const cl = this.#cl;
    c.follow(
      this.followed,
      (e) => {
        if (e.address !== this.followed) cl.check.fail('follow', `${c.node} follow delivered ${e.address} where ${this.followed} was next`);
        this.followed = e.address + 1;
      },
      (err) => {
        if ((err as { code?: string } | undefined)?.code === 'ERR_TRIMMED') {
          this.followed++;
          this.#follow(c);
        } else if (cl.phase !== 'done') {
          cl.check.fail('follow', `${c.node} follow ended at ${this.followed}: ${String((err as Error | undefined)?.message ?? 'without an error')}`);
        }
      },
    );
  }

  /** The follower stops (the end of the run). */
  stopFollowing(): void {
    this.#cl.follower?.stopFollowing();
  }

  /** A restarted client: its next operation, and if it is the follower, its following. */
  restarted(c: SimClient): void {
    if (c === this.#cl.follower) this.#follow(c);
    this.resume(c);
  }

  /** Runs the client's next operation (after a think time), and so on. */
  resume(c: SimClient): void {
    const cl = this.#cl;
    if (cl.phase !== 'workload' || !c.alive || this.done) return;
    const rng = cl.workRng;
    const incarnation = c.incarnation;
    cl.queue.after(rng.below(40) / 10, () => {
      if (!c.alive || c.incarnation !== incarnation || this.done) return;
      this.#issued++;
      const next = (): void => {
        if (c.alive && c.incarnation === incarnation) this.resume(c);
      };
      const x = rng.float();
      const [ap, rd, tl, fl, tr, pt] = this.#mix as [number, number, number, number, number, number];
      const hi = cl.check.maxToken + 2;
      // Near the tail, anywhere below it, or past it (a read there must answer ERR_UNWRITTEN and write nothing).
      const anyAddress = (): number => {
        const x = rng.float();
        if (x < 0.45) return Math.max(0, hi - rng.below(8));
        if (x < 0.9) return rng.below(hi + 1);
        return hi + (rng.chance(0.5) ? rng.between(1, 1000) : 1_000_000);
      };
      const trims = cl.profile.trims;
      const settled = cl.check.settled;
      const streams = cl.streams;
      if (x < ap) {
        const payload = Buffer.from(`${c.node}.${c.incarnation}.${this.#issued}`);
        if (streams.on && cl.streamRng.chance(streams.appendShare)) c.appendTo(this.#someStreams(), payload, next);
        else c.append(payload, next);
      } else if (x < rd) {
        const a = anyAddress();
        if (streams.on && cl.streamRng.chance(streams.readShare)) c.streamRead(cl.streamRng.pick(STREAM_NAMES), next);
        else c.read(a, next);
      } else if (x < tl) {
        c.tail(next);
      } else if (x < fl) {
        const a = anyAddress();
        c.fill(a, next);
      } else if (x < tr && trims && (this.#wildTrims || settled.size > 0)) {
        const a = this.#wildTrims ? rng.below(Math.max(1, cl.check.maxToken)) : [...settled][rng.below(settled.size)]!;
        cl.faults.trim++;
        c.trim(a, next);
      } else if (x < pt && trims && (this.#wildTrims || settled.has(this.#prefixMark))) {
        let a = this.#prefixMark;
        const limit = a + rng.between(1, 4);
        if (this.#wildTrims) a = Math.min(Math.max(0, cl.check.maxToken), limit);
        else while (a < limit && settled.has(a)) a++;
        this.#prefixMark = Math.max(this.#prefixMark, a);
        cl.faults['prefix-trim']++;
        c.prefixTrim(a, next);
      } else {
        const a = anyAddress();
        c.read(a, next);
      }
    });
  }

  /** One or two of the streams, distinct. */
  #someStreams(): string[] {
    const rng = this.#cl.streamRng;
    const first = rng.below(STREAM_NAMES.length);
    if (rng.chance(0.6)) return [STREAM_NAMES[first]!];
    return [STREAM_NAMES[first]!, STREAM_NAMES[(first + rng.between(1, STREAM_NAMES.length - 1)) % STREAM_NAMES.length]!];
  }

  /** A fresh reader per stream reads it whole, one stream after the other (the stream checks' final part). */
  finalStreamReads(reader: SimClient, done: () => void): void {
    const cl = this.#cl;
    if (!cl.streams.on) return done();
    const next = (i: number): void => {
      if (i >= STREAM_NAMES.length) return done();
      reader.streamRead(STREAM_NAMES[i]!, () => next(i + 1), true);
    };
    next(0);
  }

  /** Liveness: after every fault healed, `c` appends, reads it back and asks the tail; each must succeed. */
  probe(c: SimClient, done: () => void): void {
    const cl = this.#cl;
    const payload = Buffer.from(`${c.node}.${c.incarnation}.probe`);
    const failed = (what: string, r: { ok: false; error: unknown }): void => {
      const e = r.error as { code?: string; message?: string };
      cl.check.fail('liveness', `${c.node}: ${what} failed after every fault healed: ${e.code ?? ''} ${e.message ?? String(r.error)}`);
      done();
    };
    c.append(payload, (r) => {
      if (!r.ok) return failed('append', r);
      const address = r.value;
      c.read(address, (r2) => {
        if (!r2.ok) return failed(`read ${address}`, r2);
        c.tail((r3) => {
          if (!r3.ok) return failed('tail', r3);
          done();
        });
      });
    });
  }

  /** A fresh client reads every address below the tail (and every acknowledged one): the checkers see each value. */
  finalRead(reader: SimClient, done: () => void): void {
    const cl = this.#cl;
    reader.tail((r) => {
      if (!r.ok) {
        cl.check.fail('liveness', `final reader: tail() failed: ${String((r.error as Error).message)}`);
        return done();
      }
      const end = Math.max(r.value, cl.check.maxAcked + 1);
      cl.finalTail = end;
      const next = (a: number): void => {
        if (a >= end) return done();
        reader.read(a, (rr) => {
          if (!rr.ok) {
            const code = (rr.error as { code?: string }).code;
            if (code !== 'ERR_TRIMMED') cl.check.fail('liveness', `final reader: read ${a} failed: ${code ?? String(rr.error)}`);
          }
          next(a + 1);
        });
      };
      next(0);
    });
  }
}
