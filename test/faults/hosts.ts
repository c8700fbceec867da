// The cluster of a multi-host fault run (hosts-run.ts): network namespaces
// standing in for machines, on the same switch as the single-host runs
// (net.ts), every process a real one.
//
//   b0 b1 b2   flash boxes, 10.213.0.10-12. Each serves three loop devices
//              (`losetup --direct-io=on`): `corfu unit` on :7001 and :7002 (in
//              the layout) and an empty spare on :7003. b0 also runs the
//              sequencer (:6000), b1 the standby sequencer (:6000).
//   m0 m1      `corfu manager` (10.213.0.20, .21): the first to start leads,
//              the other is the standby (etcd's election on a 5 s lease).
//   c0 c1      the client drivers (10.213.0.40, .41).
//   ctl        etcd (Debian's etcd-server binary, one member, a temp data
//              dir) on 10.213.0.50:2379: the projection store
//              `etcd://10.213.0.50:2379/corfu`; the agent (raw requests and
//              layout reads for the run); `corfu layout init`; the final read.
//
// Chains (head first), each across two boxes, every box one head and one tail:
//   stripe k: b(k):7001 -> b(k+1 mod 3):7002
// The managers get every spare and every unit of the layout as `--spare` (a
// replaced unit back from the dead still holds entries: the manager must not
// take it) and both sequencers as `--standby-sequencer`.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import type { Projection } from '../../src/layout/index.js';
import { AGENT, AgentLink, CLI, CTL, type AgentReply, type Crash } from './cluster.js';
import { createLoop, type LoopDevice } from './disk.js';
import { Network, SUBNET, type NodeSpec } from './net.js';
import { Proc } from './procs.js';
import type { Resources } from './resources.js';
import { nowMs, run, runSync, sleep, type RunResult } from './util.js';

/**
 * The servers listen on addresses of network namespaces this harness made, reachable by
 * nothing else: plaintext without credentials there is the point (the CLI refuses a
 * non-loopback address without TLS or a token unless told --insecure).
 */
const PRIVATE_NET = ['--insecure'];

export const BOXES = 3;
export const MANAGER_ROLES = ['m0', 'm1'] as const;
export const CLIENT_ROLES = ['c0', 'c1'] as const;
const UNIT_PORTS = [7001, 7002] as const;
const SPARE_PORT = 7003;
const SEQ_PORT = 6000;
const ETCD_PORT = 2379;
const ETCD_PEER_PORT = 2380;

export interface HostsOptions {
  readonly deviceBytes: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly misses: number;
}

/** One device of a box and the unit that serves it. */
export interface UnitSlot {
  readonly box: number;
  readonly port: number;
  readonly address: string;
  readonly name: string;
  readonly device: LoopDevice;
  proc?: Proc;
}

/** A manager's stderr line, stamped on arrival with the run's monotonic clock. */
export interface ManagerLine {
  readonly at: number;
  readonly manager: string;
  readonly text: string;
}

export class HostsCluster {
  readonly res: Resources;
  readonly net: Network;
  readonly opts: HostsOptions;
  readonly logDir: string;
  readonly etcdAddress: string;
  readonly layout: string;
  /** Every unit slot, by address (layout units first, box by box, then the spares). */
  readonly slots = new Map<string, UnitSlot>();
  readonly sequencers = new Map<string, { box: number; proc?: Proc }>();
  /** Every manager ever started, in order. */
  readonly managers: Proc[] = [];
  readonly managerLines: ManagerLine[] = [];
  readonly procs: Proc[] = [];
  readonly crashes: Crash[] = [];
  etcd!: Proc;
  agent!: AgentLink;
  #managerSeq = 0;

  constructor(res: Resources, logDir: string, opts: HostsOptions) {
    this.res = res;
    this.net = new Network(res.id);
    this.opts = opts;
    this.logDir = logDir;
    this.etcdAddress = `${SUBNET}.50:${ETCD_PORT}`;
    this.layout = `etcd://${this.etcdAddress}/corfu`;
  }

  boxRole(box: number): string {
    return `b${box}`;
  }

  boxIp(box: number): string {
    return `${SUBNET}.${10 + box}`;
  }

  /** Unit addresses of the layout, per stripe, head first. */
  stripes(): string[][] {
    return Array.from({ length: BOXES }, (_, k) => [`${this.boxIp(k)}:${UNIT_PORTS[0]}`, `${this.boxIp((k + 1) % BOXES)}:${UNIT_PORTS[1]}`]);
  }

  spares(): string[] {
    return Array.from({ length: BOXES }, (_, k) => `${this.boxIp(k)}:${SPARE_PORT}`);
  }

  sequencerAddress(box: number): string {
    return `${this.boxIp(box)}:${SEQ_PORT}`;
  }

  /** Which box an address (unit or sequencer) lives on. */
  boxOf(address: string): number {
    const ip = address.slice(0, address.lastIndexOf(':'));
    return Number(ip.slice(ip.lastIndexOf('.') + 1)) - 10;
  }

  /** `b1:7002` for 10.213.0.11:7002. */
  short(address: string): string {
    return `b${this.boxOf(address)}:${address.slice(address.lastIndexOf(':') + 1)}`;
  }

  async start(): Promise<void> {
    const specs: NodeSpec[] = [
      ...Array.from({ length: BOXES }, (_, k) => ({ role: this.boxRole(k), ip: this.boxIp(k) })),
      { role: 'm0', ip: `${SUBNET}.20` },
      { role: 'm1', ip: `${SUBNET}.21` },
      { role: 'c0', ip: `${SUBNET}.40` },
      { role: 'c1', ip: `${SUBNET}.41` },
      { role: CTL, ip: `${SUBNET}.50` },
    ];
    // Register the names before creating them: a failure half-way still cleans up.
    this.res.namespaces.push(this.net.sw, ...specs.map((s) => `${this.net.prefix}-${s.role}`));
    await this.net.create(specs);

    // Devices: the layout's units box by box, then the spares.
    const addresses = [...this.stripes().flat().sort(), ...this.spares()];
    for (const [i, address] of addresses.entries()) {
      const box = this.boxOf(address);
      const port = Number(address.slice(address.lastIndexOf(':') + 1));
      const device = await createLoop(join(this.res.dir, `b${box}-${port}.img`), this.opts.deviceBytes);
      this.res.loops.push(device.dev);
      const f = await run(process.execPath, [CLI, 'format', device.dev, '--unit-id', String(i)], { timeoutMs: 30_000 });
      if (f.code !== 0) throw new Error(`format ${device.dev}: ${f.stderr}`);
      this.slots.set(address, { box, port, address, name: `unit-b${box}-${port}`, device });
    }

    const etcdDir = join(this.res.dir, 'etcd');
    mkdirSync(etcdDir);
    const peer = `http://${SUBNET}.50:${ETCD_PEER_PORT}`;
    this.etcd = this.#spawn(
      'etcd',
      CTL,
      [
        ...['--name', 'corfu-faults', '--data-dir', etcdDir],
        ...['--listen-client-urls', `http://${this.etcdAddress}`, '--advertise-client-urls', `http://${this.etcdAddress}`],
        ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `corfu-faults=${peer}`],
        ...['--initial-cluster-state', 'new', '--logger', 'zap', '--log-level', 'error'],
      ],
      {},
      'etcd',
    );
    this.agent = new AgentLink(this.#spawn('agent', CTL, [AGENT]));
    await Promise.all([
      ...[...this.slots.keys()].map((a) => this.startUnit(a)),
      this.startSequencer(0),
      this.startSequencer(1),
      this.agent.proc.waitLine(/^ready$/, 20_000),
      this.#etcdHealthy(30_000),
    ]);
    const stripes = this.stripes().flatMap((chain) => ['--stripe', chain.join(',')]);
    const init = await this.corfuCtl(['layout', 'init', '--store', this.layout, '--sequencer', this.sequencerAddress(0), ...stripes]);
    if (init.code !== 0) throw new Error(`layout init: ${init.stderr}`);
  }

  async #etcdHealthy(timeoutMs: number): Promise<void> {
    const end = nowMs() + timeoutMs;
    for (;;) {
      const r = await run('ip', ['netns', 'exec', this.net.ns(CTL), 'curl', '-sf', '--max-time', '1', `http://${this.etcdAddress}/health`], { timeoutMs: 5000 });
      if (r.code === 0 && r.stdout.includes('"health":"true"')) return;
      if (!this.etcd.alive) throw new Error(`etcd exited (${this.etcd.exit?.code ?? this.etcd.exit?.signal}): ${this.etcd.stderrTail.slice(-800)}`);
      if (nowMs() > end) throw new Error(`etcd did not become healthy in ${timeoutMs} ms: ${r.stdout} ${r.stderr}`);
      await sleep(100);
    }
  }

  #spawn(name: string, role: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, command?: string): Proc {
    const p = new Proc(name, this.net.ns(role), args, this.logDir, env, command);
    this.procs.push(p);
    void p.exited.then((e) => {
      if (!p.expectExit) this.crashes.push({ proc: p.name, exit: String(e.code ?? e.signal), stderr: p.stderrTail.slice(-1500) });
    });
    return p;
  }

  /** Starts (or restarts) the unit of a slot on its device and address; retries while the device is still held. */
  async startUnit(address: string): Promise<Proc> {
    const slot = this.slots.get(address)!;
    for (let attempt = 0; ; attempt++) {
      const p = this.#spawn(slot.name, this.boxRole(slot.box), [CLI, 'unit', '--device', slot.device.dev, '--listen', address, ...PRIVATE_NET], { CORFU_EXIT_WITH_PARENT: '1' });
      try {
        await p.waitLine(/^listening /, 30_000);
        slot.proc = p;
        return p;
      } catch (err) {
        p.expectExit = true;
        await p.kill9();
        if (attempt >= 10 || !/BUSY|busy|in use|EADDRINUSE/.test(String(err))) throw err;
        await sleep(200 * (attempt + 1));
      }
    }
  }

  async startSequencer(box: number): Promise<Proc> {
    const address = this.sequencerAddress(box);
    for (let attempt = 0; ; attempt++) {
      const p = this.#spawn(`sequencer-b${box}`, this.boxRole(box), [CLI, 'sequencer', '--listen', address, ...PRIVATE_NET], { CORFU_EXIT_WITH_PARENT: '1' });
      try {
        await p.waitLine(/^listening /, 30_000);
        this.sequencers.set(address, { box, proc: p });
        return p;
      } catch (err) {
        p.expectExit = true;
        await p.kill9();
        if (attempt >= 10 || !/EADDRINUSE|in use/.test(String(err))) throw err;
        await sleep(200 * (attempt + 1));
      }
    }
  }

  /** The flags every manager gets. */
  managerArgs(): string[] {
    const spares = [...this.spares(), ...this.stripes().flat()].flatMap((s) => ['--spare', s]);
    const standbys = [this.sequencerAddress(1), this.sequencerAddress(0)].flatMap((s) => ['--standby-sequencer', s]);
    return [
      ...['manager', '--layout', this.layout, ...spares, ...standbys],
      ...['--probe-interval', String(this.opts.probeIntervalMs), '--probe-timeout', String(this.opts.probeTimeoutMs), '--misses', String(this.opts.misses)],
    ];
  }

  /** Starts a manager in `role`'s namespace; resolves once it campaigns (`manager: standby`). */
  async startManager(role: (typeof MANAGER_ROLES)[number]): Promise<Proc> {
    const name = `manager-${role}-${this.#managerSeq++}`;
    const p = this.#spawn(name, role, [CLI, ...this.managerArgs()], { CORFU_EXIT_WITH_PARENT: '1' });
    // The manager logs JSON (src/cli/log.ts); the checks read `TIME LEVEL message`.
    p.onErrLine((text) => this.managerLines.push({ at: nowMs(), manager: name, text: plainLogLine(text) }));
    this.managers.push(p);
    await p.waitLine(/^manager: standby/, 30_000);
    return p;
  }

  /** The manager that printed `manager: active` and is still alive, if any. */
  activeManager(): Proc | undefined {
    return this.managers.find((m) => m.alive && m.sawLine('manager: active'));
  }

  /** kill -9 every process in a box's namespace (its units, its spare, a sequencer on it): its power goes. */
  async powerOff(box: number): Promise<string[]> {
    const ns = this.net.ns(this.boxRole(box));
    const ours = this.procs.filter((p) => p.alive && p.ns === ns);
    for (const p of ours) p.expectExit = true;
    const pids = runSync('ip', ['netns', 'pids', ns])
      .stdout.split(/\s+/)
      .filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await Promise.all(ours.map((p) => p.exited));
    return ours.map((p) => `${p.name} (pid ${p.pid})`);
  }

  /** `corfu ARGS` from the control namespace. */
  corfuCtl(args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.net.ns(CTL), process.execPath, CLI, ...args], { timeoutMs });
  }

  // ---- the agent --------------------------------------------------------------------

  /** One raw wire request from the control namespace. */
  request(target: string, request: Record<string, unknown>, timeoutMs = 1000): Promise<AgentReply> {
    return this.agent.ask({ target, request, timeoutMs }, timeoutMs);
  }

  /** The latest projection in etcd (read from the control namespace). */
  async latest(): Promise<Projection> {
    const r = await this.agent.ask({ layout: this.layout }, 5000);
    if (!r.ok || r.response === undefined) throw new Error(`reading the layout: ${r.error ?? 'the store is empty'}`);
    return r.response as unknown as Projection;
  }

  /** A unit's INFO: its epoch and tail, or why there was no answer. */
  async info(address: string): Promise<{ epoch: number; tail: number } | string> {
    const r = await this.request(address, { type: 'request', op: 'INFO', epoch: 0 });
    if (!r.ok) return `no answer (${r.error})`;
    if (r.response!['status'] !== 'OK') return String(r.response!['status']);
    return { epoch: Number(r.response!['unitEpoch']), tail: Number(r.response!['tail']) };
  }

  // ---- the end -------------------------------------------------------------------------

  /** Stops every process still running (SIGTERM, then SIGKILL), closes the logs. */
  async stopAll(): Promise<void> {
    // Managers first: a manager must not see the units go and act on it.
    await Promise.all(this.managers.map((p) => p.stop(3000)));
    await Promise.all(this.procs.map((p) => p.stop(3000)));
    await Promise.all(this.procs.map((p) => p.closeLog()));
  }
}

/** A JSON log line as `TIME LEVEL message`; any other line as it is. */
function plainLogLine(line: string): string {
  try {
    const o = JSON.parse(line) as { time?: unknown; level?: unknown; msg?: unknown };
    if (typeof o.time === 'string' && typeof o.level === 'string' && typeof o.msg === 'string') return `${o.time} ${o.level} ${o.msg}`;
  } catch {
    // not JSON
  }
  return line;
}
