// Test certificates, made at test time in a temp dir by the code of `corfu certs init`
// (src/cli/certs.ts: @peculiar/x509 over Node's WebCrypto, ECDSA P-256): a CA, a server
// certificate for 127.0.0.1 and localhost (and any other IPs asked), client
// certificates with a subject the roles are read from (OU=client, OU=admin, ...), and a
// second CA that signs nothing the servers trust.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createCa, issueCertificate, type Issued } from '../../src/cli/certs.js';

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
  /** A client certificate signed by the trusted CA (or the other) for `subject` (e.g. "O=corfu, OU=client, CN=app"). */
  client(name: string, subject: string, signer?: 'ca' | 'other'): Promise<CertPair>;
  cleanup(): void;
}

const DAYS = 2;

function save(dir: string, name: string, issued: Issued): CertPair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, issued.certPem);
  writeFileSync(key, issued.keyPem, { mode: 0o600 });
  return { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
}

export async function makePki(serverIps: readonly string[] = []): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'corfu-pki-'));
  const ca = await createCa('CN=corfu test ca', { days: DAYS });
  const other = await createCa('CN=corfu test other', { days: DAYS });
  save(dir, 'ca', ca);
  save(dir, 'other', other);
  const server = save(dir, 'server', await issueCertificate(ca, { subject: 'O=corfu, CN=corfu server', usage: 'server', hosts: ['127.0.0.1', 'localhost', ...serverIps], days: DAYS }));
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    caPem: readFileSync(join(dir, 'ca.crt')),
    otherCa: join(dir, 'other.crt'),
    otherCaPem: readFileSync(join(dir, 'other.crt')),
    server,
    client: async (name, subject, signer = 'ca') => save(dir, name, await issueCertificate(signer === 'ca' ? ca : other, { subject, usage: 'client', days: DAYS })),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
