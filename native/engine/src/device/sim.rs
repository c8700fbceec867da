//! A simulated device for crash testing. Writes land in a volatile cache; a data sync
//! makes them all durable, and a started flush synced by its own writes (RWF_DSYNC on a
//! real device, as `SyncCover` decides) makes only its own durable. At a chosen write
//! the power goes out: that write and every later call fail, and the cache is lost —
//! either entirely, or (torn mode) sector by sector at random, which is what a real disk
//! may leave behind. A chosen write may instead fail with EIO, the power staying on (a
//! started one reports it when finished).

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use super::{Batch, Device, DeviceInfo, DeviceKind, SyncCover, Ticket, WriteOp};

pub const SECTOR_BYTES: usize = 512;

/// SplitMix64: small, seeded, good enough to pick torn sectors.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossMode {
    /// Everything not synced is gone.
    DropUnsynced,
    /// Each unsynced sector independently survives or not.
    TornSectors,
}

pub struct SimState {
    pub durable: Vec<u8>,
    /// Unsynced writes: (offset, bytes, the ticket whose own writes are its sync, or 0).
    cache: Vec<(u64, Vec<u8>, u64)>,
    writes_until_power_loss: Option<u64>,
    pub powered: bool,
    pub mode: LossMode,
    rng: SplitMix64,
    pub writes: u64,
    pub syncs: u64,
    /// Synced flushes made durable by their own writes (RWF_DSYNC), without a data sync.
    pub own_syncs: u64,
    /// Bytes read since the device was made (the recovery scan's cost, for its tests).
    pub read_bytes: u64,
    /// Device bytes whose reads fail with an I/O error (a bad sector), if any.
    pub failing_reads: Option<std::ops::Range<u64>>,
    /// The write the power went out in (offset, bytes), kept for tests to tell what a cut hit.
    pub cut_write: Option<(u64, Vec<u8>)>,
    /// Writes from now until one fails with an I/O error (that write is lost, the power
    /// stays on; a started one reports it when finished), if armed.
    pub writes_until_write_error: Option<u64>,
    /// The most started writes unfinished at once since the device was made or restarted
    /// (tests check that rounds did overlap).
    pub most_started: u64,
    next_ticket: u64,
}

impl SimState {
    fn lose_power(&mut self) {
        let cache = std::mem::take(&mut self.cache);
        if self.mode == LossMode::TornSectors {
            for (offset, data, _) in cache {
                for (i, sector) in data.chunks(SECTOR_BYTES).enumerate() {
                    if self.rng.below(2) == 0 {
                        let at = offset as usize + i * SECTOR_BYTES;
                        self.durable[at..at + sector.len()].copy_from_slice(sector);
                    }
                }
            }
        }
        self.powered = false;
    }
}

/// A handle the test keeps to arm a power cut and to restart the device. A clone shares
/// the device; started writes are kept per handle (the store's).
pub struct SimDevice {
    pub state: Arc<Mutex<SimState>>,
    size_bytes: u64,
    /// Started tickets not finished yet, oldest first.
    started: VecDeque<StartedTicket>,
    cover: SyncCover,
}

struct StartedTicket {
    ticket: u64,
    sync: bool,
    /// Synced by its own writes, as `SyncCover` decided.
    own_sync: bool,
    /// One of its writes failed (`writes_until_write_error`): finishing it reports that.
    failed: bool,
}

impl Clone for SimDevice {
    fn clone(&self) -> Self {
        SimDevice { state: self.state.clone(), size_bytes: self.size_bytes, started: VecDeque::new(), cover: SyncCover::default() }
    }
}

impl SimDevice {
    pub fn new(size_bytes: u64, seed: u64) -> Self {
        SimDevice {
            state: Arc::new(Mutex::new(SimState {
                durable: vec![0; size_bytes as usize],
                cache: Vec::new(),
                writes_until_power_loss: None,
                powered: true,
                mode: LossMode::DropUnsynced,
                rng: SplitMix64(seed),
                writes: 0,
                syncs: 0,
                own_syncs: 0,
                read_bytes: 0,
                failing_reads: None,
                cut_write: None,
                writes_until_write_error: None,
                most_started: 0,
                next_ticket: 0,
            })),
            size_bytes,
            started: VecDeque::new(),
            cover: SyncCover::default(),
        }
    }

    /// The power goes out at the `n`th write from now (0: the next one).
    pub fn arm_power_loss(&self, n: u64, mode: LossMode) {
        let mut s = self.state.lock().unwrap();
        s.writes_until_power_loss = Some(n);
        s.mode = mode;
    }

    /// The `n`th write from now (0: the next one) fails with an I/O error and is lost.
    pub fn arm_write_error(&self, n: u64) {
        self.state.lock().unwrap().writes_until_write_error = Some(n);
    }

    /// Power back on: the device holds exactly what was durable.
    pub fn restart(&self) {
        let mut s = self.state.lock().unwrap();
        s.cache.clear();
        s.cut_write = None;
        s.most_started = 0;
        s.writes_until_power_loss = None;
        s.powered = true;
    }

    pub fn powered(&self) -> bool {
        self.state.lock().unwrap().powered
    }
}

fn power_off() -> io::Error {
    io::Error::other("simulated power loss")
}

fn write_error() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

impl Device for SimDevice {
    fn info(&self) -> DeviceInfo {
        DeviceInfo { size_bytes: self.size_bytes, logical_block_bytes: SECTOR_BYTES as u32, kind: DeviceKind::Simulated }
    }

    fn submit(&mut self, batch: Batch<'_, '_, '_>) -> io::Result<()> {
        assert!(self.started.is_empty(), "a synchronous batch while started writes are unfinished");
        let mut s = self.state.lock().unwrap();
        if !s.powered {
            return Err(power_off());
        }
        if s.write_all(batch.writes, self.size_bytes, 0)? {
            return Err(write_error());
        }
        for r in batch.reads.iter_mut() {
            assert!(r.offset % SECTOR_BYTES as u64 == 0 && r.buf.len() % SECTOR_BYTES == 0, "unaligned read");
            if let Some(bad) = &s.failing_reads {
                if r.offset < bad.end && bad.start < r.offset + r.buf.len() as u64 {
                    return Err(io::Error::other("simulated read error"));
                }
            }
            let (lo, hi) = (r.offset as usize, r.offset as usize + r.buf.len());
            assert!(hi as u64 <= self.size_bytes, "read past the device");
            r.buf.copy_from_slice(&s.durable[lo..hi]);
            s.read_bytes += r.buf.len() as u64;
            for (off, data, _) in &s.cache {
                let (wlo, whi) = (*off as usize, *off as usize + data.len());
                let (a, b) = (lo.max(wlo), hi.min(whi));
                if a < b {
                    r.buf[a - lo..b - lo].copy_from_slice(&data[a - wlo..b - wlo]);
                }
            }
        }
        if !batch.writes.is_empty() {
            if batch.sync {
                s.sync();
            }
            self.cover.submitted(batch.sync);
        }
        Ok(())
    }

    /// A started write lands in the cache at once, as a real one may reach the disk's
    /// cache before its completion: a power cut while two rounds' flushes are started
    /// keeps any of their sectors (torn mode) or none.
    unsafe fn start_writes(&mut self, writes: &[WriteOp<'_>], sync: bool) -> io::Result<Ticket> {
        let mut s = self.state.lock().unwrap();
        if !s.powered {
            return Err(power_off());
        }
        let ticket = s.next_ticket + 1;
        let own_sync = self.cover.start(sync);
        let failed = s.write_all(writes, self.size_bytes, if own_sync { ticket } else { 0 })?;
        self.started.push_back(StartedTicket { ticket, sync, own_sync, failed });
        s.most_started = s.most_started.max(self.started.len() as u64);
        s.next_ticket = ticket;
        Ok(Ticket(ticket))
    }

    fn finish_writes(&mut self, ticket: Ticket) -> io::Result<()> {
        let StartedTicket { ticket: oldest, sync, own_sync, failed } = self.started.pop_front().expect("finishing writes that were not started");
        assert_eq!(oldest, ticket.0, "started writes finish in the order started");
        let mut s = self.state.lock().unwrap();
        if !s.powered {
            return Err(power_off());
        }
        if failed {
            return Err(write_error());
        }
        if own_sync {
            s.sync_own(ticket.0);
        } else if sync {
            s.sync();
        }
        self.cover.finish(sync, own_sync);
        Ok(())
    }
}

impl SimState {
    /// Puts `writes` in the cache, or loses power at the armed one. True if one of them
    /// failed with an I/O error (the armed one: not written).
    /// `own`: the started ticket whose sync these writes are themselves (RWF_DSYNC), or 0.
    fn write_all(&mut self, writes: &[WriteOp<'_>], size_bytes: u64, own: u64) -> io::Result<bool> {
        let mut failed = false;
        for w in writes {
            assert!(w.offset % SECTOR_BYTES as u64 == 0 && w.buf.len() % SECTOR_BYTES == 0, "unaligned write");
            assert!(w.offset + w.buf.len() as u64 <= size_bytes, "write past the device");
            if let Some(n) = self.writes_until_power_loss {
                if n == 0 {
                    // The write in progress may itself be partly on the platter.
                    self.cache.push((w.offset, w.buf.to_vec(), own));
                    self.cut_write = Some((w.offset, w.buf.to_vec()));
                    self.lose_power();
                    return Err(power_off());
                }
                self.writes_until_power_loss = Some(n - 1);
            }
            match self.writes_until_write_error {
                Some(0) => {
                    self.writes_until_write_error = None;
                    failed = true;
                    continue;
                }
                Some(n) => self.writes_until_write_error = Some(n - 1),
                None => {}
            }
            self.writes += 1;
            self.cache.push((w.offset, w.buf.to_vec(), own));
        }
        Ok(failed)
    }

    /// A data sync: every write in the cache becomes durable.
    fn sync(&mut self) {
        self.make_durable(|_| true);
        self.syncs += 1;
    }

    /// The writes of a ticket written with RWF_DSYNC become durable, and nothing else.
    fn sync_own(&mut self, ticket: u64) {
        self.make_durable(|own| own == ticket);
        self.own_syncs += 1;
    }

    /// Moves the cached writes whose `own` ticket passes `which` to the durable bytes.
    fn make_durable(&mut self, which: impl Fn(u64) -> bool) {
        let cache = std::mem::take(&mut self.cache);
        for (off, data, own) in cache {
            if which(own) {
                self.durable[off as usize..off as usize + data.len()].copy_from_slice(&data);
            } else {
                self.cache.push((off, data, own));
            }
        }
    }
}
