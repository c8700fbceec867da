// Who may do what on a server's connection (docs/operations.md, "TLS and
// authorization"; the table of opcodes is src/wire/roles.ts).
//
// A connection has a role, `client` or `admin`, or none yet:
// - a server with no credentials configured trusts every peer (the role is admin):
//   Corfu as it always was, which the CLI allows only on loopback;
// - with client certificates (mutual TLS), the role comes from the peer's
//   certificate: a role-map entry that matches its subject, else its subject's OU
//   (`OU=admin` or `OU=client`), else none;
// - with tokens, a connection gets the role of the token it sends in AUTH, its first
//   frame. A wrong token is answered ERR_UNAUTHORIZED and the connection closed (one
//   guess per connection).
// A request the role may not send is answered ERR_UNAUTHORIZED and changes nothing;
// the connection stays open, as for any refused request.
//
// Tokens are compared as SHA-256 digests with timingSafeEqual (equal lengths whatever
// the token's), against the admin and the client token both, so the time an answer
// takes says nothing about either.
//
// The client side is `authDialer`: it wraps a Dialer so that a link reports itself
// connected only after the server answered AUTH, so a Connection never sends a request
// on a link the server has not accepted. A refusal (a wrong token, a certificate the
// server did not take) fails the connect with ERR_UNAUTHORIZED.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';

import { CorfuError } from '../../bindings/errors.js';
import { FrameDecoder, MAX_AUTH_TOKEN_BYTES, encodeRequest, encodeResponse, errorResponse, maySend } from '../wire/index.js';
import type { AuthRequest, Op, Response, Role } from '../wire/index.js';
import type { Dialer, Link } from './dialer.js';

// ---- server side --------------------------------------------------------------

/** One role-map rule: every attribute listed must be in the certificate's subject with that value. */
export interface RoleRule {
  readonly subject: ReadonlyArray<readonly [string, string]>;
  readonly role: Role;
}

export interface ServerAuthOptions {
  /** The token of the client role (AUTH). */
  readonly clientToken?: string | Uint8Array;
  /** The token of the admin role (AUTH). */
  readonly adminToken?: string | Uint8Array;
  /** Take the role from the client's certificate (the listener checks certificates: mutual TLS). */
  readonly certificates?: boolean;
  /** Subject -> role rules tried before the OU, first match wins (--role-map-file). */
  readonly roleMap?: readonly RoleRule[];
}

function digest(token: Uint8Array): Buffer {
  return createHash('sha256').update(token).digest();
}

function tokenBytes(token: string | Uint8Array, what: string): Buffer {
  const bytes = typeof token === 'string' ? Buffer.from(token, 'utf8') : Buffer.from(token);
  if (bytes.length === 0) throw new CorfuError('ERR_BAD_REQUEST', `the ${what} token is empty`);
  if (bytes.length > MAX_AUTH_TOKEN_BYTES) throw new CorfuError('ERR_BAD_REQUEST', `the ${what} token is ${bytes.length} bytes, at most ${MAX_AUTH_TOKEN_BYTES}`);
  return bytes;
}

/** A token file's token: its text without the trailing newline an editor adds. */
export function readTokenFile(path: string, flag: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CorfuError('ERR_BAD_REQUEST', `${flag} ${path}: ${(err as Error).message}`, { cause: err });
  }
  const token = text.replace(/\r?\n$/, '');
  if (token === '' || token.includes('\n')) throw new CorfuError('ERR_BAD_REQUEST', `${flag} ${path}: expected one line holding the token`);
  return tokenBytes(token, flag);
}

const ROLES: readonly Role[] = ['client', 'admin'];

/**
 * `--role-map-file`: JSON `{ "SUBJECT": "admin" | "client", ... }`, where SUBJECT is
 * comma-separated `ATTR=value` pairs (e.g. `"O=Acme,CN=backup"`); the first rule, in
 * file order, whose every pair the certificate's subject has, gives the role.
 */
export function parseRoleMap(text: string, where: string): RoleRule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CorfuError('ERR_BAD_REQUEST', `${where}: not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CorfuError('ERR_BAD_REQUEST', `${where}: expected an object { "CN=name": "admin" | "client", ... }`);
  return Object.entries(raw).map(([subject, role]) => {
    if (!ROLES.includes(role as Role)) throw new CorfuError('ERR_BAD_REQUEST', `${where}: the role of ${JSON.stringify(subject)} must be "admin" or "client", got ${JSON.stringify(role)}`);
    const pairs = subject.split(',').map((part) => {
      const m = /^\s*([A-Za-z][A-Za-z0-9.]*)\s*=\s*(.*?)\s*$/.exec(part);
      if (m === null || m[2] === '') throw new CorfuError('ERR_BAD_REQUEST', `${where}: ${JSON.stringify(subject)} is not a subject like "O=Acme,CN=alice"`);
      return [m[1]!, m[2]!] as const;
    });
    return { subject: pairs, role: role as Role };
  });
}

export function readRoleMapFile(path: string): RoleRule[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CorfuError('ERR_BAD_REQUEST', `--role-map-file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseRoleMap(text, `--role-map-file ${path}`);
}

type Subject = Readonly<Record<string, string | readonly string[] | undefined>>;

function has(subject: Subject, attr: string, value: string): boolean {
  const v = subject[attr];
  return Array.isArray(v) ? v.includes(value) : v === value;
}

/** The role a certificate subject gives: a role-map rule, else its OU, else none. */
export function roleOfSubject(subject: Subject | undefined, roleMap: readonly RoleRule[]): Role | undefined {
  if (subject === undefined) return undefined;
  for (const rule of roleMap) if (rule.subject.every(([attr, value]) => has(subject, attr, value))) return rule.role;
  // Both OUs on one certificate: the stronger is not taken on a guess.
  const admin = has(subject, 'OU', 'admin');
  const client = has(subject, 'OU', 'client');
  if (admin && !client) return 'admin';
  if (client && !admin) return 'client';
  return undefined;
}

/** What the AUTH request earned: the connection's new role, or a refusal after which the server closes the connection. */
export type AuthOutcome = { readonly role: Role } | { readonly refused: CorfuError };

export class ServerAuth {
  readonly #client: Buffer | undefined;
  readonly #admin: Buffer | undefined;
  readonly #certificates: boolean;
  readonly #roleMap: readonly RoleRule[];

  constructor(options: ServerAuthOptions = {}) {
    this.#client = options.clientToken === undefined ? undefined : digest(tokenBytes(options.clientToken, 'client'));
    this.#admin = options.adminToken === undefined ? undefined : digest(tokenBytes(options.adminToken, 'admin'));
    if (this.#client !== undefined && this.#admin !== undefined && timingSafeEqual(this.#client, this.#admin)) {
      throw new CorfuError('ERR_BAD_REQUEST', 'the client and admin tokens are the same: a client could act as admin');
    }
    this.#certificates = options.certificates === true;
    this.#roleMap = options.roleMap ?? [];
  }

  /** Whether anything is checked: false means every peer is admin. */
  get enforced(): boolean {
    return this.#certificates || this.#client !== undefined || this.#admin !== undefined;
  }

  get tokens(): boolean {
    return this.#client !== undefined || this.#admin !== undefined;
  }

  /** A new connection's role before any AUTH. */
  initialRole(socket: object): Role | undefined {
    if (!this.enforced) return 'admin';
    if (!this.#certificates) return undefined;
    const cert = (socket as Partial<TLSSocket>).getPeerCertificate?.();
    return roleOfSubject(cert?.subject, this.#roleMap);
  }

  /** Answers an AUTH on a connection whose role is `current`. */
  authenticate(current: Role | undefined, token: Uint8Array): AuthOutcome {
    if (token.length === 0) {
      if (current !== undefined) return { role: current };
      return {
        refused: new CorfuError(
          'ERR_UNAUTHORIZED',
          this.tokens
            ? 'no credentials: this server wants a token (AUTH) or a client certificate with a role'
            : 'the client certificate carries no role (OU=client or OU=admin, or a --role-map-file entry)',
        ),
      };
    }
    if (!this.tokens) {
      if (current !== undefined) return { role: current };
      return { refused: new CorfuError('ERR_UNAUTHORIZED', 'this server takes no tokens; its roles come from client certificates') };
    }
    const d = digest(token);
    // Both comparisons, always: which one matched must not show in the time taken.
    const admin = this.#admin !== undefined && timingSafeEqual(d, this.#admin);
    const client = this.#client !== undefined && timingSafeEqual(d, this.#client);
    if (admin) return { role: 'admin' };
    if (client) return { role: 'client' };
    return { refused: new CorfuError('ERR_UNAUTHORIZED', 'wrong token') };
  }
}

/** The refusal of a request `role` may not send, or undefined when it may. */
export function refusal(role: Role | undefined, op: Op): CorfuError | undefined {
  if (maySend(role, op)) return undefined;
  if (role === undefined) return new CorfuError('ERR_UNAUTHORIZED', `${op} refused: the connection has not authenticated (send AUTH with a token, or connect with a client certificate)`);
  return new CorfuError('ERR_UNAUTHORIZED', `${op} needs the admin role; this connection's role is ${role}`);
}

/** The answer to an AUTH request. */
export function authAnswer(req: AuthRequest, outcome: AuthOutcome): Response {
  if ('refused' in outcome) return errorResponse('AUTH', req.requestId, req.epoch, outcome.refused);
  return { type: 'response', op: 'AUTH', requestId: req.requestId, epoch: req.epoch, status: 'OK', role: outcome.role };
}

export function encodeAuthAnswer(req: AuthRequest, outcome: AuthOutcome): Buffer {
  return encodeResponse(authAnswer(req, outcome));
}

// ---- client side --------------------------------------------------------------

/** The request id of AUTH: a Connection's own ids start at 1, so the answer cannot be mistaken for one of them. */
const AUTH_REQUEST_ID = 0;

/**
 * Wraps `inner` so that every link first sends AUTH with `token` (empty: only ask the
 * role, which confirms the server accepted the TLS client certificate) and reports
 * itself connected once the server answered OK. `onRole` hears the role granted.
 */
export function authDialer(inner: Dialer, token: Uint8Array | undefined, onRole?: (address: string, role: Role) => void): Dialer {
  const frame = encodeRequest({ type: 'request', op: 'AUTH', requestId: AUTH_REQUEST_ID, epoch: 0, token: token ?? new Uint8Array(0) });
  return {
    dial(host, port, handlers) {
      const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      let ready = false;
      let failure: Error | undefined;
      const decoder = new FrameDecoder();
      const fail = (error: Error): void => {
        failure ??= error;
        link.destroy();
      };
      const link: Link = inner.dial(host, port, {
        onConnect: () => {
          link.write(frame);
        },
        onData: (chunk) => {
          if (ready) {
            handlers.onData(chunk);
            return;
          }
          decoder.push(chunk);
          const r = decoder.pull();
          if (r.kind === 'need') return;
          if (r.kind === 'error') return fail(new CorfuError('ERR_UNAVAILABLE', `AUTH with ${address}: protocol error: ${r.error.message}`));
          const res = r.frame;
          if (res.type !== 'response' || res.op !== 'AUTH' || res.requestId !== AUTH_REQUEST_ID)
            return fail(new CorfuError('ERR_UNAVAILABLE', `AUTH with ${address}: the server answered ${res.op} ${res.type}`));
          if (res.status !== 'OK') return fail(new CorfuError(res.status, `${address} refused the connection: ${res.message}`));
          // The server sends nothing unasked, so nothing may follow the answer before a request.
          if (decoder.buffered > 0) return fail(new CorfuError('ERR_UNAVAILABLE', `AUTH with ${address}: bytes after the answer`));
          ready = true;
          onRole?.(address, res.role);
          handlers.onConnect();
        },
        onDrain: () => {
          if (ready) handlers.onDrain();
        },
        onClose: (err) => handlers.onClose(failure ?? err),
      });
      return link;
    },
  };
}
