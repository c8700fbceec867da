// packaging/systemd: the unit files pass `systemd-analyze verify`, their stop timeout
// is above the servers' own shutdown backstop, and wait-ready (their ExecStartPost)
// returns once a real `corfu sequencer` started from a config file accepts connections.
//
// systemd-analyze: .ci/run installs it (Debian's systemd package) and sets
// REQUIRE_SYSTEMD_ANALYZE=1, so in CI its absence fails the test instead of skipping it;
// on a machine without it the verify test is skipped (and says so).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { STOP_DEADLINE_MS } from '../src/cli/stop-signal.js';
import { CLI } from './helpers/cli.js';

const SYSTEMD = fileURLToPath(new URL('../packaging/systemd/', import.meta.url));
const WAIT_READY = join(SYSTEMD, 'wait-ready');
const services = readdirSync(SYSTEMD).filter((f) => f.endsWith('.service'));
const dir = mkdtempSync(join(tmpdir(), 'corfu-systemd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

const analyze = onPath('systemd-analyze');

describe('packaging/systemd', () => {
  it('has the three services', () => {
    expect(services.sort()).toEqual(['corfu-manager.service', 'corfu-sequencer.service', 'corfu-unit@.service']);
  });

  it('is installed with systemd-analyze wherever CI says it must be', () => {
    if (process.env['REQUIRE_SYSTEMD_ANALYZE'] === '1') expect(analyze, 'systemd-analyze is not installed but REQUIRE_SYSTEMD_ANALYZE=1').toBe(true);
  });

  it.skipIf(!analyze)('passes systemd-analyze verify (ExecStart pointed at executables that exist here)', () => {
    for (const f of services) {
      const text = readFileSync(join(SYSTEMD, f), 'utf8').replaceAll('/usr/bin/corfu', '/bin/true').replaceAll('/usr/lib/corfu/wait-ready', WAIT_READY);
      writeFileSync(join(dir, f), text);
    }
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...services.map((f) => join(dir, f))], { encoding: 'utf8', cwd: dir });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('gives every server a stop timeout above its shutdown backstop, a restart policy and the hardening', () => {
    for (const f of services) {
      const text = readFileSync(join(SYSTEMD, f), 'utf8');
      const stop = /^TimeoutStopSec=(\d+)$/m.exec(text);
      expect(stop, f).not.toBeNull();
      expect(Number(stop![1]) * 1000, f).toBeGreaterThan(STOP_DEADLINE_MS);
      for (const line of ['Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=']) expect(text, f).toContain(`\n${line}\n`);
      expect(text, f).toMatch(/^ExecStart=\/usr\/bin\/corfu (unit|sequencer|manager) --config \/etc\/corfu\/\S+\.yaml$/m);
    }
    expect(readFileSync(join(SYSTEMD, 'corfu-unit@.service'), 'utf8')).toContain('\nDeviceAllow=/dev/%i rw\n');
    // systemctl reload rotates a server's TLS certificate (SIGHUP, src/cli/reload.ts).
    for (const f of ['corfu-unit@.service', 'corfu-sequencer.service']) expect(readFileSync(join(SYSTEMD, f), 'utf8'), f).toContain('\nExecReload=/bin/kill -HUP $MAINPID\n');
  });
});

describe('wait-ready', () => {
  const corfuBin = join(dir, 'corfu');
  writeFileSync(corfuBin, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(corfuBin, 0o755);

  async function freePort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }

  it('waits until the server its config file names accepts connections', async () => {
    const port = await freePort();
    const config = join(dir, 'sequencer.yaml');
    writeFileSync(config, `sequencer:\n  listen: 127.0.0.1:${port}\n  log-level: warn\n`);
    const waiter = spawn(WAIT_READY, ['sequencer', config], { env: { ...process.env, WAIT_READY_CORFU: corfuBin }, stdio: ['ignore', 'pipe', 'pipe'] });
    let waitErr = '';
    waiter.stderr.setEncoding('utf8').on('data', (s: string) => (waitErr += s));
    const waited = new Promise<number | null>((r) => waiter.once('exit', (code) => r(code)));
    // Not ready while nothing listens.
    const early = await Promise.race([waited, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 2500))]);
    expect(early).toBe('waiting');
    const seq = spawn(process.execPath, [CLI, 'sequencer', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      expect(await waited, waitErr).toBe(0);
    } finally {
      seq.kill('SIGTERM');
      await new Promise((r) => seq.once('exit', r));
    }
  });

  it('fails at once on a configuration the server would refuse', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'sequencer:\n  listen: nowhere:99999\n');
    const r = spawnSync(WAIT_READY, ['sequencer', bad], { env: { ...process.env, WAIT_READY_CORFU: corfuBin }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/sequencer\.listen/);
  });

  it('is a bash script that bash -n accepts', () => {
    execFileSync('bash', ['-n', WAIT_READY]);
  });
});
