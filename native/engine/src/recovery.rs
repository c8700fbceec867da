//! Rebuilding the index on open: scan the live flushes from the head, in page order, in
//! large reads; stop at the first flush that is not whole. Nothing in a torn flush was
//! ever acknowledged (an ack follows the flush's sync), so discarding it loses nothing.

use std::collections::VecDeque;

use crate::aligned::AlignedBuf;
use crate::device::{Batch, Device, ReadOp};
use crate::error::{EngineError, Result};
use crate::flush::stream_read;
use crate::index::{Index, Slot, SlotKind};
use crate::layout::{PageHeader, RecordHeader, RecordKind, Superblock, MAX_FLUSH_PAGES, PAGE_BODY_BYTES, PAGE_BYTES, RECORD_HEADER_BYTES};

/// A flush that is live on the device: the head can move past it once every address in
/// it is below the trim mark.
#[derive(Clone, Copy, Debug)]
pub struct FlushMeta {
    pub start_seq: u64,
    pub pages: u64,
    pub max_addr: u64,
}

pub struct Recovered {
    pub index: Index,
    pub flushes: VecDeque<FlushMeta>,
    pub next_seq: u64,
    /// 1 + the highest address in any live record (0 if none).
    pub tail: u64,
    pub scanned_pages: u64,
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
    fn new() -> Self {
        PageWindow { buf: AlignedBuf::zeroed((WINDOW_PAGES as usize) * PAGE_BYTES), first_seq: 0, loaded: 0 }
    }

    /// Makes pages `[seq, seq + n)` resident and returns them.
    fn pages<D: Device>(&mut self, dev: &mut D, sb: &Superblock, seq: u64, n: u64) -> Result<&[u8]> {
        assert!(n <= WINDOW_PAGES);
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
        dev.submit(Batch { reads: &mut ops, writes: &[], sync: false })
            .map_err(|e| EngineError::io("recovery scan read failed", e))?;
        self.first_seq = seq;
        self.loaded = n;
        Ok(())
    }
}

/// Verifies a whole flush starting at `seq`; returns its page count.
fn whole_flush(pages_of: &[u8], sb: &Superblock, seq: u64, min_generation: u64) -> Option<(u32, u64)> {
    let first = PageHeader::verify(sb.format_id, &pages_of[..PAGE_BYTES])?;
    let n = first.flush_pages;
    let ok_first = first.seq == seq
        && first.page_in_flush == 0
        && n >= 1
        && n as usize <= MAX_FLUSH_PAGES
        && first.generation >= min_generation
        && first.generation <= sb.generation;
    if !ok_first {
        return None;
    }
    Some((n, first.generation))
}

fn rest_of_flush_intact(pages: &[u8], sb: &Superblock, seq: u64, n: u32, generation: u64) -> bool {
    (1..n).all(|i| {
        let p = &pages[i as usize * PAGE_BYTES..(i as usize + 1) * PAGE_BYTES];
        matches!(PageHeader::verify(sb.format_id, p), Some(h)
            if h.seq == seq + i as u64 && h.page_in_flush == i && h.flush_pages == n && h.generation == generation)
    })
}

pub fn recover<D: Device>(dev: &mut D, sb: &Superblock) -> Result<Recovered> {
    let mut index = Index::default();
    let mut flushes = VecDeque::new();
    let mut tail = 0u64;
    let mut seq = sb.head_seq;
    let mut min_generation = 0u64;
    let mut window = PageWindow::new();
    let mut header = [0u8; RECORD_HEADER_BYTES];
    while seq - sb.head_seq < sb.data_pages {
        let first = window.pages(dev, sb, seq, 1)?;
        let Some((n, generation)) = whole_flush(first, sb, seq, min_generation) else { break };
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
            let page = s / PAGE_BODY_BYTES;
            let slot = Slot {
                pos: ((seq + page as u64) % sb.data_pages) as u32,
                off: (s % PAGE_BODY_BYTES) as u16,
                len: h.length,
                kind: match h.kind {
                    RecordKind::Data => SlotKind::Data,
                    RecordKind::Junk => SlotKind::Junk,
                    RecordKind::Trim => SlotKind::Trimmed,
                    RecordKind::End => unreachable!(),
                },
            };
            if h.address >= sb.trim_mark {
                index.set(h.address, slot);
            }
            max_addr = max_addr.max(h.address);
            tail = tail.max(h.address + 1);
            s += RECORD_HEADER_BYTES + h.length as usize;
        }
        flushes.push_back(FlushMeta { start_seq: seq, pages: n as u64, max_addr });
        min_generation = generation;
        seq += n as u64;
    }
    Ok(Recovered { index, flushes, next_seq: seq, tail: tail.max(sb.trim_mark), scanned_pages: seq - sb.head_seq })
}
