// At most one active manager per cluster. With a file: store, the lock is a
// file beside the projections, created exclusively (O_EXCL) and holding its
// owner's pid and host: a standby polls until it can create it, and removes
// one left by a process that is gone (same host only: a pid on another host
// says nothing). The etcd store's election holds on an etcd lease instead.

import { hostname } from 'node:os';
import { join } from 'node:path';
import { open, readFile, unlink } from 'node:fs/promises';

import { CorfuError } from '../../bindings/errors.js';

export interface Leadership {
  /** Resolves if leadership is lost (the lock was taken away). */
  readonly lost: Promise<void>;
  /** Gives it up. Idempotent. */
  release(): Promise<void>;
}

export interface Election {
  /** Resolves once this process leads; rejects with ERR_ABORTED when `signal` fires first. */
  campaign(signal?: AbortSignal): Promise<Leadership>;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) !== 'ESRCH';
  }
}

export class FileLockElection implements Election {
  readonly path: string;
  readonly #pollMs: number;

  constructor(dir: string, pollMs = 500) {
    this.path = join(dir, 'manager.lock');
    this.#pollMs = pollMs;
  }

  async campaign(signal?: AbortSignal): Promise<Leadership> {
    const me = `${process.pid}\n${hostname()}\n`;
    for (;;) {
      if (signal?.aborted === true) throw new CorfuError('ERR_ABORTED', 'stopped before it could lead', { cause: signal.reason });
      try {
        const handle = await open(this.path, 'wx');
        await handle.writeFile(me);
        await handle.sync();
        await handle.close();
        return this.#leadership(me);
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw new CorfuError('ERR_IO', `manager lock ${this.path}: ${(err as Error).message}`, { cause: err });
      }
      await this.#clearIfStale();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, this.#pollMs);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Removes a lock whose owner ran on this host and is gone. */
  async #clearIfStale(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return;
    }
    const [pid, host] = text.split('\n');
    if (host === hostname() && pid !== undefined && /^\d+$/.test(pid) && !alive(Number(pid))) {
      await unlink(this.path).catch(() => {});
    }
  }

  #leadership(me: string): Leadership {
    let released = false;
    let lose!: () => void;
    const lost = new Promise<void>((resolve) => (lose = resolve));
    // Someone removed or replaced the lock (an operator, or a standby that judged us gone): we no longer lead.
    const check = setInterval(() => {
      void readFile(this.path, 'utf8').then(
        (text) => {
          if (text !== me) lose();
        },
        () => lose(),
      );
    }, this.#pollMs);
    check.unref();
    return {
      lost,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(check);
        const text = await readFile(this.path, 'utf8').catch(() => '');
        if (text === me) await unlink(this.path).catch(() => {});
      },
    };
  }
}
