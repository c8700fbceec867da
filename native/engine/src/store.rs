//! The write-once page store. Work arrives in rounds: a round takes every request that
//! queued up while the previous one was on the device, stages all writes into one
//! flush, submits that flush and all reads in one batch, syncs once (group commit), and
//! only then answers. No answer leaves a round before everything it depends on is durable.
//!
//! Two rounds may be at the device at once (`begin`, then `finish`): a round of plain
//! writes, fills and trims starts its flush and returns, so the next round's flush is
//! written while this one's completes; its answers wait for its own flush (and sync).
//! Rounds are answered in order.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Instant;

use crate::aligned::AlignedBuf;
use crate::checkpoint::{self, CheckpointHead, PART_BYTES};
use crate::device::{Batch, Device, ReadOp, Ticket, WriteOp};
use crate::entry_codes::Written;
use crate::error::{Code, EngineError, Result};
use crate::flush::FlushBuilder;
use crate::index::{Slot, SlotKind};
use crate::layout::{
    pick_superblock, RecordHeader, RecordKind, Superblock, DATA_START_BYTES, FORMAT_VERSION, MAX_MAX_ENTRY_BYTES, MIN_DEVICE_BYTES,
    PAGE_BODY_BYTES, PAGE_BYTES, SUPERBLOCK_BYTES,
};
use crate::reader::{Geometry, RecordReads};
use crate::recovery::{recover, FlushList, FlushMeta};
use crate::shared::{ReadPlan, Shared};
use crate::summary::{Summary, SummaryEntry, SummaryPtr, TRIGGER_ENTRIES, TRIGGER_PAGES};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// An acknowledged write is on stable storage (its round's flush written with
    /// RWF_DSYNC, or an fdatasync after it: see `device::SyncCover`).
    Always,
    /// Benchmarks only: acknowledged writes may be lost on power failure.
    None,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            SyncMode::Always => "always",
            SyncMode::None => "none",
        }
    }
}

/// The highest address a write, fill or trim may name. The unit's tail (the address after
/// the highest one written or trimmed) is answered to JavaScript as a number, exact only
/// up to 2^53 - 1, so the address before that is the last one. A higher address is
/// refused with the whole request (`ERR_BAD_REQUEST`), before anything is staged: once
/// written, it would make every later TAIL and SEAL unanswerable.
pub const MAX_ADDRESS: u64 = (1 << 53) - 2;

pub enum Request<P> {
    Write { epoch: u64, addresses: Vec<u64>, lengths: Vec<u32>, data: P },
    Fill { epoch: u64, addresses: Vec<u64> },
    Read { epoch: u64, addresses: Vec<u64> },
    Trim { epoch: u64, addresses: Vec<u64> },
    PrefixTrim { epoch: u64, address: u64 },
    Seal { epoch: u64 },
    Tail { epoch: u64 },
    Stats,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    pub status: Vec<u8>,
    pub written: Vec<u8>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    pub status: Vec<u8>,
    pub kinds: Vec<u8>,
    pub lengths: Vec<u32>,
    /// Payloads of the OK data entries, concatenated in request order.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub epoch: u64,
    pub trim_mark: u64,
    pub tail: u64,
    pub generation: u64,
    pub head_seq: u64,
    pub next_seq: u64,
    pub data_pages: u64,
    pub used_pages: u64,
    pub free_pages: u64,
    pub addresses: u64,
    pub index_bytes: u64,
    pub flushes: u64,
    pub pages_written: u64,
    pub entries_written: u64,
    pub payload_bytes_written: u64,
    pub rounds: u64,
    pub recovery_pages: u64,
    pub recovery_summaries: u64,
    pub recovery_micros: u64,
    /// Bytes of the index checkpoint the last open loaded (0: it walked the summaries).
    pub recovery_checkpoint_bytes: u64,
    /// The newest durable index checkpoint: the page it starts at (`u64::MAX`: none),
    /// its encoded bytes and the pages its flushes take on the device.
    pub checkpoint_seq: u64,
    pub checkpoint_bytes: u64,
    pub checkpoint_pages: u64,
    /// Checkpoints this store wrote since it opened.
    pub checkpoints_written: u64,
    pub sync_always: bool,
}

/// When the store writes an index checkpoint (`checkpoint.rs`) besides at a clean close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointTrigger {
    /// Where an index summary falls due (every 32 Ki records or 16 Ki pages), a checkpoint
    /// instead once the summaries since the last checkpoint, the due one included, hold
    /// at least as many bytes as a checkpoint would now: a reopen then reads at most
    /// about twice a checkpoint's bytes besides the unsummarised tail, and checkpoints
    /// cost at most the device space and writes of the summaries they replace. With a
    /// run-compressed index a checkpoint is far smaller than one summary, so every due
    /// summary becomes a checkpoint.
    Auto,
    /// Tests: after every `n` flushes since the last checkpoint, whatever its size.
    EveryFlushes(u64),
    /// Tests: only at a clean close (`Store::close`), so the summary chain is exercised.
    OnCloseOnly,
}

#[derive(Debug)]
pub enum Response {
    Write(Result<WriteOutcome>),
    Read(Result<ReadOutcome>),
    Trim(Result<Vec<u8>>),
    PrefixTrim(Result<()>),
    Seal(Result<u64>),
    Tail(Result<u64>),
    Stats(Stats),
}

impl Response {
    fn failed(kind: &Request<impl AsRef<[u8]>>, e: impl Fn() -> EngineError) -> Response {
        match kind {
            Request::Write { .. } | Request::Fill { .. } => Response::Write(Err(e())),
            Request::Read { .. } => Response::Read(Err(e())),
            Request::Trim { .. } => Response::Trim(Err(e())),
            Request::PrefixTrim { .. } => Response::PrefixTrim(Err(e())),
            Request::Seal { .. } => Response::Seal(Err(e())),
            Request::Tail { .. } => Response::Tail(Err(e())),
            Request::Stats => Response::Stats(Stats::default()),
        }
    }
}

/// Multiplicative hashing for addresses: they are integers, SipHash is wasted on them.
#[derive(Default)]
pub struct AddressHasher(u64);
impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Clone, Copy)]
struct Staged {
    slot: Slot,
    stream_off: usize,
    /// The first page of the flush that holds it: the open one or a started one.
    flush_seq: u64,
}

/// Flushes started and not yet finished at most: two rounds at the device at once.
pub const MAX_STARTED_FLUSHES: usize = 2;

/// A round begun by `Store::begin`; `Store::finish` gives its answers.
#[must_use = "a begun round is answered by finish"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundId(u64);

/// A flush at the device whose round waits for it. Its pages are claimed (`next_seq` is
/// past them) but not booked: its records are still in `pending`, not in the index, and
/// it is not yet a live flush.
struct StartedFlush {
    flush: FlushBuilder,
    ticket: Ticket,
    /// The addresses it holds, in its order (see `Store::pending_order`).
    order: Vec<u64>,
    round: u64,
    planned: Vec<Planned>,
}

/// What a request still needs after the round's I/O.
enum Planned {
    Done(Response),
    Read(ReadPlan),
    Write { outcome: WriteOutcome, compares: Vec<Compare> },
}

impl Planned {
    /// The failure of the request this plan answers, in its kind of response.
    fn failed(&self, e: impl Fn() -> EngineError) -> Response {
        match self {
            Planned::Write { .. } => Response::Write(Err(e())),
            Planned::Read(_) => Response::Read(Err(e())),
            Planned::Done(Response::Write(_)) => Response::Write(Err(e())),
            Planned::Done(Response::Read(_)) => Response::Read(Err(e())),
            Planned::Done(Response::Trim(_)) => Response::Trim(Err(e())),
            Planned::Done(Response::PrefixTrim(_)) => Response::PrefixTrim(Err(e())),
            Planned::Done(Response::Seal(_)) => Response::Seal(Err(e())),
            Planned::Done(Response::Tail(_)) => Response::Tail(Err(e())),
            Planned::Done(Response::Stats(_)) => Response::Stats(Stats::default()),
        }
    }
}

struct Compare {
    entry: usize,
    job: usize,
    payload_at: usize,
    len: usize,
}

pub struct FormatOptions {
    pub max_entry_bytes: u32,
    pub cluster_id: [u8; 16],
    pub unit_id: u64,
    pub force: bool,
    /// Random per format; see `Superblock::format_id`.
    pub format_id: u64,
    pub created_unix_ms: u64,
}

pub fn read_superblock<D: Device>(dev: &mut D) -> Result<Option<Superblock>> {
    let mut buf = AlignedBuf::zeroed(2 * SUPERBLOCK_BYTES);
    dev.read_at(0, &mut buf).map_err(|e| EngineError::io("cannot read the superblock", e))?;
    pick_superblock(&buf[..SUPERBLOCK_BYTES], &buf[SUPERBLOCK_BYTES..])
}

fn write_superblock<D: Device>(dev: &mut D, sb: &Superblock) -> std::io::Result<()> {
    let mut buf = AlignedBuf::zeroed(SUPERBLOCK_BYTES);
    buf.copy_from_slice(&sb.encode());
    dev.write_at(Superblock::slot_offset(sb.seq), &buf, true)
}

/// ERR_ALREADY_FORMATTED if the device holds a Corfu superblock (valid or damaged).
pub fn refuse_formatted<D: Device>(dev: &mut D) -> Result<()> {
    match read_superblock(dev) {
        Ok(None) => Ok(()),
        Ok(Some(sb)) => Err(EngineError::AlreadyFormatted(format!(
            "the device already holds a Corfu unit (cluster {}, unit {}, epoch {}); pass --force to erase it",
            sb.cluster_id_hex(),
            sb.unit_id,
            sb.epoch
        ))),
        // An I/O error is not a damaged superblock: say what it is rather than offer --force.
        Err(e @ EngineError::Io { .. }) => Err(e),
        Err(_) => Err(EngineError::AlreadyFormatted("the device holds a damaged Corfu superblock; pass --force to erase it".into())),
    }
}

pub fn format<D: Device>(dev: &mut D, opts: &FormatOptions) -> Result<Superblock> {
    let info = dev.info();
    if info.size_bytes < MIN_DEVICE_BYTES {
        return Err(EngineError::DeviceTooSmall(format!(
            "the device has {} bytes; a unit needs at least {MIN_DEVICE_BYTES} (64 KiB of metadata and 1 MiB of pages)",
            info.size_bytes
        )));
    }
    if opts.max_entry_bytes == 0 || opts.max_entry_bytes > MAX_MAX_ENTRY_BYTES {
        return Err(EngineError::BadRequest(format!(
            "max entry size must be between 1 and {MAX_MAX_ENTRY_BYTES} bytes, got {}",
            opts.max_entry_bytes
        )));
    }
    if !opts.force {
        refuse_formatted(dev)?;
    }
    let data_pages = (info.size_bytes - DATA_START_BYTES) / PAGE_BYTES as u64;
    if data_pages > u32::MAX as u64 {
        return Err(EngineError::BadRequest("devices above 16 TiB are not supported; pass a smaller --size".into()));
    }
    let mut sb = Superblock {
        format_version: FORMAT_VERSION,
        seq: 0,
        cluster_id: opts.cluster_id,
        unit_id: opts.unit_id,
        epoch: 0,
        trim_mark: 0,
        head_seq: 0,
        generation: 0,
        page_bytes: PAGE_BYTES as u32,
        logical_block_bytes: info.logical_block_bytes,
        device_bytes: info.size_bytes,
        data_start: DATA_START_BYTES,
        data_pages,
        max_entry_bytes: opts.max_entry_bytes,
        format_id: opts.format_id,
        created_unix_ms: opts.created_unix_ms,
        summary_seq: u64::MAX,
        summary_off: 0,
        summary_len: 0,
        ckpt_seq: u64::MAX,
        ckpt_bytes: 0,
        ckpt_pages: 0,
    };
    for seq in 0..2 {
        sb.seq = seq;
        write_superblock(dev, &sb).map_err(|e| EngineError::io("cannot write the superblock", e))?;
    }
    Ok(sb)
}

pub struct Store<D: Device> {
    /// First, so that it drops first: a device waits for its started writes when
    /// dropped, and their buffers are the started flushes' below.
    dev: D,
    /// The superblock as it will next be written: epoch, trim mark and head move here
    /// first and reach the device before the round that moved them answers.
    sb: Superblock,
    sb_dirty: bool,
    sync: SyncMode,
    geo: Geometry,
    /// The durable index, epoch and trim mark, shared with reader threads.
    shared: Arc<Shared>,
    pending: HashMap<u64, Staged, BuildHasherDefault<AddressHasher>>,
    /// The staged addresses in the flush's order: the index keeps back-to-back records of
    /// ascending addresses as one run (index.rs), which the map's order would break.
    pending_order: Vec<u64>,
    flush: FlushBuilder,
    next_seq: u64,
    flushes: FlushList,
    tail: u64,
    failed: bool,
    stats: Stats,
    /// Records and flushes committed since the last index summary.
    since_entries: Vec<SummaryEntry>,
    since_flushes: Vec<FlushMeta>,
    cover_from: u64,
    last_flush_generation: u64,
    /// A summary staged in `flush`: the superblock points at it once that flush is synced.
    staged_summary: Option<SummaryPtr>,
    checkpoint_trigger: CheckpointTrigger,
    /// Encoded bytes of the summaries written since the newest checkpoint, and flushes
    /// since it: what the trigger weighs.
    summary_bytes_since_checkpoint: u64,
    flushes_since_checkpoint: u64,
    /// Flushes at the device, oldest first (at most `MAX_STARTED_FLUSHES`).
    started: VecDeque<StartedFlush>,
    /// Flush buffers to reuse: a started flush keeps its own until it finishes.
    spare_flushes: Vec<FlushBuilder>,
    /// Rounds answered (or failed) whose answers `finish` has not taken yet.
    answered: Vec<(u64, Vec<Response>)>,
    next_round: u64,
}

impl<D: Device> Store<D> {
    pub fn open(mut dev: D, sync: SyncMode) -> Result<Self> {
        let started = Instant::now();
        let mut sb = read_superblock(&mut dev)?
            .ok_or_else(|| EngineError::NotFormatted("the device holds no Corfu superblock; run `corfu format PATH` first".into()))?;
        let info = dev.info();
        if info.size_bytes < sb.data_start + sb.data_pages * PAGE_BYTES as u64 {
            return Err(EngineError::Corrupt(format!("the device has {} bytes but was formatted for {}", info.size_bytes, sb.device_bytes)));
        }
        let geo = Geometry::of(&sb, info.logical_block_bytes);
        let recovered = recover(&mut dev, &sb, &geo)?;
        sb.generation += 1;
        sb.seq += 1;
        // A version-1 device becomes version 2 here: from now on it may hold checkpoints,
        // which a version-1 build must not open.
        sb.format_version = FORMAT_VERSION;
        write_superblock(&mut dev, &sb).map_err(|e| EngineError::io("cannot write the superblock", e))?;
        let stats = Stats {
            recovery_pages: recovered.scanned_pages,
            recovery_summaries: recovered.summaries_read,
            recovery_micros: started.elapsed().as_micros() as u64,
            recovery_checkpoint_bytes: if recovered.checkpoint_read { sb.ckpt_bytes } else { 0 },
            sync_always: sync == SyncMode::Always,
            ..Stats::default()
        };
        let shared = Arc::new(Shared::new(recovered.index, sb.epoch, sb.trim_mark, geo));
        let store = Store {
            dev,
            sb,
            sb_dirty: false,
            sync,
            geo,
            shared,
            pending: HashMap::default(),
            pending_order: Vec::new(),
            flush: FlushBuilder::new(recovered.next_seq),
            next_seq: recovered.next_seq,
            flushes: recovered.flushes,
            tail: recovered.tail,
            failed: false,
            stats,
            since_entries: recovered.since_entries,
            since_flushes: recovered.since_flushes,
            cover_from: recovered.cover_from,
            last_flush_generation: recovered.last_generation,
            staged_summary: None,
            checkpoint_trigger: CheckpointTrigger::Auto,
            summary_bytes_since_checkpoint: recovered.summary_bytes,
            flushes_since_checkpoint: 0,
            started: VecDeque::new(),
            spare_flushes: Vec::new(),
            answered: Vec::new(),
            next_round: 0,
        };
        store.assert_recovered(recovered.checkpoint_read);
        Ok(store)
    }

    /// What recovery must have rebuilt, checked once at open (O(live flushes), plus the
    /// index's last chunk): the live flushes tile the pages from the head to the next
    /// page without a gap, and the tail is above every indexed address (a SEAL answers
    /// the tail: one at or below an acknowledged entry would let the next sequencer hand
    /// that address out again). Then the checks every round makes.
    fn assert_recovered(&self, checkpoint_read: bool) {
        assert_eq!(
            checkpoint_read,
            self.checkpoint_live(),
            "recovery: the superblock's checkpoint at page {} is live (head {}) but was not loaded, or the other way round",
            self.sb.ckpt_seq,
            self.sb.head_seq
        );
        let mut at = self.sb.head_seq;
        for f in self.flushes.iter() {
            assert!(
                f.start_seq == at && f.pages >= 1,
                "recovery: a live flush at {} ({} pages) where page {at} was expected",
                f.start_seq,
                f.pages
            );
            at += f.pages;
        }
        assert_eq!(at, self.next_seq, "recovery: the live flushes end at {at}, the log at {}", self.next_seq);
        if let Some(highest) = self.shared.index().max_address() {
            assert!(highest < self.tail, "recovery: address {highest} is indexed but the tail is {}", self.tail);
        }
        self.assert_invariants();
    }

    /// The store's invariants between rounds, checked after recovery and after every
    /// round that succeeded; O(1) (the index walk only with debug assertions). A failure
    /// is a bug: it panics, and the addon aborts the process rather than answer.
    fn assert_invariants(&self) {
        assert!(self.started.is_empty(), "the invariants hold between rounds, with no flush at the device");
        let (head, next, pages) = (self.sb.head_seq, self.next_seq, self.sb.data_pages);
        assert!(head <= next && next - head <= pages, "pages {head}..{next} are in use of {pages}");
        match (self.flushes.front(), self.flushes.back()) {
            (Some(first), Some(last)) => assert!(
                first.start_seq == head && last.start_seq + last.pages == next,
                "the live flushes span {}..{}, the used pages {head}..{next}",
                first.start_seq,
                last.start_seq + last.pages
            ),
            _ => assert_eq!(head, next, "no live flush, yet pages {head}..{next} are in use"),
        }
        // Every record of the round reached the index, which answers reads and the next
        // round's write-once checks: none is left staged.
        assert!(self.pending.is_empty() && self.pending_order.is_empty(), "{} staged records outlived their round", self.pending.len());
        assert_eq!(self.flush.start_seq, next, "the next flush does not start at the next page");
        assert_eq!(self.flush.records, usize::from(self.staged_summary.is_some()), "the open flush holds more than a staged summary");
        assert!(self.tail >= self.sb.trim_mark, "the tail {} is below the trim mark {}", self.tail, self.sb.trim_mark);
        assert!(self.cover_from <= next, "summaries cover up to {}, past the log's end {next}", self.cover_from);
        assert!(
            self.last_flush_generation <= self.sb.generation,
            "a flush of generation {} under generation {}",
            self.last_flush_generation,
            self.sb.generation
        );
        assert!(!self.sb_dirty, "a superblock change outlived its round");
        // The checkpoint: inside the log; while live (at or above the head, so its pages
        // are never overwritten) the summaries since cover from it; the live flushes stay
        // within their bound (they are what a checkpoint copies).
        if self.sb.ckpt_seq != u64::MAX {
            assert!(
                self.sb.ckpt_seq + self.sb.ckpt_pages <= next && checkpoint::pages_for(self.sb.ckpt_bytes) == self.sb.ckpt_pages,
                "the superblock points at a checkpoint at pages {}+{} ({} bytes), the log ends at {next}",
                self.sb.ckpt_seq,
                self.sb.ckpt_pages,
                self.sb.ckpt_bytes
            );
            if self.checkpoint_live() {
                assert!(
                    self.cover_from >= self.sb.ckpt_seq,
                    "summaries cover from {}, below the live checkpoint at {}",
                    self.cover_from,
                    self.sb.ckpt_seq
                );
            }
        }
        assert!(self.flushes.len() <= self.flushes.bound(pages), "{} live flush segments, above their bound", self.flushes.len());
        assert!(
            self.sb.summary_seq == u64::MAX || self.sb.summary_seq < next,
            "the superblock points at a summary at page {}, past the log's end {next}",
            self.sb.summary_seq
        );
        assert_eq!(
            (self.shared.epoch(), self.shared.trim_mark()),
            (self.sb.epoch, self.sb.trim_mark),
            "readers see another epoch or trim mark than the durable superblock"
        );
        debug_assert!(
            self.shared.index().max_address().is_none_or(|a| a < self.tail),
            "an indexed address is at or above the tail {}",
            self.tail
        );
    }

    /// Whether the superblock's checkpoint is the recovery point: the head has not passed it.
    fn checkpoint_live(&self) -> bool {
        self.sb.ckpt_seq != u64::MAX && self.sb.ckpt_seq >= self.sb.head_seq
    }

    /// Tests: when to write checkpoints (`CheckpointTrigger::Auto` unless changed).
    pub fn set_checkpoint_trigger(&mut self, trigger: CheckpointTrigger) {
        self.checkpoint_trigger = trigger;
    }

    /// A clean close: writes what a round left staged (an index summary, at most), then
    /// an index checkpoint unless the log is empty or the live one already describes it, and the
    /// superblock that points at it. The next open then reads the checkpoint and nothing
    /// else. Returns the device. A store that failed refuses (ERR_IO): its state is for
    /// the next open's recovery to decide. Without a close (a crash, or a drop) the next
    /// open recovers from the last checkpoint, the summaries and the tail as ever.
    pub fn close(mut self) -> Result<D> {
        self.finish_started();
        if self.failed {
            return Err(EngineError::Failed);
        }
        while !self.flush.is_empty() {
            self.commit(&mut [])?;
        }
        // An empty log has nothing to describe: a spare that never took an entry stays at
        // zero used pages, which is how `corfu up` tells an empty file from a used one.
        let described = self.checkpoint_live() && self.sb.ckpt_seq + self.sb.ckpt_pages == self.next_seq;
        if self.used_pages() > 0 && !described {
            // No room (a full circle) leaves the last checkpoint and the summaries in force.
            self.write_checkpoint()?;
        }
        self.finish_round(&mut RecordReads::default())?;
        self.assert_invariants();
        Ok(self.dev)
    }

    /// The live flushes as the store keeps them (merged segments, oldest first): tests
    /// compare a reopen through a checkpoint with one through a full scan.
    pub fn live_flushes(&self) -> Vec<FlushMeta> {
        self.flushes.iter().copied().collect()
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn into_device(mut self) -> D {
        // The started flushes' buffers go with the store: their writes must be done first.
        self.finish_started();
        self.dev
    }

    pub fn sync_mode(&self) -> SyncMode {
        self.sync
    }

    fn check_epoch(&self, epoch: u64) -> Result<()> {
        if epoch != self.sb.epoch {
            return Err(EngineError::Sealed { unit_epoch: self.sb.epoch, request_epoch: epoch });
        }
        Ok(())
    }

    fn check_addresses(addresses: &[u64]) -> Result<()> {
        match addresses.iter().find(|&&a| a > MAX_ADDRESS) {
            Some(a) => Err(EngineError::BadRequest(format!("address {a} is above the highest address, {MAX_ADDRESS}"))),
            None => Ok(()),
        }
    }

    fn used_pages(&self) -> u64 {
        self.next_seq - self.sb.head_seq
    }

    /// Runs one round to its end. Answers come back in request order.
    pub fn execute<P: AsRef<[u8]>>(&mut self, requests: &[Request<P>]) -> Vec<Response> {
        let round = self.begin(requests);
        self.finish(round)
    }

    /// Plans a round and starts its I/O. A round of plain writes, fills and trims (no
    /// reads, no superblock change, no index summary or checkpoint falling due) returns
    /// once its flush is started: its answers wait for that flush while the next round
    /// begins. Any other round first finishes every started flush and runs to its end
    /// here. At most `MAX_STARTED_FLUSHES` are started: beginning another finishes the
    /// oldest. `finish` gives the answers; the data of the requests is not needed after
    /// this call.
    pub fn begin<P: AsRef<[u8]>>(&mut self, requests: &[Request<P>]) -> RoundId {
        let id = self.next_round;
        self.next_round += 1;
        if let Some(responses) = self.begin_round(id, requests) {
            self.answered.push((id, responses));
        }
        RoundId(id)
    }

    /// The answers of a begun round, in request order: waits for its flush if it is
    /// still at the device (and for every flush started before it).
    pub fn finish(&mut self, round: RoundId) -> Vec<Response> {
        loop {
            if let Some(i) = self.answered.iter().position(|(id, _)| *id == round.0) {
                return self.answered.swap_remove(i).1;
            }
            assert!(!self.started.is_empty(), "round {} was neither answered nor started", round.0);
            self.finish_oldest();
        }
    }

    /// Flushes at the device now: 0 when every begun round has been answered.
    pub fn started_flushes(&self) -> usize {
        self.started.len()
    }

    fn begin_round<P: AsRef<[u8]>>(&mut self, id: u64, requests: &[Request<P>]) -> Option<Vec<Response>> {
        while self.started.len() >= MAX_STARTED_FLUSHES {
            self.finish_oldest();
        }
        if requests.iter().any(|r| matches!(r, Request::Read { .. })) {
            // Reads see what is durable: what the rounds before this one wrote, too.
            self.finish_started();
        }
        if self.failed {
            return Some(requests.iter().map(|r| Response::failed(r, || EngineError::Failed)).collect());
        }
        self.stats.rounds += 1;
        let mut reads = RecordReads::default();
        let mut planned = Vec::with_capacity(requests.len());
        for req in requests {
            match self.plan(req, &mut reads) {
                Ok(p) => planned.push(p),
                Err(e) if self.failed => return Some(round_failed(requests, &e)),
                Err(e) => planned.push(Planned::Done(Response::failed(req, || clone_error(&e)))),
            }
        }
        let only_the_flush = reads.is_empty()
            && !self.sb_dirty
            && self.staged_summary.is_none()
            && !self.flush.is_empty()
            && planned.iter().all(|p| !matches!(p, Planned::Read(_)))
            && !self.due_after_started();
        if only_the_flush {
            return self.start_flush(id, planned).err().map(|e| round_failed(requests, &e));
        }
        if let Err(e) = self.finish_round(&mut reads) {
            return Some(round_failed(requests, &e));
        }
        self.assert_invariants();
        Some(planned.into_iter().zip(requests).map(|(p, req)| self.answer(p, req, &reads)).collect())
    }

    /// Whether booking the started flushes and the open one would make an index summary
    /// or checkpoint due (`commit`'s test, counted over all of them; an address staged
    /// twice counts twice, which only errs towards finishing first). Those are written
    /// by the round itself, after every flush before them is booked.
    fn due_after_started(&self) -> bool {
        let entries = self.since_entries.len() + self.started.iter().map(|f| f.order.len()).sum::<usize>() + self.pending_order.len();
        let end = self.next_seq + self.flush.pages() as u64;
        let summary_due = entries >= TRIGGER_ENTRIES || end - self.cover_from >= TRIGGER_PAGES;
        summary_due
            || match self.checkpoint_trigger {
                CheckpointTrigger::Auto | CheckpointTrigger::OnCloseOnly => false,
                CheckpointTrigger::EveryFlushes(n) => self.flushes_since_checkpoint + self.started.len() as u64 + 1 >= n,
            }
    }

    /// Seals the open flush and starts its writes; the round's answers wait in the
    /// started flush. Its pages are claimed at once: the next flush follows them.
    fn start_flush(&mut self, round: u64, planned: Vec<Planned>) -> Result<()> {
        let n = self.flush.pages() as u64;
        let start_seq = self.flush.start_seq;
        assert_eq!(start_seq, self.next_seq, "flushes are contiguous");
        assert!(self.used_pages() + n <= self.sb.data_pages, "a flush never overwrites live pages");
        if let Some(highest) = self.flush.max_addr {
            assert!(highest < self.tail, "a flush holds address {highest} but the tail is {}", self.tail);
        }
        let sync = self.sync == SyncMode::Always;
        let ticket = {
            let bytes: &[u8] = self.flush.seal(self.sb.generation, self.sb.format_id);
            let pos = start_seq % self.sb.data_pages;
            let first = n.min(self.sb.data_pages - pos) as usize * PAGE_BYTES;
            let mut writes = Vec::with_capacity(2);
            writes.push(WriteOp { offset: self.sb.data_start + pos * PAGE_BYTES as u64, buf: &bytes[..first] });
            if first < bytes.len() {
                writes.push(WriteOp { offset: self.sb.data_start, buf: &bytes[first..] });
            }
            // SAFETY: the bytes are the open flush's buffer, which moves (as a heap
            // allocation that stays put) into `started` below and is neither written nor
            // freed until `finish_oldest` has finished this ticket; the device waits for
            // started writes when dropped, and it drops before the store's buffers.
            unsafe { self.dev.start_writes(&writes, sync) }
        };
        let ticket = match ticket {
            Ok(t) => t,
            Err(e) => {
                self.failed = true;
                return Err(EngineError::io("flush failed", e));
            }
        };
        self.next_seq += n;
        let mut next = self.spare_flushes.pop().unwrap_or_else(|| FlushBuilder::new(self.next_seq));
        next.reset(self.next_seq);
        let flush = std::mem::replace(&mut self.flush, next);
        let order = std::mem::take(&mut self.pending_order);
        self.started.push_back(StartedFlush { flush, ticket, order, round, planned });
        Ok(())
    }

    /// Waits for the oldest started flush (and its sync), books it and answers its round.
    /// After a failure (this flush's or an earlier one's) the round fails: what is at the
    /// device is for the next open's recovery to decide.
    fn finish_oldest(&mut self) {
        let mut f = self.started.pop_front().expect("a started flush");
        let done = self.dev.finish_writes(f.ticket);
        let responses: Vec<Response> = match done {
            Ok(()) if !self.failed => {
                let meta = FlushMeta { start_seq: f.flush.start_seq, pages: f.flush.pages() as u64, max_addr: f.flush.max_addr.unwrap_or(0) };
                self.book_records(meta.start_seq, &mut f.order);
                self.book_flush(meta);
                f.planned
                    .into_iter()
                    .map(|p| match p {
                        Planned::Done(r) => r,
                        Planned::Write { outcome, compares } => {
                            assert!(compares.is_empty(), "a round with reads is not left at the device");
                            Response::Write(Ok(outcome))
                        }
                        Planned::Read(_) => unreachable!("a round with reads is not left at the device"),
                    })
                    .collect()
            }
            result => {
                let msg = match result {
                    Err(e) => EngineError::io("flush failed", e).to_string(),
                    Ok(()) => EngineError::Failed.to_string(),
                };
                self.failed = true;
                f.planned.iter().map(|p| p.failed(|| EngineError::RoundFailed(msg.clone()))).collect()
            }
        };
        self.answered.push((f.round, responses));
        self.spare_flushes.push(f.flush);
        // Between rounds (not inside one that finishes what is started before it writes).
        if self.started.is_empty() && !self.failed && self.pending_order.is_empty() && !self.sb_dirty {
            self.assert_invariants();
        }
    }

    /// Finishes every started flush (their rounds' answers wait in `answered`).
    fn finish_started(&mut self) {
        while !self.started.is_empty() {
            self.finish_oldest();
        }
    }

    fn plan<P: AsRef<[u8]>>(&mut self, req: &Request<P>, reads: &mut RecordReads) -> Result<Planned> {
        Ok(match req {
            Request::Write { epoch, addresses, lengths, data } => {
                self.check_epoch(*epoch)?;
                Self::check_addresses(addresses)?;
                let data = data.as_ref();
                if addresses.len() != lengths.len() {
                    return Err(EngineError::BadRequest("addresses and lengths differ in count".into()));
                }
                if lengths.iter().map(|&l| l as u64).sum::<u64>() != data.len() as u64 {
                    return Err(EngineError::BadRequest("lengths do not add up to the payload buffer".into()));
                }
                let mut outcome = WriteOutcome { status: vec![0; addresses.len()], written: vec![Written::Na as u8; addresses.len()] };
                let mut compares = Vec::new();
                let mut at = 0usize;
                for (i, (&address, &len)) in addresses.iter().zip(lengths).enumerate() {
                    let payload = &data[at..at + len as usize];
                    let (code, detail, compare) = self.stage(address, RecordKind::Data, payload, reads)?;
                    outcome.status[i] = code as u8;
                    outcome.written[i] = detail as u8;
                    if let Some(job) = compare {
                        compares.push(Compare { entry: i, job, payload_at: at, len: len as usize });
                    }
                    at += len as usize;
                }
                Planned::Write { outcome, compares }
            }
            Request::Fill { epoch, addresses } => {
                self.check_epoch(*epoch)?;
                Self::check_addresses(addresses)?;
                let mut outcome = WriteOutcome { status: vec![0; addresses.len()], written: vec![Written::Na as u8; addresses.len()] };
                for (i, &address) in addresses.iter().enumerate() {
                    let (code, detail, _) = self.stage(address, RecordKind::Junk, &[], reads)?;
                    outcome.status[i] = code as u8;
                    outcome.written[i] = detail as u8;
                }
                Planned::Write { outcome, compares: Vec::new() }
            }
            Request::Trim { epoch, addresses } => {
                self.check_epoch(*epoch)?;
                Self::check_addresses(addresses)?;
                let mut status = vec![0; addresses.len()];
                for (i, &address) in addresses.iter().enumerate() {
                    status[i] = self.stage(address, RecordKind::Trim, &[], reads)?.0 as u8;
                }
                Planned::Done(Response::Trim(Ok(status)))
            }
            Request::Read { epoch, addresses } => {
                self.check_epoch(*epoch)?;
                // Reads see only what is durable: a write staged in this round is
                // unwritten to a reader ordered before it.
                Planned::Read(self.shared.plan_read(self.sb.trim_mark, addresses, reads))
            }
            Request::PrefixTrim { epoch, address } => {
                self.check_epoch(*epoch)?;
                // The mark becomes the tail when it passes it: the same bound, one above.
                if *address > MAX_ADDRESS + 1 {
                    return Err(EngineError::BadRequest(format!("prefix trim mark {address} is above {}", MAX_ADDRESS + 1)));
                }
                if *address > self.sb.trim_mark {
                    self.sb.trim_mark = *address;
                    self.tail = self.tail.max(*address);
                    self.sb_dirty = true;
                }
                Planned::Done(Response::PrefixTrim(Ok(())))
            }
            Request::Seal { epoch } => {
                if *epoch <= self.sb.epoch {
                    return Err(EngineError::Sealed { unit_epoch: self.sb.epoch, request_epoch: *epoch });
                }
                self.sb.epoch = *epoch;
                self.sb_dirty = true;
                // The tail counts what this round staged before the seal: those writes
                // carried the old epoch legitimately and will be acknowledged.
                Planned::Done(Response::Seal(Ok(self.tail)))
            }
            Request::Tail { epoch } => {
                self.check_epoch(*epoch)?;
                Planned::Done(Response::Tail(Ok(self.tail)))
            }
            Request::Stats => Planned::Done(Response::Stats(self.stats())),
        })
    }

    /// Stages one record. Returns the entry's status, the `written` detail, and a read
    /// job when deciding "same or different bytes" needs the stored record.
    fn stage(&mut self, address: u64, kind: RecordKind, payload: &[u8], reads: &mut RecordReads) -> Result<(Code, Written, Option<usize>)> {
        if kind != RecordKind::Trim && payload.len() > self.sb.max_entry_bytes as usize {
            return Ok((Code::TooLarge, Written::Na, None));
        }
        if address < self.sb.trim_mark {
            // Trimming what is already trimmed is done, not an error.
            let code = if kind == RecordKind::Trim { Code::Ok } else { Code::Trimmed };
            return Ok((code, Written::Na, None));
        }
        if self.pending.get(&address).is_some_and(|s| s.flush_seq != self.flush.start_seq) {
            // A record of a started flush: decide against the index once that flush is
            // booked. A trim of it must not replace its record in `pending` before then
            // (booking takes each address's record from there), and a rewrite compares
            // with the open flush's bytes or the device's. Rare: a retry, or a trim, of
            // an address the round before wrote.
            self.finish_started();
            if self.failed {
                return Err(EngineError::Failed);
            }
        }
        let staged = self.pending.get(&address).copied();
        let existing = staged.map(|s| s.slot).unwrap_or_else(|| self.shared.index().get(address));
        match (existing.kind, kind) {
            (SlotKind::Trimmed, RecordKind::Trim) => return Ok((Code::Ok, Written::Na, None)),
            (SlotKind::Trimmed, _) => return Ok((Code::Trimmed, Written::Na, None)),
            (SlotKind::Junk, RecordKind::Data | RecordKind::Junk) => return Ok((Code::Written, Written::Junk, None)),
            (SlotKind::Data, RecordKind::Junk) => return Ok((Code::Written, Written::Different, None)),
            (SlotKind::Data, RecordKind::Data) => {
                if existing.len as usize != payload.len() {
                    return Ok((Code::Written, Written::Different, None));
                }
                if let Some(s) = staged {
                    let same = self.flush.payload(s.stream_off, payload.len()) == payload;
                    return Ok((Code::Written, if same { Written::Same } else { Written::Different }, None));
                }
                return Ok((Code::Written, Written::Different, Some(reads.add(&self.geo, address, existing))));
            }
            _ => {}
        }
        if !self.flush.fits(payload.len()) {
            self.commit(&mut [])?;
            if !self.flush.fits(payload.len()) {
                // The flush holds a fresh index summary; write it first.
                self.commit(&mut [])?;
            }
        }
        if self.used_pages() + self.flush.pages_with(payload.len()) as u64 > self.sb.data_pages {
            return Ok((Code::Full, Written::Na, None));
        }
        let header = RecordHeader::new(address, kind, payload);
        let s = self.flush.push(&header, payload);
        let slot = Slot {
            pos: ((self.flush.start_seq + (s / PAGE_BODY_BYTES) as u64) % self.sb.data_pages) as u32,
            off: (s % PAGE_BODY_BYTES) as u16,
            len: payload.len() as u32,
            kind: match kind {
                RecordKind::Data => SlotKind::Data,
                RecordKind::Junk => SlotKind::Junk,
                RecordKind::Trim => SlotKind::Trimmed,
                RecordKind::End | RecordKind::Summary | RecordKind::Checkpoint => unreachable!("never staged as an entry"),
            },
        };
        self.pending.insert(address, Staged { slot, stream_off: s, flush_seq: self.flush.start_seq });
        self.pending_order.push(address);
        self.tail = self.tail.max(address + 1);
        self.stats.entries_written += 1;
        self.stats.payload_bytes_written += payload.len() as u64;
        Ok((Code::Ok, Written::Na, None))
    }

    /// Writes the staged flush (if any) and runs `reads`, in one submission with one sync.
    fn commit(&mut self, reads: &mut [ReadOp<'_>]) -> Result<()> {
        // In page order: the started flushes are booked (or failed) before this one.
        self.finish_started();
        if self.failed {
            return Err(EngineError::Failed);
        }
        let has_flush = !self.flush.is_empty();
        if !has_flush && reads.is_empty() {
            return Ok(());
        }
        // A flush carrying an index summary is synced even without sync mode: the
        // superblock will point at it, and must never point at lost pages.
        let sync = self.sync == SyncMode::Always || self.staged_summary.is_some();
        self.write_flush(reads, sync)?;
        if has_flush {
            if let Some(highest) = self.flush.max_addr {
                // SEAL and TAIL answer the tail: it must count every record made durable.
                assert!(highest < self.tail, "a flush holds address {highest} but the tail is {}", self.tail);
            }
            let mut order = std::mem::take(&mut self.pending_order);
            self.book_records(self.flush.start_seq, &mut order);
            self.pending_order = order;
            self.flush_written();
            if let Some(p) = self.staged_summary.take() {
                (self.sb.summary_seq, self.sb.summary_off, self.sb.summary_len) = (p.seq, p.off, p.len);
                self.sb_dirty = true;
            }
            let summary_due = self.since_entries.len() >= TRIGGER_ENTRIES || self.next_seq - self.cover_from >= TRIGGER_PAGES;
            let checkpoint_due = match self.checkpoint_trigger {
                CheckpointTrigger::Auto => {
                    summary_due && {
                        let summary_bytes = Summary::encoded_len_of(self.since_flushes.len(), self.since_entries.len()) as u64;
                        let checkpoint_bytes = checkpoint::encoded_len(self.flushes.len(), &self.shared.index()) as u64;
                        self.summary_bytes_since_checkpoint + summary_bytes >= checkpoint_bytes
                    }
                }
                CheckpointTrigger::EveryFlushes(n) => self.flushes_since_checkpoint >= n,
                CheckpointTrigger::OnCloseOnly => false,
            };
            // A checkpoint that finds no room (a full circle) leaves the summary to fall due.
            let checkpointed = checkpoint_due && self.write_checkpoint()?;
            if summary_due && !checkpointed {
                self.stage_summary();
            }
        }
        Ok(())
    }

    /// Seals the open flush (if it holds anything) and writes it, one write or two if it
    /// wraps the circle, in one submission with `reads` and, if `sync`, a data sync.
    fn write_flush(&mut self, reads: &mut [ReadOp<'_>], sync: bool) -> Result<()> {
        let has_flush = !self.flush.is_empty();
        let n = if has_flush { self.flush.pages() as u64 } else { 0 };
        let start_seq = self.flush.start_seq;
        assert_eq!(start_seq, self.next_seq, "flushes are contiguous");
        assert!(self.used_pages() + n <= self.sb.data_pages, "a flush never overwrites live pages");
        let result = {
            let bytes: &[u8] = if has_flush { self.flush.seal(self.sb.generation, self.sb.format_id) } else { &[] };
            let pos = start_seq % self.sb.data_pages;
            let first = n.min(self.sb.data_pages - pos) as usize * PAGE_BYTES;
            let mut writes = Vec::with_capacity(2);
            if has_flush {
                writes.push(WriteOp { offset: self.sb.data_start + pos * PAGE_BYTES as u64, buf: &bytes[..first] });
                if first < bytes.len() {
                    writes.push(WriteOp { offset: self.sb.data_start, buf: &bytes[first..] });
                }
            }
            self.dev.submit(Batch { reads, writes: &writes, sync })
        };
        if let Err(e) = result {
            // fsyncgate: after a failed write or sync the page cache and device state are
            // unknown; only a reopen (a fresh recovery scan) may decide what is durable.
            self.failed = true;
            return Err(EngineError::io("flush failed", e));
        }
        Ok(())
    }

    /// Moves the records of the flush at `flush_seq`, durable now, from `pending` to the
    /// index (which answers reads) and the next summary's entries; drains `order`.
    fn book_records(&mut self, flush_seq: u64, order: &mut Vec<u64>) {
        let mut index = self.shared.index_mut();
        for address in order.drain(..) {
            // A trim of an address staged earlier in the flush replaced its record in the
            // map and comes again in the order: the first visit takes the latest record.
            let Some(staged) = self.pending.remove(&address) else { continue };
            assert_eq!(staged.flush_seq, flush_seq, "address {address} of the flush at {flush_seq} is staged in another flush");
            index.set(address, staged.slot);
            self.since_entries.push(SummaryEntry {
                address,
                seq: flush_seq + (staged.stream_off / PAGE_BODY_BYTES) as u64,
                off: staged.slot.off,
                kind: staged.slot.kind,
                len: staged.slot.len,
            });
        }
    }

    /// Books a flush just written: the live flushes and the next summary's.
    fn book_flush(&mut self, meta: FlushMeta) {
        self.flushes.push(meta);
        self.since_flushes.push(meta);
        self.last_flush_generation = self.sb.generation;
        self.flushes_since_checkpoint += 1;
        self.stats.flushes += 1;
        self.stats.pages_written += meta.pages;
    }

    /// Books the open flush, just written, and opens the next one after it.
    fn flush_written(&mut self) {
        let n = self.flush.pages() as u64;
        self.book_flush(FlushMeta { start_seq: self.flush.start_seq, pages: n, max_addr: self.flush.max_addr.unwrap_or(0) });
        self.next_seq += n;
        self.flush.reset(self.next_seq);
    }

    /// Writes an index checkpoint of everything below the next page (`checkpoint.rs`),
    /// at the next page: its parts in flushes of their own, synced; the superblock points
    /// at it from the end of the round. Returns false, writing nothing, when the circle
    /// has no room for it. The flush must be empty (no summary staged): a checkpoint
    /// describes whole flushes.
    fn write_checkpoint(&mut self) -> Result<bool> {
        assert!(self.flush.is_empty() && self.staged_summary.is_none(), "a checkpoint starts at a fresh flush");
        let seq = self.next_seq;
        let head = CheckpointHead {
            seq,
            format_id: self.sb.format_id,
            generation: self.sb.generation,
            head_seq: self.sb.head_seq,
            trim_mark: self.sb.trim_mark,
            tail: self.tail,
            last_generation: self.last_flush_generation,
        };
        let shared = self.shared.clone();
        let index = shared.index();
        let segments: Vec<FlushMeta> = self.flushes.iter().copied().collect();
        let bytes = checkpoint::encoded_len(segments.len(), &index) as u64;
        let pages = checkpoint::pages_for(bytes);
        if self.used_pages() + pages > self.sb.data_pages {
            return Ok(false);
        }
        // From here the summaries describe what comes after the checkpoint: its own
        // flushes first.
        self.since_entries.clear();
        self.since_flushes.clear();
        self.cover_from = seq;
        // The encoding streams into parts, each written as it fills (the last one synced,
        // even without sync mode: the superblock will point at it), so a large index is
        // never held twice. The index stays read-locked meanwhile: readers go on; only
        // this thread writes it.
        let parts = checkpoint::parts(bytes);
        let mut part: Vec<u8> = Vec::with_capacity(PART_BYTES.min(bytes as usize));
        let mut written = 0usize;
        let encoded = checkpoint::encode_to(&head, segments.iter(), &index, |mut piece: &[u8]| {
            while !piece.is_empty() {
                let take = (parts[written].1 - part.len()).min(piece.len());
                assert!(take > 0, "a checkpoint encodes past its computed length");
                part.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
                if part.len() == parts[written].1 && written + 1 < parts.len() {
                    self.write_checkpoint_part(seq, &parts[written], &part, false)?;
                    part.clear();
                    written += 1;
                }
            }
            Ok::<(), EngineError>(())
        })?;
        assert_eq!(encoded, bytes, "a checkpoint encodes to its computed length");
        assert_eq!(written + 1, parts.len(), "every part but the last is written");
        self.write_checkpoint_part(seq, &parts[written], &part, true)?;
        drop(index);
        (self.sb.ckpt_seq, self.sb.ckpt_bytes, self.sb.ckpt_pages) = (seq, bytes, pages);
        self.sb_dirty = true;
        self.summary_bytes_since_checkpoint = 0;
        self.flushes_since_checkpoint = 0;
        self.stats.checkpoints_written += 1;
        Ok(true)
    }

    /// Writes one part of a checkpoint starting at page `seq` as a flush of its own.
    fn write_checkpoint_part(&mut self, seq: u64, &(at, len, pages): &(u64, usize, u64), part: &[u8], sync: bool) -> Result<()> {
        assert_eq!((self.next_seq, part.len()), (seq + at, len), "a checkpoint's parts are back to back, each of its length");
        self.flush.push(&RecordHeader::new(u64::MAX, RecordKind::Checkpoint, part), part);
        assert_eq!(self.flush.pages() as u64, pages, "a checkpoint part takes the pages its layout says");
        self.write_flush(&mut [], sync)?;
        self.flush_written();
        Ok(())
    }

    /// Opens the next flush with an index summary of everything since the last one.
    fn stage_summary(&mut self) {
        assert!(self.flush.is_empty(), "a summary opens a fresh flush");
        let prev = (self.sb.summary_seq != u64::MAX).then_some(SummaryPtr {
            seq: self.sb.summary_seq,
            off: self.sb.summary_off,
            len: self.sb.summary_len,
        });
        let summary = Summary {
            cover_from: self.cover_from,
            cover_to: self.next_seq,
            prev,
            last_generation: self.last_flush_generation,
            flushes: std::mem::take(&mut self.since_flushes),
            entries: std::mem::take(&mut self.since_entries),
        };
        let bytes_len = summary.encoded_len();
        if self.used_pages() + self.flush.pages_with(bytes_len) as u64 > self.sb.data_pages {
            // No room while the circle is full: keep accumulating; a later commit (after
            // a prefix trim frees pages) writes it. Nothing new is written meanwhile.
            self.since_flushes = summary.flushes;
            self.since_entries = summary.entries;
            return;
        }
        let bytes = summary.encode();
        assert!(self.flush.fits(bytes.len()), "a summary is bounded well below one flush");
        let s = self.flush.push(&RecordHeader::new(u64::MAX, RecordKind::Summary, &bytes), &bytes);
        assert_eq!(s, 0);
        self.staged_summary = Some(SummaryPtr { seq: self.next_seq, off: 0, len: bytes.len() as u32 });
        self.summary_bytes_since_checkpoint += bytes.len() as u64;
        self.cover_from = self.next_seq;
    }

    fn finish_round(&mut self, reads: &mut RecordReads) -> Result<()> {
        {
            let mut ops = reads.ops();
            self.commit(&mut ops)?;
        }
        if self.sb_dirty {
            // Free the head: whole flushes whose every address is now below the mark.
            while let Some(f) = self.flushes.front() {
                if f.max_addr >= self.sb.trim_mark {
                    break;
                }
                self.sb.head_seq = f.start_seq + f.pages;
                self.flushes.pop_front();
            }
            if self.flushes.is_empty() {
                self.sb.head_seq = self.next_seq;
            }
            self.shared.index_mut().drop_below(self.sb.trim_mark);
            self.sb.seq += 1;
            if let Err(e) = write_superblock(&mut self.dev, &self.sb) {
                self.failed = true;
                return Err(EngineError::io("superblock write failed", e));
            }
            self.sb_dirty = false;
            self.shared.publish(self.sb.epoch, self.sb.trim_mark);
        }
        Ok(())
    }

    fn answer<P: AsRef<[u8]>>(&self, planned: Planned, req: &Request<P>, reads: &RecordReads) -> Response {
        match planned {
            Planned::Done(r) => r,
            Planned::Write { mut outcome, compares } => {
                if let Request::Write { data, .. } = req {
                    for c in compares {
                        let same =
                            reads.payload(&self.geo, c.job).is_some_and(|stored| stored == data.as_ref()[c.payload_at..c.payload_at + c.len]);
                        outcome.written[c.entry] = if same { Written::Same } else { Written::Different } as u8;
                    }
                }
                Response::Write(Ok(outcome))
            }
            Planned::Read(plan) => match req {
                Request::Read { addresses, .. } => Response::Read(Ok(self.shared.finish_read(plan, addresses, reads))),
                _ => unreachable!("a read plan answers a read"),
            },
        }
    }

    /// What readers on other threads share with this store (see `read_service`).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    pub fn stats(&self) -> Stats {
        let used = self.used_pages();
        Stats {
            epoch: self.sb.epoch,
            trim_mark: self.sb.trim_mark,
            tail: self.tail,
            generation: self.sb.generation,
            head_seq: self.sb.head_seq,
            next_seq: self.next_seq,
            data_pages: self.sb.data_pages,
            used_pages: used,
            free_pages: self.sb.data_pages - used,
            addresses: self.shared.index().len(),
            index_bytes: self.shared.index().memory_bytes() as u64,
            checkpoint_seq: self.sb.ckpt_seq,
            checkpoint_bytes: self.sb.ckpt_bytes,
            checkpoint_pages: self.sb.ckpt_pages,
            ..self.stats.clone()
        }
    }
}

/// Every request of a round the device failed in, answered with that failure.
fn round_failed<P: AsRef<[u8]>>(requests: &[Request<P>], e: &EngineError) -> Vec<Response> {
    let msg = e.to_string();
    requests.iter().map(|r| Response::failed(r, || EngineError::RoundFailed(msg.clone()))).collect()
}

/// A request's refusal, for each response it answers. Planning refuses only these three;
/// any other error fails the store (`execute` answers the whole round with it), so one
/// here is a bug, not a bad request.
fn clone_error(e: &EngineError) -> EngineError {
    match e {
        EngineError::Sealed { unit_epoch, request_epoch } => EngineError::Sealed { unit_epoch: *unit_epoch, request_epoch: *request_epoch },
        EngineError::BadRequest(m) => EngineError::BadRequest(m.clone()),
        EngineError::TooLarge(m) => EngineError::TooLarge(m.clone()),
        other => panic!("planning a request failed with {other} ({:?}) without failing the store", other.code()),
    }
}
