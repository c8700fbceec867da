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

// The etcd store brings gRPC (about a second to load): only an etcd:// URL loads it.
const GRPC_PROBE = `
import { createRequire } from 'node:module';
const corfu = await import(${JSON.stringify(ENTRY)});
const layout = await import(${JSON.stringify(fileURLToPath(new URL('../dist/src/layout/index.js', import.meta.url)))});
const grpc = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /[\\\\/]node_modules[\\\\/](etcd3|@grpc)[\\\\/]/.test(k)).length > 0;
const afterImport = grpc();
await (await layout.openProjectionStore('file:/nonexistent/corfu-lazy-probe')).close();
const afterFile = grpc();
await (await layout.openProjectionStore('etcd://127.0.0.1:2379/corfu-lazy-probe')).close();
console.log(JSON.stringify({ client: typeof corfu.CorfuClient, afterImport, afterFile, afterEtcd: grpc() }));
`;

it('importing corfu or opening a file: store does not load etcd3/gRPC; opening an etcd:// store does', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', GRPC_PROBE], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ client: 'function', afterImport: false, afterFile: false, afterEtcd: true });
});

// `corfu certs init` and `corfu up --tls` make certificates with @peculiar/x509, which needs
// the Reflect metadata polyfill (a global): the library never loads either; the certs code does.
const REFLECT_PROBE = `
const corfu = await import(${JSON.stringify(ENTRY)});
const afterImport = typeof Reflect.getMetadata;
await import(${JSON.stringify(fileURLToPath(new URL('../dist/src/cli/certs.js', import.meta.url)))});
console.log(JSON.stringify({ client: typeof corfu.CorfuClient, afterImport, afterCerts: typeof Reflect.getMetadata }));
`;

it('importing corfu does not install the Reflect metadata polyfill; the certificate code does', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', REFLECT_PROBE], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ client: 'function', afterImport: 'undefined', afterCerts: 'function' });
});
