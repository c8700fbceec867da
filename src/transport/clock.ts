// Time, as the drivers see it. The client, its connections and the
// reconfiguration driver read the clock and set timers only through a Clock,
// so the seeded simulator (test/sim) can run them on virtual time: same seed,
// same run. Servers and the CLI use the system clock.

/** An opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds on a monotonic clock (the origin is the clock's own). */
  now(): number;
  /** Calls `fn` once, `ms` from now. Never calls it synchronously. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired yet; a fired or cancelled one is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The process's clock: performance.now() and the event loop's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `ms` on `clock`. */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
