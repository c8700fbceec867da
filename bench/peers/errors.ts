// A peer a comparison needs is not installed: one line naming the peer, the missing
// program and the command that installs it (exit 1 from `corfu`, like any expected
// failure). Checked for every peer before anything runs, so a compare never stops
// halfway for want of a binary.

import { spawnSync } from 'node:child_process';

import { FatalError } from '../../src/cli/fatal-error.js';

export interface PeerBinary {
  /** The peer, as `corfu bench compare` names it. */
  readonly peer: string;
  readonly program: string;
  /** What installs it on Debian. */
  readonly install: string;
}

export class PeerNotInstalledError extends FatalError {
  constructor(readonly missing: readonly PeerBinary[]) {
    const names = missing.map((m) => `${m.peer} (${m.program} not found on PATH)`).join(', ');
    const installs = [...new Set(missing.map((m) => m.install))].join(' && ');
    super(`peer not installed: ${names}; install with: ${installs} (or npm run bench:peers)`);
    this.name = 'PeerNotInstalledError';
  }
}

/** Whether `program` runs from PATH. */
export function onPath(program: string): boolean {
  // /bin/sh by its path: PATH is what is being searched, and may not lead to a shell.
  const r = spawnSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', program], { stdio: 'ignore' });
  return r.status === 0;
}

/** Throws PeerNotInstalledError naming every one of `needed` that is missing. */
export function requirePeers(needed: readonly PeerBinary[]): void {
  const missing = needed.filter((p) => !onPath(p.program));
  if (missing.length > 0) throw new PeerNotInstalledError(missing);
}
