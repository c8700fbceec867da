// Synchronisation for tests: wait for a condition, never for a fixed time. A
// fixed sleep is either too short on a loaded machine (a flake) or longer than
// needed everywhere else; a polled condition with a generous deadline is
// neither. The deadline only bounds a failing test.

/** Resolves once `cond()` holds, polling every `everyMs`; throws, naming `what`, after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, { timeoutMs = 15_000, everyMs = 5 } = {}): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
