// The sequencer: a pure state machine (state.ts) and its TCP driver (server.ts).

export * from './state.js';
export * from './server.js';
