// bindings/native-types.ts restates the addon's types by hand (so the library
// type-checks without a Rust build). This compiles a check against the
// generated bindings/native/native.d.ts, so the two cannot drift apart.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { expect, it } from 'vitest';

it('hand-written addon types agree with the generated native.d.ts', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const project = fileURLToPath(new URL('./fixtures/tsconfig.native-check.json', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});
