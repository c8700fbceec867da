// The ProjectionStore contract against the file store (file:DIR).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll } from 'vitest';

import { epochFileName } from '../src/layout/index.js';
import { projectionStoreSuite } from './helpers/projection-store-suite.js';

const root = mkdtempSync(join(tmpdir(), 'corfu-conformance-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let made = 0;

projectionStoreSuite({
  name: 'file:DIR',
  fresh: async () => {
    // Not created yet: the store makes it on the first proposal.
    const dir = join(root, `store-${++made}`);
    return {
      url: `file:${dir}`,
      plant: async (epoch, text) => writeFileSync(join(dir, epochFileName(epoch)), text),
      plantStrays: async () => {
        writeFileSync(join(dir, 'epoch-9.json'), 'junk');
        writeFileSync(join(dir, `${epochFileName(9)}.bak`), 'junk');
        writeFileSync(join(dir, 'epoch-9999999999999999999.json'), 'junk');
        writeFileSync(join(dir, 'README'), 'junk');
      },
    };
  },
});
