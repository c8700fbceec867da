// `corfu format` refuses a device that holds a filesystem, a partition table, swap, ...
// unless --force (src/cli/signatures.ts): real filesystems made by mkfs.ext4 and mkswap,
// a GPT and an MBR written byte by byte (no sgdisk/sfdisk on these machines), and a
// real loop device holding ext4.

import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { blkidSignatures, findSignatures, readHead } from '../src/cli/signatures.js';
import { cliHarness } from './helpers/cli.js';

const { dir, corfu, oneLine } = cliHarness('corfu-format-foreign-', { runTimeoutMs: 60_000, readyTimeoutMs: 20_000 });

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const MiB = 1024 * 1024;
let n = 0;
function blank(bytes = 16 * MiB): string {
  const path = join(dir, `dev-${n++}.img`);
  writeFileSync(path, '');
  truncateSync(path, bytes);
  return path;
}

function poke(path: string, offset: number, bytes: Buffer | string): void {
  const fd = openSync(path, 'r+');
  try {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    writeSync(fd, b, 0, b.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** A GPT disk as sgdisk leaves it: a protective MBR (one 0xEE entry) and the header in LBA 1. */
function gpt(path: string): void {
  const mbr = Buffer.alloc(512);
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mbr.writeUInt32LE(1, 446 + 8);
  mbr.writeUInt32LE(0xffffffff, 446 + 12);
  mbr.set([0x55, 0xaa], 510);
  poke(path, 0, mbr);
  poke(path, 512, 'EFI PART');
}

/** An MBR disk as fdisk leaves it: one Linux (0x83) partition from sector 2048. */
function mbr(path: string): void {
  const b = Buffer.alloc(512);
  b[446 + 4] = 0x83;
  b.writeUInt32LE(2048, 446 + 8);
  b.writeUInt32LE(16384, 446 + 12);
  b.set([0x55, 0xaa], 510);
  poke(path, 0, b);
}

describe('findSignatures (the magic numbers)', () => {
  it('finds each kind at its offset, and nothing in zeros', () => {
    const cases: Array<[string, number, Buffer | string]> = [
      ['XFS filesystem', 0, 'XFSB'],
      ['btrfs filesystem', 65536 + 64, '_BHRfS_M'],
      ['LUKS encrypted volume', 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe])],
      ['LVM2 physical volume', 512, 'LABELONE'],
      ['swap area', 4096 - 10, 'SWAPSPACE2'],
      ['swap area', 65536 - 10, 'SWAPSPACE2'],
      ['GPT partition table', 512, 'EFI PART'],
      ['Linux RAID member', 4096, Buffer.from([0xfc, 0x4e, 0x2b, 0xa9])],
      ['ZFS pool member', 128 * 1024 + 3 * 1024, Buffer.from([0x0c, 0xb1, 0xba, 0, 0, 0, 0, 0])],
    ];
    for (const [what, offset, magic] of cases) {
      const buf = Buffer.alloc(320 * 1024);
      (typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic).copy(buf, offset);
      expect(findSignatures(buf), `${what} at ${offset}`).toEqual([{ what, evidence: expect.stringContaining(`at byte ${offset}`) }]);
    }
    expect(findSignatures(Buffer.alloc(320 * 1024))).toEqual([]);
    // A short file: nothing read past its end.
    expect(findSignatures(Buffer.from('XFS'))).toEqual([]);
  });

  it('tells an MBR with partitions from a boot signature alone, and a GPT from its protective MBR', () => {
    const a = blank(MiB);
    poke(a, 510, Buffer.from([0x55, 0xaa]));
    expect(findSignatures(readHead(a))).toEqual([]);
    mbr(a);
    expect(findSignatures(readHead(a))).toEqual([{ what: 'MBR partition table', evidence: 'boot signature 0x55AA at byte 510 and 1 partition entry' }]);
    const b = blank(MiB);
    gpt(b);
    expect(findSignatures(readHead(b)).map((s) => s.what)).toEqual(['GPT partition table']);
  });
});

describe('corfu format on a device that holds something', () => {
  it.skipIf(!has('mkfs.ext4'))('refuses an ext4 filesystem made by mkfs.ext4, leaves it intact, and erases it with --force', () => {
    const dev = blank();
    execFileSync('mkfs.ext4', ['-q', '-F', dev], { stdio: 'ignore' });
    const before = readFileSync(dev);
    const r = corfu('format', dev);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`error ERR_ALREADY_FORMATTED: ${dev} holds an ext4 filesystem (magic 0xEF53 at byte 1080); pass --force to erase it`);
    expect(readFileSync(dev).equals(before)).toBe(true);
    // With a --size too: refused before the file is resized.
    expect(corfu('format', dev, '--size', '32M').code).toBe(1);
    expect(readFileSync(dev).length).toBe(before.length);

    const forced = corfu('format', dev, '--force', '--unit-id', '3');
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`formatted ${dev} (erased an ext4 filesystem (magic 0xEF53 at byte 1080))`);
    expect(JSON.parse(corfu('inspect', dev, '--json').stdout)).toMatchObject({ unitId: 3 });
    // Now a Corfu unit: the engine's own refusal, not the filesystem's.
    expect(oneLine(corfu('format', dev).stderr)).toMatch(/^error ERR_ALREADY_FORMATTED: the device already holds a Corfu unit/);
  });

  it.skipIf(!has('mkswap'))('refuses a swap area made by mkswap', () => {
    const dev = blank();
    execFileSync('mkswap', [dev], { stdio: 'ignore' });
    const r = corfu('format', dev);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^error ERR_ALREADY_FORMATTED: .* holds a swap area \(magic "SWAPSPACE2" at byte \d+\); pass --force to erase it$/);
  });

  it('refuses a GPT and an MBR partition table', () => {
    const g = blank();
    gpt(g);
    expect(oneLine(corfu('format', g).stderr)).toBe(`error ERR_ALREADY_FORMATTED: ${g} holds a GPT partition table (magic "EFI PART" at byte 512); pass --force to erase it`);
    const m = blank();
    mbr(m);
    expect(oneLine(corfu('format', m).stderr)).toMatch(/holds an MBR partition table \(boot signature 0x55AA at byte 510 and 1 partition entry\)/);
    expect(corfu('format', m, '--force').code).toBe(0);
  });

  it('formats a zeroed file and a file it creates without a word about signatures', () => {
    const z = blank();
    const r = corfu('format', z);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`formatted ${z}`);
    const fresh = join(dir, 'fresh.img');
    expect(corfu('format', fresh, '--size', '8M').code).toBe(0);
  });

  it.skipIf(!has('blkid') || !has('mkfs.ext4'))('blkid -p names what it finds (the fallback when no magic number matches)', () => {
    const dev = blank();
    execFileSync('mkfs.ext4', ['-q', '-F', dev], { stdio: 'ignore' });
    expect(blkidSignatures(dev)).toEqual([{ what: 'ext4 filesystem', evidence: 'blkid -p' }]);
    expect(blkidSignatures(blank())).toEqual([]);
    expect(blkidSignatures(dev, join(dir, 'no-such-blkid'))).toEqual([]);
  });
});

describe('corfu format on a loop device', () => {
  const root = process.getuid?.() === 0 && has('losetup') && has('mkfs.ext4');
  const attached: string[] = [];
  afterAll(() => {
    for (const dev of attached) execFileSync('losetup', ['-d', dev], { stdio: 'ignore' });
  });

  it.skipIf(!root)('refuses a block device holding ext4, then erases it with --force', () => {
    const backing = blank(32 * MiB);
    execFileSync('mkfs.ext4', ['-q', '-F', backing], { stdio: 'ignore' });
    const dev = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
    attached.push(dev);
    const r = corfu('format', dev);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`error ERR_ALREADY_FORMATTED: ${dev} holds an ext4 filesystem (magic 0xEF53 at byte 1080); pass --force to erase it`);
    const forced = corfu('format', dev, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(corfu('inspect', dev, '--json').stdout)).toMatchObject({ kind: 'block', deviceBytes: 32 * MiB });
  });
});
