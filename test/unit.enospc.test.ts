// A unit whose filesystem runs out of space (as root: a small ext4 on a real loop
// device, mounted on a temp dir).
//
// `corfu format --size` reserves the whole file with fallocate, so a unit formatted
// that way never meets ENOSPC; on a filesystem too small for it the format fails
// with one clear line and leaves nothing behind. A file that was not reserved (made
// sparse by hand, then formatted without --size) can meet ENOSPC halfway through a
// flush: the unit answers ERR_IO naming the cause and refuses further writes (after
// a failed write the state of the file is unknown: the engine's failed state), keeps
// serving reads, loses nothing acknowledged, and after space is freed and the unit
// restarted, takes appends again.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/errors.js';
import { CorfuClient } from '../src/client/index.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { startOneChain, type OneChain } from './helpers/one-chain.js';
import { ownLoopback } from './helpers/ports.js';

const MiB = 1024 * 1024;
const harness = cliHarness('corfu-enospc-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });
const skip = process.getuid?.() !== 0 ? 'needs root (losetup, mount)' : undefined;
const mnt = join(harness.dir, 'mnt');
let loop: string | undefined;
let mounted = false;

function availableBytes(): number {
  const s = statfsSync(mnt);
  return s.bavail * s.bsize;
}

beforeAll(() => {
  if (skip) return;
  const image = join(harness.dir, 'fs.img');
  writeFileSync(image, '');
  truncateSync(image, 24 * MiB);
  loop = execFileSync('losetup', ['--direct-io=on', '--find', '--show', image], { encoding: 'utf8' }).trim();
  execFileSync('mkfs.ext4', ['-q', '-F', loop], { stdio: 'ignore' });
  mkdirSync(mnt);
  execFileSync('mount', [loop, mnt]);
  mounted = true;
});

// Runs before the harness's own cleanup (after-hooks run last-registered first).
afterAll(() => {
  try {
    if (mounted) {
      try {
        execFileSync('umount', [mnt], { stdio: 'ignore' });
      } catch {
        // A process of a failed test still holds a file: detach now, the kernel finishes later.
        execFileSync('umount', ['--lazy', mnt]);
      }
    }
  } finally {
    if (loop !== undefined) execFileSync('losetup', ['-d', loop]);
  }
});

describe.skipIf(skip !== undefined)('a unit on a filesystem that runs out of space', () => {
  it('format --size on a filesystem too small for it: one clear line, exit 1, no file and no space left taken', () => {
    const before = availableBytes();
    const path = join(mnt, 'too-big.img');
    const r = harness.corfu('format', path, '--size', '64M');
    expect(r.code).toBe(1);
    expect(harness.oneLine(r.stderr)).toMatch(/^error ERR_IO: cannot allocate 67108864 bytes for .*too-big\.img: No space left on device/);
    expect(existsSync(path)).toBe(false);
    expect(availableBytes()).toBe(before);
  });

  it('ENOSPC mid-flush: ERR_IO naming it, nothing acknowledged lost, reads still served; appends again after space is freed and a restart', async () => {
    // A sparse 8 MiB unit file with about 3 MiB of room left under it.
    const device = join(mnt, 'unit.img');
    writeFileSync(device, '');
    truncateSync(device, 8 * MiB);
    expect(harness.corfu('format', device).code).toBe(0);
    const ballast = join(mnt, 'ballast');
    execFileSync('fallocate', ['-l', String(availableBytes() - 3 * MiB), ballast]);

    let chain: OneChain | undefined;
    let restarted: Started | undefined;
    let client: CorfuClient | undefined;
    try {
      // On this process's own loopback address: the unit is restarted on its HOST:PORT.
      chain = await startOneChain(harness, 'enospc', [device], ownLoopback());
      client = await CorfuClient.connect({ layout: chain.layout, holeTimeoutMs: 100 });
      const acked = new Map<number, Buffer>();
      const errors: unknown[] = [];
      for (let i = 0; errors.length === 0; i += 8) {
        expect(i).toBeLessThan((8 * MiB) / 4000); // the file is larger than the room: ENOSPC comes first
        const payloads = Array.from({ length: 8 }, (_, k) => Buffer.alloc(4000, (i + k) & 0xff));
        const results = await Promise.allSettled(payloads.map((p) => client!.append(p)));
        results.forEach((r, k) => (r.status === 'fulfilled' ? acked.set(r.value, payloads[k]!) : errors.push(r.reason)));
      }
      for (const err of errors) {
        expect(err).toBeInstanceOf(CorfuError);
        expect((err as CorfuError).code).toBe('ERR_IO');
      }
      expect(errors.map((e) => (e as Error).message).join('\n')).toMatch(/No space left on device/);
      expect(acked.size).toBeGreaterThan(100);

      // The unit is up, refuses writes, and still serves what is durable.
      const unit = chain.unitProcs[0]!;
      expect(unit.proc.exitCode).toBeNull();
      const refused = await client.append(Buffer.from('after')).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/refuses further work until it is reopened/) });
      const readBack = async (): Promise<string[]> => {
        const addresses = [...acked.keys()];
        const entries = await Promise.all(addresses.map((a) => client!.read(a)));
        return entries.flatMap((e, i) => (e.kind === 'data' && Buffer.from(e.payload).equals(acked.get(addresses[i]!)!) ? [] : [`${addresses[i]}`]));
      };
      expect(await readBack()).toEqual([]);

      // Free the space and restart the unit on the same file and address.
      rmSync(ballast);
      unit.proc.kill('SIGTERM');
      expect(await unit.exited).toBe(0);
      restarted = await harness.startCorfu(['unit', '--device', device, '--listen', chain.units[0]!], /^listening /);
      expect(await readBack()).toEqual([]);
      const more = Array.from({ length: 200 }, (_, k) => Buffer.alloc(4000, k & 0xff));
      const moreAt = await Promise.all(more.map((p) => client!.append(p)));
      moreAt.forEach((a, k) => acked.set(a, more[k]!));
      expect(await readBack()).toEqual([]);
    } finally {
      await client?.close();
      await chain?.stop();
      if (restarted !== undefined && restarted.proc.exitCode === null) {
        restarted.proc.kill('SIGTERM');
        await restarted.exited;
      }
      rmSync(ballast, { force: true });
    }
  }, 120_000);
});
