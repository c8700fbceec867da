// Latency of one kind of operation, in microseconds, in an HDR histogram
// (hdr-histogram-js): percentiles stay exact to 3 significant digits whatever the
// spread, and the whole distribution is kept (encoded in the JSON) so a figure can be
// recomputed later at any percentile.

import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  readonly min_us: number;
  readonly mean_us: number;
  readonly p50_us: number;
  readonly p90_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
  readonly max_us: number;
}

/** One point of the percentile curve the report draws. */
export interface PercentilePoint {
  readonly percentile: number;
  readonly latency_us: number;
}

/** 1 µs .. 10 min: anything slower is a hang, not a latency. */
const HIGHEST_US = 600_000_000;

export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

/** A latency as the histogram records it: whole microseconds, at least 1 (its floor), at most HIGHEST_US. */
export function wholeUs(us: number): number {
  return Math.min(HIGHEST_US, Math.max(1, Math.round(us)));
}

/** Records one latency, rounded to whole microseconds (wholeUs). */
export function recordUs(h: hdr.Histogram, us: number, count = 1): void {
  h.recordValueWithCount(wholeUs(us), count);
}

/**
 * Counts latencies below COUNTED_BELOW_US by the microsecond in a plain array, and records
 * them into a histogram at `spill`: the same histogram as one record per value, at the
 * cost of an increment per value instead of hdr-histogram-js's bucket arithmetic (at 300K
 * operations a second, recording was a tenth of the load generator's CPU). Larger values
 * are recorded directly.
 */
export class LatencyCounts {
  readonly #counts = new Uint32Array(COUNTED_BELOW_US);
  #any = false;

  constructor(readonly h: hdr.Histogram) {}

  record(us: number, count: number): void {
    const v = wholeUs(us);
    if (v < COUNTED_BELOW_US && count === 1) {
      this.#counts[v]!++;
      this.#any = true;
    } else this.h.recordValueWithCount(v, count);
  }

  /** Moves what was counted into the histogram. */
  spill(): void {
    if (!this.#any) return;
    const counts = this.#counts;
    for (let v = 1; v < COUNTED_BELOW_US; v++) {
      if (counts[v] !== 0) {
        this.h.recordValueWithCount(v, counts[v]!);
        counts[v] = 0;
      }
    }
    this.#any = false;
  }
}

/** 65.536 ms: a second of a run's latencies counted in 256 KiB. */
const COUNTED_BELOW_US = 1 << 16;

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function summarize(h: hdr.Histogram): LatencySummary {
  const n = h.totalCount;
  // A percentile is reported as its bucket's highest equivalent value: never above the exact maximum.
  const at = (p: number): number => (n === 0 ? 0 : Math.min(h.getValueAtPercentile(p), h.maxValue));
  return {
    count: n,
    min_us: n === 0 ? 0 : h.minNonZeroValue,
    mean_us: n === 0 ? 0 : round1(h.mean),
    p50_us: at(50),
    p90_us: at(90),
    p99_us: at(99),
    p999_us: at(99.9),
    max_us: n === 0 ? 0 : h.maxValue,
  };
}

/**
 * The percentile curve: percentiles spaced evenly in "nines" (50, 68, 80, 87, 90, ...
 * 99, 99.9 ...), 10 points per nine, up to the last one the sample count can resolve,
 * then the maximum. This is the classic HDR plot: the tail gets as much room as the body.
 */
export function percentileCurve(h: hdr.Histogram): PercentilePoint[] {
  const n = h.totalCount;
  if (n === 0) return [];
  const points: PercentilePoint[] = [];
  for (let k = 0; ; k++) {
    const p = 100 * (1 - 0.5 * 10 ** (-k / 10));
    // Past 1 - 1/n a percentile is the maximum: stop before repeating it.
    if ((1 - p / 100) * n < 1) break;
    points.push({ percentile: Math.round(p * 10_000) / 10_000, latency_us: Math.min(h.getValueAtPercentile(p), h.maxValue) });
  }
  points.push({ percentile: 100, latency_us: h.maxValue });
  return points;
}

/** The distribution, compressed (HdrHistogram's own format): decodeFromCompressedBase64 reads it back. */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}
