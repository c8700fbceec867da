// The simulator's command line (npm run sim -- ARGS).
//
//   --seed S [--trace N]        one seed, replayed exactly: its setup, stats, violations and trace hash
//                               (--trace N also prints the last N trace lines)
//   --seeds N [--from S]        a campaign of N seeds: failing seeds (with a replay command) and a summary table
//   --bug NAME                  plant a bug (repeatable; --list-bugs lists them)
//   --bugs [--seeds N]          every planted bug: caught or not, and by which seed
//   --only NAME                 with --bugs, --known --verify or --known --hunt: just this one (repeatable)
//   --known                     the src/ bugs the simulator found (known-issues.ts): replays each one's seed (they pass now)
//   --known --verify            ... and proves each seed still catches its bug: applies its revert (known-reverts/) to a
//                               copy of the tree, compiles it, expects the recorded violation, then expects a pass as is
//                               (slow; --only NAME for one)
//   --known --hunt --only NAME [--seeds N] [--from S]
//                               with NAME's revert applied, the first seed (of N from S) that shows its bug and
//                               passes as is (record it in known-issues.ts); --ops, --wild-trims override the entry's
//   --ops N                     client operations per seed (default 100)
//   --wild-trims                trims may hit addresses still being written (default: settled ones only)
//   --transactions              transactions (bank.ts) on every seed (default: about a fifth of the seeds)

import { BUGS } from './bugs.js';
import { campaign, formatSummary, huntBug, type Hunt } from './campaign.js';
import { FOUND_BUGS } from './known-issues.js';
import { runSeed } from './run.js';
import { huntKnown, replayArgs, seedOptions, verifyKnown } from './verify-known.js';

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
  verify: boolean;
  hunt: boolean;
  wildTrims: boolean;
  transactions: boolean;
  only: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { from: 1, bugs: [], trace: 0, allBugs: false, known: false, listBugs: false, verify: false, hunt: false, wildTrims: false, transactions: false, only: [] };
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
    else if (k === '--verify') a.verify = true;
    else if (k === '--hunt') a.hunt = true;
    else if (k === '--wild-trims') a.wildTrims = true;
    else if (k === '--transactions') a.transactions = true;
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
  const ops = { ...(args.ops === undefined ? {} : { ops: args.ops }), ...(args.transactions ? { transactions: true } : {}) };
  if (args.listBugs) {
    for (const b of BUGS) console.log(`${b.name.padEnd(28)} ${b.layer.padEnd(10)} ${b.description}`);
    return 0;
  }
  if (args.known && args.verify) return (await verifyKnown(args.only)) ? 0 : 1;
  if (args.known && args.hunt) {
    const bugs = FOUND_BUGS.filter((b) => args.only.includes(b.name));
    if (bugs.length === 0) throw new Error(`--known --hunt needs --only NAME (one of ${FOUND_BUGS.map((b) => b.name).join(', ')})`);
    let found = 0;
    for (const b of bugs) {
      // --ops and --wild-trims override the entry's options (to hunt under others).
      const hunted = { ...b, ...(args.ops === undefined ? {} : { ops: args.ops }), ...(args.wildTrims ? { wildTrims: true } : {}) };
      if ((await huntKnown(hunted, args.from, args.seeds ?? 20_000)) !== undefined) found++;
    }
    return found === bugs.length ? 0 : 1;
  }
  if (args.known) {
    let passing = 0;
    const seeded = FOUND_BUGS.filter((k) => k.seed !== undefined);
    for (const k of FOUND_BUGS) {
      const r = k.seed === undefined ? undefined : await runSeed(seedOptions(k, k.seed));
      if (r !== undefined && r.violations.length === 0) passing++;
      const status = r === undefined ? 'NO SEED' : r.violations.length === 0 ? 'passes' : `FAILS (${r.violations[0]!.kind})`;
      console.log(`${k.name.padEnd(32)} ${status}  ${replayArgs(k)}  fixed in ${k.fixedIn}`);
      console.log(`  ${k.where}\n  ${k.what}\n  with its revert: ${k.showed}\n  fix: ${k.fix}`);
    }
    console.log(`${passing}/${seeded.length} seeds pass (${FOUND_BUGS.length - seeded.length} of ${FOUND_BUGS.length} known issues have no seed)`);
    return passing === seeded.length ? 0 : 1;
  }
  if (args.allBugs) {
    const names = args.only.length > 0 ? BUGS.map((b) => b.name).filter((n) => args.only.includes(n)) : BUGS.map((b) => b.name);
    let found = 0;
    console.log(`${'planted bug'.padEnd(28)} ${'caught'.padEnd(7)} ${'seed'.padStart(6)} ${'tried'.padStart(6)}  first violation`);
    for (const name of names) {
      // The same bound as sim.bugs.test.ts unless told: a bug's own, else 400 seeds.
      const h = await huntBug(name, { maxSeeds: args.seeds ?? BUGS.find((b) => b.name === name)?.huntSeeds ?? 400, from: args.from, ...ops });
      if (h.seed !== undefined) found++;
      // The bug test starts at the recorded seed: say when a hunt from 1 no longer agrees.
      const recorded = BUGS.find((b) => b.name === name)!.firstSeed;
      const drift = args.from === 1 && h.seed !== undefined && h.seed !== recorded ? `  (bugs.ts records firstSeed ${recorded}: update it)` : '';
      console.log(huntLine(h) + drift);
    }
    console.log(`caught ${found}/${names.length}`);
    return found === names.length ? 0 : 1;
  }
  const fixNote = args.ops === undefined ? '' : ` --ops ${args.ops}`;
  const bugNote = args.bugs.map((b) => ` --bug ${b}`).join('') + (args.wildTrims ? ' --wild-trims' : '') + (args.transactions ? ' --transactions' : '');
  if (args.seed !== undefined) {
    const r = await runSeed({ seed: args.seed, bugs: args.bugs, keepTrace: args.trace, wildTrims: args.wildTrims, ...ops });
    if (args.trace > 0) for (const line of r.traceTail) console.log(line);
    console.log(`seed ${r.seed}${bugNote}${fixNote}: ${r.setup}`);
    const s = r.stats;
    console.log(
      `  ${s.ops} ops (${s.okOps} ok, ${s.failedOps} failed, ${s.unknownOps} unknown), ${s.ackedAppends} acked appends, ` +
        `${s.messages} messages, ${s.events} events, ${s.virtualMs} virtual ms, ${s.reconfigurations} reconfigurations, ${s.rebuilds} chains rebuilt, final epoch ${s.epochs}, ${s.followed} followed`,
    );
    const f = Object.entries(s.faults)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`);
    console.log(`  faults: ${f.length > 0 ? f.join(', ') : 'none'}`);
    const st = s.streams;
    if (st.appends + st.syncs > 0)
      console.log(
        `  streams: ${st.appends} appendTo (${st.acked} acked), ${st.syncs} syncs, ${st.delivered} delivered, ${st.trimmed} ERR_TRIMMED, ${st.scanned} scanned, ` +
          `${st.recoveries} recoveries (${st.seeds} seeds taken, ${st.recovering} ERR_RECOVERING)`,
      );
    const tx = s.tx;
    if (tx.runtimes > 0)
      console.log(
        `  transactions: ${tx.transactions} (${tx.committed} committed, ${tx.aborted} aborted, ${tx.unknown} unknown), ${tx.readOnly} read-only, ${tx.updates} updates, ` +
          `${tx.multiGets} multiGets, ${tx.checkpoints} checkpoints, ${tx.compactions} compactions, ${tx.decisions} decisions by ${tx.runtimes} runtimes, ${tx.diedMidCommit} died mid-commit`,
      );
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
