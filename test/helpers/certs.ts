// Test certificates, made with `openssl` at test time in a temp dir: a CA, a server
// certificate for 127.0.0.1 (and any other IPs asked), client certificates with a
// subject the roles are read from (OU=client, OU=admin, ...), and a second CA that
// signs nothing the servers trust.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly caPem: Buffer;
  /** A CA nobody trusts. */
  readonly otherCa: string;
  readonly otherCaPem: Buffer;
  readonly server: CertPair;
  /** A certificate signed by the trusted CA for `subject` (e.g. "/O=corfu/OU=client/CN=app"). */
  client(name: string, subject: string, signer?: 'ca' | 'other'): CertPair;
  cleanup(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=corfu test ${name}`);
}

function sign(dir: string, name: string, subject: string, signer: string, ext: string): CertPair {
  openssl(dir, 'req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  return { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
}

export function makePki(serverIps: readonly string[] = []): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'corfu-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other');
  const sans = ['127.0.0.1', ...serverIps].map((ip) => `IP:${ip}`).join(',');
  const server = sign(dir, 'server', '/O=corfu/CN=corfu server', 'ca', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    caPem: readFileSync(join(dir, 'ca.crt')),
    otherCa: join(dir, 'other.crt'),
    otherCaPem: readFileSync(join(dir, 'other.crt')),
    server,
    client: (name, subject, signer = 'ca') => sign(dir, name, subject, signer, 'extendedKeyUsage=clientAuth\n'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
