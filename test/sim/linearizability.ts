// The bridge to the history checker of test/check (being written alongside);
// until it lands, nothing beyond the per-step checkers is checked here.

import type { OpRecord } from './history.js';

export interface HistoryViolation {
  readonly kind: string;
  readonly message: string;
}

export function checkHistory(_ops: readonly OpRecord[], _acked: ReadonlyMap<number, { key: string; by: string }>): HistoryViolation[] {
  return [];
}
