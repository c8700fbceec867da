import { writeFileSync } from 'node:fs';

import type { BenchResult } from '../schema.js';

export function writeReport(path: string, result: BenchResult): void {
  writeFileSync(path, JSON.stringify(result));
}
