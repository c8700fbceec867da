// Readiness as Kubernetes reports it (`/readyz`): named checks, each ok or failed
// with a reason, and one answer for all of them. Pure: the listener runs it on
// every request, the checks decide what "ready" means for their server.

/** One condition of readiness: undefined when it holds, else why not (one line). */
export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => string | undefined | Promise<string | undefined>;
}

export interface CheckResult {
  readonly name: string;
  /** Undefined when the check passed. */
  readonly failure: string | undefined;
}

export interface Readiness {
  readonly ready: boolean;
  readonly results: readonly CheckResult[];
}

/**
 * How long one check may take before it counts as failed: a check that waits on
 * a wedged store must not wedge the probe too (the prober's own timeout would
 * then say nothing about which check hung).
 */
export const CHECK_TIMEOUT_MS = 1000;

/** Runs every check, in order, each bounded by `timeoutMs`; a check that throws has failed. */
export async function evaluate(checks: readonly ReadinessCheck[], timeoutMs = CHECK_TIMEOUT_MS): Promise<Readiness> {
  const results: CheckResult[] = [];
  for (const c of checks) results.push({ name: c.name, failure: await runCheck(c, timeoutMs) });
  return { ready: results.every((r) => r.failure === undefined), results };
}

async function runCheck(c: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(c.check), late]);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The body of a `/readyz` answer: `ok` when ready and not verbose; otherwise
 * one `[+]name ok` / `[-]name failed: reason` line per check (only the failed
 * ones unless verbose) and a last line saying whether it passed.
 */
export function readinessText(r: Readiness, verbose: boolean): string {
  if (r.ready && !verbose) return 'ok\n';
  const lines = r.results.filter((c) => verbose || c.failure !== undefined).map((c) => (c.failure === undefined ? `[+]${c.name} ok` : `[-]${c.name} failed: ${oneLine(c.failure)}`));
  lines.push(r.ready ? 'readyz check passed' : 'readyz check failed');
  return `${lines.join('\n')}\n`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
