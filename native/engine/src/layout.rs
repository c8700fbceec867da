//! The bytes on the device. Everything is little-endian.
//!
//! ```text
//! offset 0        superblock slot 0 (4 KiB)
//! offset 4096     superblock slot 1 (4 KiB)      the newer valid one wins
//! offset 64 KiB   data region: `data_pages` pages of 4 KiB, used as a circle
//! ```
//! Besides entries, the log holds index summaries and index checkpoints (records of
//! their own kinds, see `summary.rs` and `checkpoint.rs`); the superblock points at the
//! newest durable one of each.
//! A page is a 32-byte header and a 4064-byte body. One flush writes a run of new pages;
//! the bodies of a flush form one byte stream of records `{header 24 B, payload}`, so an
//! entry may cross page boundaries and small entries pack many to a page.

use crate::error::{EngineError, Result};

/// Version 2 added the index checkpoint (its record kind and the superblock's pointer to
/// it). A version-1 superblock still opens (it has no checkpoint: recovery walks the
/// summary chain as version 1 did) and is rewritten as version 2 at that open, so a
/// version-1 build, which cannot skip checkpoint records' meaning, refuses it after.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build opens.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
pub const PAGE_BYTES: usize = 4096;
pub const PAGE_HEADER_BYTES: usize = 32;
pub const PAGE_BODY_BYTES: usize = PAGE_BYTES - PAGE_HEADER_BYTES;
pub const RECORD_HEADER_BYTES: usize = 24;
pub const SUPERBLOCK_BYTES: usize = 4096;
pub const SUPERBLOCK_SLOTS: u64 = 2;
pub const DATA_START_BYTES: u64 = 64 * 1024;
/// The smallest data region we accept: below this a unit is a toy that fills at once.
pub const MIN_DATA_PAGES: u64 = 256;
pub const MIN_DEVICE_BYTES: u64 = DATA_START_BYTES + MIN_DATA_PAGES * PAGE_BYTES as u64;
/// One flush is at most this many pages (4 MiB): bounds the staging buffer and one I/O.
pub const MAX_FLUSH_PAGES: usize = 1024;
pub const DEFAULT_MAX_ENTRY_BYTES: u32 = 64 * 1024;
/// Entries above 1 MiB belong in a blob store, not a log page.
pub const MAX_MAX_ENTRY_BYTES: u32 = 1024 * 1024;

const SB_MAGIC: &[u8; 8] = b"CORFUSB1";
const PAGE_MAGIC: u32 = 0x3147_5043; // "CPG1"

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// What the two superblock slots hold. `seq` orders them: the valid slot with the larger
/// seq is current, so a torn superblock write falls back to the previous state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub format_version: u32,
    pub seq: u64,
    pub cluster_id: [u8; 16],
    pub unit_id: u64,
    pub epoch: u64,
    /// Every address below this is trimmed.
    pub trim_mark: u64,
    /// The oldest live page; pages before it are free for reuse.
    pub head_seq: u64,
    /// Bumped at every open; stamped into every page so stale pages left past a torn tail
    /// by an earlier run can never be mistaken for new ones.
    pub generation: u64,
    pub page_bytes: u32,
    pub logical_block_bytes: u32,
    pub device_bytes: u64,
    pub data_start: u64,
    pub data_pages: u64,
    pub max_entry_bytes: u32,
    /// Random per format: seeds every page checksum, so pages of an earlier format of
    /// the same device never verify.
    pub format_id: u64,
    pub created_unix_ms: u64,
    /// The newest index summary whose flush is durable (`summary_seq == u64::MAX`: none).
    pub summary_seq: u64,
    pub summary_off: u32,
    pub summary_len: u32,
    /// The newest index checkpoint whose flushes are durable (`ckpt_seq == u64::MAX`:
    /// none): the page seq its first flush starts at, the bytes of its encoding, and the
    /// pages of its flushes. A version-1 superblock reads as none.
    pub ckpt_seq: u64,
    pub ckpt_bytes: u64,
    pub ckpt_pages: u64,
}

impl Superblock {
    pub fn encode(&self) -> [u8; SUPERBLOCK_BYTES] {
        let mut b = [0u8; SUPERBLOCK_BYTES];
        b[0..8].copy_from_slice(SB_MAGIC);
        put_u32(&mut b, 12, self.format_version);
        put_u64(&mut b, 16, self.seq);
        b[24..40].copy_from_slice(&self.cluster_id);
        put_u64(&mut b, 40, self.unit_id);
        put_u64(&mut b, 48, self.epoch);
        put_u64(&mut b, 56, self.trim_mark);
        put_u64(&mut b, 64, self.head_seq);
        put_u64(&mut b, 72, self.generation);
        put_u32(&mut b, 80, self.page_bytes);
        put_u32(&mut b, 84, self.logical_block_bytes);
        put_u64(&mut b, 88, self.device_bytes);
        put_u64(&mut b, 96, self.data_start);
        put_u64(&mut b, 104, self.data_pages);
        put_u32(&mut b, 112, self.max_entry_bytes);
        put_u64(&mut b, 120, self.format_id);
        put_u64(&mut b, 128, self.created_unix_ms);
        put_u64(&mut b, 136, self.summary_seq);
        put_u32(&mut b, 144, self.summary_off);
        put_u32(&mut b, 148, self.summary_len);
        put_u64(&mut b, 152, self.ckpt_seq);
        put_u64(&mut b, 160, self.ckpt_bytes);
        put_u64(&mut b, 168, self.ckpt_pages);
        let crc = crc32c::crc32c(&b[12..]);
        put_u32(&mut b, 8, crc);
        b
    }

    /// `Ok(None)`: not a Corfu superblock at all. `Err`: one that is damaged or from a
    /// format version we do not read.
    pub fn decode(b: &[u8]) -> Result<Option<Superblock>> {
        assert!(b.len() >= SUPERBLOCK_BYTES);
        if &b[0..8] != SB_MAGIC {
            return Ok(None);
        }
        if crc32c::crc32c(&b[12..SUPERBLOCK_BYTES]) != get_u32(b, 8) {
            return Err(EngineError::Corrupt("superblock checksum mismatch".into()));
        }
        let mut sb = Superblock {
            format_version: get_u32(b, 12),
            seq: get_u64(b, 16),
            cluster_id: b[24..40].try_into().unwrap(),
            unit_id: get_u64(b, 40),
            epoch: get_u64(b, 48),
            trim_mark: get_u64(b, 56),
            head_seq: get_u64(b, 64),
            generation: get_u64(b, 72),
            page_bytes: get_u32(b, 80),
            logical_block_bytes: get_u32(b, 84),
            device_bytes: get_u64(b, 88),
            data_start: get_u64(b, 96),
            data_pages: get_u64(b, 104),
            max_entry_bytes: get_u32(b, 112),
            format_id: get_u64(b, 120),
            created_unix_ms: get_u64(b, 128),
            summary_seq: get_u64(b, 136),
            summary_off: get_u32(b, 144),
            summary_len: get_u32(b, 148),
            ckpt_seq: get_u64(b, 152),
            ckpt_bytes: get_u64(b, 160),
            ckpt_pages: get_u64(b, 168),
        };
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&sb.format_version) {
            return Err(EngineError::Corrupt(format!(
                "format version {} is not supported (this build reads {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})",
                sb.format_version
            )));
        }
        if sb.format_version < 2 {
            // Bytes 152.. were zero padding in version 1: no checkpoint.
            (sb.ckpt_seq, sb.ckpt_bytes, sb.ckpt_pages) = (u64::MAX, 0, 0);
        }
        if sb.page_bytes as usize != PAGE_BYTES || sb.data_start != DATA_START_BYTES || sb.data_pages == 0 {
            return Err(EngineError::Corrupt("superblock geometry is inconsistent".into()));
        }
        if sb.ckpt_seq != u64::MAX && (sb.ckpt_bytes == 0 || sb.ckpt_pages == 0) {
            return Err(EngineError::Corrupt("the superblock points at an empty index checkpoint".into()));
        }
        Ok(Some(sb))
    }

    pub fn slot_offset(seq: u64) -> u64 {
        (seq % SUPERBLOCK_SLOTS) * SUPERBLOCK_BYTES as u64
    }

    pub fn cluster_id_hex(&self) -> String {
        self.cluster_id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Picks the current superblock from the two slots.
pub fn pick_superblock(slot0: &[u8], slot1: &[u8]) -> Result<Option<Superblock>> {
    let a = Superblock::decode(slot0);
    let b = Superblock::decode(slot1);
    match (a, b) {
        (Ok(Some(x)), Ok(Some(y))) => Ok(Some(if x.seq >= y.seq { x } else { y })),
        (Ok(Some(x)), _) | (_, Ok(Some(x))) => Ok(Some(x)),
        (Ok(None), Ok(None)) => Ok(None),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    pub seq: u64,
    pub generation: u64,
    pub flush_pages: u32,
    pub page_in_flush: u32,
}

fn page_crc(format_id: u64, page: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&format_id.to_le_bytes()), &page[8..PAGE_BYTES])
}

impl PageHeader {
    /// Writes the header and seals the page with its checksum; call after the body is final.
    pub fn seal_page(&self, format_id: u64, page: &mut [u8]) {
        put_u32(page, 0, PAGE_MAGIC);
        put_u64(page, 8, self.seq);
        put_u64(page, 16, self.generation);
        put_u32(page, 24, self.flush_pages);
        put_u32(page, 28, self.page_in_flush);
        let crc = page_crc(format_id, page);
        put_u32(page, 4, crc);
    }

    /// `None` for anything that is not an intact page of this format.
    pub fn verify(format_id: u64, page: &[u8]) -> Option<PageHeader> {
        if get_u32(page, 0) != PAGE_MAGIC || page_crc(format_id, page) != get_u32(page, 4) {
            return None;
        }
        Some(PageHeader {
            seq: get_u64(page, 8),
            generation: get_u64(page, 16),
            flush_pages: get_u32(page, 24),
            page_in_flush: get_u32(page, 28),
        })
    }
}

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// No more records in this flush.
    End = 0,
    Data = 1,
    Junk = 2,
    /// A single-address trim marker.
    Trim = 3,
    /// An index summary (see `summary.rs`); its address field is `u64::MAX`.
    Summary = 4,
    /// A part of an index checkpoint (see `checkpoint.rs`); its address field is `u64::MAX`.
    Checkpoint = 5,
}

impl RecordKind {
    pub fn from_u8(b: u8) -> Option<RecordKind> {
        match b {
            0 => Some(RecordKind::End),
            1 => Some(RecordKind::Data),
            2 => Some(RecordKind::Junk),
            3 => Some(RecordKind::Trim),
            4 => Some(RecordKind::Summary),
            5 => Some(RecordKind::Checkpoint),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub address: u64,
    pub length: u32,
    pub crc: u32,
    pub kind: RecordKind,
}

impl RecordHeader {
    pub fn new(address: u64, kind: RecordKind, payload: &[u8]) -> Self {
        let mut h = RecordHeader { address, length: payload.len() as u32, crc: 0, kind };
        h.crc = h.compute_crc(payload);
        h
    }

    /// Covers the address and kind too: a payload found under the wrong address fails.
    pub fn compute_crc(&self, payload: &[u8]) -> u32 {
        let mut meta = [0u8; 13];
        meta[0..8].copy_from_slice(&self.address.to_le_bytes());
        meta[8..12].copy_from_slice(&self.length.to_le_bytes());
        meta[12] = self.kind as u8;
        crc32c::crc32c_append(crc32c::crc32c(&meta), payload)
    }

    pub fn encode(&self) -> [u8; RECORD_HEADER_BYTES] {
        let mut b = [0u8; RECORD_HEADER_BYTES];
        put_u64(&mut b, 0, self.address);
        put_u32(&mut b, 8, self.length);
        put_u32(&mut b, 12, self.crc);
        b[16] = self.kind as u8;
        b
    }

    pub fn decode(b: &[u8]) -> Option<RecordHeader> {
        Some(RecordHeader { address: get_u64(b, 0), length: get_u32(b, 8), crc: get_u32(b, 12), kind: RecordKind::from_u8(b[16])? })
    }
}

/// Pages a flush stream of `stream_bytes` occupies.
pub fn pages_for_stream(stream_bytes: usize) -> usize {
    stream_bytes.div_ceil(PAGE_BODY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Superblock {
        Superblock {
            format_version: FORMAT_VERSION,
            seq: 7,
            cluster_id: [9; 16],
            unit_id: 3,
            epoch: 4,
            trim_mark: 100,
            head_seq: 12,
            generation: 5,
            page_bytes: PAGE_BYTES as u32,
            logical_block_bytes: 512,
            device_bytes: 1 << 30,
            data_start: DATA_START_BYTES,
            data_pages: 1000,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            format_id: 0xdead_beef,
            created_unix_ms: 1,
            summary_seq: u64::MAX,
            summary_off: 0,
            summary_len: 0,
            ckpt_seq: u64::MAX,
            ckpt_bytes: 0,
            ckpt_pages: 0,
        }
    }

    #[test]
    fn superblock_round_trips_and_detects_damage() {
        let sb = sample();
        let mut bytes = sb.encode();
        assert_eq!(Superblock::decode(&bytes).unwrap(), Some(sb.clone()));
        bytes[50] ^= 1;
        assert!(Superblock::decode(&bytes).is_err());
        assert_eq!(Superblock::decode(&[0u8; SUPERBLOCK_BYTES]).unwrap(), None);
    }

    #[test]
    fn a_version_1_superblock_opens_without_a_checkpoint() {
        let mut sb = sample();
        sb.format_version = 1;
        sb.ckpt_seq = 5;
        sb.ckpt_bytes = 100;
        sb.ckpt_pages = 1;
        let mut bytes = sb.encode();
        // What version 1 wrote: zeros past byte 152.
        bytes[152..176].fill(0);
        let crc = crc32c::crc32c(&bytes[12..]);
        put_u32(&mut bytes, 8, crc);
        let got = Superblock::decode(&bytes).unwrap().unwrap();
        assert_eq!((got.format_version, got.ckpt_seq, got.ckpt_bytes, got.ckpt_pages), (1, u64::MAX, 0, 0));
        sb.format_version = 3;
        assert!(Superblock::decode(&sb.encode()).is_err(), "a newer format is refused");
    }

    #[test]
    fn newer_valid_superblock_wins_and_torn_falls_back() {
        let old = sample();
        let mut new = sample();
        new.seq = 8;
        new.epoch = 9;
        assert_eq!(pick_superblock(&old.encode(), &new.encode()).unwrap().unwrap().epoch, 9);
        let mut torn = new.encode();
        torn[100] ^= 0xff;
        assert_eq!(pick_superblock(&old.encode(), &torn).unwrap().unwrap().epoch, 4);
    }

    #[test]
    fn page_checksum_is_bound_to_the_format() {
        let mut page = vec![0u8; PAGE_BYTES];
        page[100] = 42;
        let h = PageHeader { seq: 5, generation: 2, flush_pages: 3, page_in_flush: 1 };
        h.seal_page(77, &mut page);
        assert_eq!(PageHeader::verify(77, &page), Some(h));
        assert_eq!(PageHeader::verify(78, &page), None);
        page[200] ^= 1;
        assert_eq!(PageHeader::verify(77, &page), None);
    }
}
