// The stream reader's walk on a log given by hand (no servers): what it delivers, in
// which order, and where it throws ERR_TRIMMED.

import { describe, expect, it } from 'vitest';

import { CorfuError } from '../bindings/errors.js';
import { encodeStreamEntry, streamId } from '../src/client/stream-entry.js';
import { StreamReader, StreamTrimmedError, nextCut, type LogRead, type StreamReaderIO } from '../src/client/stream-reader.js';

const BLUE = streamId('blue');

/** A log of blue's entries (address -> backpointers), junk and trimmed addresses. */
function logIO(log: { entries: Record<number, number[]>; junk: number[]; trimmed: number[] }, latest: number[], tail: number): StreamReaderIO & { reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    deadlineMs: 1000,
    now: () => 0,
    latest: () => Promise.resolve({ tail, latest, floor: 0 }),
    read: (address: number): Promise<LogRead> => {
      reads.push(address);
      if (log.trimmed.includes(address)) return Promise.reject(new CorfuError('ERR_TRIMMED', `address ${address} was trimmed`));
      const bps = log.entries[address];
      if (bps !== undefined) return Promise.resolve({ address, kind: 'data', payload: encodeStreamEntry([{ id: BLUE, backpointers: bps }], Buffer.from(`e${address}`)) });
      return Promise.resolve({ address, kind: 'junk' });
    },
  };
}

/** readNext until the end; an ERR_TRIMMED is recorded as -address and sought past. */
async function drain(reader: StreamReader): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    try {
      const e = await reader.readNext();
      if (e === undefined) return out;
      out.push(e.address);
    } catch (err) {
      if (!(err instanceof StreamTrimmedError)) throw err;
      out.push(-err.address);
      reader.seek(err.address + 1);
    }
  }
}

describe('stream reader walk', () => {
  // Simulator seed 1222823: blue at 3, 5, 7, 11, 28, 35; failed appends of blue (junk) at
  // 22-25 and 29; 5 and 11 trimmed one by one; then the sequencer's tails were rebuilt
  // from the log, which reads a trimmed address as nobody's: it lists 35, 28, 7, 3.
  const log = {
    entries: { 3: [0], 7: [5, 3, 0], 11: [8, 7, 5, 3], 28: [25, 24, 23, 22], 35: [29, 28, 25, 24] },
    junk: [0, 8, 22, 23, 24, 25, 29],
    trimmed: [5, 11],
  };

  it('finds a trimmed entry hidden under a cut above an older entry the tails named, and throws ERR_TRIMMED for it', async () => {
    const io = logIO(log, [35, 28, 7, 3], 40);
    const got = await drain(new StreamReader(io, 'blue', BLUE));
    expect(got).toEqual([3, -5, 7, -11, 28, 35]);
    // The scan under 28 read the stretch down to 7, the next entry found below it.
    expect(io.reads.filter((a) => a > 7 && a < 22).sort((x, y) => x - y)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });

  it('with the tails a sequencer keeps in normal running (its latest tokens, junk included), scans only below the lowest entry', async () => {
    const io = logIO(log, [35, 29, 28, 25], 40);
    const reader = new StreamReader(io, 'blue', BLUE);
    const got = await drain(reader);
    // 28's backpointers are all junk and 28 is the lowest entry the walk reaches: the cut
    // below it is scanned, as ever, down to the trimmed 11, where the walk stops (what lies
    // below a trimmed entry is the checkpoint's to restore).
    expect(got).toEqual([-11, 28, 35]);
    expect(reader.stats.scanned).toBeGreaterThan(0);
  });
});

describe('nextCut', () => {
  const bp = (...a: number[]): number[] => a;
  it('names the highest entry whose backpointers hold no entry, and the stretch down to the next entry below', () => {
    const entries = new Map([
      [35, bp(29, 28, 25, 24)],
      [28, bp(25, 24, 23, 22)],
      [7, bp(5, 3, 0)],
      [3, bp(0)],
    ]);
    const scanned = new Set<number>();
    expect(nextCut(entries, scanned, -1)).toEqual({ from: 21, to: 7 });
    expect(nextCut(entries, scanned, -1)).toBeUndefined();
  });
  it('no cut with fewer backpointers than the most, with one at or below the floor, or with nothing between', () => {
    expect(nextCut(new Map([[9, bp(4, 3, 2)]]), new Set(), -1)).toBeUndefined();
    expect(nextCut(new Map([[9, bp(8, 7, 6, 5)]]), new Set(), 5)).toBeUndefined();
    expect(
      nextCut(
        new Map([
          [9, bp(8, 7, 6, 5)],
          [4, bp(3, 2, 1, 0)],
        ]),
        new Set(),
        -1,
      ),
    ).toBeUndefined();
    expect(nextCut(new Map([[9, bp(8, 7, 6, 5)]]), new Set(), -1)).toEqual({ from: 4, to: -1 });
  });
});
