//! Address -> location of its record, sized by the shape of the data, not the entry count.
//!
//! A radix of chunks of 4,096 addresses. A unit's addresses arrive mostly in ascending
//! runs (its stripe's addresses are spaced by the stripe count, and a flush lays its
//! records back to back), so a chunk holds runs: (first address, stride, count, where the
//! first record starts, step, payload length, kind). Record k of a run starts `k * step`
//! bytes after the first in the page-body stream: `step` is header + length for records
//! back to back in one flush, and a page's body for one record per flush (a unit at low
//! load, each write its own group commit), so one run of equal-length records costs 24
//! bytes whatever its count. Where the order breaks — an address set a
//! second time (a trim, a junk fill over a hole), a run that stops extending, too many
//! runs in one chunk — the chunk turns dense: one `Slot` per address, as before. So the
//! worst case is the dense index, and the common case is a few runs per chunk.

use std::collections::BTreeMap;

use crate::layout::{PAGE_BODY_BYTES, RECORD_HEADER_BYTES};

pub const CHUNK_BITS: u32 = 12;
pub const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
/// Past this many runs a chunk is dense: a lookup scans a chunk's runs, so their number
/// bounds its cost, and 64 runs (1.5 KiB) are still far below a dense chunk (48 KiB).
pub const MAX_RUNS_PER_CHUNK: usize = 64;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum SlotKind {
    #[default]
    Empty = 0,
    Data = 1,
    Junk = 2,
    Trimmed = 3,
}

/// Where a record lives: the page (position in the circle) its header starts in, the
/// offset in that page's body, and the payload length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub pos: u32,
    pub len: u32,
    pub off: u16,
    pub kind: SlotKind,
}

/// Records of equal length and kind, `step` bytes apart in the page-body stream, for
/// addresses `start + k * stride` (offsets in the chunk), k < count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    start: u16,
    stride: u16,
    count: u16,
    off: u16,
    pos: u32,
    /// Stream bytes from one record's header to the next (0 while the run holds one).
    step: u32,
    len: u32,
    kind: SlotKind,
}

impl Run {
    fn one(at: u16, slot: Slot) -> Run {
        Run { start: at, stride: 0, count: 1, off: slot.off, pos: slot.pos, step: 0, len: slot.len, kind: slot.kind }
    }

    /// The run's k-th slot (k < count).
    fn slot(&self, k: u32) -> Slot {
        let stream = self.off as u64 + k as u64 * self.step as u64;
        Slot {
            pos: self.pos + (stream / PAGE_BODY_BYTES as u64) as u32,
            off: (stream % PAGE_BODY_BYTES as u64) as u16,
            len: self.len,
            kind: self.kind,
        }
    }

    /// Which element of the run `at` is, if any.
    fn find(&self, at: u16) -> Option<u32> {
        if at < self.start {
            return None;
        }
        let d = (at - self.start) as u32;
        if self.stride == 0 {
            return (d == 0).then_some(0);
        }
        let k = d / self.stride as u32;
        (d.is_multiple_of(self.stride as u32) && k < self.count as u32).then_some(k)
    }

    fn last(&self) -> u16 {
        self.start + (self.count - 1) * self.stride
    }

    /// Takes `slot` at `at` as its next element if it continues the run: the next address
    /// at the run's stride and the next record at its step (the second element sets both),
    /// with the same length and kind.
    fn extend(&mut self, at: u16, slot: Slot) -> bool {
        let last = self.last();
        if at <= last || slot.len != self.len || slot.kind != self.kind || self.count == u16::MAX {
            return false;
        }
        let stride = at - last;
        if self.count > 1 {
            if stride != self.stride || self.slot(self.count as u32) != slot {
                return false;
            }
        } else {
            // Later in the stream (a position past the circle's end wraps to a smaller one:
            // no run spans the wrap), by at least the first record, and within a u32.
            let stream = |pos: u32, off: u16| pos as u64 * PAGE_BODY_BYTES as u64 + off as u64;
            let Some(step) = stream(slot.pos, slot.off).checked_sub(stream(self.pos, self.off)) else { return false };
            if step < RECORD_HEADER_BYTES as u64 + self.len as u64 || step > u32::MAX as u64 {
                return false;
            }
            self.step = step as u32;
        }
        debug_assert_eq!(self.slot(self.count as u32), slot);
        self.stride = stride;
        self.count += 1;
        true
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    /// Runs that never share an address.
    Runs(Vec<Run>),
    Dense(Box<[Slot]>),
}

impl Chunk {
    fn get(&self, at: u16) -> Slot {
        match self {
            Chunk::Dense(slots) => slots[at as usize],
            // Newest first: a write usually extends, and a read usually asks for, the last run.
            Chunk::Runs(runs) => runs.iter().rev().find_map(|r| r.find(at).map(|k| r.slot(k))).unwrap_or_default(),
        }
    }

    fn densify(&mut self) {
        if let Chunk::Runs(runs) = self {
            let mut slots = vec![Slot::default(); CHUNK_SLOTS].into_boxed_slice();
            for r in runs.iter() {
                for k in 0..r.count as u32 {
                    slots[(r.start as u32 + k * r.stride as u32) as usize] = r.slot(k);
                }
            }
            *self = Chunk::Dense(slots);
        }
    }

    /// Sets `at` (it was empty unless `was` says otherwise).
    fn set(&mut self, at: u16, slot: Slot, was: SlotKind) {
        if let Chunk::Runs(runs) = self {
            if was == SlotKind::Empty && slot.kind != SlotKind::Empty {
                if runs.last_mut().is_some_and(|r| r.extend(at, slot)) {
                    return;
                }
                if runs.len() < MAX_RUNS_PER_CHUNK {
                    runs.push(Run::one(at, slot));
                    return;
                }
            }
            // Out of order: a second write of an address, a removal, or too many runs.
            self.densify();
        }
        let Chunk::Dense(slots) = self else { unreachable!("densified above") };
        slots[at as usize] = slot;
    }

    fn live(&self) -> u64 {
        match self {
            Chunk::Dense(slots) => slots.iter().filter(|s| s.kind != SlotKind::Empty).count() as u64,
            Chunk::Runs(runs) => runs.iter().map(|r| r.count as u64).sum(),
        }
    }

    fn max_offset(&self) -> Option<u16> {
        match self {
            Chunk::Dense(slots) => slots.iter().rposition(|s| s.kind != SlotKind::Empty).map(|i| i as u16),
            Chunk::Runs(runs) => runs.iter().map(Run::last).max(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Chunk::Dense(slots) => slots.len() * std::mem::size_of::<Slot>(),
            Chunk::Runs(runs) => runs.capacity() * std::mem::size_of::<Run>(),
        }
    }
}

/// Structural equality (the same chunks, each in the same form): what a checkpoint's
/// round trip must give back.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Index {
    chunks: BTreeMap<u64, Chunk>,
    live: u64,
}

impl Index {
    pub fn get(&self, address: u64) -> Slot {
        self.chunks.get(&(address >> CHUNK_BITS)).map(|c| c.get(offset(address))).unwrap_or_default()
    }

    pub fn set(&mut self, address: u64, slot: Slot) {
        // An empty slot is no slot, whatever else it says.
        let slot = if slot.kind == SlotKind::Empty { Slot::default() } else { slot };
        let chunk = self.chunks.entry(address >> CHUNK_BITS).or_insert_with(|| Chunk::Runs(Vec::new()));
        let at = offset(address);
        let was = chunk.get(at).kind;
        match (was == SlotKind::Empty, slot.kind == SlotKind::Empty) {
            (true, false) => self.live += 1,
            (false, true) => self.live -= 1,
            _ => {}
        }
        chunk.set(at, slot, was);
        debug_assert_eq!(chunk.get(at), slot, "index: address {address} reads back what was set");
    }

    /// Frees every chunk wholly below `mark`: those addresses are trimmed by the mark.
    pub fn drop_below(&mut self, mark: u64) {
        let keep = self.chunks.split_off(&(mark >> CHUNK_BITS));
        for chunk in self.chunks.values() {
            self.live -= chunk.live();
        }
        self.chunks = keep;
    }

    /// The highest address with a slot: the last chunk's highest, unless removals emptied
    /// it (the store never removes: a trim is a slot of its own).
    pub fn max_address(&self) -> Option<u64> {
        self.chunks.iter().rev().find_map(|(&c, chunk)| chunk.max_offset().map(|i| (c << CHUNK_BITS) + i as u64))
    }

    /// Addresses with any slot (data, junk or trimmed).
    pub fn len(&self) -> u64 {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The index's heap: runs and dense chunks, plus the tree's per-chunk overhead.
    pub fn memory_bytes(&self) -> usize {
        const TREE_BYTES_PER_CHUNK: usize = 48;
        self.chunks.values().map(|c| c.memory_bytes() + TREE_BYTES_PER_CHUNK).sum()
    }

    /// Chunks held as runs and as dense slots (`corfu inspect`, tests).
    pub fn shape(&self) -> (usize, usize) {
        let runs = self.chunks.values().filter(|c| matches!(c, Chunk::Runs(_))).count();
        (runs, self.chunks.len() - runs)
    }
}

/// The index's checkpoint form (`checkpoint.rs` frames and checksums it). Little-endian:
///
/// ```text
/// chunks u64, live u64, then per chunk in ascending order:
///   chunk number u64 (address >> 12), form u8
///   form 0 (runs):  count u16, then per run start u16, stride u16, count u16, off u16, pos u32, step u32, len u32, kind u8
///   form 1 (dense): 4,096 slots of pos u32, len u32, off u16, kind u8
/// ```
/// So its size follows the index's memory: 21 bytes a run, 45,056 a dense chunk. In
/// version 1 of the checkpoint a run had no `step` (17 bytes): its records lay back to
/// back, `step` = header + length.
const CHUNK_HEAD_BYTES: usize = 9;
const RUN_BYTES: usize = 21;
const SLOT_BYTES: usize = 11;
const INDEX_HEAD_BYTES: usize = 16;

impl Index {
    /// Bytes `encode_into` appends; O(chunks).
    pub fn encoded_len(&self) -> usize {
        INDEX_HEAD_BYTES
            + self
                .chunks
                .values()
                .map(|c| {
                    CHUNK_HEAD_BYTES
                        + match c {
                            Chunk::Runs(runs) => 2 + runs.len() * RUN_BYTES,
                            Chunk::Dense(_) => CHUNK_SLOTS * SLOT_BYTES,
                        }
                })
                .sum::<usize>()
    }

    pub fn encode_into(&self, b: &mut Vec<u8>) {
        let at = b.len();
        self.encode_chunked::<()>(b, |_| Ok(())).expect("no error to return");
        debug_assert_eq!(b.len() - at, self.encoded_len());
    }

    /// The same bytes, appended to `b` one chunk at a time, `drain` called after each
    /// (it may take the bytes out of `b`: a checkpoint streams to the device this way,
    /// holding one chunk's bytes at a time rather than the whole encoding).
    pub fn encode_chunked<E>(
        &self,
        b: &mut Vec<u8>,
        drain: impl FnMut(&mut Vec<u8>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.encode_version(b, true, drain)
    }

    /// `with_steps` false writes version 1's runs (no step): only tests, to check that
    /// a version-1 checkpoint still decodes, and only of runs laid back to back.
    fn encode_version<E>(
        &self,
        b: &mut Vec<u8>,
        with_steps: bool,
        mut drain: impl FnMut(&mut Vec<u8>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        b.extend_from_slice(&(self.chunks.len() as u64).to_le_bytes());
        b.extend_from_slice(&self.live.to_le_bytes());
        for (&n, chunk) in &self.chunks {
            b.extend_from_slice(&n.to_le_bytes());
            match chunk {
                Chunk::Runs(runs) => {
                    b.push(0);
                    b.extend_from_slice(&(runs.len() as u16).to_le_bytes());
                    for r in runs {
                        for v in [r.start, r.stride, r.count, r.off] {
                            b.extend_from_slice(&v.to_le_bytes());
                        }
                        b.extend_from_slice(&r.pos.to_le_bytes());
                        if with_steps {
                            b.extend_from_slice(&r.step.to_le_bytes());
                        }
                        b.extend_from_slice(&r.len.to_le_bytes());
                        b.push(r.kind as u8);
                    }
                }
                Chunk::Dense(slots) => {
                    b.push(1);
                    for s in slots.iter() {
                        b.extend_from_slice(&s.pos.to_le_bytes());
                        b.extend_from_slice(&s.len.to_le_bytes());
                        b.extend_from_slice(&s.off.to_le_bytes());
                        b.push(s.kind as u8);
                    }
                }
            }
            drain(b)?;
        }
        Ok(())
    }

    /// Decodes what `encode_into` wrote, at the start of `b`; returns the index and the
    /// bytes it took. `None` for anything malformed: a slot or run outside its chunk or
    /// past the circle's `data_pages`, chunks out of order, an unknown form or kind, a
    /// count that does not add up. O(runs + dense chunks' slots), not O(entries).
    /// `with_steps` false reads version 1's runs, which carry no step.
    pub fn decode(b: &[u8], data_pages: u64, with_steps: bool) -> Option<(Index, usize)> {
        let mut r = Cursor { b, at: 0 };
        let n_chunks = r.u64()?;
        let live = r.u64()?;
        // Each chunk takes at least its head: a count the bytes cannot hold is malformed.
        if n_chunks > (b.len() / CHUNK_HEAD_BYTES) as u64 {
            return None;
        }
        let mut ix = Index::default();
        let mut prev: Option<u64> = None;
        let pos_ok = |pos: u64| pos < data_pages;
        for _ in 0..n_chunks {
            let n = r.u64()?;
            if prev.is_some_and(|p| p >= n) || n > u64::MAX >> CHUNK_BITS {
                return None;
            }
            prev = Some(n);
            let chunk = match r.u8()? {
                0 => {
                    let count = r.u16()? as usize;
                    if count > MAX_RUNS_PER_CHUNK {
                        return None;
                    }
                    let mut runs = Vec::with_capacity(count);
                    for _ in 0..count {
                        let (start, stride, count, off, pos) = (r.u16()?, r.u16()?, r.u16()?, r.u16()?, r.u32()?);
                        let step = if with_steps { Some(r.u32()?) } else { None };
                        let (len, kind) = (r.u32()?, kind(r.u8()?)?);
                        let step = step.unwrap_or(if count > 1 { RECORD_HEADER_BYTES as u32 + len } else { 0 });
                        let run = Run { start, stride, count, off, pos, step, len, kind };
                        let last = run.start as u32 + (run.count as u32).saturating_sub(1) * run.stride as u32;
                        let shape_ok = run.count >= 1
                            && (run.count == 1) == (run.stride == 0)
                            && (run.count == 1) == (run.step == 0)
                            && (run.count == 1 || run.step as u64 >= RECORD_HEADER_BYTES as u64 + run.len as u64)
                            && last < CHUNK_SLOTS as u32;
                        if !shape_ok || run.kind == SlotKind::Empty || run.off as usize >= PAGE_BODY_BYTES {
                            return None;
                        }
                        let last_stream = run.off as u64 + (run.count as u64 - 1) * run.step as u64;
                        if !pos_ok(run.pos as u64 + last_stream / PAGE_BODY_BYTES as u64) {
                            return None;
                        }
                        ix.live += run.count as u64;
                        runs.push(run);
                    }
                    Chunk::Runs(runs)
                }
                1 => {
                    let mut slots = vec![Slot::default(); CHUNK_SLOTS].into_boxed_slice();
                    for slot in slots.iter_mut() {
                        let s = Slot { pos: r.u32()?, len: r.u32()?, off: r.u16()?, kind: kind(r.u8()?)? };
                        if s.kind == SlotKind::Empty {
                            if s != Slot::default() {
                                return None;
                            }
                            continue;
                        }
                        if !pos_ok(s.pos as u64) || s.off as usize >= PAGE_BODY_BYTES {
                            return None;
                        }
                        ix.live += 1;
                        *slot = s;
                    }
                    Chunk::Dense(slots)
                }
                _ => return None,
            };
            ix.chunks.insert(n, chunk);
        }
        (ix.live == live).then_some((ix, r.at))
    }
}

fn kind(b: u8) -> Option<SlotKind> {
    match b {
        0 => Some(SlotKind::Empty),
        1 => Some(SlotKind::Data),
        2 => Some(SlotKind::Junk),
        3 => Some(SlotKind::Trimmed),
        _ => None,
    }
}

/// Reads little-endian fields off a byte slice; `None` past its end.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let v = self.b.get(self.at..self.at + N)?.try_into().ok()?;
        self.at += N;
        Some(v)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|v| v[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
}

fn offset(address: u64) -> u16 {
    (address as usize & (CHUNK_SLOTS - 1)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data(pos: u32, off: u16, len: u32) -> Slot {
        Slot { pos, len, off, kind: SlotKind::Data }
    }

    #[test]
    fn set_get_and_drop_below() {
        let mut ix = Index::default();
        let s = Slot { pos: 3, len: 10, off: 7, kind: SlotKind::Data };
        ix.set(5, s);
        ix.set(5000, s);
        ix.set(1 << 40, s);
        assert_eq!(ix.get(5), s);
        assert_eq!(ix.get(6).kind, SlotKind::Empty);
        assert_eq!(ix.len(), 3);
        assert_eq!(ix.max_address(), Some(1 << 40));
        ix.drop_below(4096);
        assert_eq!(ix.get(5).kind, SlotKind::Empty);
        assert_eq!(ix.get(5000), s);
        assert_eq!(ix.len(), 2);
    }

    /// Records of one flush, back to back from (pos, off): what the store hands the index.
    fn flush(ix: &mut Index, addresses: impl IntoIterator<Item = u64>, pos: u32, len: u32) {
        let mut stream = 0u64;
        for a in addresses {
            ix.set(a, data(pos + (stream / PAGE_BODY_BYTES as u64) as u32, (stream % PAGE_BODY_BYTES as u64) as u16, len));
            stream += (RECORD_HEADER_BYTES as u32 + len) as u64;
        }
    }

    #[test]
    fn a_strided_flush_of_equal_entries_is_one_run_per_chunk() {
        let mut ix = Index::default();
        // Stripe 1 of 2: addresses 1, 3, 5, ... 128-byte entries across many pages.
        flush(&mut ix, (0..100_000u64).map(|i| 1 + 2 * i), 10, 128);
        assert_eq!(ix.len(), 100_000);
        assert_eq!(ix.shape(), (49, 0), "runs only");
        assert!(ix.memory_bytes() < 49 * 200, "{} bytes", ix.memory_bytes());
        assert_eq!(ix.max_address(), Some(199_999));
        let mut stream = 0u64;
        for i in 0..100_000u64 {
            let want = data(10 + (stream / PAGE_BODY_BYTES as u64) as u32, (stream % PAGE_BODY_BYTES as u64) as u16, 128);
            assert_eq!(ix.get(1 + 2 * i), want);
            assert_eq!(ix.get(2 * i).kind, SlotKind::Empty);
            stream += RECORD_HEADER_BYTES as u64 + 128;
        }
    }

    /// One record per flush, each flush a page or more after the last (a unit at low
    /// load: every write is its own group commit and starts a page): runs, not slots.
    #[test]
    fn one_record_per_flush_at_a_steady_step_is_one_run_per_chunk() {
        let mut ix = Index::default();
        // Stripe 0 of 2, a 128-byte entry at the start of every page from page 7.
        for k in 0..10_000u32 {
            ix.set(2 * k as u64, data(7 + k, 0, 128));
        }
        assert_eq!(ix.shape(), (5, 0), "one run per chunk of 4,096 addresses (2,048 of them this stripe's)");
        assert!(ix.memory_bytes() < 5 * 200, "{} bytes", ix.memory_bytes());
        for k in 0..10_000u32 {
            assert_eq!(ix.get(2 * k as u64), data(7 + k, 0, 128));
        }
        // A flush that breaks the step (two pages on) starts a new run; the next one at the
        // new step continues that run.
        let mut ix = Index::default();
        for (a, pos) in [(0u64, 0u32), (1, 1), (2, 2), (3, 4), (4, 6), (5, 8)] {
            ix.set(a, data(pos, 0, 100));
        }
        for (a, pos) in [(0u64, 0u32), (1, 1), (2, 2), (3, 4), (4, 6), (5, 8)] {
            assert_eq!(ix.get(a), data(pos, 0, 100));
        }
        let Chunk::Runs(runs) = &ix.chunks[&0] else { panic!("runs") };
        assert_eq!(runs.len(), 2);
        // A record that would overlap the previous one is no step: it cannot extend a run.
        let mut ix = Index::default();
        ix.set(0, data(0, 0, 100));
        ix.set(1, data(0, 50, 100));
        let Chunk::Runs(runs) = &ix.chunks[&0] else { panic!("runs") };
        assert_eq!(runs.len(), 2);
    }

    /// A version-1 checkpoint's index (runs without a step) still decodes, to the same index.
    #[test]
    fn a_version_1_index_still_decodes() {
        let mut ix = Index::default();
        flush(&mut ix, (0..10_000u64).map(|i| 3 * i), 5, 200);
        ix.set(77, data(1, 2, 3));
        ix.set(9_000_000, data(40, 0, 17));
        let mut v1 = Vec::new();
        ix.encode_version::<()>(&mut v1, false, |_| Ok(())).unwrap();
        let mut v2 = Vec::new();
        ix.encode_into(&mut v2);
        assert!(v1.len() < v2.len(), "version 1 has no steps");
        let (back, used) = Index::decode(&v1, 1 << 20, false).expect("decodes");
        assert_eq!(used, v1.len());
        assert!(back == ix);
        assert!(Index::decode(&v1, 1 << 20, true).is_none_or(|(b, _)| b != ix), "read as version 2 it is not the same index");
    }

    #[test]
    fn a_second_write_of_an_address_turns_its_chunk_dense_and_keeps_every_slot() {
        let mut ix = Index::default();
        flush(&mut ix, 0..4096, 0, 100);
        let before: Vec<Slot> = (0..4096).map(|a| ix.get(a)).collect();
        let trimmed = Slot { pos: 900, len: 0, off: 12, kind: SlotKind::Trimmed };
        ix.set(77, trimmed);
        assert_eq!(ix.shape(), (0, 1));
        for a in 0..4096u64 {
            assert_eq!(ix.get(a), if a == 77 { trimmed } else { before[a as usize] });
        }
        assert_eq!(ix.len(), 4096);
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A flush: `n` addresses from `first` at `stride`, entries of `len` bytes, from page `pos`.
        Flush {
            first: u64,
            stride: u64,
            n: u64,
            len: u32,
            pos: u32,
        },
        /// `n` flushes of one record each, `apart` pages from one to the next (a unit at low load).
        Singles {
            first: u64,
            stride: u64,
            n: u64,
            len: u32,
            pos: u32,
            apart: u32,
        },
        /// One record anywhere (a fill, a trim, a rewrite).
        One {
            address: u64,
            slot: Slot,
        },
        DropBelow(u64),
    }

    fn kind() -> impl Strategy<Value = SlotKind> {
        prop_oneof![Just(SlotKind::Data), Just(SlotKind::Junk), Just(SlotKind::Trimmed), Just(SlotKind::Empty)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..20_000, 1u64..5, 1u64..3000, prop_oneof![Just(0u32), Just(128), Just(4000), 0u32..70_000], 0u32..100_000)
                .prop_map(|(first, stride, n, len, pos)| Op::Flush { first, stride, n, len, pos }),
            2 => (0u64..20_000, 1u64..5, 1u64..600, prop_oneof![Just(0u32), Just(128), 0u32..4000], 0u32..100_000, 1u32..4)
                .prop_map(|(first, stride, n, len, pos, apart)| Op::Singles { first, stride, n, len, pos, apart }),
            2 => (0u64..30_000, 0u32..100_000, 0u16..4064, 0u32..70_000, kind())
                .prop_map(|(address, pos, off, len, kind)| Op::One { address, slot: Slot { pos, len, off, kind } }),
            1 => (0u64..30_000).prop_map(Op::DropBelow),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The index answers like a map from address to slot, whatever the order of writes.
        #[test]
        fn answers_like_a_map(ops in proptest::collection::vec(op(), 1..40)) {
            let mut ix = Index::default();
            let mut model: BTreeMap<u64, Slot> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Flush { first, stride, n, len, pos } => {
                        let mut stream = 0u64;
                        for i in 0..n {
                            let a = first + i * stride;
                            let s = data(pos + (stream / PAGE_BODY_BYTES as u64) as u32, (stream % PAGE_BODY_BYTES as u64) as u16, len);
                            ix.set(a, s);
                            model.insert(a, s);
                            stream += RECORD_HEADER_BYTES as u64 + len as u64;
                        }
                    }
                    Op::Singles { first, stride, n, len, pos, apart } => {
                        for i in 0..n {
                            let (a, s) = (first + i * stride, data(pos + i as u32 * apart, 0, len));
                            ix.set(a, s);
                            model.insert(a, s);
                        }
                    }
                    Op::One { address, slot } => {
                        ix.set(address, slot);
                        if slot.kind == SlotKind::Empty { model.remove(&address); } else { model.insert(address, slot); }
                    }
                    Op::DropBelow(mark) => {
                        ix.drop_below(mark);
                        let keep = model.split_off(&((mark >> CHUNK_BITS) << CHUNK_BITS));
                        model = keep;
                    }
                }
                prop_assert_eq!(ix.len(), model.len() as u64);
            }
            for a in 0..50_000u64 {
                prop_assert_eq!(ix.get(a), model.get(&a).copied().unwrap_or_default(), "address {}", a);
            }
            prop_assert_eq!(ix.max_address(), model.keys().next_back().copied());
        }

        /// A checkpoint gives back exactly the index it was made of (every chunk in the
        /// same form, runs and dense slots alike), with its head and flush segments; a
        /// checkpoint with any one byte changed does not decode.
        #[test]
        fn a_checkpoint_round_trips_and_rejects_a_changed_byte(
            ops in proptest::collection::vec(op(), 1..40),
            segments in proptest::collection::vec((1u64..2000, 0u64..50_000), 0..30),
            flip in any::<proptest::sample::Index>(),
            bits in 1u8..=255,
        ) {
            use crate::checkpoint::{decode, encode, CheckpointHead};
            use crate::recovery::FlushMeta;
            let mut ix = Index::default();
            for op in ops {
                match op {
                    Op::Flush { first, stride, n, len, pos } => flush(&mut ix, (0..n).map(|i| first + i * stride), pos, len),
                    Op::Singles { first, stride, n, len, pos, apart } => {
                        for i in 0..n {
                            ix.set(first + i * stride, data(pos + i as u32 * apart, 0, len));
                        }
                    }
                    Op::One { address, slot } => ix.set(address, slot),
                    Op::DropBelow(mark) => ix.drop_below(mark),
                }
            }
            let mut at = 17u64;
            let segments: Vec<FlushMeta> = segments.into_iter().map(|(pages, max_addr)| {
                let f = FlushMeta { start_seq: at, pages, max_addr };
                at += pages;
                f
            }).collect();
            let tail = ix.max_address().map_or(0, |a| a + 1);
            let head = CheckpointHead { seq: at, format_id: 9, generation: 4, head_seq: 17, trim_mark: tail / 2, tail, last_generation: 3 };
            // Positions here run to 100,000 plus a flush: a circle of 2^32 pages holds them.
            let data_pages = 1u64 << 32;
            let bytes = encode(&head, segments.iter(), &ix);
            prop_assert_eq!(bytes.len(), crate::checkpoint::encoded_len(segments.len(), &ix));
            let back = decode(&bytes, data_pages).expect("decodes");
            prop_assert_eq!(&back.head, &head);
            prop_assert_eq!(&back.segments, &segments);
            prop_assert!(back.index == ix, "the index comes back chunk for chunk");
            prop_assert_eq!(back.index.len(), ix.len());
            let mut bad = bytes.clone();
            bad[flip.index(bytes.len())] ^= bits;
            prop_assert!(decode(&bad, data_pages).is_err(), "a changed byte decodes");
            prop_assert!(decode(&bytes[..bytes.len() - 1], data_pages).is_err(), "a short checkpoint decodes");
        }
    }
}
