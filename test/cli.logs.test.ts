// The servers' logs, on real processes: JSON lines on stderr with the fields an operator
// keys on, what happens at debug (connections, errors answered, with request ids) and
// info (start, seals, shutdown steps), no payload ever, a fatal error as one fatal line,
// and the line before a process.exit (a second SIGTERM) not lost.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CLI, cliHarness } from './helpers/cli.js';
import { logLines, type LogLine } from './helpers/log-lines.js';
import { RawPeer } from './helpers/raw-socket.js';
import { until } from './helpers/until.js';

const { dir, corfu } = cliHarness('corfu-logs-', { runTimeoutMs: 60_000, readyTimeoutMs: 20_000 });

interface Proc {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

function start(args: string[]): Promise<Proc> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^listening \S+:(\d+)$/m.exec(out);
      if (m) resolve({ proc, port: Number(m[1]), stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`exited ${String(code)} before listening: ${err}`)));
  });
}

const find = (lines: readonly LogLine[], msg: RegExp): LogLine | undefined => lines.find((l) => msg.test(l.msg));

describe('corfu unit logs', () => {
  it('logs start, connections, errors answered and seals with their fields, shutdown steps, and never a payload', async () => {
    const dev = join(dir, 'unit.img');
    expect(corfu('format', dev, '--size', '8M', '--unit-id', '7', '--cluster-id', '0123456789abcdef0123456789abcdef').code).toBe(0);
    const config = join(dir, 'unit.yaml');
    writeFileSync(config, `unit:\n  device: ${dev}\n  listen: 127.0.0.1:0\n  log-level: debug\n`);
    const unit = await start(['unit', '--config', config]);
    const peer = await RawPeer.connect(unit.port);
    expect(await peer.request({ type: 'request', op: 'SEAL', epoch: 0, newEpoch: 1 })).toMatchObject({ status: 'OK' });
    const sealed = await peer.request({ type: 'request', op: 'READ', epoch: 0, addresses: [0] });
    expect(sealed).toMatchObject({ status: 'ERR_SEALED' });
    const secret = Buffer.from('PAYLOAD-NEVER-LOGGED');
    expect(await peer.request({ type: 'request', op: 'WRITE', epoch: 1, entries: [{ address: 0, payload: secret }] })).toMatchObject({ status: 'OK' });
    expect(await peer.request({ type: 'request', op: 'WRITE', epoch: 1, entries: [{ address: 0, payload: secret }] })).toMatchObject({ status: 'OK' }); // per-entry ERR_WRITTEN
    peer.socket.destroy();
    await until(() => /connection closed/.test(unit.stderr()), 'the close to be logged');
    unit.proc.kill('SIGTERM');
    expect(await unit.exited).toBe(0);

    const lines = logLines(unit.stderr());
    for (const l of lines) {
      expect(l).toMatchObject({ component: 'unit', unit: 7 });
      expect(Number.isNaN(Date.parse(l.time))).toBe(false);
    }
    expect(find(lines, /^listening on /)).toMatchObject({
      level: 'info',
      listen: `127.0.0.1:${unit.port}`,
      device: dev,
      sync: 'always',
      clusterId: '0123456789abcdef0123456789abcdef',
      epoch: 0,
    });
    expect(find(lines, /^connection opened$/)).toMatchObject({ level: 'debug', conn: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(find(lines, /^sealed to epoch 1$/)).toMatchObject({ level: 'info', epoch: 1, req: expect.any(Number) });
    expect(find(lines, /^READ answered ERR_SEALED/)).toMatchObject({ level: 'debug', status: 'ERR_SEALED', op: 'READ', epoch: 0, unitEpoch: 1, req: sealed.requestId });
    expect(lines.map((l) => l.msg).slice(-3)).toEqual([expect.stringMatching(/^SIGTERM: stopping/), 'connections closed', 'store closed; stopped']);
    expect(unit.stderr()).not.toContain('PAYLOAD-NEVER-LOGGED');
    expect(unit.stderr()).not.toContain(secret.toString('base64'));
    expect(lines.filter((l) => ['warn', 'error', 'fatal'].includes(l.level))).toEqual([]);
  });

  it('at the default level (info) logs no per-connection or per-request line', async () => {
    const dev = join(dir, 'quiet.img');
    expect(corfu('format', dev, '--size', '8M').code).toBe(0);
    const unit = await start(['unit', '--device', dev, '--listen', '0']);
    const peer = await RawPeer.connect(unit.port);
    await peer.request({ type: 'request', op: 'READ', epoch: 5, addresses: [0] });
    peer.socket.destroy();
    unit.proc.kill('SIGTERM');
    expect(await unit.exited).toBe(0);
    expect(logLines(unit.stderr()).map((l) => l.level)).toEqual(['info', 'info', 'info', 'info']);
  });

  it('ends a fatal error in one fatal line with its code (exit 1); with --log-level silent, the plain error line', () => {
    const r = spawnSync(process.execPath, [CLI, 'unit', '--device', join(dir, 'nope.img'), '--listen', '0'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(logLines(r.stderr)).toEqual([expect.objectContaining({ level: 'fatal', component: 'unit', code: 'ERR_NO_DEVICE', exitCode: 1, msg: expect.stringContaining('nope.img') })]);
    const silent = spawnSync(process.execPath, [CLI, 'unit', '--device', join(dir, 'nope.img'), '--listen', '0', '--log-level', 'silent'], { encoding: 'utf8' });
    expect(silent.status).toBe(1);
    expect(silent.stderr).toMatch(/^error ERR_NO_DEVICE: .*nope\.img.*\n$/);
  });
});

describe('a SIGTERM the moment `listening` is printed', () => {
  // The stop handlers are installed before the line: a supervisor (corfu up, systemd, a
  // test) that stops a server as soon as it is ready got a process killed by the signal.
  it.each([['sequencer'], ['unit']])('%s: exits 0, its shutdown logged', async (verb) => {
    for (let i = 0; i < 3; i++) {
      const dev = join(dir, `race-${verb}-${i}.img`);
      if (verb === 'unit') expect(corfu('format', dev, '--size', '8M').code).toBe(0);
      const s = await start(verb === 'unit' ? ['unit', '--device', dev, '--listen', '0'] : ['sequencer']);
      s.proc.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      expect(logLines(s.stderr()).at(-1)!.msg).toMatch(/stopped$/);
    }
  });
});

describe('corfu sequencer logs', () => {
  it('flushes the line it logs right before process.exit (a second SIGTERM while draining)', async () => {
    const seq = await start(['sequencer']);
    // A peer that keeps its side open after the server's FIN: the close waits for it (up to 1 s).
    const peer = new Socket({ allowHalfOpen: true });
    await new Promise<void>((r) => peer.connect(seq.port, '127.0.0.1', r));
    peer.on('error', () => {});
    seq.proc.kill('SIGTERM');
    await until(() => /SIGTERM: stopping/.test(seq.stderr()), 'the first SIGTERM to be logged').catch((err: unknown) => {
      throw new Error(`${String(err)}; exit ${String(seq.proc.exitCode)} ${String(seq.proc.signalCode)}; stderr: ${seq.stderr()}`);
    });
    seq.proc.kill('SIGTERM');
    expect(await seq.exited).toBe(1);
    peer.destroy();
    const lines = logLines(seq.stderr());
    expect(lines.at(-1)).toMatchObject({ level: 'warn', msg: 'SIGTERM during shutdown: exiting now' });
  });

  it('logs a BOOTSTRAP with its epoch and start tail, and prints pretty lines when asked', async () => {
    const seq = await start(['sequencer', '--log-format', 'pretty']);
    const peer = await RawPeer.connect(seq.port);
    expect(await peer.request({ type: 'request', op: 'BOOTSTRAP', epoch: 0, newEpoch: 4, startTail: 100, resetStreams: false })).toMatchObject({ status: 'OK' });
    peer.socket.destroy();
    await until(() => /bootstrapped/.test(seq.stderr()), 'the bootstrap to be logged');
    seq.proc.kill('SIGTERM');
    expect(await seq.exited).toBe(0);
    const text = seq.stderr();
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: sequencer: listening on 127\.0\.0\.1:\d+/m);
    expect(text).toMatch(/INFO: sequencer: bootstrapped to epoch 4 from tail 100 \{.*"epoch":4/);
    expect(() => logLines(text)).toThrow();
  });
});
