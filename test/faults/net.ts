// The network of one fault run: a network namespace per node (units, the
// sequencer, two client namespaces, the control namespace), each joined by a
// veth pair to a bridge inside a dedicated "switch" namespace. Nothing is
// created in, or changed in, the root namespace: every veth is created inside
// the switch namespace with its peer moved straight into the node's.
//
//   cf-<6 hex>-sw    bridge br0; one port per node, named after the node (u0, sq, c0, ...)
//   cf-<6 hex>-u0    eth0 10.213.0.10/24, the unit behind its proxy
//   ...              u1..u4 .11-.14, sq .30, c0 .40, c1 .41, ctl .50
//
// Each node namespace has one nftables table `inet cf` with an input and an
// output chain (policy accept) where the nemesis adds its rules and flushes
// them to heal. The control namespace is never named by a rule: the nemesis
// probes from there.

import { check, run, runSync } from './util.js';

export const SUBNET = '10.213.0';

export interface NodeSpec {
  /** Short role name, also the switch-side interface name: u0, sq, c0, ctl. */
  readonly role: string;
  readonly ip: string;
}

export class Network {
  readonly id: string;
  readonly prefix: string;
  readonly sw: string;
  readonly nodes = new Map<string, NodeSpec & { readonly ns: string }>();

  constructor(id: string) {
    this.id = id;
    this.prefix = `cf-${id}`;
    this.sw = `${this.prefix}-sw`;
  }

  ns(role: string): string {
    const n = this.nodes.get(role);
    if (n === undefined) throw new Error(`no node ${role}`);
    return n.ns;
  }

  ip(role: string): string {
    const n = this.nodes.get(role);
    if (n === undefined) throw new Error(`no node ${role}`);
    return n.ip;
  }

  async create(specs: readonly NodeSpec[]): Promise<void> {
    await check('ip', ['netns', 'add', this.sw]);
    await check('ip', ['-n', this.sw, 'link', 'set', 'lo', 'up']);
    await check('ip', ['-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await check('ip', ['-n', this.sw, 'link', 'set', 'br0', 'up']);
    for (const spec of specs) {
      if (spec.role.length > 15) throw new Error(`interface name ${spec.role} is too long`);
      const ns = `${this.prefix}-${spec.role}`;
      await check('ip', ['netns', 'add', ns]);
      this.nodes.set(spec.role, { ...spec, ns });
      await check('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await check('ip', ['-n', this.sw, 'link', 'add', spec.role, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await check('ip', ['-n', this.sw, 'link', 'set', spec.role, 'master', 'br0']);
      await check('ip', ['-n', this.sw, 'link', 'set', spec.role, 'up']);
      await check('ip', ['-n', ns, 'addr', 'add', `${spec.ip}/24`, 'dev', 'eth0']);
      await check('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await this.nft(spec.role, 'table inet cf {\n chain in { type filter hook input priority 0; policy accept; }\n chain out { type filter hook output priority 0; policy accept; }\n}\n');
    }
  }

  /** Runs an nft script inside a node's namespace. */
  async nft(role: string, script: string): Promise<void> {
    await check('ip', ['netns', 'exec', this.ns(role), 'nft', '-f', '-'], { input: script });
  }

  /** Removes every rule the nemesis added in a node. */
  async flushRules(role: string): Promise<void> {
    await this.nft(role, 'flush chain inet cf in\nflush chain inet cf out\n');
  }

  /** Packets counted by the rules of a node's chains (the nemesis's rules all carry `counter`). */
  async counted(role: string): Promise<number> {
    const r = await run('ip', ['netns', 'exec', this.ns(role), 'nft', '-j', 'list', 'table', 'inet', 'cf']);
    if (r.code !== 0) return 0;
    let packets = 0;
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const c = o['counter'] as { packets?: number } | undefined;
        if (c !== undefined && typeof c.packets === 'number') packets += c.packets;
        Object.values(o).forEach(walk);
      }
    };
    walk(JSON.parse(r.stdout));
    return packets;
  }

  async link(role: string, up: boolean): Promise<void> {
    await check('ip', ['-n', this.ns(role), 'link', 'set', 'eth0', up ? 'up' : 'down']);
  }

  /** Whether a TCP connection from `role`'s namespace to `address` opens within `timeoutMs`. */
  async canConnect(role: string, address: string, timeoutMs = 800): Promise<boolean> {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)];
    const secs = (timeoutMs / 1000).toFixed(2);
    const r = await run('ip', ['netns', 'exec', this.ns(role), 'timeout', secs, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`], { timeoutMs: timeoutMs + 3000 });
    return r.code === 0;
  }

  /** Kills whatever still runs in the namespaces, then deletes them. */
  async destroy(): Promise<void> {
    destroyNamespaces([...[...this.nodes.values()].map((n) => n.ns), this.sw]);
  }
}

/** Synchronous (usable from exit handlers): SIGKILL every process in each namespace, delete it. */
export function destroyNamespaces(namespaces: readonly string[]): void {
  for (const ns of namespaces) {
    const pids = runSync('ip', ['netns', 'pids', ns])
      .stdout.split(/\s+/)
      .filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const ns of namespaces) runSync('ip', ['netns', 'del', ns]);
}

/** Namespaces named `cf-<6 hex>-...`: this harness's, from any run. */
export function ourNamespaces(): string[] {
  return runSync('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => /^cf-[0-9a-f]{6}-[a-z0-9]+$/.test(n));
}
