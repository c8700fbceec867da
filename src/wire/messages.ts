// Typed requests and responses (docs/protocol.md, "Bodies").
//
// Every message carries the frame header's `requestId` (u32) and `epoch` (the
// sender's epoch, a safe integer). Numbers that are u64 on the wire are safe
// integers here; per-entry status bytes stay bytes (the error table's bytes,
// as bindings/store-channel.ts hands them out), so a unit can answer with the
// engine's buffers as they are.

import type { ErrorCode } from '../../bindings/errors.js';
import type { Op } from './frame.js';

// `written[i]` in a WRITE or FILL response and `kinds[i]` in a READ response: the one
// table of these bytes, shared with the engine (bindings/entry-codes.ts).
export { KIND, WRITTEN } from '../../bindings/entry-codes.js';
export type { KindByte, WrittenByte } from '../../bindings/entry-codes.js';

interface Envelope {
  readonly requestId: number;
  readonly epoch: number;
}

// ---- requests -------------------------------------------------------------

export interface WriteEntry {
  readonly address: number;
  readonly payload: Uint8Array;
}

export interface WriteRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'WRITE';
  readonly entries: readonly WriteEntry[];
}

export interface AddressesRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'READ' | 'FILL' | 'TRIM';
  readonly addresses: readonly number[];
}

export interface PrefixTrimRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'PREFIX_TRIM';
  /** Everything below this address is trimmed. */
  readonly address: number;
}

export interface EmptyRequest extends Envelope {
  readonly type: 'request';
  /** INFO asks a unit about itself (answered at any epoch, like PING). */
  readonly op: 'TAIL' | 'PING' | 'INFO';
}

/**
 * The sequencer's long poll: answer (as TAIL does) once the tail is above
 * `after`, or after `waitMs` with whatever it is then. A follower waits on
 * new entries with it instead of polling.
 */
export interface WaitTailRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'WAIT_TAIL';
  readonly after: number;
  /** 1 .. MAX_WAIT_TAIL_MS. */
  readonly waitMs: number;
}

/** The longest a WAIT_TAIL may wait. */
export const MAX_WAIT_TAIL_MS = 60_000;

export interface SealRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'SEAL';
  readonly newEpoch: number;
}

/**
 * The sequencer's seal: install `newEpoch` and hand out no token below
 * `startTail` (the largest tail the units answered to their SEAL). A
 * reconfiguration sends it; units answer ERR_BAD_REQUEST.
 */
export interface BootstrapRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'BOOTSTRAP';
  readonly newEpoch: number;
  readonly startTail: number;
  /**
   * The sequencer's stream state cannot be trusted: it was not the previous epoch's
   * sequencer (another one may have handed out stream tokens since it last did). It
   * forgets its stream tails and rebuilds them from the log (STREAM_SEED) before it
   * answers STREAM_TOKEN or STREAM_TAILS again.
   */
  readonly resetStreams: boolean;
}

export interface TokenRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'TOKEN';
  /** How many consecutive tokens: 1 .. MAX_TOKENS_PER_REQUEST. */
  readonly count: number;
}

/**
 * The most tokens one TOKEN request may take: the sequencer refuses more
 * (ERR_TOO_LARGE), and the client never asks for more (it caps appendBatch and
 * its coalesced TOKEN requests here).
 */
export const MAX_TOKENS_PER_REQUEST = 65_536;

// ---- streams (docs/streams.md) ----------------------------------------------

/** A stream's id on the wire: 16 bytes (the first half of SHA-256 of its name), here as 32 lower-case hex digits. */
export type StreamId = string;
export const STREAM_ID_BYTES = 16;
/**
 * How many of a stream's previous addresses travel with each of its entries (its
 * backpointers) and with a STREAM_TAILS answer. A reader walks a stream backwards
 * through them; K junk entries in a row of one stream break the walk (docs/streams.md).
 */
export const STREAM_BACKPOINTERS = 4;
/** The most streams one entry may belong to (one STREAM_TOKEN request). */
export const MAX_STREAMS_PER_ENTRY = 256;
/** The most streams one STREAM_TAILS request may ask about. */
export const MAX_STREAMS_PER_QUERY = 4096;
/** The most streams one STREAM_SEED request may carry. */
export const MAX_SEED_STREAMS = 65_536;

/** A stream's latest addresses, newest first, at most STREAM_BACKPOINTERS. */
export type StreamAddresses = readonly number[];

/**
 * `count` consecutive tokens for entries that belong to every stream in `streams`
 * (distinct ids). The answer carries each stream's latest addresses before the first
 * token: the backpointers of the first entry.
 */
export interface StreamTokenRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'STREAM_TOKEN';
  /** 1 .. MAX_TOKENS_PER_REQUEST. */
  readonly count: number;
  /** 1 .. MAX_STREAMS_PER_ENTRY distinct ids. */
  readonly streams: readonly StreamId[];
}

/** The latest addresses of each stream in `streams`, and the log's tail, in one answer. */
export interface StreamTailsRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'STREAM_TAILS';
  /** 1 .. MAX_STREAMS_PER_QUERY ids. */
  readonly streams: readonly StreamId[];
}

/** One stream's latest addresses in a seeded range. */
export interface SeedEntry {
  readonly stream: StreamId;
  /** 1 .. STREAM_BACKPOINTERS addresses in [from, to), newest first. */
  readonly addresses: StreamAddresses;
}

/**
 * Rebuilds a reset sequencer's stream tails from the log, range by range downwards:
 * every stream's latest addresses in [from, to), read from the units by a client. The
 * sequencer takes it only if `to` is where its knowledge begins (its `streamsFrom`);
 * `done` says nothing below `from` holds a stream entry still needed (the log's start
 * or its trim mark was reached).
 */
export interface StreamSeedRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'STREAM_SEED';
  readonly from: number;
  readonly to: number;
  readonly done: boolean;
  /** 0 .. MAX_SEED_STREAMS entries, distinct streams. */
  readonly entries: readonly SeedEntry[];
}

// ---- authentication (docs/protocol.md, AUTH; src/transport/auth.ts) ---------------

/** The roles a peer can have: what each may send is `OP_ROLES` (roles.ts). */
export type Role = 'client' | 'admin';

/** A role on the wire (the AUTH answer). */
export const ROLE_BYTES: Readonly<Record<Role, number>> = { client: 1, admin: 2 };

/** The longest AUTH token, in bytes. */
export const MAX_AUTH_TOKEN_BYTES = 1024;

/**
 * The first frame of a connection to a server that wants a token, or to a TLS server
 * (it confirms the server took the client's certificate). An empty token asks only for
 * the role the connection already has (from its certificate).
 */
export interface AuthRequest extends Envelope {
  readonly type: 'request';
  readonly op: 'AUTH';
  /** 0 .. MAX_AUTH_TOKEN_BYTES bytes. */
  readonly token: Uint8Array;
}

export type Request =
  | AuthRequest
  | WriteRequest
  | AddressesRequest
  | PrefixTrimRequest
  | EmptyRequest
  | WaitTailRequest
  | SealRequest
  | BootstrapRequest
  | TokenRequest
  | StreamTokenRequest
  | StreamTailsRequest
  | StreamSeedRequest;

// ---- responses ------------------------------------------------------------

/** A whole-request failure; any operation can answer with one. */
export interface ErrorResponse extends Envelope {
  readonly type: 'response';
  readonly op: Op;
  readonly status: ErrorCode;
  /** The unit's epoch for ERR_SEALED; 0 otherwise. */
  readonly unitEpoch: number;
  /** At most 65,535 UTF-8 bytes on the wire (the encoder truncates at a character boundary). */
  readonly message: string;
}

export interface WriteResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'WRITE' | 'FILL';
  readonly status: 'OK';
  /** One status byte per entry, in request order. */
  readonly statuses: Uint8Array;
  /** One WRITTEN byte per entry. */
  readonly written: Uint8Array;
}

export interface TrimResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'TRIM';
  readonly status: 'OK';
  readonly statuses: Uint8Array;
}

export interface ReadResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'READ';
  readonly status: 'OK';
  readonly statuses: Uint8Array;
  /** KIND per entry: DATA or JUNK where the status is OK, NONE elsewhere. */
  readonly kinds: Uint8Array;
  /**
   * The payload of each OK data entry, null for every other entry. Decoded
   * payloads are views into the received bytes, not copies.
   */
  readonly payloads: ReadonlyArray<Uint8Array | null>;
}

export interface EmptyResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'PREFIX_TRIM' | 'PING';
  readonly status: 'OK';
}

export interface TailResponse extends Envelope {
  readonly type: 'response';
  /** SEAL answers with the unit's tail too; BOOTSTRAP and WAIT_TAIL with the sequencer's next token. */
  readonly op: 'TAIL' | 'SEAL' | 'BOOTSTRAP' | 'WAIT_TAIL';
  readonly status: 'OK';
  readonly tail: number;
}

export interface TokenResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'TOKEN';
  readonly status: 'OK';
  /** The first of `count` consecutive tokens. */
  readonly first: number;
}

export interface StreamTokenResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'STREAM_TOKEN';
  readonly status: 'OK';
  /** The first of `count` consecutive tokens. */
  readonly first: number;
  /** Per requested stream, in request order: its latest addresses below `first`, newest first. */
  readonly backpointers: readonly StreamAddresses[];
}

export interface StreamTailsResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'STREAM_TAILS';
  readonly status: 'OK';
  /** The log's tail (the next token) when the answer was made: every listed address is below it. */
  readonly tail: number;
  /** Per requested stream, in request order: its latest addresses, newest first (empty: no entry yet). */
  readonly latest: readonly StreamAddresses[];
  /**
   * Below this address the sequencer knows no stream entry: its tails were rebuilt from
   * a log trimmed there (0: nothing below is unknown). A reader not yet past it may have
   * missed entries the trim took, and is told so (ERR_TRIMMED).
   */
  readonly floor: number;
}

export interface StreamSeedResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'STREAM_SEED';
  readonly status: 'OK';
  /** Where the sequencer's stream knowledge now begins: the next seed must end here. */
  readonly streamsFrom: number;
  /** The stream tails are whole again: STREAM_TOKEN and STREAM_TAILS are answered. */
  readonly recovered: boolean;
}

/** The role the connection has from now on. */
export interface AuthResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'AUTH';
  readonly status: 'OK';
  readonly role: Role;
}

/** What a unit says about itself. */
export interface InfoResponse extends Envelope {
  readonly type: 'response';
  readonly op: 'INFO';
  readonly status: 'OK';
  /** The unit's epoch (INFO is answered at any epoch). */
  readonly unitEpoch: number;
  readonly tail: number;
  readonly trimMark: number;
  /** The largest payload one entry may have. */
  readonly maxEntryBytes: number;
  readonly pageBytes: number;
  readonly dataPages: number;
  readonly usedPages: number;
  readonly unitId: number;
  /** SYNC: whether an answer waits for the device to make the write durable. */
  readonly sync: SyncByte;
  /** Random per format of the unit's device, 16 lower-case hex digits: a unit formatted again is another unit. */
  readonly formatId: string;
  /** Hex, at most MAX_CLUSTER_ID_CHARS characters. */
  readonly clusterId: string;
}

/** `sync` in an INFO response. */
export const SYNC = { NONE: 0, ALWAYS: 1 } as const;
export type SyncByte = (typeof SYNC)[keyof typeof SYNC];

export const MAX_CLUSTER_ID_CHARS = 64;

export type OkResponse =
  AuthResponse | WriteResponse | TrimResponse | ReadResponse | EmptyResponse | TailResponse | TokenResponse | InfoResponse | StreamTokenResponse | StreamTailsResponse | StreamSeedResponse;

export type Response = OkResponse | ErrorResponse;

/** What a decoded frame holds. */
export type Message = Request | Response;
