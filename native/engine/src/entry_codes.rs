//! The two per-entry detail bytes that ride beside a status byte (error.rs): `written`
//! in a WRITE or FILL answer, `kind` in a READ answer. Like the error table, each is one
//! `#[repr(u8)]` enum here, the same byte on the wire (docs/protocol.md) and in the
//! addon's answers, and one TypeScript table (bindings/entry-codes.ts); the addon exports
//! these (`writtenCodes()`, `kindCodes()`) and test/errors.test.ts checks the TypeScript
//! tables against them.

/// What an address already held when a write or fill was refused with `ERR_WRITTEN`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Not applicable: the entry's status is not `ERR_WRITTEN`.
    Na = 0,
    /// The same bytes (a resent write).
    Same = 1,
    /// Other data, or data where a fill wanted junk.
    Different = 2,
    /// Junk (a filled hole).
    Junk = 3,
}

impl Written {
    pub const ALL: [Written; 4] = [Written::Na, Written::Same, Written::Different, Written::Junk];

    pub fn name(self) -> &'static str {
        match self {
            Written::Na => "NA",
            Written::Same => "SAME",
            Written::Different => "DIFFERENT",
            Written::Junk => "JUNK",
        }
    }
}

/// What a READ found at an address whose status is OK.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// The entry's status is not OK: nothing was read.
    None = 0,
    Data = 1,
    Junk = 2,
}

impl EntryKind {
    pub const ALL: [EntryKind; 3] = [EntryKind::None, EntryKind::Data, EntryKind::Junk];

    pub fn name(self) -> &'static str {
        match self {
            EntryKind::None => "NONE",
            EntryKind::Data => "DATA",
            EntryKind::Junk => "JUNK",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_indexed_by_their_byte() {
        for (i, w) in Written::ALL.iter().enumerate() {
            assert_eq!(*w as usize, i, "{}", w.name());
        }
        for (i, k) in EntryKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{}", k.name());
        }
    }
}
