// Rebuilding a reset sequencer's stream tails from the log (docs/streams.md,
// "Sequencer failover"). Run by a client that met ERR_RECOVERING.
//
// The sequencer knows streams from address `streamsFrom` up. The client reads the
// log below it, one range at a time, downwards, collects every stream's latest
// addresses in the range, and seeds them (STREAM_SEED). The sequencer takes a range
// only if it ends where its knowledge begins, so clients recovering at once do not
// corrupt each other: a late one is told where to go on from. The last range reaches
// the log's floor (its start, or the lowest trim mark of the units), and is seeded with
// `done`: the sequencer answers stream requests again.
//
// Cost: one read per address between the floor and the tail at the failover. The
// reads fill holes below the tail, as any read does.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import { STREAM_BACKPOINTERS } from '../wire/messages.js';
import type { SeedEntry, StreamId } from '../wire/messages.js';
import { decodeStreamEntry } from './stream-entry.js';
import type { LogRead } from './stream-reader.js';

/** Addresses read, and seeded, per STREAM_SEED. */
export const RECOVERY_RANGE = 4096;

export interface RecoveryIO {
  /** Sends STREAM_SEED; answers where the sequencer's knowledge begins now, and whether it is whole. */
  seed(from: number, to: number, done: boolean, entries: readonly SeedEntry[]): Promise<{ streamsFrom: number; recovered: boolean }>;
  /** The lowest address that may still hold a live entry: the units' lowest trim mark. */
  floor(): Promise<number>;
  /** CorfuClient.read: throws ERR_TRIMMED for a trimmed address. */
  read(address: number): Promise<LogRead>;
}

export interface RecoveryResult {
  /** Addresses this client read. */
  readonly read: number;
  /** Ranges this client seeded (another client may have seeded the rest). */
  readonly seeded: number;
}

/** Seeds the sequencer's stream tails until it says they are whole. */
export async function recoverStreamTails(io: RecoveryIO, range = RECOVERY_RANGE): Promise<RecoveryResult> {
  // An empty seed only asks where the knowledge begins (it ends at 0, which never matches a reset one).
  let state = await io.seed(0, 0, false, []);
  const floor = await io.floor();
  let read = 0;
  let seeded = 0;
  while (!state.recovered) {
    const to = state.streamsFrom;
    // A prefix trim may reach past where the sequencer's knowledge begins (trim marks can
    // run ahead of the tail): then there is nothing left to read, and the range is empty.
    const from = Math.min(to, Math.max(floor, to - range, 0));
    const done = from <= floor || from === to;
    const addresses: number[] = [];
    for (let a = to - 1; a >= from; a--) addresses.push(a);
    const found = await Promise.all(addresses.map((a) => readForSeed(io, a)));
    read += addresses.length;
    const latest = new Map<StreamId, number[]>();
    // Newest first: the first STREAM_BACKPOINTERS addresses seen of each stream are its latest in the range.
    for (const [i, streams] of found.entries()) {
      for (const id of streams) {
        const list = latest.get(id) ?? [];
        if (list.length < STREAM_BACKPOINTERS) list.push(addresses[i]!);
        latest.set(id, list);
      }
    }
    const entries = [...latest].map(([stream, list]) => ({ stream, addresses: list }));
    const next = await io.seed(from, to, done, entries);
    invariant(next.recovered || next.streamsFrom !== to || from === to, () => `stream recovery: the sequencer did not move from ${to} after a seed of [${from}, ${to})`);
    seeded++;
    state = next;
  }
  return { read, seeded };
}

/** The streams an address's entry belongs to; none for junk, a plain entry or a trimmed address. */
async function readForSeed(io: RecoveryIO, address: number): Promise<readonly StreamId[]> {
  let entry: LogRead;
  try {
    entry = await io.read(address);
  } catch (err) {
    if (err instanceof CorfuError && err.code === 'ERR_TRIMMED') return [];
    throw err;
  }
  if (entry.kind === 'junk') return [];
  return decodeStreamEntry(entry.payload)?.streams.map((s) => s.id) ?? [];
}
