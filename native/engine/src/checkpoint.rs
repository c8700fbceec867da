//! Index checkpoints: what makes reopening cost the index's size, not the log's. A
//! checkpoint is the whole index in its compressed form (runs and dense chunks, see
//! `index.rs`) plus the recovery state it stands for: the live flushes (as the bounded
//! segments of `FlushList`), the trim mark, the tail, the last flush's generation. It
//! describes every flush below the page it starts at (`seq`).
//!
//! It lives in the log, like a summary: one record of kind `Checkpoint` at the start of
//! each of one or more consecutive flushes (a part fills a whole flush of
//! `MAX_FLUSH_PAGES` pages, the last part whatever is left), written at once and synced.
//! Only then does the superblock point at it (`ckpt_seq`, `ckpt_bytes`, `ckpt_pages`),
//! so the previous checkpoint stays the recovery point until the new one is durable. A
//! checkpoint the head has passed is dead (everything it describes is trimmed) and
//! recovery ignores it; one at or above the head is never overwritten, so a live one that
//! does not verify is damage (ERR_CORRUPT), never a reason to fall back.
//!
//! ```text
//! magic u32 "CKP1", version u32
//! seq, format_id, generation, head_seq, trim_mark, tail, last_generation: u64 each
//! segments u64, then per segment start_seq u64, pages u64, max_addr u64
//! the index (index.rs `encode_into`)
//! crc32c u32 of every byte before it
//! ```
//! The checksum trails so that the store can stream the encoding to the device part by
//! part (`encode_to`), holding one part (4 MiB) at a time and never a second copy of a
//! large index.

use crate::aligned::AlignedBuf;
use crate::device::{Batch, Device, ReadOp};
use crate::error::{EngineError, Result};
use crate::flush::{stream_read, MAX_STREAM_BYTES};
use crate::index::Index;
use crate::layout::{pages_for_stream, RecordHeader, RecordKind, Superblock, MAX_FLUSH_PAGES, PAGE_BYTES, RECORD_HEADER_BYTES};
use crate::recovery::{flush_start, rest_of_flush_intact, FlushMeta};

const MAGIC: u32 = 0x3150_4b43; // "CKP1"
/// Version 2 gives each run of the index its step (index.rs); version 1, still read, did not.
pub const CHECKPOINT_VERSION: u32 = 2;
const HEAD_BYTES: usize = 8 + 7 * 8 + 8;
const TRAILER_BYTES: usize = 4;
/// The encoding goes to its sink in pieces of about this size.
const PIECE_BYTES: usize = 64 * 1024;
const SEGMENT_BYTES: usize = 24;
/// The payload of one part: a part's record fills its flush exactly.
pub const PART_BYTES: usize = MAX_STREAM_BYTES - RECORD_HEADER_BYTES;

/// The recovery state a checkpoint carries besides the index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointHead {
    /// The page its first flush starts at: it describes every flush below.
    pub seq: u64,
    pub format_id: u64,
    /// The superblock's generation when it was written (its flushes carry it).
    pub generation: u64,
    /// The head when it was written: its segments tile `[head_seq, seq)`.
    pub head_seq: u64,
    pub trim_mark: u64,
    pub tail: u64,
    /// Generation of the last flush below `seq` (0 if none).
    pub last_generation: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    pub head: CheckpointHead,
    pub segments: Vec<FlushMeta>,
    pub index: Index,
}

/// Bytes of the encoding; O(chunks).
pub fn encoded_len(segments: usize, index: &Index) -> usize {
    HEAD_BYTES + segments * SEGMENT_BYTES + index.encoded_len() + TRAILER_BYTES
}

/// The whole encoding in one buffer (tests; the store streams it with `encode_to`).
pub fn encode<'a>(head: &CheckpointHead, segments: impl ExactSizeIterator<Item = &'a FlushMeta>, index: &Index) -> Vec<u8> {
    let mut b = Vec::with_capacity(encoded_len(segments.len(), index));
    encode_to::<()>(head, segments, index, |piece| {
        b.extend_from_slice(piece);
        Ok(())
    })
    .expect("no error to return");
    b
}

/// Streams the encoding to `out` in pieces of about 64 KiB (a dense chunk's 45 KiB may
/// push one past that), in order; returns its length, `encoded_len`.
pub fn encode_to<'a, E>(
    head: &CheckpointHead,
    segments: impl ExactSizeIterator<Item = &'a FlushMeta>,
    index: &Index,
    mut out: impl FnMut(&[u8]) -> std::result::Result<(), E>,
) -> std::result::Result<u64, E> {
    let mut b = Vec::with_capacity(2 * PIECE_BYTES);
    let mut crc = 0u32;
    let mut len = 0u64;
    let mut drain = |b: &mut Vec<u8>, all: bool| {
        if all || b.len() >= PIECE_BYTES {
            crc = crc32c::crc32c_append(crc, b);
            len += b.len() as u64;
            out(b)?;
            b.clear();
        }
        Ok(())
    };
    b.extend_from_slice(&MAGIC.to_le_bytes());
    b.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    for v in [head.seq, head.format_id, head.generation, head.head_seq, head.trim_mark, head.tail, head.last_generation, segments.len() as u64] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for f in segments {
        for v in [f.start_seq, f.pages, f.max_addr] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        drain(&mut b, false)?;
    }
    index.encode_chunked(&mut b, |b| drain(b, false))?;
    drain(&mut b, true)?;
    b.extend_from_slice(&crc.to_le_bytes());
    len += TRAILER_BYTES as u64;
    out(&b)?;
    Ok(len)
}

/// Why bytes are not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

pub fn decode(b: &[u8], data_pages: u64) -> std::result::Result<Checkpoint, Malformed> {
    let u32_at = |at: usize| b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap()));
    let u64_at = |at: usize| b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap()));
    if b.len() < HEAD_BYTES + TRAILER_BYTES || u32_at(0) != Some(MAGIC) {
        return Err(Malformed("not a checkpoint (no magic)"));
    }
    let version = u32_at(4);
    if version != Some(CHECKPOINT_VERSION) && version != Some(1) {
        return Err(Malformed("an unknown checkpoint version"));
    }
    let body = b.len() - TRAILER_BYTES;
    if u32_at(body) != Some(crc32c::crc32c(&b[..body])) {
        return Err(Malformed("its checksum does not match"));
    }
    let b = &b[..body];
    let f = |i: usize| u64_at(8 + 8 * i).unwrap();
    let head =
        CheckpointHead { seq: f(0), format_id: f(1), generation: f(2), head_seq: f(3), trim_mark: f(4), tail: f(5), last_generation: f(6) };
    let n = f(7);
    if n > ((b.len() - HEAD_BYTES) / SEGMENT_BYTES) as u64 {
        return Err(Malformed("more segments than bytes"));
    }
    let mut segments = Vec::with_capacity(n as usize);
    let mut at = HEAD_BYTES;
    let mut expect = head.head_seq;
    for _ in 0..n {
        let s = FlushMeta { start_seq: u64_at(at).unwrap(), pages: u64_at(at + 8).unwrap(), max_addr: u64_at(at + 16).unwrap() };
        if s.start_seq != expect || s.pages == 0 {
            return Err(Malformed("its segments do not tile the pages from its head"));
        }
        expect = s.start_seq + s.pages;
        segments.push(s);
        at += SEGMENT_BYTES;
    }
    if expect != head.seq || head.seq - head.head_seq > data_pages || head.tail < head.trim_mark || head.last_generation > head.generation {
        return Err(Malformed("its head, segments, tail or generations are inconsistent"));
    }
    let Some((index, used)) = Index::decode(&b[at..], data_pages, version == Some(CHECKPOINT_VERSION)) else {
        return Err(Malformed("its index does not decode"));
    };
    if at + used != b.len() {
        return Err(Malformed("bytes left after its index"));
    }
    if index.max_address().is_some_and(|a| a >= head.tail) {
        return Err(Malformed("an indexed address at or above its tail"));
    }
    Ok(Checkpoint { head, segments, index })
}

/// The parts of a checkpoint of `bytes` bytes: (first page offset from its start, payload
/// bytes, pages) each.
pub fn parts(bytes: u64) -> Vec<(u64, usize, u64)> {
    let mut out = Vec::new();
    let mut left = bytes as usize;
    let mut at = 0u64;
    while left > 0 {
        let len = left.min(PART_BYTES);
        let pages = pages_for_stream(RECORD_HEADER_BYTES + len) as u64;
        out.push((at, len, pages));
        at += MAX_FLUSH_PAGES as u64;
        left -= len;
    }
    out
}

/// Pages a checkpoint of `bytes` bytes occupies.
pub fn pages_for(bytes: u64) -> u64 {
    parts(bytes).last().map_or(0, |&(at, _, pages)| at + pages)
}

fn corrupt(sb: &Superblock, why: impl std::fmt::Display) -> EngineError {
    EngineError::Corrupt(format!(
        "the index checkpoint at page {} does not verify ({why}): the device returned other bytes than were synced there; \
         the store refuses to open rather than rebuild the index from a log it cannot trust \
         (replace this unit: its chain's other replicas hold its entries)",
        sb.ckpt_seq
    ))
}

/// Reads and verifies the checkpoint the superblock points at: every page of its flushes
/// (seq, generation, checksum), each part's record, then the whole encoding. Reads
/// exactly its pages, in reads of at most one part. Returns it and its flushes.
pub fn read<D: Device>(dev: &mut D, sb: &Superblock) -> Result<(Checkpoint, Vec<FlushMeta>)> {
    let c = sb.ckpt_seq;
    if sb.ckpt_pages > sb.data_pages || sb.ckpt_bytes > sb.ckpt_pages * PAGE_BYTES as u64 || pages_for(sb.ckpt_bytes) != sb.ckpt_pages {
        return Err(corrupt(sb, "the superblock's size and page count disagree, or exceed the circle"));
    }
    let mut buf = AlignedBuf::zeroed(MAX_FLUSH_PAGES * PAGE_BYTES);
    let mut bytes = Vec::with_capacity(sb.ckpt_bytes as usize);
    let mut header = [0u8; RECORD_HEADER_BYTES];
    let mut flushes = Vec::new();
    let mut generations = Vec::new();
    for (at, len, pages) in parts(sb.ckpt_bytes) {
        let seq = c + at;
        let pages_buf = &mut buf[..pages as usize * PAGE_BYTES];
        read_pages(dev, sb, seq, pages_buf)?;
        let Some((_, generation)) = flush_start(pages_buf, sb, seq, 0)
            .filter(|&(n, generation)| n as u64 == pages && rest_of_flush_intact(pages_buf, sb, seq, n, generation))
        else {
            return Err(corrupt(sb, format!("the flush at page {seq} is not whole")));
        };
        flushes.push(FlushMeta { start_seq: seq, pages, max_addr: 0 });
        generations.push(generation);
        stream_read(pages_buf, 0, &mut header);
        let from = bytes.len();
        bytes.resize(from + len, 0);
        stream_read(pages_buf, RECORD_HEADER_BYTES, &mut bytes[from..]);
        let record_ok = RecordHeader::decode(&header).is_some_and(|h| {
            h.kind == RecordKind::Checkpoint && h.address == u64::MAX && h.length as usize == len && h.compute_crc(&bytes[from..]) == h.crc
        });
        if !record_ok {
            return Err(corrupt(sb, format!("the record at page {seq} is not its part")));
        }
    }
    let ck = decode(&bytes, sb.data_pages).map_err(|m| corrupt(sb, m.0))?;
    if ck.head.seq != c
        || ck.head.format_id != sb.format_id
        || generations.iter().any(|&g| g != ck.head.generation)
        || ck.head.trim_mark > sb.trim_mark
    {
        return Err(corrupt(sb, "it is not the checkpoint the superblock points at"));
    }
    Ok((ck, flushes))
}

/// Pages `[seq, seq + n)` of the circle into `out` (n pages), wrapping at its end.
fn read_pages<D: Device>(dev: &mut D, sb: &Superblock, seq: u64, out: &mut [u8]) -> Result<()> {
    let n = (out.len() / PAGE_BYTES) as u64;
    let pos = seq % sb.data_pages;
    let first = n.min(sb.data_pages - pos) as usize * PAGE_BYTES;
    let (a, b) = out.split_at_mut(first);
    let mut ops = vec![ReadOp { offset: sb.data_start + pos * PAGE_BYTES as u64, buf: a }];
    if !b.is_empty() {
        ops.push(ReadOp { offset: sb.data_start, buf: b });
    }
    dev.submit(Batch { reads: &mut ops, writes: &[], sync: false }).map_err(|e| EngineError::io("cannot read the index checkpoint", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_fill_whole_flushes_but_the_last() {
        assert_eq!(parts(10), vec![(0, 10, 1)]);
        let two = parts(PART_BYTES as u64 + 5);
        assert_eq!(two, vec![(0, PART_BYTES, MAX_FLUSH_PAGES as u64), (MAX_FLUSH_PAGES as u64, 5, 1)]);
        assert_eq!(pages_for(PART_BYTES as u64 + 5), MAX_FLUSH_PAGES as u64 + 1);
        assert_eq!(pages_for(0), 0);
    }
}
