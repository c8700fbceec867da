// The simulator's command line.
//
//   npm run sim -- --seed S [--bug NAME] [--trace N] [--ops N]   one seed, replayed exactly; prints its trace hash
//   npm run sim -- --seeds N [--from S] [--bug NAME] [--ops N]    a campaign: a summary table; failing seeds listed
//   npm run sim -- --bugs [--seeds N]                             every planted bug: caught or not
//   npm run sim -- --list-bugs

import { BUGS } from './bugs.js';
import { campaign, formatSummary, huntBug } from './campaign.js';
import { runSeed } from './run.js';

interface Args {
  seed?: number;
  seeds?: number;
  from: number;
  bugs: string[];
  ops?: number;
  trace: number;
  allBugs: boolean;
  fixes: boolean;
  listBugs: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { from: 1, bugs: [], trace: 0, allBugs: false, listBugs: false, fixes: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    const int = (): number => {
      const n = Number(v());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${k}: expected a non-negative integer`);
      return n;
    };
    if (k === '--seed') a.seed = int();
    else if (k === '--seeds') a.seeds = int();
    else if (k === '--from') a.from = int();
    else if (k === '--bug') a.bugs.push(v());
    else if (k === '--ops') a.ops = int();
    else if (k === '--trace') a.trace = int();
    else if (k === '--bugs') a.allBugs = true;
    else if (k === '--list-bugs') a.listBugs = true;
    else if (k === '--fixes') a.fixes = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.listBugs) {
    for (const b of BUGS) console.log(`${b.name.padEnd(28)} ${b.layer.padEnd(10)} ${b.description}`);
    return 0;
  }
  if (args.allBugs) {
    let caught = 0;
    console.log(`${'bug'.padEnd(28)} ${'caught'.padEnd(7)} ${'seed'.padStart(6)} ${'tried'.padStart(6)}  first violation`);
    for (const b of BUGS) {
      const r = await huntBug(b.name, { maxSeeds: args.seeds ?? 300, from: args.from, ...(args.ops === undefined ? {} : { ops: args.ops }) });
      if (r.seed !== undefined) caught++;
      const v = r.violation;
      console.log(`${b.name.padEnd(28)} ${(r.seed !== undefined ? 'yes' : 'NO').padEnd(7)} ${String(r.seed ?? '-').padStart(6)} ${String(r.tried).padStart(6)}  ${v === undefined ? '' : `${v.kind}: ${v.message.slice(0, 110)}`}`);
    }
    console.log(`caught ${caught}/${BUGS.length}`);
    return caught === BUGS.length ? 0 : 1;
  }
  if (args.seed !== undefined) {
    const r = await runSeed({ seed: args.seed, bugs: args.bugs, keepTrace: args.trace, fixes: args.fixes, ...(args.ops === undefined ? {} : { ops: args.ops }) });
    if (args.trace > 0) for (const line of r.traceTail) console.log(line);
    console.log(`seed ${r.seed}${args.bugs.length > 0 ? ` bugs ${args.bugs.join(',')}` : ''}: ${r.setup}`);
    const s = r.stats;
    console.log(
      `  ${s.ops} ops (${s.okOps} ok, ${s.failedOps} failed, ${s.unknownOps} unknown), ${s.ackedAppends} acked appends, ` +
        `${s.messages} messages, ${s.events} events, ${s.virtualMs} virtual ms, ${s.reconfigurations} reconfigurations, final epoch ${s.epochs}`,
    );
    const f = Object.entries(s.faults).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
    console.log(`  faults: ${f.length > 0 ? f.join(', ') : 'none'}`);
    for (const v of r.violations) console.log(`  VIOLATION ${v.kind} at ${v.time.toFixed(3)} ms: ${v.message}`);
    console.log(`trace hash ${r.traceHash}`);
    return r.violations.length === 0 ? 0 : 1;
  }
  const n = args.seeds ?? 1000;
  const summary = await campaign({ seeds: n, from: args.from, bugs: args.bugs, fixes: args.fixes, ...(args.ops === undefined ? {} : { ops: args.ops }) }, (r) => {
    if (r.violations.length > 0) {
      const v = r.violations[0]!;
      console.log(`FAIL seed ${r.seed} trace ${r.traceHash}: ${v.kind}: ${v.message.split('\n')[0]}  (replay: npm run sim -- --seed ${r.seed}${args.bugs.map((b) => ` --bug ${b}`).join('')})`);
    }
  });
  console.log(formatSummary(summary));
  return summary.failedSeeds.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
