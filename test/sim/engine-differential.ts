// The differential check of MemEngine (engine.ts) against the real engine: one
// random sequence of operations runs against a MemEngine over a bounded Disk and
// against a real Store on an O_DIRECT file formatted with the same geometry, and
// every answer must be the same: per-entry statuses and `written` details, read
// kinds and payload bytes, tails, seal answers, and whole-request errors (code
// and the unit's epoch). After every operation the tail and the pages in use
// are compared too, so a drift in the space model shows where it starts.
//
// Addresses are offsets from a base that follows the prefix trims, so long
// sequences keep writing above the trim mark and the circle of pages wraps.
// Used by engine.differential.test.ts.

import fc from 'fast-check';

import { WRITTEN, isWrittenByte, writtenAs } from '../../bindings/entry-codes.js';
import { CorfuError, STATUS_NAMES } from '../../bindings/errors.js';
import { Store } from '../../bindings/store.js';
import type { UnitEngine } from '../../src/unit/handler.js';
import { Bugs } from './bugs.js';
import { Disk, MemEngine } from './engine.js';

/** Small enough to fill in a few dozen writes: 1 MiB of data pages (256, the engine's minimum) after 64 KiB of metadata. */
export const DEVICE_BYTES = 1024 * 1024 + 64 * 1024;
export const MAX_ENTRY_BYTES = 16 * 1024;

type EpochChoice = 'current' | 'stale' | 'future';

interface Entry {
  readonly at: number;
  readonly bytes: number;
  /** Payloads of one length differ only in their last byte, by `fill`: a compare must read to the end. */
  readonly fill: number;
}

export type Op =
  | { readonly op: 'write'; readonly epoch: EpochChoice; readonly entries: readonly Entry[] }
  | { readonly op: 'flood'; readonly at: number; readonly count: number; readonly bytes: number }
  /** The last write or flood again, as a client's resend (its last entry's last byte flipped with `flip`). */
  | { readonly op: 'resend'; readonly flip: boolean }
  | { readonly op: 'fill'; readonly epoch: EpochChoice; readonly at: readonly number[] }
  | { readonly op: 'read'; readonly epoch: EpochChoice; readonly at: readonly number[] }
  | { readonly op: 'readMany'; readonly at: number; readonly times: number }
  | { readonly op: 'trim'; readonly epoch: EpochChoice; readonly at: readonly number[] }
  | { readonly op: 'prefixTrim'; readonly epoch: EpochChoice; readonly at: number }
  | { readonly op: 'seal'; readonly to: 'up' | 'same' | 'down' | 'top'; readonly by: number }
  | { readonly op: 'tail'; readonly epoch: EpochChoice }
  | { readonly op: 'reopen' };

// ---- generation -----------------------------------------------------------------

/**
 * Offsets from TOP on name the top of the address range instead (MAX_SAFE_INTEGER - k),
 * where the engine's u64 addresses meet JS numbers. Addresses and epochs are clamped
 * to MAX_SAFE_INTEGER, the most the bindings accept.
 */
const TOP = 1_000_000_000;
const top = (off: number): number => Number.MAX_SAFE_INTEGER - (off - TOP);
const clamp = (n: number): number => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, n));
const rel = (n: number): string => (n >= TOP ? `top-${n - TOP}` : n < 0 ? `${n}` : `+${n}`);
const epochText = (e: EpochChoice): string => (e === 'current' ? '' : `@${e}`);

/** How an operation prints in a counterexample: offsets from the base, sizes, fills. */
export function opText(o: Op): string {
  switch (o.op) {
    case 'write':
      return `write${epochText(o.epoch)}(${o.entries.map((e) => `${rel(e.at)}:${e.bytes}B#${e.fill}`).join(' ')})`;
    case 'flood':
      return `flood(${rel(o.at)} x${o.count} ${o.bytes}B)`;
    case 'resend':
      return o.flip ? 'resend(flipped)' : 'resend';
    case 'readMany':
      return `readMany(${rel(o.at)} x${o.times})`;
    case 'prefixTrim':
      return `prefixTrim${epochText(o.epoch)}(${rel(o.at)})`;
    case 'seal':
      return `seal(${o.to}${o.to === 'same' ? '' : o.to === 'top' ? `-${o.by}` : ` ${o.by}`})`;
    case 'tail':
      return `tail${epochText(o.epoch)}`;
    case 'reopen':
      return 'reopen';
    default:
      return `${o.op}${epochText(o.epoch)}(${o.at.map(rel).join(' ')})`;
  }
}

function printable(o: Op): Op {
  return Object.defineProperty({ ...o }, fc.toStringMethod, { value: () => opText(o), enumerable: false });
}

const epochArb: fc.Arbitrary<EpochChoice> = fc.oneof(
  { weight: 18, arbitrary: fc.constant('current' as const) },
  { weight: 1, arbitrary: fc.constant('stale' as const) },
  { weight: 1, arbitrary: fc.constant('future' as const) },
);
/** Mostly 2^53 - 1 itself (refused); the two below it are written, and stay live until a prefix trim passes them. */
const topArb = fc.oneof({ weight: 4, arbitrary: fc.constant(TOP) }, { weight: 1, arbitrary: fc.integer({ min: TOP + 1, max: TOP + 2 }) });
/** Mostly near the base; now and then in the next 4096-address index chunk, rarely at the top of the range. */
const offsetArb = fc.oneof({ weight: 90, arbitrary: fc.integer({ min: -4, max: 24 }) }, { weight: 3, arbitrary: fc.integer({ min: 4090, max: 4100 }) }, { weight: 2, arbitrary: topArb });
const sizeArb = fc.oneof(
  // A few lengths again and again: equal lengths are where "same" and "different" bytes are told apart.
  { weight: 3, arbitrary: fc.constantFrom(0, 8, 64) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 2, arbitrary: fc.integer({ min: 3000, max: 5000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 8000, max: MAX_ENTRY_BYTES }) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_ENTRY_BYTES + 1, max: MAX_ENTRY_BYTES + 64 }) },
);
const entryArb = fc.record({ at: offsetArb, bytes: sizeArb, fill: fc.integer({ min: 0, max: 1 }) });
const addressesArb = (max: number): fc.Arbitrary<number[]> => fc.array(offsetArb, { minLength: 1, maxLength: max });

export const opArb: fc.Arbitrary<Op> = fc
  .oneof(
    { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), epoch: epochArb, entries: fc.array(entryArb, { minLength: 1, maxLength: 6 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('flood' as const),
        at: fc.integer({ min: 0, max: 24 }),
        count: fc.integer({ min: 8, max: 64 }),
        bytes: fc.integer({ min: 12_000, max: MAX_ENTRY_BYTES }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('resend' as const), flip: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('fill' as const), epoch: epochArb, at: addressesArb(4) }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('read' as const), epoch: epochArb, at: fc.array(fc.integer({ min: -8, max: 28 }), { minLength: 1, maxLength: 8 }) }) },
    // Above 16 MiB of payload when the entry is 8000 bytes or more: the whole READ is refused.
    { weight: 2, arbitrary: fc.record({ op: fc.constant('readMany' as const), at: fc.integer({ min: -2, max: 24 }), times: fc.integer({ min: 1030, max: 2100 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('trim' as const), epoch: epochArb, at: addressesArb(3) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('prefixTrim' as const),
        epoch: epochArb,
        at: fc.oneof({ weight: 36, arbitrary: fc.integer({ min: -4, max: 30 }) }, { weight: 3, arbitrary: fc.integer({ min: 31, max: 5000 }) }, { weight: 1, arbitrary: topArb }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('seal' as const),
        to: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('up' as const, 'same' as const, 'down' as const) }, { weight: 1, arbitrary: fc.constant('top' as const) }),
        by: fc.integer({ min: 1, max: 3 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('tail' as const), epoch: fc.constantFrom('current' as const, 'stale' as const, 'future' as const) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('reopen' as const) }) },
  )
  .map(printable);

export const MAX_OPS = Number(process.env['CORFU_DIFF_MAX_OPS'] ?? 120);
export const opsArb: fc.Arbitrary<Op[]> = fc.array(opArb, { minLength: 1, maxLength: MAX_OPS, size: 'max' });

// ---- running ----------------------------------------------------------------------

/** What the runs reached, for the coverage check: per label, how many runs saw it. */
export interface Facts {
  runs: number;
  ops: number;
  readonly runsSeeing: Map<string, number>;
}

export function newFacts(): Facts {
  return { runs: 0, ops: 0, runsSeeing: new Map() };
}

export function payloadOf(bytes: number, fill: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 7 + 1) & 0xff;
  if (bytes > 0) b[bytes - 1]! ^= fill;
  return b;
}

function flipLast(payload: Buffer): Buffer {
  const b = Buffer.from(payload);
  if (b.length > 0) b[b.length - 1]! ^= 0x80;
  return b;
}

function fingerprint(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
  return `${b.length}B:${h.toString(16).padStart(8, '0')}`;
}

/** An entry's answer as text; bytes outside the tables are shown, not refused: the two engines' answers are compared as text. */
function entryStatus(status: number, written: number): string {
  const name = STATUS_NAMES[status] ?? `status ${status}`;
  if (written === WRITTEN.NA) return name;
  return isWrittenByte(written) ? `${name}/${writtenAs(written)}` : `${name}/written ${written}`;
}

/** One engine's answer: text to compare and show, plus payloads compared byte for byte. */
interface Answer {
  readonly text: string;
  readonly payloads: readonly Uint8Array[];
}

async function answer(call: () => Promise<Answer>): Promise<Answer> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof CorfuError)) throw err;
    return { text: err.unitEpoch === undefined ? err.code : `${err.code} (unit epoch ${err.unitEpoch})`, payloads: [] };
  }
}

/** A request with absolute addresses, asked of one engine (INFO is the unit server's, from the superblock: not compared). */
type Call = (engine: Omit<UnitEngine, 'info'>) => Promise<Answer>;

function writeCall(epoch: number, entries: ReadonlyArray<{ address: number; payload: Buffer }>): Call {
  const addresses = Float64Array.from(entries, (e) => e.address);
  const lengths = Uint32Array.from(entries, (e) => e.payload.length);
  const data = Buffer.concat(entries.map((e) => e.payload));
  return async (engine) => {
    const r = await engine.writePacked(epoch, addresses, lengths, data);
    return { text: Array.from(r.status, (s, i) => entryStatus(s, r.written[i]!)).join(', '), payloads: [] };
  };
}

const outcomeText = (o: { status: string; written?: string | undefined }): string => (o.written === undefined ? o.status : `${o.status}/${o.written}`);

/** The harness's own view: where addresses start and the epoch requests carry. Both follow answers the engines agreed on. */
interface Cursor {
  base: number;
  epoch: number;
  /** The last write's entries (absolute addresses), for a resend. */
  lastWrite: ReadonlyArray<{ address: number; payload: Buffer }>;
}

function epochFor(c: Cursor, choice: EpochChoice): number {
  if (choice === 'current') return c.epoch;
  if (choice === 'stale' && c.epoch > 0) return c.epoch - 1;
  return clamp(c.epoch + 1);
}

/** The concrete request for `op` (absolute addresses, payloads), its description, and what it moves. */
function concrete(op: Op, c: Cursor): { text: string; call: Call; after?: (agreed: Answer) => void } | 'reopen' {
  const addr = (off: number): number => (off >= TOP ? top(off) : clamp(c.base + off));
  switch (op.op) {
    case 'write':
    case 'flood':
    case 'resend': {
      const epoch = op.op === 'write' ? epochFor(c, op.epoch) : c.epoch;
      const entries =
        op.op === 'write'
          ? op.entries.map((e) => ({ address: addr(e.at), payload: payloadOf(e.bytes, e.fill) }))
          : op.op === 'flood'
            ? Array.from({ length: op.count }, (_, i) => ({ address: addr(op.at + i), payload: payloadOf(op.bytes, 0) }))
            : c.lastWrite.map((e, i) => ({ address: e.address, payload: op.flip && i === c.lastWrite.length - 1 ? flipLast(e.payload) : e.payload }));
      if (entries.length === 0) return { text: 'resend (no write yet)', call: async () => ({ text: 'nothing to resend', payloads: [] }) };
      c.lastWrite = entries;
      return { text: `write e${epoch} [${entries.map((e) => `${e.address}:${fingerprint(e.payload)}`).join(' ')}]`, call: writeCall(epoch, entries) };
    }
    case 'fill': {
      const epoch = epochFor(c, op.epoch);
      const addresses = Float64Array.from(op.at, addr);
      return {
        text: `fill e${epoch} [${addresses.join(' ')}]`,
        call: async (engine) => ({ text: (await engine.fill(epoch, addresses)).map(outcomeText).join(', '), payloads: [] }),
      };
    }
    case 'read':
    case 'readMany': {
      const epoch = op.op === 'read' ? epochFor(c, op.epoch) : c.epoch;
      const addresses = op.op === 'read' ? Float64Array.from(op.at, addr) : new Float64Array(op.times).fill(addr(op.at));
      const shown = op.op === 'read' ? addresses.join(' ') : `${addresses[0]} x${op.times}`;
      return {
        text: `read e${epoch} [${shown}]`,
        call: async (engine) => {
          const out = await engine.read(epoch, addresses);
          const payloads = out.flatMap((o) => (o.payload === undefined ? [] : [o.payload]));
          const text = out.map((o) => (o.status !== 'OK' ? o.status : o.kind === 'junk' ? 'junk' : `data ${fingerprint(o.payload ?? new Uint8Array())}`)).join(', ');
          return { text, payloads };
        },
      };
    }
    case 'trim': {
      const epoch = epochFor(c, op.epoch);
      const addresses = Float64Array.from(op.at, addr);
      return {
        text: `trim e${epoch} [${addresses.join(' ')}]`,
        call: async (engine) => ({ text: (await engine.trim(epoch, addresses)).map(outcomeText).join(', '), payloads: [] }),
      };
    }
    case 'prefixTrim': {
      const epoch = epochFor(c, op.epoch);
      const mark = addr(op.at);
      return {
        text: `prefixTrim e${epoch} ${mark}`,
        call: async (engine) => {
          await engine.prefixTrim(epoch, mark);
          return { text: 'OK', payloads: [] };
        },
        after: (agreed) => {
          if (agreed.text === 'OK') c.base = Math.max(c.base, mark);
        },
      };
    }
    case 'seal': {
      const to = clamp(op.to === 'up' ? c.epoch + op.by : op.to === 'same' ? c.epoch : op.to === 'top' ? Number.MAX_SAFE_INTEGER - op.by : c.epoch - op.by);
      return {
        text: `seal ${to}`,
        call: async (engine) => ({ text: `tail ${await engine.seal(to)}`, payloads: [] }),
        after: (agreed) => {
          if (agreed.text.startsWith('tail ')) c.epoch = to;
        },
      };
    }
    case 'tail': {
      const epoch = epochFor(c, op.epoch);
      return { text: `tail e${epoch}`, call: async (engine) => ({ text: `tail ${await engine.tail(epoch)}`, payloads: [] }) };
    }
    case 'reopen':
      return 'reopen';
  }
}

function samePayloads(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((p, i) => Buffer.compare(p, b[i]!) === 0);
}

/** What the answers show, for the coverage check (labels like "write ERR_WRITTEN/same"). */
function note(seen: Set<string>, op: Op, a: Answer): void {
  const kind = op.op === 'flood' || op.op === 'resend' ? 'write' : op.op === 'seal' ? `seal ${op.to}` : op.op;
  for (const part of new Set(a.text.split(', ')))
    seen.add(
      `${kind} ${part
        .replace(/^data .*/, 'data')
        .replace(/^tail \d+$/, 'tail')
        .replace(/ \(unit epoch \d+\)$/, '')}`,
    );
}

/**
 * Runs `ops` against a MemEngine (with `bugNames` planted) and a real Store formatted
 * at `path`, and throws at the first answer that differs, with the trace so far.
 */
export async function runDifferential(ops: readonly Op[], path: string, bugNames: readonly string[], facts: Facts): Promise<void> {
  const info = Store.format(path, { sizeBytes: DEVICE_BYTES, maxEntryBytes: MAX_ENTRY_BYTES, force: true });
  const bugs = new Bugs(bugNames);
  const disk = new Disk({ dataPages: info.dataPages, maxEntryBytes: info.maxEntryBytes });
  const space = disk.space!;
  let model = new MemEngine(disk, bugs);
  let real = Store.open(path, { sync: 'always' });
  const cursor: Cursor = { base: 0, epoch: 0, lastWrite: [] };
  const trace: string[] = [];
  const seen = new Set<string>();
  facts.runs++;
  const fail = (what: string, m: string, r: string): never => {
    throw new Error(`MemEngine and the real engine differ at ${what}\n  real:  ${r}\n  model: ${m}\ntrace (absolute addresses; payloads as length:fnv32):\n${trace.map((t) => `  ${t}`).join('\n')}`);
  };
  const ask = async (text: string, call: Call): Promise<Answer> => {
    const r = await answer(() => call(real));
    const m = await answer(() => call(model));
    if (r.text !== m.text) fail(text, m.text, r.text);
    if (!samePayloads(r.payloads, m.payloads)) fail(`${text} (payload bytes)`, m.text, r.text);
    return r;
  };
  try {
    for (const op of ops) {
      facts.ops++;
      const req = concrete(op, cursor);
      if (req === 'reopen') {
        trace.push('reopen');
        const endSeq = space.nextSeq;
        await real.close();
        real = Store.open(path, { sync: 'always' });
        model.close();
        model = new MemEngine(disk, bugs);
        // A clean close writes an index checkpoint at the log's end when the circle has room
        // for it (and the live one does not already end the log): a flush of its own, with no
        // address. Its size follows the index's compressed form, which the model does not
        // copy: it takes the pages from the engine, and models everything else about them
        // (the pages in use, ERR_FULL, when the head passes them).
        // The superblock write that publishes it frees what is below the trim mark, as any
        // superblock write does (the checkpoint too, when every flush before it goes).
        const st = await real.stats();
        if (st.checkpointSeq === endSeq) {
          space.append({ startSeq: endSeq, pages: st.checkpointPages, maxAddress: 0 }, 1);
          space.freeBelow(disk.trimMark);
        }
        if (space.nextSeq > space.dataPages) seen.add('reopen after wrap');
      } else {
        if (op.op === 'prefixTrim' && op.epoch === 'current' && (op.at >= TOP ? top(op.at) : clamp(cursor.base + op.at)) > model.tailNow) seen.add('prefixTrim above the tail');
        if (op.op === 'write' && new Set(op.entries.map((e) => e.at)).size < op.entries.length) seen.add('write repeating an address');
        const a = await ask(req.text, req.call);
        trace.push(`${req.text} -> ${a.text.length > 300 ? `${a.text.slice(0, 300)}...` : a.text}`);
        req.after?.(a);
        note(seen, op, a);
      }
      const tailText = `tail e${cursor.epoch} (after every operation)`;
      await ask(tailText, async (engine) => ({ text: `tail ${await engine.tail(cursor.epoch)}`, payloads: [] }));
      const used = (await real.stats()).usedPages;
      if (used !== space.usedPages) fail('the pages in use (after every operation)', `${space.usedPages}`, `${used}`);
      if (space.nextSeq > space.dataPages) seen.add('wrapped');
    }
  } finally {
    for (const label of seen) facts.runsSeeing.set(label, (facts.runsSeeing.get(label) ?? 0) + 1);
    model.close();
    await real.close();
  }
}
