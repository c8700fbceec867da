// `npm run faults:hosts -- [--scenarios a,b,...] [--json FILE] ...`
//
// Multi-host fault runs (issue 8 §4): three boxes of `corfu unit`s in network
// namespaces, etcd, sequencer and standby, `corfu manager` and a standby, two
// client drivers appending throughout; one scenario per fresh cluster (see
// hosts-run.ts). Needs root and Debian's etcd-server. See docs/reliability.md,
// "Fault runs across machines".
//
// Options:
//   --scenarios LIST   comma-separated, default all: unit-rebuild, sequencer, manager, partition, box-power
//   --prefill BYTES    appended in 4 KiB entries before the load (what a rebuild copies), default 32M
//   --device BYTES     each unit's loop device (a sparse file), default 256M
//   --clients K        CorfuClients per driver (two drivers: c0, c1), default 3
//   --depth D          operations in flight per client, default 2
//   --rate R           operations a second per driver, default 150
//   --probe-interval MS, --probe-timeout MS, --misses N   the managers' detector, default 250, 250, 3
//   --partition-ms MS  how long scenario `partition` holds, default 6000
//   --seed X           seeds the drivers' operation mix (printed)
//   --timeout S        the whole run gives up after S seconds (cleaning up), default 1200
//   --json FILE        write the whole result as JSON
//   --keep             keep every run's logs (a failed run's are always kept; the path is printed)
// Exit status: 0 when every check passed, 1 otherwise, 2 on a usage error.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

import { exitOnSignals, sweep } from './resources.js';
import { SCENARIOS, formatHosts, runHosts, type HostsRunResult, type ScenarioName, type ScenarioResult } from './hosts-run.js';
import { flags } from './util.js';

function usage(msg: string): never {
  process.stderr.write(
    `faults:hosts: ${msg}\nusage: npm run faults:hosts -- [--scenarios ${SCENARIOS.join(',')}] [--prefill BYTES] [--device BYTES] [--clients K] [--depth D] [--rate R] ` +
      `[--probe-interval MS] [--probe-timeout MS] [--misses N] [--partition-ms MS] [--seed X] [--timeout S] [--json FILE] [--keep]\n`,
  );
  process.exit(2);
}

function size(name: string, v: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(v);
  if (m === null) usage(`--${name} must be a size such as 32M, got ${v}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
}

async function main(): Promise<void> {
  let args: Map<string, string>;
  try {
    args = flags(process.argv.slice(2));
  } catch (err) {
    usage((err as Error).message);
  }
  const known = new Set(['scenarios', 'prefill', 'device', 'clients', 'depth', 'rate', 'probe-interval', 'probe-timeout', 'misses', 'partition-ms', 'seed', 'timeout', 'json', 'keep']);
  for (const k of args.keys()) if (!known.has(k)) usage(`unknown option --${k}`);
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = args.get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) usage(`--${name} must be an integer in ${min}..${max}, got ${v}`);
    return n;
  };
  if (process.getuid?.() !== 0) usage('fault runs need root (network namespaces, nftables, loop devices)');
  for (const tool of ['ip', 'nft', 'losetup', 'etcd', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      usage(`${tool} is not installed${tool === 'etcd' ? ' (Debian: etcd-server)' : ''}`);
    }
  }
  const scenarios = (args.get('scenarios') ?? SCENARIOS.join(',')).split(',') as ScenarioName[];
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) usage(`unknown scenario ${s}; scenarios: ${SCENARIOS.join(', ')}`);
  const json = args.get('json');
  const timeoutS = int('timeout', 1200, 30, 24 * 3600);
  const done: ScenarioResult[] = [];
  exitOnSignals();
  const removed = sweep();
  if (removed.length > 0) process.stdout.write(`swept leftovers of dead runs: ${removed.join(', ')}\n`);
  // Bounded: past --timeout, write what finished and leave (the exit handlers clean up).
  setTimeout(() => {
    process.stderr.write(`\nfaults:hosts: --timeout ${timeoutS} s reached: giving up, cleaning up\n`);
    if (json !== undefined) writeFileSync(json, JSON.stringify({ timedOut: true, scenarios: done, ok: false }, null, 2));
    process.exit(1);
  }, timeoutS * 1000).unref();

  const result: HostsRunResult = await runHosts(
    {
      scenarios,
      prefillBytes: args.has('prefill') ? size('prefill', args.get('prefill')!) : 32 * 1024 * 1024,
      deviceBytes: args.has('device') ? size('device', args.get('device')!) : 256 * 1024 * 1024,
      clientsPerDriver: int('clients', 3, 1, 32),
      depth: int('depth', 2, 1, 32),
      rate: int('rate', 150, 1, 100_000),
      probeIntervalMs: int('probe-interval', 250, 10, 60_000),
      probeTimeoutMs: int('probe-timeout', 250, 10, 60_000),
      misses: int('misses', 3, 1, 100),
      partitionMs: int('partition-ms', 6000, 500, 600_000),
      seed: int('seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
      keep: args.has('keep'),
      log: (line) => process.stdout.write(`${line}\n`),
    },
    (r) => done.push(r),
  );
  process.stdout.write(`\n${formatHosts(result)}\n`);
  if (json !== undefined) writeFileSync(json, JSON.stringify(result, null, 2));
  process.exit(result.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`faults:hosts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
