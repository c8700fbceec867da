// The fault plan of one seed: which faults are on and how often, drawn from
// the seed, and the counters of what was injected. The injection itself is
// scheduled by run.ts on the virtual clock.

import type { NetworkFaults } from './network.js';
import type { Prng } from './prng.js';

export interface FaultProfile {
  readonly net: NetworkFaults;
  /** Expected events per 100 ms of virtual time. */
  readonly partitionRate: number;
  readonly unitCrashRate: number;
  /** A unit's device lost for good (replaced by a fresh unit). */
  readonly unitLossRate: number;
  readonly clientCrashRate: number;
  readonly reconfigRate: number;
  /** Probability per fault tick of arming a crash between two replicas / after a token. */
  readonly midChainCrashRate: number;
  readonly afterTokenCrashRate: number;
  /** Probability the sequencer crashes (once) during the run. */
  readonly sequencerCrash: number;
  /** Probability a reconfiguration gets a concurrent competitor. */
  readonly concurrentReconfig: number;
  /** Whether the workload trims. */
  readonly trims: boolean;
}

export const FAULT_KINDS = [
  'drop',
  'duplicate',
  'delay-spike',
  'partition-symmetric',
  'partition-one-way',
  'unit-crash',
  'unit-lost',
  'sequencer-crash',
  'client-crash',
  'client-crash-mid-chain',
  'client-crash-after-token',
  'reconfigure',
  'reconfigure-concurrent',
  'failover',
  'manager-crash',
  'manager-crash-mid-rebuild',
  'trim',
  'prefix-trim',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export type FaultCounts = Record<FaultKind, number>;

export function noFaults(): FaultCounts {
  return Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultCounts;
}

export function drawProfile(rng: Prng): FaultProfile {
  if (rng.chance(0.1)) {
    // A calm seed: the protocol without faults (still concurrent clients).
    return {
      net: { drop: 0, duplicate: 0, spike: 0, spikeMaxMs: 0 },
      partitionRate: 0,
      unitCrashRate: 0,
      unitLossRate: 0,
      clientCrashRate: 0,
      reconfigRate: 0,
      midChainCrashRate: 0,
      afterTokenCrashRate: 0,
      sequencerCrash: 0,
      concurrentReconfig: 0,
      trims: rng.chance(0.5),
    };
  }
  const on = (p: number): boolean => rng.chance(p);
  return {
    net: {
      drop: on(0.6) ? rng.float() * 0.08 : 0,
      duplicate: on(0.5) ? rng.float() * 0.08 : 0,
      spike: on(0.6) ? rng.float() * 0.1 : 0,
      spikeMaxMs: rng.between(5, 80),
    },
    partitionRate: on(0.5) ? rng.float() * 1.5 : 0,
    unitCrashRate: on(0.5) ? rng.float() * 1.5 : 0,
    unitLossRate: on(0.3) ? rng.float() * 0.3 : 0,
    clientCrashRate: on(0.4) ? rng.float() * 0.8 : 0,
    reconfigRate: on(0.6) ? rng.float() * 1.5 : 0,
    midChainCrashRate: on(0.4) ? rng.float() * 0.1 : 0,
    afterTokenCrashRate: on(0.4) ? rng.float() * 0.1 : 0,
    sequencerCrash: on(0.5) ? 0.8 : 0,
    concurrentReconfig: rng.float() * 0.6,
    trims: on(0.5),
  };
}
