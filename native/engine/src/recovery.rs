//! Rebuilding the index on open. The newest index checkpoint (see `checkpoint.rs`)
//! gives the index and the live flushes as they were below it; the summaries written
//! after it (see `summary.rs`) describe most of the rest without reading it; only pages
//! no summary covers are scanned, in large reads, flush by flush, stopping at the first
//! flush that is not whole. Nothing in a torn flush was ever acknowledged (an ack
//! follows the flush's sync), so discarding it loses nothing. Without a live checkpoint
//! (none written yet, the head passed it, or a version-1 device) the summary chain is
//! walked back to the head, as before checkpoints.

use std::collections::VecDeque;

use crate::aligned::AlignedBuf;
use crate::checkpoint;
use crate::device::{Batch, Device, ReadOp};
use crate::error::{EngineError, Result};
use crate::flush::stream_read;
use crate::index::{Index, Slot, SlotKind};
use crate::layout::{PageHeader, RecordHeader, RecordKind, Superblock, MAX_FLUSH_PAGES, PAGE_BODY_BYTES, PAGE_BYTES, RECORD_HEADER_BYTES};
use crate::reader::{Geometry, RecordReads};
use crate::summary::{Summary, SummaryEntry, SummaryPtr, TRIGGER_ENTRIES};

/// A flush that is live on the device: the head can move past it once every address in
/// it is below the trim mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushMeta {
    pub start_seq: u64,
    pub pages: u64,
    pub max_addr: u64,
}

/// Live flushes below this many pages' worth of the circle are merged into segments.
pub const FLUSH_SEGMENTS: u64 = 4096;

/// The live flushes, oldest first, as segments: runs of whole flushes that the head
/// passes together. The head passes a flush once every address in it and in every
/// flush before it is below the trim mark, so two neighbours where the second's highest
/// address is not above the first's are passed together always: merging them loses
/// nothing. And a segment shorter than `data_pages / FLUSH_SEGMENTS` pages takes the
/// next flush whatever its addresses: the head then waits for the whole segment, which
/// delays freeing at most one segment (< 1/4096 of the circle plus one flush) and bounds
/// the list, and a checkpoint's copy of it, to about 4,096 segments (96 KiB) on any
/// device, where one entry per flush would be millions. On a device under 4,096 x 2
/// pages (32 MiB) no flush is merged for size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushList {
    segments: VecDeque<FlushMeta>,
    min_pages: u64,
}

impl FlushList {
    pub fn new(data_pages: u64) -> Self {
        FlushList { segments: VecDeque::new(), min_pages: (data_pages / FLUSH_SEGMENTS).max(1) }
    }

    /// Appends the flush after the last one (merged into the last segment if it may be).
    pub fn push(&mut self, f: FlushMeta) {
        if let Some(last) = self.segments.back_mut() {
            if last.start_seq + last.pages == f.start_seq && (last.pages < self.min_pages || f.max_addr <= last.max_addr) {
                last.pages += f.pages;
                last.max_addr = last.max_addr.max(f.max_addr);
                return;
            }
        }
        self.segments.push_back(f);
    }

    pub fn front(&self) -> Option<&FlushMeta> {
        self.segments.front()
    }

    pub fn back(&self) -> Option<&FlushMeta> {
        self.segments.back()
    }

    pub fn pop_front(&mut self) -> Option<FlushMeta> {
        self.segments.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &FlushMeta> {
        self.segments.iter()
    }

    /// The most segments the list can hold: one per `min_pages` pages of the circle,
    /// plus the last (short) one.
    pub fn bound(&self, data_pages: u64) -> usize {
        (data_pages / self.min_pages + 1) as usize
    }
}

#[derive(Default)]
pub struct Recovered {
    pub index: Index,
    pub flushes: FlushList,
    pub next_seq: u64,
    /// 1 + the highest address in any live record, at least the trim mark.
    pub tail: u64,
    /// Generation of the last whole flush (0 if none).
    pub last_generation: u64,
    /// What the next summary must cover: pages from `cover_from`, these records and flushes.
    pub cover_from: u64,
    pub since_entries: Vec<SummaryEntry>,
    pub since_flushes: Vec<FlushMeta>,
    pub scanned_pages: u64,
    pub summaries_read: u64,
    /// Encoded bytes of the live summaries written since the checkpoint recovery used
    /// (or since the head, without one): what the next reopen would read besides it.
    pub summary_bytes: u64,
    /// Whether recovery loaded a checkpoint (the superblock's).
    pub checkpoint_read: bool,
}

/// Reads pages by sequence number through a sliding window of large reads.
struct PageWindow {
    buf: AlignedBuf,
    first_seq: u64,
    loaded: u64,
}

const WINDOW_PAGES: u64 = 4096; // 16 MiB: four flushes of the largest size
const READ_CHUNK_PAGES: u64 = 256; // 1 MiB per read op, all of a window in flight at once

impl PageWindow {
    /// No larger than the data region: a small store (a test's, a simulator's) does not
    /// pay for zeroing 16 MiB on every open.
    fn new(sb: &Superblock) -> Self {
        let pages = WINDOW_PAGES.min(sb.data_pages) as usize;
        PageWindow { buf: AlignedBuf::zeroed(pages * PAGE_BYTES), first_seq: 0, loaded: 0 }
    }

    /// Makes pages `[seq, seq + n)` resident and returns them.
    fn pages<D: Device>(&mut self, dev: &mut D, sb: &Superblock, seq: u64, n: u64) -> Result<&[u8]> {
        assert!(n as usize * PAGE_BYTES <= self.buf.len(), "a flush larger than the window");
        if seq < self.first_seq || seq + n > self.first_seq + self.loaded {
            self.load(dev, sb, seq)?;
        }
        let at = ((seq - self.first_seq) as usize) * PAGE_BYTES;
        Ok(&self.buf[at..at + n as usize * PAGE_BYTES])
    }

    fn load<D: Device>(&mut self, dev: &mut D, sb: &Superblock, seq: u64) -> Result<()> {
        let n = WINDOW_PAGES.min(sb.data_pages);
        let mut ops: Vec<ReadOp> = Vec::new();
        let mut rest: &mut [u8] = &mut self.buf[..n as usize * PAGE_BYTES];
        let mut s = seq;
        while s < seq + n {
            let pos = s % sb.data_pages;
            // A chunk never crosses the end of the circle.
            let len = READ_CHUNK_PAGES.min(seq + n - s).min(sb.data_pages - pos);
            let (head, tail) = rest.split_at_mut(len as usize * PAGE_BYTES);
            ops.push(ReadOp { offset: sb.data_start + pos * PAGE_BYTES as u64, buf: head });
            rest = tail;
            s += len;
        }
        dev.submit(Batch { reads: &mut ops, writes: &[], sync: false }).map_err(|e| EngineError::io("recovery scan read failed", e))?;
        self.first_seq = seq;
        self.loaded = n;
        Ok(())
    }
}

/// The first page of a whole flush at `seq`: its page count and generation.
pub(crate) fn flush_start(page: &[u8], sb: &Superblock, seq: u64, min_generation: u64) -> Option<(u32, u64)> {
    let first = PageHeader::verify(sb.format_id, page)?;
    let n = first.flush_pages;
    let ok = first.seq == seq
        && first.page_in_flush == 0
        && n >= 1
        && n as usize <= MAX_FLUSH_PAGES
        && first.generation >= min_generation
        && first.generation <= sb.generation;
    ok.then_some((n, first.generation))
}

pub(crate) fn rest_of_flush_intact(pages: &[u8], sb: &Superblock, seq: u64, n: u32, generation: u64) -> bool {
    (1..n).all(|i| {
        let p = &pages[i as usize * PAGE_BYTES..(i as usize + 1) * PAGE_BYTES];
        matches!(PageHeader::verify(sb.format_id, p), Some(h)
            if h.seq == seq + i as u64 && h.page_in_flush == i && h.flush_pages == n && h.generation == generation)
    })
}

fn slot_kind(kind: RecordKind) -> Option<SlotKind> {
    match kind {
        RecordKind::Data => Some(SlotKind::Data),
        RecordKind::Junk => Some(SlotKind::Junk),
        RecordKind::Trim => Some(SlotKind::Trimmed),
        RecordKind::End | RecordKind::Summary | RecordKind::Checkpoint => None,
    }
}

fn apply(r: &mut Recovered, sb: &Superblock, e: &SummaryEntry) {
    if e.address >= sb.trim_mark {
        r.index.set(e.address, Slot { pos: (e.seq % sb.data_pages) as u32, off: e.off, len: e.len, kind: e.kind });
    }
    r.tail = r.tail.max(e.address + 1);
}

/// Scans whole flushes from `seq` until `stop_at` or the first flush that is not whole.
/// Returns where it stopped. With `collect`, remembers records and flushes for the next summary.
fn scan<D: Device>(dev: &mut D, sb: &Superblock, r: &mut Recovered, mut seq: u64, stop_at: u64, collect: bool) -> Result<u64> {
    let mut window = PageWindow::new(sb);
    let mut header = [0u8; RECORD_HEADER_BYTES];
    while seq < stop_at && seq - sb.head_seq < sb.data_pages {
        let first = window.pages(dev, sb, seq, 1)?;
        let Some((n, generation)) = flush_start(first, sb, seq, r.last_generation) else { break };
        if seq - sb.head_seq + n as u64 > sb.data_pages {
            break;
        }
        let pages = window.pages(dev, sb, seq, n as u64)?;
        if !rest_of_flush_intact(pages, sb, seq, n, generation) {
            break;
        }
        let stream_bytes = n as usize * PAGE_BODY_BYTES;
        let mut s = 0usize;
        let mut max_addr = 0u64;
        while s + RECORD_HEADER_BYTES <= stream_bytes {
            stream_read(pages, s, &mut header);
            let Some(h) = RecordHeader::decode(&header) else { break };
            if h.kind == RecordKind::End || s + RECORD_HEADER_BYTES + h.length as usize > stream_bytes {
                break;
            }
            if let Some(kind) = slot_kind(h.kind) {
                let e = SummaryEntry {
                    address: h.address,
                    seq: seq + (s / PAGE_BODY_BYTES) as u64,
                    off: (s % PAGE_BODY_BYTES) as u16,
                    kind,
                    len: h.length,
                };
                apply(r, sb, &e);
                max_addr = max_addr.max(h.address);
                if collect {
                    r.since_entries.push(e);
                }
            }
            s += RECORD_HEADER_BYTES + h.length as usize;
        }
        let meta = FlushMeta { start_seq: seq, pages: n as u64, max_addr };
        r.flushes.push(meta);
        if collect {
            r.since_flushes.push(meta);
        }
        r.last_generation = generation;
        r.scanned_pages += n as u64;
        seq += n as u64;
    }
    Ok(seq)
}

/// The summary at `p`; `Ok(None)` if its bytes do not verify or do not decode.
fn read_summary<D: Device>(dev: &mut D, sb: &Superblock, geo: &Geometry, p: SummaryPtr) -> Result<Option<Summary>> {
    let mut reads = RecordReads::default();
    let job = reads.add(geo, u64::MAX, Slot { pos: (p.seq % sb.data_pages) as u32, off: p.off as u16, len: p.len, kind: SlotKind::Data });
    {
        let mut ops = reads.ops();
        dev.submit(Batch { reads: &mut ops, writes: &[], sync: false }).map_err(|e| EngineError::io("cannot read an index summary", e))?;
    }
    Ok(reads.payload(geo, job).and_then(|b| Summary::decode(&b)))
}

/// The summaries still live and not in the checkpoint, i.e. at or above `base` (the
/// checkpoint's page, or the head without one), oldest first (empty if there are none).
///
/// A live summary that does not verify fails the open with ERR_CORRUPT. It is never
/// legitimate: its flush was synced before the superblock pointed at it, and a page at
/// or above the head is never overwritten, so the device gave back other bytes than it
/// took (or a bug wrote them). Falling back to a full scan would look safe (a summary
/// only repeats what the log holds) but is not: the damaged bytes sit in a page of the
/// log, the scan stops at the first page that does not verify, and every record after it
/// would be dropped without a word, its addresses free to be written again. The unit
/// must be replaced instead; its chain's other replicas hold its entries. An I/O error
/// reading a summary fails the open with ERR_IO, as the scan's own reads do.
fn summary_chain<D: Device>(dev: &mut D, sb: &Superblock, geo: &Geometry, base: u64) -> Result<Vec<Summary>> {
    let mut chain = Vec::new();
    let mut ptr = (sb.summary_seq != u64::MAX).then_some(SummaryPtr { seq: sb.summary_seq, off: sb.summary_off, len: sb.summary_len });
    while let Some(p) = ptr {
        if p.seq < base {
            break;
        }
        match read_summary(dev, sb, geo, p)? {
            Some(s) => {
                ptr = s.prev;
                chain.push(s);
            }
            None => {
                return Err(EngineError::Corrupt(format!(
                    "the index summary at page {} does not verify: the device returned other bytes than were synced there; \
                     a scan would stop at that page and drop every record after it, so the store refuses to open \
                     (replace this unit: its chain's other replicas hold its entries)",
                    p.seq
                )))
            }
        }
    }
    chain.reverse();
    Ok(chain)
}

pub fn recover<D: Device>(dev: &mut D, sb: &Superblock, geo: &Geometry) -> Result<Recovered> {
    let mut r = Recovered { tail: sb.trim_mark, flushes: FlushList::new(sb.data_pages), ..Recovered::default() };
    // A checkpoint below the head is dead: every flush it describes is below the head, so
    // every address in it is below the trim mark, and its pages may be reused.
    let (base, cover_from, checkpoint_flushes) = if sb.ckpt_seq != u64::MAX && sb.ckpt_seq >= sb.head_seq {
        let (ck, flushes) = checkpoint::read(dev, sb)?;
        // The head moved on from the checkpoint's at segment boundaries (or not at all).
        for f in ck.segments.iter().filter(|f| f.start_seq >= sb.head_seq) {
            r.flushes.push(*f);
        }
        let tiled_from = r.flushes.front().map_or(ck.head.seq, |f| f.start_seq);
        if ck.head.head_seq > sb.head_seq || tiled_from != sb.head_seq {
            return Err(EngineError::Corrupt(format!(
                "the index checkpoint at page {} does not reach the head {} at a flush boundary",
                sb.ckpt_seq, sb.head_seq
            )));
        }
        // Its own flushes were verified as it was read: nothing after them needs them read again.
        for f in &flushes {
            r.flushes.push(*f);
        }
        r.index = ck.index;
        r.index.drop_below(sb.trim_mark);
        r.tail = ck.head.tail.max(sb.trim_mark);
        r.last_generation = ck.head.generation;
        r.checkpoint_read = true;
        (sb.ckpt_seq + sb.ckpt_pages, sb.ckpt_seq, flushes)
    } else {
        (sb.head_seq, sb.head_seq, Vec::new())
    };
    let chain = summary_chain(dev, sb, geo, base)?;
    let Some(newest) = chain.last() else {
        // The next summary covers from the checkpoint: its flushes, then what the scan finds.
        r.since_flushes = checkpoint_flushes;
        let end = scan(dev, sb, &mut r, base, u64::MAX, true)?;
        r.next_seq = end;
        r.cover_from = cover_from;
        if r.since_entries.len() > TRIGGER_ENTRIES {
            // Too much for one summary: leave these pages to be scanned at open (they go
            // as the head passes them, or the next checkpoint covers them) and summarise
            // from here on.
            r.since_entries.clear();
            r.since_flushes.clear();
            r.cover_from = end;
        }
        return Ok(r);
    };
    // Pages above the base and below the oldest live summary that no summary covers: scan
    // them first, so every record is applied in log order.
    let oldest_from = chain[0].cover_from.max(base);
    if scan(dev, sb, &mut r, base, oldest_from, false)? != oldest_from {
        return Err(EngineError::Corrupt("a flush below the oldest index summary is damaged".into()));
    }
    for s in &chain {
        r.summaries_read += 1;
        r.summary_bytes += s.encoded_len() as u64;
        for f in s.flushes.iter().filter(|f| f.start_seq >= base) {
            r.flushes.push(*f);
        }
        for e in s.entries.iter().filter(|e| e.seq >= base) {
            apply(&mut r, sb, e);
        }
    }
    r.last_generation = r.last_generation.max(newest.last_generation);
    r.cover_from = newest.cover_to;
    r.next_seq = scan(dev, sb, &mut r, newest.cover_to, u64::MAX, true)?;
    if r.next_seq == newest.cover_to {
        // The newest summary is the first record of the flush at `cover_to`, synced before
        // the superblock pointed at it: a scan that cannot pass that flush met damage, and
        // writing on from there would overwrite the summary the superblock points at.
        return Err(EngineError::Corrupt(format!("the flush at page {} holding the newest index summary does not verify", newest.cover_to)));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where the head lands after a prefix trim to `mark`: past every leading flush (or
    /// segment) whose addresses are all below it, as `Store::finish_round` moves it.
    fn head_after<'a>(flushes: impl Iterator<Item = &'a FlushMeta>, head: u64, mark: u64) -> u64 {
        let mut at = head;
        for f in flushes {
            if f.max_addr >= mark {
                break;
            }
            at = f.start_seq + f.pages;
        }
        at
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Segments tile the flushes; without merging by size (a small circle) the head
        /// lands exactly where it would over the flushes one by one, for every trim
        /// mark; with it, never past that, and at most one segment short of it; and the
        /// list stays within its bound.
        #[test]
        fn segments_free_what_the_flushes_free(
            flushes in proptest::collection::vec((1u64..40, 0u64..1000), 1..300),
            data_pages in prop_oneof![Just(1000u64), 4096u64 * 2..4096 * 64],
        ) {
            let mut list = FlushList::new(data_pages);
            let mut raw = Vec::new();
            let mut at = 5u64;
            for (pages, max_addr) in flushes {
                let f = FlushMeta { start_seq: at, pages, max_addr };
                list.push(f);
                raw.push(f);
                at += pages;
            }
            let mut tiled = 5u64;
            for s in list.iter() {
                prop_assert_eq!(s.start_seq, tiled);
                tiled += s.pages;
            }
            prop_assert_eq!(tiled, at);
            prop_assert!(list.len() <= list.bound(data_pages.max(at)));
            let min_pages = (data_pages / FLUSH_SEGMENTS).max(1);
            for mark in 0..1001u64 {
                let exact = head_after(raw.iter(), 5, mark);
                let merged = head_after(list.iter(), 5, mark);
                if min_pages == 1 {
                    prop_assert_eq!(merged, exact, "mark {}", mark);
                } else {
                    prop_assert!(merged <= exact, "mark {}: past what the flushes free", mark);
                    let short = list.iter().find(|s| s.start_seq == merged).map_or(0, |s| s.pages);
                    prop_assert!(exact - merged <= short, "mark {}: more than one segment short", mark);
                }
            }
        }
    }
}
