// A CorfuClient's metrics for the service that hosts it: a prom-client
// Registry to serve or merge with its own. The counts the client keeps anyway
// (its `stats`) are read at scrape time; only the calls' outcomes and
// latencies are recorded as they end (one observer, see observeCalls).

import { createRequire } from 'node:module';

import type { Counter, Gauge, Registry } from 'prom-client';

import type { CorfuClient } from './client.js';

/**
 * prom-client, loaded on the first clientMetrics() call rather than with the library:
 * it takes 150 ms or more to load, which a service that never asks for metrics should
 * not pay at import (it is CommonJS, so a synchronous require works).
 */
function promClient(): typeof import('prom-client') {
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
}

/** Call latencies, seconds: from a loopback append (~0.1 ms) to a call at its default 5 s deadline. */
const CALL_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Stats = CorfuClient['stats'];

/** The client's own counts, as Prometheus counters. */
const MIRRORED: ReadonlyArray<readonly [name: string, stat: keyof Stats, help: string]> = [
  ['corfu_client_resends_total', 'resends', 'requests sent again after no answer in time (retries)'],
  ['corfu_client_hole_fills_total', 'fills', 'holes this client filled with junk after the hole timeout'],
  ['corfu_client_refreshes_total', 'refreshes', 'projection reloads (ERR_SEALED, or a server that did not answer)'],
  ['corfu_client_token_requests_total', 'tokenRequests', 'TOKEN requests answered by the sequencer'],
  ['corfu_client_tokens_total', 'tokens', 'tokens (log addresses) taken'],
  ['corfu_client_new_tokens_total', 'newTokens', 'appends that took another token (their address was taken, or lost in a reconfiguration)'],
  ['corfu_client_unit_reads_total', 'unitReads', 'READ requests sent to units, one per address and attempt'],
  ['corfu_client_read_deferrals_total', 'readDeferrals', 'read entries a unit deferred to the next frame (its answer was full)'],
  ['corfu_client_abandoned_requests_total', 'abandoned', 'requests given up because a new projection dropped their server (sent again under it)'],
  ['corfu_client_stream_tokens_total', 'streamTokens', 'STREAM_TOKEN requests answered'],
  ['corfu_client_stream_recovery_reads_total', 'streamRecoveryReads', "addresses read to rebuild a sequencer's stream tails"],
];

/**
 * A registry of `client`'s metrics: calls by outcome and their latencies, resends,
 * hole fills, refreshes, tokens. Give `registry` to add them to one the service
 * already serves (one client per registry: the names are the same for every client).
 * It replaces any observer the client had (observeCalls).
 */
export function clientMetrics(client: CorfuClient, registry?: Registry): Registry {
  const { Counter, Gauge, Histogram, Registry } = promClient();
  registry ??= new Registry();
  const registers = [registry];
  const calls = new Counter({
    name: 'corfu_client_calls_total',
    help: 'calls ended, by operation and outcome (ok, or the error code)',
    labelNames: ['op', 'outcome'],
    registers,
  });
  const latency = new Histogram({
    name: 'corfu_client_call_latency_seconds',
    help: 'calls from start to end (success or failure), by operation',
    labelNames: ['op'],
    buckets: CALL_BUCKETS_SECONDS,
    registers,
  });
  for (const [name, stat, help] of MIRRORED) {
    new Counter({
      name,
      help,
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(client.stats[stat]);
      },
    });
  }
  new Gauge({
    name: 'corfu_client_epoch',
    help: 'the projection epoch the client works under',
    registers,
    collect(this: Gauge) {
      this.set(client.epoch);
    },
  });
  client.observeCalls((op, seconds, failure) => {
    calls.inc({ op, outcome: failure ?? 'ok' });
    latency.observe({ op }, seconds);
  });
  return registry;
}
