// The file-backed projection store (file:DIR): write-once epoch slots, atomic
// first-wins across processes, crash leftovers ignored, corruption reported.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { FileProjectionStore, epochFileName, epochOfFileName, openProjectionStore, parseProjection, projectionsEqual, type Projection } from '../src/layout/index.js';
import { rejectsWith } from './helpers/expect-error.js';
import { startProposers } from './helpers/proposers.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'corfu-layout-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function projection(epoch: number, sequencer = '127.0.0.1:9000'): Projection {
  return parseProjection({
    epoch,
    sequencer,
    units: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004'],
    segments: [
      { start: 0, end: 1000, stripes: [{ chain: ['127.0.0.1:7001', '127.0.0.1:7002'] }] },
      {
        start: 1000,
        end: null,
        stripes: [{ chain: ['127.0.0.1:7001', '127.0.0.1:7002'] }, { chain: ['127.0.0.1:7003', '127.0.0.1:7004'] }],
      },
    ],
  });
}

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(r.pid).toBeGreaterThan(0);
  return r.pid;
}

describe('FileProjectionStore', () => {
  it('propose, get and latest round-trip; an empty or missing store has nothing', async () => {
    const dir = join(tempDir(), 'not-yet');
    const store = await openProjectionStore(`file:${dir}`);
    expect(await store.latest()).toBeUndefined();
    expect(await store.get(1)).toBeUndefined();

    const one = projection(1);
    expect(await store.propose(one)).toEqual({ accepted: true, winner: one });
    expect(readdirSync(dir)).toEqual(['epoch-000000000001.json']);
    const two = projection(2, '127.0.0.1:9001');
    expect((await store.propose(two)).accepted).toBe(true);

    expect(await store.get(1)).toEqual(one);
    expect(await store.get(2)).toEqual(two);
    expect(await store.get(3)).toBeUndefined();
    expect(await store.latest()).toEqual(two);
    // Temps are gone after a proposal.
    expect(readdirSync(dir).sort()).toEqual(['epoch-000000000001.json', 'epoch-000000000002.json']);

    // A second store over the same directory (another process, in effect) sees the same.
    const again = new FileProjectionStore(dir);
    expect(await again.latest()).toEqual(two);
    // latest() keeps the highest slot it read (slots are write-once) but still lists the
    // directory each time: a projection another store proposes since is seen at once.
    const three = projection(3, '127.0.0.1:9002');
    expect((await again.propose(three)).accepted).toBe(true);
    expect(await store.latest()).toEqual(three);
    expect(await again.latest()).toEqual(three);
    await store.close();
  });

  it('a second proposal for an epoch loses and gets the winner back (even an identical one)', async () => {
    const store = new FileProjectionStore(tempDir());
    const first = projection(5, '127.0.0.1:9001');
    const second = projection(5, '127.0.0.1:9002');
    expect((await store.propose(first)).accepted).toBe(true);

    const lost = await store.propose(second);
    expect(lost.accepted).toBe(false);
    expect(lost.winner).toEqual(first);

    const identical = await store.propose(projection(5, '127.0.0.1:9001'));
    expect(identical.accepted).toBe(false);
    expect(projectionsEqual(identical.winner, first)).toBe(true);

    expect(await store.get(5)).toEqual(first);
    // Epochs need not be consecutive: the slot store holds what is proposed.
    expect(await store.latest()).toEqual(first);
  });

  it('validates proposals and epochs', async () => {
    const store = new FileProjectionStore(tempDir());
    const bad = { ...projection(1), units: ['127.0.0.1:7001'] } as Projection;
    const err = await rejectsWith(store.propose(bad), 'ERR_BAD_REQUEST');
    expect(err.message).toMatch(/not listed in units/);
    await rejectsWith(store.get(0), 'ERR_BAD_REQUEST');
    await rejectsWith(store.get(1.5), 'ERR_BAD_REQUEST');
    expect(await store.latest()).toBeUndefined();
  });

  it('concurrent proposals from several processes: exactly one accepted, all get the same winner', async () => {
    const dir = tempDir();
    const EPOCHS = 8;
    const proposers = await startProposers(`file:${dir}`, 6);
    try {
      for (let epoch = 1; epoch <= EPOCHS; epoch++) {
        const results = await proposers.race(epoch);
        for (const r of results) expect(r.error).toBeUndefined();
        const accepted = results.filter((r) => r.accepted === true);
        expect(accepted).toHaveLength(1);
        const winner = accepted[0]!.winner;
        for (const r of results) {
          expect(r.epoch).toBe(epoch);
          expect(r.winner).toEqual(winner);
        }
        // The file on disk is the winner.
        const store = new FileProjectionStore(dir);
        expect(await store.get(epoch)).toEqual(winner);
      }
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      expect(readdirSync(dir)).toHaveLength(EPOCHS);
    } finally {
      await proposers.close();
    }
  });

  it('a stray temp file from a crash mid-write is ignored, and cleaned once its writer is gone', async () => {
    const dir = tempDir();
    const store = new FileProjectionStore(dir);
    await store.propose(projection(1));
    // A proposer died between creating its temp and linking it: a half-written epoch 2.
    const stale = `.${epochFileName(2)}.${deadPid()}.0badc0ffee00.tmp`;
    writeFileSync(join(dir, stale), '{"epoch":2,"sequencer":"127.0.0.1:90');
    // A live proposer's temp (this process) must be left alone.
    const live = `.${epochFileName(3)}.${process.pid}.00000000beef.tmp`;
    writeFileSync(join(dir, live), '{');

    expect(await store.get(2)).toBeUndefined();
    expect(await store.latest()).toEqual(projection(1));

    const two = projection(2, '127.0.0.1:9002');
    expect(await store.propose(two)).toEqual({ accepted: true, winner: two });
    const names = readdirSync(dir);
    expect(names).not.toContain(stale);
    expect(names).toContain(live);
    expect(await store.latest()).toEqual(two);
  });

  it('a corrupt epoch file yields ERR_CORRUPT, never a wrong projection', async () => {
    const dir = tempDir();
    const store = new FileProjectionStore(dir);
    await store.propose(projection(1));
    await store.propose(projection(2));

    // Torn / garbage bytes in the highest slot: latest() must not fall back to epoch 2.
    writeFileSync(join(dir, epochFileName(3)), '{"epoch":3,"sequ');
    let err = await rejectsWith(store.get(3), 'ERR_CORRUPT');
    expect(err.message).toMatch(/epoch-000000000003\.json is not valid JSON/);
    await rejectsWith(store.latest(), 'ERR_CORRUPT');
    // Proposing into a corrupt slot loses, and says why rather than returning garbage.
    await rejectsWith(store.propose(projection(3)), 'ERR_CORRUPT');

    // Valid JSON, invalid projection.
    writeFileSync(join(dir, epochFileName(4)), JSON.stringify({ ...projection(4), units: [] }));
    err = await rejectsWith(store.get(4), 'ERR_CORRUPT');
    expect(err.message).toMatch(/epoch-000000000004\.json is not a valid projection: units/);

    // A valid projection under the wrong name.
    writeFileSync(join(dir, epochFileName(5)), JSON.stringify(projection(6)));
    err = await rejectsWith(store.get(5), 'ERR_CORRUPT');
    expect(err.message).toMatch(/holds epoch 6, not 5/);

    // Untouched slots still read fine.
    expect(await store.get(2)).toEqual(projection(2));
  });

  it('ignores files that are not canonical epoch slots', async () => {
    const dir = tempDir();
    const store = new FileProjectionStore(dir);
    await store.propose(projection(1));
    writeFileSync(join(dir, 'epoch-9.json'), 'junk');
    writeFileSync(join(dir, 'epoch-000000000009.json.bak'), 'junk');
    writeFileSync(join(dir, 'README'), 'junk');
    expect(await store.latest()).toEqual(projection(1));
    expect(epochOfFileName('epoch-000000000009.json')).toBe(9);
    expect(epochOfFileName('epoch-9.json')).toBeUndefined();
    expect(epochOfFileName('epoch-000000000000.json')).toBeUndefined();
    expect(epochFileName(Number.MAX_SAFE_INTEGER)).toBe('epoch-9007199254740991.json');
    expect(epochOfFileName(epochFileName(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('the file on disk is plain JSON of the projection', async () => {
    const dir = tempDir();
    await new FileProjectionStore(dir).propose(projection(1));
    expect(JSON.parse(readFileSync(join(dir, epochFileName(1)), 'utf8'))).toEqual(projection(1));
  });
});

describe('openProjectionStore', () => {
  it('takes file:DIR relative or absolute, and file:///abs', async () => {
    const dir = tempDir();
    const rel = relative(process.cwd(), dir);
    const a = (await openProjectionStore(`file:${rel}`)) as FileProjectionStore;
    expect(a.dir).toBe(dir);
    await a.propose(projection(1));
    const b = await openProjectionStore(`file:${dir}`);
    expect(await b.latest()).toEqual(projection(1));
    const c = await openProjectionStore(`file://${dir}`);
    expect(await c.latest()).toEqual(projection(1));
  });

  it('rejects other schemes, bare paths, an empty directory and a regular file (etcd URLs: layout.store-url.test.ts)', async () => {
    let err = await rejectsWith(openProjectionStore('http://example.com/layout'), 'ERR_BAD_REQUEST');
    expect(err.message).toMatch(/expected file:DIR or etcd:\/\/HOST:PORT/);
    err = await rejectsWith(openProjectionStore('/var/lib/corfu'), 'ERR_BAD_REQUEST');
    expect(err.message).toMatch(/did you mean file:\/var\/lib\/corfu/);
    await rejectsWith(openProjectionStore('file:'), 'ERR_BAD_REQUEST');
    await rejectsWith(openProjectionStore(''), 'ERR_BAD_REQUEST');
    const file = join(tempDir(), 'plain');
    writeFileSync(file, '');
    err = await rejectsWith(openProjectionStore(`file:${file}`), 'ERR_BAD_REQUEST');
    expect(err.message).toMatch(/not a directory/);
  });
});
