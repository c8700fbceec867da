// TLS, mutual TLS and roles on real processes (`corfu unit`, `corfu sequencer`,
// `corfu layout init`, `corfu append`) on 127.0.0.1, with certificates made for this
// run by `corfu certs init`'s code (helpers/certs.ts). docs/operations.md, "TLS and
// authorization", is the contract; src/wire/roles.ts the table of who may send what.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CorfuError, isCorfuError } from '../bindings/errors.js';
import { CorfuClient } from '../src/client/client.js';
import { openProjectionStore } from '../src/layout/open.js';
import { parseProjection } from '../src/layout/index.js';
import { authDialer } from '../src/transport/auth.js';
import { splitHostPort } from '../src/transport/address.js';
import { Connection, type RequestBody } from '../src/transport/connection.js';
import { tcpDialer, type Dialer } from '../src/transport/dialer.js';
import { tlsDialer, type ClientTlsOptions } from '../src/transport/tls.js';
import { FrameDecoder, OPCODES, OP_ROLES, encodeRequest, type Op, type Response } from '../src/wire/index.js';
import { makePki, type CertPair, type TestPki } from './helpers/certs.js';
import { cliHarness, type Started } from './helpers/cli.js';
import { ownLoopback } from './helpers/ports.js';
import { until } from './helpers/until.js';

const h = cliHarness('corfu-security-', { runTimeoutMs: 60_000, readyTimeoutMs: 30_000 });
const OPS = Object.keys(OPCODES) as Op[];
const STREAM = '00112233445566778899aabbccddeeff';
const CLIENT_TOKEN = 'client-token-0123456789';
const ADMIN_TOKEN = 'admin-token-9876543210';

let pki: TestPki;
let clientCert: CertPair;
let adminCert: CertPair;
let foreignCert: CertPair;

/** A well-formed request of each opcode; the state-changing ones would change something visible. */
function sample(op: Op, epoch: number): RequestBody {
  const e = { type: 'request' as const, epoch };
  switch (op) {
    case 'AUTH':
      return { ...e, op, token: new Uint8Array(0) };
    case 'WRITE':
      return { ...e, op, entries: [{ address: 100, payload: Buffer.from('intruder') }] };
    case 'READ':
    case 'FILL':
    case 'TRIM':
      return { ...e, op, addresses: [op === 'READ' ? 0 : 1] };
    case 'PREFIX_TRIM':
      return { ...e, op, address: 2 };
    case 'TAIL':
    case 'PING':
    case 'INFO':
      return { ...e, op };
    case 'WAIT_TAIL':
      return { ...e, op, after: 0, waitMs: 1 };
    case 'SEAL':
      return { ...e, op, newEpoch: epoch + 10 };
    case 'BOOTSTRAP':
      return { ...e, op, newEpoch: epoch + 10, startTail: 1_000_000, resetStreams: true };
    case 'TOKEN':
      return { ...e, op, count: 5 };
    case 'STREAM_TOKEN':
      return { ...e, op, count: 1, streams: [STREAM] };
    case 'STREAM_TAILS':
      return { ...e, op, streams: [STREAM] };
    case 'STREAM_SEED':
      return { ...e, op, from: 0, to: 0, done: false, entries: [] };
  }
}

function connection(address: string, dialer: Dialer): Connection {
  return new Connection({ ...splitHostPort(address), timeoutMs: 5000, reconnectMinMs: 1, reconnectMaxMs: 1, dialer });
}

const tokenDialer = (token: string): Dialer => authDialer(tcpDialer, Buffer.from(token));
const tlsLinks = (tls: ClientTlsOptions): Dialer => authDialer(tlsDialer(tls), undefined);

function addressOf(s: Started): string {
  const line = s.out.find((l) => l.startsWith('listening '));
  return line!.slice('listening '.length);
}

interface Cluster {
  unit: Started;
  sequencer: Started;
  unitAddress: string;
  sequencerAddress: string;
  layout: string;
  /** A connection with the admin role to each server (the state snapshots). */
  admin: (address: string) => Connection;
}

/** What a client-role or unauthenticated request must not change: the unit's epoch, tail, trim mark and contents; the sequencer's epoch and tail. */
async function snapshot(c: Cluster): Promise<unknown> {
  const unit = c.admin(c.unitAddress);
  const seq = c.admin(c.sequencerAddress);
  try {
    const info = await unit.call({ type: 'request', op: 'INFO', epoch: 0 });
    if (info.op !== 'INFO') throw new Error('not INFO');
    const read = await unit.call({ type: 'request', op: 'READ', epoch: info.unitEpoch, addresses: [0, 1, 2, 3, 100] });
    if (read.op !== 'READ') throw new Error('not READ');
    const tail = await seq.call({ type: 'request', op: 'TAIL', epoch: info.unitEpoch });
    return {
      unitEpoch: info.unitEpoch,
      unitTail: info.tail,
      trimMark: info.trimMark,
      statuses: [...read.statuses],
      payloads: read.payloads.map((p) => (p === null ? null : Buffer.from(p).toString())),
      sequencerTail: tail.op === 'TAIL' ? tail.tail : undefined,
    };
  } finally {
    await unit.close();
    await seq.close();
  }
}

async function formatDevice(name: string): Promise<string> {
  const dev = join(h.dir, `${name}.img`);
  const r = h.corfu('format', dev, '--size', '16M');
  expect(r.code, r.stderr).toBe(0);
  return dev;
}

/** Sends each opcode of `ops` to `address` on `conn` and answers each response. */
async function sendEach(conn: Connection, ops: readonly Op[], epoch: number): Promise<Map<Op, Response>> {
  const out = new Map<Op, Response>();
  for (const op of ops) out.set(op, await conn.request(sample(op, epoch)));
  return out;
}

const ADMIN_OPS = OPS.filter((op) => OP_ROLES[op] === 'admin');
const CLIENT_OPS = OPS.filter((op) => OP_ROLES[op] === 'client');

beforeAll(async () => {
  pki = await makePki([ownLoopback()]);
  clientCert = await pki.client('client', 'O=corfu, OU=client, CN=app');
  adminCert = await pki.client('admin', 'O=corfu, OU=admin, CN=operator');
  foreignCert = await pki.client('foreign', 'O=corfu, OU=admin, CN=stranger', 'other');
});
afterAll(() => pki?.cleanup());

describe('the role table', () => {
  it('classifies every opcode, and keeps SEAL, BOOTSTRAP and PREFIX_TRIM for admins', () => {
    expect(Object.keys(OP_ROLES).sort()).toEqual([...OPS].sort());
    expect(ADMIN_OPS.sort()).toEqual(['BOOTSTRAP', 'PREFIX_TRIM', 'SEAL']);
    expect(OP_ROLES.AUTH).toBe('open');
  });
});

describe('tokens on plaintext links', () => {
  let c: Cluster;

  beforeAll(async () => {
    const tokens = join(h.dir, 'tokens');
    mkdirSync(tokens, { recursive: true });
    writeFileSync(join(tokens, 'client'), `${CLIENT_TOKEN}\n`);
    writeFileSync(join(tokens, 'admin'), `${ADMIN_TOKEN}\n`);
    const auth = ['--auth-token-file', join(tokens, 'client'), '--admin-token-file', join(tokens, 'admin')];
    const dev = await formatDevice('tok');
    const unit = await h.startCorfu(['unit', '--device', dev, '--listen', '127.0.0.1:0', ...auth], /^listening /);
    const sequencer = await h.startCorfu(['sequencer', '--listen', '127.0.0.1:0', ...auth], /^listening /);
    const layout = `file:${join(h.dir, 'layout-tok')}`;
    c = { unit, sequencer, unitAddress: addressOf(unit), sequencerAddress: addressOf(sequencer), layout, admin: (a) => connection(a, tokenDialer(ADMIN_TOKEN)) };
    // `layout init` seals: with the client token it is refused, with the admin one it works.
    const refused = h.corfu('layout', 'init', '--store', layout, '--sequencer', c.sequencerAddress, '--stripe', c.unitAddress, '--token-file', join(tokens, 'client'));
    expect(refused.code).toBe(1);
    expect(h.oneLine(refused.stderr)).toMatch(/^error ERR_UNAUTHORIZED: .*SEAL needs the admin role; this connection's role is client/);
    const init = h.corfu('layout', 'init', '--store', layout, '--sequencer', c.sequencerAddress, '--stripe', c.unitAddress, '--token-file', join(tokens, 'admin'));
    expect(init.code, init.stderr).toBe(0);
    // Three entries, appended through the CLI with the client token.
    for (const data of ['a', 'b', 'c']) {
      const r = h.corfu('append', data, '--layout', layout, '--token-file', join(tokens, 'client'));
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it('appends and reads through CorfuClient with the client token, and refuses one without', async () => {
    const client = await CorfuClient.connect({ layout: c.layout, authToken: CLIENT_TOKEN });
    try {
      const at = await client.append(Buffer.from('d'));
      expect(at).toBe(3);
      expect(await client.read(0)).toMatchObject({ kind: 'data', payload: Buffer.from('a') });
      // PREFIX_TRIM is an admin's: the client's call fails at once, typed.
      await expect(client.prefixTrim(1)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    } finally {
      await client.close();
    }
    const anonymous = await CorfuClient.connect({ layout: c.layout, deadlineMs: 3000 });
    try {
      await expect(anonymous.append(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED', message: expect.stringMatching(/has not authenticated/) as unknown });
    } finally {
      await anonymous.close();
    }
    const cli = h.corfu('append', 'x', '--layout', c.layout);
    expect(cli.code).toBe(1);
    expect(h.oneLine(cli.stderr)).toMatch(/^error ERR_UNAUTHORIZED: /);
  });

  it('answers every admin opcode from a client-role peer with ERR_UNAUTHORIZED and changes nothing', async () => {
    const before = await snapshot(c);
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = connection(address, tokenDialer(CLIENT_TOKEN));
      try {
        const answers = await sendEach(conn, ADMIN_OPS, 1);
        for (const [op, res] of answers) {
          expect(res.status, `${op} to ${address}`).toBe('ERR_UNAUTHORIZED');
          expect(res.status === 'OK' ? '' : res.message).toBe(`${op} needs the admin role; this connection's role is client`);
        }
        // The connection stays open and useful after a refusal.
        expect((await conn.request(sample('PING', 1))).status).toBe('OK');
      } finally {
        await conn.close();
      }
    }
    expect(await snapshot(c)).toEqual(before);
  });

  it('lets a client-role peer send every client opcode (none is refused as unauthorized)', async () => {
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = connection(address, tokenDialer(CLIENT_TOKEN));
      try {
        const answers = await sendEach(
          conn,
          CLIENT_OPS.filter((op) => op !== 'WRITE' && op !== 'TRIM' && op !== 'FILL'),
          1,
        );
        for (const [op, res] of answers) expect(res.status, `${op} to ${address}: ${res.status === 'OK' ? '' : res.message}`).not.toBe('ERR_UNAUTHORIZED');
      } finally {
        await conn.close();
      }
    }
  });

  it('answers every request of a connection that did not authenticate with ERR_UNAUTHORIZED and changes nothing', async () => {
    const before = await snapshot(c);
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = connection(address, tcpDialer);
      try {
        const answers = await sendEach(
          conn,
          OPS.filter((op) => op !== 'AUTH'),
          1,
        );
        for (const [op, res] of answers) {
          expect(res.status, `${op} to ${address}`).toBe('ERR_UNAUTHORIZED');
          expect(res.status === 'OK' ? '' : res.message).toMatch(/has not authenticated/);
        }
      } finally {
        await conn.close();
      }
    }
    expect(await snapshot(c)).toEqual(before);
  });

  it('refuses a wrong token with ERR_UNAUTHORIZED at connect, and closes that connection', async () => {
    const before = await snapshot(c);
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = connection(address, tokenDialer('not-the-token'));
      try {
        const err = await conn.request(sample('SEAL', 1)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isCorfuError(err, 'ERR_UNAUTHORIZED'), String(err)).toBe(true);
        expect((err as CorfuError).message).toMatch(/refused the connection: wrong token/);
      } finally {
        await conn.close();
      }
      // On the wire: the refusal is answered, then the server ends the connection.
      const { host, port } = splitHostPort(address);
      const socket = createConnection({ host, port });
      const decoder = new FrameDecoder();
      const answer = await new Promise<{ status: string; ended: boolean }>((resolve, reject) => {
        let status = '';
        socket.on('data', (chunk: Buffer) => {
          decoder.push(chunk);
          const r = decoder.pull();
          if (r.kind === 'frame' && r.frame.type === 'response') status = r.frame.status;
        });
        socket.on('error', reject);
        socket.on('close', () => resolve({ status, ended: true }));
        socket.write(encodeRequest({ type: 'request', op: 'AUTH', requestId: 9, epoch: 0, token: Buffer.from('guess') }));
        socket.write(encodeRequest({ ...(sample('SEAL', 1) as Extract<RequestBody, { op: 'SEAL' }>), requestId: 10 }));
      });
      expect(answer).toEqual({ status: 'ERR_UNAUTHORIZED', ended: true });
    }
    expect(await snapshot(c)).toEqual(before);
  });

  it('lets the admin role SEAL the unit and the sequencer', async () => {
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = c.admin(address);
      try {
        const res = await conn.call({ type: 'request', op: 'SEAL', epoch: 1, newEpoch: 2 });
        expect(res.op).toBe('SEAL');
      } finally {
        await conn.close();
      }
    }
    expect(await snapshot(c)).toMatchObject({ unitEpoch: 2 });
  });
});

describe('TLS and mutual TLS', () => {
  let c: Cluster;
  const tlsFlags = (): string[] => ['--cert-file', pki.server.cert, '--key-file', pki.server.key, '--trusted-ca-file', pki.ca, '--client-cert-auth'];
  const asClient = (): ClientTlsOptions => ({ ca: pki.caPem, cert: clientCert.certPem, key: clientCert.keyPem });

  beforeAll(async () => {
    const dev = await formatDevice('mtls');
    const unit = await h.startCorfu(['unit', '--device', dev, '--listen', '127.0.0.1:0', ...tlsFlags()], /^listening /);
    const sequencer = await h.startCorfu(['sequencer', '--listen', '127.0.0.1:0', ...tlsFlags(), '--tls-min-version', '1.3'], /^listening /);
    const layout = `file:${join(h.dir, 'layout-mtls')}`;
    c = {
      unit,
      sequencer,
      unitAddress: addressOf(unit),
      sequencerAddress: addressOf(sequencer),
      layout,
      admin: (a) => connection(a, tlsLinks({ ca: pki.caPem, cert: adminCert.certPem, key: adminCert.keyPem })),
    };
    const init = h.corfu(
      'layout',
      'init',
      '--store',
      layout,
      '--sequencer',
      c.sequencerAddress,
      '--stripe',
      c.unitAddress,
      '--ca-file',
      pki.ca,
      '--cert-file',
      adminCert.cert,
      '--key-file',
      adminCert.key,
    );
    expect(init.code, init.stderr).toBe(0);
  });

  it('appends and reads through the unit and the sequencer with a client certificate (CorfuClient and the CLI)', async () => {
    const client = await CorfuClient.connect({ layout: c.layout, tls: asClient() });
    try {
      const first = await client.append(Buffer.from('over tls'));
      const second = await client.append(Buffer.from('and again'));
      expect(second).toBe(first + 1);
      expect(await client.read(first)).toMatchObject({ kind: 'data', payload: Buffer.from('over tls') });
      expect(await client.tail()).toBe(second + 1);
      await expect(client.prefixTrim(first)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    } finally {
      await client.close();
    }
    const read = h.corfu('read', '0', '--layout', c.layout, '--ca-file', pki.ca, '--cert-file', clientCert.cert, '--key-file', clientCert.key);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/over tls/);
  });

  it('answers every admin opcode from an OU=client certificate with ERR_UNAUTHORIZED and changes nothing', async () => {
    const before = await snapshot(c);
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = connection(address, tlsLinks(asClient()));
      try {
        for (const [op, res] of await sendEach(conn, ADMIN_OPS, 1)) expect(res.status, `${op} to ${address}`).toBe('ERR_UNAUTHORIZED');
      } finally {
        await conn.close();
      }
    }
    expect(await snapshot(c)).toEqual(before);
  });

  it('refuses a client without a certificate: ERR_UNAUTHORIZED at once, not a timeout', async () => {
    for (const address of [c.unitAddress, c.sequencerAddress]) {
      const conn = connection(address, tlsLinks({ ca: pki.caPem }));
      try {
        const started = performance.now();
        const err = await conn.request(sample('PING', 1)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isCorfuError(err, 'ERR_UNAUTHORIZED'), String(err)).toBe(true);
        // TLS 1.3: the alert "certificate required", or the server's own refusal after the handshake.
        expect((err as Error).message).toMatch(/TLS with .* failed: .*certificate required|refused the connection: TLS: no client certificate/i);
        expect(performance.now() - started).toBeLessThan(4000);
      } finally {
        await conn.close();
      }
    }
    // Through the client API: the append fails typed, long before its deadline.
    const client = await CorfuClient.connect({ layout: c.layout, tls: { ca: pki.caPem }, deadlineMs: 10_000 });
    try {
      const started = performance.now();
      await expect(client.append(Buffer.from('no cert'))).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await client.close();
    }
  });

  it('refuses a certificate from another CA, and a client that does not trust the server CA, with a clear typed error', async () => {
    const foreign = connection(c.unitAddress, tlsLinks({ ca: pki.caPem, cert: foreignCert.certPem, key: foreignCert.keyPem }));
    const wrongCa = connection(c.unitAddress, tlsLinks({ ca: pki.otherCaPem, cert: clientCert.certPem, key: clientCert.keyPem }));
    try {
      await expect(foreign.request(sample('PING', 1))).rejects.toMatchObject({
        code: 'ERR_UNAUTHORIZED',
        message: expect.stringMatching(/refused the connection: TLS: client certificate refused \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/) as unknown,
      });
      const err = await wrongCa.request(sample('PING', 1)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCorfuError(err, 'ERR_UNAUTHORIZED'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/TLS with 127\.0\.0\.1:\d+ failed: .*(self[- ]signed|unable to verify|issuer)/i);
    } finally {
      await foreign.close();
      await wrongCa.close();
    }
    const cli = h.corfu('tail', '--layout', c.layout, '--ca-file', pki.otherCa, '--cert-file', clientCert.cert, '--key-file', clientCert.key);
    expect(cli.code).toBe(1);
    expect(h.oneLine(cli.stderr)).toMatch(/^error ERR_UNAUTHORIZED: .*TLS with/);
  });

  it('closes a plaintext client without an answer, logs it, and keeps serving', async () => {
    for (const s of [c.unit, c.sequencer]) {
      const address = addressOf(s);
      const plain = connection(address, tcpDialer);
      try {
        await expect(plain.request(sample('PING', 1))).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
      } finally {
        await plain.close();
      }
      await until(() => s.err.some((l) => /TLS handshake with 127\.0\.0\.1:\d+ failed/.test(l)), `the ${address} log line`);
      expect(s.proc.exitCode).toBeNull();
      const tls = c.admin(address);
      try {
        expect((await tls.request(sample('PING', 1))).status).toBe('OK');
      } finally {
        await tls.close();
      }
    }
  });

  it('lets an OU=admin certificate SEAL', async () => {
    const conn = c.admin(c.unitAddress);
    try {
      expect((await conn.call({ type: 'request', op: 'SEAL', epoch: 1, newEpoch: 2 })).op).toBe('SEAL');
    } finally {
      await conn.close();
    }
  });
});

describe('listening', () => {
  it('refuses a non-loopback address without TLS or a token unless --insecure', async () => {
    for (const args of [
      ['unit', '--device', join(h.dir, 'none.img'), '--listen', '0.0.0.0:0'],
      ['sequencer', '--listen', '0.0.0.0:0'],
    ]) {
      const r = h.corfu(...args);
      expect(r.code).toBe(2);
      expect(h.oneLine(r.stderr)).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS or a token.*--insecure/);
    }
    const insecure = await h.startCorfu(['sequencer', '--listen', '0.0.0.0:0', '--insecure'], /^listening /);
    expect(insecure.out[0]).toMatch(/^listening 0\.0\.0\.0:\d+$/);
    insecure.proc.kill('SIGKILL');
    await insecure.exited;
  });

  it('refuses bad TLS flags with one line', () => {
    const noCa = h.corfu('sequencer', '--cert-file', pki.server.cert, '--key-file', pki.server.key, '--client-cert-auth');
    expect(noCa.code).toBe(2);
    expect(h.oneLine(noCa.stderr)).toMatch(/--client-cert-auth needs --trusted-ca-file/);
    const version = h.corfu('sequencer', '--cert-file', pki.server.cert, '--key-file', pki.server.key, '--tls-min-version', '1.1');
    expect(version.code).toBe(2);
    expect(h.oneLine(version.stderr)).toMatch(/--tls-min-version must be 1.2 or 1.3/);
    const mismatched = h.corfu('sequencer', '--cert-file', pki.server.cert, '--key-file', clientCert.key);
    expect(mismatched.code).toBe(1);
    // One fatal line in the server's JSON log (src/cli/log.ts).
    const fatal = JSON.parse(h.oneLine(mismatched.stderr)) as { level: string; code: string; msg: string };
    expect(fatal).toMatchObject({ level: 'fatal', code: 'ERR_BAD_REQUEST' });
    expect(fatal.msg).toMatch(/^TLS: .*key values mismatch/);
  });
});

describe('etcd over mutual TLS', () => {
  let etcd: ChildProcess | undefined;
  let url: string;

  beforeAll(async () => {
    const host = ownLoopback();
    const port = 20_000 + (process.pid % 20_000);
    const dataDir = join(h.dir, 'etcd');
    etcd = spawn(
      'etcd',
      [
        '--name',
        'corfu-tls',
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        `https://${host}:${port}`,
        '--advertise-client-urls',
        `https://${host}:${port}`,
        '--listen-peer-urls',
        `http://${host}:${port + 1}`,
        '--initial-advertise-peer-urls',
        `http://${host}:${port + 1}`,
        '--initial-cluster',
        `corfu-tls=http://${host}:${port + 1}`,
        '--cert-file',
        pki.server.cert,
        '--key-file',
        pki.server.key,
        '--trusted-ca-file',
        pki.ca,
        '--client-cert-auth',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    );
    url = `etcd://${host}:${port}/corfu-tls`;
    await until(
      async () => {
        const store = await openProjectionStore(url, { tls: { ca: pki.caPem, cert: adminCert.certPem, key: adminCert.keyPem }, timeoutMs: 1000 });
        try {
          await store.latest();
          return true;
        } catch {
          return false;
        } finally {
          await store.close();
        }
      },
      'etcd over TLS to serve',
      { timeoutMs: 30_000, everyMs: 200 },
    );
  });
  afterAll(() => {
    etcd?.kill('SIGKILL');
  });

  it('stores projections with the CA and a client certificate, and is refused without them', async () => {
    const store = await openProjectionStore(url, { tls: { ca: pki.caPem, cert: adminCert.certPem, key: adminCert.keyPem } });
    const projection = parseProjection({ epoch: 1, sequencer: '127.0.0.1:1', units: ['127.0.0.1:2'], segments: [{ start: 0, end: null, stripes: [{ chain: ['127.0.0.1:2'] }] }] });
    try {
      expect((await store.propose(projection)).accepted).toBe(true);
      expect((await store.latest())?.epoch).toBe(1);
    } finally {
      await store.close();
    }
    for (const tls of [undefined, { ca: pki.caPem }]) {
      const refused = await openProjectionStore(url, { timeoutMs: 2000, ...(tls === undefined ? {} : { tls }) });
      try {
        await expect(refused.latest()).rejects.toBeInstanceOf(CorfuError);
      } finally {
        await refused.close();
      }
    }
  });
});
