// `corfu certs init`, certificate reload on SIGHUP and `corfu up --tls`, on real
// processes on 127.0.0.1 (docs/operations.md, "TLS and authorization"):
// - the files certs init writes chain (openssl verify and Node's X509Certificate say
//   so), carry the SANs asked for, keep their keys 0600, and are not overwritten
//   without --force; a unit and a sequencer take them for mutual TLS and the OU gives
//   the role;
// - SIGHUP: a unit and a sequencer take a new certificate and CA (a new CA altogether)
//   for new connections while a connection made before keeps working on its socket; a
//   broken file keeps the old ones;
// - `corfu up --tls --demo`: the whole path over mutual TLS (up's seals and bootstrap,
//   the manager, appends, reads, `layout reconfigure --replace`, a restart that reuses
//   the certificates), every acknowledged entry read back.

import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { CorfuClient } from '../src/client/client.js';
import { initCerts } from '../src/cli/certs.js';
import { authDialer } from '../src/transport/auth.js';
import { splitHostPort } from '../src/transport/address.js';
import { tlsDialer, type ClientTlsOptions } from '../src/transport/tls.js';
import { FrameDecoder, encodeRequest, type Response } from '../src/wire/index.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { until } from './helpers/until.js';

const h = cliHarness('corfu-tls-', { runTimeoutMs: 60_000, readyTimeoutMs: 60_000 });
const FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key', 'admin.crt', 'admin.key'];
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function addressOf(s: Started): string {
  return s.out.find((l) => l.startsWith('listening '))!.slice('listening '.length);
}

/** The files of a `certs init` directory, read now. */
function creds(dir: string, who: 'client' | 'admin'): ClientTlsOptions {
  return { ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, `${who}.crt`)), key: readFileSync(join(dir, `${who}.key`)) };
}

function cliFlags(dir: string, who: 'client' | 'admin'): string[] {
  return ['--ca-file', join(dir, 'ca.crt'), '--cert-file', join(dir, `${who}.crt`), '--key-file', join(dir, `${who}.key`)];
}

interface Link {
  /** Sends PING on this very socket; resolves with the answer's status. */
  ping(): Promise<string>;
  readonly closed: () => boolean;
  close(): void;
}

/**
 * One TLS connection, AUTH done, with no reconnect: a PING answered on it later proves
 * the same socket is still up. Rejects when the server refuses it.
 */
function openLink(address: string, tls: ClientTlsOptions): Promise<Link> {
  const { host, port } = splitHostPort(address);
  const decoder = new FrameDecoder();
  const waiting = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let closed = false;
  return new Promise((resolve, reject) => {
    const link = authDialer(tlsDialer(tls), undefined).dial(host, port, {
      onConnect: () =>
        resolve({
          ping: () =>
            new Promise<Response>((res, rej) => {
              if (closed) return rej(new Error('the link is closed'));
              const requestId = nextId++;
              waiting.set(requestId, { resolve: res, reject: rej });
              link.write(encodeRequest({ type: 'request', op: 'PING', requestId, epoch: 0 }));
            }).then((r) => r.status),
          closed: () => closed,
          close: () => link.destroy(),
        }),
      onData: (chunk) => {
        decoder.push(chunk);
        for (let r = decoder.pull(); r.kind === 'frame'; r = decoder.pull()) {
          if (r.frame.type !== 'response') continue;
          waiting.get(r.frame.requestId)?.resolve(r.frame);
          waiting.delete(r.frame.requestId);
        }
      },
      onDrain: () => {},
      onClose: (err) => {
        closed = true;
        const e = err ?? new Error('closed');
        reject(e);
        for (const w of waiting.values()) w.reject(e);
        waiting.clear();
      },
    });
  });
}

/** Whether a fresh connection with `tls` is accepted and answers PING. */
async function connects(address: string, tls: ClientTlsOptions): Promise<true | string> {
  try {
    const link = await openLink(address, tls);
    try {
      return (await link.ping()) === 'OK' ? true : 'PING not OK';
    } finally {
      link.close();
    }
  } catch (err) {
    return String((err as Error).message);
  }
}

describe('corfu certs init', () => {
  const dir = (): string => join(h.dir, 'certs-a');

  beforeAll(() => {
    const r = h.corfu('certs', 'init', dir(), '--host', '10.1.2.3', '--host', 'node1.example.com', '--days', '30');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Prints each file it wrote.
    for (const f of FILES) expect(r.stdout).toMatch(new RegExp(`^wrote ${join(dir(), f).replace(/\./g, '\\.')} `, 'm'));
  });

  it('writes a CA and server, client and admin certificates that chain to it, with the SANs asked for, and keys mode 0600', () => {
    expect(readdirSync(dir()).sort()).toEqual([...FILES].sort());
    for (const f of FILES) {
      const mode = statSync(join(dir(), f)).mode & 0o777;
      if (f.endsWith('.key')) expect(mode, f).toBe(0o600);
      else expect(mode & 0o044, f).toBe(0o044); // certificates are public: readable
    }
    const verify = execFileSync('openssl', ['verify', '-CAfile', 'ca.crt', 'server.crt', 'client.crt', 'admin.crt'], { cwd: dir(), encoding: 'utf8' });
    expect(verify.trim().split('\n')).toEqual(['server.crt: OK', 'client.crt: OK', 'admin.crt: OK']);

    const cert = (name: string): X509Certificate => new X509Certificate(readFileSync(join(dir(), `${name}.crt`)));
    const ca = cert('ca');
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    for (const name of ['server', 'client', 'admin']) {
      const c = cert(name);
      expect(c.ca, name).toBe(false);
      expect(c.checkIssued(ca), name).toBe(true);
      expect(c.verify(ca.publicKey), name).toBe(true);
      expect(c.checkPrivateKey(createPrivateKey(readFileSync(join(dir(), `${name}.key`)))), name).toBe(true);
      expect(Date.parse(c.validTo) - Date.now()).toBeGreaterThan(29 * 86_400_000);
      expect(Date.parse(c.validTo) - Date.now()).toBeLessThan(31 * 86_400_000);
    }
    // The key of one does not fit another.
    expect(cert('server').checkPrivateKey(createPrivateKey(readFileSync(join(dir(), 'client.key'))))).toBe(false);
    const server = cert('server');
    expect(server.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost, IP Address:10.1.2.3, DNS:node1.example.com');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('node1.example.com')).toBe('node1.example.com');
    expect(server.checkIP('10.9.9.9')).toBeUndefined();
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert('client').keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert('client').subject.split('\n')).toContain('OU=client');
    expect(cert('admin').subject.split('\n')).toContain('OU=admin');
    expect(cert('admin').subject.split('\n')).not.toContain('OU=client');
  });

  it('refuses to overwrite any existing file without --force (exit 2, nothing written), and replaces all of them with it', () => {
    const before = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(dir(), f))]));
    const again = h.corfu('certs', 'init', dir());
    expect(again.code).toBe(2);
    expect(h.oneLine(again.stderr)).toMatch(/already holds ca\.crt, ca\.key, server\.crt.*refusing to overwrite \(--force/);
    for (const f of FILES) expect(readFileSync(join(dir(), f)).equals(before[f]!), f).toBe(true);

    // One file there is enough to refuse, and nothing else is written.
    const partial = join(h.dir, 'certs-partial');
    mkdirSync(partial);
    writeFileSync(join(partial, 'client.key'), 'mine\n');
    const refused = h.corfu('certs', 'init', partial);
    expect(refused.code).toBe(2);
    expect(h.oneLine(refused.stderr)).toMatch(/already holds client\.key: refusing/);
    expect(readdirSync(partial)).toEqual(['client.key']);

    // --force: a new CA and new certificates; a key made readable meanwhile is 0600 again.
    chmodSync(join(dir(), 'admin.key'), 0o644);
    const forced = h.corfu('certs', 'init', dir(), '--force');
    expect(forced.code, forced.stderr).toBe(0);
    for (const f of FILES) expect(readFileSync(join(dir(), f)).equals(before[f]!), f).toBe(false);
    expect(statSync(join(dir(), 'admin.key')).mode & 0o777).toBe(0o600);
    // The new server certificate has only the default names: --host was not given this time.
    expect(new X509Certificate(readFileSync(join(dir(), 'server.crt'))).subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
  });

  it('refuses a bad --host or --days with one line, exit 2', () => {
    for (const args of [
      ['--host', 'not a host'],
      ['--host', '10.0.0.1:7000'],
      ['--days', '0'],
    ]) {
      const r = h.corfu('certs', 'init', join(h.dir, 'certs-bad'), ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(h.oneLine(r.stderr)).toMatch(/^error: option '--(host|days) <\w+>' argument .* is invalid/);
      expect(existsSync(join(h.dir, 'certs-bad'))).toBe(false);
    }
  });

  it('makes certificates a unit and a sequencer accept for mutual TLS; the OU gives the role', async () => {
    const d = dir();
    const server = ['--cert-file', join(d, 'server.crt'), '--key-file', join(d, 'server.key'), '--trusted-ca-file', join(d, 'ca.crt'), '--client-cert-auth'];
    const dev = join(h.dir, 'mtls.img');
    expect(h.corfu('format', dev, '--size', '16M').code).toBe(0);
    const unit = await h.startCorfu(['unit', '--device', dev, '--listen', '127.0.0.1:0', ...server], /^listening /);
    const sequencer = await h.startCorfu(['sequencer', '--listen', '127.0.0.1:0', ...server], /^listening /);
    const layout = `file:${join(h.dir, 'layout-mtls')}`;
    const init = (who: 'client' | 'admin'): ReturnType<typeof h.corfu> =>
      h.corfu('layout', 'init', '--store', layout, '--sequencer', addressOf(sequencer), '--stripe', addressOf(unit), ...cliFlags(d, who));
    // OU=client may not seal; OU=admin may.
    const refused = init('client');
    expect(refused.code).toBe(1);
    expect(h.oneLine(refused.stderr)).toMatch(/^error ERR_UNAUTHORIZED: .*SEAL needs the admin role; this connection's role is client/);
    const done = init('admin');
    expect(done.code, done.stderr).toBe(0);

    const append = h.corfu('append', 'hello over mtls', '--layout', layout, ...cliFlags(d, 'client'));
    expect(append.code, append.stderr).toBe(0);
    const client = await CorfuClient.connect({ layout, tls: creds(d, 'client') });
    try {
      expect(await client.read(Number(append.stdout.trim()))).toMatchObject({ kind: 'data', payload: Buffer.from('hello over mtls') });
      // Without a client certificate: refused at once, typed.
      const anonymous = await CorfuClient.connect({ layout, tls: { ca: readFileSync(join(d, 'ca.crt')) }, deadlineMs: 5000 });
      try {
        await expect(anonymous.append(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      } finally {
        await anonymous.close();
      }
    } finally {
      await client.close();
    }
    unit.proc.kill('SIGTERM');
    sequencer.proc.kill('SIGTERM');
    expect(await unit.exited).toBe(0);
    expect(await sequencer.exited).toBe(0);
  });
});

describe('SIGHUP reloads the certificate, key and CA', () => {
  let oldSet: string;
  let newSet: string;

  beforeAll(async () => {
    oldSet = (await initCerts(join(h.dir, 'hup-old'))).dir;
    newSet = (await initCerts(join(h.dir, 'hup-new'))).dir;
  });

  for (const verb of ['unit', 'sequencer'] as const) {
    it(`${verb}: new connections get the new CA's certificate, one made before keeps working, a broken file keeps the old one`, async () => {
      // The files the server is started with: copies of the old set, replaced in place later.
      const live = join(h.dir, `hup-live-${verb}`);
      mkdirSync(live);
      for (const f of ['ca.crt', 'server.crt', 'server.key']) copyFileSync(join(oldSet, f), join(live, f));
      const tls = ['--cert-file', join(live, 'server.crt'), '--key-file', join(live, 'server.key'), '--trusted-ca-file', join(live, 'ca.crt'), '--client-cert-auth'];
      let args: string[];
      if (verb === 'unit') {
        const dev = join(h.dir, `hup-${verb}.img`);
        expect(h.corfu('format', dev, '--size', '16M').code).toBe(0);
        args = ['unit', '--device', dev, '--listen', '127.0.0.1:0', ...tls];
      } else {
        args = ['sequencer', '--listen', '127.0.0.1:0', ...tls];
      }
      const s = await h.startCorfu(args, /^listening /);
      const address = addressOf(s);
      const reloadLines = (): Array<{ level: string; msg: string }> => s.err.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.msg.startsWith('SIGHUP'));

      const held = await openLink(address, creds(oldSet, 'client'));
      expect(await held.ping()).toBe('OK');
      expect(await connects(address, creds(oldSet, 'admin'))).toBe(true);

      // The new files in place; until SIGHUP the server still serves the old ones.
      for (const f of ['ca.crt', 'server.crt', 'server.key']) copyFileSync(join(newSet, f), join(live, f));
      expect(await connects(address, creds(newSet, 'client'))).toMatch(/TLS with .* failed/);

      s.proc.kill('SIGHUP');
      await until(() => reloadLines().length === 1, 'the reload line');
      const [line] = reloadLines();
      expect(line!.level).toBe('info');
      expect(line!.msg).toMatch(/^SIGHUP: reloaded the TLS certificate, key and CA for new connections \(O=corfu, CN=corfu server, valid until .*\); open connections keep theirs$/);
      // A new connection trusting only the new CA, with a certificate of the new CA: accepted.
      expect(await connects(address, creds(newSet, 'client'))).toBe(true);
      // The old set no longer: the server's certificate is not of the CA that client trusts.
      expect(await connects(address, creds(oldSet, 'client'))).toMatch(/TLS with .* failed/);
      // The connection made before the reload: the same socket, still answering.
      expect(held.closed()).toBe(false);
      expect(await held.ping()).toBe('OK');

      // A certificate that is not PEM, then a key that is not the certificate's: an error line each, the new set stays.
      writeFileSync(join(live, 'server.crt'), 'garbage\n');
      s.proc.kill('SIGHUP');
      await until(() => reloadLines().length === 2, 'the first error line');
      expect(reloadLines()[1]).toMatchObject({ level: 'error', msg: expect.stringMatching(/^SIGHUP: kept the previous TLS certificate: --cert-file .*server\.crt: not a PEM file/) as unknown });
      copyFileSync(join(newSet, 'server.crt'), join(live, 'server.crt'));
      copyFileSync(join(oldSet, 'server.key'), join(live, 'server.key'));
      s.proc.kill('SIGHUP');
      await until(() => reloadLines().length === 3, 'the second error line');
      expect(reloadLines()[2]).toMatchObject({ level: 'error', msg: expect.stringMatching(/^SIGHUP: kept the previous TLS certificate: TLS: .*key values mismatch/) as unknown });
      expect(await connects(address, creds(newSet, 'client'))).toBe(true);
      expect(await held.ping()).toBe('OK');
      expect(s.proc.exitCode).toBeNull();

      held.close();
      s.proc.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    });
  }

  it('a server without TLS logs that there is nothing to reload, and keeps serving', async () => {
    const s = await h.startCorfu(['sequencer', '--listen', '127.0.0.1:0'], /^listening /);
    s.proc.kill('SIGHUP');
    await until(() => s.err.some((l) => l.includes('SIGHUP: this server has no TLS (no --cert-file): nothing to reload')), 'the line');
    expect(s.proc.exitCode).toBeNull();
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

describe('corfu up --tls', () => {
  const cluster = (): string => join(h.dir, 'up-tls');
  const certs = (): string => join(cluster(), 'certs');
  const store = (): string => `file:${join(cluster(), 'layout')}`;
  const args = (): string[] => ['up', '--dir', cluster(), '--tls', '--units', '2', '--replicas', '2', '--spares', '1', '--size', '32M', '--entry-bytes', '64'];
  const acked = new Map<number, string>();

  async function appendSome(client: CorfuClient, prefix: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const text = `${prefix} ${i}`;
      acked.set(await client.append(Buffer.from(text)), text);
    }
  }

  async function readAll(): Promise<void> {
    const reader = await CorfuClient.connect({ layout: store(), tls: creds(certs(), 'client') });
    try {
      for (const [address, text] of acked) expect(await reader.read(address), `address ${address}`).toMatchObject({ kind: 'data', payload: Buffer.from(text) });
    } finally {
      await reader.close();
    }
  }

  it('runs the whole path over mutual TLS: up, its demo, appends, reads, layout reconfigure --replace, more appends, a restart that reuses the certificates', async () => {
    const up = await h.startCorfu([...args(), '--demo', '300'], /^serving/);
    const text = up.out.join('\n');
    expect(text).toContain(`made a development CA and certificates in ${certs()}`);
    expect(text).toMatch(/verified 300 entries/);
    // How a client connects: the library's options and the CLI's flags.
    expect(text).toMatch(/^tls: {8}mutual TLS/m);
    expect(text).toContain(`tls: { ca: readFileSync('${join(certs(), 'ca.crt')}'), cert: readFileSync('${join(certs(), 'client.crt')}'), key: readFileSync('${join(certs(), 'client.key')}') }`);
    expect(text).toContain(`--ca-file ${join(certs(), 'ca.crt')} --cert-file ${join(certs(), 'client.crt')} --key-file ${join(certs(), 'client.key')}`);
    for (const f of FILES) expect(existsSync(join(certs(), f)), f).toBe(true);
    const caBytes = readFileSync(join(certs(), 'ca.crt'));
    // Every server was started with the certificates and --client-cert-auth (their logs say TLS; the manager connected as admin).
    const spare = /^manager: {4}active, 1 spare unit \((127\.0\.0\.1:\d+)\)/m.exec(text)?.[1];
    expect(spare).toBeDefined();

    // A client without a certificate is refused by every server; the printed way in works.
    const anonymous = await CorfuClient.connect({ layout: store(), tls: { ca: caBytes }, deadlineMs: 5000 });
    try {
      await expect(anonymous.append(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    } finally {
      await anonymous.close();
    }
    const cliAppend = h.corfu('append', 'from the cli', '--layout', store(), ...cliFlags(certs(), 'client'));
    expect(cliAppend.code, cliAppend.stderr).toBe(0);
    acked.set(Number(cliAppend.stdout.trim()), 'from the cli');

    const client = await CorfuClient.connect({ layout: store(), tls: creds(certs(), 'client') });
    try {
      await appendSome(client, 'before', 40);
      await readAll();

      // Replace the head of the first chain by the spare: with the client certificate it is refused, with the admin one done.
      const shown = JSON.parse(h.corfu('layout', 'show', '--store', store(), '--json').stdout) as { epoch: number; segments: Array<{ stripes: Array<{ chain: string[] }> }> };
      const old = shown.segments.at(-1)!.stripes[0]!.chain[0]!;
      const asClient = h.corfu('layout', 'reconfigure', '--store', store(), '--replace', `${old}=${spare!}`, ...cliFlags(certs(), 'client'));
      expect(asClient.code).toBe(1);
      expect(h.oneLine(asClient.stderr)).toMatch(/ERR_UNAUTHORIZED: .*needs the admin role/);
      const asAdmin = h.corfu('layout', 'reconfigure', '--store', store(), '--replace', `${old}=${spare!}`, ...cliFlags(certs(), 'admin'));
      expect(asAdmin.code, asAdmin.stderr).toBe(0);
      const after = JSON.parse(h.corfu('layout', 'show', '--store', store(), '--json').stdout) as typeof shown;
      expect(after.epoch).toBeGreaterThan(shown.epoch);
      expect(after.segments.at(-1)!.stripes[0]!.chain).toContain(spare);
      expect(after.segments.at(-1)!.stripes[0]!.chain).not.toContain(old);

      // The same client goes on (it learns the new epoch), and everything reads back.
      await appendSome(client, 'after', 40);
    } finally {
      await client.close();
    }
    await readAll();
    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);

    // A restart reuses the certificates (no new CA) and serves the same entries.
    const again = await h.startCorfu(args(), /^serving/);
    expect(again.out.join('\n')).not.toContain('made a development CA');
    expect(readFileSync(join(certs(), 'ca.crt')).equals(caBytes)).toBe(true);
    await readAll();
    const more = await CorfuClient.connect({ layout: store(), tls: creds(certs(), 'client') });
    try {
      await appendSome(more, 'restarted', 10);
    } finally {
      await more.close();
    }
    await readAll();
    again.proc.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 180_000);

  it("with certificate flags of the caller's own instead of --tls, runs on them and prints the CA a client trusts", async () => {
    const own = (await initCerts(join(h.dir, 'own-certs'))).files;
    const up = await h.startCorfu(
      [
        'up',
        '--dir',
        join(h.dir, 'up-own'),
        '--units',
        '1',
        '--replicas',
        '1',
        '--spares',
        '0',
        '--size',
        '16M',
        '--cert-file',
        own['server.crt'],
        '--key-file',
        own['server.key'],
        '--trusted-ca-file',
        own['ca.crt'],
        '--client-cert-auth',
        '--admin-cert-file',
        own['admin.crt'],
        '--admin-key-file',
        own['admin.key'],
      ],
      /^serving/,
    );
    const text = up.out.join('\n');
    expect(text).toContain(`tls: { ca: readFileSync('${own['ca.crt']}'), cert, key } /* a certificate of that CA with OU=client */`);
    expect(text).not.toContain('made a development CA');
    const client = await CorfuClient.connect({ layout: `file:${join(h.dir, 'up-own', 'layout')}`, tls: creds(join(h.dir, 'own-certs'), 'client') });
    try {
      const at = await client.append(Buffer.from('own certificates'));
      expect(await client.read(at)).toMatchObject({ kind: 'data', payload: Buffer.from('own certificates') });
    } finally {
      await client.close();
    }
    up.proc.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  });

  it('refuses --tls with certificate flags of its own, and a certs directory missing files, with one line (exit 2)', () => {
    const mixed = h.corfu('up', '--dir', join(h.dir, 'up-mixed'), '--tls', '--cert-file', join(certs(), 'server.crt'), '--key-file', join(certs(), 'server.key'));
    expect(mixed.code).toBe(2);
    expect(h.oneLine(mixed.stderr)).toMatch(/--tls uses the certificates in .*; leave out --cert-file, --key-file/);
    const partial = join(h.dir, 'up-partial');
    mkdirSync(join(partial, 'certs'), { recursive: true });
    copyFileSync(join(certs(), 'ca.crt'), join(partial, 'certs', 'ca.crt'));
    const lacking = h.corfu('up', '--dir', partial, '--tls');
    expect(lacking.code).toBe(2);
    expect(h.oneLine(lacking.stderr)).toMatch(
      /certs lacks server\.crt, server\.key, client\.crt, client\.key, admin\.crt, admin\.key: restore them, or make new ones with corfu certs init .* --force/,
    );
  });
});
