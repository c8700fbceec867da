// A simulated storage unit: the real request handler (src/unit/handler.ts)
// over the in-memory engine, on the simulated network. It can crash (the
// engine and every message in flight to it are lost; the Disk stays) and
// restart (a new engine opened over the same Disk, as recovery does).
// Every answer is reported to the epoch checker.

import { handleRequest } from '../../src/unit/handler.js';
import type { Request } from '../../src/wire/messages.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';
import { Disk, MemEngine } from './engine.js';
import type { Envelope, Network } from './network.js';

export class SimUnit {
  readonly name: string;
  readonly disk = new Disk();
  #engine: MemEngine | undefined;
  readonly #net: Network;
  readonly #bugs: Bugs;
  readonly #check: Checkers;
  crashes = 0;
  /** Its device is gone for good: it never restarts (a reconfiguration replaces it). */
  destroyed = false;

  constructor(name: string, epoch: number, net: Network, bugs: Bugs, check: Checkers) {
    this.name = name;
    this.disk.epoch = epoch;
    this.#net = net;
    this.#bugs = bugs;
    this.#check = check;
    this.#engine = new MemEngine(this.disk, bugs);
    net.attach(name, (env) => this.#receive(env));
  }

  get up(): boolean {
    return this.#engine !== undefined;
  }

  /** The epoch the running engine serves (undefined while down). */
  get epoch(): number | undefined {
    return this.#engine?.epoch;
  }

  crash(): void {
    if (this.#engine === undefined) return;
    this.#engine.close();
    this.#engine = undefined;
    this.crashes++;
    this.#net.detach(this.name);
  }

  destroy(): void {
    this.crash();
    this.destroyed = true;
  }

  restart(): void {
    if (this.#engine !== undefined) return;
    this.#engine = new MemEngine(this.disk, this.#bugs);
    this.#net.attach(this.name, (env) => this.#receive(env));
  }

  async #receive(env: Envelope): Promise<void> {
    const engine = this.#engine;
    if (engine === undefined || env.payload.kind !== 'request') return;
    const req: Request = env.payload.body;
    const epochAtService = engine.epoch;
    const res = await handleRequest(engine, req);
    this.#check.served(this.name, req, res, epochAtService);
    this.#net.send(this.name, env.from, { kind: 'response', body: res });
  }
}
