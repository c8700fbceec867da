// The virtual clock and the event queue: a binary heap ordered by virtual
// time, ties broken by a sequence number taken at scheduling. Nothing here
// depends on wall time or on the iteration order of anything but this heap.

export interface Scheduled {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void | Promise<void>;
}

export class EventQueue {
  #heap: Scheduled[] = [];
  #seq = 0;
  /** The virtual time of the event being processed (ms). */
  now = 0;

  get size(): number {
    return this.#heap.length;
  }

  /** Runs `run` at `now + delay` (delay >= 0). Returns the event's sequence number. */
  after(delay: number, run: () => void | Promise<void>): number {
    if (!(delay >= 0)) throw new RangeError(`negative delay ${delay}`);
    const item: Scheduled = { time: this.now + delay, seq: this.#seq++, run };
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return item.seq;
  }

  /** Removes and returns the earliest event, advancing the clock to it. */
  pop(): Scheduled | undefined {
    const h = this.#heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    this.now = top.time;
    return top;
  }

  /** The time of the earliest event, if any. */
  peekTime(): number | undefined {
    return this.#heap[0]?.time;
  }
}

function less(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
