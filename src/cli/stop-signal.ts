// The servers' stop: the first SIGTERM or SIGINT starts a graceful shutdown; a second
// one while it runs leaves at once (exit 1), logged first (the log writes synchronously,
// so the line is out before process.exit).
//
// A graceful shutdown is bounded by construction (the unit cuts peers that do not read
// after 5 s, the sequencer after 1 s); STOP_DEADLINE_MS is the backstop for what is
// not (a device that stops answering): past it the server logs why and exits 1.
// packaging/systemd's TimeoutStopSec is above it, so systemd's SIGKILL never comes first.

import type { Logger } from '../log/logger.js';

export const STOP_DEADLINE_MS = 15_000;

/**
 * Starts the backstop: an unref'd timer, so a shutdown that finishes in time exits as usual.
 * `drainMs` (the admin listener's --drain: serving on while /readyz says draining) comes first.
 */
export function armStopDeadline(log: Logger, drainMs = 0): void {
  const deadlineMs = drainMs + STOP_DEADLINE_MS;
  const timer = setTimeout(() => {
    log.error({ deadlineMs }, `shutdown did not finish within ${deadlineMs} ms: exiting now`);
    process.exit(1);
  }, deadlineMs);
  timer.unref();
}

/** Resolves with the first stop signal's name; from then on, a second signal exits 1. */
export function waitForStopSignal(armParentWatch: () => void, log: Logger, drainMs = 0): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      const force = (again: NodeJS.Signals): void => {
        log.warn({ signal: again }, `${again} during shutdown: exiting now`);
        process.exit(1);
      };
      process.on('SIGTERM', force);
      process.on('SIGINT', force);
      armStopDeadline(log, drainMs);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    armParentWatch();
    process.on('SIGINT', stop);
  });
}
