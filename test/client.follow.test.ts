// CorfuClient.follow against a cluster in this process (helpers/fake-cluster.ts): what a
// follower rides out and what ends it. A follower serves a process for hours; a unit that
// sheds load or drops its connections for a while must not end it.

import { afterEach, describe, expect, it } from 'vitest';

import type { Entry } from '../src/client/client.js';
import { FakeCluster, refuse } from './helpers/fake-cluster.js';

let fake: FakeCluster;

afterEach(async () => {
  await fake.closeAll();
});

const text = (e: Entry): string => (e.kind === 'data' ? Buffer.from(e.payload).toString() : '<junk>');

/** The first `n` entries a follower from 0 delivers. */
async function firstEntries(follower: AsyncGenerator<Entry>, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of follower) {
    out.push(text(e));
    if (out.length === n) break;
  }
  return out;
}

describe('follow', () => {
  it.each(['ERR_OVERLOADED', 'ERR_UNAVAILABLE'] as const)('rides out a unit that answers every read with %s for longer than a call may take', async (code) => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const writer = await fake.connect();
    for (const s of ['a', 'b', 'c']) await writer.append(Buffer.from(s));
    // Every READ is refused for three times a call's deadline from the first one.
    const c = await fake.connect({ timeoutMs: 200 });
    let refusedUntil: number | undefined;
    let refused = 0;
    fake.answer = (_to, req) => {
      if (req.op !== 'READ') return undefined;
      refusedUntil ??= Date.now() + 600;
      if (Date.now() >= refusedUntil) return undefined;
      refused++;
      return refuse(req, code, 'busy');
    };
    expect(await firstEntries(c.follow(0, { pollMs: 50 }), 3)).toEqual(['a', 'b', 'c']);
    // The entries came after the refusals, which outlasted a read's own deadline: the
    // follower itself waited and read again.
    expect(refused).toBeGreaterThan(0);
  });

  it('ends on an error it cannot ride out (a read refused as malformed), with that error', async () => {
    fake = new FakeCluster();
    await fake.install({ epoch: 1, sequencer: 'seq:1', chain: ['u1:1'] });
    const writer = await fake.connect();
    await writer.append(Buffer.from('a'));
    const c = await fake.connect({ timeoutMs: 200 });
    fake.answer = (_to, req) => (req.op === 'READ' ? refuse(req, 'ERR_BAD_REQUEST', 'no') : undefined);
    await expect(firstEntries(c.follow(0, { pollMs: 50 }), 1)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
  });
});
