// One multi-host fault run in the normal suite (docs/reliability.md, "Fault
// runs across machines"): the `box-power` scenario of `npm run faults:hosts`,
// run as a user would run it, asserting on its JSON. Three boxes of `corfu
// unit`s on direct-I/O loop devices in network namespaces, etcd, a sequencer
// and a standby, `corfu manager` and a standby manager, two client drivers
// appending throughout: every process of box b0 (two units of the layout, a
// spare, the active sequencer) is killed with -9, the manager replaces them in
// one epoch and rebuilds both replacements, the box comes back and its units
// (holding entries) are not taken back; every acknowledged append reads back
// with its bytes and the histories are linearizable. The other scenarios
// (unit-rebuild, sequencer, manager, partition) stay in the npm script: CI time.
// Needs root and Debian's etcd-server; skipped (with the reason) otherwise.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { HostsRunResult } from './hosts-run.js';
import { runCompiled } from './run-compiled.js';

const isRoot = process.getuid?.() === 0;
function missingTool(): string | undefined {
  for (const tool of ['ip', 'nft', 'losetup', 'etcd', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return tool;
    }
  }
  return undefined;
}
const missing = isRoot ? missingTool() : undefined;
const skip = !isRoot ? 'multi-host fault runs need root (network namespaces, nftables, loop devices)' : missing !== undefined ? `${missing} is not installed` : undefined;

const scratch = mkdtempSync(join(tmpdir(), 'corfu-hosts-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)(`multi-host fault runs${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  it('a box powered off (kill -9 of its units, spare and sequencer) and back: replaced in one epoch, rebuilt, nothing acknowledged lost', async () => {
    // Its own output directory: faults.test.ts compiles dist-faults/ and runs from it, maybe at the same time.
    const json = join(scratch, 'hosts.json');
    const { code, out } = await runCompiled('dist-faults-hosts', 'hosts-main.js', ['--scenarios', 'box-power', '--prefill', '4M', '--seed', '11', '--timeout', '110', '--json', json], 115_000);
    console.log(out);
    expect(code === 0 || code === 1, `the run itself failed (exit ${code}):\n${out.slice(-3000)}`).toBe(true);

    const result = JSON.parse(readFileSync(json, 'utf8')) as HostsRunResult;
    const s = result.scenarios[0]!;
    expect(s.error, s.error).toBeUndefined();
    expect(s.acked).toBeGreaterThan(100);
    expect(s.prefill.checked).toBe(s.prefill.entries);
    expect(s.lost, s.lostExamples.join('\n')).toBe(0);
    expect(s.prefill.lost, s.prefill.lost.join('\n')).toEqual([]);
    expect(s.violations, s.violationText).toBe(0);
    expect(s.crashes).toEqual([]);
    expect(s.hangs).toEqual([]);
    expect(s.clientBugs).toEqual([]);
    const step = s.steps[0]!;
    for (const c of step.checks) expect(c.ok, `${c.what}: ${c.detail}`).toBe(true);
    // Two units of the box replaced and rebuilt (their copies of the older entries), the sequencer moved.
    expect(step.replaced).toHaveLength(2);
    expect(step.rebuilds).toHaveLength(2);
    expect(step.everyStripeMs, 'appends on every stripe after the power-off').not.toBeNull();
    expect(result.ok).toBe(true);
  }, 130_000);
});
