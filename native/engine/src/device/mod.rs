//! Where pages go. The store sees only this trait: io_uring on a real device, or the
//! simulated device that can lose power at a chosen write (the crash tests).

pub mod open;
pub mod sim;
pub mod uring;

use std::io;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    File,
    Block,
    Simulated,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::File => "file",
            DeviceKind::Block => "block",
            DeviceKind::Simulated => "simulated",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct DeviceInfo {
    pub size_bytes: u64,
    /// O_DIRECT alignment for offsets, lengths and memory.
    pub logical_block_bytes: u32,
    pub kind: DeviceKind,
}

pub struct ReadOp<'a> {
    pub offset: u64,
    pub buf: &'a mut [u8],
}

pub struct WriteOp<'a> {
    pub offset: u64,
    pub buf: &'a [u8],
}

/// One submission: every read and write runs concurrently; when `sync` is set, a
/// data sync follows all the writes and the call returns only after it completes.
pub struct Batch<'r, 'w, 'b> {
    pub reads: &'b mut [ReadOp<'r>],
    pub writes: &'b [WriteOp<'w>],
    pub sync: bool,
}

/// Writes started by `Device::start_writes`, to finish with `Device::finish_writes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(pub u64);

pub trait Device: Send {
    fn info(&self) -> DeviceInfo;
    /// Runs a batch to completion. No started writes may be unfinished (the store
    /// finishes them first): their completions would mix with the batch's.
    fn submit(&mut self, batch: Batch<'_, '_, '_>) -> io::Result<()>;

    /// Starts `writes` and returns without waiting, so that the next round's flush can
    /// reach the device while this one is there. Tickets finish in the order started.
    /// With `sync`, `finish_writes` returns only once these writes are durable, together
    /// with every write that completed before this call (what a data sync after them
    /// would give; `SyncCover` says when the writes' own durability is enough).
    ///
    /// # Safety
    /// Every buffer stays allocated and unchanged until `finish_writes` of the returned
    /// ticket has returned (or the device is dropped, which waits for them).
    unsafe fn start_writes(&mut self, writes: &[WriteOp<'_>], sync: bool) -> io::Result<Ticket>;

    /// Waits for the writes of `ticket`, the oldest unfinished one (and, if it was started
    /// with `sync`, for them to be durable).
    fn finish_writes(&mut self, ticket: Ticket) -> io::Result<()>;

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut reads = [ReadOp { offset, buf }];
        self.submit(Batch { reads: &mut reads, writes: &[], sync: false })
    }

    fn write_at(&mut self, offset: u64, buf: &[u8], sync: bool) -> io::Result<()> {
        self.submit(Batch { reads: &mut [], writes: &[WriteOp { offset, buf }], sync })
    }
}

/// When a synced flush may be made durable by its own writes alone (written with
/// RWF_DSYNC: each write is durable when it completes, the sync folded into the write)
/// instead of a data sync of the whole file after them. A data sync also covers every
/// write that completed before it, and callers rely on that after unsynced writes (the
/// parts of an index checkpoint, the flushes of a store with sync "none"), so a flush
/// syncs only itself while no unsynced write is outstanding.
#[derive(Debug, Default)]
pub struct SyncCover {
    /// Some write completed or was started without a sync after it.
    unsynced: bool,
    /// Started tickets without sync, not finished yet.
    unsynced_started: usize,
}

impl SyncCover {
    /// A ticket is being started; true if, with `sync`, its own writes may be its sync.
    pub fn start(&mut self, sync: bool) -> bool {
        if !sync {
            self.unsynced = true;
            self.unsynced_started += 1;
            return false;
        }
        !self.unsynced
    }

    /// A ticket started with `sync` and `own` (what `start` said) finished.
    pub fn finish(&mut self, sync: bool, own: bool) {
        if !sync {
            self.unsynced_started -= 1;
        } else if !own {
            self.synced_all();
        }
    }

    /// A synchronous batch wrote something, with or without a data sync after it.
    pub fn submitted(&mut self, sync: bool) {
        if sync {
            self.synced_all();
        } else {
            self.unsynced = true;
        }
    }

    /// A data sync ran: it covers every completed write, not those of unsynced tickets
    /// still at the device.
    fn synced_all(&mut self) {
        self.unsynced = self.unsynced_started > 0;
    }
}
