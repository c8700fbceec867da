// SIGHUP: `corfu unit` and `corfu sequencer` read --cert-file, --key-file and
// --trusted-ca-file again and hand them to their listener (reloadListenerTls in
// src/transport/tls.ts), so a certificate is rotated without a restart: connections
// already open keep going, new ones get the new certificate. One info line says what
// is in force now; a file that is missing, not PEM, or does not fit (a key that is not
// the certificate's, an expired certificate) is one error line, and the old
// certificate stays. systemd's `systemctl reload` sends SIGHUP (packaging/systemd).
//
// Tokens and --role-map-file are not re-read: they take a restart. A server started
// without TLS logs that there is nothing to reload, and goes on: SIGHUP never stops a
// server (without a handler Node would exit on it).

import { X509Certificate } from 'node:crypto';

import type { Logger } from '../log/logger.js';
import type { ServerCredentials } from '../transport/tls.js';
import { readServerCredentials, type ServerSecurityFlags } from './security.js';

/** A server whose TLS can be reloaded (UnitServer, SequencerServer). */
export interface Reloadable {
  reloadTls(next: ServerCredentials): void;
}

function describeCert(pem: ServerCredentials['cert']): { subject: string; notAfter: string; fingerprint256: string } | undefined {
  const first = Array.isArray(pem) ? (pem as ReadonlyArray<string | Buffer>)[0] : (pem as string | Buffer);
  try {
    const cert = new X509Certificate(first!);
    return { subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(cert.validTo).toISOString(), fingerprint256: cert.fingerprint256 };
  } catch {
    return undefined;
  }
}

/**
 * Handles SIGHUP from now on: re-reads the flags' files and reloads `server()` (undefined
 * while it is not listening yet). For the life of the process: a SIGHUP while it shuts
 * down is answered the same way, rather than killing it halfway.
 */
export function reloadTlsOnSighup(flags: ServerSecurityFlags, log: Logger, server: () => Reloadable | undefined): void {
  const onHup = (): void => {
    if (flags.certFile === undefined) {
      log.info({ signal: 'SIGHUP' }, 'SIGHUP: this server has no TLS (no --cert-file): nothing to reload');
      return;
    }
    const target = server();
    if (target === undefined) {
      log.warn({ signal: 'SIGHUP' }, 'SIGHUP before the listener started: nothing to reload (the files are read as it starts)');
      return;
    }
    try {
      const next = readServerCredentials(flags)!;
      target.reloadTls(next);
      const cert = describeCert(next.cert);
      log.info(
        { signal: 'SIGHUP', certFile: flags.certFile, keyFile: flags.keyFile, trustedCaFile: flags.trustedCaFile, ...cert },
        `SIGHUP: reloaded the TLS certificate${flags.trustedCaFile === undefined ? ' and key' : ', key and CA'} for new connections${cert === undefined ? '' : ` (${cert.subject}, valid until ${cert.notAfter})`}; open connections keep theirs`,
      );
    } catch (err) {
      log.error({ signal: 'SIGHUP', certFile: flags.certFile }, `SIGHUP: kept the previous TLS certificate: ${(err as Error).message}`);
    }
  };
  process.on('SIGHUP', onHup);
}
