// A server's own prom-client Registry with the process metrics (CPU, memory,
// event loop lag, GC, handles) in it. Never the global registry: the servers of
// one test process, and a host service with several clients, must not share
// counters or collide on names.

import { Counter, Histogram, Registry, collectDefaultMetrics, type Metric, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';

export function serverRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which Prometheus's linter (promtool check metrics)
  // rejects; their labelled twins (nodejs_active_handles{type}, ...) hold the same counts.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  return registry;
}

/**
 * Request latencies, seconds: a loopback unit answers a write in tens of
 * microseconds without sync and in a millisecond or more with it; a second or
 * more is a stall worth seeing on its own.
 */
export const LATENCY_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * A counter whose value is kept elsewhere (a plain number incremented in place on
 * a hot path) and read at scrape time. A count that went down (its source was
 * replaced) is a counter reset, as Prometheus understands one.
 */
export function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      this.inc(read());
    },
  });
}

/** Observations counted outside JS: per bucket of the histogram's bounds (not cumulative), the last past them all. */
export interface OutsideObservations {
  readonly buckets: readonly number[];
  readonly sumSeconds: number;
}

/**
 * A histogram (no labels) whose scrape adds observations counted elsewhere — a native
 * front's, on its own thread — to those observed here. prom-client has no way to add
 * bucket counts, so the registry gets this wrapper: it exports the inner histogram's
 * values with `outside()`'s added to each cumulative bucket, the count and the sum.
 */
export function mergedHistogram(registry: Registry, o: { name: string; help: string; buckets: readonly number[] }, outside: () => OutsideObservations | undefined): Histogram {
  const inner = new Histogram({ name: o.name, help: o.help, buckets: [...o.buckets], registers: [] });
  const merged = {
    name: o.name,
    help: o.help,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => inner.reset(),
    get: async (): Promise<MetricObjectWithValues<MetricValueWithName<string>>> => {
      const data = await inner.get();
      const more = outside();
      if (more === undefined) return data;
      const cumulative: number[] = [];
      let total = 0;
      for (const n of more.buckets) cumulative.push((total += n));
      const values = data.values.map((v) => {
        if (v.metricName === `${o.name}_bucket`) {
          const le = v.labels.le;
          const i = le === '+Inf' ? o.buckets.length : o.buckets.indexOf(Number(le));
          return { ...v, value: v.value + (cumulative[i] ?? total) };
        }
        if (v.metricName === `${o.name}_sum`) return { ...v, value: v.value + more.sumSeconds };
        if (v.metricName === `${o.name}_count`) return { ...v, value: v.value + total };
        return v;
      });
      return { ...data, values };
    },
  };
  registry.registerMetric(merged as unknown as Metric);
  return inner;
}
