// `npm run faults -- --schedules N --seconds S [--seed X] [--json FILE]`
//
// Real fault runs (issue 4 §3): `corfu unit` / `corfu sequencer` processes and
// CorfuClients in their own network namespaces, units on loop devices, and a
// nemesis of partitions, packet loss, resets, link flaps, kill -9, SIGSTOP,
// read-only and slow disks, proxy delay and sequencer failover. Needs root.
// See docs/reliability.md, "Fault runs".
//
// Options:
//   --schedules N     schedules (fresh clusters), default 3
//   --seconds S       fault phase of each, default 20
//   --seed X          campaign seed (printed; the same seed plans the same faults and clusters)
//   --only I          run only schedule I (0-based) of the seed's plan
//   --units N         units per cluster (default: random 3..5 per schedule)
//   --clients K       CorfuClients per driver (two drivers: c0, c1), default 3
//   --depth D         concurrent operations per client, default 2
//   --rate R          operations a second per driver, default 150
//   --hold MIN-MAX    how long each fault holds, ms, default 1000-3000 (the clients give up
//                     on an operation after ~6 s of resends: longer holds make them fail)
//   --overlap P       probability (0..1) that a fault overlaps the next one, default 0
//   --kinds K,K,...   only these fault kinds (see nemesis.ts)
//   --json FILE       write the whole result (every fault with its evidence) as JSON
//   --keep            keep every run's logs and histories (failed runs' are always kept)
//   --every-fault     run every planned fault, however long the phase takes (by default a
//                     fault that would end past the phase, plus 2 s, is dropped): a test
//                     that counts faults then does not depend on the machine's load
// Exit status: 0 when every check passed, 1 otherwise, 2 on a usage error.

import { writeFileSync } from 'node:fs';

import { campaign, formatCampaign } from './campaign.js';
import { ALL_KINDS, type FaultKind } from './nemesis.js';
import { flags } from './util.js';

function usage(msg: string): never {
  process.stderr.write(
    `faults: ${msg}\nusage: npm run faults -- --schedules N --seconds S [--seed X] [--only I] [--units N] [--clients K] [--depth D] [--rate R] [--hold MIN-MAX] [--overlap P] [--kinds K,K] [--json FILE] [--keep]\n`,
  );
  process.exit(2);
}

function overlapArg(v: string): number {
  const p = Number(v);
  if (!(p >= 0 && p <= 1)) usage(`--overlap must be a probability in 0..1, got ${v}`);
  return p;
}

function holdArg(v: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(v);
  if (m === null || Number(m[1]) < 200 || Number(m[1]) > Number(m[2]) || Number(m[2]) > 600_000) usage(`--hold must be MIN-MAX in ms (200 <= MIN <= MAX), got ${v}`);
  return [Number(m[1]), Number(m[2])];
}

async function main(): Promise<void> {
  let args: Map<string, string>;
  try {
    args = flags(process.argv.slice(2));
  } catch (err) {
    usage((err as Error).message);
  }
  const known = new Set(['schedules', 'seconds', 'seed', 'only', 'units', 'clients', 'depth', 'rate', 'json', 'keep', 'kinds', 'overlap', 'hold', 'every-fault']);
  for (const k of args.keys()) if (!known.has(k)) usage(`unknown option --${k}`);
  const int = (name: string, fallback: number | undefined, min: number, max: number): number | undefined => {
    const v = args.get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) usage(`--${name} must be an integer in ${min}..${max}, got ${v}`);
    return n;
  };
  if (process.getuid?.() !== 0) usage('fault runs need root (network namespaces, nftables, loop devices, cgroups)');
  const seed = int('seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1)!;
  const only = int('only', undefined, 0, 10_000);
  const units = int('units', undefined, 3, 5);
  const schedules = int('schedules', 3, 1, 10_000)!;
  const kindsArg = args.get('kinds');
  const kinds = kindsArg === undefined ? undefined : (kindsArg.split(',') as FaultKind[]);
  for (const k of kinds ?? []) if (!(ALL_KINDS as readonly string[]).includes(k)) usage(`unknown fault kind ${k}; kinds: ${ALL_KINDS.join(', ')}`);
  const result = await campaign({
    schedules: only === undefined ? schedules : Math.max(schedules, only + 1),
    seconds: int('seconds', 20, 5, 3600)!,
    seed,
    ...(only === undefined ? {} : { only }),
    ...(units === undefined ? {} : { units }),
    ...(kinds === undefined ? {} : { kinds }),
    ...(args.has('overlap') ? { overlap: overlapArg(args.get('overlap')!) } : {}),
    ...(args.has('hold') ? { hold: holdArg(args.get('hold')!) } : {}),
    clientsPerDriver: int('clients', 3, 1, 32)!,
    depth: int('depth', 2, 1, 32)!,
    rate: int('rate', 150, 1, 100_000)!,
    keep: args.has('keep'),
    everyFault: args.has('every-fault'),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${formatCampaign(result)}\n`);
  const json = args.get('json');
  if (json !== undefined) writeFileSync(json, JSON.stringify(result, null, 2));
  process.exit(result.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`faults: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
