// Opening a `corfu bench --report` page in headless Chromium with the network refused,
// and reading back what the page's own script says it drew (#render-status, written
// by src/bench/report/page-script.ts).
//
// Chromium: .ci/run installs Debian's `chromium` and sets REQUIRE_CHROMIUM=1, so in CI
// its absence fails the tests instead of skipping them; on a machine without it the
// rendering tests are skipped (and say so).

import { spawnSync } from 'node:child_process';

import { expect } from 'vitest';

function chromiumBinary(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  return undefined;
}

/** The Chromium binary, or undefined where there is none. */
export const chromium = chromiumBinary();

export interface RenderStatus {
  charts: Array<{ id: string; canvas_width: number; canvas_height: number; series_pixels: number; series: Array<{ name: string; points: number; drawn: number }> }>;
}

/** The DOM after the page's scripts ran, with every network request refused. */
function dumpDom(file: string): string {
  const r = spawnSync(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--host-resolver-rules=MAP * ~NOTFOUND',
      '--virtual-time-budget=10000',
      '--window-size=1200,2000',
      '--dump-dom',
      `file://${file}`,
    ],
    { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** Self-contained: nothing is fetched (no external script, style, image or font). */
export function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/<(script|link|img)\b[^>]*\b(src|href)=/i);
  expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
}

/** Opens the page and checks that every chart has a canvas with its series' pixels on it and drew every series; the charts by id. */
export function renderedCharts(file: string): Map<string, RenderStatus['charts'][number]> {
  const dom = dumpDom(file);
  expect(dom).toMatch(/<body[^>]*data-charts-rendered="yes"/);
  const status = JSON.parse(/<div id="render-status"[^>]*>([^<]*)<\/div>/.exec(dom)![1]!) as RenderStatus;
  for (const c of status.charts) {
    expect(c.canvas_width, c.id).toBeGreaterThan(0);
    expect(c.canvas_height, c.id).toBeGreaterThan(0);
    expect(c.series_pixels, c.id).toBeGreaterThan(0);
    for (const s of c.series) expect(s.drawn, `${c.id} ${s.name}`).toBeGreaterThan(0);
  }
  return new Map(status.charts.map((c) => [c.id, c]));
}
