//! Index summaries: what makes reopening cheap. Every `TRIGGER_ENTRIES` records (or
//! `TRIGGER_PAGES` pages) the store writes a summary record into the log itself: the
//! location of every record since the previous summary, and the flushes they sit in.
//! The superblock points at the newest summary once its flush is synced; recovery
//! walks the chain back to the head and scans only the pages after the newest one.

use crate::index::SlotKind;
use crate::recovery::FlushMeta;

pub const TRIGGER_ENTRIES: usize = 32 * 1024;
pub const TRIGGER_PAGES: u64 = 16 * 1024;
pub const ENTRY_BYTES: usize = 24;
const FLUSH_BYTES: usize = 24;
const HEADER_BYTES: usize = 48;
pub const NO_SUMMARY: u64 = u64::MAX;

/// Where a summary record is: page seq of its header, body offset, payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryPtr {
    pub seq: u64,
    pub off: u32,
    pub len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryEntry {
    pub address: u64,
    pub seq: u64,
    pub off: u16,
    pub kind: SlotKind,
    pub len: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Pages `[cover_from, cover_to)` are described here; the summary itself is in the
    /// flush starting at `cover_to`.
    pub cover_from: u64,
    pub cover_to: u64,
    pub prev: Option<SummaryPtr>,
    /// Generation of the last covered flush: the scan after it must not go backwards.
    pub last_generation: u64,
    pub flushes: Vec<FlushMeta>,
    pub entries: Vec<SummaryEntry>,
}

impl Summary {
    pub fn encoded_len(&self) -> usize {
        Self::encoded_len_of(self.flushes.len(), self.entries.len())
    }

    pub fn encoded_len_of(flushes: usize, entries: usize) -> usize {
        HEADER_BYTES + flushes * FLUSH_BYTES + entries * ENTRY_BYTES
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.encoded_len());
        b.extend_from_slice(&self.cover_from.to_le_bytes());
        b.extend_from_slice(&self.cover_to.to_le_bytes());
        let p = self.prev.unwrap_or(SummaryPtr { seq: NO_SUMMARY, off: 0, len: 0 });
        b.extend_from_slice(&p.seq.to_le_bytes());
        b.extend_from_slice(&p.off.to_le_bytes());
        b.extend_from_slice(&p.len.to_le_bytes());
        b.extend_from_slice(&self.last_generation.to_le_bytes());
        b.extend_from_slice(&(self.flushes.len() as u32).to_le_bytes());
        b.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for f in &self.flushes {
            b.extend_from_slice(&f.start_seq.to_le_bytes());
            b.extend_from_slice(&f.pages.to_le_bytes());
            b.extend_from_slice(&f.max_addr.to_le_bytes());
        }
        for e in &self.entries {
            b.extend_from_slice(&e.address.to_le_bytes());
            b.extend_from_slice(&e.seq.to_le_bytes());
            b.extend_from_slice(&e.off.to_le_bytes());
            b.push(e.kind as u8);
            b.push(0);
            b.extend_from_slice(&e.len.to_le_bytes());
        }
        debug_assert_eq!(b.len(), self.encoded_len());
        b
    }

    /// `None` if the bytes are not a well-formed summary (the record checksum already
    /// passed, so this means a bug or a foreign record, and recovery falls back to a scan).
    pub fn decode(b: &[u8]) -> Option<Summary> {
        let u64_at = |at: usize| b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap()));
        let u32_at = |at: usize| b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap()));
        let prev_seq = u64_at(16)?;
        let n_flushes = u32_at(40)? as usize;
        let n_entries = u32_at(44)? as usize;
        if b.len() != HEADER_BYTES + n_flushes * FLUSH_BYTES + n_entries * ENTRY_BYTES {
            return None;
        }
        let mut s = Summary {
            cover_from: u64_at(0)?,
            cover_to: u64_at(8)?,
            prev: (prev_seq != NO_SUMMARY).then(|| SummaryPtr { seq: prev_seq, off: u32_at(24).unwrap(), len: u32_at(28).unwrap() }),
            last_generation: u64_at(32)?,
            flushes: Vec::with_capacity(n_flushes),
            entries: Vec::with_capacity(n_entries),
        };
        let mut at = HEADER_BYTES;
        for _ in 0..n_flushes {
            s.flushes.push(FlushMeta { start_seq: u64_at(at)?, pages: u64_at(at + 8)?, max_addr: u64_at(at + 16)? });
            at += FLUSH_BYTES;
        }
        for _ in 0..n_entries {
            let kind = match b[at + 18] {
                1 => SlotKind::Data,
                2 => SlotKind::Junk,
                3 => SlotKind::Trimmed,
                _ => return None,
            };
            s.entries.push(SummaryEntry {
                address: u64_at(at)?,
                seq: u64_at(at + 8)?,
                off: u16::from_le_bytes(b[at + 16..at + 18].try_into().unwrap()),
                kind,
                len: u32_at(at + 20)?,
            });
            at += ENTRY_BYTES;
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = Summary {
            cover_from: 3,
            cover_to: 90,
            prev: Some(SummaryPtr { seq: 2, off: 100, len: 4000 }),
            last_generation: 7,
            flushes: vec![FlushMeta { start_seq: 3, pages: 87, max_addr: 55 }],
            entries: vec![
                SummaryEntry { address: 5, seq: 3, off: 0, kind: SlotKind::Data, len: 10 },
                SummaryEntry { address: 6, seq: 4, off: 12, kind: SlotKind::Trimmed, len: 0 },
            ],
        };
        assert_eq!(Summary::decode(&s.encode()), Some(s.clone()));
        assert_eq!(Summary::decode(&s.encode()[..50]), None);
    }
}
