// Talking to a server's admin listener from a test: bounded HTTP GETs, and
// Prometheus's own parser (promtool) on a /metrics answer.

import { spawnSync } from 'node:child_process';

import { expect } from 'vitest';

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** GET http://ADDRESS/PATH, answered within 5 s or it throws. */
export async function get(address: string, path: string): Promise<HttpAnswer> {
  const res = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

/**
 * Asserts that `promtool check metrics` (Prometheus's parser and linter) takes
 * `text` without a word. A missing promtool fails the test: CI installs it
 * (.ci/run); here, `apt-get install prometheus`.
 */
export function expectPromtoolClean(text: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15_000 });
  if (r.error !== undefined) throw new Error(`promtool could not run (${r.error.message}); install it: apt-get install -y --no-install-recommends prometheus`);
  expect(`${r.stdout}${r.stderr}`).toBe('');
  expect(r.status).toBe(0);
}

/** The value of an unlabelled sample, or of the sample with exactly `labels`; undefined when absent. */
export function sample(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}
