// Deterministic payload bytes derived from an address. A checker that only
// knows the address (the demo's read-back, the crash test after kill -9) can
// recompute exactly what was written there, so "the bytes survived" is checked
// byte for byte without keeping a copy.

/** Fills `out` with the pattern for `address` (a mixing LCG seeded by the address). */
export function fillPattern(address: number, out: Uint8Array): void {
  // Fold both halves of the 53-bit address into the seed so nearby and
  // far-apart addresses all differ.
  let x = (Math.imul(address >>> 0, 0x9e3779b1) ^ Math.floor(address / 0x1_0000_0000) ^ 0x5bd1e995) >>> 0;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
}

export function patternFor(address: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  fillPattern(address, out);
  return out;
}
