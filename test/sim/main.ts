// The simulator's command line (npm run sim -- ARGS).
//
//   --seed S [--trace N]        one seed, replayed exactly: its setup, stats, violations and trace hash
//                               (--trace N also prints the last N trace lines)
//   --seeds N [--from S]        a campaign of N seeds: failing seeds (with a replay command) and a summary table
//   --bug NAME                  plant a bug (repeatable; --list-bugs lists them)
//   --bugs [--seeds N]          every planted bug: caught or not, and by which seed
//   --only NAME                 with --bugs: just this one (repeatable)
//   --known                     the src/ bugs the simulator found (known-issues.ts): replays each one's seed (they pass now)
//   --ops N                     client operations per seed (default 100)
//   --wild-trims                trims may hit addresses still being written (default: settled ones only)

import { BUGS } from './bugs.js';
import { campaign, formatSummary, huntBug, type Hunt } from './campaign.js';
import { FOUND_BUGS } from './known-issues.js';
import { runSeed } from './run.js';

interface Args {
  seed?: number;
  seeds?: number;
  from: number;
  bugs: string[];
  ops?: number;
  trace: number;
  allBugs: boolean;
  known: boolean;
  listBugs: boolean;
  wildTrims: boolean;
  only: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { from: 1, bugs: [], trace: 0, allBugs: false, known: false, listBugs: false, wildTrims: false, only: [] };
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
    else if (k === '--known') a.known = true;
    else if (k === '--list-bugs') a.listBugs = true;
    else if (k === '--wild-trims') a.wildTrims = true;
    else if (k === '--only') a.only.push(v());
    else throw new Error(`unknown argument ${k} (see the header of test/sim/main.ts)`);
  }
  return a;
}

function huntLine(h: Hunt): string {
  const v = h.violation;
  return `${h.bug.padEnd(28)} ${(h.seed !== undefined ? 'yes' : 'NO').padEnd(7)} ${String(h.seed ?? '-').padStart(6)} ${String(h.tried).padStart(6)}  ${v === undefined ? '' : `${v.kind}: ${v.message.split('\n')[0]!.slice(0, 120)}`}`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const ops = args.ops === undefined ? {} : { ops: args.ops };
  if (args.listBugs) {
    for (const b of BUGS) console.log(`${b.name.padEnd(28)} ${b.layer.padEnd(10)} ${b.description}`);
    return 0;
  }
  if (args.known) {
    let passing = 0;
    for (const k of FOUND_BUGS) {
      const r = await runSeed({ seed: k.seed, wildTrims: k.wildTrims ?? false, ...(k.ops === undefined ? {} : { ops: k.ops }) });
      if (r.violations.length === 0) passing++;
      const replay = `--seed ${k.seed}${k.ops === undefined ? '' : ` --ops ${k.ops}`}${k.wildTrims === true ? ' --wild-trims' : ''}`;
      console.log(`${k.name.padEnd(28)} ${r.violations.length === 0 ? 'passes' : `FAILS (${r.violations[0]!.kind})`}  ${replay}  fixed in ${k.fixedIn}`);
      console.log(`  ${k.where}\n  ${k.what}\n  showed: ${k.showed}\n  fix: ${k.fix}`);
    }
    console.log(`${passing}/${FOUND_BUGS.length} seeds pass`);
    return passing === FOUND_BUGS.length ? 0 : 1;
  }
  if (args.allBugs) {
    const names = args.only.length > 0 ? BUGS.map((b) => b.name).filter((n) => args.only.includes(n)) : BUGS.map((b) => b.name);
    let found = 0;
    console.log(`${'planted bug'.padEnd(28)} ${'caught'.padEnd(7)} ${'seed'.padStart(6)} ${'tried'.padStart(6)}  first violation`);
    for (const name of names) {
      const h = await huntBug(name, { maxSeeds: args.seeds ?? 300, from: args.from, ...ops });
      if (h.seed !== undefined) found++;
      console.log(huntLine(h));
    }
    console.log(`caught ${found}/${names.length}`);
    return found === names.length ? 0 : 1;
  }
  const fixNote = args.ops === undefined ? '' : ` --ops ${args.ops}`;
  const bugNote = args.bugs.map((b) => ` --bug ${b}`).join('') + (args.wildTrims ? ' --wild-trims' : '');
  if (args.seed !== undefined) {
    const r = await runSeed({ seed: args.seed, bugs: args.bugs, keepTrace: args.trace, wildTrims: args.wildTrims, ...ops });
    if (args.trace > 0) for (const line of r.traceTail) console.log(line);
    console.log(`seed ${r.seed}${bugNote}${fixNote}: ${r.setup}`);
    const s = r.stats;
    console.log(
      `  ${s.ops} ops (${s.okOps} ok, ${s.failedOps} failed, ${s.unknownOps} unknown), ${s.ackedAppends} acked appends, ` +
        `${s.messages} messages, ${s.events} events, ${s.virtualMs} virtual ms, ${s.reconfigurations} reconfigurations, ${s.rebuilds} chains rebuilt, final epoch ${s.epochs}, ${s.followed} followed`,
    );
    const f = Object.entries(s.faults).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
    console.log(`  faults: ${f.length > 0 ? f.join(', ') : 'none'}`);
    for (const v of r.violations) console.log(`  VIOLATION ${v.kind} at ${v.time.toFixed(3)} ms: ${v.message}`);
    console.log(`trace hash ${r.traceHash}`);
    return r.violations.length === 0 ? 0 : 1;
  }
  const n = args.seeds ?? 1000;
  const summary = await campaign({ seeds: n, from: args.from, bugs: args.bugs, wildTrims: args.wildTrims, ...ops }, (r) => {
    if (r.violations.length > 0) {
      const v = r.violations[0]!;
      console.log(`FAIL seed ${r.seed} trace ${r.traceHash}: ${v.kind}: ${v.message.split('\n')[0]}  (replay: npm run sim -- --seed ${r.seed}${bugNote}${fixNote})`);
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
