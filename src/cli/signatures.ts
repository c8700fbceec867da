// What a device holds besides Corfu: `corfu format` refuses to erase a filesystem, a
// partition table, swap, an encrypted or RAID/LVM member unless --force. Two sources:
// the magic numbers below, read from the device's first 320 KiB (always), and
// `blkid -p` (when installed; it knows far more types), asked only when the magic
// numbers found nothing.

import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';

export interface Signature {
  /** What it is, for people: "ext4 filesystem", "GPT partition table". */
  readonly what: string;
  /** How it was found: "magic 0xEF53 at byte 1080", "blkid -p". */
  readonly evidence: string;
}

/** Bytes read from the start of the device: enough for every offset below. */
export const PROBE_BYTES = 320 * 1024;

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

function at(buf: Buffer, offset: number, magic: Buffer): boolean {
  return offset + magic.length <= buf.length && buf.subarray(offset, offset + magic.length).equals(magic);
}

function hex(magic: Buffer): string {
  const text = magic.toString('latin1');
  return /^[\x20-\x7e]+$/.test(text) ? `"${text}"` : `0x${magic.toString('hex')}`;
}

/** The signatures in `buf`, the first bytes of a device (shorter for a short file). Pure. */
export function findSignatures(buf: Buffer): Signature[] {
  const found: Signature[] = [];
  const check = (what: string, offset: number, magic: Buffer): boolean => {
    if (!at(buf, offset, magic)) return false;
    found.push({ what, evidence: `magic ${hex(magic)} at byte ${offset}` });
    return true;
  };

  // ext2/3/4: the superblock at 1024, s_magic 0xEF53 (little-endian) at +56. Its feature
  // words say which: a journal (compat 0x4) is ext3, extents or 64bit (incompat 0x40, 0x80) ext4.
  if (at(buf, 1024 + 56, Buffer.from([0x53, 0xef])) && buf.length >= 1024 + 0x64) {
    const compat = buf.readUInt32LE(1024 + 0x5c);
    const incompat = buf.readUInt32LE(1024 + 0x60);
    const kind = (incompat & 0xc0) !== 0 ? 'ext4' : (compat & 0x4) !== 0 ? 'ext3' : 'ext2';
    found.push({ what: `${kind} filesystem`, evidence: 'magic 0xEF53 at byte 1080' });
  }
  check('XFS filesystem', 0, ascii('XFSB'));
  check('btrfs filesystem', 65536 + 64, ascii('_BHRfS_M'));
  check('f2fs filesystem', 1024, Buffer.from([0x10, 0x20, 0xf5, 0xf2]));
  check('squashfs filesystem', 0, ascii('hsqs'));
  check('ISO 9660 filesystem', 32769, ascii('CD001'));
  check('LUKS encrypted volume', 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]));
  // LVM2 physical volume: its label may be in any of the first four sectors.
  for (const sector of [0, 1, 2, 3]) if (check('LVM2 physical volume', sector * 512, ascii('LABELONE'))) break;
  // Linux MD RAID superblock 1.1 (at 0) and 1.2 (at 4 KiB), magic 0xa92b4efc little-endian.
  for (const offset of [0, 4096]) if (check('Linux RAID member', offset, Buffer.from([0xfc, 0x4e, 0x2b, 0xa9]))) break;
  // ZFS: an uberblock (magic 0x00bab10c, either byte order) in label 0's uberblock ring (128 KiB on).
  for (let offset = 128 * 1024; offset + 8 <= Math.min(buf.length, 256 * 1024); offset += 1024) {
    const v = buf.readBigUInt64LE(offset);
    if (v === 0x00bab10cn || buf.readBigUInt64BE(offset) === 0x00bab10cn) {
      found.push({ what: 'ZFS pool member', evidence: `uberblock magic 0x00bab10c at byte ${offset}` });
      break;
    }
  }
  // Swap: "SWAPSPACE2" ends the first page, whatever the page size it was made with.
  for (const page of [4096, 8192, 16384, 65536]) {
    if (check('swap area', page - 10, ascii('SWAPSPACE2')) || check('swap area', page - 10, ascii('SWAP-SPACE'))) break;
  }
  // GPT: its header in LBA 1, for 512-byte and 4 KiB sectors.
  const gpt = check('GPT partition table', 512, ascii('EFI PART')) || check('GPT partition table', 4096, ascii('EFI PART'));
  // An MBR: the 0x55AA boot signature and at least one partition entry in use (a FAT or
  // NTFS boot sector has the signature too, and no entries; a protective MBR is GPT's).
  if (!gpt && at(buf, 510, Buffer.from([0x55, 0xaa]))) {
    const used = [0, 1, 2, 3].filter((i) => buf[446 + 16 * i + 4] !== 0);
    if (at(buf, 3, ascii('NTFS    '))) found.push({ what: 'NTFS filesystem', evidence: 'magic "NTFS    " at byte 3' });
    else if (at(buf, 54, ascii('FAT')) || at(buf, 82, ascii('FAT3'))) found.push({ what: 'FAT filesystem', evidence: `magic "FAT" at byte ${at(buf, 54, ascii('FAT')) ? 54 : 82}` });
    else if (used.length > 0) found.push({ what: 'MBR partition table', evidence: `boot signature 0x55AA at byte 510 and ${used.length} partition entr${used.length === 1 ? 'y' : 'ies'}` });
  }
  return found;
}

/** The first PROBE_BYTES of `path` (fewer for a short file). */
export function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(PROBE_BYTES);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * `blkid -p` (low-level probe: the device itself, not the cache) on `path`: what it
 * found, or [] when it found nothing (exit 2), is not installed or failed.
 */
export function blkidSignatures(path: string, blkid = 'blkid'): Signature[] {
  let out: string;
  try {
    out = execFileSync(blkid, ['-p', '-o', 'export', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return [];
  }
  const fields = new Map(
    out
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const found: Signature[] = [];
  const type = fields.get('TYPE');
  const usage = fields.get('USAGE');
  if (type !== undefined) found.push({ what: `${type} ${usage === 'filesystem' || usage === undefined ? 'filesystem' : usage}`, evidence: 'blkid -p' });
  const pt = fields.get('PTTYPE');
  if (pt !== undefined) found.push({ what: `${pt === 'dos' ? 'MBR' : pt.toUpperCase()} partition table`, evidence: 'blkid -p' });
  return found;
}

/** What `path` holds that a format would destroy: the magic numbers, else blkid's word. */
export function foreignSignatures(path: string): Signature[] {
  const magic = findSignatures(readHead(path));
  return magic.length > 0 ? magic : blkidSignatures(path);
}
