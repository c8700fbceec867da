// What a fault driver may trim. An application trims what it has consumed,
// so the driver trims only:
//   - single trims: addresses acknowledged to one of its own appends;
//   - prefix trims: up to `mark`, below which every address was acknowledged
//     to this driver or read by it with a result (data, junk or trimmed). Its
//     value is decided there: no append still in flight can land below it.
// The two drivers run in separate processes and do not see each other's
// acknowledgements, so a driver consumes the other's addresses by reading
// them (`next()` says which to read).

export class Consumed {
  /** This driver's acknowledged addresses, in acknowledgement order. */
  readonly acked: number[] = [];
  /** Every address below is consumed. */
  mark = 0;
  /** The highest prefix trim issued. */
  prefixIssued = 0;
  /** Consumed addresses at or above `mark`. */
  readonly #above = new Set<number>();

  ack(address: number): void {
    this.acked.push(address);
    this.#consume(address);
  }

  /** A read (or fill) that returned a result. */
  resolved(address: number): void {
    this.#consume(address);
  }

  /** Up to `n` unconsumed addresses from `mark` on, below `limit`: what a consumer reads next. */
  next(n: number, limit: number): number[] {
    const out: number[] = [];
    for (let a = this.mark; a < limit && out.length < n; a++) if (!this.#above.has(a)) out.push(a);
    return out;
  }

  #consume(address: number): void {
    if (address < this.mark) return;
    this.#above.add(address);
    while (this.#above.delete(this.mark)) this.mark++;
  }
}
