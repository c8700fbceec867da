// `corfu unit` and `corfu sequencer` as child processes for cluster tests: each
// is started with `--listen HOST:PORT` (port 0 lets the kernel pick) and is
// ready once it prints `listening HOST:PORT`, the address it really bound.
// Every process started here is SIGKILLed by killAll() (call it in afterAll).

import { spawn, type ChildProcess } from 'node:child_process';

import { CLI } from './cli.js';

export interface Server {
  /** HOST:PORT as the server printed it. */
  readonly address: string;
  readonly proc: ChildProcess;
}

export class Servers {
  readonly #procs = new Set<ChildProcess>();

  /** Starts `corfu ARGS` and resolves with the address it prints; rejects if it exits first. */
  start(args: readonly string[]): Promise<Server> {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#procs.add(proc);
    proc.once('exit', () => this.#procs.delete(proc));
    let stdout = '';
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    return new Promise((resolve, reject) => {
      proc.stdout.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        const m = /^listening (\S+)$/m.exec(stdout);
        if (m) resolve({ address: m[1]!, proc });
      });
      proc.once('exit', (code, signal) => reject(new Error(`corfu ${args.join(' ')} exited (${code ?? signal}) before listening: ${stderr}`)));
    });
  }

  /** kill -9, resolved once the process is gone. */
  kill9(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  killAll(): void {
    for (const proc of this.#procs) proc.kill('SIGKILL');
  }
}
