// openProjectionStore: a layout URL to a ProjectionStore. The etcd store (and
// with it gRPC) is loaded only when an etcd:// URL is opened, so file: users
// and `import 'corfu'` never pay for it.

import { stat } from 'node:fs/promises';

import { CorfuError } from '../../bindings/errors.js';
import { FileProjectionStore } from './file-store.js';
import type { ProjectionStore } from './store.js';
import { parseStoreUrl } from './store-url.js';

/** TLS to etcd (PEM): the CA its certificate chains to, and a client certificate when etcd runs with --client-cert-auth. Never in a layout URL. */
export interface EtcdTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface OpenStoreOptions {
  /** etcd: speak TLS (https) to the endpoints. */
  readonly tls?: EtcdTlsOptions;
  /** etcd: the deadline of each request to etcd. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** file: how often a watch lists the directory. Default 100 ms. */
  readonly pollMs?: number;
}

/**
 * Opens the projection store named by `url`:
 * - `file:DIR` (DIR relative to the working directory or absolute) or
 *   `file:///abs/dir`; the directory is made on the first proposal;
 * - `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`: etcd v3, keys under PREFIX/.
 *   Nothing is sent until the first call: an unreachable etcd fails that
 *   call with ERR_UNAVAILABLE.
 * A malformed URL is ERR_BAD_REQUEST naming the part at fault.
 */
export async function openProjectionStore(url: string, options: OpenStoreOptions = {}): Promise<ProjectionStore> {
  const location = parseStoreUrl(url);
  if (location.kind === 'etcd') {
    const { EtcdProjectionStore } = await import('./etcd-store.js');
    return new EtcdProjectionStore(location.endpoints, location.prefix, {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
  }
  try {
    const s = await stat(location.dir);
    if (!s.isDirectory()) throw new CorfuError('ERR_BAD_REQUEST', `projection store ${url}: ${location.dir} is not a directory`);
  } catch (err) {
    if (err instanceof CorfuError) throw err;
    if ((err as { code?: unknown }).code !== 'ENOENT') {
      throw new CorfuError('ERR_IO', `projection store: cannot stat ${location.dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  return new FileProjectionStore(location.dir, options.pollMs === undefined ? {} : { pollMs: options.pollMs });
}
