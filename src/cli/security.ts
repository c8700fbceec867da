// The CLI's TLS and authorization flags (docs/operations.md, "TLS and authorization").
//
// Server verbs (`corfu unit`, `corfu sequencer`) take etcd's flag names:
//   --cert-file, --key-file          serve TLS (only TLS) with this certificate
//   --trusted-ca-file                the CA that signs client certificates
//   --client-cert-auth               refuse clients without such a certificate; their
//                                    role comes from it (OU=client|admin, --role-map-file)
//   --tls-min-version 1.2|1.3        default 1.2
//   --role-map-file F                JSON { "O=Acme,CN=job": "admin", ... }
//   --auth-token-file F              the client role's token (AUTH)
//   --admin-token-file F             the admin role's token (AUTH)
//   --insecure                       listen on a non-loopback address with neither TLS
//                                    nor a token (every peer may do everything)
// Verbs that connect (`append`, `read`, `status`, `layout`, `kv`, `bench`, `manager`):
//   --ca-file F                      speak TLS to units and the sequencer, trusting F
//   --cert-file F, --key-file F      the client certificate (mutual TLS)
//   --token-file F                   the token sent in AUTH
//   --etcd-ca-file, --etcd-cert-file, --etcd-key-file   TLS to an etcd layout store
// A verb parses its flags into the process's credentials (`useClientFlags`), which
// every connection the verb opens takes (`cliRuntime`, `cliStoreOptions`): a CLI
// process runs one verb.

import type { Command } from 'commander';

import { securedRuntime, type ClientCredentials } from '../client/secure-runtime.js';
import { nodeRuntime, type ClientRuntime } from '../client/runtime.js';
import type { EtcdTlsOptions, OpenStoreOptions } from '../layout/open.js';
import { ServerAuth, readRoleMapFile, readTokenFile } from '../transport/auth.js';
import { readPemFile, tlsVersion, type ClientTlsOptions, type ServerCredentials, type ServerTlsOptions } from '../transport/tls.js';
import { UsageError } from './usage-error.js';

export interface ServerSecurityFlags {
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly trustedCaFile?: string;
  readonly clientCertAuth?: boolean;
  readonly tlsMinVersion?: string;
  readonly roleMapFile?: string;
  readonly authTokenFile?: string;
  readonly adminTokenFile?: string;
  readonly insecure?: boolean;
}

export interface ClientSecurityFlags {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly tokenFile?: string;
  readonly etcdCaFile?: string;
  readonly etcdCertFile?: string;
  readonly etcdKeyFile?: string;
}

export function addServerSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--cert-file <path>', 'serve TLS (and only TLS) with this certificate (PEM); needs --key-file')
    .option('--key-file <path>', "the certificate's private key (PEM)")
    .option('--trusted-ca-file <path>', 'the CA (PEM) that signs client certificates')
    .option('--client-cert-auth', 'refuse clients without a certificate signed by --trusted-ca-file; the role comes from it (OU=client or OU=admin, or --role-map-file)')
    .option('--tls-min-version <version>', "the oldest TLS version accepted: '1.2' or '1.3'", '1.2')
    .option('--role-map-file <path>', 'JSON { "CN=name": "admin" | "client", ... }: certificate subjects to roles, before the OU')
    .option('--auth-token-file <path>', "a file holding the client role's token (clients send it in AUTH)")
    .option('--admin-token-file <path>', "a file holding the admin role's token (SEAL, BOOTSTRAP, PREFIX_TRIM)")
    .option('--insecure', 'allow a non-loopback --listen address with neither TLS nor a token (anyone who can connect may do everything)');
}

export function addClientSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--ca-file <path>', 'speak TLS to the units and the sequencer, trusting this CA (PEM)')
    .option('--cert-file <path>', 'client certificate (PEM) for servers that want one; needs --key-file')
    .option('--key-file <path>', "the client certificate's private key (PEM)")
    .option('--token-file <path>', 'a file holding the token to send servers that want one (AUTH)')
    .option('--etcd-ca-file <path>', 'speak TLS to an etcd:// layout store, trusting this CA (PEM)')
    .option('--etcd-cert-file <path>', 'client certificate (PEM) for an etcd that checks them; needs --etcd-key-file')
    .option('--etcd-key-file <path>', "the etcd client certificate's private key (PEM)");
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/** A server verb's TLS and roles; a non-loopback listener with neither TLS nor a token needs --insecure. */
export function serverSecurity(flags: ServerSecurityFlags, listenHost: string, verb: string): { tls?: ServerTlsOptions; auth: ServerAuth } {
  if ((flags.certFile === undefined) !== (flags.keyFile === undefined)) throw new UsageError(`corfu ${verb}: --cert-file and --key-file go together`);
  const tlsOn = flags.certFile !== undefined;
  if (!tlsOn && (flags.trustedCaFile !== undefined || flags.clientCertAuth === true))
    throw new UsageError(`corfu ${verb}: --trusted-ca-file and --client-cert-auth need TLS (--cert-file, --key-file)`);
  if (flags.clientCertAuth === true && flags.trustedCaFile === undefined) throw new UsageError(`corfu ${verb}: --client-cert-auth needs --trusted-ca-file (the CA of the client certificates)`);
  if (flags.roleMapFile !== undefined && flags.clientCertAuth !== true) throw new UsageError(`corfu ${verb}: --role-map-file needs --client-cert-auth (roles from certificates)`);
  const tokens = flags.authTokenFile !== undefined || flags.adminTokenFile !== undefined;
  if (!tlsOn && !tokens && flags.insecure !== true && !isLoopback(listenHost)) {
    throw new UsageError(
      `corfu ${verb}: refusing to listen on ${listenHost} without TLS or a token: anyone who can connect could seal and trim the log; give --cert-file/--key-file, --auth-token-file/--admin-token-file, or --insecure`,
    );
  }
  let minVersion: ServerTlsOptions['minVersion'];
  try {
    minVersion = tlsVersion(flags.tlsMinVersion ?? '1.2');
  } catch {
    throw new UsageError(`corfu ${verb}: --tls-min-version must be 1.2 or 1.3, got '${flags.tlsMinVersion}'`);
  }
  const tls: ServerTlsOptions | undefined = tlsOn ? { ...readServerCredentials(flags)!, clientCertAuth: flags.clientCertAuth === true, minVersion } : undefined;
  const auth = new ServerAuth({
    ...(flags.authTokenFile === undefined ? {} : { clientToken: readTokenFile(flags.authTokenFile, '--auth-token-file') }),
    ...(flags.adminTokenFile === undefined ? {} : { adminToken: readTokenFile(flags.adminTokenFile, '--admin-token-file') }),
    certificates: flags.clientCertAuth === true,
    ...(flags.roleMapFile === undefined ? {} : { roleMap: readRoleMapFile(flags.roleMapFile) }),
  });
  return { ...(tls === undefined ? {} : { tls }), auth };
}

/**
 * The server certificate, key and CA the flags name, read now (at start, and again on
 * SIGHUP); undefined without --cert-file. A missing or non-PEM file is ERR_BAD_REQUEST
 * naming the flag.
 */
export function readServerCredentials(flags: ServerSecurityFlags): ServerCredentials | undefined {
  if (flags.certFile === undefined || flags.keyFile === undefined) return undefined;
  return {
    cert: readPemFile(flags.certFile, '--cert-file'),
    key: readPemFile(flags.keyFile, '--key-file'),
    ...(flags.trustedCaFile === undefined ? {} : { ca: readPemFile(flags.trustedCaFile, '--trusted-ca-file') }),
  };
}

/** The credentials a connecting verb's flags give. */
export function clientCredentials(flags: ClientSecurityFlags): ClientCredentials & { readonly storeTls?: EtcdTlsOptions } {
  if ((flags.certFile === undefined) !== (flags.keyFile === undefined)) throw new UsageError('--cert-file and --key-file go together');
  if (flags.certFile !== undefined && flags.caFile === undefined) throw new UsageError('--cert-file is a TLS client certificate: give --ca-file too (the CA of the servers)');
  if ((flags.etcdCertFile === undefined) !== (flags.etcdKeyFile === undefined)) throw new UsageError('--etcd-cert-file and --etcd-key-file go together');
  const tls: ClientTlsOptions | undefined =
    flags.caFile === undefined
      ? undefined
      : {
          ca: readPemFile(flags.caFile, '--ca-file'),
          ...(flags.certFile === undefined ? {} : { cert: readPemFile(flags.certFile, '--cert-file'), key: readPemFile(flags.keyFile!, '--key-file') }),
        };
  const etcd = flags.etcdCaFile !== undefined || flags.etcdCertFile !== undefined;
  const storeTls: EtcdTlsOptions | undefined = etcd
    ? {
        ...(flags.etcdCaFile === undefined ? {} : { ca: readPemFile(flags.etcdCaFile, '--etcd-ca-file') }),
        ...(flags.etcdCertFile === undefined ? {} : { cert: readPemFile(flags.etcdCertFile, '--etcd-cert-file'), key: readPemFile(flags.etcdKeyFile!, '--etcd-key-file') }),
      }
    : undefined;
  return {
    ...(tls === undefined ? {} : { tls }),
    ...(flags.tokenFile === undefined ? {} : { authToken: readTokenFile(flags.tokenFile, '--token-file') }),
    ...(storeTls === undefined ? {} : { storeTls }),
  };
}

let credentials: ClientCredentials & { readonly storeTls?: EtcdTlsOptions } = {};

/** Takes a connecting verb's flags as the credentials of every connection this process opens. */
export function useClientFlags(flags: ClientSecurityFlags): void {
  credentials = clientCredentials(flags);
}

/** Sets the process's credentials directly (`corfu up` uses its admin ones). */
export function useCredentials(c: ClientCredentials & { readonly storeTls?: EtcdTlsOptions }): void {
  credentials = c;
}

/** The runtime whose links carry the verb's credentials. */
export function cliRuntime(): ClientRuntime {
  return securedRuntime(nodeRuntime, credentials);
}

/** CorfuClient.connect's credential options. */
export function cliConnectOptions(): ClientCredentials & { readonly storeTls?: EtcdTlsOptions } {
  return credentials;
}

/** openProjectionStore's options for an etcd store with TLS. */
export function cliStoreOptions(): OpenStoreOptions {
  return credentials.storeTls === undefined ? {} : { tls: credentials.storeTls };
}

/** The verbs that connect to servers as clients, by their command path. */
const CLIENT_VERBS = new Set([
  'manager',
  'append',
  'read',
  'tail',
  'fill',
  'trim',
  'status',
  'layout init',
  'layout show',
  'layout reconfigure',
  'kv put',
  'kv get',
  'kv del',
  'kv dump',
  'bench append',
  'bench read',
  'bench mixed',
  'bench tokens',
  'bench compare',
]);
const SERVER_VERBS = new Set(['unit', 'sequencer']);

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export interface UpSecurityFlags extends ServerSecurityFlags {
  readonly adminCertFile?: string;
  readonly adminKeyFile?: string;
}

/**
 * Adds the security flags to every verb that serves or connects, and has a connecting
 * verb's flags taken as the process's credentials before it runs. One call from
 * main.ts, after the verbs are built.
 */
export function applySecurityOptions(program: Command): void {
  const visit = (cmd: Command): void => {
    const path = commandPath(cmd);
    if (CLIENT_VERBS.has(path)) addClientSecurityOptions(cmd);
    else if (SERVER_VERBS.has(path)) addServerSecurityOptions(cmd);
    else if (path === 'up') {
      cmd
        .option('--cert-file <path>', "the units' and sequencers' TLS certificate (PEM; SAN IP:127.0.0.1); needs --key-file and --trusted-ca-file")
        .option('--key-file <path>', "that certificate's private key (PEM)")
        .option('--trusted-ca-file <path>', 'the CA (PEM) of the servers and of client certificates')
        .option('--client-cert-auth', 'the servers refuse clients without a certificate (give --admin-cert-file for up and its manager)')
        .option('--tls-min-version <version>', "'1.2' or '1.3'", '1.2')
        .option('--admin-cert-file <path>', 'the admin client certificate (PEM, OU=admin) up and its manager present')
        .option('--admin-key-file <path>', "that certificate's private key (PEM)")
        .option('--auth-token-file <path>', "the servers' client-role token (file)")
        .option('--admin-token-file <path>', "the servers' admin-role token (file); up and its manager send it");
    }
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
  program.hook('preAction', (_root, action) => {
    if (CLIENT_VERBS.has(commandPath(action))) useClientFlags(action.opts<ClientSecurityFlags>());
  });
}

/**
 * `corfu up`'s security: the flags its units and sequencers get, the flags its manager
 * gets, and the admin credentials it uses itself (set as the process's).
 */
export function upSecurity(flags: UpSecurityFlags): { serverArgs: string[]; managerArgs: string[] } {
  if ((flags.certFile === undefined) !== (flags.keyFile === undefined)) throw new UsageError('--cert-file and --key-file go together');
  if (flags.certFile !== undefined && flags.trustedCaFile === undefined) throw new UsageError('--cert-file needs --trusted-ca-file: up and its manager check the servers against it');
  if (flags.clientCertAuth === true && flags.adminCertFile === undefined)
    throw new UsageError('--client-cert-auth needs --admin-cert-file and --admin-key-file (up and its manager are admin clients)');
  if ((flags.adminCertFile === undefined) !== (flags.adminKeyFile === undefined)) throw new UsageError('--admin-cert-file and --admin-key-file go together');
  if (flags.authTokenFile !== undefined && flags.adminTokenFile === undefined)
    throw new UsageError('--auth-token-file needs --admin-token-file: up and its manager seal the servers, which takes the admin role');
  // Checks the files and the combination now, before any child starts.
  serverSecurity(flags, '127.0.0.1', 'up');
  const serverArgs: string[] = [];
  const add = (list: string[], flag: string, value: string | undefined): void => {
    if (value !== undefined) list.push(flag, value);
  };
  add(serverArgs, '--cert-file', flags.certFile);
  add(serverArgs, '--key-file', flags.keyFile);
  add(serverArgs, '--trusted-ca-file', flags.trustedCaFile);
  if (flags.clientCertAuth === true) serverArgs.push('--client-cert-auth');
  if (flags.certFile !== undefined) add(serverArgs, '--tls-min-version', flags.tlsMinVersion);
  add(serverArgs, '--auth-token-file', flags.authTokenFile);
  add(serverArgs, '--admin-token-file', flags.adminTokenFile);
  const client: ClientSecurityFlags = {
    ...(flags.certFile === undefined ? {} : { caFile: flags.trustedCaFile! }),
    ...(flags.certFile === undefined || flags.adminCertFile === undefined ? {} : { certFile: flags.adminCertFile, keyFile: flags.adminKeyFile! }),
    ...(flags.adminTokenFile === undefined ? {} : { tokenFile: flags.adminTokenFile }),
  };
  useClientFlags(client);
  const managerArgs: string[] = [];
  add(managerArgs, '--ca-file', client.caFile);
  add(managerArgs, '--cert-file', client.certFile);
  add(managerArgs, '--key-file', client.keyFile);
  add(managerArgs, '--token-file', client.tokenFile);
  return { serverArgs, managerArgs };
}
