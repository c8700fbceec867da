// The embedded projection store, `file:DIR`: one file per epoch,
// DIR/epoch-000000000001.json, written once.
//
// Write-once across processes: the proposal is written to a temp file in DIR
// and fsynced, then hard-linked to its final name. link(2) fails with EEXIST
// when the name exists, so exactly one proposer creates it, and the file
// appears complete (it was fully written and synced before the link). The
// directory is fsynced before any answer, then the temp is unlinked. A crash
// leaves at worst a temp file, which readers ignore and proposers clean once
// the process that wrote it is gone.
//
// A projection is returned (from propose, get or latest) only after its
// directory entry has been fsynced, so nobody acts on a slot that a power cut
// could still take back and hand to a different proposal.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CorfuError } from '../../bindings/errors.js';
import { canonicalJson, parseProjection, projectionProblems, type Projection } from './projection.js';
import type { ProjectionStore, ProposeResult } from './store.js';

const EPOCH_DIGITS = 12;
const EPOCH_FILE = /^epoch-([0-9]{12,16})\.json$/;
// .epoch-<12+ digits>.json.<pid>.<random>.tmp
const TEMP_FILE = /^\.epoch-[0-9]+\.json\.([0-9]+)\.[0-9a-f]+\.tmp$/;

/** The file name of an epoch's slot. */
export function epochFileName(epoch: number): string {
  return `epoch-${String(epoch).padStart(EPOCH_DIGITS, '0')}.json`;
}

/** The epoch named by a slot file name, or undefined for any other name (non-canonical ones included). */
export function epochOfFileName(name: string): number | undefined {
  const m = EPOCH_FILE.exec(name);
  if (m === null) return undefined;
  const epoch = Number(m[1]);
  if (!Number.isSafeInteger(epoch) || epoch < 1 || epochFileName(epoch) !== name) return undefined;
  return epoch;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) {
    throw new CorfuError('ERR_BAD_REQUEST', `epoch must be a safe integer >= 1, got ${String(epoch)}`);
  }
}

function ioError(what: string, err: unknown): CorfuError {
  if (err === undefined) return new CorfuError('ERR_IO', `projection store: ${what}`);
  const detail = err instanceof Error ? err.message : String(err);
  return new CorfuError('ERR_IO', `projection store: ${what}: ${detail}`, { cause: err });
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return errno(err) === 'ESRCH';
  }
}

export class FileProjectionStore implements ProjectionStore {
  /** Absolute path of the directory holding the epoch files. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  async get(epoch: number): Promise<Projection | undefined> {
    checkEpoch(epoch);
    return this.readSlot(epoch);
  }

  async latest(): Promise<Projection | undefined> {
    const names = await this.list();
    let highest = 0;
    for (const name of names) {
      const epoch = epochOfFileName(name);
      if (epoch !== undefined && epoch > highest) highest = epoch;
    }
    if (highest === 0) return undefined;
    // The highest slot decides: a corrupt one throws rather than falling back
    // to an older epoch, which would be a wrong projection.
    const p = await this.readSlot(highest);
    if (p === undefined) throw ioError(`${epochFileName(highest)} vanished while reading`, undefined);
    return p;
  }

  async propose(projection: Projection): Promise<ProposeResult> {
    const proposal = parseProjection(projection);
    const name = epochFileName(proposal.epoch);
    const final = join(this.dir, name);
    const text = `${canonicalJson(proposal)}\n`;
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw ioError(`cannot create ${this.dir}`, err);
    }
    await this.cleanTemps();

    // A temp can vanish under us only if another process's cleanup mistook
    // us for dead (pid reuse); then write it again.
    for (let attempt = 0; ; attempt++) {
      const temp = join(this.dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      await this.writeTemp(temp, text);
      let won: boolean;
      try {
        await link(temp, final);
        won = true;
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOENT' && attempt < 3) continue;
        if (code !== 'EEXIST') {
          await unlink(temp).catch(() => undefined);
          throw ioError(`cannot link ${name}`, err);
        }
        won = false;
      }
      try {
        await fsyncDir(this.dir);
      } catch (err) {
        throw ioError(`cannot fsync ${this.dir}`, err);
      } finally {
        await unlink(temp).catch(() => undefined);
      }
      if (won) return { accepted: true, winner: proposal };
      const winner = await this.readSlot(proposal.epoch);
      if (winner === undefined) throw ioError(`${name} exists but cannot be read`, undefined);
      return { accepted: false, winner };
    }
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  /** Removes temp files left by proposers that crashed (their process is gone). */
  async cleanTemps(): Promise<number> {
    let removed = 0;
    for (const name of await this.list()) {
      const m = TEMP_FILE.exec(name);
      if (m === null) continue;
      if (!processGone(Number(m[1]))) continue;
      try {
        await unlink(join(this.dir, name));
        removed++;
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw ioError(`cannot remove stale temp ${name}`, err);
      }
    }
    return removed;
  }

  private async list(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      if (errno(err) === 'ENOTDIR') throw new CorfuError('ERR_BAD_REQUEST', `projection store ${this.dir} is not a directory`);
      throw ioError(`cannot list ${this.dir}`, err);
    }
  }

  private async writeTemp(temp: string, text: string): Promise<void> {
    let handle;
    try {
      handle = await open(temp, 'wx', 0o644);
    } catch (err) {
      throw ioError(`cannot create ${temp}`, err);
    }
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw ioError(`cannot write ${temp}`, err);
    }
    await handle.close();
  }

  private async readSlot(epoch: number): Promise<Projection | undefined> {
    const name = epochFileName(epoch);
    const path = join(this.dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT') return undefined;
      if (code === 'ENOTDIR') throw new CorfuError('ERR_BAD_REQUEST', `projection store ${this.dir} is not a directory`);
      throw ioError(`cannot read ${path}`, err);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new CorfuError('ERR_CORRUPT', `projection file ${path} is not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const problems = projectionProblems(value);
    if (problems.length > 0) {
      throw new CorfuError('ERR_CORRUPT', `projection file ${path} is not a valid projection: ${problems.slice(0, 3).join('; ')}`);
    }
    const projection = parseProjection(value);
    if (projection.epoch !== epoch) {
      throw new CorfuError('ERR_CORRUPT', `projection file ${path} holds epoch ${projection.epoch}, not ${epoch}`);
    }
    try {
      await fsyncDir(this.dir);
    } catch (err) {
      throw ioError(`cannot fsync ${this.dir}`, err);
    }
    return projection;
  }
}

/**
 * Opens the projection store named by `url`: `file:DIR` (DIR relative to the
 * working directory or absolute) or `file:///abs/dir`. The directory is made
 * on the first proposal. `etcd://...` is reserved and not supported yet.
 */
export async function openProjectionStore(url: string): Promise<ProjectionStore> {
  if (typeof url !== 'string' || url === '') {
    throw new CorfuError('ERR_BAD_REQUEST', 'projection store URL is empty; expected file:DIR');
  }
  if (/^etcd:/i.test(url)) {
    throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: etcd is not supported yet; use file:DIR`);
  }
  if (!url.startsWith('file:')) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1];
    const hint = scheme === undefined ? ` (did you mean file:${url}?)` : ` (unsupported scheme ${scheme}:)`;
    throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: expected file:DIR${hint}`);
  }
  let dir: string;
  if (url.startsWith('file://')) {
    try {
      dir = fileURLToPath(url);
    } catch (err) {
      throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: ${(err as Error).message}`, { cause: err });
    }
  } else {
    dir = url.slice('file:'.length);
  }
  if (dir === '') throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: no directory given; expected file:DIR`);
  const absolute = isAbsolute(dir) ? dir : resolve(dir);
  try {
    const s = await stat(absolute);
    if (!s.isDirectory()) throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: ${absolute} is not a directory`);
  } catch (err) {
    if (err instanceof CorfuError) throw err;
    if (errno(err) !== 'ENOENT') throw ioError(`cannot stat ${absolute}`, err);
  }
  return new FileProjectionStore(absolute);
}
