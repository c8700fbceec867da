// Deciding a transaction (docs/objects.md, "Transactions"). Pure: given the commit
// record at address c and a way to ask a key's version as of an address, it answers
// commit or abort. Every client that replays the record asks the same versions of
// the same log prefix (everything below c, decided the same way recursively), so every
// client reaches the same outcome without talking to any other.
//
// The rule (optimistic concurrency control, Tango's): commit if and only if every key
// the transaction read still has, just below its commit record, the version it read
// at its snapshot: no write committed between the snapshot and the commit touched
// anything it read. A transaction that read nothing (write-only) always commits.

import type { CommitRecord } from './records.js';
import type { Decision } from './view.js';

/** A key's version (the address of its last committed write, -1 for none) as of `address`. */
export type VersionAt = (object: string, key: string, address: number) => Promise<number>;

export async function decide(address: number, record: CommitRecord, versionAt: VersionAt): Promise<Decision> {
  const actual = await Promise.all(record.reads.map((r) => versionAt(r.object, r.key, address - 1)));
  for (const [i, r] of record.reads.entries()) {
    if (actual[i] !== r.version) {
      const key = r.key === '' ? 'the whole object' : `key ${JSON.stringify(r.key)}`;
      const read = r.version < 0 ? 'before any write' : `at version ${r.version}`;
      return { committed: false, why: `it read ${key} of ${r.object} ${read}, and the write at ${actual[i]} committed before it (its commit record is at ${address})` };
    }
  }
  return { committed: true };
}
