// The real engine's space accounting, for MemEngine (engine.ts): which entry of a
// request answers ERR_FULL, and which pages a prefix trim gives back. It follows
// native/engine/src/store.rs (stage, commit, finish_round) and flush.rs:
//
// - the data region is a circle of `dataPages` pages; one request (one round, as the
//   differential test drives it) stages its records into one flush: a byte stream of
//   {24-byte header, payload} records over 4064-byte page bodies, so a flush takes
//   ceil(stream bytes / 4064) pages;
// - an entry whose record would make the flush overrun the free pages is ERR_FULL
//   (a later, smaller entry of the same request may still fit);
// - a flush that is full (1024 pages or 16 Ki records) is written and a new one opened;
// - at every superblock write (a seal, a prefix trim that moved the mark) whole flushes
//   at the head whose every address is below the trim mark are freed, oldest first,
//   stopping at the first that is not.
//
// Index summaries (store.rs `stage_summary`) also take pages, but only after 16 Ki
// pages or 32 Ki records; the model does not follow them, and throws rather than
// answer wrongly once a run could reach them.

/**
 * The engine's geometry this model copies (layout.rs, flush.rs, summary.rs);
 * test/limits.test.ts checks it against the addon's `engineLimits()`.
 */
export const SPACE_MODEL = {
  pageBodyBytes: 4064,
  recordHeaderBytes: 24,
  maxFlushPages: 1024,
  maxFlushRecords: 16 * 1024,
  summaryTriggerPages: 16 * 1024,
  summaryTriggerRecords: 32 * 1024,
} as const;

const PAGE_BODY_BYTES = SPACE_MODEL.pageBodyBytes;
const RECORD_HEADER_BYTES = SPACE_MODEL.recordHeaderBytes;
const MAX_FLUSH_PAGES = SPACE_MODEL.maxFlushPages;
const MAX_FLUSH_RECORDS = SPACE_MODEL.maxFlushRecords;
const MAX_STREAM_BYTES = MAX_FLUSH_PAGES * PAGE_BODY_BYTES;
const SUMMARY_TRIGGER_PAGES = SPACE_MODEL.summaryTriggerPages;
const SUMMARY_TRIGGER_RECORDS = SPACE_MODEL.summaryTriggerRecords;

interface FlushMeta {
  readonly startSeq: number;
  readonly pages: number;
  readonly maxAddress: number;
}

function pagesForStream(streamBytes: number): number {
  return Math.ceil(streamBytes / PAGE_BODY_BYTES);
}

/** The durable part: the live flushes between the head and the next page (it lives in the Disk). */
export class SpaceLog {
  readonly dataPages: number;
  headSeq = 0;
  nextSeq = 0;
  /** Records written since format: the bound past which index summaries would appear. */
  records = 0;
  /** Live flushes, oldest first, from index `#first` on (freed ones are dropped in batches). */
  #flushes: FlushMeta[] = [];
  #first = 0;

  constructor(dataPages: number) {
    this.dataPages = dataPages;
  }

  get usedPages(): number {
    return this.nextSeq - this.headSeq;
  }

  /** A superblock write: free the head's flushes wholly below `trimMark`. */
  freeBelow(trimMark: number): void {
    while (this.#first < this.#flushes.length && this.#flushes[this.#first]!.maxAddress < trimMark) {
      const f = this.#flushes[this.#first++]!;
      this.headSeq = f.startSeq + f.pages;
    }
    if (this.#first === this.#flushes.length) this.headSeq = this.nextSeq;
    if (this.#first > 64 && this.#first * 2 > this.#flushes.length) {
      this.#flushes = this.#flushes.slice(this.#first);
      this.#first = 0;
    }
  }

  append(flush: FlushMeta, records: number): void {
    this.#flushes.push(flush);
    this.nextSeq += flush.pages;
    this.records += records;
    if (this.nextSeq >= SUMMARY_TRIGGER_PAGES || this.records >= SUMMARY_TRIGGER_RECORDS) {
      throw new Error('sim engine: the space model stops where index summaries start (16 Ki pages or 32 Ki records since format)');
    }
  }
}

/** The flush one request stages into; `commit` when the request is done. */
export class FlushStager {
  readonly #log: SpaceLog;
  #streamBytes = 0;
  #records = 0;
  #maxAddress = -1;

  constructor(log: SpaceLog) {
    this.#log = log;
  }

  /** Stages a record of `payloadBytes` for `address`; false means ERR_FULL (nothing staged). */
  stage(address: number, payloadBytes: number): boolean {
    const recordBytes = RECORD_HEADER_BYTES + payloadBytes;
    if (this.#records >= MAX_FLUSH_RECORDS || this.#streamBytes + recordBytes > MAX_STREAM_BYTES) this.commit();
    if (this.#log.usedPages + pagesForStream(this.#streamBytes + recordBytes) > this.#log.dataPages) return false;
    this.#streamBytes += recordBytes;
    this.#records++;
    if (address > this.#maxAddress) this.#maxAddress = address;
    return true;
  }

  commit(): void {
    if (this.#records === 0) return;
    const log = this.#log;
    log.append({ startSeq: log.nextSeq, pages: pagesForStream(this.#streamBytes), maxAddress: this.#maxAddress }, this.#records);
    this.#streamBytes = 0;
    this.#records = 0;
    this.#maxAddress = -1;
  }
}
