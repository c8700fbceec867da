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
    ///
    /// # Safety
    /// Every buffer stays allocated and unchanged until `finish_writes` of the returned
    /// ticket has returned (or the device is dropped, which waits for them).
    unsafe fn start_writes(&mut self, writes: &[WriteOp<'_>]) -> io::Result<Ticket>;

    /// Waits for the writes of `ticket`, the oldest unfinished one, then, with `sync`, for
    /// a data sync issued after they completed.
    fn finish_writes(&mut self, ticket: Ticket, sync: bool) -> io::Result<()>;

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut reads = [ReadOp { offset, buf }];
        self.submit(Batch { reads: &mut reads, writes: &[], sync: false })
    }

    fn write_at(&mut self, offset: u64, buf: &[u8], sync: bool) -> io::Result<()> {
        self.submit(Batch { reads: &mut [], writes: &[WriteOp { offset, buf }], sync })
    }
}
