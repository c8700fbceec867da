// The manager as a pure state machine: probe results, clock ticks, the
// store's latest projection and the outcomes of its own actions in; probes,
// reconfigurations and re-seals out. No clock, no randomness of its own (the
// driver passes `random`), no I/O: the driver (driver.ts) owns sockets, the
// store and timers, and the seeded simulator drives this same code.
//
// Every `probeIntervalMs` it probes each unit of the latest projection, its
// sequencer, the spare units and the standby sequencers. When a round's
// probes are all in (or at the next tick), and nothing it started is still
// running:
//   1. A sequencer down (`misses` probes in a row) moves to a standby that
//      answers; units down past `graceMs` are replaced by spares that answer —
//      in ONE reconfiguration (a move alone would wait forever on a dead unit's
//      seal). A spare on a host (box) none of the dead unit's chain partners is
//      on is taken first. A spare must be empty (INFO tail 0): one that served in a
//      chain before still answers its old entries. A dead unit with no empty
//      spare left stays until one answers; one that is the only whole replica
//      of a chain — counting the units the same reconfiguration replaces — is
//      never replaced (its entries are nowhere else, and the seal could not
//      count its tail): the manager waits for it to come back.
//   2. Units or the sequencer sealed past the latest epoch (a reconfiguration
//      that died half-way): bump the epoch, once they have been seen so for two
//      probe rounds (the reconfiguration may still be finishing) and while no
//      unit misses probes (a dying one is replaced in that same new epoch).
//   3. Rebuilds: a unit that replaced a dead one joined the closed chains the
//      dead one left as a replica being rebuilt; their older entries are
//      copied onto it (rebuild.ts), one unit at a time, and then it is made a
//      whole replica (`rebuilt`). A rebuild cut short (a new layout, a
//      failure) is run again later: every copy is idempotent.
//   4. A unit found at an older epoch than the latest (it missed a seal while
//      away) is sealed to the latest epoch again: no partial seal is left.
// Storm guards: it never reconfigures while it cannot reach a majority of the
// layout's units and the spares that answer (it may be the one cut off), and
// when a majority answers again it forgets the misses seen meanwhile; after losing a proposal race, or a
// failed reconfiguration, it backs off for a random time; it starts at most
// `maxEpochsPerMinute` reconfigurations a minute.
//
// Every decision is recomputed from the projection and the probes, so a new
// manager (after the active one died at any step) finishes whatever the state
// says is unfinished: there is no manager state to recover.

import { replaceable, type Change } from '../layout/next.js';
import type { Projection } from '../layout/projection.js';
import { FailureDetector, type ProbeAnswer } from './detector.js';

export interface ManagerOptions {
  /** Between two probes of a server. Default 1000 ms. */
  readonly probeIntervalMs: number;
  /** Consecutive misses that make a server down. Default 3. */
  readonly misses: number;
  /** How long a unit stays down before it is replaced (one that comes back sooner keeps its place). Default 0. */
  readonly graceMs: number;
  /** Reconfigurations started per minute, at most. Default 6. */
  readonly maxEpochsPerMinute: number;
  /** The random backoff after a lost race or a failed reconfiguration: between min and max ms. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /** Units that can replace dead ones, `host:port`. */
  readonly spares: readonly string[];
  /** Sequencers that can replace a dead one. */
  readonly standbySequencers: readonly string[];
  /** A number in [0, 1): the driver's randomness (Math.random; a seeded PRNG in the simulator). */
  readonly random: () => number;
}

export const MANAGER_DEFAULTS = { probeIntervalMs: 1000, misses: 3, graceMs: 0, maxEpochsPerMinute: 6, backoffMinMs: 200, backoffMaxMs: 2000 } as const;

export type ServerRole = 'unit' | 'sequencer';

export type ManagerEvent =
  | { readonly tick: { readonly now: number } }
  /** A probe's outcome: the answer, or undefined when it got none in time. */
  | { readonly probed: { readonly server: string; readonly now: number; readonly answer: ProbeAnswer | undefined } }
  /** The store's latest projection (read or watched). */
  | { readonly layout: Projection }
  | { readonly reconfigured: { readonly now: number; readonly projection: Projection; readonly adopted: boolean } }
  | { readonly reconfigureFailed: { readonly now: number; readonly message: string } }
  | { readonly resealed: { readonly unit: string; readonly epoch: number; readonly now: number; readonly ok: boolean } }
  /** A rebuild finished (ok) or stopped (a layout change, a failure: it is started again later). */
  | { readonly rebuildDone: { readonly unit: string; readonly now: number; readonly ok: boolean; readonly message: string } };

export type ManagerAction =
  /** Ask `server` how it is (a unit: INFO; the sequencer: TAIL at `epoch`); answer with a `probed` event. */
  | { readonly probe: { readonly server: string; readonly role: ServerRole; readonly epoch: number } }
  /** Run a reconfiguration of the latest projection; answer with `reconfigured` or `reconfigureFailed`. */
  | { readonly reconfigure: { readonly changes: readonly Change[]; readonly reason: string } }
  /** SEAL `unit` to `epoch` (it is behind); answer with `resealed`. */
  | { readonly reseal: { readonly unit: string; readonly epoch: number } }
  /** Rebuild `unit` (rebuild.ts) under the latest layout; answer with `rebuildDone`. */
  | { readonly rebuild: { readonly unit: string } }
  | { readonly log: { readonly level: 'info' | 'warn'; readonly message: string } };

const MINUTE_MS = 60_000;

export class Manager {
  readonly options: ManagerOptions;
  readonly detector: FailureDetector;
  #layout: Projection;
  #now = 0;
  /** Servers with a probe out (no second one until it is answered). */
  readonly #probing = new Set<string>();
  /** When each server was last probed. */
  readonly #probedAt = new Map<string, number>();
  #reconfiguring = false;
  #resealing = new Set<string>();
  /** When the reconfigurations of the last minute started. */
  #starts: number[] = [];
  #backoffUntil = 0;
  /** Fewer than a majority of units answered at the last decision: its misses may be its own partition. */
  #cutOff = false;
  /** Since when something was seen sealed past the latest epoch. */
  #aheadSince: number | undefined;
  /** What was last logged as the reason for doing nothing (logged once, not every tick). */
  #idleReason = '';
  /** Since when a reconfiguration waits for servers that miss probes to be down too (see #decide). */
  #suspectsSince: number | undefined;
  /** The unit being rebuilt now (one at a time), and one whose rebuild finished and waits for its projection. */
  #rebuilding: string | undefined;
  #rebuilt: string | undefined;
  /** When a unit's rebuild stopped short, it is tried again a backoff later: from when. */
  readonly #rebuildRetryAt = new Map<string, number>();

  constructor(layout: Projection, options: ManagerOptions) {
    this.options = options;
    this.detector = new FailureDetector(options.misses);
    this.#layout = layout;
  }

  get layout(): Projection {
    return this.#layout;
  }

  get reconfiguring(): boolean {
    return this.#reconfiguring;
  }

  step(event: ManagerEvent): ManagerAction[] {
    if ('tick' in event) {
      this.#now = Math.max(this.#now, event.tick.now);
      return [...this.#probes(), ...this.#decide()];
    }
    if ('probed' in event) {
      const { server, now, answer } = event.probed;
      this.#now = Math.max(this.#now, now);
      this.#probing.delete(server);
      this.detector.record(server, now, answer);
      // Decide once a round's probes are all in: failures seen in one round go into one reconfiguration.
      return this.#probing.size === 0 ? this.#decide() : [];
    }
    if ('layout' in event) {
      this.#adopt(event.layout);
      return this.#decide();
    }
    if ('reconfigured' in event) {
      const { now, projection, adopted } = event.reconfigured;
      this.#now = Math.max(this.#now, now);
      this.#reconfiguring = false;
      this.#adopt(projection);
      if (adopted) {
        // Another manager (or an operator) got there first: let it settle before acting again.
        this.#backoff(`another reconfiguration installed epoch ${projection.epoch}`);
        return [{ log: { level: 'info', message: `epoch ${projection.epoch} was installed by another reconfiguration; backing off` } }];
      }
      return [{ log: { level: 'info', message: `installed epoch ${projection.epoch}` } }];
    }
    if ('reconfigureFailed' in event) {
      const { now, message } = event.reconfigureFailed;
      this.#now = Math.max(this.#now, now);
      this.#reconfiguring = false;
      this.#backoff(message);
      return [{ log: { level: 'warn', message: `reconfiguration failed: ${message}; backing off` } }];
    }
    if ('rebuildDone' in event) {
      const { unit, now, ok, message } = event.rebuildDone;
      this.#now = Math.max(this.#now, now);
      this.#rebuilding = undefined;
      if (ok) {
        this.#rebuilt = unit;
        return [{ log: { level: 'info', message: `rebuild of ${unit} done (${message})` } }, ...this.#decide()];
      }
      const { backoffMinMs: min, backoffMaxMs: max } = this.options;
      this.#rebuildRetryAt.set(unit, this.#now + min + this.options.random() * (max - min));
      return [{ log: { level: 'warn', message: `rebuild of ${unit} stopped: ${message}; trying again later` } }];
    }
    const { unit, epoch, now, ok } = event.resealed;
    this.#now = Math.max(this.#now, now);
    this.#resealing.delete(unit);
    // Sealed: until its next probe says otherwise, it is at that epoch (else every tick before
    // that probe would seal it again).
    const last = this.detector.health(unit).last;
    if (ok && last !== undefined && last.epoch < epoch) this.detector.health(unit).last = { ...last, epoch };
    return [];
  }

  /** The units being rebuilt in some chain of the latest layout. */
  #rebuildTargets(): string[] {
    return [...new Set(this.#layout.segments.flatMap((s) => s.stripes.flatMap((t) => t.rebuilding ?? [])))];
  }

  /** Rebuilds: a finished one gets its projection; else one starts, on a unit that answers. */
  #rebuildActions(): ManagerAction[] {
    const targets = this.#rebuildTargets();
    const done = this.#rebuilt;
    if (done !== undefined) {
      this.#rebuilt = undefined;
      // Still a target: no new layout took it out meanwhile (then it is rebuilt again, or not at all).
      if (targets.includes(done)) return this.#reconfigure([{ kind: 'rebuilt', unit: done }], `rebuild of ${done} done`);
    }
    if (this.#rebuilding !== undefined) return [];
    const next = targets.find((u) => this.detector.isUp(u) && (this.#rebuildRetryAt.get(u) ?? 0) <= this.#now);
    if (next === undefined) return [];
    this.#rebuilding = next;
    return [{ rebuild: { unit: next } }, { log: { level: 'info', message: `rebuild of ${next} starting` } }];
  }

  // ---- probes ------------------------------------------------------------------------

  /** Every server the manager watches, with its role. */
  #watched(): Array<[string, ServerRole]> {
    const p = this.#layout;
    const out: Array<[string, ServerRole]> = [[p.sequencer, 'sequencer']];
    for (const u of p.units) out.push([u, 'unit']);
    for (const u of this.options.spares) if (!p.units.includes(u)) out.push([u, 'unit']);
    for (const s of this.options.standbySequencers) if (s !== p.sequencer) out.push([s, 'sequencer']);
    return out;
  }

  #probes(): ManagerAction[] {
    const out: ManagerAction[] = [];
    for (const [server, role] of this.#watched()) {
      if (this.#probing.has(server)) continue;
      const last = this.#probedAt.get(server);
      if (last !== undefined && this.#now - last < this.options.probeIntervalMs) continue;
      this.#probing.add(server);
      this.#probedAt.set(server, this.#now);
      out.push({ probe: { server, role, epoch: this.#layout.epoch } });
    }
    return out;
  }

  // ---- decisions -------------------------------------------------------------------

  #decide(): ManagerAction[] {
    if (this.#reconfiguring) return [];
    const p = this.#layout;
    const d = this.detector;
    // Nothing is known before every unit was probed once.
    if (p.units.some((u) => d.health(u).last === undefined && d.health(u).misses === 0)) return [];
    // The layout's units and the spares that answer: with fewer than half of them
    // answering, this manager may be the one cut off, and a replacement it made would
    // take the place of live units. (A spare that does not answer is not counted: a box
    // gone for good must not keep the cluster from healing.)
    const known = [...new Set([...p.units, ...this.options.spares.filter((s) => d.isUp(s))])];
    const reachable = known.filter((u) => d.isUp(u)).length;
    if (reachable * 2 <= known.length) {
      this.#cutOff = true;
      return this.#idle(`only ${reachable} of ${known.length} units answer: not reconfiguring (this manager may be the one cut off)`);
    }
    if (this.#cutOff) {
      // A majority answers again. The misses seen meanwhile may have been the manager's own
      // partition, and the answers of one round come in one by one: a server not heard from
      // yet must miss `misses` probes anew before it is down (else a live unit is replaced).
      this.#cutOff = false;
      const silent = this.#watched()
        .map(([s]) => s)
        .filter((s) => d.health(s).misses > 0);
      for (const s of silent) d.forgetMisses(s);
      this.#idleReason = '';
      return silent.length === 0 ? [] : [{ log: { level: 'info', message: `a majority answers again: ${silent.join(', ')} must miss ${this.options.misses} new probes to be down` } }];
    }
    if (this.#now < this.#backoffUntil) return [];

    const changes: Change[] = [];
    const reasons: string[] = [];
    // A spare must be empty: one that held addresses (a unit replaced earlier that came back) would
    // answer its stale entries for them. It is a spare again once formatted.
    const answering = this.options.spares.filter((s) => !p.units.includes(s) && d.isUp(s));
    const spares = answering.filter((s) => d.health(s).last?.tail === 0);
    const used = answering.filter((s) => !spares.includes(s));
    const leaving = new Set<string>();
    for (const unit of p.units) {
      const h = d.health(unit);
      if (h.downSince === undefined || this.#now - h.downSince < this.options.graceMs) continue;
      if (!replaceable(p, unit, leaving)) {
        reasons.push(`unit ${unit} is down and it is the only whole replica of a chain left: waiting for it to come back`);
        continue;
      }
      const spare = takeSpare(spares, hostsBeside(p, unit, leaving));
      if (spare === undefined) {
        reasons.push(`unit ${unit} is down and no empty spare answers${used.length === 0 ? '' : ` (${used.join(', ')} hold entries: format them to make them spares)`}`);
        continue;
      }
      changes.push({ kind: 'replace-unit', old: unit, replacement: spare });
      leaving.add(unit);
      reasons.push(`unit ${unit} is down: replaced by ${spare}`);
    }
    if (d.isDown(p.sequencer)) {
      const standby = this.options.standbySequencers.find((s) => s !== p.sequencer && d.isUp(s));
      if (standby === undefined) reasons.push(`sequencer ${p.sequencer} is down and no standby answers`);
      else {
        changes.push({ kind: 'move-sequencer', sequencer: standby });
        reasons.push(`sequencer ${p.sequencer} is down: moved to ${standby}`);
      }
    }
    if (changes.length > 0) {
      // Servers that fail together (a box losing power) miss their probes a round or two
      // apart. Replacing the first one found down alone would cost an epoch (a seal, every
      // client's refresh) per server: while another server of the layout is missing probes
      // without being down yet, the decision waits, for at most one detection period.
      const suspects = [...p.units, p.sequencer].filter((s) => d.health(s).misses > 0 && !d.isDown(s));
      if (suspects.length > 0) {
        this.#suspectsSince ??= this.#now;
        if (this.#now - this.#suspectsSince < this.options.misses * this.options.probeIntervalMs) return [];
      }
      this.#suspectsSince = undefined;
      return this.#reconfigure(changes, reasons.join('; '));
    }
    this.#suspectsSince = undefined;
    if (reasons.length > 0) return this.#idle(reasons.join('; '));

    const rebuilds = this.#rebuildActions();
    if (this.#reconfiguring) return rebuilds;

    // Sealed past the latest epoch: a reconfiguration died half-way. Give a live one two rounds to finish.
    // Not while a unit or the sequencer is missing probes: if it is dying, the reconfiguration that
    // replaces it bumps the epoch too, and one bump before it would only delay it by a backoff.
    const ahead = [...p.units, p.sequencer].filter((s) => (d.health(s).last?.epoch ?? 0) > p.epoch);
    const missing = [...p.units, p.sequencer].some((s) => d.health(s).misses > 0);
    if (ahead.length > 0 && missing) {
      this.#aheadSince ??= this.#now;
    } else if (ahead.length > 0) {
      this.#aheadSince ??= this.#now;
      if (this.#now - this.#aheadSince >= 2 * this.options.probeIntervalMs) {
        this.#aheadSince = undefined;
        return [...rebuilds, ...this.#reconfigure([], `${ahead.join(', ')} sealed past epoch ${p.epoch} with no projection: a new epoch`)];
      }
    } else {
      this.#aheadSince = undefined;
    }

    // Behind the latest epoch: it missed a seal while away. Seal it again.
    const out: ManagerAction[] = [...rebuilds];
    for (const unit of p.units) {
      const last = d.health(unit).last;
      if (!d.isUp(unit) || last === undefined || last.epoch >= p.epoch || this.#resealing.has(unit)) continue;
      this.#resealing.add(unit);
      out.push({ reseal: { unit, epoch: p.epoch } }, { log: { level: 'info', message: `unit ${unit} is at epoch ${last.epoch}, behind ${p.epoch}: sealing it` } });
    }
    return out;
  }

  #reconfigure(changes: Change[], reason: string): ManagerAction[] {
    this.#starts = this.#starts.filter((t) => this.#now - t < MINUTE_MS);
    if (this.#starts.length >= this.options.maxEpochsPerMinute) {
      return this.#idle(`${this.#starts.length} reconfigurations in the last minute (at most ${this.options.maxEpochsPerMinute}): waiting (${reason})`);
    }
    this.#starts.push(this.#now);
    this.#reconfiguring = true;
    this.#idleReason = '';
    return [{ reconfigure: { changes, reason } }, { log: { level: 'info', message: `reconfiguring epoch ${this.#layout.epoch} -> ${this.#layout.epoch + 1}: ${reason}` } }];
  }

  /** Does nothing, saying why once. */
  #idle(reason: string): ManagerAction[] {
    if (reason === this.#idleReason) return [];
    this.#idleReason = reason;
    return [{ log: { level: 'warn', message: reason } }];
  }

  #backoff(why: string): void {
    const { backoffMinMs: min, backoffMaxMs: max } = this.options;
    this.#backoffUntil = this.#now + min + this.options.random() * (max - min);
    this.#idleReason = why;
  }

  #adopt(p: Projection): void {
    if (p.epoch <= this.#layout.epoch) return;
    const before = this.#layout;
    this.#layout = p;
    // Units and sequencers that left are no longer watched (unless they are spares or standbys).
    const watched = new Set(this.#watched().map(([s]) => s));
    for (const s of [...before.units, before.sequencer]) if (!watched.has(s)) this.detector.forget(s);
  }
}

/** The host of a `host:port` address: what a box is to the manager. */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':'));
}

/** The hosts of the replicas that stay beside `unit` in its chains (not those `leaving`). */
function hostsBeside(p: Projection, unit: string, leaving: ReadonlySet<string>): Set<string> {
  const hosts = new Set<string>();
  for (const segment of p.segments) {
    for (const stripe of segment.stripes) {
      if (!stripe.chain.includes(unit)) continue;
      for (const u of stripe.chain) if (u !== unit && !leaving.has(u)) hosts.add(hostOf(u));
    }
  }
  return hosts;
}

/**
 * Takes the first spare on a host none of `avoid` is on (so a chain's replicas do not end up
 * on one box, where one power cut takes both), else the first spare; removes it from `spares`.
 */
function takeSpare(spares: string[], avoid: ReadonlySet<string>): string | undefined {
  const i = spares.findIndex((s) => !avoid.has(hostOf(s)));
  return spares.splice(i < 0 ? 0 : i, 1)[0];
}
