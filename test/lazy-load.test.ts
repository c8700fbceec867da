// DESIGN: only servers load the addon. Importing the library must not dlopen
// it; the first engine call does. Checked in a fresh node process by watching
// process.dlopen, through the built package entry (dist/src/index.js).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { expect, it } from 'vitest';

const ENTRY = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));

const PROBE = `
const loaded = [];
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  loaded.push(filename);
  return dlopen.call(this, module, filename, ...rest);
};
const corfu = await import(${JSON.stringify(ENTRY)});
const afterImport = loaded.filter((f) => f.includes('corfu')).length;
let code;
try { corfu.Store.inspect('/nonexistent/corfu-lazy-probe'); } catch (err) { code = err.code; }
const afterUse = loaded.filter((f) => f.includes('corfu')).length;
console.log(JSON.stringify({ afterImport, afterUse, code }));
`;

it('importing corfu does not load the native addon; the first Store call does', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ afterImport: 0, afterUse: 1, code: 'ERR_NO_DEVICE' });
});
