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
//
// watch() polls: a timer every `pollMs` lists the directory (fs.watch misses
// events on some filesystems and across hard links) and reads the slots above
// the last one reported. The timer exists only while someone watches, and is
// unref'd: a watch never keeps the process alive.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { CorfuError } from '../../bindings/errors.js';
import { canonicalJson, parseProjection, projectionProblems, type Projection } from './projection.js';
import { checkStatusName, type ProjectionStore, type ProposeResult, type WatchErrorHandler } from './store.js';
import { WatchCursor } from './watch-cursor.js';

/** How often a watch lists the directory, by default. */
export const DEFAULT_POLL_MS = 100;

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
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) {
    throw new CorfuError('ERR_BAD_REQUEST', `epoch must be a safe integer >= 1, got ${String(epoch)}`);
  }
}

function ioError(what: string, err: unknown): CorfuError {
  if (err === undefined) return new CorfuError('ERR_IO', `projection store: ${what}`);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error: its String() is all there is to say
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

export interface FileStoreOptions {
  /** How often a watch lists the directory. Default 100 ms. */
  readonly pollMs?: number;
}

export class FileProjectionStore implements ProjectionStore {
  /** Absolute path of the directory holding the epoch files. */
  readonly dir: string;
  readonly pollMs: number;
  readonly #watches = new Set<() => void>();
  #closed = false;
  /**
   * The highest slot read and verified so far. Slots are write-once, so while the
   * directory's highest epoch is still this one, latest() answers it after one readdir:
   * a linearizable read of the log asks for the latest projection every time
   * (client.tail), and reading, parsing and fsyncing the same file again cost more than
   * the read of the log itself.
   */
  #newest: Projection | undefined;

  constructor(dir: string, options: FileStoreOptions = {}) {
    this.dir = resolve(dir);
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    if (!Number.isSafeInteger(pollMs) || pollMs < 1) throw new CorfuError('ERR_BAD_REQUEST', `pollMs must be a whole number of milliseconds >= 1, got ${String(pollMs)}`);
    this.pollMs = pollMs;
  }

  async get(epoch: number): Promise<Projection | undefined> {
    this.checkOpen();
    checkEpoch(epoch);
    return this.readSlot(epoch);
  }

  async latest(): Promise<Projection | undefined> {
    this.checkOpen();
    const names = await this.list();
    let highest = 0;
    for (const name of names) {
      const epoch = epochOfFileName(name);
      if (epoch !== undefined && epoch > highest) highest = epoch;
    }
    if (highest === 0) return undefined;
    if (this.#newest?.epoch === highest) return this.#newest;
    // The highest slot decides: a corrupt one throws rather than falling back
    // to an older epoch, which would be a wrong projection.
    const p = await this.readSlot(highest);
    if (p === undefined) throw ioError(`${epochFileName(highest)} vanished while reading`, undefined);
    if (p.epoch > (this.#newest?.epoch ?? 0)) this.#newest = p;
    return p;
  }

  async propose(projection: Projection): Promise<ProposeResult> {
    this.checkOpen();
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

  watch(onProjection: (projection: Projection) => void, onError?: WatchErrorHandler): () => void {
    this.checkOpen();
    const cursor = new WatchCursor(onProjection, onError);
    // The first poll reports only the latest slot; later ones every slot above the cursor.
    let first = true;
    let polling = false;
    const poll = async (): Promise<void> => {
      if (polling || cursor.stopped) return;
      polling = true;
      try {
        const above = (await this.list())
          .map(epochOfFileName)
          .filter((epoch): epoch is number => epoch !== undefined && epoch > cursor.passed)
          .sort((a, b) => a - b);
        for (const epoch of first ? above.slice(-1) : above) {
          if (cursor.stopped) return;
          let projection: Projection | undefined;
          try {
            projection = await this.readSlot(epoch);
          } catch (err) {
            if (err instanceof CorfuError && err.code === 'ERR_CORRUPT') {
              cursor.skip(epoch, err);
              continue;
            }
            throw err;
          }
          if (projection === undefined) break; // listed but gone: look again next time
          cursor.offer(projection);
        }
        first = false;
        cursor.recovered();
      } catch (err) {
        cursor.error(err instanceof CorfuError ? err : ioError('watch', err));
      } finally {
        polling = false;
      }
    };
    const timer = setInterval(() => void poll(), this.pollMs);
    timer.unref();
    void poll();
    const unsubscribe = (): void => {
      cursor.stop();
      clearInterval(timer);
      this.#watches.delete(unsubscribe);
    };
    this.#watches.add(unsubscribe);
    return unsubscribe;
  }

  /** DIR/status-NAME.json, replaced whole by a rename (a reader never sees half of one). */
  async putStatus(name: string, value: unknown): Promise<void> {
    this.checkOpen();
    const file = join(this.dir, `status-${checkStatusName(name)}.json`);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(value)}\n`);
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw ioError(`cannot write ${file}`, err);
    }
  }

  async getStatus(name: string): Promise<unknown> {
    this.checkOpen();
    const file = join(this.dir, `status-${checkStatusName(name)}.json`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`cannot read ${file}`, err);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CorfuError('ERR_CORRUPT', `${file} is not JSON`);
    }
  }

  async close(): Promise<void> {
    // Nothing else is held open between calls.
    this.#closed = true;
    for (const unsubscribe of [...this.#watches]) unsubscribe();
  }

  private checkOpen(): void {
    if (this.#closed) throw new CorfuError('ERR_CLOSED', `projection store file:${this.dir} is closed`);
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

// Kept for modules that import it from here (the client does); it lives in open.ts.
export { openProjectionStore } from './open.js';
