//! Corfu's storage-unit engine: a write-once page store on a raw block device or file,
//! O_DIRECT through io_uring, with group commit, crash recovery and a circular data
//! region. No napi here: `cargo test` drives it directly.

pub mod aligned;
pub mod appender;
pub mod checkpoint;
pub mod device;
pub mod entry_codes;
pub mod epoll;
pub mod error;
pub mod flush;
pub mod front;
pub mod index;
pub mod layout;
pub mod load_window;
pub mod path;
pub mod read_load;
pub mod read_service;
pub mod reader;
pub mod recovery;
pub mod seq_front;
pub mod shared;
pub mod store;
pub mod summary;
pub mod token;
pub mod token_load;
pub mod unit_front;
pub mod write_load;

pub use entry_codes::{EntryKind, Written};
pub use error::{Code, EngineError, Result};
pub use store::{
    format, read_superblock, CheckpointTrigger, FormatOptions, ReadOutcome, Request, Response, RoundId, Stats, Store, SyncMode, WriteOutcome,
};
pub use token::TokenCounter;
