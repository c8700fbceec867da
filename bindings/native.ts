// Loads the Rust addon on first use. Only servers (storage units, the
// sequencer) need it; a client that imports the library must not pay for it,
// nor fail on a machine without the build — so nothing here runs at import time.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeAddon } from './native-types.js';

export type * from './native-types.js';

const ADDON_FILE = 'corfu.linux-x64-gnu.node';

let cached: NativeAddon | undefined;

/** The addon cannot be loaded: a setup problem (not built, wrong platform), not a log error. */
export class NativeLoadError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'NativeLoadError';
  }
}

/**
 * The package root: the nearest ancestor holding the `corfu` package.json.
 * Walking up (instead of a fixed `../`) makes the same code work from
 * `bindings/` (vitest runs the sources) and from `dist/bindings/` (after tsc).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (name === 'corfu') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new NativeLoadError('corfu: cannot find the package root (no package.json named "corfu" above bindings/)');
    dir = parent;
  }
}

/** Absolute path of the addon file this package builds. */
export function addonPath(): string {
  return join(packageRoot(), 'bindings', 'native', ADDON_FILE);
}

/** The addon, loaded on the first call. Throws NativeLoadError when it is not built. */
export function loadNative(): NativeAddon {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new NativeLoadError(`corfu: the native engine is built for linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const file = addonPath();
  if (!existsSync(file)) {
    throw new NativeLoadError(`corfu: native addon not found at ${file}; run \`npm run build:native\` (needs cargo)`);
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(file) as NativeAddon;
  } catch (err) {
    throw new NativeLoadError(`corfu: cannot load ${file}: ${(err as Error).message}; rebuild it with \`npm run build:native\``, { cause: err });
  }
  return cached;
}
