// The manager's pure state machine (src/manager/machine.ts), driven one event
// at a time: probes in, reconfigurations, re-seals and probes out. No sockets,
// no timers.

import { describe, expect, it } from 'vitest';

import { parseProjection, type Projection } from '../src/layout/index.js';
import { Manager, type ManagerAction, type ManagerOptions } from '../src/manager/machine.js';

const U = ['u0:1', 'u1:1', 'u2:1', 'u3:1'];
const SEQ = 'seq:1';

function layout(epoch = 1, units = U, sequencer = SEQ): Projection {
  return parseProjection({
    epoch,
    sequencer,
    units,
    segments: [{ start: 0, end: null, stripes: [{ chain: units.slice(0, 2) }, { chain: units.slice(2, 4) }] }],
  });
}

function manager(options: Partial<ManagerOptions> = {}, p = layout()): Manager {
  return new Manager(p, {
    probeIntervalMs: 1000,
    misses: 3,
    graceMs: 0,
    maxEpochsPerMinute: 6,
    backoffMinMs: 500,
    backoffMaxMs: 500,
    spares: ['spare:1'],
    standbySequencers: ['seq:2'],
    random: () => 0.5,
    ...options,
  });
}

const probes = (actions: ManagerAction[]): string[] => actions.flatMap((a) => ('probe' in a ? [a.probe.server] : []));
const reconfigurations = (actions: ManagerAction[]): ManagerAction[] => actions.filter((a) => 'reconfigure' in a);

/** One probe round at `now`: every server answers at `epoch` except those in `silent`; units outside the layout are empty. */
function round(
  m: Manager,
  now: number,
  silent: readonly string[] = [],
  epochOf: (s: string) => number = () => m.layout.epoch,
  tailOf: (s: string) => number = (s) => (m.layout.units.includes(s) ? 10 : 0),
): ManagerAction[] {
  const out: ManagerAction[] = [];
  for (const a of m.step({ tick: { now } })) {
    if (!('probe' in a)) {
      out.push(a);
      continue;
    }
    const s = a.probe.server;
    out.push(...m.step({ probed: { server: s, now, answer: silent.includes(s) ? undefined : { epoch: epochOf(s), tail: tailOf(s) } } }));
  }
  return out;
}

describe('the manager machine', () => {
  it('probes the sequencer, the units, the spares and the standbys once per interval, one probe at a time each', () => {
    const m = manager();
    const first = m.step({ tick: { now: 0 } });
    expect(probes(first).sort()).toEqual([...U, 'seq:1', 'seq:2', 'spare:1'].sort());
    expect(probes(m.step({ tick: { now: 500 } }))).toEqual([]);
    // Still unanswered at the next interval: no second probe of the same server.
    expect(probes(m.step({ tick: { now: 1000 } }))).toEqual([]);
    m.step({ probed: { server: 'u0:1', now: 1000, answer: { epoch: 1, tail: 0 } } });
    expect(probes(m.step({ tick: { now: 1000 } }))).toEqual(['u0:1']);
  });

  it('does nothing about a unit that misses fewer probes than it takes to be down (a short stop)', () => {
    const m = manager();
    let t = 0;
    for (let i = 0; i < 2; i++) expect(reconfigurations(round(m, (t += 1000), ['u1:1']))).toEqual([]);
    expect(reconfigurations(round(m, (t += 1000)))).toEqual([]);
    for (let i = 0; i < 2; i++) expect(reconfigurations(round(m, (t += 1000), ['u1:1']))).toEqual([]);
  });

  it('replaces a unit down for `misses` probes with a spare that answers, once, and not again while it runs', () => {
    const m = manager();
    let t = 0;
    round(m, t);
    const seen: ManagerAction[] = [];
    for (let i = 0; i < 3; i++) seen.push(...round(m, (t += 1000), ['u1:1']));
    expect(reconfigurations(seen)).toEqual([{ reconfigure: { changes: [{ kind: 'replace-unit', old: 'u1:1', replacement: 'spare:1' }], reason: expect.stringMatching(/u1:1 is down/) } }]);
    expect(m.reconfiguring).toBe(true);
    expect(reconfigurations(round(m, (t += 1000), ['u1:1']))).toEqual([]);
  });

  it('waits out the grace period: a unit that comes back within it keeps its place', () => {
    const m = manager({ graceMs: 5000 });
    let t = 0;
    round(m, t);
    for (let i = 0; i < 5; i++) expect(reconfigurations(round(m, (t += 1000), ['u1:1']))).toEqual([]);
    expect(reconfigurations(round(m, (t += 1000)))).toEqual([]);
    // Down at its third miss, replaced 5 s later.
    for (let i = 0; i < 7; i++) round(m, (t += 1000), ['u1:1']);
    expect(m.reconfiguring).toBe(false);
    round(m, (t += 1000), ['u1:1']);
    expect(m.reconfiguring).toBe(true);
  });

  it('moves a dead sequencer to a standby, in the same reconfiguration as a dead unit', () => {
    const m = manager();
    let t = 0;
    round(m, t);
    const seen: ManagerAction[] = [];
    for (let i = 0; i < 3; i++) seen.push(...round(m, (t += 1000), ['u2:1', 'seq:1']));
    expect(reconfigurations(seen)).toEqual([
      {
        reconfigure: {
          changes: [
            { kind: 'replace-unit', old: 'u2:1', replacement: 'spare:1' },
            { kind: 'move-sequencer', sequencer: 'seq:2' },
          ],
          reason: expect.any(String),
        },
      },
    ]);
  });

  it('waits for servers that fail a round later (one box losing power) and replaces them all in one reconfiguration', () => {
    const m = manager();
    let t = 0;
    round(m, t);
    // The units go silent a round before the sequencer.
    round(m, (t += 1000), ['u2:1']);
    round(m, (t += 1000), ['u2:1', 'seq:1']);
    // u2 is down now, but the sequencer has missed one probe: no epoch for u2 alone.
    expect(reconfigurations(round(m, (t += 1000), ['u2:1', 'seq:1']))).toEqual([]);
    expect(reconfigurations(round(m, (t += 1000), ['u2:1', 'seq:1']))).toEqual([
      {
        reconfigure: {
          changes: [
            { kind: 'replace-unit', old: 'u2:1', replacement: 'spare:1' },
            { kind: 'move-sequencer', sequencer: 'seq:2' },
          ],
          reason: expect.any(String),
        },
      },
    ]);
  });

  it('goes on without a server that answers again, and waits for one still missing at most one detection period', () => {
    // u0 misses once with u2, then answers: the wait ends with its answer.
    const m = manager();
    let t = 0;
    round(m, t);
    round(m, (t += 1000), ['u2:1']);
    round(m, (t += 1000), ['u2:1']);
    expect(reconfigurations(round(m, (t += 1000), ['u2:1', 'u0:1']))).toEqual([]);
    expect(reconfigurations(round(m, (t += 1000), ['u2:1']))).toHaveLength(1);

    // u1 misses once, then its probes go unanswered (a probe still in flight is no miss, so it
    // never gets to be down): a suspect for ever. The wait for it ends after misses (3) x
    // the probe interval (1 s).
    const n = manager();
    t = 0;
    round(n, t);
    round(n, (t += 1000), ['u2:1']);
    round(n, (t += 1000), ['u2:1', 'u1:1']);
    const decidedAt: number[] = [];
    for (let i = 0; i < 6 && !n.reconfiguring; i++) {
      t += 1000;
      const actions = n.step({ tick: { now: t } });
      for (const a of [...actions]) {
        if (!('probe' in a) || a.probe.server === 'u1:1') continue;
        const s = a.probe.server;
        actions.push(...n.step({ probed: { server: s, now: t, answer: s === 'u2:1' ? undefined : { epoch: 1, tail: n.layout.units.includes(s) ? 10 : 0 } } }));
      }
      {
        const r = reconfigurations(actions);
        if (r.length > 0) {
          decidedAt.push(t);
          expect(r).toEqual([{ reconfigure: { changes: [{ kind: 'replace-unit', old: 'u2:1', replacement: 'spare:1' }], reason: expect.any(String) } }]);
        }
      }
    }
    // u2 was down at its third miss (3000); the next decision, at the tick of 4000, began the
    // wait, and it ran out 3 s later.
    expect(decidedAt).toEqual([7000]);
  });

  it('does not reconfigure without a spare or a standby that answers, and says why once', () => {
    const m = manager({ spares: [], standbySequencers: [] });
    let t = 0;
    round(m, t);
    const seen: ManagerAction[] = [];
    for (let i = 0; i < 6; i++) seen.push(...round(m, (t += 1000), ['u1:1', 'seq:1']));
    expect(reconfigurations(seen)).toEqual([]);
    const warnings = seen.filter((a) => 'log' in a && a.log.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ log: { message: expect.stringMatching(/no empty spare answers.*no standby answers/) } });
  });

  it('uses only an empty spare: one that holds entries (a replaced unit come back) is named, not used', () => {
    const m = manager({ spares: ['old:1', 'spare:1'] });
    let t = 0;
    const tails = (s: string): number => (s === 'old:1' || m.layout.units.includes(s) ? 10 : 0);
    round(m, t, [], undefined, tails);
    const seen: ManagerAction[] = [];
    for (let i = 0; i < 4; i++) seen.push(...round(m, (t += 1000), ['u1:1', 'spare:1'], undefined, tails));
    expect(reconfigurations(seen)).toEqual([]);
    expect(seen.filter((a) => 'log' in a && a.log.level === 'warn')).toEqual([{ log: { level: 'warn', message: expect.stringMatching(/no empty spare answers \(old:1 hold entries: format them/) } }]);
    // The empty spare answers again: it is the one used.
    for (let i = 0; i < 2 && reconfigurations(seen).length === 0; i++) seen.push(...round(m, (t += 1000), ['u1:1'], undefined, tails));
    expect(reconfigurations(seen)).toEqual([{ reconfigure: { changes: [{ kind: 'replace-unit', old: 'u1:1', replacement: 'spare:1' }], reason: expect.any(String) } }]);
  });

  it('replaces at most all but one replica of a chain in one reconfiguration: the seal must count the tail of one that stays', () => {
    const m = manager({ spares: ['spare:1', 'spare:2', 'spare:3'] });
    let t = 0;
    round(m, t);
    const seen: ManagerAction[] = [];
    for (let i = 0; i < 3; i++) seen.push(...round(m, (t += 1000), ['u0:1', 'u1:1']));
    expect(reconfigurations(seen)).toEqual([
      { reconfigure: { changes: [{ kind: 'replace-unit', old: 'u0:1', replacement: 'spare:1' }], reason: expect.stringMatching(/u1:1 is down and it is the only whole replica of a chain left/) } },
    ]);
  });

  it("never reconfigures while it cannot reach a majority of the units it knows (the layout's and the spares)", () => {
    const m = manager({ spares: ['spare:1', 'spare:2'] });
    let t = 0;
    round(m, t);
    const seen: ManagerAction[] = [];
    // 3 of 6 answer (u3 and both spares): not a majority.
    for (let i = 0; i < 6; i++) seen.push(...round(m, (t += 1000), ['u0:1', 'u1:1', 'u2:1']));
    expect(reconfigurations(seen)).toEqual([]);
    expect(seen.some((a) => 'log' in a && /may be the one cut off/.test(a.log.message))).toBe(true);
  });

  // Found by the multi-host fault runs (test/faults/hosts-run.ts, scenario `partition`): the
  // manager cut off from every box, then the partition heals. The servers answer again one probe
  // at a time; at a tick where most already had, the others were still down on what it saw while
  // cut off, and it replaced live units and moved a live sequencer (3 of 6 runs).
  it('once it reaches a majority again, replaces nothing on what it saw while cut off', () => {
    const spares = ['spare:1', 'spare:2'];
    const m = manager({ spares });
    const everyone = [...U, SEQ, 'seq:2', ...spares];
    let t = 0;
    round(m, t);
    const seen: ManagerAction[] = [];
    for (let i = 0; i < 4; i++) seen.push(...round(m, (t += 1000), everyone));
    // The partition heals: this round's answers come in one by one, and a tick comes
    // after every spare and most units answered, before u0 and the sequencer did.
    t += 1000;
    const late = ['u0:1', SEQ];
    for (const a of m.step({ tick: { now: t } })) {
      if (!('probe' in a) || late.includes(a.probe.server)) continue;
      const s = a.probe.server;
      seen.push(...m.step({ probed: { server: s, now: t + 10, answer: { epoch: 1, tail: U.includes(s) ? 10 : 0 } } }));
    }
    seen.push(...m.step({ tick: { now: t + 250 } }));
    for (const s of late) seen.push(...m.step({ probed: { server: s, now: t + 300, answer: { epoch: 1, tail: s === SEQ ? 0 : 10 } } }));
    for (let i = 0; i < 3; i++) seen.push(...round(m, (t += 1000)));
    expect(reconfigurations(seen)).toEqual([]);

    // A unit that died while the manager was cut off is still replaced: after `misses` fresh misses.
    for (let i = 0; i < 4; i++) round(m, (t += 1000), everyone);
    const after: ManagerAction[] = [];
    for (let i = 0; i < 4; i++) after.push(...round(m, (t += 1000), ['u0:1']));
    expect(reconfigurations(after)).toEqual([{ reconfigure: { changes: [{ kind: 'replace-unit', old: 'u0:1', replacement: 'spare:1' }], reason: expect.stringMatching(/u0:1 is down/) } }]);
  });

  it("takes a spare on a box the dead unit's chain partners are not on, if one answers", () => {
    const boxes = ['a:1', 'b:1', 'c:1', 'd:1'];
    const replaced = (spares: string[]): ManagerAction[] => {
      const m = manager({ spares }, layout(1, boxes));
      const seen: ManagerAction[] = [];
      for (let t = 0; t <= 3000; t += 1000) seen.push(...round(m, t, ['a:1']));
      return reconfigurations(seen);
    };
    // b:9 shares box b with a:1's partner b:1: one power cut would take both replicas.
    expect(replaced(['b:9', 'e:9'])).toEqual([{ reconfigure: { changes: [{ kind: 'replace-unit', old: 'a:1', replacement: 'e:9' }], reason: expect.any(String) } }]);
    // With no other spare, that one still beats waiting.
    expect(replaced(['b:9'])).toEqual([{ reconfigure: { changes: [{ kind: 'replace-unit', old: 'a:1', replacement: 'b:9' }], reason: expect.any(String) } }]);
  });

  it('backs off after a failed reconfiguration and after another one won the epoch', () => {
    const m = manager({ spares: ['spare:1', 'spare:2'] });
    let t = 0;
    round(m, t);
    for (let i = 0; i < 3; i++) round(m, (t += 1000), ['u1:1']);
    expect(m.reconfiguring).toBe(true);
    m.step({ reconfigureFailed: { now: t, message: 'sealed elsewhere' } });
    // The backoff is 500 ms: nothing at t + 100, a retry once it passed.
    expect(reconfigurations(m.step({ probed: { server: 'u0:1', now: t + 100, answer: { epoch: 1, tail: 1 } } }))).toEqual([]);
    expect(reconfigurations(round(m, (t += 1000), ['u1:1']))).toHaveLength(1);
    const won = layout(2, ['u0:1', 'spare:2', 'u2:1', 'u3:1']);
    m.step({ reconfigured: { now: t, projection: won, adopted: true } });
    expect(m.layout.epoch).toBe(2);
    expect(m.reconfiguring).toBe(false);
  });

  it('starts at most maxEpochsPerMinute reconfigurations a minute', () => {
    const spares = ['s1:1', 's2:1', 's3:1', 's4:1'];
    const m = manager({ maxEpochsPerMinute: 2, spares, backoffMinMs: 0, backoffMaxMs: 0 });
    let t = 0;
    let current = m.layout;
    let installed = 0;
    round(m, t);
    for (let i = 0; i < 20; i++) {
      // Whatever unit is at index 1 of the layout is always down: it keeps being replaced.
      const victim = current.units[1]!;
      for (const a of round(m, (t += 1000), [victim])) {
        if (!('reconfigure' in a)) continue;
        const change = a.reconfigure.changes[0]!;
        if (change.kind !== 'replace-unit') throw new Error('expected a replacement');
        current = layout(
          current.epoch + 1,
          current.units.map((u) => (u === change.old ? change.replacement : u)),
        );
        m.step({ reconfigured: { now: t, projection: current, adopted: false } });
        installed++;
      }
    }
    expect(installed).toBe(2);
    expect(t).toBeLessThan(60_000);
  });

  it('seals again a unit found at an older epoch, and bumps the epoch for units sealed past it with no projection', () => {
    const m = manager();
    const behind = round(m, 0, [], (s) => (s === 'u3:1' ? 0 : 1));
    expect(behind.filter((a) => 'reseal' in a)).toEqual([{ reseal: { unit: 'u3:1', epoch: 1 } }]);
    m.step({ resealed: { unit: 'u3:1', epoch: 1, now: 0, ok: true } });
    // Sealed: the ticks before its next probe do not seal it again.
    expect(m.step({ tick: { now: 10 } }).filter((a) => 'reseal' in a)).toEqual([]);
    let t = 0;
    const ahead: ManagerAction[] = [];
    for (let i = 0; i < 3; i++) ahead.push(...round(m, (t += 1000), [], (s) => (s === 'u0:1' ? 2 : 1)));
    expect(reconfigurations(ahead)).toEqual([{ reconfigure: { changes: [], reason: expect.stringMatching(/sealed past epoch 1/) } }]);
  });

  // Found by the multi-host fault runs: a manager killed half-way through replacing a dead unit
  // left the others sealed to the next epoch. The manager that took over saw them ahead before the
  // dead unit had missed enough probes to be down, and started a new epoch without replacing it: a
  // reconfiguration must seal every unit it keeps, so it failed on the dead one, and the
  // replacement came a backoff (up to 2 s) later.
  it('bumps the epoch for units sealed past it only while every unit answers; a silent one is replaced in that epoch', () => {
    const m = manager();
    let t = 0;
    const seen: ManagerAction[] = [];
    // u0 died; the others were sealed to epoch 2 by a reconfiguration that never proposed it.
    for (let i = 0; i < 4; i++) seen.push(...round(m, (t += 1000), ['u0:1'], () => 2));
    expect(reconfigurations(seen)).toEqual([
      { reconfigure: { changes: [{ kind: 'replace-unit', old: 'u0:1', replacement: 'spare:1' }], reason: expect.stringMatching(/u0:1 is down: replaced by spare:1/) } },
    ]);
  });
});
