// The wire protocol: frame codec and message types. Pure: no I/O. See docs/protocol.md.

export * from './frame.js';
export * from './messages.js';
export * from './codec.js';
export * from './decoder.js';
export * from './roles.js';
