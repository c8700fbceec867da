// Layout URLs: which projection store a `--store`/`--layout` URL names.
// Pure: no I/O (the file store's directory is checked when it is opened).
//
//   file:DIR, file:///abs/dir                     the embedded store, one file per epoch
//   etcd://HOST:PORT[,HOST:PORT...]/PREFIX        etcd v3; keys under PREFIX/
//
// A malformed URL is ERR_BAD_REQUEST naming the part at fault.

import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CorfuError } from '../../bindings/errors.js';

export const STORE_URL_FORMS = 'file:DIR or etcd://HOST:PORT[,HOST:PORT...]/PREFIX';
const ETCD_FORM = 'etcd://HOST:PORT[,HOST:PORT...]/PREFIX';

export type StoreLocation =
  | { readonly kind: 'file'; readonly dir: string }
  | {
      readonly kind: 'etcd';
      /** HOST:PORT of each etcd member, in the URL's order (IPv6 hosts keep their brackets). */
      readonly endpoints: readonly string[];
      /** The key prefix, without leading or trailing slash: keys are `${prefix}/...`. */
      readonly prefix: string;
    };

function bad(url: string, what: string): CorfuError {
  return new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: ${what}`);
}

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
// One path segment of the prefix: what etcd keys and shells carry without quoting.
const PREFIX_SEGMENT = /^[A-Za-z0-9._~-]+$/;

function parseEndpoint(url: string, endpoint: string): string {
  const colon = endpoint.lastIndexOf(':');
  if (endpoint === '') throw bad(url, `an empty endpoint in the host list; expected ${ETCD_FORM}`);
  if (colon <= 0 || (endpoint.includes('::') && !endpoint.startsWith('['))) {
    throw bad(url, `endpoint '${endpoint}' has no port; expected HOST:PORT (IPv6 as [ADDR]:PORT)`);
  }
  const host = endpoint.slice(0, colon);
  const portText = endpoint.slice(colon + 1);
  if (!HOST_NAME.test(host) && !IPV6.test(host)) throw bad(url, `endpoint '${endpoint}' has an invalid host '${host}'`);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw bad(url, `endpoint '${endpoint}' has an invalid port '${portText}' (1..65535)`);
  return `${host}:${port}`;
}

function parseEtcd(url: string): StoreLocation {
  if (!url.startsWith('etcd://')) throw bad(url, `expected ${ETCD_FORM}`);
  const rest = url.slice('etcd://'.length);
  if (/[?#]/.test(rest)) throw bad(url, 'query strings and fragments are not supported (TLS and authentication are not built yet)');
  const slash = rest.indexOf('/');
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  if (hostList.includes('@')) throw bad(url, 'credentials in the URL are not supported (authentication is not built yet)');
  if (hostList === '') throw bad(url, `no etcd endpoints; expected ${ETCD_FORM}`);
  const endpoints = hostList.split(',').map((e) => parseEndpoint(url, e));
  if (new Set(endpoints).size !== endpoints.length) throw bad(url, 'an endpoint is listed twice');
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  if (path === '') throw bad(url, `no key prefix; expected ${ETCD_FORM} (e.g. etcd://127.0.0.1:2379/corfu)`);
  const segments = path.replace(/\/$/, '').split('/');
  for (const segment of segments) {
    if (!PREFIX_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw bad(url, `key prefix '${path}' has an invalid segment '${segment}' (letters, digits and . _ ~ - between single slashes)`);
    }
  }
  return { kind: 'etcd', endpoints, prefix: segments.join('/') };
}

function parseFile(url: string): StoreLocation {
  let dir: string;
  if (url.startsWith('file://')) {
    try {
      dir = fileURLToPath(url);
    } catch (err) {
      throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: ${(err as Error).message}`, { cause: err });
    }
  } else {
    dir = url.slice('file:'.length);
  }
  if (dir === '') throw bad(url, 'no directory given; expected file:DIR');
  return { kind: 'file', dir: isAbsolute(dir) ? dir : resolve(dir) };
}

/** What a layout URL names. Relative file: directories resolve against the working directory. */
export function parseStoreUrl(url: string): StoreLocation {
  if (typeof url !== 'string' || url === '') {
    throw new CorfuError('ERR_BAD_REQUEST', `projection store URL is empty; expected ${STORE_URL_FORMS}`);
  }
  if (url.startsWith('file:')) return parseFile(url);
  if (/^etcd:/i.test(url)) return parseEtcd(url);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1];
  const hint = scheme === undefined ? ` (did you mean file:${url}?)` : ` (unsupported scheme ${scheme}:)`;
  throw bad(url, `expected ${STORE_URL_FORMS}${hint}`);
}
