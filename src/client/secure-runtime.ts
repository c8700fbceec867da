// A ClientRuntime whose links carry credentials: TLS (tls.ts) and an AUTH token
// (auth.ts). CorfuClient.connect, the manager and the CLI take one from the
// `tls` / `authToken` options. It is cached per base runtime and credentials, so the
// clients of a process that use the same credentials share one pool of connections
// (server-pool.ts keys its pools by runtime), and clients with other credentials
// never borrow theirs.

import { createHash } from 'node:crypto';

import { CorfuError } from '../../bindings/errors.js';
import { authDialer } from '../transport/auth.js';
import { tlsDialer, type ClientTlsOptions, type Pem } from '../transport/tls.js';
import type { ClientRuntime } from './runtime.js';

export interface ClientCredentials {
  /** TLS to every unit and the sequencer (PEM: `ca` to trust; `cert` and `key` for mutual TLS). */
  readonly tls?: ClientTlsOptions;
  /** The token for servers that want one (AUTH); its role is the server's to say. */
  readonly authToken?: string | Uint8Array;
}

const cache = new WeakMap<ClientRuntime, Map<string, ClientRuntime>>();

function pemParts(pem: Pem | undefined): string[] {
  if (pem === undefined) return ['-'];
  const list = Array.isArray(pem) ? (pem as ReadonlyArray<string | Buffer>) : [pem as string | Buffer];
  return list.map((p) => Buffer.from(p).toString('base64'));
}

/** A digest of the credentials: equal credentials share connections. */
function credentialsKey(c: ClientCredentials): string {
  const h = createHash('sha256');
  const tls = c.tls;
  h.update(
    JSON.stringify([
      tls === undefined ? null : [pemParts(tls.ca), pemParts(tls.cert), pemParts(tls.key), tls.servername ?? null, tls.minVersion ?? null],
      c.authToken === undefined ? null : Buffer.from(c.authToken).toString('base64'),
    ]),
  );
  return h.digest('hex');
}

function tokenArg(token: unknown): Uint8Array | undefined {
  if (token === undefined) return undefined;
  if (typeof token === 'string' && token !== '') return Buffer.from(token, 'utf8');
  if (token instanceof Uint8Array && token.length > 0) return token;
  throw new CorfuError('ERR_BAD_REQUEST', 'authToken must be a non-empty string or Uint8Array');
}

/** `base` itself without credentials; otherwise the (cached) runtime whose links present them. */
export function securedRuntime(base: ClientRuntime, credentials: ClientCredentials): ClientRuntime {
  const token = tokenArg(credentials.authToken);
  if (credentials.tls === undefined && token === undefined) return base;
  const key = credentialsKey(credentials);
  let byKey = cache.get(base);
  if (byKey === undefined) cache.set(base, (byKey = new Map<string, ClientRuntime>()));
  let runtime = byKey.get(key);
  if (runtime === undefined) {
    // TLS replaces the base's TCP links; AUTH goes first on whichever links there are.
    const links = credentials.tls === undefined ? base.dialer : tlsDialer(credentials.tls);
    runtime = { clock: base.clock, defer: (fn) => base.defer(fn), dialer: authDialer(links, token) };
    byKey.set(key, runtime);
  }
  return runtime;
}
