// A unit or sequencer started by `corfu up` must not outlive it: if `up` is killed
// outright (kill -9, the OOM killer), its children would keep holding the devices and
// ports. `up` sets CORFU_EXIT_WITH_PARENT for them; such a child watches its parent pid
// and, once orphaned, sends itself SIGTERM, so it stops the same graceful way as always.

export const EXIT_WITH_PARENT_ENV = 'CORFU_EXIT_WITH_PARENT';
const CHECK_EVERY_MS = 500;

export function exitWithParentIfAsked(): void {
  if (process.env[EXIT_WITH_PARENT_ENV] !== '1') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, CHECK_EVERY_MS);
  timer.unref();
}
