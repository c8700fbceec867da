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
mkdirSync(join(project, 'node_modules'), { recursive: true });
// What `npm install corfu` leaves: the package under node_modules/corfu (with its own
// dependencies, @types/node among them, in its node_modules); nothing else.
symlinkSync(root, join(project, 'node_modules', 'corfu'), 'dir');
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

  it('carries types: a consumer with only corfu installed type-checks with skipLibCheck off; misuse does not type-check', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const check = (source: string): { ok: boolean; out: string } => {
      writeFileSync(join(project, 'use.ts'), source);
      try {
        const out = execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'use.ts'], {
          cwd: project,
          encoding: 'utf8',
        });
        return { ok: true, out };
      } catch (err) {
        return { ok: false, out: String((err as { stdout?: string }).stdout) };
      }
    };
    const good = check(
      `import { CorfuClient, CorfuError, Store, type ClientErrorCode, type LogEntry } from 'corfu';
       export async function demo(): Promise<number> {
         const log = await CorfuClient.connect({ layout: 'file:/tmp/x', deadlineMs: 2000 });
         const address: number = await log.append(new Uint8Array([1]), { signal: AbortSignal.timeout(1000) });
         const entry: LogEntry = await log.read(address);
         for await (const e of log.follow(address, { skipJunk: true })) if (e.kind === 'data') break;
         const limit: number | undefined = log.maxEntryBytes;
         await log.close();
         const code: ClientErrorCode = 'ERR_UNAVAILABLE';
         void Store; void CorfuError; void code; void limit;
         return entry.kind === 'data' ? entry.payload.length : 0;
       }`,
    );
    expect(good.out).toBe('');
    expect(good.ok).toBe(true);
    // A wrong result type, and an engine-only code where a client method's codes are expected.
    const bad = check(
      `import { CorfuClient, type ClientErrorCode } from 'corfu';\n` +
        `export const a: string = await (await CorfuClient.connect({ layout: 'file:/x' })).append(new Uint8Array(1));\n` +
        `export const c: ClientErrorCode = 'ERR_NO_DEVICE';\n`,
    );
    expect(bad.ok).toBe(false);
    expect(bad.out).toMatch(/Type 'number' is not assignable to type 'string'/);
    expect(bad.out).toMatch(/"ERR_NO_DEVICE"' is not assignable to type 'ClientErrorCode'/);
  }, 180_000);
});
