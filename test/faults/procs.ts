// Child processes of a fault run, each started inside a network namespace
// with `ip netns exec NS node ...` (ip execs the command, so the pid we hold
// is node's own: kill -9 / -STOP / -CONT reach it directly; another program,
// such as etcd, with `command`). stdout and stderr are read line by line
// (control channels, `listening`, a manager's decisions), both are also
// logged to a file, and an exit nobody asked for is remembered as a crash.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class Proc {
  readonly name: string;
  /** The network namespace it runs in. */
  readonly ns: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  /** Set before a kill or a stop the run asked for; an exit without it is a crash. */
  expectExit = false;
  readonly started = Date.now();
  #stderrTail = '';
  readonly #lines: string[] = [];
  readonly #waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
  readonly #listeners: Array<(line: string) => void> = [];
  readonly #errListeners: Array<(line: string) => void> = [];
  readonly #log: WriteStream;

  /** `command` defaults to this node binary (`args` then start with a script). */
  constructor(name: string, ns: string, args: readonly string[], logDir: string, env: NodeJS.ProcessEnv = {}, command: string = process.execPath) {
    this.name = name;
    this.ns = ns;
    this.#log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    this.child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    if (this.child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = this.child.pid;
    this.#log.write(`--- ${new Date().toISOString()} start ${name} pid ${this.pid}: ${args.join(' ')}\n`);
    this.child.stdin!.on('error', () => {});
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.#log.write(`${line}\n`);
      this.#lines.push(line);
      if (this.#lines.length > 200) this.#lines.shift();
      for (const l of this.#listeners) l(line);
      for (let i = 0; i < this.#waiters.length; i++) {
        const w = this.#waiters[i]!;
        const m = w.re.exec(line);
        if (m !== null) {
          this.#waiters.splice(i--, 1);
          w.resolve(m);
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.#log.write(s);
      this.#stderrTail = (this.#stderrTail + s).slice(-4000);
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      for (const l of this.#errListeners) l(line);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.#log.write(`--- exit ${code ?? signal}${this.expectExit ? '' : ' (unexpected)'}\n`);
        resolve(this.exit);
      });
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  get stderrTail(): string {
    return this.#stderrTail;
  }

  /** Resolves with the first stdout line (from now on) matching `re`; rejects on timeout or exit. */
  waitLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; stderr: ${this.#stderrTail.slice(-600)}`));
      }, timeoutMs);
      const waiter = {
        re,
        resolve: (m: RegExpExecArray) => {
          done();
          resolve(m);
        },
      };
      const onExit = (e: Exit): void => {
        done();
        reject(new Error(`${this.name} exited (${e.code ?? e.signal}) before ${re}; stderr: ${this.#stderrTail.slice(-600)}`));
      };
      const done = (): void => {
        clearTimeout(timer);
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
      this.#waiters.push(waiter);
      void this.exited.then(onExit);
    });
  }

  /** Whether one of its last 200 stdout lines was `line`. */
  sawLine(line: string): boolean {
    return this.#lines.includes(line);
  }

  /** Calls `fn` with every later stdout line. */
  onLine(fn: (line: string) => void): void {
    this.#listeners.push(fn);
  }

  /** Calls `fn` with every later stderr line. */
  onErrLine(fn: (line: string) => void): void {
    this.#errListeners.push(fn);
  }

  send(line: string): void {
    if (this.alive) this.child.stdin!.write(`${line}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // gone
    }
  }

  /** SIGKILL and wait for the exit. */
  async kill9(): Promise<Exit> {
    this.expectExit = true;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<Exit> {
    this.expectExit = true;
    if (!this.alive) return this.exit!;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const e = await this.exited;
    clearTimeout(timer);
    return e;
  }

  /** Process state letter from /proc (R, S, T for stopped, ...). */
  async state(): Promise<string> {
    const { readFile } = await import('node:fs/promises');
    try {
      const s = await readFile(`/proc/${this.pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    } catch {
      return 'gone';
    }
  }

  closeLog(): Promise<void> {
    return new Promise((resolve) => this.#log.end(resolve));
  }
}
