// `corfu certs init DIR [--host H]... [--days N] [--force]`: a development CA and the
// certificates a local cluster needs for mutual TLS (docs/operations.md, "TLS and
// authorization"):
//
//   ca.crt, ca.key          the CA (CN=corfu development CA); servers trust it for client
//                           certificates (--trusted-ca-file), clients for servers (--ca-file)
//   server.crt, server.key  every unit and sequencer: SAN IP:127.0.0.1, DNS:localhost and each
//                           --host (an IP address or a DNS name), extendedKeyUsage serverAuth
//   client.crt, client.key  OU=client: appends, reads, fills, trims
//   admin.crt, admin.key    OU=admin: also SEAL, BOOTSTRAP, PREFIX_TRIM (the manager, `corfu layout`)
//
// Keys are ECDSA P-256, PKCS#8 PEM, mode 0600; certificates 0644. Nothing is written when
// any of the eight files exists, unless --force (then all eight are replaced: a new CA, so
// every server and client needs the new files).
//
// Made with @peculiar/x509 over Node's WebCrypto (keys and signatures are OpenSSL's, inside
// Node), not by pasting openssl command lines: no external binary, no shell quoting, and
// the tests' certificates (test/helpers/certs.ts) come from the same code. tsyringe, which
// @peculiar/x509 uses inside, needs the Reflect metadata polyfill loaded first; this module
// is imported only by the `certs` verb and `corfu up --tls` (dynamic imports), so the
// library (`import 'corfu'`) never installs that global.

import 'reflect-metadata';

import { webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';

import * as x509 from '@peculiar/x509';

import { UsageError } from './usage-error.js';

// Node's WebCrypto, typed by @types/node rather than the DOM library this project does not load.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Backdated so a peer whose clock is a little behind does not see a certificate "not yet valid". */
const BACKDATE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/** A certificate and its key pair, as objects and as PEM. */
export interface Issued {
  readonly cert: x509.X509Certificate;
  readonly keys: KeyPair;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A positive 16-byte serial (a negative one is refused by Go's TLS, which etcd uses). */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

function validity(days: number, now: Date): { notBefore: Date; notAfter: Date } {
  if (!Number.isSafeInteger(days) || days < 1) throw new UsageError(`--days must be a whole number of at least 1, got ${days}`);
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

async function keyPair(): Promise<KeyPair> {
  return await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function done(cert: x509.X509Certificate, keys: KeyPair): Promise<Issued> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert, keys, certPem: `${cert.toString('pem')}\n`, keyPem: `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n` };
}

/** A self-signed CA that may sign end-entity certificates only (pathLen 0). */
export async function createCa(subject: string, options: { days: number; now?: Date }): Promise<Issued> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject,
    keys,
    signingAlgorithm: ALGORITHM,
    ...validity(options.days, options.now ?? new Date()),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return done(cert, keys);
}

export interface LeafOptions {
  /** An X.500 name: "O=corfu, OU=client, CN=app". */
  readonly subject: string;
  /** 'server': extendedKeyUsage serverAuth and the SANs; 'client': clientAuth. */
  readonly usage: 'server' | 'client';
  /** Server names: IP addresses and DNS names. */
  readonly hosts?: readonly string[];
  readonly days: number;
  readonly now?: Date;
}

/** A certificate signed by `ca`. */
export async function issueCertificate(ca: Issued, options: LeafOptions): Promise<Issued> {
  const keys = await keyPair();
  const sans = (options.hosts ?? []).map((h) => ({ type: isIP(h) === 0 ? ('dns' as const) : ('ip' as const), value: h }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: options.subject,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALGORITHM,
    ...validity(options.days, options.now ?? new Date()),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ...(sans.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(sans)]),
    ],
  });
  return done(cert, keys);
}

/** The files `certs init` writes, in the order it prints them. */
export const CERT_FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key', 'admin.crt', 'admin.key'] as const;
export type CertFile = (typeof CERT_FILES)[number];

/** The SANs every server certificate carries: what `corfu up` listens on and dials. */
export const DEFAULT_HOSTS = ['127.0.0.1', 'localhost'] as const;

export interface CertsInitOptions {
  /** More server names besides 127.0.0.1 and localhost. */
  readonly hosts?: readonly string[];
  readonly days?: number;
  /** Replace files that exist. */
  readonly force?: boolean;
}

export interface CertsInitResult {
  readonly dir: string;
  /** Every file written, by name. */
  readonly files: Readonly<Record<CertFile, string>>;
  /** The server certificate's names. */
  readonly hosts: readonly string[];
  readonly notAfter: Date;
}

/** Writes `contents` to `path` with `mode`, whole or not at all (a temp file renamed over it). */
function writeWhole(path: string, contents: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, contents, { mode, flag: 'wx' });
    // The umask may have taken bits away from `mode`, never added: set it exactly.
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The paths of DIR's certificate files. */
export function certPaths(dir: string): Record<CertFile, string> {
  return Object.fromEntries(CERT_FILES.map((f) => [f, join(dir, f)])) as Record<CertFile, string>;
}

/** Makes the CA and the three certificates in `dir` (created, mode 0700, if missing). */
export async function initCerts(dirArg: string, options: CertsInitOptions = {}): Promise<CertsInitResult> {
  const dir = resolve(dirArg);
  const days = options.days ?? 365;
  const files = certPaths(dir);
  const present = CERT_FILES.filter((f) => existsSync(files[f]));
  if (present.length > 0 && options.force !== true) {
    throw new UsageError(`${dir} already holds ${present.join(', ')}: refusing to overwrite (--force replaces all ${CERT_FILES.length} files with a new CA)`);
  }
  const hosts = [...new Set([...DEFAULT_HOSTS, ...(options.hosts ?? [])])];
  const now = new Date();
  const ca = await createCa('O=corfu, CN=corfu development CA', { days, now });
  const server = await issueCertificate(ca, { subject: 'O=corfu, CN=corfu server', usage: 'server', hosts, days, now });
  const client = await issueCertificate(ca, { subject: 'O=corfu, OU=client, CN=corfu client', usage: 'client', days, now });
  const admin = await issueCertificate(ca, { subject: 'O=corfu, OU=admin, CN=corfu admin', usage: 'client', days, now });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pairs: Array<[CertFile, CertFile, Issued]> = [
    ['ca.crt', 'ca.key', ca],
    ['server.crt', 'server.key', server],
    ['client.crt', 'client.key', client],
    ['admin.crt', 'admin.key', admin],
  ];
  // Keys first: a certificate on disk never names a key that is not there yet.
  for (const [crt, key, issued] of pairs) {
    writeWhole(files[key], issued.keyPem, 0o600);
    writeWhole(files[crt], issued.certPem, 0o644);
  }
  return { dir, files, hosts, notAfter: server.cert.notAfter };
}

export interface CertsInitFlags {
  readonly host: string[];
  readonly days: number;
  readonly force?: boolean;
}

export async function certsInitVerb(dir: string, flags: CertsInitFlags): Promise<void> {
  const r = await initCerts(dir, { hosts: flags.host, days: flags.days, ...(flags.force === true ? { force: true } : {}) });
  const what: Record<CertFile, string> = {
    'ca.crt': 'the CA: --trusted-ca-file for servers, --ca-file for clients',
    'ca.key': "the CA's key (mode 0600): keep it off the servers",
    'server.crt': `units and sequencers (--cert-file): ${r.hosts.map((h) => (isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`)).join(', ')}`,
    'server.key': 'its key (--key-file, mode 0600)',
    'client.crt': 'a client (OU=client): --cert-file of append, read, ...',
    'client.key': 'its key (mode 0600)',
    'admin.crt': 'an admin (OU=admin): the manager, corfu layout, corfu up',
    'admin.key': 'its key (mode 0600)',
  };
  const width = Math.max(...CERT_FILES.map((f) => r.files[f].length));
  process.stdout.write(
    `${CERT_FILES.map((f) => `wrote ${r.files[f].padEnd(width)}  ${what[f]}`).join('\n')}\n` + `valid until ${r.notAfter.toISOString()}; a development CA: for production, use your own PKI\n`,
  );
}
