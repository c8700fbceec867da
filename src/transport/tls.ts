// TLS for every link between Corfu processes (docs/operations.md, "TLS and
// authorization"). The wire protocol is the same inside TLS, byte for byte; a TLS
// listener speaks only TLS (no STARTTLS, no sniffing), so a plaintext peer fails its
// handshake and is closed without an answer.
//
// - Client side: `tlsDialer` is a Dialer (dialer.ts) whose links are TLS sockets. Its
//   secure context is built once, so a reconnect does not parse the PEM again. The
//   server's certificate must chain to `ca` and name the host dialled (an IP address
//   must be in its subjectAltName), or to `servername` when given.
// - Server side: `createListener` is net.createServer when TLS is off (the plaintext
//   path is exactly what it was: same sockets, no wrapper, no copy) and
//   tls.createServer when it is on; either way the server's code sees a Socket.
// - Reload (SIGHUP, `reloadListenerTls`): a TLS listener takes a new certificate, key
//   and CA for the handshakes that come next (tls.Server#setSecureContext). Connections
//   already open keep the context they were made with: a rotation drops nobody. The new
//   files are checked as at start first; a bad one changes nothing.
// - A handshake that fails on a certificate (unknown CA, wrong name, expired, the
//   server wanting a client certificate the client lacks) is ERR_UNAUTHORIZED with the
//   reason, not ERR_UNAVAILABLE: retrying cannot fix it, and a client that resent
//   until its deadline would hide the cause.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Server, type Socket, createServer, isIP } from 'node:net';
import * as tls from 'node:tls';

import { CorfuError } from '../../bindings/errors.js';
import { FrameDecoder, encodeResponse, errorResponse } from '../wire/index.js';
import type { Dialer } from './dialer.js';
import { writeBatched } from './write-batched.js';

/** PEM text: one string or Buffer, or several (a CA bundle may also be one PEM with several certificates). */
export type Pem = string | Buffer | ReadonlyArray<string | Buffer>;

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** What a client (CorfuClient.connect's `tls`, the manager, the CLI) presents and trusts. */
export interface ClientTlsOptions {
  /** The CA(s) the servers' certificates must chain to. Default: Node's public roots. */
  readonly ca?: Pem;
  /** The client's certificate, for servers that want one (mutual TLS). Needs `key`. */
  readonly cert?: Pem;
  readonly key?: Pem;
  /** The name the server's certificate must carry, when it is not the host dialled. */
  readonly servername?: string;
  /** Default TLSv1.2. */
  readonly minVersion?: TlsVersion;
}

/** A server's TLS: its certificate and key, and whether (and by which CA) it checks clients' certificates. */
export interface ServerTlsOptions {
  readonly cert: Pem;
  readonly key: Pem;
  /** The CA(s) clients' certificates must chain to (needed by `clientCertAuth`). */
  readonly ca?: Pem;
  /** Refuse a client without a certificate that chains to `ca` (etcd's --client-cert-auth). */
  readonly clientCertAuth?: boolean;
  /** Default TLSv1.2. */
  readonly minVersion?: TlsVersion;
}

function isPem(value: unknown): value is Pem {
  const one = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v) || v instanceof Uint8Array;
  return one(value) || (Array.isArray(value) && value.length > 0 && value.every(one));
}

function pemArg(value: unknown, what: string): Pem | undefined {
  if (value === undefined) return undefined;
  if (!isPem(value)) throw new CorfuError('ERR_BAD_REQUEST', `tls.${what} must be PEM text (a string or Buffer, or an array of them)`);
  return value;
}

function versionArg(value: unknown): TlsVersion {
  if (value === undefined) return 'TLSv1.2';
  if (value !== 'TLSv1.2' && value !== 'TLSv1.3') throw new CorfuError('ERR_BAD_REQUEST', `tls.minVersion must be 'TLSv1.2' or 'TLSv1.3', got ${JSON.stringify(value)}`);
  return value;
}

/** `--tls-min-version 1.2|1.3`. */
export function tlsVersion(value: string): TlsVersion {
  if (value === '1.2' || value === 'TLSv1.2') return 'TLSv1.2';
  if (value === '1.3' || value === 'TLSv1.3') return 'TLSv1.3';
  throw new CorfuError('ERR_BAD_REQUEST', `TLS version must be 1.2 or 1.3, got ${JSON.stringify(value)}`);
}

/** Reads a PEM file for a flag; a missing or unreadable file is ERR_BAD_REQUEST naming the flag. */
export function readPemFile(path: string, flag: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CorfuError('ERR_BAD_REQUEST', `${flag} ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!bytes.includes('-----BEGIN ')) throw new CorfuError('ERR_BAD_REQUEST', `${flag} ${path}: not a PEM file (no -----BEGIN line)`);
  return bytes;
}

function context(what: string, options: tls.SecureContextOptions): tls.SecureContext {
  try {
    return tls.createSecureContext(options);
  } catch (err) {
    throw new CorfuError('ERR_BAD_REQUEST', `${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** A client's secure context, checked now: bad PEM or a certificate without its key is ERR_BAD_REQUEST here, not at the first connect. */
export function clientSecureContext(options: ClientTlsOptions): tls.SecureContext {
  if (typeof options !== 'object' || options === null) throw new CorfuError('ERR_BAD_REQUEST', 'tls must be an object { ca, cert, key }');
  const ca = pemArg(options.ca, 'ca');
  const cert = pemArg(options.cert, 'cert');
  const key = pemArg(options.key, 'key');
  if ((cert === undefined) !== (key === undefined)) throw new CorfuError('ERR_BAD_REQUEST', 'tls.cert and tls.key go together: a client certificate needs its private key');
  if (options.servername !== undefined && (typeof options.servername !== 'string' || options.servername === '')) throw new CorfuError('ERR_BAD_REQUEST', 'tls.servername must be a non-empty string');
  return context('tls', {
    minVersion: versionArg(options.minVersion),
    ...(ca === undefined ? {} : { ca: ca as tls.SecureContextOptions['ca'] }),
    ...(cert === undefined ? {} : { cert: cert as tls.SecureContextOptions['cert'], key: key as tls.SecureContextOptions['key'] }),
  });
}

/** Certificate failures: the handshake cannot succeed by trying again. */
const CERT_ERRORS = /CERT|ALTNAME|ISSUER|SIGNATURE|^ERR_SSL_.*ALERT|CA_MD_TOO_WEAK|EE_KEY_TOO_SMALL|NO_SHARED_CIPHER|UNSUPPORTED_PROTOCOL|WRONG_VERSION_NUMBER/;

/** A TLS error of `address`'s link as the Connection reports it: certificate failures are ERR_UNAUTHORIZED. */
export function tlsLinkError(address: string, err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!CERT_ERRORS.test(code)) return err;
  return new CorfuError('ERR_UNAUTHORIZED', `TLS with ${address} failed: ${err.message}${code === '' ? '' : ` (${code})`}`, { cause: err });
}

/** Links over TLS: the same frames, inside TLS. */
export function tlsDialer(options: ClientTlsOptions): Dialer {
  const secureContext = clientSecureContext(options);
  const servername = options.servername;
  return {
    dial(host, port, handlers) {
      const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      // SNI carries names only; an IP host is checked against the certificate's IP SANs.
      const sni = servername ?? (isIP(host) === 0 ? host : undefined);
      const socket = tls.connect({ host, port, secureContext, ...(sni === undefined ? {} : { servername: sni }) });
      socket.setNoDelay(true);
      let lastError: Error | undefined;
      socket.on('secureConnect', () => handlers.onConnect());
      socket.on('data', (chunk: Buffer) => handlers.onData(chunk));
      socket.on('drain', () => handlers.onDrain());
      socket.on('error', (err: Error) => {
        lastError = tlsLinkError(address, err);
      });
      socket.on('close', () => handlers.onClose(lastError));
      return {
        write: (bytes) => writeBatched(socket, bytes),
        destroy: () => {
          socket.destroy();
        },
      };
    },
  };
}

/**
 * The listener of a unit or the sequencer. `onSocket` gets each connection once it
 * can carry frames (after the handshake with TLS). `onHandshakeError` hears a peer
 * whose handshake failed (a plaintext client, a client without an accepted
 * certificate); the server is not affected.
 */
export function createListener(options: ServerTlsOptions | undefined, handshakeTimeoutMs: number, onSocket: (socket: Socket) => void, onHandshakeError: (err: Error, remote: string) => void): Server {
  if (options === undefined) {
    const server = createServer({ noDelay: true });
    server.on('connection', onSocket);
    return server;
  }
  const server = tls.createServer({
    cert: options.cert as tls.SecureContextOptions['cert'],
    key: options.key as tls.SecureContextOptions['key'],
    ...(options.ca === undefined ? {} : { ca: options.ca as tls.SecureContextOptions['ca'] }),
    requestCert: options.clientCertAuth === true,
    // Checked below instead: with TLS 1.3 a refused certificate is only a close on the
    // client's side (the handshake looked done to it), so the refusal is sent as an answer.
    rejectUnauthorized: false,
    minVersion: versionArg(options.minVersion),
    handshakeTimeout: handshakeTimeoutMs,
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.setNoDelay(true);
    if (options.clientCertAuth === true && !socket.authorized) {
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      const cert = socket.getPeerCertificate();
      const why = cert === null || Object.keys(cert).length === 0 ? 'no client certificate' : `client certificate refused (${String(socket.authorizationError)})`;
      onHandshakeError(new Error(why), remote);
      refuseConnection(socket, why, handshakeTimeoutMs);
      return;
    }
    onSocket(socket);
  });
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => onHandshakeError(err, `${socket.remoteAddress}:${socket.remotePort}`));
  return server;
}

/** The most bytes read from a refused peer while waiting for its first frame. */
const REFUSED_READ_BYTES = 4096;

/**
 * A peer whose certificate was refused: its first frame (the client's AUTH) is answered
 * ERR_UNAUTHORIZED with the reason, and the connection closed. Nothing else is read or
 * served; a peer that sends no frame in time, or a bigger one, is cut.
 */
function refuseConnection(socket: tls.TLSSocket, why: string, timeoutMs: number): void {
  const decoder = new FrameDecoder();
  let read = 0;
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  timer.unref();
  socket.on('error', () => {});
  socket.on('close', () => clearTimeout(timer));
  socket.on('data', (chunk: Buffer) => {
    read += chunk.length;
    decoder.push(chunk);
    const r = decoder.pull();
    if (r.kind === 'frame' && r.frame.type === 'request') {
      const req = r.frame;
      socket.removeAllListeners('data');
      socket.pause();
      socket.end(encodeResponse(errorResponse(req.op, req.requestId, req.epoch, new CorfuError('ERR_UNAUTHORIZED', `TLS: ${why}`))));
    } else if (r.kind !== 'need' || read > REFUSED_READ_BYTES) {
      socket.destroy();
    }
  });
}

/** Checks a server's TLS options now (bad PEM, a key that is not the certificate's), so a server refuses to start rather than every handshake failing. */
export function checkServerTls(options: ServerTlsOptions): void {
  if (options.clientCertAuth === true && options.ca === undefined)
    throw new CorfuError('ERR_BAD_REQUEST', 'client certificate authentication needs the CA that signs client certificates (--trusted-ca-file)');
  context('TLS', {
    cert: pemArg(options.cert, 'cert') as tls.SecureContextOptions['cert'],
    key: pemArg(options.key, 'key') as tls.SecureContextOptions['key'],
    ...(options.ca === undefined ? {} : { ca: pemArg(options.ca, 'ca') as tls.SecureContextOptions['ca'] }),
    minVersion: versionArg(options.minVersion),
  });
  const first = Array.isArray(options.cert) ? (options.cert as ReadonlyArray<string | Buffer>)[0]! : (options.cert as string | Buffer);
  try {
    const cert = new X509Certificate(first);
    if (cert.validTo !== '' && Date.parse(cert.validTo) < Date.now()) throw new CorfuError('ERR_BAD_REQUEST', `the server certificate expired on ${cert.validTo}`);
  } catch (err) {
    if (err instanceof CorfuError) throw err;
    throw new CorfuError('ERR_BAD_REQUEST', `the server certificate does not parse: ${(err as Error).message}`, { cause: err });
  }
}

/** What a TLS server re-reads to rotate its certificate: the rest of its options stay as started. */
export interface ServerCredentials {
  readonly cert: Pem;
  readonly key: Pem;
  readonly ca?: Pem;
}

/**
 * Gives `server` (a TLS listener from createListener, started with `current`) a new
 * certificate, key and CA for every handshake from now on; open connections are not
 * touched. Checked first like at start (checkServerTls): a file that does not parse, a
 * key that is not the certificate's, an expired certificate, or no CA while client
 * certificates are checked is ERR_BAD_REQUEST and the old context stays. Returns the
 * options now in force.
 */
export function reloadListenerTls(server: Server, current: ServerTlsOptions | undefined, next: ServerCredentials): ServerTlsOptions {
  if (current === undefined || !(server instanceof tls.Server)) throw new CorfuError('ERR_BAD_REQUEST', 'this server was started without TLS: there is no certificate to reload');
  const options: ServerTlsOptions = {
    cert: next.cert,
    key: next.key,
    ...(next.ca === undefined ? {} : { ca: next.ca }),
    ...(current.clientCertAuth === undefined ? {} : { clientCertAuth: current.clientCertAuth }),
    ...(current.minVersion === undefined ? {} : { minVersion: current.minVersion }),
  };
  checkServerTls(options);
  // setSecureContext resets every option it is not given (minVersion among them): give
  // what createListener gave. requestCert and the handshake timeout are the server's own.
  server.setSecureContext({
    cert: options.cert as tls.SecureContextOptions['cert'],
    key: options.key as tls.SecureContextOptions['key'],
    ...(options.ca === undefined ? {} : { ca: options.ca as tls.SecureContextOptions['ca'] }),
    minVersion: versionArg(options.minVersion),
  });
  return options;
}
