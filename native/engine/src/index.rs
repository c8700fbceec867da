//! Address -> location of its record. A radix of dense chunks: a unit's addresses are
//! dense or strided (the stripe), so a chunk of 4096 slots beats a hash map on memory
//! and makes rebuilding on open a store per record, not a hash insert.

use std::collections::BTreeMap;

pub const CHUNK_BITS: u32 = 12;
pub const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;

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

#[derive(Default)]
pub struct Index {
    chunks: BTreeMap<u64, Box<[Slot]>>,
    live: u64,
}

impl Index {
    pub fn get(&self, address: u64) -> Slot {
        self.chunks.get(&(address >> CHUNK_BITS)).map(|c| c[(address as usize) & (CHUNK_SLOTS - 1)]).unwrap_or_default()
    }

    pub fn set(&mut self, address: u64, slot: Slot) {
        let chunk = self.chunks.entry(address >> CHUNK_BITS).or_insert_with(|| vec![Slot::default(); CHUNK_SLOTS].into_boxed_slice());
        let cell = &mut chunk[(address as usize) & (CHUNK_SLOTS - 1)];
        match (cell.kind == SlotKind::Empty, slot.kind == SlotKind::Empty) {
            (true, false) => self.live += 1,
            (false, true) => self.live -= 1,
            _ => {}
        }
        *cell = slot;
    }

    /// Frees every chunk wholly below `mark`: those addresses are trimmed by the mark.
    pub fn drop_below(&mut self, mark: u64) {
        let keep = self.chunks.split_off(&(mark >> CHUNK_BITS));
        for chunk in self.chunks.values() {
            self.live -= chunk.iter().filter(|s| s.kind != SlotKind::Empty).count() as u64;
        }
        self.chunks = keep;
    }

    /// The highest address with a slot. Looks at the last chunks only: O(one chunk)
    /// unless whole chunks at the top hold nothing (they never do: a chunk is made for a
    /// slot and only freed whole).
    pub fn max_address(&self) -> Option<u64> {
        self.chunks
            .iter()
            .rev()
            .find_map(|(&c, chunk)| chunk.iter().rposition(|s| s.kind != SlotKind::Empty).map(|i| (c << CHUNK_BITS) + i as u64))
    }

    /// Addresses with any slot (data, junk or trimmed).
    pub fn len(&self) -> u64 {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn memory_bytes(&self) -> usize {
        self.chunks.len() * CHUNK_SLOTS * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
