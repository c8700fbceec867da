// Small helpers shared by the benchmarks: argument parsing, number formatting,
// a text table. Benchmarks are not tests: they measure and print, and exit 0
// whether or not a target is met.

import { parseArgs, type ParseArgsConfig } from 'node:util';

import { FatalError } from '../src/cli/fatal-error.js';
import { UsageError } from '../src/cli/usage-error.js';

/** Parses `4096`, `64K`, `2G`, `1.5MiB` into bytes (binary suffixes); undefined if it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (m === null) return undefined;
  const power = { '': 0, K: 1, M: 2, G: 3, T: 4 }[(m[2] ?? '').toUpperCase()] ?? 0;
  const bytes = Number(m[1]) * 1024 ** power;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 1234567.8 -> "1,234,568". */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(2)} ${units[u]}`;
}

/** Nanoseconds with a sensible unit. */
export function formatNs(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

/** A plain text table: first row is the header; columns after the first are right-aligned. */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const [head, ...body] = rows;
  if (head === undefined) return '';
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(head), rule, ...body.map(line)].join('\n');
}

/**
 * A usage problem: printed as one line, exit code 2. The CLI's own class, so code shared
 * with `corfu bench` (bench/engine-phases.ts, bench/peers/) fails the same way in both.
 */
export { UsageError };

/** The value of `--NAME`, which must be a positive integer (or, with `integer` false, any positive number). */
export function positiveFlag(name: string, text: string, integer = true): number {
  const n = Number(text);
  const ok = integer ? Number.isSafeInteger(n) && n >= 1 : Number.isFinite(n) && n > 0;
  if (!ok) throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  return n;
}

/** The value of `--NAME`, which must be a size (parseSize) of at least `min` bytes. */
export function sizeFlag(name: string, text: string, min: number): number {
  const n = parseSize(text);
  if (n === undefined || n < min) throw new UsageError(`--${name} must be a size of at least ${min} bytes (e.g. 256M), got '${text}'`);
  return n;
}

const HELP = { help: { type: 'boolean', short: 'h', default: false } } as const;
type FlagOptions = NonNullable<ParseArgsConfig['options']>;
/** What `parseArgs` makes of `O` (and --help), strict and without positionals. */
type Flags<O extends FlagOptions> = ReturnType<typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: false }>>['values'];

/**
 * The flags of a benchmark: `parseArgs`, strict and without positionals, plus -h/--help,
 * which prints `usage` and exits 0. A bad flag is a UsageError that ends with `usage`.
 */
export function parseFlags<const O extends FlagOptions>(argv: string[], options: O, usage: string): Flags<O> {
  let values: Flags<O>;
  try {
    values = parseArgs({ args: argv, options: { ...options, ...HELP }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
  if ((values as { help?: boolean }).help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values;
}

/** Runs `main`, printing a usage or setup error as one line instead of a stack. */
export function runMain(main: () => Promise<void>, name: string): void {
  main().catch((err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    // An expected failure (a peer not installed): one line too.
    if (err instanceof FatalError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
