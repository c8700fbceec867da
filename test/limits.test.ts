// Constants restated in TypeScript that must equal the engine's (native/engine):
// the wire's frame cap and READ answer budget, entry sizes, the highest address,
// and the geometry the simulator's engine model copies. The addon's engineLimits()
// reports the Rust values; a change on one side alone fails here.

import { expect, it } from 'vitest';

import { DEFAULT_MAX_ENTRY_BYTES, MAX_ADDRESS, MAX_MAX_ENTRY_BYTES } from '../bindings/limits.js';
import { loadNative } from '../bindings/native.js';
import { MAX_FRAME_BYTES, MAX_READ_ANSWER_BYTES, READ_ANSWER_ENTRY_BYTES } from '../src/wire/frame.js';
import { SPACE_MODEL } from './sim/engine-space.js';

const native = loadNative().engineLimits();

it("the wire frame cap and the READ answer budget are the engine's", () => {
  expect({ wireMaxFrameBytes: MAX_FRAME_BYTES, maxReadAnswerBytes: MAX_READ_ANSWER_BYTES, readAnswerEntryBytes: READ_ANSWER_ENTRY_BYTES }).toEqual({
    wireMaxFrameBytes: native.wireMaxFrameBytes,
    maxReadAnswerBytes: native.maxReadAnswerBytes,
    readAnswerEntryBytes: native.readAnswerEntryBytes,
  });
});

it("entry sizes and the highest address are the engine's", () => {
  expect({ defaultMaxEntryBytes: DEFAULT_MAX_ENTRY_BYTES, maxMaxEntryBytes: MAX_MAX_ENTRY_BYTES, maxAddress: MAX_ADDRESS }).toEqual({
    defaultMaxEntryBytes: native.defaultMaxEntryBytes,
    maxMaxEntryBytes: native.maxMaxEntryBytes,
    maxAddress: native.maxAddress,
  });
});

it("the simulator's space model copies the engine's flush and summary geometry", () => {
  expect({ ...SPACE_MODEL }).toEqual({
    pageBodyBytes: native.pageBodyBytes,
    recordHeaderBytes: native.recordHeaderBytes,
    maxFlushPages: native.maxFlushPages,
    maxFlushRecords: native.maxFlushRecords,
    summaryTriggerPages: native.summaryTriggerPages,
    summaryTriggerRecords: native.summaryTriggerRecords,
  });
});
