// The read-back after a run: every entry the run had acknowledged is read again and
// compared byte for byte with what was appended. An append that was acknowledged and
// cannot be read back with its bytes is the one failure a log must never have; the
// result reports it (and the CLI exits 1), whatever the figures.

import type { CorfuClient } from '../client/client.js';
import type { Acked, Payloads } from './payload.js';
import type { VerifyFigures } from './schema.js';

/** Reads in flight during the read-back. */
const IN_FLIGHT = 64;

export async function readBack(client: CorfuClient, acked: Acked, payloads: Payloads): Promise<VerifyFigures> {
  let next = 0;
  let readBackCount = 0;
  let missing = 0;
  let mismatched = 0;
  let first: string | null = null;
  const reader = async (): Promise<void> => {
    while (next < acked.length) {
      const i = next++;
      const address = acked.address(i);
      try {
        const entry = await client.read(address);
        if (entry.kind !== 'data') {
          missing++;
          first ??= `address ${address}: ${entry.kind} instead of the appended entry`;
        } else if (!payloads.matches(acked.seq(i), entry.payload)) {
          mismatched++;
          first ??= `address ${address}: the bytes differ from what was appended`;
        } else readBackCount++;
      } catch (err) {
        missing++;
        first ??= `address ${address}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, reader));
  return { appended: acked.length, read_back: readBackCount, missing, mismatched, first_problem: first };
}
