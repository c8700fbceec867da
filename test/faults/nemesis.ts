// The nemesis: fault kinds, a seeded plan of them, and how each is applied,
// checked to have taken effect, and healed.
//
// One fault at a time: wait a gap, apply, hold, check the effect (before the
// heal), heal, check the heal, then probe every unit with a stale-epoch WRITE.
// With --overlap P a fault may start while the previous one holds (two at
// most, different targets, no reconfiguration while a server is away).
// Every check records its evidence; a fault whose effect could not be shown
// counts as `effect: false` (the CI test fails on it).
//
// Kinds (the target is chosen in the plan):
//   partition          a unit or the sequencer <-> one or both client namespaces, both ways (nft drop in the node's namespace)
//   partition-oneway   the same, one direction only (input: clients -> node dropped; output: node -> clients dropped)
//   loss               N% of the packets between a node and its peers dropped both ways (nft numgen random mod 100 < N)
//   tcp-reset          N% of the client packets a unit or the sequencer receives answered with a TCP reset
//   link-down          `ip link set eth0 down` in a node's namespace (unit, sequencer or client), then up
//   kill-unit          kill -9 a unit, restart it on the same device and address
//   pause              kill -STOP a unit or the sequencer, then -CONT
//   disk-readonly      `blockdev --setro` under a running unit; heal: --setrw, restart the unit if its engine failed
//   slow-disk          the unit's process in a blkio cgroup with write_iops / write_bps limits on its device
//   delay              the unit's proxy holds every chunk D ms (+ jitter), both ways
//   sequencer-failover kill -9 the sequencer, start a new one, `corfu layout reconfigure --sequencer NEW`
//   sequencer-move     the same with the old sequencer alive and serving (optionally with every unit's
//                      proxy delaying, so appends hold tokens of the old epoch across the seal); the old
//                      one is stopped after the hold
//   sequencer-move-unsealed  the same, but the control namespace cannot reach the old sequencer (nft:
//                      its port dropped from ctl), so the reconfiguration cannot seal it (it seals the
//                      old one best-effort) while the clients still can: they get tokens and tails of
//                      the old epoch until they refresh. Before 8ec2d36 this broke invariant 6 in every
//                      run (the client's address-outlives-epoch bug, found by the simulator)
//
// Effect evidence: partitions and link-down: a TCP connect from the cut-off
// namespace fails (and succeeds again after the heal); loss and reset: the
// rules' packet counters; kill: the exit signal; pause: /proc state T;
// read-only: `blockdev --getro` and the unit answering TAIL with ERR_IO (its
// engine failed on a write); slow disk: the cgroup's serviced write count for
// the device grows; delay: the proxy's count of delayed chunks; failover: the
// old sequencer's exit and the new projection naming the new one.

import { CLIENT_ROLES, CTL, type Cluster } from './cluster.js';
import { isReadOnly, setReadOnly, Throttle } from './disk.js';
import { nowMs, Rng, sleep } from './util.js';

export const FAULT_KINDS = [
  'partition',
  'partition-oneway',
  'loss',
  'tcp-reset',
  'link-down',
  'kill-unit',
  'pause',
  'disk-readonly',
  'slow-disk',
  'delay',
  'sequencer-failover',
  'sequencer-move',
  'sequencer-move-unsealed',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const ALL_KINDS: readonly FaultKind[] = FAULT_KINDS;

export interface PlannedFault {
  readonly kind: FaultKind;
  /** A node role: u0.., sq, c0, c1. */
  readonly target: string;
  readonly peers: readonly string[];
  readonly direction?: 'in' | 'out';
  readonly percent?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly iops?: number;
  readonly bps?: number;
  /** sequencer-move: delay every unit's proxy by this much during the move. */
  readonly slowHeadsMs?: number;
  readonly holdMs: number;
  readonly gapMs: number;
  /** With --overlap: the next fault starts this many ms after this one, while this one holds. */
  readonly overlapNextMs?: number;
}

/** Faults that take a unit or the sequencer away from the control namespace (a reconfiguration needs them all). */
const AWAY: readonly FaultKind[] = ['link-down', 'kill-unit', 'pause', 'disk-readonly'];

/** Faults that stop every append while they hold. */
function stopsAppends(f: PlannedFault): boolean {
  return f.kind === 'sequencer-failover' || (f.target === 'sq' && (f.kind === 'pause' || f.kind === 'link-down' || (f.kind === 'partition' && f.peers.length === 2)));
}

/**
 * Faults whose effect only the clients' writes can show (a probe cannot write
 * without changing the log): they never overlap another fault, which could
 * stall every append (a head partitioned, the sequencer paused, ...). Loss,
 * resets and delay have probes of their own when the clients sent nothing.
 */
const NEEDS_WRITES: readonly FaultKind[] = ['slow-disk', 'disk-readonly'];

/** Whether two faults may run at once: different targets, and no reconfiguration while a server is away. */
export function compatible(a: PlannedFault, b: PlannedFault): boolean {
  if (a.target === b.target) return false;
  if (NEEDS_WRITES.includes(a.kind) || NEEDS_WRITES.includes(b.kind)) return false;
  // A move or failover with every append stopped anyway shows nothing new; keep them apart too.
  if ((stopsAppends(a) && b.kind.startsWith('sequencer-')) || (stopsAppends(b) && a.kind.startsWith('sequencer-'))) return false;
  // Reconfigurations (they need every unit to answer its SEAL).
  const seqA = a.kind.startsWith('sequencer-');
  const seqB = b.kind.startsWith('sequencer-');
  if (seqA && seqB) return false;
  if ((seqA && AWAY.includes(b.kind)) || (seqB && AWAY.includes(a.kind))) return false;
  if ((a.kind === 'sequencer-move' && b.kind === 'delay') || (b.kind === 'sequencer-move' && a.kind === 'delay')) return false;
  return true;
}

export interface FaultRecord {
  readonly index: number;
  readonly kind: FaultKind;
  readonly target: string;
  readonly detail: string;
  appliedAt: number;
  healedAt: number;
  effect: boolean;
  evidence: string[];
  healed: boolean;
  /** Time from the heal to each client namespace's next acknowledged append (filled in by the analysis). */
  recoverMs?: number | null;
  error?: string;
}

export function describeFault(f: PlannedFault): string {
  const peers = f.peers.length > 0 ? ` <-> ${f.peers.join('+')}` : '';
  switch (f.kind) {
    case 'partition':
      return `${f.target}${peers}`;
    case 'partition-oneway':
      return f.direction === 'in' ? `${f.peers.join('+')} -> ${f.target} dropped` : `${f.target} -> ${f.peers.join('+')} dropped`;
    case 'loss':
      return `${f.target}${peers} ${f.percent}%`;
    case 'tcp-reset':
      return `${f.peers.join('+')} -> ${f.target} ${f.percent}% RST`;
    case 'delay':
      return `${f.target} ${f.delayMs}±${f.jitterMs} ms`;
    case 'slow-disk':
      return `${f.target} ${f.iops} IOPS ${Math.round(f.bps! / 1024)} KiB/s`;
    case 'sequencer-move':
      return f.slowHeadsMs ? `sq, every unit delayed ${f.slowHeadsMs} ms` : 'sq';
    default:
      return f.target;
  }
}

/**
 * Plans `schedules` schedules of about `seconds` each. Kinds are dealt from a
 * shuffled deck of all kinds (refilled when empty) across the whole campaign,
 * so a campaign with at least FAULT_KINDS.length faults schedules every kind.
 */
export function plan(
  seed: number,
  schedules: number,
  seconds: number,
  units: (schedule: number) => number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
  overlap = 0,
  hold: readonly [number, number] = [1000, 3000],
): PlannedFault[][] {
  const rng = new Rng(seed);
  let deck: FaultKind[] = [];
  const out: PlannedFault[][] = [];
  for (let s = 0; s < schedules; s++) {
    const n = units(s);
    const unitRoles = Array.from({ length: n }, (_, i) => `u${i}`);
    const servers = [...unitRoles, 'sq'];
    const faults: PlannedFault[] = [];
    // Leave ~1.5 s per fault for applying, checking and healing.
    let budget = seconds * 1000;
    for (;;) {
      const holdMs = rng.int(hold[0], hold[1]);
      const gapMs = rng.int(600, 1800);
      if (budget < holdMs + gapMs + 1500 && faults.length > 0) break;
      budget -= holdMs + gapMs + 1500;
      if (deck.length === 0) deck = rng.shuffle(kinds);
      const kind = deck.pop()!;
      const somePeers = (): string[] => rng.pick([['c0'], ['c1'], ['c0', 'c1']]);
      const base = { kind, holdMs, gapMs };
      switch (kind) {
        case 'partition':
          faults.push({ ...base, target: rng.pick(servers), peers: somePeers() });
          break;
        case 'partition-oneway':
          faults.push({ ...base, target: rng.pick(servers), peers: somePeers(), direction: rng.pick(['in', 'out'] as const) });
          break;
        case 'loss': {
          const target = rng.pick([...servers, ...CLIENT_ROLES]);
          const peers = target.startsWith('c') ? servers : ['c0', 'c1'];
          faults.push({ ...base, target, peers, percent: rng.int(5, 40) });
          break;
        }
        case 'tcp-reset':
          faults.push({ ...base, target: rng.pick(servers), peers: ['c0', 'c1'], percent: rng.pick([5, 20, 100]) });
          break;
        case 'link-down':
          faults.push({ ...base, target: rng.pick([...servers, ...CLIENT_ROLES]), peers: [] });
          break;
        case 'kill-unit':
        case 'disk-readonly':
          faults.push({ ...base, target: rng.pick(unitRoles), peers: [] });
          break;
        case 'pause':
          faults.push({ ...base, target: rng.pick(servers), peers: [] });
          break;
        case 'slow-disk':
          faults.push({ ...base, target: rng.pick(unitRoles), peers: [], iops: rng.pick([10, 30, 100]), bps: rng.pick([256 * 1024, 1024 * 1024]) });
          break;
        case 'delay': {
          const delayMs = rng.int(50, 900);
          faults.push({ ...base, target: rng.pick(unitRoles), peers: [], delayMs, jitterMs: rng.int(0, Math.floor(delayMs / 2)) });
          break;
        }
        case 'sequencer-failover':
          faults.push({ ...base, target: 'sq', peers: [] });
          break;
        case 'sequencer-move':
          faults.push({ ...base, target: 'sq', peers: [], slowHeadsMs: rng.pick([0, 100, 300]) });
          break;
        case 'sequencer-move-unsealed':
          faults.push({ ...base, target: 'sq', peers: [] });
          break;
      }
    }
    if (overlap > 0) {
      const orng = new Rng(seed ^ (0x0f0f * (s + 1)));
      for (let i = 0; i + 1 < faults.length; i++) {
        const [a, b] = [faults[i]!, faults[i + 1]!];
        if (orng.chance(overlap) && compatible(a, b)) {
          faults[i] = { ...a, overlapNextMs: orng.int(200, Math.max(300, a.holdMs - 300)) };
          i++; // at most two at once
        }
      }
    }
    out.push(faults);
  }
  return out;
}

/** Stale-epoch probes: a WRITE at epoch-1 that every unit must refuse with ERR_SEALED. */
export interface ProbeStats {
  /** Unit WRITE probes. */
  sent: number;
  refused: number;
  accepted: number;
  /** Sequencer TOKEN probes at the old epoch after a failover or move (a new and, for a move, the old sequencer). */
  tokenProbes: number;
  tokensHandedOut: number;
  /** No clear answer (unreachable, ERR_IO from a failed engine): not counted either way. */
  inconclusive: number;
  /** A unit answering TAIL at the current epoch with ERR_SEALED below it: its epoch went back. */
  epochRegressions: number;
  notes: string[];
}

export function newProbeStats(): ProbeStats {
  return { sent: 0, refused: 0, accepted: 0, tokenProbes: 0, tokensHandedOut: 0, inconclusive: 0, epochRegressions: 0, notes: [] };
}

const PROBE_PAYLOAD = Buffer.from('stale-epoch-probe (must be refused)').toString('hex');

export class Nemesis {
  readonly cluster: Cluster;
  readonly records: FaultRecord[] = [];
  readonly probes = newProbeStats();
  readonly log: (line: string) => void;

  constructor(cluster: Cluster, log: (line: string) => void) {
    this.cluster = cluster;
    this.log = log;
  }

  #unitIndex(role: string): number {
    return Number(role.slice(1));
  }

  /** The address a client (or the agent) uses for a server role. */
  #serviceAddress(role: string): string {
    return role === 'sq' ? this.cluster.sequencerAddress : this.cluster.unitAddress(this.#unitIndex(role));
  }

  /** Runs one fault: apply, hold, check, heal, check, probe. Never throws; errors go in the record. */
  async run(index: number, f: PlannedFault): Promise<FaultRecord> {
    const rec: FaultRecord = { index, kind: f.kind, target: f.target, detail: describeFault(f), appliedAt: nowMs(), healedAt: NaN, effect: false, evidence: [], healed: false };
    this.records.push(rec);
    const net = this.cluster.net;
    const ev = (s: string): void => {
      rec.evidence.push(s);
    };
    try {
      switch (f.kind) {
        case 'partition':
        case 'partition-oneway': {
          const set = `{ ${f.peers.map((p) => net.ip(p)).join(', ')} }`;
          const rules: string[] = [];
          if (f.kind === 'partition' || f.direction === 'in') rules.push(`add rule inet cf in ip saddr ${set} counter drop`);
          if (f.kind === 'partition' || f.direction === 'out') rules.push(`add rule inet cf out ip daddr ${set} counter drop`);
          await net.nft(f.target, `${rules.join('\n')}\n`);
          rec.appliedAt = nowMs();
          await sleep(Math.min(600, f.holdMs));
          const address = this.#serviceAddress(f.target);
          const blocked = await Promise.all(f.peers.map(async (p) => !(await net.canConnect(p, address, 700))));
          const fromCtl = await net.canConnect(CTL, address, 700);
          rec.effect = blocked.every(Boolean);
          ev(`connect ${f.peers.map((p, i) => `${p}->${address} ${blocked[i] ? 'blocked' : 'OPEN'}`).join(', ')}; ctl->${address} ${fromCtl ? 'open' : 'blocked'}`);
          await this.#holdRest(rec, f);
          ev(`dropped ${await net.counted(f.target)} packets`);
          await net.flushRules(f.target);
          await this.#healed(rec, f.peers, address);
          break;
        }
        case 'loss': {
          const set = `{ ${f.peers.map((p) => net.ip(p)).join(', ')} }`;
          const some = f.percent! >= 100 ? '' : `numgen random mod 100 < ${f.percent} `;
          await net.nft(f.target, `add rule inet cf in ip saddr ${set} ${some}counter drop\nadd rule inet cf out ip daddr ${set} ${some}counter drop\n`);
          rec.appliedAt = nowMs();
          await this.#holdRest(rec, f);
          let dropped = await net.counted(f.target);
          if (dropped === 0) dropped = await this.#probeTraffic(f, ev);
          rec.effect = dropped > 0;
          ev(`dropped ${dropped} packets`);
          await net.flushRules(f.target);
          await this.#healed(rec, [], undefined);
          break;
        }
        case 'tcp-reset': {
          const set = `{ ${f.peers.map((p) => net.ip(p)).join(', ')} }`;
          const some = f.percent! >= 100 ? '' : `numgen random mod 100 < ${f.percent} `;
          await net.nft(f.target, `add rule inet cf in ip saddr ${set} meta l4proto tcp ${some}counter reject with tcp reset\n`);
          rec.appliedAt = nowMs();
          await this.#holdRest(rec, f);
          let resets = await net.counted(f.target);
          if (resets === 0) resets = await this.#probeTraffic(f, ev);
          rec.effect = resets > 0;
          ev(`answered ${resets} packets with a reset`);
          await net.flushRules(f.target);
          await this.#healed(rec, f.peers, this.#serviceAddress(f.target));
          break;
        }
        case 'link-down': {
          await net.link(f.target, false);
          rec.appliedAt = nowMs();
          await sleep(Math.min(400, f.holdMs));
          // A client namespace cut off cannot reach unit 0; a server cannot be reached from the control namespace.
          const client = f.target.startsWith('c');
          const from = client ? f.target : CTL;
          const to = client ? this.cluster.unitAddress(0) : this.#serviceAddress(f.target);
          const blocked = !(await net.canConnect(from, to, 700));
          rec.effect = blocked;
          ev(`connect ${from}->${to} ${blocked ? 'blocked' : 'OPEN'}`);
          await this.#holdRest(rec, f);
          await net.link(f.target, true);
          await this.#healed(rec, client ? [f.target] : [CTL], to);
          break;
        }
        case 'kill-unit': {
          const i = this.#unitIndex(f.target);
          const e = await this.cluster.units[i]!.kill9();
          rec.appliedAt = nowMs();
          rec.effect = e.signal === 'SIGKILL';
          ev(`unit exited ${e.code ?? e.signal}`);
          await this.#holdRest(rec, f);
          await this.cluster.startUnit(i);
          await this.#unitServes(rec, i);
          break;
        }
        case 'pause': {
          const proc = f.target === 'sq' ? this.cluster.sequencer : this.cluster.units[this.#unitIndex(f.target)]!;
          proc.signal('SIGSTOP');
          rec.appliedAt = nowMs();
          await sleep(100);
          const state = await proc.state();
          rec.effect = state === 'T';
          ev(`${proc.name} state ${state}`);
          await this.#holdRest(rec, f);
          proc.signal('SIGCONT');
          await sleep(50);
          const after = await proc.state();
          ev(`after SIGCONT state ${after}`);
          rec.healed = after !== 'T' && after !== 'gone';
          rec.healedAt = nowMs();
          break;
        }
        case 'disk-readonly': {
          const i = this.#unitIndex(f.target);
          const dev = this.cluster.devices[i]!.dev;
          await setReadOnly(dev, true);
          rec.appliedAt = nowMs();
          ev(`getro ${(await isReadOnly(dev)) ? 1 : 0}`);
          await this.#holdRest(rec, f);
          // Writes reach every unit continually, so by now the engine has met EPERM on one.
          const epoch = (await this.cluster.projection()).epoch;
          let status = await this.#unitTail(i, epoch);
          for (let t = 0; t < 10 && status === 'OK'; t++) {
            await sleep(300);
            status = await this.#unitTail(i, epoch);
          }
          const unit = this.cluster.units[i]!;
          rec.effect = status.startsWith('ERR_IO') || !unit.alive;
          ev(`unit TAIL -> ${status}${unit.alive ? '' : ` (unit exited ${unit.exit?.code ?? unit.exit?.signal})`}`);
          await setReadOnly(dev, false);
          if (!unit.alive || status !== 'OK') {
            // A failed engine stays failed until reopened (by design): restart the unit.
            await unit.stop(3000);
            await this.cluster.startUnit(i);
            ev('unit restarted');
          }
          await this.#unitServes(rec, i);
          break;
        }
        case 'slow-disk': {
          const i = this.#unitIndex(f.target);
          const d = this.cluster.devices[i]!;
          const t = new Throttle(`${this.cluster.net.prefix}-slow-${f.target}`);
          this.cluster.res.cgroups.push(t.path);
          t.apply(d.majmin, this.cluster.units[i]!.pid, { iops: f.iops!, bps: f.bps! });
          rec.appliedAt = nowMs();
          await this.#holdRest(rec, f);
          const writes = t.writes(d.majmin);
          rec.effect = writes > 0;
          ev(`${writes} writes to ${d.majmin} through the throttled cgroup`);
          t.remove();
          rec.healed = true;
          rec.healedAt = nowMs();
          break;
        }
        case 'delay': {
          const i = this.#unitIndex(f.target);
          const proxy = this.cluster.proxies[i]!;
          const before = await this.#proxyStats(i);
          proxy.send(`delay ${f.delayMs} ${f.jitterMs}`);
          await proxy.waitLine(/^ok$/, 5000);
          rec.appliedAt = nowMs();
          await this.#holdRest(rec, f);
          let after = await this.#proxyStats(i);
          if (after === before) {
            // No client traffic went through (another fault stalled them): a PING through the proxy.
            const ping = await this.cluster.request(this.cluster.unitAddress(i), { type: 'request', op: 'PING', epoch: 0 }, 3000);
            after = await this.#proxyStats(i);
            ev(`no client traffic: a PING through the proxy ${ping.ok ? 'answered' : `failed (${ping.error})`}`);
          }
          rec.effect = after - before > 0;
          ev(`proxy delayed ${after - before} chunks`);
          proxy.send('delay 0 0');
          await proxy.waitLine(/^ok$/, 5000);
          rec.healed = true;
          rec.healedAt = nowMs();
          break;
        }
        case 'sequencer-failover': {
          const before = await this.cluster.projection();
          const old = this.cluster.sequencer;
          const e = await old.kill9();
          rec.appliedAt = nowMs();
          ev(`${old.name} exited ${e.code ?? e.signal}`);
          await this.#holdRest(rec, f);
          const address = await this.cluster.startSequencer();
          const r = await this.cluster.corfuCtl(['layout', 'reconfigure', '--store', this.cluster.store, '--sequencer', address], 60_000);
          const after = await this.cluster.projection();
          rec.effect = e.signal === 'SIGKILL' && r.code === 0 && after.epoch === before.epoch + 1 && after.sequencer === address;
          ev(`reconfigure exit ${r.code}${r.code === 0 ? '' : `: ${r.stderr.trim().slice(0, 300)}`}; epoch ${before.epoch} -> ${after.epoch}, sequencer ${after.sequencer}`);
          rec.healed = r.code === 0;
          rec.healedAt = nowMs();
          // The new sequencer must refuse the old epoch too.
          const tok = await this.cluster.request(address, { type: 'request', op: 'TOKEN', epoch: before.epoch, count: 1 });
          this.#countProbe(`${address} TOKEN@${before.epoch}`, tok);
          break;
        }
        case 'sequencer-move': {
          const before = await this.cluster.projection();
          const old = this.cluster.sequencer;
          const oldAddress = this.cluster.sequencerAddress;
          const slow = f.slowHeadsMs ?? 0;
          if (slow > 0) {
            for (const p of this.cluster.proxies) p.send(`delay ${slow} 0`);
            await Promise.all(this.cluster.proxies.map((p) => p.waitLine(/^ok$/, 5000)));
            await sleep(400);
          }
          const address = await this.cluster.startSequencer();
          rec.appliedAt = nowMs();
          const r = await this.cluster.corfuCtl(['layout', 'reconfigure', '--store', this.cluster.store, '--sequencer', address], 60_000);
          const after = await this.cluster.projection();
          rec.effect = r.code === 0 && after.epoch === before.epoch + 1 && after.sequencer === address;
          ev(`reconfigure exit ${r.code}${r.code === 0 ? '' : `: ${r.stderr.trim().slice(0, 300)}`}; epoch ${before.epoch} -> ${after.epoch}, sequencer ${after.sequencer}`);
          // The old sequencer, still running, was sealed (best effort) by the reconfiguration.
          const oldTok = await this.cluster.request(oldAddress, { type: 'request', op: 'TOKEN', epoch: before.epoch, count: 1 });
          this.#countProbe(`old sequencer ${oldAddress} TOKEN@${before.epoch}`, oldTok);
          const tok = await this.cluster.request(address, { type: 'request', op: 'TOKEN', epoch: before.epoch, count: 1 });
          this.#countProbe(`${address} TOKEN@${before.epoch}`, tok);
          await this.#holdRest(rec, f);
          if (slow > 0) {
            for (const p of this.cluster.proxies) p.send('delay 0 0');
            await Promise.all(this.cluster.proxies.map((p) => p.waitLine(/^ok$/, 5000)));
          }
          await old.stop(3000);
          rec.healed = r.code === 0;
          rec.healedAt = nowMs();
          break;
        }
        case 'sequencer-move-unsealed': {
          const before = await this.cluster.projection();
          const old = this.cluster.sequencer;
          const oldAddress = this.cluster.sequencerAddress;
          const oldPort = oldAddress.slice(oldAddress.lastIndexOf(':') + 1);
          await net.nft('sq', `add rule inet cf in ip saddr ${net.ip(CTL)} tcp dport ${oldPort} counter drop\n`);
          const cut = !(await net.canConnect(CTL, oldAddress, 700));
          const clientsReach = await net.canConnect('c0', oldAddress, 700);
          ev(`ctl->${oldAddress} ${cut ? 'blocked' : 'OPEN'}, c0->${oldAddress} ${clientsReach ? 'open' : 'BLOCKED'}`);
          const address = await this.cluster.startSequencer();
          rec.appliedAt = nowMs();
          const r = await this.cluster.corfuCtl(['layout', 'reconfigure', '--store', this.cluster.store, '--sequencer', address], 60_000);
          const after = await this.cluster.projection();
          rec.effect = cut && clientsReach && r.code === 0 && after.epoch === before.epoch + 1 && after.sequencer === address;
          ev(`reconfigure exit ${r.code}${r.code === 0 ? '' : `: ${r.stderr.trim().slice(0, 300)}`}; epoch ${before.epoch} -> ${after.epoch}, sequencer ${after.sequencer}`);
          const tok = await this.cluster.request(address, { type: 'request', op: 'TOKEN', epoch: before.epoch, count: 1 });
          this.#countProbe(`${address} TOKEN@${before.epoch}`, tok);
          await this.#holdRest(rec, f);
          await net.flushRules('sq');
          await old.stop(3000);
          rec.healed = r.code === 0;
          rec.healedAt = nowMs();
          break;
        }
      }
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
      ev(`error: ${rec.error}`);
      await this.healAll();
      if (Number.isNaN(rec.healedAt)) rec.healedAt = nowMs();
    }
    await this.#probeStaleEpoch();
    this.log(`  fault ${index} ${f.kind} ${rec.detail}: effect ${rec.effect ? 'yes' : 'NO'}, healed ${rec.healed ? 'yes' : 'NO'} [${rec.evidence.join('; ')}]`);
    return rec;
  }

  async #holdRest(rec: FaultRecord, f: PlannedFault): Promise<void> {
    const left = rec.appliedAt + f.holdMs - nowMs();
    if (left > 0) await sleep(left);
  }

  /** After a network heal: every `from` namespace connects to `address` again. */
  async #healed(rec: FaultRecord, from: readonly string[], address: string | undefined): Promise<void> {
    rec.healedAt = nowMs();
    if (address === undefined || from.length === 0) {
      rec.healed = true;
      return;
    }
    let ok = false;
    for (let t = 0; t < 10 && !ok; t++) {
      ok = (await Promise.all(from.map((p) => this.cluster.net.canConnect(p, address, 1000)))).every(Boolean);
      if (!ok) await sleep(200);
    }
    rec.healed = ok;
    rec.evidence.push(`after heal ${from.join('+')}->${address} ${ok ? 'open' : 'STILL BLOCKED'}`);
  }

  /** After a unit restart: it answers TAIL at the current epoch (its epoch survived). */
  async #unitServes(rec: FaultRecord, i: number): Promise<void> {
    rec.healedAt = nowMs();
    const epoch = (await this.cluster.projection()).epoch;
    const status = await this.#unitTail(i, epoch);
    rec.healed = status === 'OK';
    rec.evidence.push(`after restart TAIL@${epoch} -> ${status}`);
  }

  /** The status of TAIL at `epoch` on unit i ('OK', 'ERR_IO: ...', 'ERR_SEALED unitEpoch N', 'no answer: ...'). */
  async #unitTail(i: number, epoch: number): Promise<string> {
    const r = await this.cluster.request(this.cluster.unitAddress(i), { type: 'request', op: 'TAIL', epoch });
    if (!r.ok) return `no answer: ${r.error}`;
    const status = String(r.response!['status']);
    if (status === 'ERR_SEALED') {
      const unitEpoch = Number(r.response!['unitEpoch']);
      if (unitEpoch < epoch) {
        this.probes.epochRegressions++;
        this.probes.notes.push(`u${i} answered TAIL@${epoch} with ERR_SEALED at epoch ${unitEpoch}: its epoch went back`);
      }
      return `ERR_SEALED unitEpoch ${unitEpoch}`;
    }
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a decoded error response's message is a string
    return status === 'OK' ? 'OK' : `${status}: ${String(r.response!['message'] ?? '')}`;
  }

  /**
   * When the clients sent nothing through a loss or reset rule during the hold
   * (another fault stalled them): TCP connects from the namespaces the rule
   * names, until the rule's counter moves (at most ~40 tries). Returns the counter.
   */
  async #probeTraffic(f: PlannedFault, ev: (s: string) => void): Promise<number> {
    const net = this.cluster.net;
    const client = f.target.startsWith('c');
    const pairs = client ? f.peers.filter((p) => p !== 'sq').map((p) => [f.target, this.#serviceAddress(p)] as const) : f.peers.map((p) => [p, this.#serviceAddress(f.target)] as const);
    let counted = 0;
    let tries = 0;
    for (; tries < 40 && counted === 0; tries++) {
      const [from, to] = pairs[tries % pairs.length]!;
      await net.canConnect(from, to, 300);
      counted = await net.counted(f.target);
    }
    ev(`no client traffic: ${tries} probe connects`);
    return counted;
  }

  async #proxyStats(i: number): Promise<number> {
    const proxy = this.cluster.proxies[i]!;
    const line = proxy.waitLine(/^stats (\d+) /, 5000);
    proxy.send('stats');
    return Number((await line)[1]);
  }

  #countProbe(what: string, r: { ok: boolean; response?: Record<string, unknown>; error?: string }): void {
    if (what.includes('TOKEN@')) {
      this.probes.tokenProbes++;
      if (r.ok && String(r.response!['status']) === 'OK') {
        this.probes.tokensHandedOut++;
        this.probes.notes.push(`${what} handed out a token: ${JSON.stringify(r.response)}`);
      }
      return;
    }
    this.probes.sent++;
    if (!r.ok) {
      this.probes.inconclusive++;
      return;
    }
    const status = String(r.response!['status']);
    if (status === 'ERR_SEALED') this.probes.refused++;
    else if (status === 'OK') {
      this.probes.accepted++;
      this.probes.notes.push(`${what} was accepted: ${JSON.stringify(r.response)}`);
    } else this.probes.inconclusive++;
  }

  /**
   * A WRITE at epoch-1 to every unit, at an early address of one of its
   * chains (written long ago, so even a unit that wrongly passed the epoch
   * check would answer ERR_WRITTEN per entry and change nothing): anything but
   * ERR_SEALED for the whole request means the stale epoch was accepted.
   */
  async #probeStaleEpoch(): Promise<void> {
    const p = await this.cluster.projection();
    if (p.epoch < 1) return;
    const { chainFor } = await import('../../src/layout/index.js');
    await Promise.all(
      this.cluster.unitRoles().map(async (_, i) => {
        const unit = this.cluster.unitAddress(i);
        let address = -1;
        for (let a = 0; a < 64 && address < 0; a++) if (chainFor(p, a).includes(unit)) address = a;
        if (address < 0) return;
        const r = await this.cluster.request(unit, { type: 'request', op: 'WRITE', epoch: p.epoch - 1, entries: [{ address, payload: PROBE_PAYLOAD }] });
        this.#countProbe(`u${i} WRITE@${p.epoch - 1} at ${address}`, r);
      }),
    );
  }

  /** Best effort: every rule flushed, every link up, every process continued, every device writable. */
  async healAll(): Promise<void> {
    const c = this.cluster;
    for (const role of [...c.unitRoles(), 'sq', ...CLIENT_ROLES]) {
      await c.net.flushRules(role).catch(() => {});
      await c.net.link(role, true).catch(() => {});
    }
    for (const p of c.procs) if (p.alive) p.signal('SIGCONT');
    for (let i = 0; i < c.devices.length; i++) {
      await setReadOnly(c.devices[i]!.dev, false).catch(() => {});
      c.proxies[i]?.send('delay 0 0');
    }
    for (const cg of c.res.cgroups) new Throttle(cg.slice(cg.lastIndexOf('/') + 1)).remove();
    for (let i = 0; i < c.units.length; i++) {
      if (!c.units[i]!.alive) await c.startUnit(i).catch((err: unknown) => this.log(`  heal: restarting u${i} failed: ${String(err)}`));
    }
    if (!c.sequencer.alive) {
      const address = await c.startSequencer();
      const r = await c.corfuCtl(['layout', 'reconfigure', '--store', c.store, '--sequencer', address], 60_000);
      if (r.code !== 0) this.log(`  heal: moving the sequencer to ${address} failed: ${r.stderr.trim()}`);
    }
  }
}
