// A simulated storage unit: the real request handler (src/unit/handler.ts)
// over the in-memory engine, behind a LinkServer on the simulated network. It
// can crash (the engine, its links and every packet in flight to it are lost;
// the Disk stays) and restart (a new engine opened over the same Disk, as
// recovery does). Every answer is reported to the epoch checker.

import { handleRequest } from '../../src/unit/handler.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { Bugs } from './bugs.js';
import type { Checkers } from './checkers.js';
import { Disk, MemEngine } from './engine.js';
import type { Network } from './network.js';
import { LinkServer } from './server.js';

export class SimUnit {
  readonly name: string;
  readonly disk: Disk;
  #engine: MemEngine | undefined;
  readonly #server: LinkServer;
  readonly #bugs: Bugs;
  readonly #check: Checkers;
  crashes = 0;
  /** Its device is gone for good: it never restarts (a reconfiguration replaces it). */
  destroyed = false;

  constructor(name: string, epoch: number, net: Network, bugs: Bugs, check: Checkers) {
    this.name = name;
    // A unit's device is formatted once (a simulated unit never comes back formatted again).
    this.disk = new Disk({ formatId: formatIdOf(name) });
    this.disk.epoch = epoch;
    this.#bugs = bugs;
    this.#check = check;
    this.#server = new LinkServer(name, net);
    this.restart();
  }

  get up(): boolean {
    return this.#engine !== undefined;
  }

  /** Holds no address at all (what INFO's tail 0 says): usable as a spare. */
  get empty(): boolean {
    return (this.#engine?.tailNow ?? this.disk.recoveredTail()) === 0;
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
    this.#server.stop();
  }

  destroy(): void {
    this.crash();
    this.destroyed = true;
  }

  restart(): void {
    if (this.#engine !== undefined || this.destroyed) return;
    const engine = new MemEngine(this.disk, this.#bugs);
    this.#engine = engine;
    this.#server.start((req) => this.#serve(engine, req));
  }

  async #serve(engine: MemEngine, req: Request): Promise<Response> {
    const epochAtService = engine.epoch;
    const res = await handleRequest(engine, req);
    this.#check.served(this.name, req, res, epochAtService);
    return res;
  }
}

/** A format id derived from the unit's name (FNV-1a, 64 bits): deterministic, one per simulated unit. */
function formatIdOf(name: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(name)) h = ((h ^ BigInt(c)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}
