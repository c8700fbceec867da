// MemEngine, the simulator's in-memory engine, checked against the real engine
// (engine-differential.ts): random sequences of writes, fills, reads, trims, prefix
// trims, seals, tails and reopens on both, every answer compared. Then the same check
// with planted engine bugs on: each must make it fail, so the comparison is sharp.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { BUGS } from './bugs.js';
import { newFacts, opsArb, runDifferential } from './engine-differential.js';

const dir = mkdtempSync(join(tmpdir(), 'corfu-engine-diff-'));
const device = join(dir, 'unit.img');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RUNS = Number(process.env['CORFU_DIFF_RUNS'] ?? 40);
/** Sequences are random: if some outcome was not reached in RUNS, more run, up to this many in all. */
const MAX_RUNS = Math.max(RUNS, 200);
const MORE_RUNS = 20;

/** What the sequences must reach, over all runs: otherwise the check proves less than it claims. */
const MUST_SEE = [
  'write OK',
  'write ERR_WRITTEN/same',
  'write ERR_WRITTEN/different',
  'write ERR_WRITTEN/junk',
  'write ERR_TRIMMED',
  'write ERR_TOO_LARGE',
  'write ERR_FULL',
  'write ERR_SEALED',
  'write ERR_BAD_REQUEST',
  'fill OK',
  'fill ERR_WRITTEN/different',
  'fill ERR_WRITTEN/junk',
  'fill ERR_TRIMMED',
  'read data',
  'read junk',
  'read ERR_UNWRITTEN',
  'read ERR_TRIMMED',
  // A READ whose answer would not fit one frame: the entries past the budget are deferred.
  'readMany ERR_OVERLOADED',
  'trim OK',
  'prefixTrim OK',
  'prefixTrim above the tail',
  'write repeating an address',
  'seal up tail',
  'seal same ERR_SEALED',
  'seal down ERR_SEALED',
  'tail ERR_SEALED',
  'wrapped',
  'reopen after wrap',
];

describe('MemEngine against the real engine', () => {
  it(`answers every operation alike (${RUNS} random sequences, more until every outcome is reached)`, async () => {
    const facts = newFacts();
    const missing = (): string[] => MUST_SEE.filter((s) => !facts.runsSeeing.has(s));
    do {
      await fc.assert(
        fc.asyncProperty(opsArb, (ops) => runDifferential(ops, device, [], facts)),
        { numRuns: facts.runs === 0 ? RUNS : MORE_RUNS },
      );
    } while (missing().length > 0 && facts.runs < MAX_RUNS);
    const reached = [...facts.runsSeeing].sort(([a], [b]) => a.localeCompare(b)).map(([label, runs]) => `${label}: ${runs}`);
    console.log(`engine differential: ${facts.runs} runs, ${facts.ops} operations (${(facts.ops / facts.runs).toFixed(1)} per run); runs reaching each outcome:\n  ${reached.join('\n  ')}`);
    expect(missing(), `never reached in ${facts.runs} runs`).toEqual([]);
  }, 300_000);

  const engineBugs = BUGS.filter((b) => b.layer === 'engine').map((b) => b.name);
  it.each(engineBugs)(
    'fails with the planted engine bug %s',
    async (bug) => {
      const facts = newFacts();
      const r = await fc.check(
        fc.asyncProperty(opsArb, (ops) => runDifferential(ops, device, [bug], facts)),
        { numRuns: RUNS, endOnFailure: true },
      );
      console.log(`${bug}: caught=${r.failed} after ${r.numRuns} runs, ${facts.ops} ops`);
      expect(r.failed, `${bug} survived ${RUNS} sequences`).toBe(true);
      expect(String(r.errorInstance)).toMatch(/MemEngine and the real engine differ/);
    },
    300_000,
  );
});
