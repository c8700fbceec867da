//! What the store's writer shares with readers on other threads: the index of durable
//! records and the durable epoch and trim mark. The writer publishes each only after it
//! is on the device, so a reader never serves anything a crash could take back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::entry_codes::EntryKind;
use crate::error::Code;
use crate::index::{Index, SlotKind};
use crate::reader::{Geometry, RecordReads};

/// The wire's cap on a whole frame, length field included (src/wire/frame.ts
/// `MAX_FRAME_BYTES`; the addon's `engineLimits()` lets a test check they agree).
pub const WIRE_MAX_FRAME_BYTES: u64 = 16 * 1024 * 1024 + 64 * 1024;
/// The most bytes one READ's answer may hold: the wire's frame cap less 64 bytes for the
/// frame header and the answer's status and count.
pub const MAX_READ_ANSWER_BYTES: u64 = WIRE_MAX_FRAME_BYTES - 64;
/// What every entry named costs the answer besides its payload: status, kind, length.
pub const READ_ANSWER_ENTRY_BYTES: u64 = 6;

/// The payload bytes a READ of `entries` addresses may answer: its entries' own fields
/// come off the top, so the answer fits one frame whatever the count (at least 15.6 MiB
/// for the wire's 65,536 entries: an entry, at most 1 MiB, always fits).
pub fn read_payload_budget(entries: usize) -> u64 {
    MAX_READ_ANSWER_BYTES.saturating_sub(READ_ANSWER_ENTRY_BYTES.saturating_mul(entries as u64))
}

pub struct Shared {
    index: RwLock<Index>,
    epoch: AtomicU64,
    trim_mark: AtomicU64,
    pub geo: Geometry,
}

/// A read request planned against the index: statuses known now, and the record reads
/// (job numbers into a `RecordReads`) whose bytes decide the rest.
pub struct ReadPlan {
    pub status: Vec<u8>,
    pub kinds: Vec<u8>,
    pub jobs: Vec<(usize, usize)>,
}

impl Shared {
    pub fn new(index: Index, epoch: u64, trim_mark: u64, geo: Geometry) -> Self {
        Shared { index: RwLock::new(index), epoch: AtomicU64::new(epoch), trim_mark: AtomicU64::new(trim_mark), geo }
    }

    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().expect("index lock")
    }

    pub fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().expect("index lock")
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn trim_mark(&self) -> u64 {
        self.trim_mark.load(Ordering::Acquire)
    }

    /// Called by the writer once the superblock holding these values is durable.
    pub fn publish(&self, epoch: u64, trim_mark: u64) {
        self.epoch.store(epoch, Ordering::Release);
        self.trim_mark.store(trim_mark, Ordering::Release);
    }

    /// Plans a READ in entry order while its payload fits `read_payload_budget`: the
    /// first entry that would take it over, and every entry after it, are answered
    /// ERR_OVERLOADED ("not served in this answer, ask again"), so one large entry never
    /// fails its neighbours and the reader re-asks for the rest. The first data entry is
    /// always served, so every READ makes progress. Lengths come from the index before
    /// any buffer is allocated: a READ naming one large entry 65,536 times costs the unit
    /// one budget, not 64 GiB.
    pub fn plan_read(&self, trim_mark: u64, addresses: &[u64], reads: &mut RecordReads) -> ReadPlan {
        let index = self.index();
        let budget = read_payload_budget(addresses.len());
        let mut payload_bytes: u64 = 0;
        let mut plan =
            ReadPlan { status: vec![Code::Ok as u8; addresses.len()], kinds: vec![EntryKind::None as u8; addresses.len()], jobs: Vec::new() };
        for (i, &address) in addresses.iter().enumerate() {
            let slot = if address < trim_mark { None } else { Some(index.get(address)) };
            match slot.map(|s| s.kind) {
                None | Some(SlotKind::Trimmed) => plan.status[i] = Code::Trimmed as u8,
                Some(SlotKind::Empty) => plan.status[i] = Code::Unwritten as u8,
                Some(SlotKind::Junk) => plan.kinds[i] = EntryKind::Junk as u8,
                Some(SlotKind::Data) => {
                    let slot = slot.unwrap();
                    let len = u64::from(slot.len);
                    if !plan.jobs.is_empty() && payload_bytes + len > budget {
                        plan.status[i..].fill(Code::Overloaded as u8);
                        plan.kinds[i..].fill(EntryKind::None as u8);
                        break;
                    }
                    payload_bytes += len;
                    plan.kinds[i] = EntryKind::Data as u8;
                    plan.jobs.push((i, reads.add(&self.geo, address, slot)));
                }
            }
        }
        plan
    }

    /// Turns a plan whose reads completed into the answer. A record that no longer
    /// verifies was trimmed and its page reused while we read it — or it is damaged.
    pub fn finish_read(&self, plan: ReadPlan, addresses: &[u64], reads: &RecordReads) -> crate::store::ReadOutcome {
        let ReadPlan { mut status, kinds, jobs } = plan;
        let mut lengths = vec![0u32; status.len()];
        let mut data = Vec::new();
        for (entry, job) in jobs {
            let before = data.len();
            match reads.payload_into(&self.geo, job, &mut data) {
                true => lengths[entry] = (data.len() - before) as u32,
                false if addresses[entry] < self.trim_mark() || self.index().get(addresses[entry]).kind == SlotKind::Trimmed => {
                    status[entry] = Code::Trimmed as u8
                }
                false => status[entry] = Code::Corrupt as u8,
            }
        }
        crate::store::ReadOutcome { status, kinds, lengths, data }
    }
}
