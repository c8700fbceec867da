// The engine's limits, TypeScript encoding: the values are the Rust constants'
// (native/engine/src/layout.rs, store.rs), restated so code that never loads the
// addon (the simulator's engine model, the CLI) can use them; test/limits.test.ts
// checks them against the addon's `engineLimits()`. Pure: importing it loads nothing.

/** A newly formatted device's largest payload unless told otherwise (layout.rs DEFAULT_MAX_ENTRY_BYTES). */
export const DEFAULT_MAX_ENTRY_BYTES = 64 * 1024;

/** The largest max entry size a device may be formatted with (layout.rs MAX_MAX_ENTRY_BYTES). */
export const MAX_MAX_ENTRY_BYTES = 1024 * 1024;

/**
 * The highest address a write, fill or trim may name (store.rs MAX_ADDRESS): the
 * tail after it, 2^53 - 1, is still an exact JS number.
 */
export const MAX_ADDRESS = 2 ** 53 - 2;
