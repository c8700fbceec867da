// `read --pattern tail`: N clients x D appends in flight, and F followers, each a
// CorfuClient iterating `follow()` from the tail the run started at, as a consumer of
// the log would. A follower's figure is deliveries per second and the latency from
// the call of `append` to the follower holding the entry (a WAIT_TAIL long poll on the
// sequencer, then a READ at the tail replica). Every delivered entry is checked byte
// for byte; after the window, each follower must deliver every entry the appenders had
// acknowledged (within DRAIN_MS) or the read-back reports it missing.

import { performance } from 'node:perf_hooks';

import { CorfuError } from '../../../bindings/errors.js';
import type { CorfuClient } from '../../client/client.js';
import { closedLoop } from '../driver.js';
import { Acked, Payloads } from '../payload.js';
import { OpRecorder, Window } from '../recorder.js';
import type { VerifyFigures } from '../schema.js';
import { readBack } from '../verify.js';
import { closeClients, connectClients, toRun, type ClientFlags, type WorkloadContext, type WorkloadOutput, loopShape } from './common.js';

/** How long the followers get, after the appends stop, to deliver the last acknowledged entry. */
const DRAIN_MS = 10_000;

class Follower {
  readonly controller = new AbortController();
  /** Sequence numbers delivered with the right bytes. */
  delivered = 0;
  /** The address after the last entry delivered. */
  next: number;
  constructor(
    readonly client: CorfuClient,
    from: number,
  ) {
    this.next = from;
  }
}

export async function followWorkload(ctx: WorkloadContext, f: ClientFlags, followerCount: number): Promise<WorkloadOutput> {
  const clients = await connectClients(ctx.layout, f.clients, f.separateConnections);
  const followerClients = await connectClients(ctx.layout, followerCount, f.separateConnections).catch(async (err: unknown) => {
    await closeClients(clients);
    throw err;
  });
  try {
    const payloads = new Payloads(f.entrySizeBytes);
    const acked = new Acked();
    // When each entry's append was called (performance.now()), by sequence number.
    let startedAt = new Float64Array(1 << 16);
    const window = new Window();
    const appends = new OpRecorder(window);
    const deliveries = new OpRecorder(window);
    const from = await clients[0]!.tail();
    const followers = followerClients.map((c) => new Follower(c, from));
    let maxAcked = -1;
    let seq = 0;
    const follow = async (fl: Follower): Promise<void> => {
      try {
        for await (const entry of fl.client.follow(from, { signal: fl.controller.signal })) {
          const now = performance.now();
          fl.next = entry.address + 1;
          if (entry.kind !== 'data') continue;
          const s = payloads.seqOf(entry.payload);
          if (s === undefined) continue; // another writer's entry
          if (!payloads.matches(s, entry.payload)) throw new CorfuError('ERR_IO', `follow: entry ${entry.address} differs from what was appended`);
          fl.delivered++;
          deliveries.recordLatency(now, (now - startedAt[s]!) * 1000);
        }
      } catch (err) {
        if (!fl.controller.signal.aborted) throw err;
      }
    };
    const loop = await closedLoop({
      ...loopShape(ctx, f, f.clients * f.depth, window),
      label: 'follow',
      measured: () => deliveries.ops,
      op: async (w) => {
        const s = seq++;
        if (s >= startedAt.length) {
          const grown = new Float64Array(startedAt.length * 2);
          grown.set(startedAt);
          startedAt = grown;
        }
        const t0 = performance.now();
        startedAt[s] = t0;
        const address = await clients[w % f.clients]!.append(payloads.make(s));
        appends.record(t0, performance.now());
        acked.push(address, s);
        maxAcked = Math.max(maxAcked, address);
      },
      background: followers.map((fl) => ({ run: () => follow(fl), stop: () => fl.controller.abort() })),
      // Every follower gets until DRAIN_MS to pass the last acknowledged address.
      drain: async () => {
        const deadline = performance.now() + DRAIN_MS;
        while (followers.some((fl) => fl.next <= maxAcked) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      },
    });
    // Every acknowledged entry must have reached every follower: the slowest one counts.
    const slowest = Math.min(...followers.map((fl) => fl.delivered));
    let verify: VerifyFigures = {
      appended: acked.length,
      read_back: Math.min(slowest, acked.length),
      missing: Math.max(0, acked.length - slowest),
      mismatched: 0,
      first_problem: slowest < acked.length ? `a follower delivered ${slowest} of the ${acked.length} acknowledged entries within ${DRAIN_MS} ms of the end` : null,
    };
    if (f.verify && verify.missing === 0) verify = await readBack(clients[0]!, acked, payloads);
    const runs = [
      toRun(
        {
          label: 'corfu follow (tail)',
          system: 'corfu',
          op: 'delivery',
          bytesPerOp: f.entrySizeBytes,
          notes: [`${followerCount} follower(s); latency is from the call of append to a follower holding the entry`],
        },
        deliveries.finish(),
        loop,
      ),
      toRun({ label: 'corfu append (tail)', system: 'corfu', op: 'append', bytesPerOp: f.entrySizeBytes }, appends.finish(), loop),
    ];
    return { runs, verify, extra: { followers: followerCount, follow_from: from, delivered_per_follower: followers.map((fl) => fl.delivered) } };
  } finally {
    await closeClients([...clients, ...followerClients]);
  }
}
