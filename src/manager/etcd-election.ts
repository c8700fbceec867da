// One active manager per cluster on an etcd store: etcd's election recipe on
// a lease of `ttlSeconds` (etcd3's Election). A standby waits in the election
// until the leader resigns or its lease expires, so it takes over within the
// TTL of the active manager's death. A leader whose lease is lost (etcd
// unreachable past the TTL, a partition) hears it as `lost` and must stop
// acting: another manager may lead by then.

import { hostname } from 'node:os';

import { CorfuError } from '../../bindings/errors.js';
import type { EtcdProjectionStore } from '../layout/etcd-store.js';
import type { Election, Leadership } from './election.js';

export class EtcdElection implements Election {
  readonly #store: EtcdProjectionStore;
  readonly #ttlSeconds: number;

  constructor(store: EtcdProjectionStore, ttlSeconds = 5) {
    this.#store = store;
    this.#ttlSeconds = ttlSeconds;
  }

  async campaign(signal?: AbortSignal): Promise<Leadership> {
    const election = this.#store.client.election(`${this.#store.prefix}/manager`, this.#ttlSeconds);
    const campaign = election.campaign(`${hostname()} ${process.pid}`);
    let lose!: () => void;
    const lost = new Promise<void>((resolve) => (lose = resolve));
    // An error before or after the election (the lease lost, etcd gone past the TTL) ends the leadership.
    let failed: Error | undefined;
    campaign.on('error', (err: Error) => {
      failed = err;
      lose();
    });
    const aborted = new Promise<never>((_, reject) => {
      const stop = (): void => reject(new CorfuError('ERR_ABORTED', 'stopped before it could lead', { cause: signal?.reason }));
      if (signal?.aborted === true) stop();
      else signal?.addEventListener('abort', stop, { once: true });
    });
    aborted.catch(() => {});
    try {
      await Promise.race([campaign.wait(), aborted, lost.then(() => Promise.reject(failed!))]);
    } catch (err) {
      await campaign.resign().catch(() => {});
      if (err instanceof CorfuError) throw err;
      throw new CorfuError('ERR_UNAVAILABLE', `manager election in etcd: ${(err as Error | undefined)?.message ?? 'lost'}`, { cause: err });
    }
    let released = false;
    return {
      lost,
      release: async () => {
        if (released) return;
        released = true;
        await campaign.resign().catch(() => {});
      },
    };
  }
}
