// The package as another project sees it: `import { CorfuClient } from 'corfu'`
// from a project that depends on it, at run time and in the type checker.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const project = mkdtempSync(join(tmpdir(), 'corfu-consumer-'));
mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
// What `npm install corfu` leaves: the package under node_modules/corfu.
symlinkSync(root, join(project, 'node_modules', 'corfu'), 'dir');
symlinkSync(join(root, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'), 'dir');
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', dependencies: { corfu: '*' } }));
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("import from 'corfu'", () => {
  it('resolves the client, the errors and reconfigure at run time without loading the addon', () => {
    writeFileSync(
      join(project, 'main.js'),
      `import { CorfuClient, CorfuError, reconfigure } from 'corfu';
       import { createRequire } from 'node:module';
       const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith('.node'));
       console.log(JSON.stringify({ client: typeof CorfuClient.connect, error: new CorfuError('ERR_SEALED', 'x').code, reconfigure: typeof reconfigure, addons: loaded.length }));`,
    );
    const out = execFileSync(process.execPath, ['main.js'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ client: 'function', error: 'ERR_SEALED', reconfigure: 'function', addons: 0 });
  });

  it('carries types: a consumer that misuses the API does not type-check, one that uses it right does', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const check = (source: string): { ok: boolean; out: string } => {
      writeFileSync(join(project, 'use.ts'), source);
      try {
        const out = execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', 'use.ts'], { cwd: project, encoding: 'utf8' });
        return { ok: true, out };
      } catch (err) {
        return { ok: false, out: String((err as { stdout?: string }).stdout) };
      }
    };
    const good = check(
      `import { CorfuClient, type LogEntry } from 'corfu';
       export async function demo(): Promise<number> {
         const log = await CorfuClient.connect({ layout: 'file:/tmp/x' });
         const address: number = await log.append(new Uint8Array([1]));
         const entry: LogEntry = await log.read(address);
         await log.close();
         return entry.kind === 'data' ? entry.payload.length : 0;
       }`,
    );
    expect(good.out).toBe('');
    expect(good.ok).toBe(true);
    const bad = check(`import { CorfuClient } from 'corfu';\nexport const a: string = await (await CorfuClient.connect({ layout: 'file:/x' })).append(new Uint8Array(1));\n`);
    expect(bad.ok).toBe(false);
    expect(bad.out).toMatch(/Type 'number' is not assignable to type 'string'/);
  }, 60_000);
});
