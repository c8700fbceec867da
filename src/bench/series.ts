// The per-second series of one kind of operation: how many completed in each second
// of the measured window, and their median and p99. A steady throughput line says the
// figure is a rate; a sawtooth or a cliff (a device filling up, GC, a neighbour) says
// the average hides something.

import type * as hdr from 'hdr-histogram-js';

import { encodeHistogram, LatencyCounts, newHistogram } from './histogram.js';

export interface SecondPoint {
  /** Seconds since the window opened (the second this bucket ends at). */
  readonly t_s: number;
  readonly ops: number;
  /** Operations per second of this bucket (the last, partial bucket is scaled to its length). */
  readonly ops_per_s: number;
  readonly p50_us: number;
  readonly p99_us: number;
}

export class PerSecondSeries {
  readonly #points: SecondPoint[] = [];
  /** With `keep`: each second's histogram, encoded (a load-generator process hands them to its parent to merge). */
  readonly encoded: string[] = [];

  /**
   * `whole`, when given, receives each second's histogram as the second ends: the run's
   * distribution without a second histogram record per operation (at 300K operations a
   * second, recording twice was a tenth of the load generator's CPU).
   */
  constructor(
    readonly keep = false,
    readonly whole?: hdr.Histogram,
  ) {}

  #bucket = 0;
  #ops = 0;
  #h: hdr.Histogram = newHistogram();
  /** This second's latencies, spilled into #h as it ends. */
  readonly #counts = new LatencyCounts(this.#h);

  /** `atMs`: milliseconds since the window opened. */
  record(atMs: number, latencyUs: number, count = 1): void {
    const bucket = Math.floor(atMs / 1000);
    while (bucket > this.#bucket) this.#roll(1);
    this.#ops += count;
    this.#counts.record(latencyUs, count);
  }

  /** Closes the series at `endMs` (the window's length): empty seconds count as zeros. */
  finish(endMs: number): SecondPoint[] {
    const last = Math.max(0, Math.ceil(endMs / 1000) - 1);
    while (this.#bucket < last) this.#roll(1);
    const tail = endMs / 1000 - this.#bucket;
    this.#counts.spill();
    const prev = this.#points.at(-1);
    if (tail < 0.1 && prev !== undefined) {
      // A sliver of a second at the end (timer slack): folded into the last whole second.
      const ops = prev.ops + this.#ops;
      this.#points[this.#points.length - 1] = { ...prev, t_s: Math.round((this.#bucket + tail) * 1000) / 1000, ops, ops_per_s: Math.round(ops / (1 + tail)) };
      this.whole?.add(this.#h);
    } else if (tail > 0 || this.#ops > 0) this.#roll(Math.max(tail, 0.1));
    this.#h.destroy();
    return this.#points;
  }

  #roll(lengthS: number): void {
    this.#counts.spill();
    const n = this.#h.totalCount;
    this.whole?.add(this.#h);
    if (this.keep) this.encoded.push(encodeHistogram(this.#h));
    this.#points.push({
      t_s: Math.round((this.#bucket + lengthS) * 1000) / 1000,
      ops: this.#ops,
      ops_per_s: Math.round(this.#ops / lengthS),
      p50_us: n === 0 ? 0 : this.#h.getValueAtPercentile(50),
      p99_us: n === 0 ? 0 : this.#h.getValueAtPercentile(99),
    });
    this.#bucket++;
    this.#ops = 0;
    this.#h.reset();
  }
}
