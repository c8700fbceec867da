// Debug verbs against a running log: `corfu append [DATA]`, `corfu read ADDR`,
// `corfu tail`, `corfu fill ADDR`, `corfu trim ADDR`, `corfu status`.
// Each takes `--layout URL` (file:DIR or etcd://HOST:PORT[,...]/PREFIX); the
// default is the layout `corfu up` writes in ./.corfu. A layout that holds no projection is exit 1 with a hint to run
// `corfu up`.
//
// `read` does not fill: an address at or above the sequencer's tail is
// ERR_UNWRITTEN (reading it through the client would fill it with junk after
// the hole timeout). An address below the tail that nobody wrote is a hole and
// is filled, as CORFU readers do. `fill ADDR` fills on purpose.
//
// `status` asks every server with TAIL at the projection's epoch (no SEAL):
// OK gives the tail; ERR_SEALED gives the server's own epoch (and its tail is
// asked again at that epoch); a refused or silent connection is `down`.
//
// It also shows each segment's stripes and which are under-replicated (a replica
// down or being rebuilt: replication.ts); `-o json` (or `--json`) prints all of it as JSON.

import { probe, splitHostPort } from '../transport/address.js';

import { InvalidArgumentError } from 'commander';

import { CorfuError } from '../../bindings/errors.js';
import { CorfuClient, type Entry } from '../client/client.js';
import { openProjectionStore, type Projection, type ProjectionStore } from '../layout/index.js';
import { REBUILD_STATUS, type RebuildStatus } from '../manager/driver.js';
import { rebuildPlan } from '../manager/rebuild.js';
import { Connection } from '../transport/connection.js';
import { SYNC } from '../wire/messages.js';
import { FatalError } from './fatal-error.js';
import { replicationLines, segmentReplication } from './replication.js';
import { cliConnectOptions, cliRuntime, cliStoreOptions } from './security.js';
import { UsageError } from './usage-error.js';

export const DEFAULT_LAYOUT = 'file:.corfu/layout';
const STATUS_TIMEOUT_MS = 500;

export interface LayoutFlags {
  readonly layout: string;
}

/** `ADDR`: a non-negative safe integer. */
export function addressArg(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected an address (a whole number), got '${value}'.`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`address ${value} is too large.`);
  return n;
}

async function latestIn(store: ProjectionStore, layout: string): Promise<Projection> {
  const p = await store.latest();
  if (p === undefined) throw new FatalError(`no layout at ${layout}; start a cluster with \`corfu up\` (or pass --layout URL)`);
  return p;
}

export async function latestProjection(layout: string): Promise<Projection> {
  const store = await openProjectionStore(layout, cliStoreOptions());
  try {
    return await latestIn(store, layout);
  } finally {
    await store.close();
  }
}

async function withClient<T>(flags: LayoutFlags, fn: (client: CorfuClient) => Promise<T>): Promise<T> {
  await latestProjection(flags.layout); // the friendly error for a missing layout
  const client = await CorfuClient.connect({ layout: flags.layout, timeoutMs: 3000, ...cliConnectOptions() });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function appendVerb(data: string | undefined, flags: LayoutFlags): Promise<void> {
  let payload: Buffer;
  if (data !== undefined) {
    payload = Buffer.from(data, 'utf8');
  } else {
    if (process.stdin.isTTY === true) throw new UsageError('no DATA: pass it as an argument or pipe it on stdin');
    payload = await readStdin();
  }
  const address = await withClient(flags, (client) => client.append(payload));
  process.stdout.write(`${address}\n`);
}

/** UTF-8 text without control characters other than tab and newlines, or undefined. */
function printable(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

function printEntry(entry: Entry, json: boolean): void {
  if (json) {
    const out: Record<string, unknown> = { address: entry.address, kind: entry.kind };
    if (entry.kind === 'data') {
      const text = printable(entry.payload);
      out.bytes = entry.payload.length;
      if (text !== undefined) out.utf8 = text;
      else out.hex = Buffer.from(entry.payload).toString('hex');
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  if (entry.kind === 'junk') {
    process.stdout.write(`address ${entry.address}: junk\n`);
    return;
  }
  const text = printable(entry.payload);
  const how = text === undefined ? 'hex' : 'utf-8';
  process.stdout.write(`address ${entry.address}: data, ${entry.payload.length} bytes (${how})\n`);
  process.stdout.write(`${text ?? Buffer.from(entry.payload).toString('hex')}\n`);
}

export async function readVerb(address: number, flags: LayoutFlags & { json?: boolean }): Promise<void> {
  const entry = await withClient(flags, async (client) => {
    const tail = await client.tail();
    if (address >= tail) throw new CorfuError('ERR_UNWRITTEN', `address ${address} is at or above the tail (${tail}); nothing was appended there yet`);
    return client.read(address);
  });
  printEntry(entry, flags.json === true);
}

export async function fillVerb(address: number, flags: LayoutFlags): Promise<void> {
  const entry = await withClient(flags, (client) => client.fill(address));
  if (entry.kind === 'junk') process.stdout.write(`address ${address}: junk\n`);
  else process.stdout.write(`address ${address} already held data (${entry.payload.length} bytes); not filled\n`);
}

export async function trimVerb(address: number, flags: LayoutFlags): Promise<void> {
  await withClient(flags, (client) => client.trim(address));
  process.stdout.write(`trimmed ${address}\n`);
}

export async function tailVerb(flags: LayoutFlags): Promise<void> {
  const tail = await withClient(flags, (client) => client.tail());
  process.stdout.write(`${tail}\n`);
}

// ---- status ---------------------------------------------------------------------

interface ServerStatus {
  readonly up: boolean;
  readonly epoch?: number;
  readonly tail?: number;
  readonly error?: string;
}

interface UnitStatus extends ServerStatus {
  readonly trimMark?: number;
  readonly maxEntryBytes?: number;
  readonly usedBytes?: number;
  readonly capacityBytes?: number;
  readonly sync?: 'always' | 'none';
}

/** `fn` over a connection to `address`; down (with why) when it cannot connect or answer. */
async function ask<T extends ServerStatus>(address: string, fn: (conn: Connection) => Promise<T>): Promise<T | ServerStatus> {
  try {
    await probe(address, STATUS_TIMEOUT_MS, cliRuntime().dialer);
  } catch (err) {
    return { up: false, error: (err as Error).message };
  }
  const conn = new Connection({ ...splitHostPort(address), timeoutMs: STATUS_TIMEOUT_MS, dialer: cliRuntime().dialer });
  try {
    return await fn(conn);
  } catch (err) {
    return { up: false, error: (err as Error).message };
  } finally {
    await conn.close();
  }
}

/** The sequencer: its epoch and tail (TAIL, asked again at its own epoch when it is elsewhere). */
function askSequencer(address: string, epoch: number): Promise<ServerStatus> {
  return ask(address, async (conn) => {
    let res = await conn.request({ type: 'request', op: 'TAIL', epoch });
    let at = epoch;
    if (res.status === 'ERR_SEALED') {
      at = res.unitEpoch;
      res = await conn.request({ type: 'request', op: 'TAIL', epoch: at });
      if (res.status === 'ERR_SEALED') return { up: true, epoch: res.unitEpoch };
    }
    if (res.status !== 'OK') return { up: true, error: `${res.status}: ${res.message}` };
    if (res.op !== 'TAIL') return { up: true, error: `unexpected ${res.op} answer to TAIL` };
    return { up: true, epoch: at, tail: res.tail };
  });
}

/** A unit: what INFO says (answered at any epoch). */
function askUnit(address: string): Promise<UnitStatus> {
  return ask(address, async (conn) => {
    const res = await conn.request({ type: 'request', op: 'INFO', epoch: 0 });
    if (res.status !== 'OK') return { up: true, error: `${res.status}: ${res.message}` };
    if (res.op !== 'INFO') return { up: true, error: `unexpected ${res.op} answer to INFO` };
    return {
      up: true,
      epoch: res.unitEpoch,
      tail: res.tail,
      trimMark: res.trimMark,
      maxEntryBytes: res.maxEntryBytes,
      usedBytes: res.usedPages * res.pageBytes,
      capacityBytes: res.dataPages * res.pageBytes,
      sync: res.sync === SYNC.ALWAYS ? 'always' : 'none',
    };
  });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function statusLine(name: string, address: string, s: UnitStatus): string {
  const parts = [name.padEnd(10), address.padEnd(22), s.up ? 'up  ' : 'down'];
  if (s.epoch !== undefined) parts.push(`epoch ${s.epoch}`);
  if (s.tail !== undefined) parts.push(`tail ${s.tail}`);
  if (s.trimMark !== undefined) parts.push(`trim mark ${s.trimMark}`);
  if (s.usedBytes !== undefined && s.capacityBytes !== undefined) parts.push(`used ${mib(s.usedBytes)} of ${mib(s.capacityBytes)}`);
  if (s.sync !== undefined) parts.push(`sync ${s.sync}`);
  if (s.error !== undefined) parts.push(`(${s.error})`);
  return parts.join('  ');
}

/** The manager's last rebuild report in the store, if it is well formed (a report is never trusted for more than display). */
async function rebuildReport(store: ProjectionStore): Promise<(RebuildStatus & { at: string }) | undefined> {
  try {
    const r = (await store.getStatus(REBUILD_STATUS)) as Partial<RebuildStatus & { at: string }> | undefined;
    if (r === undefined || typeof r.unit !== 'string' || typeof r.at !== 'string' || ![r.addressesDone, r.addressesTotal, r.bytesCopied].every((n) => Number.isSafeInteger(n))) return undefined;
    return r as RebuildStatus & { at: string };
  } catch (err) {
    if (err instanceof CorfuError) return undefined;
    throw err;
  }
}

export interface StatusFlags extends LayoutFlags {
  readonly json?: boolean;
  /** `-o table|json`; `--json` is `-o json`. */
  readonly output?: 'table' | 'json';
}

/** `-o`: the output format of `corfu status`. */
export function outputArg(value: string): 'table' | 'json' {
  if (value !== 'table' && value !== 'json') throw new InvalidArgumentError("expected 'table' or 'json'.");
  return value;
}

export async function statusVerb(flags: StatusFlags): Promise<void> {
  // One store connection for the projection and the manager's last rebuild report.
  const store = await openProjectionStore(flags.layout, cliStoreOptions());
  let p: Projection;
  let report: Awaited<ReturnType<typeof rebuildReport>>;
  try {
    p = await latestIn(store, flags.layout);
    report = await rebuildReport(store);
  } finally {
    await store.close();
  }
  const [sequencer, units] = await Promise.all([askSequencer(p.sequencer, p.epoch), Promise.all(p.units.map((u) => askUnit(u)))]);
  // Replicas being rebuilt, with that report for the one the manager is copying.
  const rebuilding = [...new Set(p.segments.flatMap((s) => s.stripes.flatMap((t) => t.rebuilding ?? [])))].map((unit) => {
    const plan = rebuildPlan(p, unit);
    const progress = report?.unit === unit && !report.done ? { addressesDone: report.addressesDone, bytesCopied: report.bytesCopied, at: report.at } : null;
    return { unit, chains: plan.length, addresses: plan.reduce((n, c) => n + c.addresses.length, 0), from: [...new Set(plan.map((c) => c.source))], progress };
  });
  const down = new Set(p.units.filter((_, i) => !units[i]!.up));
  const segments = segmentReplication(p, down);
  if (flags.json === true || flags.output === 'json') {
    const json = {
      layout: flags.layout,
      epoch: p.epoch,
      maxEntryBytes: p.maxEntryBytes ?? null,
      sequencer: { address: p.sequencer, ...sequencer },
      units: p.units.map((address, i) => ({ address, ...units[i]! })),
      segments,
      underReplicated: segments.flatMap((seg, s) => seg.stripes.flatMap((t, k) => (t.underReplicated ? [{ segment: s, stripe: k }] : []))),
      rebuilding,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return;
  }
  const lines = [
    `layout     ${flags.layout}`,
    `epoch      ${p.epoch} (projection)`,
    `max entry  ${p.maxEntryBytes === undefined ? 'not recorded (the units enforce their own)' : `${p.maxEntryBytes} bytes`}`,
    statusLine('sequencer', p.sequencer, sequencer),
  ];
  for (const [i, address] of p.units.entries()) lines.push(statusLine(`unit ${i}`, address, units[i]!));
  const up = units.filter((u) => u.up).length;
  lines.push(`units up   ${up}/${p.units.length}`);
  lines.push(...replicationLines(segments));
  for (const r of rebuilding) {
    const progress =
      r.progress === null
        ? 'not started or not reported yet'
        : `${r.progress.addressesDone} copied, ${r.addresses - r.progress.addressesDone} to go, ${(r.progress.bytesCopied / 2 ** 20).toFixed(1)} MiB so far (as of ${r.progress.at})`;
    lines.push(`rebuilding ${r.unit}: ${r.addresses} addresses in ${r.chains} chain${r.chains === 1 ? '' : 's'}, from ${r.from.join(', ')}: ${progress}; it serves no reads until done`);
  }
  if (rebuilding.length === 0) lines.push('redundancy every chain is whole');
  process.stdout.write(`${lines.join('\n')}\n`);
}
