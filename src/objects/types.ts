// Object types: what an object's state is, and how an update changes it
// (docs/objects.md). Pure: apply never does I/O, never mutates the state it is
// given (states are immutable snapshots, kept per version), and is deterministic,
// because every client replaying the stream must reach the same state.

import { Map as ImmutableMap } from 'immutable';

import { CorfuError } from '../../bindings/errors.js';
import { WHOLE_OBJECT } from './records.js';

/** Bytes for an update and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** JSON, UTF-8: the default codec. */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    decode: (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T,
  };
}

export interface ObjectType<S, U> {
  /** 'map', 'counter', or the user's name for a custom type: one object name has one kind. */
  readonly kind: string;
  initial(): S;
  /** The state after `update`. Must not change `state`. */
  apply(state: S, update: U): S;
  /** The conflict keys the update writes; [] means the whole object. */
  keys(update: U): readonly string[];
  readonly codec: Codec<U>;
  /** The whole state as bytes, for a checkpoint (checkpoint.ts), and back. */
  readonly stateCodec: Codec<S>;
}

// ---- the map -------------------------------------------------------------------

export type MapUpdate<V> =
  | { readonly op: 'put'; readonly key: string; readonly value: V }
  | { readonly op: 'delete'; readonly key: string }
  /** Several keys in one update: one log entry, so all or none, visible together. */
  | { readonly op: 'putAll'; readonly entries: ReadonlyArray<readonly [string, V]> };

export type MapState<V> = ImmutableMap<string, V>;

export function mapType<V>(codec: Codec<MapUpdate<V>> = jsonCodec()): ObjectType<MapState<V>, MapUpdate<V>> {
  return {
    kind: 'map',
    codec,
    // A map's state is one putAll of every entry, in the map's own update codec (so a
    // caller's codec for values serves its checkpoints too).
    stateCodec: {
      encode: (state) => codec.encode({ op: 'putAll', entries: [...state.entries()] }),
      decode: (bytes) => {
        const u = codec.decode(bytes);
        if (u.op !== 'putAll') throw new CorfuError('ERR_CORRUPT', `a map checkpoint holds a ${u.op} update, not a putAll`);
        return ImmutableMap<string, V>(u.entries.map(([k, v]) => [k, v] as [string, V]));
      },
    },
    initial: () => ImmutableMap<string, V>(),
    apply: (state, u) => {
      switch (u.op) {
        case 'put':
          return state.set(u.key, u.value);
        case 'delete':
          return state.delete(u.key);
        case 'putAll':
          return state.withMutations((m) => {
            for (const [k, v] of u.entries) m.set(k, v);
          });
        default:
          throw new CorfuError('ERR_CORRUPT', `a map update has an unknown op ${JSON.stringify((u as { op?: unknown }).op)}`);
      }
    },
    keys: (u) => (u.op === 'putAll' ? u.entries.map(([k]) => checkKey(k)) : [checkKey(u.key)]),
  };
}

/** A map key: a non-empty string (the empty one stands for the whole object). */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === WHOLE_OBJECT) throw new CorfuError('ERR_BAD_REQUEST', `a map key must be a non-empty string, got ${JSON.stringify(key)}`);
  return key;
}

// ---- the counter ---------------------------------------------------------------

export interface CounterUpdate {
  readonly add: number;
}

export function counterType(): ObjectType<number, CounterUpdate> {
  return {
    kind: 'counter',
    codec: jsonCodec(),
    stateCodec: jsonCodec(),
    initial: () => 0,
    apply: (state, u) => state + u.add,
    keys: () => [],
  };
}

// ---- the user's own ------------------------------------------------------------

export interface ObjectDefinition<S, U> {
  /** The type's name; opening one object name with two kinds is ERR_BAD_REQUEST. */
  readonly kind: string;
  readonly initial: () => S;
  readonly apply: (state: S, update: U) => S;
  /** Default JSON. */
  readonly codec?: Codec<U>;
  /** The state as bytes, for checkpoints; default JSON. */
  readonly stateCodec?: Codec<S>;
}

export function customType<S, U>(def: ObjectDefinition<S, U>): ObjectType<S, U> {
  if (typeof def !== 'object' || def === null || typeof def.apply !== 'function' || typeof def.initial !== 'function' || typeof def.kind !== 'string' || def.kind === '') {
    throw new CorfuError('ERR_BAD_REQUEST', 'an object definition needs a kind (a non-empty string), initial() and apply(state, update)');
  }
  if (def.kind === 'map' || def.kind === 'counter') throw new CorfuError('ERR_BAD_REQUEST', `the kind ${def.kind} is the runtime's own; name yours differently`);
  return { kind: def.kind, initial: def.initial, apply: def.apply, keys: () => [], codec: def.codec ?? jsonCodec(), stateCodec: def.stateCodec ?? jsonCodec() };
}
