// The failure detector: what the probes said about each server. Pure: probe
// results and times in, answers out.
//
// A miss is a probe without an answer (within the probe timeout); a server is
// down after `misses` consecutive misses, and up again at its first answer. A
// server that stops for less than that (a SIGSTOP, a GC pause, a slow disk)
// is never down.

/** What a probe learned from a server that answered. */
export interface ProbeAnswer {
  /** The server's epoch (a unit's, from INFO; the sequencer's, from TAIL or its ERR_SEALED). */
  readonly epoch: number;
  /** A unit's local tail; the sequencer's next token. */
  readonly tail: number;
}

export interface ServerHealth {
  /** Consecutive probes without an answer. */
  misses: number;
  /** When the current run of misses began (the first miss), or undefined while it answers. */
  missingSince: number | undefined;
  /** The last answer, if any. */
  last: ProbeAnswer | undefined;
  /** When the server was declared down (`misses` reached), or undefined. */
  downSince: number | undefined;
}

export class FailureDetector {
  readonly #misses: number;
  readonly #servers = new Map<string, ServerHealth>();

  constructor(misses: number) {
    if (!Number.isSafeInteger(misses) || misses < 1) throw new RangeError(`misses must be a positive integer, got ${misses}`);
    this.#misses = misses;
  }

  /** Records one probe of `server` at `now`: its answer, or undefined for a miss. Returns the server's health. */
  record(server: string, now: number, answer: ProbeAnswer | undefined): ServerHealth {
    const h = this.health(server);
    if (answer !== undefined) {
      h.misses = 0;
      h.missingSince = undefined;
      h.downSince = undefined;
      h.last = answer;
      return h;
    }
    if (h.misses === 0) h.missingSince = now;
    h.misses++;
    if (h.misses >= this.#misses && h.downSince === undefined) h.downSince = now;
    return h;
  }

  /** The health of `server` (a server never probed has no misses and no answer). */
  health(server: string): ServerHealth {
    let h = this.#servers.get(server);
    if (h === undefined) this.#servers.set(server, (h = { misses: 0, missingSince: undefined, last: undefined, downSince: undefined }));
    return h;
  }

  isDown(server: string): boolean {
    return this.health(server).downSince !== undefined;
  }

  /** Answered its last probe. */
  isUp(server: string): boolean {
    const h = this.health(server);
    return h.misses === 0 && h.last !== undefined;
  }

  /**
   * Forgets the current run of misses of `server` (its last answer stays): they say
   * nothing about it, e.g. they were seen while the prober itself was cut off. It is
   * down again only after `misses` new ones.
   */
  forgetMisses(server: string): void {
    const h = this.health(server);
    h.misses = 0;
    h.missingSince = undefined;
    h.downSince = undefined;
  }

  /** Stops tracking `server` (it left the cluster). */
  forget(server: string): void {
    this.#servers.delete(server);
  }
}
