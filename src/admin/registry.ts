// A server's own prom-client Registry with the process metrics (CPU, memory,
// event loop lag, GC, handles) in it. Never the global registry: the servers of
// one test process, and a host service with several clients, must not share
// counters or collide on names.

import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

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
