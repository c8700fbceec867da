// The built `corfu` command, run as a user runs it: node dist/src/cli/main.js.
// Checks output, exit codes (0 ok, 1 CorfuError, 2 usage) and that expected
// errors are one line without a stack trace.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { cliHarness } from './helpers/cli.js';

import { Store } from '../bindings/index.js';

const { dir, corfu, oneLine } = cliHarness('corfu-cli-', { runTimeoutMs: 60_000, readyTimeoutMs: 20_000 });

describe('corfu format / inspect', () => {
  const dev = join(dir, 'unit.img');

  it('formats a new file with the given size and ids and prints the superblock', () => {
    const r = corfu('format', dev, '--size', '8M', '--max-entry-bytes', '16K', '--cluster-id', 'ABCDEF0123456789abcdef0123456789', '--unit-id', '4');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`formatted ${dev}`);
    expect(r.stdout).toMatch(/cluster id\s+abcdef0123456789abcdef0123456789/);
    expect(r.stdout).toMatch(/unit id\s+4\n/);
    expect(r.stdout).toMatch(/max entry\s+16 KiB/);
    expect(r.stdout).toMatch(/device\s+8 MiB \(8,388,608 bytes\)/);
  });

  it('--zero writes zeros over a file before formatting it; a second --zero over the unit is refused without --force', () => {
    const zeroed = join(dir, 'zeroed.img');
    writeFileSync(zeroed, Buffer.alloc(4 * 1024 * 1024, 0x5a));
    const r = corfu('format', zeroed, '--size', '8M', '--zero');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(
      readFileSync(zeroed)
        .subarray(1024 * 1024)
        .every((b) => b === 0),
    ).toBe(true);
    const again = corfu('format', zeroed, '--zero');
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toContain('ERR_ALREADY_FORMATTED');
  });

  it('inspects it as a table and as JSON', () => {
    const table = corfu('inspect', dev);
    expect(table.code).toBe(0);
    for (const label of ['format version', 'cluster id', 'unit id', 'epoch', 'trim mark', 'device', 'data region', 'max entry', 'used / free', 'index checkpoint']) {
      expect(table.stdout).toContain(label);
    }
    const json = corfu('inspect', dev, '--json');
    expect(json.code).toBe(0);
    const info = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ path: dev, formatVersion: 2, unitId: 4, epoch: 0, trimMark: 0, deviceBytes: 8 * 1024 * 1024, maxEntryBytes: 16 * 1024, kind: 'file' });
    expect(info.checkpointSeq).toBeUndefined();
    expect(table.stdout).toContain('none yet');
  });

  it('inspects a device a unit wrote: its addresses, the index it would hold in memory, and the checkpoint of the clean close', async () => {
    const used = join(dir, 'used.img');
    expect(corfu('format', used, '--size', '16M').code).toBe(0);
    const empty = JSON.parse(corfu('inspect', used, '--json').stdout) as Record<string, number>;
    expect(empty).toMatchObject({ addresses: 0, indexBytes: 0, usedPages: 0 });
    const store = Store.open(used, { sync: 'none' });
    const entries = 10_000;
    // Ascending addresses, as a unit of one stripe gets them: the index keeps runs, not a slot per address.
    for (let first = 0; first < entries; first += 1000) {
      await store.write(
        0,
        Array.from({ length: 1000 }, (_, i) => ({ address: first + i, payload: Buffer.from(`entry ${first + i}`) })),
      );
    }
    const held = (await store.stats()).indexBytes;
    await store.close();
    const info = JSON.parse(corfu('inspect', used, '--json').stdout) as Record<string, number>;
    expect(info.addresses).toBe(entries);
    // What a unit opening the device would hold: the writer's index, loaded from the
    // checkpoint into vectors of exact size (the writer's had grown with room to spare).
    expect(info.indexBytes).toBeGreaterThan(0);
    expect(info.indexBytes).toBeLessThanOrEqual(held);
    expect(info.indexBytes).toBeLessThan(entries); // well under a byte an entry
    expect(info.checkpointSeq).toBeGreaterThan(0);
    const table = corfu('inspect', used).stdout;
    expect(table).toMatch(/^index\s+10,000 addresses, \S+ \S+ in memory once opened$/m);
    expect(table).toMatch(/^index checkpoint\s+at page [\d,]+, \S+ \S+ in [\d,]+ pages$/m);
  });

  it('refuses to format twice without --force (exit 1, typed error), and --force works', () => {
    const again = corfu('format', dev);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toMatch(/^error ERR_ALREADY_FORMATTED: .*force/);
    // With a --size, the refusal comes before any resizing (a refused format once cut the unit's file to the new size).
    for (const size of ['2M', '16M']) {
      const resized = corfu('format', dev, '--size', size);
      expect(resized.code).toBe(1);
      expect(oneLine(resized.stderr)).toMatch(/^error ERR_ALREADY_FORMATTED: .*force/);
      expect(statSync(dev).size).toBe(8 * 1024 * 1024);
      expect(corfu('inspect', dev).code).toBe(0);
    }
    const forced = corfu('format', dev, '--force', '--unit-id', '5');
    expect(forced.code).toBe(0);
    expect(JSON.parse(corfu('inspect', dev, '--json').stdout)).toMatchObject({ unitId: 5 });
  });

  it('reports a missing path as ERR_NO_DEVICE and a too-small file as ERR_DEVICE_TOO_SMALL', () => {
    const missing = corfu('inspect', join(dir, 'nope.img'));
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/^error ERR_NO_DEVICE: /);
    const small = corfu('format', join(dir, 'small.img'), '--size', '64K');
    expect(small.code).toBe(1);
    expect(oneLine(small.stderr)).toMatch(/^error ERR_DEVICE_TOO_SMALL: /);
  });
});

describe('corfu usage errors exit 2 with one line', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown option', ['inspect', 'x.img', '--bogus'], /unknown option '--bogus'/],
    ['a missing argument', ['format'], /missing required argument 'path'/],
    ['an unknown verb', ['frobnicate'], /unknown command 'frobnicate'/],
    ['a bad size', ['format', 'x.img', '--size', '12X'], /--size .*12X.* invalid/],
    ['a bad cluster id', ['format', 'x.img', '--cluster-id', 'abc'], /--cluster-id .*invalid.*32 hex digits/],
    ['a bad unit id', ['format', 'x.img', '--unit-id', '-3'], /--unit-id .*invalid/],
    ['a bad sync mode', ['demo', '--sync', 'sometimes'], /--sync .*invalid/],
    ['zero entries', ['demo', '--entries', '0'], /--entries .*invalid/],
  ];
  for (const [what, args, message] of cases) {
    it(`on ${what}`, () => {
      const r = corfu(...args);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }
});

describe('corfu demo', () => {
  it('appends, reads back and verifies, then reuses the device on a second run', () => {
    const demoDir = join(dir, 'demo');
    const first = corfu('demo', '--dir', demoDir, '--entries', '3000', '--entry-bytes', '200', '--size', '16M');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/formatted now/);
    expect(first.stdout).toMatch(/sync\s+always/);
    expect(first.stdout).toMatch(/[\d,]+ appends\/s/);
    expect(first.stdout).toMatch(/[\d,]+ reads\/s, every byte verified/);

    const second = corfu('demo', '--dir', demoDir, '--entries', '3000', '--entry-bytes', '200', '--sync', 'none');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/reused/);
    expect(second.stdout).toMatch(/sync\s+none: BENCHMARK MODE/);
    expect(second.stdout).toMatch(/last one re-read and verified/);
    expect(second.stdout).toMatch(/append\s+3,000 .* at 3,000\.\./);
  });

  it('refuses a run that cannot fit (exit 2), before writing anything', () => {
    const room = corfu('demo', '--dir', join(dir, 'tiny'), '--entries', '3000', '--entry-bytes', '4K', '--size', '2M');
    expect(room.code).toBe(2);
    expect(oneLine(room.stderr)).toMatch(/do not fit/);
    const memory = corfu('demo', '--dir', join(dir, 'huge'), '--entries', '100000', '--entry-bytes', '64K');
    expect(memory.code).toBe(2);
    expect(oneLine(memory.stderr)).toMatch(/in memory/);
    expect(existsSync(join(dir, 'huge', 'demo.img'))).toBe(false);
  });
});
