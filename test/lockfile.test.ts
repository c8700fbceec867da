// `npm ci` on a fresh clone (.ci/run) needs a lockfile that is whole for every platform:
// npm checks that each optional dependency of every locked package (the darwin, win32
// and musl binaries of @napi-rs/cli's own dependencies) has its own entry, even those it
// will not install here. An `npm install` run with a registry that lacked some of them
// once dropped those entries, and `npm ci` then refused the lockfile.

import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

interface Locked {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as { lockfileVersion: number; packages: Record<string, Locked> };
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Where npm resolves `name` from the package at `from`: its own node_modules, then each ancestor's. */
function resolves(from: string, name: string): boolean {
  let dir = from;
  for (;;) {
    if (lock.packages[`${dir === '' ? '' : `${dir}/`}node_modules/${name}`] !== undefined) return true;
    if (dir === '') return false;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

describe('package-lock.json', () => {
  it('is lockfile version 3 and names every dependency of package.json', () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[''] as Locked & { devDependencies?: Record<string, string> };
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
  });

  it('has an entry for every optional dependency of every locked package, whatever its platform', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) if (!resolves(path, name)) missing.push(`${path || '(root)'} -> ${name}`);
    }
    expect(missing).toEqual([]);
  });
});
