// CorfuClient's arguments and defaults, with no server at all: what it refuses is refused
// before a byte is sent, so a projection naming unreachable addresses is enough. (The same
// refusals through a real cluster are in client.service.test.ts; this file runs in the
// mutation tests' config, which starts no server.)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { recheckDelayMs, resendBackoffMs } from '../src/client/client.js';
import { CorfuClient, type ConnectOptions } from '../src/client/index.js';
import { nodeRuntime, type ClientRuntime } from '../src/client/runtime.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../src/client/server-pool.js';
import { RECOVERY_RANGE } from '../src/client/stream-recovery.js';
import { FileProjectionStore, parseProjection } from '../src/layout/index.js';
import { MAX_STREAMS_PER_ENTRY, MAX_STREAMS_PER_QUERY, MAX_TOKENS_PER_REQUEST } from '../src/wire/messages.js';

const MAX_ENTRY_BYTES = 100;
let dir: string;
let store: FileProjectionStore;
const clients: CorfuClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'corfu-client-args-'));
  store = new FileProjectionStore(dir);
  // Port 9 (discard) on loopback: nothing listens, and nothing here may reach it.
  const proposed = await store.propose(
    parseProjection({
      epoch: 1,
      sequencer: '127.0.0.1:9',
      units: ['127.0.0.1:9'],
      segments: [{ start: 0, end: null, stripes: [{ chain: ['127.0.0.1:9'] }] }],
      maxEntryBytes: MAX_ENTRY_BYTES,
    }),
  );
  expect(proposed.accepted).toBe(true);
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(options: Partial<ConnectOptions> = {}): Promise<CorfuClient> {
  const c = await CorfuClient.connect({ layout: store, ...options });
  clients.push(c);
  return c;
}

const OPTIONS = ['deadlineMs', 'timeoutMs', 'holeTimeoutMs', 'readAhead', 'streamRecoveryRange', 'maxRefreshes', 'refreshDelayMs', 'maxInFlight'] as const;

describe('CorfuClient.connect', () => {
  it('takes the documented defaults', async () => {
    const c = await connect();
    expect({
      deadlineMs: c.deadlineMs,
      timeoutMs: c.timeoutMs,
      holeTimeoutMs: c.holeTimeoutMs,
      readAhead: c.readAhead,
      streamRecoveryRange: c.streamRecoveryRange,
      maxRefreshes: c.maxRefreshes,
      refreshDelayMs: c.refreshDelayMs,
      maxInFlight: c.maxInFlight,
    }).toEqual({
      deadlineMs: 5000,
      timeoutMs: 2000,
      holeTimeoutMs: 200,
      readAhead: 64,
      streamRecoveryRange: RECOVERY_RANGE,
      maxRefreshes: 100,
      refreshDelayMs: 20,
      maxInFlight: DEFAULT_MAX_IN_FLIGHT,
    });
    expect(c.epoch).toBe(1);
    expect(c.maxEntryBytes).toBe(MAX_ENTRY_BYTES);
  });

  it('takes each option as given, down to 1', async () => {
    for (const name of OPTIONS) {
      const c = await connect({ [name]: 1 });
      expect(c[name], name).toBe(1);
      const d = await connect({ [name]: 7 });
      expect(d[name], name).toBe(7);
    }
  });

  it('refuses an option that is not a positive integer, naming it and the value', async () => {
    for (const name of OPTIONS) {
      for (const [bad, shown] of [
        [0, 'number 0'],
        [-1, 'number -1'],
        [1.5, 'number 1.5'],
        [Number.NaN, 'number NaN'],
      ] as const) {
        await expect(CorfuClient.connect({ layout: store, [name]: bad }), `${name} = ${bad}`).rejects.toMatchObject({
          code: 'ERR_BAD_REQUEST',
          message: `${name} must be a positive integer, got ${shown}`,
        });
      }
    }
  });

  it('refuses options that are not an object, and a layout that is neither a URL nor a store', async () => {
    await expect(CorfuClient.connect(undefined as never)).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: 'connect: options must be an object with a layout, got undefined',
    });
    await expect(CorfuClient.connect(null as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'connect: options must be an object with a layout, got null' });
    for (const layout of [5, null, {}, { latest: 'no' }]) {
      await expect(CorfuClient.connect({ layout } as never)).rejects.toMatchObject({
        code: 'ERR_BAD_REQUEST',
        message: expect.stringMatching(/^connect: layout must be a layout URL \(file:DIR\) or a ProjectionStore, got /),
      });
    }
  });

  it('answers ERR_NO_LAYOUT for an empty store, and leaves a store it was given open', async () => {
    const emptyDir = mkdtempSync(join(tmpdir(), 'corfu-client-args-empty-'));
    const empty = new FileProjectionStore(emptyDir);
    try {
      await expect(CorfuClient.connect({ layout: empty })).rejects.toMatchObject({
        code: 'ERR_NO_LAYOUT',
        message: expect.stringMatching(/holds no projection \(create one with corfu layout init, or start a cluster with corfu up\)$/),
      });
      // Still usable: the client did not close what it did not open.
      expect(await empty.latest()).toBeUndefined();
    } finally {
      await empty.close();
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});

/** Node's runtime with a dialer that counts the connections opened through it. */
function countingRuntime(): { runtime: ClientRuntime; dials: () => number } {
  let dials = 0;
  const runtime: ClientRuntime = {
    ...nodeRuntime,
    dialer: {
      dial: (host, port, handlers) => {
        dials++;
        return nodeRuntime.dialer.dial(host, port, handlers);
      },
    },
  };
  return { runtime, dials: () => dials };
}

describe('calls refused before anything is sent', () => {
  // Every connection the client opens goes through this dialer: none may be opened.
  const counting = countingRuntime();
  let c: CorfuClient;
  beforeAll(async () => {
    c = await connect({ deadlineMs: 50, runtime: counting.runtime, shareConnections: false });
  });
  afterEach(async () => {
    await new Promise((resolve) => setTimeout(resolve, 5)); // a token flush runs a microtask or an immediate later
    expect(counting.dials(), 'connections opened').toBe(0);
  });

  it('append: the payload must be a Uint8Array within the log limit', async () => {
    for (const [bad, shown] of [
      ['hello', "string 'hello'"],
      [undefined, 'undefined'],
      [[1, 2], 'an array of 2'],
    ] as const) {
      await expect(c.append(bad as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: expect.stringContaining(`append: payload must be a Uint8Array, got ${shown}`) });
    }
    await expect(c.append(new Uint8Array(MAX_ENTRY_BYTES + 1))).rejects.toMatchObject({
      code: 'ERR_TOO_LARGE',
      message: `append: the entry is ${MAX_ENTRY_BYTES + 1} bytes, above the log's maximum of ${MAX_ENTRY_BYTES} bytes; nothing was appended`,
    });
    expect(c.stats.tokenRequests).toBe(0);
  });

  it('appendBatch: an array of at most the token limit, each a Uint8Array within the limit; none is nothing', async () => {
    expect(await c.appendBatch([])).toEqual([]);
    await expect(c.appendBatch('x' as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: expect.stringMatching(/^appendBatch: payloads must be an array of Uint8Array, got /) });
    const many = Array.from({ length: MAX_TOKENS_PER_REQUEST + 1 }, () => new Uint8Array(1));
    await expect(c.appendBatch(many)).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: `appendBatch: at most ${MAX_TOKENS_PER_REQUEST} entries per call, got ${MAX_TOKENS_PER_REQUEST + 1}`,
    });
    await expect(c.appendBatch([new Uint8Array(1), 'x' as never])).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: expect.stringContaining('1') });
    await expect(c.appendBatch([new Uint8Array(1), new Uint8Array(MAX_ENTRY_BYTES + 1)])).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    expect(c.stats.tokenRequests).toBe(0);
  });

  it('appendTo and streamTails: a non-empty array of stream names, within the per-call limits', async () => {
    await expect(c.appendTo([], new Uint8Array(1))).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'appendTo: streams must be a non-empty array of names, got an array of 0' });
    await expect(c.appendTo('s' as never, new Uint8Array(1))).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: expect.stringMatching(/^appendTo: streams must be a non-empty array of names, got /),
    });
    const tooMany = Array.from({ length: MAX_STREAMS_PER_ENTRY + 1 }, (_, i) => `s${i}`);
    await expect(c.appendTo(tooMany, new Uint8Array(1))).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: `appendTo: at most ${MAX_STREAMS_PER_ENTRY} streams, got ${MAX_STREAMS_PER_ENTRY + 1}`,
    });
    const tooManyAsked = Array.from({ length: MAX_STREAMS_PER_QUERY + 1 }, (_, i) => `s${i}`);
    await expect(c.streamTails(tooManyAsked)).rejects.toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: `streamTails: at most ${MAX_STREAMS_PER_QUERY} streams, got ${MAX_STREAMS_PER_QUERY + 1}`,
    });
    expect(c.stats.streamTokens).toBe(0);
  });

  it('read, fill, trim, prefixTrim: an address must be a non-negative safe integer', async () => {
    for (const [bad, shown] of [
      ['5', "string '5'"],
      [-1, 'number -1'],
      [1.5, 'number 1.5'],
      [2 ** 53, `number ${2 ** 53}`],
    ] as const) {
      for (const call of [(a: number) => c.read(a), (a: number) => c.fill(a), (a: number) => c.trim(a), (a: number) => c.prefixTrim(a)]) {
        await expect(call(bad as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: expect.stringContaining(`address must be a non-negative safe integer, got ${shown}`) });
      }
    }
    expect(c.stats.unitReads).toBe(0);
  });

  it('per-call options: an object, a positive deadline, an AbortSignal', async () => {
    await expect(c.read(0, 5 as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'read 0: options must be an object, got number 5' });
    await expect(c.read(0, null as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'read 0: options must be an object, got null' });
    await expect(c.append(new Uint8Array(1), { deadlineMs: 0 })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'deadlineMs must be a positive integer, got number 0' });
    await expect(c.read(0, { signal: 'stop' } as never)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: "read 0: signal must be an AbortSignal, got string 'stop'" });
    const range = (async () => {
      for await (const _ of c.readRange(5, 3)) void _;
    })();
    await expect(range).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST', message: 'readRange: from (5) must not be above to (3)' });
  });

  it('an aborted signal ends the call with ERR_ABORTED before anything is sent (no token is asked for)', async () => {
    const ac = new AbortController();
    ac.abort(new Error('no'));
    await expect(c.append(new Uint8Array(1), { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'append: aborted' });
    await expect(c.read(3, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'read 3: aborted' });
  });

  it('a closed client refuses every call with ERR_CLOSED', async () => {
    const d = await connect();
    await d.close();
    await expect(d.append(new Uint8Array(1))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(d.read(0)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(d.appendBatch([new Uint8Array(1)])).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(d.appendTo(['s'], new Uint8Array(1))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

describe('the waiting schedules', () => {
  it('a hole is looked at again every millisecond ten times, then at doubling intervals up to 2^16 ms', () => {
    expect(Array.from({ length: 10 }, (_, n) => recheckDelayMs(n))).toEqual(Array(10).fill(1));
    expect([10, 11, 12, 13, 24, 25, 26, 100].map(recheckDelayMs)).toEqual([2, 4, 8, 16, 2 ** 15, 2 ** 16, 2 ** 16, 2 ** 16]);
  });

  it('a request without an answer is sent again after 10 ms, doubling up to 500 ms', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20, 1000].map(resendBackoffMs)).toEqual([10, 20, 40, 80, 160, 320, 500, 500, 500, 500]);
  });
});

describe('connections', () => {
  /** Two clients on one runtime read at once; how many connections to the unit did they open? */
  async function dialsOfTwo(shareConnections: boolean): Promise<number> {
    const { runtime, dials } = countingRuntime();
    // A long request timeout keeps the reconnect backoff (a share of it) above the call's 30 ms.
    const a = await connect({ runtime, shareConnections, timeoutMs: 10_000, deadlineMs: 30 });
    const b = await connect({ runtime, shareConnections, timeoutMs: 10_000, deadlineMs: 30 });
    const reads = await Promise.allSettled([a.read(0), b.read(0)]);
    expect(reads.map((r) => r.status)).toEqual(['rejected', 'rejected']); // nothing listens there
    await Promise.all([a.close(), b.close()]);
    return dials();
  }

  it('clients of one process share a connection per server by default, and keep their own with shareConnections: false', async () => {
    expect(await dialsOfTwo(true)).toBe(1);
    expect(await dialsOfTwo(false)).toBe(2);
  });
});

describe('at the limits, and the projection store', () => {
  let own: string;
  let watched: FileProjectionStore;
  // Room for the stream header of the most streams an entry may name.
  const layout = (epoch: number) =>
    parseProjection({ epoch, sequencer: '127.0.0.1:9', units: ['127.0.0.1:9'], segments: [{ start: 0, end: null, stripes: [{ chain: ['127.0.0.1:9'] }] }], maxEntryBytes: 65536 });
  beforeAll(async () => {
    own = mkdtempSync(join(tmpdir(), 'corfu-client-args-watch-'));
    watched = new FileProjectionStore(own);
    expect((await watched.propose(layout(1))).accepted).toBe(true);
  });
  afterAll(async () => {
    await watched.close();
    rmSync(own, { recursive: true, force: true });
  });

  it('exactly the most streams a call may name passes the argument checks and goes on to the sequencer', async () => {
    const c = await connect({ layout: watched, deadlineMs: 50 });
    const most = Array.from({ length: MAX_STREAMS_PER_ENTRY }, (_, i) => `s${i}`);
    const asked = Array.from({ length: MAX_STREAMS_PER_QUERY }, (_, i) => `s${i}`);
    // Nothing listens at the sequencer's address: the calls end by their deadline, not refused.
    for (const call of [c.appendTo(most, new Uint8Array(1)), c.streamTails(asked)]) {
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: expect.stringMatching(/^ERR_(TIMEOUT|UNAVAILABLE)$/) });
    }
  });

  it('a projection proposed in the store is adopted without a request: the store is watched', async () => {
    const c = await connect({ layout: watched });
    expect(c.epoch).toBe(1);
    expect((await watched.propose(layout(2))).accepted).toBe(true);
    for (let waited = 0; c.epoch < 2 && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(c.epoch).toBe(2);
    expect(c.stats.unitReads + c.stats.tokenRequests).toBe(0);
  });
});
