// Assembling a result (runs, configuration, target, machine) and writing it: the JSON
// checked against the schema, the HTML report, the text on stdout.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { z } from 'zod';

import { packageRoot } from '../../bindings/native.js';
import { FatalError } from '../cli/fatal-error.js';
import { machineInfo } from './machine.js';
import { writeReport } from './report/html.js';
import { SCHEMA_VERSION, resultSchema, type BenchResult, type ComparisonRow, type RunFigures, type TargetFigures, type VerifyFigures } from './schema.js';
import { resultText } from './text.js';

export interface OutputFlags {
  readonly json?: string;
  readonly report?: string;
  /** Show the progress bar (on a terminal). */
  readonly progress: boolean;
}

export interface Assembled {
  readonly workload: BenchResult['workload'];
  readonly startedAt: Date;
  readonly config: Record<string, unknown>;
  readonly target: TargetFigures | null;
  /** Device files and devices the run used: described in machine.devices. */
  readonly devicePaths: readonly string[];
  readonly runs: RunFigures[];
  readonly verify: VerifyFigures | null;
  readonly comparison?: ComparisonRow[];
  readonly extra?: Record<string, unknown>;
}

export function corfuVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The machine is described before the run (the load average is the run's background, not its own load). */
export function assemble(a: Assembled, machine = machineInfo(a.devicePaths)): BenchResult {
  const result: BenchResult = {
    schema: SCHEMA_VERSION,
    workload: a.workload,
    started_at: a.startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    command: process.argv.slice(2),
    corfu_version: corfuVersion(),
    config: a.config,
    target: a.target,
    machine,
    runs: a.runs,
    verify: a.verify,
    comparison: a.comparison ?? [],
    extra: a.extra ?? {},
  };
  return checkedAgainst(resultSchema, result, 'bench');
}

/** A result is checked before it is written: one that does not match its schema is a bug, not a file. */
export function checkedAgainst<T>(schema: z.ZodType<T>, result: T, what: string): T {
  const checked = schema.safeParse(result);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new Error(`${what}: the result does not match its schema at ${issue.path.join('.')}: ${issue.message}`);
  }
  return result;
}

export function emit(result: BenchResult, heading: string, out: OutputFlags): void {
  process.stdout.write(resultText(result, heading));
  if (out.json !== undefined) writeFileSync(out.json, `${JSON.stringify(result, null, 2)}\n`);
  if (out.report !== undefined) writeReport(out.report, result);
  const v = result.verify;
  if (v !== null && (v.missing > 0 || v.mismatched > 0)) {
    throw new FatalError(`${v.missing + v.mismatched} of ${v.appended} acknowledged entries did not read back as appended; first: ${v.first_problem ?? '?'}`);
  }
}
