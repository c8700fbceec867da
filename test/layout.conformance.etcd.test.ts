// The ProjectionStore contract against etcd (etcd://HOST:PORT/PREFIX), on a
// real etcd started for this file; each test gets its own key prefix.

import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll } from 'vitest';

import { startEtcd, type EtcdServer } from './helpers/etcd.js';
import { projectionStoreSuite } from './helpers/projection-store-suite.js';

let etcd: EtcdServer;
let raw: Etcd3;
beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: `http://${etcd.endpoint}` });
});
afterAll(async () => {
  raw?.close();
  await etcd?.close();
});
let made = 0;

projectionStoreSuite({
  name: 'etcd://',
  fresh: async () => {
    const prefix = `corfu/conformance-${++made}`;
    const slotKey = (epoch: number): string => `${prefix}/epochs/${String(epoch).padStart(16, '0')}`;
    return {
      url: etcd.url(prefix),
      plant: async (epoch, text) => {
        await raw.put(slotKey(epoch)).value(text);
      },
      plantStrays: async () => {
        await raw.put(`${prefix}/epochs/9`).value('junk');
        await raw.put(`${slotKey(9)}.bak`).value('junk');
        await raw.put(`${prefix}/epochs/zzz`).value('junk'); // sorts above every slot
        await raw.put(`${prefix}/README`).value('junk');
      },
    };
  },
});
