// `corfu layout init`, `show` and `reconfigure`, and the installation of a
// new epoch that `corfu up` shares with them. Reconfiguration itself is the
// client's (src/client/reconfigure.ts); this file only parses its flags.
//
// Installing epoch E (docs/design.md: seal, then propose):
//   1. SEAL every unit to E over the wire and collect the tail each answers.
//      A unit already at E (a retried install that sealed it before dying)
//      answers ERR_SEALED with unitEpoch E: accepted, and its tail is asked
//      with TAIL at E. A unit above E is an error: someone installed a later
//      epoch.
//   2. BOOTSTRAP the sequencer to E with the largest sealed tail T: it hands
//      out no token below T. One already at E (a rerun) is accepted if its
//      next token is not below T, and refused otherwise.
//   3. Propose E to the projection store. If another proposal won, that is
//      the layout: print it and fail (exit 1).

import { probe, splitHostPort } from '../transport/address.js';

import { InvalidArgumentError } from 'commander';

import { CorfuError } from '../../bindings/errors.js';
import { canonicalJson, openProjectionStore, parseProjection, projectionsEqual, wholeReplicas } from '../layout/index.js';
import type { Projection } from '../layout/index.js';
import { reconfigure } from '../client/reconfigure-driver.js';
import type { Change } from '../layout/next.js';
import { Connection, throwIfError } from '../transport/connection.js';
import { FatalError } from './fatal-error.js';
import { cliRuntime, cliStoreOptions } from './security.js';
import { UsageError } from './usage-error.js';

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function checkHostPort(value: string): string {
  const m = HOST_PORT.exec(value);
  const port = m === null ? NaN : Number(m[1]);
  if (m === null || port < 1 || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT with a port of 1..65535, got '${value}'.`);
  return value;
}

/** `--sequencer HOST:PORT`. */
export function hostPortArg(value: string): string {
  return checkHostPort(value);
}

/** `--stripe HOST:PORT,HOST:PORT` (repeatable): one chain per flag, head first. */
export function stripeArg(value: string, previous: string[][] | undefined): string[][] {
  const chain = value.split(',').map((part) => part.trim());
  if (chain.length === 0 || chain.some((unit) => unit === '')) {
    throw new InvalidArgumentError(`expected HOST:PORT[,HOST:PORT...] (a chain, head first), got '${value}'.`);
  }
  for (const unit of chain) checkHostPort(unit);
  if (new Set(chain).size !== chain.length) throw new InvalidArgumentError(`a unit is repeated in the chain '${value}'.`);
  return [...(previous ?? []), chain];
}

/** Epoch 1-style projection: one open segment from 0 with these chains; units are all listed, in order. */
export function buildProjection(epoch: number, sequencer: string, stripes: readonly (readonly string[])[], maxEntryBytes: number): Projection {
  const units = [...new Set(stripes.flat())];
  return parseProjection({ epoch, sequencer, units, segments: [{ start: 0, end: null, stripes: stripes.map((chain) => ({ chain: [...chain] })) }], maxEntryBytes });
}

const TIMEOUT_MS = 3000;

async function withConnection<T>(role: string, address: string, epoch: number, fn: (conn: Connection) => Promise<T>): Promise<T> {
  try {
    await probe(address, TIMEOUT_MS, cliRuntime().dialer);
  } catch (err) {
    if (err instanceof CorfuError && err.code === 'ERR_UNAUTHORIZED') throw new CorfuError(err.code, `cannot seal ${role} ${address} to epoch ${epoch}: ${err.message}`);
    throw new CorfuError('ERR_UNAVAILABLE', `cannot seal ${role} ${address} to epoch ${epoch}: it is not reachable (${(err as Error).message})`);
  }
  const { host, port } = splitHostPort(address);
  const conn = new Connection({ host, port, timeoutMs: TIMEOUT_MS, dialer: cliRuntime().dialer });
  try {
    return await fn(conn);
  } catch (err) {
    if (err instanceof CorfuError) throw new CorfuError(err.code, `cannot seal ${role} ${address} to epoch ${epoch}: ${err.message}`);
    throw err;
  } finally {
    await conn.close();
  }
}

/**
 * SEALs a unit (or BOOTSTRAPs the sequencer with `startTail`) to `epoch` and
 * answers its tail (a unit's local tail, the sequencer's next token). One
 * already at `epoch` counts as sealed (a rerun of init): its TAIL is asked.
 * The sequencer forgets any stream tails it holds (resetStreams): it is not known
 * to have been the sequencer of the epoch before.
 */
function sealServer(role: 'unit' | 'sequencer', address: string, epoch: number, startTail = 0): Promise<number> {
  return withConnection(role, address, epoch, async (conn) => {
    const res = await conn.request(
      role === 'unit' ? { type: 'request', op: 'SEAL', epoch, newEpoch: epoch } : { type: 'request', op: 'BOOTSTRAP', epoch, newEpoch: epoch, startTail, resetStreams: true },
    );
    if (res.status === 'ERR_SEALED' && res.unitEpoch === epoch) {
      const tail = throwIfError(await conn.request({ type: 'request', op: 'TAIL', epoch }));
      if (tail.op !== 'TAIL') throw new CorfuError('ERR_IO', `unexpected ${tail.op} answer to TAIL`);
      return tail.tail;
    }
    const ok = throwIfError(res);
    if (ok.op !== 'SEAL' && ok.op !== 'BOOTSTRAP') throw new CorfuError('ERR_IO', `unexpected ${ok.op} answer to ${res.op}`);
    return ok.tail;
  });
}

export interface SealedUnits {
  /** Each unit's tail as answered to SEAL. */
  readonly tails: ReadonlyMap<string, number>;
  /** The smallest of the units' largest entries (INFO): the projection's limit. */
  readonly maxEntryBytes: number;
}

/** SEALs every unit to `epoch` (in parallel); answers each unit's tail and the smallest entry limit among them. */
export async function sealUnits(units: readonly string[], epoch: number): Promise<SealedUnits> {
  const sealed = await Promise.all(units.map(async (unit) => ({ tail: await sealServer('unit', unit, epoch), limit: await entryLimit(unit) })));
  return { tails: new Map(units.map((unit, i) => [unit, sealed[i]!.tail])), maxEntryBytes: Math.min(...sealed.map((s) => s.limit)) };
}

/** A unit's largest entry, as INFO answers it. */
async function entryLimit(unit: string): Promise<number> {
  const conn = new Connection({ ...splitHostPort(unit), timeoutMs: TIMEOUT_MS, dialer: cliRuntime().dialer });
  try {
    const info = throwIfError(await conn.request({ type: 'request', op: 'INFO', epoch: 0 }));
    if (info.op !== 'INFO') throw new CorfuError('ERR_IO', `unexpected ${info.op} answer to INFO`);
    return info.maxEntryBytes;
  } catch (err) {
    if (err instanceof CorfuError) throw new CorfuError(err.code, `cannot ask unit ${unit} for its limits: ${err.message}`);
    throw err;
  } finally {
    await conn.close();
  }
}

export interface InstallResult {
  readonly projection: Projection;
  /** Each unit's tail as answered to SEAL. */
  readonly tails: ReadonlyMap<string, number>;
}

/**
 * Bootstraps the sequencer of `projection` (its units must already be sealed, with
 * their tails in `tails`) and proposes it. Throws if the sequencer's next
 * token is below a unit's tail, or if another proposal holds the slot.
 */
export async function sealSequencerAndPropose(storeUrl: string, projection: Projection, tails: ReadonlyMap<string, number>): Promise<InstallResult> {
  const maxTail = Math.max(0, ...tails.values());
  const next = await sealServer('sequencer', projection.sequencer, projection.epoch, maxTail);
  if (next < maxTail) {
    // Only a sequencer that some other install already moved to this epoch can be here.
    throw new FatalError(`sequencer ${projection.sequencer} is at epoch ${projection.epoch} but would hand out token ${next}, below the units' tail ${maxTail}`);
  }
  const store = await openProjectionStore(storeUrl, cliStoreOptions());
  try {
    const result = await store.propose(projection);
    if (!result.accepted && !projectionsEqual(result.winner, projection)) {
      process.stdout.write(`${layoutTable(result.winner)}\n`);
      throw new FatalError(`another projection won epoch ${projection.epoch} (shown above)`);
    }
  } finally {
    await store.close();
  }
  return { projection, tails };
}

/** `--replace OLD=NEW` (repeatable). */
export function replaceArg(value: string, previous: Change[] | undefined): Change[] {
  const parts = value.split('=');
  if (parts.length !== 2) throw new InvalidArgumentError(`expected OLD=NEW (two HOST:PORT), got '${value}'.`);
  const [old, replacement] = parts.map((part) => checkHostPort(part.trim())) as [string, string];
  if (old === replacement) throw new InvalidArgumentError(`'${value}' replaces a unit by itself.`);
  return [...(previous ?? []), { kind: 'replace-unit', old, replacement }];
}

export interface LayoutReconfigureFlags {
  readonly store: string;
  readonly replace?: Change[];
  readonly addSegment?: boolean;
  readonly stripe?: string[][];
  readonly sequencer?: string;
  readonly expectEpoch?: number;
}

/** The changes the flags ask for, in a fixed order: replacements, then the new segment, then the sequencer. */
export function reconfigureChanges(flags: LayoutReconfigureFlags): Change[] {
  if (flags.addSegment === true && flags.stripe === undefined) throw new UsageError('--add-segment needs its stripes: --stripe HOST:PORT,HOST:PORT (repeat per stripe)');
  if (flags.addSegment !== true && flags.stripe !== undefined) throw new UsageError('--stripe belongs to --add-segment');
  const changes: Change[] = [...(flags.replace ?? [])];
  if (flags.addSegment === true) changes.push({ kind: 'add-segment', stripes: flags.stripe! });
  if (flags.sequencer !== undefined) changes.push({ kind: 'move-sequencer', sequencer: flags.sequencer });
  return changes;
}

export async function layoutReconfigureVerb(flags: LayoutReconfigureFlags): Promise<void> {
  const changes = reconfigureChanges(flags);
  const store = await openProjectionStore(flags.store, cliStoreOptions());
  try {
    const result = await reconfigure(store, changes, { timeoutMs: TIMEOUT_MS, runtime: cliRuntime(), ...(flags.expectEpoch === undefined ? {} : { expectEpoch: flags.expectEpoch }) });
    process.stdout.write(`${layoutTable(result.projection)}\n`);
    if (result.adopted) throw new FatalError(`another reconfiguration won epoch ${result.projection.epoch} (shown above); these changes were not applied`);
  } finally {
    await store.close();
  }
}

export interface LayoutInitFlags {
  readonly store: string;
  readonly sequencer: string;
  readonly stripe: string[][];
}

export async function layoutInitVerb(flags: LayoutInitFlags): Promise<void> {
  const units = [...new Set(flags.stripe.flat())];
  const sealed = await sealUnits(units, 1);
  const projection = buildProjection(1, flags.sequencer, flags.stripe, sealed.maxEntryBytes);
  await sealSequencerAndPropose(flags.store, projection, sealed.tails);
  process.stdout.write(`${layoutTable(projection)}\n`);
}

export async function layoutShowVerb(flags: { store: string; json?: boolean }): Promise<void> {
  const store = await openProjectionStore(flags.store, cliStoreOptions());
  let latest: Projection | undefined;
  try {
    latest = await store.latest();
  } finally {
    await store.close();
  }
  if (latest === undefined) throw new FatalError(`no projection in ${flags.store} yet (see \`corfu layout init\` or \`corfu up\`)`);
  process.stdout.write(flags.json === true ? `${JSON.stringify(JSON.parse(canonicalJson(latest)), null, 2)}\n` : `${layoutTable(latest)}\n`);
}

/** The projection as a readable table. */
export function layoutTable(p: Projection): string {
  const lines = [`epoch      ${p.epoch}`, `sequencer  ${p.sequencer}`, `units      ${p.units.length}: ${p.units.join(' ')}`];
  lines.push(`max entry  ${p.maxEntryBytes === undefined ? 'not recorded (the units enforce their own)' : `${p.maxEntryBytes} bytes`}`);
  for (const [s, segment] of p.segments.entries()) {
    const end = segment.end === null ? 'open' : String(segment.end);
    lines.push(`segment ${s}  [${segment.start}, ${end})  ${segment.stripes.length} stripe${segment.stripes.length === 1 ? '' : 's'}`);
    for (const [t, stripe] of segment.stripes.entries()) {
      const rebuilding = stripe.rebuilding === undefined ? '' : `  rebuilding ${stripe.rebuilding.join(' ')} (reads from ${wholeReplicas(stripe).at(-1)})`;
      lines.push(`  stripe ${t}  ${stripe.chain.join(' -> ')}  (head -> tail)${rebuilding}`);
    }
  }
  return lines.join('\n');
}
