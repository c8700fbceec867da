// What the manager driver tells an observer (the admin listener's metrics) as
// it acts. Every method is optional; the simulator runs the driver without one.

import type { ServerRole } from './machine.js';

export type ReconfigureOutcome = 'installed' | 'adopted' | 'failed';

export interface ManagerObserver {
  /** A probe ended: answered, or a miss (no answer in time, refused, reset). */
  probed?(role: ServerRole, answered: boolean): void;
  /** A reconfiguration this manager started ended: its proposal won, another won (adopted), or it failed. */
  reconfigured?(outcome: ReconfigureOutcome): void;
  /** A unit left behind by a seal was sealed again, or that failed. */
  resealed?(ok: boolean): void;
  /** A rebuild pass copied more of `unit`; `bytesCopied` counts this pass only. */
  rebuildProgress?(unit: string, addressesDone: number, addressesTotal: number, bytesCopied: number): void;
  /** A rebuild pass ended: done, or stopped (a new layout, a failure: it runs again later). */
  rebuildEnded?(unit: string, ok: boolean): void;
}
