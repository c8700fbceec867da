// One fault run's cluster: the namespaces (net.ts), a loop device per unit
// (disk.ts), `corfu unit` behind a delay proxy in each unit's namespace, a
// `corfu sequencer`, the control agent, and `corfu layout init` run from the
// control namespace. The projection store is `file:DIR` in the run's scratch
// directory, which every namespace sees (network namespaces share the
// filesystem).
//
// Addresses: unit i is 10.213.0.(10+i); its proxy listens on :7000 (the
// address in the projection) and the unit on :7001. The sequencer is
// 10.213.0.30:(7100 + generation): a failover starts the next one on the next
// port. Clients: c0 .40, c1 .41; control: .50.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';

import type { Projection } from '../../src/layout/index.js';
import { FileProjectionStore } from '../../src/layout/index.js';
import { createLoop, type LoopDevice } from './disk.js';
import { Network, SUBNET, type NodeSpec } from './net.js';
import { Proc } from './procs.js';
import type { Resources } from './resources.js';
import { run, sleep, type RunResult } from './util.js';

/**
 * The servers listen on addresses of network namespaces this harness made, reachable by
 * nothing else: plaintext without credentials there is the point (the CLI refuses a
 * non-loopback address without TLS or a token unless told --insecure).
 */
const PRIVATE_NET = ['--insecure'];

const here = fileURLToPath(new URL('.', import.meta.url));
/**
 * The `corfu` CLI compiled with the harness (test/faults/tsconfig.json), from the same
 * sources as dist/src/cli/main.js: a rebuild of dist/ by someone else mid-run
 * cannot hand a unit or a reconfiguration a half-written module.
 */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const DRIVER = join(here, 'driver.js');
export const AGENT = join(here, 'agent.js');
export const PROXY = join(here, 'proxy.js');

export const CLIENT_ROLES = ['c0', 'c1'] as const;
export const CTL = 'ctl';
const PROXY_PORT = 7000;
const UNIT_PORT = 7001;
const SEQ_PORT = 7100;

export interface ClusterShape {
  readonly units: number;
  /** Chains of unit indexes, head first. */
  readonly stripes: readonly (readonly number[])[];
  readonly deviceBytes: number;
}

export interface Crash {
  readonly proc: string;
  readonly exit: string;
  readonly stderr: string;
}

export interface AgentReply {
  readonly ok: boolean;
  readonly response?: Record<string, unknown>;
  readonly error?: string;
}

/**
 * The control agent's request/answer link: each command goes out as a JSON line with an id,
 * and the answer line with that id resolves it (or a miss, if none comes in time).
 */
export class AgentLink {
  readonly proc: Proc;
  #nextId = 0;
  readonly #waiters = new Map<number, (r: AgentReply) => void>();

  constructor(proc: Proc) {
    this.proc = proc;
    proc.onLine((line) => {
      if (!line.startsWith('{')) return;
      const r = JSON.parse(line) as AgentReply & { id: number };
      const w = this.#waiters.get(r.id);
      if (w !== undefined) {
        this.#waiters.delete(r.id);
        w(r);
      }
    });
  }

  /** Sends `command`; resolves with the agent's answer, or a miss 5 s past `timeoutMs`. */
  ask(command: Record<string, unknown>, timeoutMs: number): Promise<AgentReply> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        resolve({ ok: false, error: 'agent did not answer' });
      }, timeoutMs + 5000);
      this.#waiters.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.proc.send(JSON.stringify({ id, ...command }));
    });
  }
}

export class Cluster {
  readonly res: Resources;
  readonly net: Network;
  readonly shape: ClusterShape;
  readonly layoutDir: string;
  readonly store: string;
  readonly logDir: string;
  readonly devices: LoopDevice[] = [];
  readonly units: Proc[] = [];
  readonly proxies: Proc[] = [];
  sequencer!: Proc;
  sequencerAddress = '';
  #seqGeneration = 0;
  agent!: AgentLink;
  /** Every process ever started (restarts included). */
  readonly procs: Proc[] = [];
  readonly crashes: Crash[] = [];

  constructor(res: Resources, shape: ClusterShape, logDir: string) {
    this.res = res;
    this.shape = shape;
    this.net = new Network(res.id);
    this.layoutDir = join(res.dir, 'layout');
    this.store = `file:${this.layoutDir}`;
    this.logDir = logDir;
    mkdirSync(this.layoutDir, { recursive: true });
  }

  unitRole(i: number): string {
    return `u${i}`;
  }

  /** The address clients use for unit i: its proxy. */
  unitAddress(i: number): string {
    return `${this.net.ip(this.unitRole(i))}:${PROXY_PORT}`;
  }

  unitRoles(): string[] {
    return Array.from({ length: this.shape.units }, (_, i) => this.unitRole(i));
  }

  async start(): Promise<void> {
    const specs: NodeSpec[] = [
      ...this.unitRoles().map((role, i) => ({ role, ip: `${SUBNET}.${10 + i}` })),
      { role: 'sq', ip: `${SUBNET}.30` },
      { role: 'c0', ip: `${SUBNET}.40` },
      { role: 'c1', ip: `${SUBNET}.41` },
      { role: CTL, ip: `${SUBNET}.50` },
    ];
    // Register the names before creating them: a failure half-way still cleans up.
    this.res.namespaces.push(this.net.sw, ...specs.map((s) => `${this.net.prefix}-${s.role}`));
    await this.net.create(specs);

    for (let i = 0; i < this.shape.units; i++) {
      const d = await createLoop(join(this.res.dir, `u${i}.img`), this.shape.deviceBytes);
      this.res.loops.push(d.dev);
      this.devices.push(d);
      const f = await run(process.execPath, [CLI, 'format', d.dev, '--unit-id', String(i)], { timeoutMs: 30_000 });
      if (f.code !== 0) throw new Error(`format ${d.dev}: ${f.stderr}`);
    }
    this.agent = new AgentLink(this.#spawn('agent', CTL, [AGENT]));
    await Promise.all([
      ...this.devices.map(async (_, i) => {
        await this.startUnit(i);
        await this.#startProxy(i);
      }),
      this.startSequencer(),
      this.agent.proc.waitLine(/^ready$/, 20_000),
    ]);
    const stripes = this.shape.stripes.flatMap((chain) => ['--stripe', chain.map((i) => this.unitAddress(i)).join(',')]);
    const init = await this.corfuCtl(['layout', 'init', '--store', this.store, '--sequencer', this.sequencerAddress, ...stripes]);
    if (init.code !== 0) throw new Error(`layout init: ${init.stderr}`);
  }

  #spawn(name: string, role: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
    const p = new Proc(name, this.net.ns(role), args, this.logDir, env);
    this.procs.push(p);
    void p.exited.then((e) => {
      if (!p.expectExit) this.crashes.push({ proc: p.name, exit: String(e.code ?? e.signal), stderr: p.stderrTail.slice(-1500) });
    });
    return p;
  }

  /** Starts (or restarts) unit i on its device and address; retries while the device is still held. */
  async startUnit(i: number): Promise<void> {
    const listen = `${this.net.ip(this.unitRole(i))}:${UNIT_PORT}`;
    for (let attempt = 0; ; attempt++) {
      const p = this.#spawn(`unit${i}`, this.unitRole(i), [CLI, 'unit', '--device', this.devices[i]!.dev, '--listen', listen, ...PRIVATE_NET], { CORFU_EXIT_WITH_PARENT: '1' });
      try {
        await p.waitLine(/^listening /, 30_000);
        this.units[i] = p;
        return;
      } catch (err) {
        p.expectExit = true;
        await p.kill9();
        // The previous process's io_uring may hold the device a moment after its exit (ERR_DEVICE_BUSY).
        if (attempt >= 10 || !/BUSY|busy|in use|EADDRINUSE/.test(String(err))) throw err;
        await sleep(200 * (attempt + 1));
      }
    }
  }

  async #startProxy(i: number): Promise<void> {
    const ip = this.net.ip(this.unitRole(i));
    const p = this.#spawn(`proxy${i}`, this.unitRole(i), [PROXY, '--listen', `${ip}:${PROXY_PORT}`, '--upstream', `${ip}:${UNIT_PORT}`]);
    await p.waitLine(/^listening$/, 20_000);
    this.proxies[i] = p;
  }

  /** Starts the next sequencer (a fresh port each time); returns its address. */
  async startSequencer(): Promise<string> {
    const address = `${this.net.ip('sq')}:${SEQ_PORT + this.#seqGeneration}`;
    const p = this.#spawn(`sequencer${this.#seqGeneration}`, 'sq', [CLI, 'sequencer', '--listen', address, ...PRIVATE_NET], { CORFU_EXIT_WITH_PARENT: '1' });
    this.#seqGeneration++;
    await p.waitLine(/^listening /, 30_000);
    this.sequencer = p;
    this.sequencerAddress = address;
    return address;
  }

  /** `corfu ARGS` from the control namespace. */
  corfuCtl(args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.net.ns(CTL), process.execPath, CLI, ...args], { timeoutMs });
  }

  async projection(): Promise<Projection> {
    const store = new FileProjectionStore(this.layoutDir);
    try {
      const p = await store.latest();
      if (p === undefined) throw new Error('no projection');
      return p;
    } finally {
      await store.close();
    }
  }

  // ---- the agent --------------------------------------------------------------------

  /** One raw wire request from the control namespace. */
  request(target: string, request: Record<string, unknown>, timeoutMs = 1000): Promise<AgentReply> {
    return this.agent.ask({ target, request, timeoutMs }, timeoutMs);
  }

  // ---- the end -------------------------------------------------------------------------

  /** Stops every process still running (SIGTERM, then SIGKILL), closes the logs. */
  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(3000)));
    await Promise.all(this.procs.map((p) => p.closeLog()));
  }
}
