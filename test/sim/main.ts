// The simulator's command line (npm run sim -- ARGS).
//
//   --seed S [--trace N]        one seed, replayed exactly: its setup, stats, violations and trace hash
//                               (--trace N also prints the last N trace lines)
//   --seeds N [--from S]        a campaign of N seeds: failing seeds (with a replay command) and a summary table
//   --bug NAME                  plant a bug (repeatable; --list-bugs lists them)
//   --fixes | --fix NAME        switch on the simulator's proposed fixes for the src/ bugs it found
//                               (all, or one; repeatable). Without them src/ runs as it is.
//   --unfix NAME                after --fixes: all but this one
//   --bugs [--seeds N]          every planted bug: caught or not, and by which seed (all fixes on)
//   --known [--seeds N]         every src/ bug found: a seed that shows it (all other fixes on)
//   --only NAME                 with --bugs or --known: just this one (repeatable)
//   --ops N                     client operations per seed (default 100)
//   --wild-trims                trims may hit addresses still being written (default: settled ones only)

import { BUGS } from './bugs.js';
import { campaign, formatSummary, huntBug, huntKnown, type Hunt } from './campaign.js';
import { KNOWN_ISSUES, KNOWN_ISSUE_NAMES } from './known-issues.js';
import { runSeed } from './run.js';

interface Args {
  seed?: number;
  seeds?: number;
  from: number;
  bugs: string[];
  fixes: string[];
  ops?: number;
  trace: number;
  allBugs: boolean;
  known: boolean;
  listBugs: boolean;
  wildTrims: boolean;
  only: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { from: 1, bugs: [], fixes: [], trace: 0, allBugs: false, known: false, listBugs: false, wildTrims: false, only: [] };
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
    else if (k === '--fix') a.fixes.push(v());
    else if (k === '--fixes') a.fixes.push(...KNOWN_ISSUE_NAMES);
    else if (k === '--unfix') {
      const name = v();
      a.fixes = a.fixes.filter((f) => f !== name);
    }
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
  if (args.allBugs || args.known) {
    const all = args.allBugs ? BUGS.map((b) => b.name) : KNOWN_ISSUE_NAMES;
    const names = args.only.length > 0 ? all.filter((n) => args.only.includes(n)) : all;
    let found = 0;
    console.log(`${(args.allBugs ? 'planted bug' : 'src/ bug').padEnd(28)} ${'caught'.padEnd(7)} ${'seed'.padStart(6)} ${'tried'.padStart(6)}  first violation`);
    for (const name of names) {
      const h = args.allBugs
        ? await huntBug(name, { maxSeeds: args.seeds ?? 300, from: args.from, ...ops })
        : await huntKnown(name, { maxSeeds: args.seeds ?? 3000, from: args.from, ...ops });
      if (h.seed !== undefined) found++;
      console.log(huntLine(h));
    }
    console.log(`caught ${found}/${names.length}`);
    if (args.known) {
      console.log('replay one: npm run sim -- --seed SEED --fixes --unfix NAME (add --wild-trims for append-trimmed-below-head); the same seed passes with --fixes');
      for (const k of KNOWN_ISSUES.filter((x) => names.includes(x.name))) console.log(`\n${k.name} (${k.where})\n  ${k.what}\n  fix: ${k.fix}`);
    }
    return found === names.length ? 0 : 1;
  }
  const unfixed = KNOWN_ISSUE_NAMES.filter((n) => !args.fixes.includes(n));
  const fixNote =
    args.fixes.length === 0 ? '' : unfixed.length <= 2 ? ` --fixes${unfixed.map((f) => ` --unfix ${f}`).join('')}` : args.fixes.map((f) => ` --fix ${f}`).join('');
  const bugNote = args.bugs.map((b) => ` --bug ${b}`).join('') + (args.wildTrims ? ' --wild-trims' : '');
  if (args.seed !== undefined) {
    const r = await runSeed({ seed: args.seed, bugs: args.bugs, keepTrace: args.trace, fixes: args.fixes, wildTrims: args.wildTrims, ...ops });
    if (args.trace > 0) for (const line of r.traceTail) console.log(line);
    console.log(`seed ${r.seed}${bugNote}${fixNote}: ${r.setup}`);
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
  const summary = await campaign({ seeds: n, from: args.from, bugs: args.bugs, fixes: args.fixes, wildTrims: args.wildTrims, ...ops }, (r) => {
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
