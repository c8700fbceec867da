// The README's service example, run exactly as printed: taken from the README,
// saved in a project that depends on corfu, started against a `corfu up`
// cluster, and asked what a user of such a service would ask.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { cliHarness } from './helpers/cli.js';
import { until } from './helpers/until.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const harness = cliHarness('corfu-readme-', { runTimeoutMs: 30_000, readyTimeoutMs: 30_000 });

/** The code block right after the README's `<!-- service example -->` marker. */
function serviceExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- service example -->\n```js\n([\s\S]*?)\n```/.exec(readme);
  if (m === null) throw new Error('README.md has no service example');
  return m[1]!;
}

describe("the README's service example", () => {
  const stops: Array<() => void> = [];
  afterAll(() => {
    for (const stop of stops) stop();
  });

  it('serves POST /events and GET /events/N against a corfu up cluster, mapping codes to statuses', async () => {
    const code = serviceExample();
    expect(code.split('\n').length).toBeLessThanOrEqual(32);
    const up = await harness.startCorfu(['up', '--dir', join(harness.dir, 'cluster'), '--units', '2', '--replicas', '2', '--size', '16M'], /^serving/);
    const layout = up.out
      .find((l) => l.startsWith('layout URL:'))!
      .replace(/^layout URL:\s*/, '')
      .trim();

    const project = join(harness.dir, 'service');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(root, join(project, 'node_modules', 'corfu'), 'dir');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'service', type: 'module', dependencies: { corfu: '*' } }));
    writeFileSync(join(project, 'service.mjs'), code);
    const proc = spawn(process.execPath, ['service.mjs'], { cwd: project, env: { ...process.env, CORFU_LAYOUT: layout, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    stops.push(() => proc.kill('SIGKILL'));
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    await until(() => /listening \d+/.test(out) || proc.exitCode !== null, 'the service to listen', { timeoutMs: 20_000 });
    expect(err).toBe('');
    const base = `http://127.0.0.1:${/listening (\d+)/.exec(out)![1]}`;

    const posted = await fetch(`${base}/events`, { method: 'POST', body: 'hello from a service' });
    expect(posted.status).toBe(201);
    const { address } = (await posted.json()) as { address: number };
    const got = await fetch(`${base}/events/${address}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ address, data: 'hello from a service' });

    // Past the tail: 404 with the code, and nothing written there (the next POST takes it).
    const past = await fetch(`${base}/events/${address + 1}`);
    expect(past.status).toBe(404);
    expect(await past.json()).toMatchObject({ error: 'ERR_UNWRITTEN' });
    const next = await fetch(`${base}/events`, { method: 'POST', body: 'second' });
    expect(await next.json()).toEqual({ address: address + 1 });

    // Too large (the default limit is 64 KiB): 413, and no address burnt.
    const big = await fetch(`${base}/events`, { method: 'POST', body: Buffer.alloc(64 * 1024 + 1) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'ERR_TOO_LARGE' });
    expect(await (await fetch(`${base}/events`, { method: 'POST', body: 'third' })).json()).toEqual({ address: address + 2 });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);

    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);
});
