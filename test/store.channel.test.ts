// Many requests answered in one round buffer: the addon packs every answer that
// completed together into one Buffer, so concurrent calls must each get exactly their own
// answer back, whatever the sizes of the replies before them in that buffer.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { Store } from '../bindings/index.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-channel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payloadFor = (address: number): Buffer => {
  // Odd, varying lengths so read replies have every padding remainder.
  const length = 1 + ((address * 37) % 301);
  return Buffer.alloc(length, address % 251);
};

it('answers hundreds of concurrent reads and writes, each with its own bytes', async () => {
  const path = join(dir, 'unit.img');
  Store.format(path, { sizeBytes: 32 << 20 });
  const store = Store.open(path, { sync: 'none' });
  try {
    const addresses = Array.from({ length: 600 }, (_, i) => i);
    const writes = await Promise.all(addresses.map((a) => store.write(0, [{ address: a, payload: payloadFor(a) }])));
    expect(writes.every(([w]) => w!.status === 'OK')).toBe(true);

    for (let round = 0; round < 5; round++) {
      // Mixed batch sizes, all in flight at once, including unwritten addresses.
      const reads = await Promise.all(addresses.map((a) => store.read(0, a % 3 === 0 ? [a, a + 1000] : [a])));
      reads.forEach((outcomes, i) => {
        const first = outcomes[0]!;
        expect(first.status).toBe('OK');
        expect(first.kind).toBe('data');
        expect(first.payload!.equals(payloadFor(i))).toBe(true);
        if (i % 3 === 0) expect(outcomes[1]!.status).toBe('ERR_UNWRITTEN');
      });
    }
  } finally {
    await store.close();
  }
});
