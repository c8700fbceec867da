// The sequencer's stream tails: for every stream, its latest STREAM_BACKPOINTERS
// addresses (docs/streams.md). Pure: the Sequencer (state.ts) owns one and calls it
// under its own epoch checks; tests drive it directly.
//
// The tails are soft state. A sequencer that may have missed stream tokens (a fresh
// process bootstrapped above address 0, or one told so by BOOTSTRAP's resetStreams)
// forgets them and knows streams only from `from` up (every stream token it hands out
// from then on is in the map). Clients then read the log below `from` and seed the
// tails range by range downwards (STREAM_SEED) until the log's start or its trim mark:
// until then STREAM_TOKEN and STREAM_TAILS are refused with ERR_RECOVERING, because a
// stream entry written with half-known backpointers would cut its stream in two.
//
// Invariants (asserted):
// - every stream's list is strictly decreasing, 1..STREAM_BACKPOINTERS long, and below
//   the next token;
// - a seeded address is below every address the map held for that stream.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import { STREAM_BACKPOINTERS } from '../wire/messages.js';
import type { SeedEntry, StreamAddresses, StreamId } from '../wire/messages.js';

/** The most streams a sequencer tracks by default (about 150 bytes each). */
export const DEFAULT_MAX_STREAMS = 1_000_000;

export interface StreamTailsSnapshot {
  readonly streams: number;
  /** The map holds every stream entry at or above this address. */
  readonly from: number;
  readonly recovered: boolean;
}

export class StreamTails {
  readonly #latest = new Map<StreamId, number[]>();
  readonly #maxStreams: number;
  #from: number;
  #recovered: boolean;
  /** Where the last rebuild stopped (the log's trim floor then): no stream entry below it is known. */
  #floor = 0;

  /** Starts knowing nothing below `from`: whole at once only for an empty log (0). */
  constructor(from: number, maxStreams = DEFAULT_MAX_STREAMS) {
    invariant(Number.isSafeInteger(maxStreams) && maxStreams >= 1, () => `stream tails: a limit of ${maxStreams} streams`);
    this.#maxStreams = maxStreams;
    this.#from = from;
    this.#recovered = from === 0;
  }

  snapshot(): StreamTailsSnapshot {
    return { streams: this.#latest.size, from: this.#from, recovered: this.#recovered };
  }

  /** Below this no stream entry is known: a rebuild stopped at a trimmed log's floor (0: none). */
  get floor(): number {
    return this.#floor;
  }

  /** Forgets every tail: nothing below `from` is known until it is seeded again. */
  reset(from: number): void {
    this.#latest.clear();
    this.#floor = 0;
    this.#from = from;
    this.#recovered = from === 0;
  }

  /** ERR_RECOVERING while tails below `from` are missing; undefined when whole. */
  unlessRecovered(): CorfuError | undefined {
    if (this.#recovered) return undefined;
    return new CorfuError('ERR_RECOVERING', `the sequencer is rebuilding its stream tails from the log (known from address ${this.#from} up): a client seeds them with STREAM_SEED, then retry`);
  }

  /** Checks a STREAM_TOKEN's streams before any token is taken: distinct, and room for the new ones. */
  checkToken(streams: readonly StreamId[]): CorfuError | undefined {
    const seen = new Set(streams);
    if (seen.size !== streams.length) return new CorfuError('ERR_BAD_REQUEST', 'STREAM_TOKEN names a stream twice');
    let fresh = 0;
    for (const s of seen) if (!this.#latest.has(s)) fresh++;
    return this.#room(fresh);
  }

  /** The latest addresses of each stream (a copy), newest first. */
  latest(streams: readonly StreamId[]): StreamAddresses[] {
    return streams.map((s) => [...(this.#latest.get(s) ?? [])]);
  }

  /**
   * Records that [first, first + count) belong to every stream in `streams`, and answers
   * each stream's latest addresses before `first`: the backpointers of the first entry.
   */
  issue(first: number, count: number, streams: readonly StreamId[]): StreamAddresses[] {
    const before = this.latest(streams);
    const newest: number[] = [];
    for (let a = first + count - 1; a >= first && newest.length < STREAM_BACKPOINTERS; a--) newest.push(a);
    for (const [i, s] of streams.entries()) {
      const previous = before[i]!;
      invariant(previous.length === 0 || previous[0]! < first, () => `stream tails: stream ${s} already holds ${previous[0]}, at or above the new token ${first}`);
      this.#latest.set(s, [...newest, ...previous].slice(0, STREAM_BACKPOINTERS));
    }
    return before;
  }

  /**
   * Seeds the tails of [from, to), read from the log by a client. Taken only when `to`
   * is where the map's knowledge begins; otherwise (a racing or late seeder) nothing
   * changes, and the answer tells the caller where to go on from.
   */
  seed(from: number, to: number, done: boolean, entries: readonly SeedEntry[]): { from: number; recovered: boolean } | CorfuError {
    if (this.#recovered || to !== this.#from) return { from: this.#from, recovered: this.#recovered };
    const seen = new Set<StreamId>();
    let fresh = 0;
    for (const e of entries) {
      if (seen.has(e.stream)) return new CorfuError('ERR_BAD_REQUEST', `STREAM_SEED names stream ${e.stream} twice`);
      seen.add(e.stream);
      if (!this.#latest.has(e.stream)) fresh++;
      let above = to;
      for (const a of e.addresses) {
        if (a < from || a >= above) {
          return new CorfuError('ERR_BAD_REQUEST', `STREAM_SEED: stream ${e.stream}'s addresses must lie in [${from}, ${to}) newest first; got ${e.addresses.join(', ')}`);
        }
        above = a;
      }
    }
    const full = this.#room(fresh);
    if (full !== undefined) return full;
    for (const e of entries) {
      const held = this.#latest.get(e.stream) ?? [];
      invariant(held.length === 0 || held[held.length - 1]! >= to, () => `stream tails: stream ${e.stream} holds ${held.join(', ')}, below the seeded range's end ${to}`);
      this.#latest.set(e.stream, [...held, ...e.addresses].slice(0, STREAM_BACKPOINTERS));
    }
    this.#from = from;
    if (done) {
      this.#recovered = true;
      this.#floor = from;
    }
    return { from: this.#from, recovered: this.#recovered };
  }

  #room(fresh: number): CorfuError | undefined {
    if (this.#latest.size + fresh <= this.#maxStreams) return undefined;
    return new CorfuError('ERR_FULL', `the sequencer tracks at most ${this.#maxStreams} streams (--max-streams); ${this.#latest.size} are in use`);
  }
}
