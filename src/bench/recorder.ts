// What a workload records about one kind of operation during the measured window:
// the count, the latency histogram and the per-second series. An operation counts
// when it started inside the window and ended before the window closed: warm-up
// operations and stragglers after the end are left out, so ops / duration is a rate
// of the window alone.

import type * as hdr from 'hdr-histogram-js';

import { encodeHistogram, newHistogram, percentileCurve, summarize, type LatencySummary, type PercentilePoint } from './histogram.js';
import { PerSecondSeries, type SecondPoint } from './series.js';

/** The measured window, in performance.now() milliseconds; `end` is Infinity while it is open. */
export class Window {
  start = Infinity;
  end = Infinity;

  open(now: number): void {
    this.start = now;
  }

  close(now: number): void {
    this.end = now;
  }

  get isOpen(): boolean {
    return this.start !== Infinity && this.end === Infinity;
  }

  contains(t0: number, t1: number): boolean {
    return t0 >= this.start && t1 <= this.end;
  }

  /** Seconds from opening to closing (or to now while open). */
  seconds(now: number): number {
    return this.start === Infinity ? 0 : (Math.min(this.end, now) - this.start) / 1000;
  }
}

export interface Recorded {
  readonly ops: number;
  readonly latency_us: LatencySummary;
  readonly percentiles: PercentilePoint[];
  readonly series: SecondPoint[];
  /** The whole distribution, HdrHistogram's compressed base64. */
  readonly histogram_hdr: string;
  /** With `keepSeconds`: each second's distribution (the same encoding), to merge several processes' series. */
  readonly series_hdr?: string[];
}

export class OpRecorder {
  ops = 0;
  readonly #h: hdr.Histogram = newHistogram();
  readonly #series: PerSecondSeries;

  constructor(
    readonly window: Window,
    keepSeconds = false,
  ) {
    this.#series = new PerSecondSeries(keepSeconds, this.#h);
  }

  /** An operation from t0 to t1 (performance.now() ms); counted only inside the window. */
  record(t0: number, t1: number): void {
    if (!this.window.contains(t0, t1)) return;
    this.recordLatency(t1, (t1 - t0) * 1000);
  }

  /** A latency measured another way (append to delivery; `count` operations of a native generator), ending at t1. */
  recordLatency(t1: number, latencyUs: number, count = 1): void {
    if (t1 < this.window.start || t1 > this.window.end) return;
    this.ops += count;
    // Into the second's histogram only: the series adds each second to #h as it ends.
    this.#series.record(t1 - this.window.start, latencyUs, count);
  }

  finish(): Recorded {
    // First: it adds the last second to #h.
    const series = this.#series.finish(this.window.seconds(Infinity) * 1000);
    const out = {
      ops: this.ops,
      latency_us: summarize(this.#h),
      percentiles: percentileCurve(this.#h),
      series,
      histogram_hdr: encodeHistogram(this.#h),
      ...(this.#series.keep ? { series_hdr: this.#series.encoded } : {}),
    };
    this.#h.destroy();
    return out;
  }
}
