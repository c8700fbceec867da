// The trace hash: every processed event mixes a few integers into a 32-bit
// FNV-1a-style accumulator (two lanes, so the printed hash is 64 bits). Same
// seed, same events, same hash; a replay that diverges anywhere shows up as a
// different hash. With `keep`, the last events are also kept as text for a
// failing seed's report.

const strHashes = new Map<string, number>();

export function hashString(s: string): number {
  let h = strHashes.get(s);
  if (h !== undefined) return h;
  h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h >>>= 0;
  if (strHashes.size < 100_000) strHashes.set(s, h);
  return h;
}

export class Trace {
  #a = 0x811c9dc5;
  #b = 0x2545f491;
  events = 0;
  readonly lines: string[] = [];
  readonly keep: number;

  constructor(keep = 0) {
    this.keep = keep;
  }

  mix(n: number): void {
    const x = n | 0;
    this.#a = Math.imul(this.#a ^ x, 0x01000193);
    this.#b = Math.imul(this.#b ^ (x + 0x9e3779b9), 0x5bd1e995) ^ (this.#b >>> 15);
  }

  mixString(s: string): void {
    this.mix(hashString(s));
  }

  /** One event: its time and a few identifying numbers/strings. `text` is built only when lines are kept. */
  event(time: number, parts: ReadonlyArray<number | string>, text?: () => string): void {
    this.events++;
    this.mix(Math.round(time * 1000));
    for (const p of parts) {
      if (typeof p === 'number') this.mix(p);
      else this.mixString(p);
    }
    if (this.keep > 0) {
      this.lines.push(`${time.toFixed(3).padStart(10)} ${text === undefined ? parts.join(' ') : text()}`);
      if (this.lines.length > this.keep * 2) this.lines.splice(0, this.lines.length - this.keep);
    }
  }

  get hash(): string {
    return (this.#a >>> 0).toString(16).padStart(8, '0') + (this.#b >>> 0).toString(16).padStart(8, '0');
  }

  tail(n = this.keep): string[] {
    return this.lines.slice(-n);
  }
}
