// Appends `count` stamped entries before a read workload's window (untimed), so the
// reads have entries of this run to read and check.

import { CorfuError } from '../../../bindings/errors.js';
import type { CorfuClient } from '../../client/client.js';
import type { Acked, Payloads } from '../payload.js';
import type { OpRecorder } from '../recorder.js';

export async function prefill(clients: readonly CorfuClient[], inFlight: number, count: number, payloads: Payloads, acked: Acked, nextSeq: () => number): Promise<number> {
  const t0 = performance.now();
  let issued = 0;
  const loop = async (w: number): Promise<void> => {
    while (issued < count) {
      issued++;
      const seq = nextSeq();
      acked.push(await clients[w % clients.length]!.append(payloads.make(seq)), seq);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, (_, w) => loop(w)));
  return (performance.now() - t0) / 1000;
}

/** A uniformly random index below `n` (n >= 1). */
export function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

/** Reads one entry this run appended, chosen at random, timed into `rec`; anything but its bytes is ERR_IO. */
export async function readRandom(client: CorfuClient, acked: Acked, payloads: Payloads, rec: OpRecorder): Promise<void> {
  const i = randomIndex(acked.length);
  const address = acked.address(i);
  const t0 = performance.now();
  const entry = await client.read(address);
  rec.record(t0, performance.now());
  if (entry.kind !== 'data' || !payloads.matches(acked.seq(i), entry.payload)) {
    throw new CorfuError('ERR_IO', `read ${address}: ${entry.kind === 'data' ? 'the bytes differ from what this run appended there' : `${entry.kind} instead of the entry this run appended`}`);
  }
}
