//! What the store's writer shares with readers on other threads: the index of durable
//! records and the durable epoch and trim mark. The writer publishes each only after it
//! is on the device, so a reader never serves anything a crash could take back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Code, EngineError};
use crate::index::{Index, SlotKind};
use crate::reader::{Geometry, RecordReads};
use crate::store::{KIND_DATA, KIND_JUNK};

/// The most payload bytes one READ may answer: the wire's frame cap (16 MiB + 64 KiB)
/// less room for the per-entry fields. Larger asks are ERR_TOO_LARGE, refused before
/// any buffer is allocated for them.
pub const MAX_READ_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

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

    pub fn plan_read(&self, trim_mark: u64, addresses: &[u64], reads: &mut RecordReads) -> Result<ReadPlan, EngineError> {
        let index = self.index();
        // The answer's payload bytes, checked before anything is allocated for them: a
        // READ naming one large entry 65,536 times must not make the unit build 64 GiB.
        let mut payload_bytes: u64 = 0;
        for &address in addresses {
            if address >= trim_mark {
                let slot = index.get(address);
                if slot.kind == SlotKind::Data {
                    payload_bytes += u64::from(slot.len);
                }
            }
        }
        if payload_bytes > MAX_READ_PAYLOAD_BYTES {
            return Err(EngineError::TooLarge(format!(
                "a READ of {} entries would answer {payload_bytes} bytes, above {MAX_READ_PAYLOAD_BYTES}; ask for fewer entries",
                addresses.len()
            )));
        }
        let mut plan = ReadPlan { status: vec![Code::Ok as u8; addresses.len()], kinds: vec![0; addresses.len()], jobs: Vec::new() };
        for (i, &address) in addresses.iter().enumerate() {
            let slot = if address < trim_mark { None } else { Some(index.get(address)) };
            match slot.map(|s| s.kind) {
                None | Some(SlotKind::Trimmed) => plan.status[i] = Code::Trimmed as u8,
                Some(SlotKind::Empty) => plan.status[i] = Code::Unwritten as u8,
                Some(SlotKind::Junk) => plan.kinds[i] = KIND_JUNK,
                Some(SlotKind::Data) => {
                    plan.kinds[i] = KIND_DATA;
                    plan.jobs.push((i, reads.add(&self.geo, address, slot.unwrap())));
                }
            }
        }
        Ok(plan)
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
