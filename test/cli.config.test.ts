// Configuration of the server verbs (src/cli/config.ts): flag > env > file > default,
// table-driven over real `corfu ... --print-config` processes; errors name the key and
// its source and exit 2; secrets are redacted; and a unit started from its file alone.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';

import { installConfig } from '../src/cli/config.js';
import { CLI, cliHarness } from './helpers/cli.js';

const { dir, corfu } = cliHarness('corfu-config-', { runTimeoutMs: 60_000, readyTimeoutMs: 20_000 });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `corfu ARGS` with exactly `env`'s CORFU_ variables. */
function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORFU_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, env: { ...base, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The `key: value  # source` line of --print-config. */
function setting(stdout: string, key: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith(`${key}: `));
  if (line === undefined) throw new Error(`no ${key} in:\n${stdout}`);
  return line.slice(key.length + 2);
}

describe('precedence: flag > env > file > default', () => {
  const top = file('top.yaml', 'epoch: 1\nmax-streams: 64\n');
  const nested = file('nested.yaml', 'epoch: 1\nsequencer:\n  epoch: 3\nunit:\n  sync: none\n');
  const json = file('seq.json', '{"sequencer": {"epoch": 4}}');
  const cases: Array<[string, string[], Record<string, string>, string]> = [
    ['default', [], {}, '0  # default'],
    ['file, top level', ['--config', top], {}, `1  # file ${top}`],
    ["file, the verb's section over the top level", ['--config', nested], {}, `3  # file ${nested}`],
    ['file in JSON', ['--config', json], {}, `4  # file ${json}`],
    ['file named by CORFU_CONFIG', [], { CORFU_CONFIG: nested }, `3  # file ${nested}`],
    ['env over file', ['--config', nested], { CORFU_EPOCH: '5' }, '5  # env CORFU_EPOCH'],
    ['env over default', [], { CORFU_EPOCH: '5' }, '5  # env CORFU_EPOCH'],
    ['flag over env and file', ['--config', nested, '--epoch', '7'], { CORFU_EPOCH: '5' }, '7  # flag'],
    ['flag over file', ['--config', nested, '--epoch=7'], {}, '7  # flag'],
  ];
  it.each(cases)('%s', (_name, args, env, expected) => {
    const r = run(['sequencer', ...args, '--print-config'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(setting(r.stdout, 'epoch')).toBe(expected);
  });

  it('a repeatable flag: the file gives a list, the environment a comma list, a flag replaces both', () => {
    const f = file('manager.yaml', 'manager:\n  layout: file:/tmp/corfu-layout\n  spare: [10.0.0.1:7000, 10.0.0.2:7000]\n');
    expect(setting(run(['manager', '--config', f, '--print-config']).stdout, 'spare')).toBe(`[ 10.0.0.1:7000, 10.0.0.2:7000 ]  # file ${f}`);
    expect(setting(run(['manager', '--config', f, '--print-config'], { CORFU_SPARE: 'a:1,b:2' }).stdout, 'spare')).toBe('[ a:1, b:2 ]  # env CORFU_SPARE');
    expect(setting(run(['manager', '--config', f, '--spare', 'c:3', '--spare', 'd:4', '--print-config'], { CORFU_SPARE: 'a:1' }).stdout, 'spare')).toBe('[ c:3, d:4 ]  # flag');
  });

  it('prints YAML that --config reads back to the same configuration', () => {
    const first = run(['sequencer', '--listen', '127.0.0.1:7100', '--max-streams', '9', '--print-config']);
    const again = file('printed.yaml', first.stdout);
    const second = run(['sequencer', '--config', again, '--print-config']);
    expect(second.code).toBe(0);
    for (const key of ['listen', 'epoch', 'max-streams', 'log-level']) expect(setting(second.stdout, key).split('  #')[0]).toBe(setting(first.stdout, key).split('  #')[0]);
  });
});

describe('bad configuration: one line naming the key and its source, exit 2', () => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['unknown key in the file', ['--config', file('u1.yaml', 'max-stream: 64\n')], {}, /^error: config file .*u1\.yaml: unknown key 'max-stream' \(corfu sequencer has no such option\)$/],
    ["unknown key in another verb's section", ['--config', file('u2.yaml', 'unit:\n  sink: none\n')], {}, /^error: config file .*u2\.yaml: unknown key 'unit\.sink'$/],
    [
      'bad value in the file',
      ['--config', file('b1.yaml', 'sequencer:\n  max-streams: 0\n')],
      {},
      /^error: config file .*b1\.yaml: 'sequencer\.max-streams': '0' is invalid: expected a number of at least 1\.$/,
    ],
    ['wrong type in the file', ['--config', file('b2.yaml', 'epoch: [1, 2]\n')], {}, /^error: config file .*b2\.yaml: 'epoch': expected a string or a number$/],
    ['not YAML', ['--config', file('b3.yaml', 'epoch: [1\n')], {}, /^error: config file .*b3\.yaml: not valid YAML: /],
    ['not a mapping', ['--config', file('b4.yaml', '- 1\n')], {}, /^error: config file .*b4\.yaml: expected a mapping/],
    ['unknown extension', ['--config', file('b5.toml', 'epoch = 1\n')], {}, /^error: config file .*b5\.toml: expected a \.yaml, \.yml or \.json file$/],
    ['missing file', ['--config', join(dir, 'none.yaml')], {}, /^error: config file .*none\.yaml: no such file$/],
    ['bad value in the environment', [], { CORFU_EPOCH: 'x' }, /^error: environment variable CORFU_EPOCH: 'x' is invalid: expected a whole number\.$/],
    ['unknown variable', [], { CORFU_EPOCHS: '1' }, /^error: environment variable CORFU_EPOCHS: no corfu command has the option it would set \(--epochs\)$/],
    ['bad log level', [], { CORFU_LOG_LEVEL: 'loud' }, /^error: environment variable CORFU_LOG_LEVEL: 'loud' is invalid: expected one of trace, debug, info, warn, error, fatal, silent\.$/],
  ];
  it.each(cases)('%s', (_name, args, env, message) => {
    const r = run(['sequencer', ...args], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(message);
  });

  it("ignores another verb's variable (CORFU_DEVICE for a sequencer)", () => {
    expect(run(['sequencer', '--print-config'], { CORFU_DEVICE: '/dev/x' }).code).toBe(0);
  });
});

describe('--print-config redacts secrets', () => {
  it('shows a *-file path, hides a token, password or secret, whatever the source', async () => {
    const program = new Command('corfu').exitOverride();
    program
      .command('unit')
      .option('--auth-token-file <path>', 'token file')
      .option('--token <t>', 'a token')
      .option('--db-password <p>', 'a password')
      .option('--client-secret <s>', 'a secret')
      .action(() => {});
    installConfig(program, { CORFU_DB_PASSWORD: 'hunter2' });
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    try {
      await expect(program.parseAsync(['node', 'corfu', 'unit', '--auth-token-file', '/etc/corfu/token', '--token', 'abc123', '--client-secret', 's3', '--print-config'])).rejects.toMatchObject({
        exitCode: 0,
      });
    } finally {
      write.mockRestore();
    }
    const text = out.join('');
    expect(text).toContain('auth-token-file: /etc/corfu/token  # flag');
    expect(text).toContain('token: <redacted>  # flag');
    expect(text).toContain('db-password: <redacted>  # env CORFU_DB_PASSWORD');
    expect(text).toContain('client-secret: <redacted>  # flag');
    expect(text).not.toMatch(/abc123|hunter2|s3\b/);
  });
});

describe('a server from its file alone', () => {
  it('corfu unit --config FILE serves the device and listen address the file names', async () => {
    const dev = join(dir, 'unit.img');
    expect(corfu('format', dev, '--size', '8M').code).toBe(0);
    const f = file('unit.yaml', `unit:\n  device: ${dev}\n  listen: 127.0.0.1:0\n  sync: none\n`);
    const { spawn } = await import('node:child_process');
    const proc = spawn(process.execPath, [CLI, 'unit', '--config', f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.setEncoding('utf8').on('data', (s: string) => /^listening 127\.0\.0\.1:\d+$/m.test(s) && resolve());
      void exited.then((code) => reject(new Error(`exited ${String(code)}: ${err}`)));
    });
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toMatch(/"sync":"none"/);
  });
});
