// Several load-generator processes' recordings as one: the histograms added (HDR
// histograms of the same precision add bucket by bucket, so every percentile is what
// one histogram of all the samples would say), the per-second series added second by
// second, each second's percentiles from the added histograms. Adding loses the exact
// extremes (a value comes back as its bucket's top), so min and max are the parts'.

import * as hdr from 'hdr-histogram-js';

import { encodeHistogram, newHistogram, percentileCurve, summarize } from './histogram.js';
import type { Recorded } from './recorder.js';
import type { SecondPoint } from './series.js';

function addInto(total: hdr.Histogram, encoded: string): void {
  const h = hdr.decodeFromCompressedBase64(encoded);
  total.add(h);
  h.destroy();
}

export function mergeRecorded(parts: readonly Recorded[]): Recorded {
  const total = newHistogram();
  for (const p of parts) addInto(total, p.histogram_hdr);
  const seconds = Math.max(0, ...parts.map((p) => p.series.length));
  const series: SecondPoint[] = [];
  for (let i = 0; i < seconds; i++) {
    const h = newHistogram();
    let ops = 0;
    let perS = 0;
    let t = 0;
    for (const p of parts) {
      const point = p.series[i];
      if (point === undefined) continue;
      ops += point.ops;
      perS += point.ops_per_s;
      t = Math.max(t, point.t_s);
      const enc = p.series_hdr?.[i];
      if (enc !== undefined) addInto(h, enc);
    }
    const n = h.totalCount;
    series.push({ t_s: t, ops, ops_per_s: Math.round(perS), p50_us: n === 0 ? 0 : h.getValueAtPercentile(50), p99_us: n === 0 ? 0 : h.getValueAtPercentile(99) });
    h.destroy();
  }
  const nonEmpty = parts.filter((p) => p.latency_us.count > 0);
  const max = Math.max(0, ...nonEmpty.map((p) => p.latency_us.max_us));
  const min = nonEmpty.length === 0 ? 0 : Math.min(...nonEmpty.map((p) => p.latency_us.min_us));
  const cap = (us: number): number => Math.min(us, max);
  const s = summarize(total);
  const latency = { ...s, min_us: min, max_us: max, p50_us: cap(s.p50_us), p90_us: cap(s.p90_us), p99_us: cap(s.p99_us), p999_us: cap(s.p999_us) };
  const out: Recorded = {
    ops: parts.reduce((a, p) => a + p.ops, 0),
    latency_us: latency,
    percentiles: percentileCurve(total).map((pt) => ({ percentile: pt.percentile, latency_us: pt.percentile === 100 ? max : cap(pt.latency_us) })),
    series,
    histogram_hdr: encodeHistogram(total),
  };
  total.destroy();
  return out;
}
