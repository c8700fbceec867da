// A campaign of fault runs: for each schedule, a fresh cluster in its own
// namespaces, two client drivers under load, the nemesis's faults one after
// another, then a heal, a full read of the log through a fresh client, and
// the checks:
//   lost            acknowledged appends whose address does not hold their bytes in the final read
//                   (reading trimmed is no loss where a trim or prefix trim of it was issued:
//                   the drivers trim what they consumed; the checker judges when it happened)
//   inconsistent    addresses with a linearizability violation (test/check, readsMayFill)
//   reused tokens   addresses acknowledged to two appends (the checker's duplicate-address)
//   stale writes    stale-epoch WRITE probes a unit accepted (see nemesis.ts); 'n/a' when none was sent
//   recovery        per fault: from the heal to the next acknowledged append of every client namespace
// plus server crashes (an exit nobody asked for), hangs (no acknowledged
// append 30 s after the last heal, or a final read that does not finish) and
// client bugs (a thrown value that is not a CorfuError).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkHistory, formatViolations } from '../check/linearizability.js';
import type { Operation } from '../check/history.js';
import { Cluster, CTL, DRIVER, type ClusterShape, type Crash } from './cluster.js';
import { deserializeOps, type DriverOutput } from './history-io.js';
import { ALL_KINDS, Nemesis, newProbeStats, plan, describeFault, type FaultKind, type FaultRecord, type PlannedFault, type ProbeStats } from './nemesis.js';
import { Proc } from './procs.js';
import { Resources, ROOT, exitOnSignals, sweep } from './resources.js';
import { nowMs, percentile, Rng, run, sleep } from './util.js';

export interface CampaignOptions {
  readonly schedules: number;
  readonly seconds: number;
  readonly seed: number;
  /** Run only this schedule of the campaign's plan (0-based). */
  readonly only?: number;
  /** Units per cluster; random in 3..5 when absent. */
  readonly units?: number;
  readonly clientsPerDriver: number;
  readonly depth: number;
  /** Operations a second, per driver (two drivers). */
  readonly rate: number;
  /** Keep every run's logs and histories (failed runs' are always kept). */
  readonly keep: boolean;
  /** Run every planned fault, however long the phase takes (default: drop those that would end past it). */
  readonly everyFault?: boolean;
  /** Probability that a fault overlaps the next one (default 0: one at a time). */
  readonly overlap?: number;
  /** How long each fault holds, ms (default 1000-3000). */
  readonly hold?: readonly [number, number];
  /** Only these fault kinds (default: all). */
  readonly kinds?: readonly FaultKind[];
  readonly log: (line: string) => void;
  /** Set by campaign(): the version of the code under test. */
  readonly source?: string;
}

/**
 * The code under test: the compiled client, servers and CLI in dist-faults/
 * (a hash of their JS), and the git commit of the checkout with the source
 * files that differed from it. The checkout is shared with other engineers,
 * so a run may test someone's uncommitted change: this says so.
 */
export function sourceVersion(): string {
  const dist = fileURLToPath(new URL('../..', import.meta.url)); // dist-faults/
  const repo = join(dist, '..');
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.js')) hash.update(name).update(readFileSync(path));
    }
  };
  walk(join(dist, 'src'));
  walk(join(dist, 'bindings'));
  const git = spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const commit = git.status === 0 ? git.stdout.trim() : 'no git checkout';
  const dirty =
    git.status === 0
      ? spawnSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'bindings'], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => l.slice(3))
      : [];
  return `commit ${commit}${dirty.length > 0 ? ` + uncommitted ${dirty.join(', ')}` : ''}; compiled src sha256 ${hash.digest('hex').slice(0, 12)}`;
}

export interface ScheduleResult {
  index: number;
  id: string;
  shape: ClusterShape;
  planned: string[];
  faults: FaultRecord[];
  operations: number;
  appends: number;
  acked: number;
  unknownAppends: number;
  /** Trims and prefix trims acknowledged, and acknowledged appends the final read found trimmed by them. */
  trims: number;
  prefixTrims: number;
  ackedTrimmed: number;
  lost: number;
  lostExamples: string[];
  unreadable: number;
  inconsistentAddresses: number;
  reusedTokens: number;
  violations: number;
  violationKinds: Record<string, number>;
  violationText: string;
  /** tail-too-low reports whose address holds junk filled beyond the tail (not counted in `violations`). */
  tailBelowFill: number;
  probes: ProbeStats;
  crashes: Crash[];
  hangs: string[];
  clientBugs: string[];
  clientErrors: Record<string, number>;
  finalTail: number;
  durationMs: number;
  error?: string;
  artifacts?: string;
}

export interface RecoveryStats {
  scheduled: number;
  tookEffect: number;
  healed: number;
  recovered: number;
  p50Ms: number | null;
  maxMs: number | null;
}

export interface CampaignResult {
  /** What was tested: see sourceVersion(). */
  source: string;
  seed: number;
  seconds: number;
  schedules: ScheduleResult[];
  totals: {
    schedules: number;
    operations: number;
    acked: number;
    unknownAppends: number;
    trims: number;
    prefixTrims: number;
    ackedTrimmed: number;
    lost: number;
    inconsistentAddresses: number;
    reusedTokens: number;
    violations: number;
    tailBelowFill: number;
    staleProbes: number;
    staleAccepted: number;
    tokenProbes: number;
    staleTokens: number;
    epochRegressions: number;
    crashes: number;
    hangs: number;
    clientBugs: number;
    errors: number;
    faults: number;
    faultsWithoutEffect: number;
    faultsNotHealed: number;
  };
  recovery: Partial<Record<FaultKind, RecoveryStats>>;
  ok: boolean;
}

/** Chains of length 2 or 3 over n units, every unit in some chain. */
function shapeFor(rng: Rng, n: number): ClusterShape {
  const length = n >= 3 && rng.chance(0.35) ? 3 : 2;
  const count = Math.ceil(n / length);
  const stripes = Array.from({ length: count }, (_, k) => Array.from({ length }, (_, j) => (k * length + j) % n));
  return { units: n, stripes, deviceBytes: 256 * 1024 * 1024 };
}

export async function campaign(opts: CampaignOptions): Promise<CampaignResult> {
  exitOnSignals();
  const removed = sweep();
  if (removed.length > 0) opts.log(`swept leftovers of dead runs: ${removed.join(', ')}`);
  const shapeRng = new Rng(opts.seed ^ 0x5eed);
  const shapes = Array.from({ length: opts.schedules }, () => shapeFor(shapeRng, opts.units ?? shapeRng.int(3, 5)));
  const plans = plan(opts.seed, opts.schedules, opts.seconds, (s) => shapes[s]!.units, opts.kinds, opts.overlap ?? 0, opts.hold ?? [1000, 3000]);
  const source = sourceVersion();
  opts = { ...opts, source };
  opts.log(`code under test: ${source}`);
  opts.log(`fault campaign: seed ${opts.seed}, ${opts.schedules} schedule(s) of ~${opts.seconds} s${opts.only === undefined ? '' : `, only #${opts.only}`}`);
  const results: ScheduleResult[] = [];
  for (let s = 0; s < opts.schedules; s++) {
    if (opts.only !== undefined && s !== opts.only) continue;
    results.push(await runSchedule(s, shapes[s]!, plans[s]!, opts));
  }
  return summarize(opts, results);
}

/** A result with nothing counted yet. */
export function newScheduleResult(index: number, id: string, shape: ClusterShape, planned: string[]): ScheduleResult {
  return {
    index,
    id,
    shape,
    planned,
    faults: [],
    operations: 0,
    appends: 0,
    acked: 0,
    unknownAppends: 0,
    trims: 0,
    prefixTrims: 0,
    ackedTrimmed: 0,
    lost: 0,
    lostExamples: [],
    unreadable: 0,
    inconsistentAddresses: 0,
    reusedTokens: 0,
    violations: 0,
    violationKinds: {},
    violationText: '',
    tailBelowFill: 0,
    probes: newProbeStats(),
    crashes: [],
    hangs: [],
    clientBugs: [],
    clientErrors: {},
    finalTail: -1,
    durationMs: 0,
  };
}

async function runSchedule(index: number, shape: ClusterShape, faults: readonly PlannedFault[], opts: CampaignOptions): Promise<ScheduleResult> {
  const t0 = nowMs();
  const res = new Resources();
  const art = join(res.dir, 'art');
  mkdirSync(art);
  const log = (line: string): void => opts.log(line);
  const planned = faults.map((f) => `${f.kind} ${describeFault(f)} (hold ${f.holdMs} ms${f.overlapNextMs === undefined ? '' : `, next starts after ${f.overlapNextMs} ms`})`);
  log(
    `schedule ${index} [${res.id}]: ${shape.units} units, chains ${shape.stripes.map((c) => c.map((i) => `u${i}`).join('>')).join(' ')}; ${faults.length} faults: ${faults.map((f) => f.kind).join(', ')}`,
  );
  const result = newScheduleResult(index, res.id, shape, planned);
  const cluster = new Cluster(res, shape, art);
  const nemesis = new Nemesis(cluster, log);
  const drivers: Proc[] = [];
  try {
    await cluster.start();
    // Both client namespaces reach every server before the load starts.
    const servers = [
      ...shape.stripes
        .flat()
        .filter((v, i, a) => a.indexOf(v) === i)
        .map((i) => cluster.unitAddress(i)),
      cluster.sequencerAddress,
    ];
    for (const c of ['c0', 'c1']) {
      for (const s of servers) if (!(await cluster.net.canConnect(c, s, 2000))) throw new Error(`setup: ${c} cannot reach ${s}`);
    }
    const acked = new Map<string, number>();
    for (const [k, label] of ['c0', 'c1'].entries()) {
      const d = new Proc(
        `driver-${label}`,
        cluster.net.ns(label),
        [
          DRIVER,
          ...['--mode', 'load', '--store', cluster.store, '--label', label, '--out', join(art, `history-${label}.json`)],
          ...['--clients', String(opts.clientsPerDriver), '--depth', String(opts.depth), '--rate', String(opts.rate)],
          ...['--seed', String((opts.seed * 31 + index * 7 + k) >>> 0), '--timeout-ms', '1000', '--hole-timeout-ms', '200'],
        ],
        art,
      );
      cluster.procs.push(d);
      drivers.push(d);
      acked.set(label, 0);
      d.onLine((line) => {
        const m = /^progress (\d+) (\d+)$/.exec(line);
        if (m) acked.set(label, Number(m[1]));
      });
    }
    await Promise.all(drivers.map((d) => d.waitLine(/^ready$/, 30_000)));
    // Warm up: some acknowledged appends from both (the stale probes use early addresses).
    await waitFor(() => [...acked.values()].every((n) => n >= 30), 30_000, 'warm-up: both drivers acknowledge 30 appends');

    const phaseEnd = nowMs() + opts.seconds * 1000;
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i]!;
      if (opts.everyFault !== true && nowMs() + f.gapMs + f.holdMs > phaseEnd + 2000) break;
      await sleep(f.gapMs);
      const next = faults[i + 1];
      if (f.overlapNextMs !== undefined && next !== undefined) {
        const first = nemesis.run(i, f);
        await sleep(f.overlapNextMs);
        log(`  fault ${i + 1} starts while fault ${i} holds`);
        await Promise.all([first, nemesis.run(i + 1, next)]);
        i++;
      } else {
        await nemesis.run(i, f);
      }
      for (const d of drivers) if (!d.alive) throw new Error(`${d.name} exited (${d.exit?.code ?? d.exit?.signal}): ${d.stderrTail.slice(-800)}`);
    }
    // Settle: every client namespace appends again after the last heal.
    await nemesis.healAll();
    const base = new Map(acked);
    const settled = await waitFor(() => [...acked.entries()].every(([l, n]) => n >= base.get(l)! + 10), 30_000, '');
    if (!settled) {
      const stuck = [...acked.entries()].filter(([l, n]) => n < base.get(l)! + 10).map(([l]) => l);
      result.hangs.push(`no progress 30 s after the last heal from ${stuck.join(', ')} (acked ${[...acked.entries()].map(([l, n]) => `${l} ${base.get(l)}->${n}`).join(', ')})`);
    }
    await sleep(500);

    // Stop the load, collect the histories.
    const outputs = await stopDrivers(drivers, art, ['c0', 'c1'], result.hangs);
    let maxAcked = -1;
    for (const o of outputs) for (const op of o.ops) if (op.op === 'append' && op.end?.status === 'ok') maxAcked = Math.max(maxAcked, op.end.result as number);

    // The final read, through a fresh client on the latest projection.
    const finalOut = join(art, 'history-final.json');
    const fin = await run(
      'ip',
      [
        'netns',
        'exec',
        cluster.net.ns(CTL),
        process.execPath,
        DRIVER,
        '--mode',
        'final',
        '--store',
        cluster.store,
        '--label',
        'final',
        '--out',
        finalOut,
        '--upto',
        String(maxAcked + 1),
        '--timeout-ms',
        '2000',
      ],
      { timeoutMs: 180_000 },
    );
    writeFileSync(join(art, 'final.log'), `${fin.stdout}\n${fin.stderr}`);
    if (fin.code !== 0) throw new Error(`final read failed (${fin.code ?? fin.signal}): ${fin.stderr.slice(-800)}`);
    const final = JSON.parse(readFileSync(finalOut, 'utf8')) as DriverOutput;
    analyze(result, [...outputs, final], nemesis.records);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    log(`  schedule ${index} error: ${result.error}`);
  } finally {
    result.faults = nemesis.records;
    result.probes = nemesis.probes;
    for (const d of drivers) d.expectExit = true;
    await cluster.stopAll();
    result.crashes = [...cluster.crashes];
    result.durationMs = Math.round(nowMs() - t0);
    const failed = !scheduleOk(result);
    if (failed || opts.keep) {
      const keep = join(ROOT, `keep-cf-${res.id}`);
      try {
        renameSync(art, keep);
        writeFileSync(join(keep, 'result.json'), JSON.stringify(result, null, 2));
        result.artifacts = keep;
      } catch {
        // the logs are lost with the run dir
      }
    }
    res.release();
  }
  log(
    `  schedule ${index}: ${result.operations} ops, ${result.acked} acked, ${result.trims}+${result.prefixTrims} trims, lost ${result.lost}, inconsistent ${result.inconsistentAddresses}, reused ${result.reusedTokens}, ` +
      `stale ${result.probes.accepted}/${result.probes.sent}, crashes ${result.crashes.length}, hangs ${result.hangs.length}, ${(result.durationMs / 1000).toFixed(1)} s` +
      (result.artifacts ? ` — kept ${result.artifacts}` : ''),
  );
  if (result.violationText !== '') log(result.violationText);
  for (const c of result.crashes) log(`  CRASH ${c.proc} exit ${c.exit}: ${c.stderr.slice(-500)}`);
  for (const h of result.hangs) log(`  HANG ${h}`);
  for (const b of result.clientBugs.slice(0, 3)) log(`  CLIENT BUG ${b.slice(0, 500)}`);
  return result;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<boolean> {
  const end = nowMs() + timeoutMs;
  while (!cond()) {
    if (nowMs() > end) {
      if (what !== '') throw new Error(`timed out: ${what}`);
      return false;
    }
    await sleep(100);
  }
  return true;
}

/**
 * The checks of one run over the drivers' histories and the final read: lost
 * acknowledged appends, the linearizability checker, and each fault's recovery
 * (from its heal to every client namespace's next acknowledged append).
 * Also used by the multi-host runs (hosts-run.ts).
 */
/**
 * Stops the client drivers (a driver that does not say `done` in 25 s is a hang) and reads
 * the history each wrote to ART/history-LABEL.json.
 */
export async function stopDrivers(drivers: readonly Proc[], art: string, labels: readonly string[], hangs: string[]): Promise<DriverOutput[]> {
  for (const d of drivers) d.send('stop');
  await Promise.all(
    drivers.map(async (d) => {
      try {
        await d.waitLine(/^done /, 25_000);
      } catch (err) {
        hangs.push(`${d.name} did not stop: ${String(err).slice(0, 300)}`);
      }
      d.expectExit = true;
      await d.stop(3000);
    }),
  );
  return labels.map((l) => JSON.parse(readFileSync(join(art, `history-${l}.json`), 'utf8')) as DriverOutput);
}

export function analyze(result: ScheduleResult, outputs: readonly DriverOutput[], records: readonly FaultRecord[]): void {
  const ops: Operation[] = [];
  for (const o of outputs) {
    ops.push(...deserializeOps(o.ops, ops.length));
    result.clientBugs.push(...o.bugs.map((b) => `${o.label}: ${b}`));
    for (const [k, v] of Object.entries(o.errors)) result.clientErrors[`${o.label} ${k}`] = v;
  }
  const final = outputs.find((o) => o.mode === 'final')!;
  result.finalTail = final.tail ?? -1;
  result.unreadable = final.unreadable?.length ?? 0;
  const load = ops.filter((op) => op.client !== 'final');
  result.operations = load.length;
  // The final read: the last ok result at each address.
  const finalAt = new Map<number, Operation>();
  for (const op of ops) if (op.client === 'final' && op.op === 'read' && op.end?.status === 'ok') finalAt.set(op.address, op);
  // Where a trim may have reached: single trims, and the highest prefix trim (ok or unknown).
  const trimIssued = new Set<number>();
  let prefixIssued = 0;
  for (const op of load) {
    if (op.op !== 'trim' && op.op !== 'prefixTrim') continue;
    if (op.end?.status === 'ok') result[op.op === 'trim' ? 'trims' : 'prefixTrims']++;
    if (op.end?.status === 'fail') continue;
    if (op.op === 'trim') trimIssued.add(op.address);
    else prefixIssued = Math.max(prefixIssued, op.address);
  }
  const ackTimes = new Map<string, number[]>();
  for (const op of load) {
    if (op.op !== 'append') continue;
    result.appends++;
    if (op.end?.status !== 'ok') {
      if (op.end?.status !== 'fail') result.unknownAppends++;
      continue;
    }
    result.acked++;
    const ns = op.client.split('.')[0]!;
    let times = ackTimes.get(ns);
    if (times === undefined) ackTimes.set(ns, (times = []));
    times.push(op.end.at);
    const address = op.end.result;
    const seen = finalAt.get(address);
    const r = seen?.op === 'read' && seen.end?.status === 'ok' ? seen.end.result : undefined;
    const same = r !== undefined && r.kind === 'data' && Buffer.from(r.payload).equals(Buffer.from(op.payload));
    if (r?.kind === 'trimmed' && (trimIssued.has(address) || address < prefixIssued)) {
      result.ackedTrimmed++;
    } else if (!same) {
      result.lost++;
      if (result.lostExamples.length < 10) {
        const what = r === undefined ? 'unreadable' : r.kind === 'data' ? `other data ${Buffer.from(r.payload).toString('latin1').slice(0, 40)}` : r.kind;
        result.lostExamples.push(`${op.client} append acked at ${address}: final read ${what}`);
      }
    }
  }
  const check = checkHistory(ops, { readsMayFill: true });
  if (!check.ok) {
    // tail() below an address that holds junk: the load fills addresses beyond the tail on
    // purpose, and the sequencer cannot know of them (invariant 6 is about acknowledged
    // appends; a token the sequencer handed out is always below its tail). Counted apart.
    const junk = new Set<number>();
    for (const op of ops) {
      if ((op.op === 'read' || op.op === 'fill') && op.end?.status === 'ok' && op.end.result.kind === 'junk') junk.add(op.address);
    }
    const counted = check.violations.filter((v) => {
      const beyond = v.kind === 'tail-too-low' && v.address !== undefined && junk.has(v.address);
      if (beyond) result.tailBelowFill++;
      return !beyond;
    });
    result.violations = counted.length;
    const addresses = new Set<number>();
    for (const v of counted) {
      result.violationKinds[v.kind] = (result.violationKinds[v.kind] ?? 0) + 1;
      if (v.kind === 'duplicate-address') result.reusedTokens++;
      else if (v.address !== undefined) addresses.add(v.address);
    }
    result.inconsistentAddresses = addresses.size;
    result.violationText = counted.length > 0 ? formatViolations(counted, 15) : '';
  }
  // Recovery: per fault, the slowest client namespace's first acknowledged append after the heal.
  for (const times of ackTimes.values()) times.sort((a, b) => a - b);
  for (const rec of records) {
    if (Number.isNaN(rec.healedAt)) {
      rec.recoverMs = null;
      continue;
    }
    let worst = 0;
    for (const times of ackTimes.values()) {
      const t = times.find((x) => x >= rec.healedAt);
      if (t === undefined) {
        worst = Infinity;
        break;
      }
      worst = Math.max(worst, t - rec.healedAt);
    }
    rec.recoverMs = Number.isFinite(worst) ? Math.round(worst) : null;
  }
}

function scheduleOk(r: ScheduleResult): boolean {
  return (
    r.error === undefined &&
    r.lost === 0 &&
    r.violations === 0 &&
    r.probes.accepted === 0 &&
    r.probes.tokensHandedOut === 0 &&
    r.probes.epochRegressions === 0 &&
    r.crashes.length === 0 &&
    r.hangs.length === 0 &&
    r.clientBugs.length === 0 &&
    r.faults.every((f) => f.effect && f.healed && f.error === undefined)
  );
}

function summarize(opts: CampaignOptions, schedules: ScheduleResult[]): CampaignResult {
  const sum = (f: (r: ScheduleResult) => number): number => schedules.reduce((a, r) => a + f(r), 0);
  const faults = schedules.flatMap((r) => r.faults);
  const recovery: Partial<Record<FaultKind, RecoveryStats>> = {};
  for (const kind of ALL_KINDS) {
    const fs = faults.filter((f) => f.kind === kind);
    if (fs.length === 0) continue;
    const times = fs
      .map((f) => f.recoverMs)
      .filter((t): t is number => typeof t === 'number')
      .sort((a, b) => a - b);
    recovery[kind] = {
      scheduled: fs.length,
      tookEffect: fs.filter((f) => f.effect).length,
      healed: fs.filter((f) => f.healed).length,
      recovered: times.length,
      p50Ms: times.length > 0 ? percentile(times, 50) : null,
      maxMs: times.length > 0 ? times[times.length - 1]! : null,
    };
  }
  const totals = {
    schedules: schedules.length,
    operations: sum((r) => r.operations),
    acked: sum((r) => r.acked),
    unknownAppends: sum((r) => r.unknownAppends),
    trims: sum((r) => r.trims),
    prefixTrims: sum((r) => r.prefixTrims),
    ackedTrimmed: sum((r) => r.ackedTrimmed),
    lost: sum((r) => r.lost),
    inconsistentAddresses: sum((r) => r.inconsistentAddresses),
    reusedTokens: sum((r) => r.reusedTokens),
    violations: sum((r) => r.violations),
    tailBelowFill: sum((r) => r.tailBelowFill),
    staleProbes: sum((r) => r.probes.sent - r.probes.inconclusive),
    staleAccepted: sum((r) => r.probes.accepted),
    tokenProbes: sum((r) => r.probes.tokenProbes),
    staleTokens: sum((r) => r.probes.tokensHandedOut),
    epochRegressions: sum((r) => r.probes.epochRegressions),
    crashes: sum((r) => r.crashes.length),
    hangs: sum((r) => r.hangs.length),
    clientBugs: sum((r) => r.clientBugs.length),
    errors: schedules.filter((r) => r.error !== undefined).length,
    faults: faults.length,
    faultsWithoutEffect: faults.filter((f) => !f.effect).length,
    faultsNotHealed: faults.filter((f) => !f.healed).length,
  };
  return { source: opts.source ?? sourceVersion(), seed: opts.seed, seconds: opts.seconds, schedules, totals, recovery, ok: schedules.every(scheduleOk) };
}

/** The campaign's figures as text tables. */
export function formatCampaign(c: CampaignResult): string {
  const t = c.totals;
  const stale = t.staleProbes === 0 ? 'n/a' : `${t.staleAccepted} (of ${t.staleProbes} probes)`;
  const rows: Array<[string, string]> = [
    ['code under test', c.source],
    ['seed', String(c.seed)],
    ['schedules', `${t.schedules} x ~${c.seconds} s`],
    ['operations', String(t.operations)],
    ['acknowledged appends', String(t.acked)],
    ['unknown appends', String(t.unknownAppends)],
    ['trims / prefix trims acknowledged', `${t.trims} / ${t.prefixTrims}`],
    ['acknowledged appends trimmed since', String(t.ackedTrimmed)],
    ['lost', String(t.lost)],
    ['inconsistent addresses', String(t.inconsistentAddresses)],
    ['stale-epoch writes accepted', stale],
    ['stale-epoch tokens handed out', t.tokenProbes === 0 ? 'n/a' : `${t.staleTokens} (of ${t.tokenProbes} probes)`],
    ['reused tokens', String(t.reusedTokens)],
    ['checker violations (all kinds)', String(t.violations)],
    ['tail below a fill beyond it (not counted)', String(t.tailBelowFill)],
    ['epoch regressions', String(t.epochRegressions)],
    ['server crashes', String(t.crashes)],
    ['hangs', String(t.hangs)],
    ['client bugs', String(t.clientBugs)],
    ['schedule errors', String(t.errors)],
    ['faults (no effect / not healed)', `${t.faults} (${t.faultsWithoutEffect} / ${t.faultsNotHealed})`],
  ];
  const kinds: Record<string, number> = {};
  for (const r of c.schedules) for (const [k, n] of Object.entries(r.violationKinds)) kinds[k] = (kinds[k] ?? 0) + n;
  if (Object.keys(kinds).length > 0)
    rows.push([
      'violations by kind',
      Object.entries(kinds)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    ]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  lines.push('');
  const head = ['fault kind', 'n', 'effect', 'healed', 'recover p50', 'recover max'];
  const table = Object.entries(c.recovery).map(([kind, r]) => [
    kind,
    String(r.scheduled),
    String(r.tookEffect),
    String(r.healed),
    r.p50Ms === null ? '-' : `${r.p50Ms} ms`,
    r.maxMs === null ? '-' : `${r.maxMs} ms${r.recovered < r.scheduled ? ` (${r.scheduled - r.recovered} never)` : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  lines.push(fmt(head), fmt(widths.map((n) => '-'.repeat(n))), ...table.map(fmt));
  lines.push('', 'recover: from the heal to the next acknowledged append of every client namespace (c0 and c1).');
  lines.push(`verdict: ${c.ok ? 'OK' : 'FAILED'}`);
  return lines.join('\n');
}
