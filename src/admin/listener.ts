// The admin HTTP listener every server runs beside its wire protocol port:
// GET /livez, /readyz[?verbose], /metrics (Prometheus text) and /status (JSON).
// Plain HTTP on loopback by default: it tells how the server is doing, it
// changes nothing, and it is not on the data path (docs/operations.md).
//
// - /livez: 200 whenever the event loop runs this handler. Draining is not
//   death: a server shutting down is still alive until it exits.
// - /readyz: the server's checks (readiness.ts) plus `shutdown`, which fails
//   from the moment drain() is called (SIGTERM): a prober sees 503 before the
//   server stops answering its peers.
// - /metrics: the server's own prom-client Registry (never the global one:
//   several servers in one test process must not share counters).
// - /status: whatever the server says about itself, as JSON.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import type { Registry } from 'prom-client';

import { evaluate, readinessText, type ReadinessCheck } from './readiness.js';

export interface AdminSources {
  readonly registry: Registry;
  readonly checks: readonly ReadinessCheck[];
  readonly status: () => unknown;
}

export interface AdminListenerOptions extends AdminSources {
  readonly host: string;
  /** 0 picks a free port; address() says which. */
  readonly port: number;
  /** Where to report a failed scrape or status; default stderr. */
  readonly log?: (line: string) => void;
}

/** The admin listener could not bind its address (in use, no such interface). */
export class AdminListenError extends Error {
  override readonly name = 'AdminListenError';
}

/** A request's whole handling, past which the socket is cut (a slow or stuck scraper holds nothing for long). */
const REQUEST_TIMEOUT_MS = 10_000;

export class AdminListener {
  readonly #server: Server;
  readonly #sources: AdminSources;
  readonly #sockets = new Set<Socket>();
  #draining: string | undefined;

  private constructor(server: Server, sources: AdminSources) {
    this.#server = server;
    this.#sources = sources;
  }

  static async start(options: AdminListenerOptions): Promise<AdminListener> {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const server = createServer();
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    const admin = new AdminListener(server, options);
    server.on('connection', (socket: Socket) => {
      admin.#sockets.add(socket);
      socket.once('close', () => admin.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      admin.#handle(req, res).catch((err: unknown) => {
        log(`admin: ${req.url ?? '?'}: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
        reject(new AdminListenError(`cannot listen for admin requests on ${hostPort(options.host, options.port)}: ${why}`));
      };
      server.once('error', onError);
      server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => log(`admin: listener error: ${err.message}`));
    return admin;
  }

  /** Where it listens (the actual port when 0 was asked for). */
  get address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Why the server is draining, once drain() was called. */
  get draining(): string | undefined {
    return this.#draining;
  }

  /** From now on /readyz fails its `shutdown` check with `reason`. The first reason stays. */
  drain(reason: string): void {
    this.#draining ??= reason;
  }

  /** Stops listening and cuts the open connections (a scraper's keep-alive must not hold the process). */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
      return;
    }
    switch (url.pathname) {
      case '/livez':
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/readyz': {
        const shutdown = { name: 'shutdown', check: () => (this.#draining === undefined ? undefined : `draining: ${this.#draining}`) };
        const r = await evaluate([...this.#sources.checks, shutdown]);
        send(res, r.ready ? 200 : 503, 'text/plain; charset=utf-8', readinessText(r, url.searchParams.has('verbose')));
        return;
      }
      case '/metrics':
        send(res, 200, this.#sources.registry.contentType, await this.#sources.registry.metrics());
        return;
      case '/status':
        send(res, 200, 'application/json', `${JSON.stringify({ ...((await this.#sources.status()) as object), draining: this.#draining ?? null }, null, 2)}\n`);
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found: try /livez, /readyz, /metrics or /status\n');
    }
  }
}

function send(res: ServerResponse, code: number, contentType: string, body: string): void {
  res.writeHead(code, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** `host:port`, with brackets around an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
