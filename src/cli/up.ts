// `corfu up [--dir .corfu] [--store URL] [--units 4] [--replicas 2] [--spares 1] [--size 256M] [--max-entry-bytes 64K]
//           [--sync always|none] [--demo N [--chaos]] [--tls]`:
// the embedded default. One machine, loopback, files as devices, healing itself.
//
// - First run: formats DIR/unit-N.img (one random cluster id for all, unit id
//   N). Later runs reuse the files (and their data).
// - Starts N `corfu unit` children on 127.0.0.1:0 and waits for their
//   `listening` lines; their stderr goes to DIR/logs/unit-N.log.
// - The new epoch is one above both the store's latest and every unit's
//   superblock epoch. Units are sealed to it (the largest answered tail T),
//   then a fresh `corfu sequencer` child is BOOTSTRAPped to it with T, so
//   tokens never go below an address written before a restart.
// - The projection (units/replicas stripes, each a chain of `replicas` units:
//   stripe k is units k*replicas .. k*replicas+replicas-1, so addresses map to
//   the same files on every run) is proposed to file:DIR/layout.
// - Every unit, sequencer and the manager gets an admin listener on a free
//   loopback port (--admin 127.0.0.1:0): printed, and written to DIR/admin.json
//   as Prometheus file_sd targets.
// - Spares (DIR/spare-K.img, and any unit file the layout no longer uses,
//   formatted again), a standby sequencer and a `corfu manager` (probing every
//   500 ms) run beside them: a unit or sequencer that dies is replaced and
//   rebuilt without anyone at the keyboard.
// - With `--demo N [--entry-bytes B]` (npm start), runs the workload of
//   up-demo.ts against the new layout before serving; `--chaos` kills a unit
//   with kill -9 halfway through it.
// - `--tls`: mutual TLS on every link, with `corfu certs init DIR/certs`'s files (made
//   on the first run, reused after): the servers get server.crt/key, ca.crt and
//   --client-cert-auth; up and its manager connect with admin.crt (OU=admin). It prints
//   how a client connects (client.crt, OU=client).
// - Serves until SIGINT/SIGTERM, then SIGTERMs the children, waits for them and
//   exits 0. A unit or sequencer that dies is the manager's to heal (it is
//   reported); if the manager itself dies, the cluster stops with exit 1.
//
// - A later run carries the previous layout over, segments and all (a
//   `corfu layout reconfigure` among up's own units survives a restart):
//   DIR/units.json records which unit file served which address, and each
//   chain is moved to the file's new address. A layout that names units up
//   does not run is refused.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { Store } from '../../bindings/index.js';
import { startChild, stopAll, type Child } from './children.js';
import { openProjectionStore, parseProjection } from '../layout/index.js';
import type { Projection } from '../layout/index.js';
import { FatalError } from './fatal-error.js';
import { buildProjection, layoutTable, sealSequencerAndPropose, sealUnits } from './layout.js';
import { MIN_DEMO_ENTRY_BYTES, runUpDemo } from './up-demo.js';
import { upSecurity, type UpSecurityFlags } from './security.js';
import type { CertFile } from './certs.js';
import { UsageError } from './usage-error.js';

export interface UpFlags extends UpSecurityFlags {
  readonly dir: string;
  /** The projection store; default file:DIR/layout. */
  readonly store?: string;
  readonly units: number;
  readonly replicas: number;
  readonly size: number;
  /** The largest entry of newly formatted units (default: the engine's, 64 KiB). */
  readonly maxEntryBytes?: number;
  readonly sync: 'always' | 'none';
  /** `--demo N`: append N entries, verify them and print the figures before serving. */
  readonly demo?: number;
  readonly entryBytes?: number;
  /** Empty units the manager may use to replace dead ones (DIR/spare-K.img). */
  readonly spares: number;
  /** False with --no-zero: device files created now are not written with zeros first (FormatOptions.zero). */
  readonly zero: boolean;
  /** With --demo: kill -9 a unit halfway through the appends (the manager heals the cluster). */
  readonly chaos?: boolean;
  /** Mutual TLS with the certificates of `corfu certs init DIR/certs` (made on the first run). */
  readonly tls?: boolean;
}

const UNIT_FILES = 'units.json';

/**
 * DIR/units.json: the address each unit-N.img was served at in the last run (N by
 * address); undefined when there is none (a directory from before the file). It is
 * written whole (a rename), so one that does not parse was damaged: refuse it rather
 * than map the unit files to the wrong addresses.
 */
function readUnitFiles(dir: string): Map<string, number> | undefined {
  const path = join(dir, UNIT_FILES);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const entries = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? Object.entries(raw) : undefined;
  if (entries === undefined || !entries.every(([, n]) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    throw new FatalError(`${path} is damaged: expected {"HOST:PORT": N, ...}, the address each unit-N.img was served at`);
  }
  return new Map(entries as Array<[string, number]>);
}

function writeUnitFiles(dir: string, addresses: readonly string[]): void {
  const tmp = join(dir, `${UNIT_FILES}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(Object.fromEntries(addresses.map((a, i) => [a, i])), null, 2)}\n`);
  renameSync(tmp, join(dir, UNIT_FILES));
}

/**
 * The previous layout (its segments, perhaps reconfigured) moved onto this
 * run's addresses, so every address maps to the same unit files as before.
 * Undefined when the layout is the plain single segment `up` builds anyway.
 * Refuses a layout naming units `up` does not run (added by a reconfiguration).
 */
function carryOver(
  previous: Projection,
  files: Map<string, number> | undefined,
  storeUrl: string,
): ((epoch: number, sequencer: string, addresses: readonly string[], maxEntryBytes: number) => Projection) | undefined {
  if (files === undefined && previous.segments.length === 1) return undefined; // a layout from before units.json: the plain shape
  const foreign = previous.units.filter((u) => files?.get(u) === undefined);
  if (foreign.length > 0) {
    throw new FatalError(`the layout in ${storeUrl} uses units that corfu up does not run (${foreign.join(', ')}); start them and the cluster yourself, then use corfu layout reconfigure`);
  }
  return (epoch, sequencer, addresses, maxEntryBytes) => {
    const moved = (u: string): string => addresses[files!.get(u)!]!;
    return parseProjection({
      epoch,
      sequencer,
      units: previous.units.map(moved),
      segments: previous.segments.map((s) => ({
        start: s.start,
        end: s.end,
        stripes: s.stripes.map((t) => ({ chain: t.chain.map(moved), ...(t.rebuilding === undefined ? {} : { rebuilding: t.rebuilding.map(moved) }) })),
      })),
      maxEntryBytes,
    });
  };
}

/** Every server gets an admin listener on a free loopback port (printed, and in DIR/admin.json). */
const ADMIN_FLAGS = ['--admin', '127.0.0.1:0'];
const ADMIN_TARGETS = 'admin.json';

/**
 * DIR/admin.json: the admin listeners as a Prometheus file_sd target list, so a
 * local Prometheus can scrape the cluster (file_sd_configs: [{ files: [DIR/admin.json] }]).
 */
function writeAdminTargets(dir: string, children: readonly Child[]): void {
  const targets = children
    .filter((c) => c.admin !== undefined)
    .map((c) => ({ targets: [c.admin!], labels: { corfu_server: c.name, corfu_role: c.name.startsWith('sequencer') ? 'sequencer' : c.name === 'manager' ? 'manager' : 'unit' } }));
  const tmp = join(dir, `${ADMIN_TARGETS}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(targets, null, 2)}\n`);
  renameSync(tmp, join(dir, ADMIN_TARGETS));
}

function adminTable(children: readonly Child[]): string {
  return children
    .filter((c) => c.admin !== undefined)
    .map((c) => `  ${c.name.padEnd(18)} http://${c.admin!}`)
    .join('\n');
}

/** The local manager's detection: loopback answers in microseconds, so a faster probe than the default 1 s. */
const MANAGER_FLAGS = ['--probe-interval', '500', '--probe-timeout', '500', '--misses', '3'];

/** `--chaos`: kill -9 the first unit of the first chain (the manager replaces and rebuilds it). */
function chaosKill(children: readonly Child[], projection: Projection): string {
  const victim = projection.segments.at(-1)!.stripes[0]!.chain[0]!;
  const child = children.find((c) => c.address === victim);
  if (child === undefined) return `chaos: no child serves ${victim}`;
  child.proc.kill('SIGKILL');
  return `chaos: killed ${child.name} (${victim}) with kill -9`;
}

/** Where `--tls` keeps its certificates, under DIR. */
const CERTS_DIR = 'certs';
/** What up and its servers need of them (ca.key may be moved off the machine: it is not needed to run). */
const NEEDED: readonly CertFile[] = ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key', 'admin.crt', 'admin.key'];

/**
 * `--tls`: the certificates of `corfu certs init CERTS` (made now if CERTS holds none,
 * reused as they are otherwise), as the flags `--tls` stands for.
 */
async function upCertificates(flags: UpFlags, certsDir: string): Promise<{ files: Record<CertFile, string>; flags: UpSecurityFlags }> {
  const own = (['certFile', 'keyFile', 'trustedCaFile', 'clientCertAuth', 'adminCertFile', 'adminKeyFile'] as const).filter((k) => flags[k] !== undefined);
  if (own.length > 0) {
    const names = own.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new UsageError(`--tls uses the certificates in ${certsDir}; leave out ${names.join(', ')} (or drop --tls and give all of them)`);
  }
  // Loaded only with --tls: the X.509 code stays out of a plaintext up.
  const { CERT_FILES, certPaths, initCerts } = await import('./certs.js');
  const files = certPaths(certsDir);
  const present = CERT_FILES.filter((f) => existsSync(files[f]));
  if (present.length === 0) {
    await initCerts(certsDir);
    process.stdout.write(`made a development CA and certificates in ${certsDir} (corfu certs init; reused on the next run)\n`);
  } else {
    const missing = NEEDED.filter((f) => !present.includes(f));
    if (missing.length > 0) throw new UsageError(`${certsDir} lacks ${missing.join(', ')}: restore them, or make new ones with corfu certs init ${certsDir} --force`);
  }
  return {
    files,
    flags: {
      certFile: files['server.crt'],
      keyFile: files['server.key'],
      trustedCaFile: files['ca.crt'],
      clientCertAuth: true,
      adminCertFile: files['admin.crt'],
      adminKeyFile: files['admin.key'],
    },
  };
}

/** How a client connects to a `--tls` cluster: the library's options and the CLI's flags. */
function tlsHowTo(storeUrl: string, files: Record<CertFile, string>): string {
  const q = (p: string): string => JSON.stringify(p).replace(/^"|"$/g, "'");
  return (
    `tls:        mutual TLS; the servers take certificates of ${files['ca.crt']} (OU=client: appends and reads; OU=admin: also seals and prefix trims)\n` +
    `connect:    CorfuClient.connect({ layout: '${storeUrl}', tls: { ca: readFileSync(${q(files['ca.crt'])}), cert: readFileSync(${q(files['client.crt'])}), key: readFileSync(${q(files['client.key'])}) } })\n` +
    `cli:        corfu append hello --layout ${storeUrl} --ca-file ${files['ca.crt']} --cert-file ${files['client.crt']} --key-file ${files['client.key']}\n` +
    `admin cli:  --ca-file ${files['ca.crt']} --cert-file ${files['admin.crt']} --key-file ${files['admin.key']} (corfu layout, corfu manager)\n`
  );
}

/** With the caller's own --cert-file: what a client adds to connect (up knows the CA, not the client's certificate). */
function ownTlsHint(flags: UpFlags): string {
  if (flags.certFile === undefined || flags.trustedCaFile === undefined) return '';
  const ca = `ca: readFileSync(${JSON.stringify(flags.trustedCaFile).replace(/^"|"$/g, "'")})`;
  return flags.clientCertAuth === true ? `, tls: { ${ca}, cert, key } /* a certificate of that CA with OU=client */` : `, tls: { ${ca} }`;
}

export async function upVerb(flags: UpFlags): Promise<void> {
  if (flags.units < 1) throw new UsageError('--units must be at least 1');
  if (flags.replicas < 1) throw new UsageError('--replicas must be at least 1');
  if (flags.units % flags.replicas !== 0) throw new UsageError(`--units (${flags.units}) must be a multiple of --replicas (${flags.replicas})`);
  if (flags.chaos === true && flags.demo === undefined) throw new UsageError('--chaos needs --demo N (it kills a unit halfway through the demo)');
  if (flags.chaos === true && flags.replicas < 2) throw new UsageError('--chaos needs --replicas 2 or more (a chain of one unit cannot lose it)');
  if (flags.demo !== undefined && (flags.entryBytes ?? 128) < MIN_DEMO_ENTRY_BYTES) throw new UsageError(`--entry-bytes must be at least ${MIN_DEMO_ENTRY_BYTES}`);
  const dir = resolve(flags.dir);
  // --tls: the certificates in DIR/certs, made now on a first run.
  const tls = flags.tls === true ? await upCertificates(flags, join(dir, CERTS_DIR)) : undefined;
  // TLS and tokens: what the servers and the manager are started with; up's own links take the admin credentials.
  const security = upSecurity(tls === undefined ? flags : { ...flags, ...tls.flags });
  const logDir = join(dir, 'logs');
  const storeUrl = flags.store ?? `file:${join(dir, 'layout')}`;
  mkdirSync(logDir, { recursive: true });
  if (flags.store === undefined) mkdirSync(join(dir, 'layout'), { recursive: true });

  // Devices: reuse what is there, format what is missing.
  const store = await openProjectionStore(storeUrl);
  let previous: Projection | undefined;
  try {
    previous = await store.latest();
  } finally {
    await store.close();
  }
  const existingSpares = readdirSync(dir).filter((f) => /^spare-\d+\.img$/.test(f)).length;
  const spareCount = Math.max(flags.spares, existingSpares);
  // Unit files first, then spares: a file's index (units.json) is its place in this list.
  const devices = [...Array.from({ length: flags.units }, (_, i) => join(dir, `unit-${i}.img`)), ...Array.from({ length: spareCount }, (_, k) => join(dir, `spare-${k}.img`))];
  const formatted = readdirSync(dir).filter((f) => /^unit-\d+\.img$/.test(f)).length;
  if (previous !== undefined && formatted === 0) {
    throw new UsageError(`${storeUrl} already holds a layout (epoch ${previous.epoch}) but ${dir} has no unit files; use the --dir it was made with, or another store`);
  }
  if (previous !== undefined && formatted !== flags.units) {
    throw new UsageError(`${dir} holds a cluster of ${formatted} units; run with --units ${formatted} or use another --dir`);
  }
  // Which unit file served each address of the previous layout: it is carried over to this run's ports.
  const files = readUnitFiles(dir);
  const carried = previous === undefined ? undefined : carryOver(previous, files, storeUrl);
  if (previous !== undefined && previous.segments.at(-1)!.stripes[0]!.chain.length !== flags.replicas) {
    throw new UsageError(`${dir} holds a cluster with ${previous.segments.at(-1)!.stripes[0]!.chain.length} replicas; run with that --replicas or use another --dir`);
  }
  const clusterId = randomBytes(16).toString('hex');
  let maxEpoch = previous?.epoch ?? 0;
  // A file the previous layout no longer names (a unit the manager replaced) holds entries no
  // chain reads: it is formatted again and serves as a spare (the manager takes only empty ones).
  const inLayout = new Set(previous === undefined || files === undefined ? [] : previous.units.map((u) => files.get(u)));
  for (const [i, path] of devices.entries()) {
    // Only a file that may have to become a spare again needs its usage, which takes a
    // read-only recovery (`inspect`); for the rest the superblock alone says the epoch.
    const mayBeStale = existsSync(path) && previous !== undefined && files !== undefined && !inLayout.has(i);
    const old = mayBeStale ? Store.inspect(path) : undefined;
    if (old !== undefined && old.usedPages > 0) {
      maxEpoch = Math.max(maxEpoch, old.epoch);
      Store.format(path, { force: true, unitId: old.unitId, maxEntryBytes: old.maxEntryBytes });
      process.stdout.write(`formatted ${path} again: the layout no longer uses it, it is a spare now\n`);
    } else if (existsSync(path)) {
      maxEpoch = Math.max(maxEpoch, (old ?? Store.identity(path)).epoch);
    } else {
      Store.format(path, { sizeBytes: flags.size, clusterId, unitId: i, zero: flags.zero, ...(flags.maxEntryBytes === undefined ? {} : { maxEntryBytes: flags.maxEntryBytes }) });
      process.stdout.write(`formatted ${path}\n`);
    }
  }
  const epoch = maxEpoch + 1;

  const children: Child[] = [];
  let stopping = false;
  const onSignal = (): void => {
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const servers = await Promise.all(
      devices.map((path) => startChild(basename(path, '.img'), ['unit', '--device', path, '--listen', '127.0.0.1:0', '--sync', flags.sync, ...ADMIN_FLAGS, ...security.serverArgs], logDir, children)),
    );
    const allAddresses = servers.map((c) => c.address!);
    const unitAddresses = allAddresses.slice(0, flags.units);
    // The units the layout uses: the first `units` files on a first run, the carried layout's after.
    const layoutAddresses = carried === undefined ? unitAddresses : allAddresses.filter((_, i) => inLayout.has(i));
    const sealed = await sealUnits(layoutAddresses, epoch);
    const tails = sealed.tails;
    const startTail = Math.max(0, ...tails.values());
    const sequencer = await startChild('sequencer', ['sequencer', '--listen', '127.0.0.1:0', ...ADMIN_FLAGS, ...security.serverArgs], logDir, children);
    const standby = await startChild('sequencer-standby', ['sequencer', '--listen', '127.0.0.1:0', ...ADMIN_FLAGS, ...security.serverArgs], logDir, children);

    writeUnitFiles(dir, allAddresses);
    let projection: Projection;
    if (carried !== undefined) {
      projection = carried(epoch, sequencer.address!, allAddresses, sealed.maxEntryBytes);
    } else {
      const stripes: string[][] = [];
      for (let k = 0; k < flags.units / flags.replicas; k++) stripes.push(unitAddresses.slice(k * flags.replicas, (k + 1) * flags.replicas));
      projection = buildProjection(epoch, sequencer.address!, stripes, sealed.maxEntryBytes);
    }
    await sealSequencerAndPropose(storeUrl, projection, tails);
    // The manager heals the cluster: every file the layout does not use is its spare.
    const spares = allAddresses.filter((a) => !projection.units.includes(a));
    const managerArgs = ['manager', '--layout', storeUrl, ...spares.flatMap((a) => ['--spare', a]), '--standby-sequencer', standby.address!, ...MANAGER_FLAGS, ...security.managerArgs, ...ADMIN_FLAGS];
    await startChild('manager', managerArgs, logDir, children, /^manager: (active)$/);
    writeAdminTargets(dir, children);

    process.stdout.write(
      `${layoutTable(projection)}\n\n` +
        `layout URL: ${storeUrl}\n` +
        (tls !== undefined ? tlsHowTo(storeUrl, tls.files) : `connect:    CorfuClient.connect({ layout: '${storeUrl}'${ownTlsHint(flags)} })\n`) +
        `tail:       ${startTail} (entries below it were written before this run)\n` +
        `manager:    active, ${spares.length} spare unit${spares.length === 1 ? '' : 's'}${spares.length === 0 ? '' : ` (${spares.join(', ')})`}, standby sequencer ${standby.address!}\n` +
        `logs:       ${logDir}\n` +
        `admin:      GET /livez /readyz /metrics /status (targets in ${join(dir, ADMIN_TARGETS)})\n${adminTable(children)}\n`,
    );
    // A unit or sequencer that dies is the manager's to heal: say so when it happens.
    for (const child of children) {
      if (child.name === 'manager') continue;
      void child.exited.then((code) => {
        const how = child.proc.signalCode ?? `code ${String(code)}`;
        if (!stopping) process.stdout.write(`${child.name} (${child.address ?? '?'}) exited (${how}); the manager heals the cluster (see ${join(logDir, 'manager.log')})\n`);
      });
    }
    if (flags.demo !== undefined && !stopping) {
      const chaos = flags.chaos === true ? (): string => chaosKill(children, projection) : undefined;
      await runUpDemo({
        dir,
        layout: storeUrl,
        entries: flags.demo,
        entryBytes: flags.entryBytes ?? 128,
        reused: previous !== undefined,
        stop: () => stopping,
        ...(chaos === undefined ? {} : { chaos }),
      });
    }
    process.stdout.write('serving; Ctrl-C (SIGINT) or SIGTERM stops the cluster\n');

    // Serve until a signal, or until the manager dies.
    const died = await new Promise<Child | undefined>((res) => {
      if (stopping) return res(undefined);
      const stop = (): void => res(undefined);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      for (const child of children) if (child.name === 'manager') void child.exited.then(() => res(child));
    });
    if (died !== undefined && !stopping) {
      throw new FatalError(`${died.name} exited unexpectedly (code ${String(died.proc.exitCode)}); stopping the cluster (see ${died.log})`);
    }
    process.stdout.write('stopping\n');
  } finally {
    await stopAll(children);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stdout.write('stopped\n');
}
