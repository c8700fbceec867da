//! `format` and `Store::open` refusing what they must: a device too small or too large, a
//! maximum entry size out of range, a device that already holds a unit (unless forced), and
//! a device shorter than the one it was formatted on. The CLI's tests reach these through
//! the addon; these pin them in the engine itself.

mod common;

use std::io;

use common::fresh_sim;
use corfu_engine::device::sim::SimDevice;
use corfu_engine::device::{Batch, Device, DeviceInfo, Ticket, WriteOp};
use corfu_engine::layout::{DATA_START_BYTES, MAX_MAX_ENTRY_BYTES, MIN_DEVICE_BYTES, PAGE_BYTES, SUPERBLOCK_BYTES};
use corfu_engine::{format, read_superblock, EngineError, FormatOptions, Store, SyncMode};

/// A simulated device that reports `size_bytes` whatever it holds: a huge device (only its
/// metadata is ever written here) or one shorter than it was formatted on.
struct Resized {
    inner: SimDevice,
    size_bytes: u64,
}

impl Device for Resized {
    fn info(&self) -> DeviceInfo {
        DeviceInfo { size_bytes: self.size_bytes, ..self.inner.info() }
    }

    fn submit(&mut self, batch: Batch<'_, '_, '_>) -> io::Result<()> {
        self.inner.submit(batch)
    }

    unsafe fn start_writes(&mut self, writes: &[WriteOp<'_>], sync: bool) -> io::Result<Ticket> {
        // SAFETY: the caller's promise passes on unchanged.
        unsafe { self.inner.start_writes(writes, sync) }
    }

    fn finish_writes(&mut self, ticket: Ticket) -> io::Result<()> {
        self.inner.finish_writes(ticket)
    }
}

fn options(max_entry_bytes: u32, force: bool) -> FormatOptions {
    FormatOptions { max_entry_bytes, cluster_id: [7; 16], unit_id: 1, force, format_id: 42, created_unix_ms: 0 }
}

const SIZE_BYTES: u64 = 2 * 1024 * 1024;

#[test]
fn a_device_below_the_minimum_is_refused_and_the_minimum_is_taken() {
    let mut small = SimDevice::new(MIN_DEVICE_BYTES - PAGE_BYTES as u64, 1);
    match format(&mut small, &options(4096, false)) {
        Err(EngineError::DeviceTooSmall(m)) => assert!(m.contains(&format!("at least {MIN_DEVICE_BYTES}")), "{m}"),
        other => panic!("expected DeviceTooSmall, got {other:?}"),
    }
    let mut exact = SimDevice::new(MIN_DEVICE_BYTES, 1);
    let sb = format(&mut exact, &options(4096, false)).expect("the minimum size formats");
    assert_eq!(sb.data_pages, (MIN_DEVICE_BYTES - DATA_START_BYTES) / PAGE_BYTES as u64);
}

#[test]
fn the_maximum_entry_size_must_be_within_one_byte_and_the_limit() {
    for bad in [0, MAX_MAX_ENTRY_BYTES + 1] {
        let mut dev = SimDevice::new(SIZE_BYTES, 1);
        match format(&mut dev, &options(bad, false)) {
            Err(EngineError::BadRequest(m)) => assert!(m.contains(&format!("got {bad}")), "{m}"),
            other => panic!("max entry {bad}: expected BadRequest, got {other:?}"),
        }
        assert!(read_superblock(&mut dev).unwrap().is_none(), "a refused format wrote nothing");
    }
    for good in [1, MAX_MAX_ENTRY_BYTES] {
        let mut dev = SimDevice::new(SIZE_BYTES, 1);
        assert_eq!(format(&mut dev, &options(good, false)).expect("in range").max_entry_bytes, good);
    }
}

#[test]
fn a_formatted_device_is_refused_unless_forced() {
    let mut dev = fresh_sim(SIZE_BYTES, 3, 4096);
    let first = read_superblock(&mut dev).unwrap().expect("formatted");
    match format(&mut dev, &options(4096, false)) {
        Err(EngineError::AlreadyFormatted(m)) => assert!(m.contains("--force"), "{m}"),
        other => panic!("expected AlreadyFormatted, got {other:?}"),
    }
    // Refused: the unit it holds is untouched.
    assert_eq!(read_superblock(&mut dev).unwrap().unwrap().format_id, first.format_id);
    let again = format(&mut dev, &options(4096, true)).expect("forced");
    assert_eq!(again.format_id, 42);
    assert_eq!(read_superblock(&mut dev).unwrap().unwrap().format_id, 42);
}

#[test]
fn a_damaged_superblock_is_refused_too_unless_forced() {
    let mut dev = fresh_sim(SIZE_BYTES, 4, 4096);
    // Both superblock copies damaged (their magic intact, a byte of each body flipped): not a
    // unit that opens any more, not an empty device either.
    let mut slots = corfu_engine::aligned::AlignedBuf::zeroed(2 * SUPERBLOCK_BYTES);
    dev.read_at(0, &mut slots).unwrap();
    slots[100] ^= 0xFF;
    slots[SUPERBLOCK_BYTES + 100] ^= 0xFF;
    dev.write_at(0, &slots, true).unwrap();
    match format(&mut dev, &options(4096, false)) {
        Err(EngineError::AlreadyFormatted(m)) => assert!(m.contains("damaged"), "{m}"),
        other => panic!("expected AlreadyFormatted (damaged), got {other:?}"),
    }
    format(&mut dev, &options(4096, true)).expect("forced");
}

#[test]
fn a_device_above_16_tib_is_refused_and_one_of_exactly_the_most_pages_is_taken() {
    let most = DATA_START_BYTES + u32::MAX as u64 * PAGE_BYTES as u64;
    let mut over = Resized { inner: SimDevice::new(SIZE_BYTES, 5), size_bytes: most + PAGE_BYTES as u64 };
    match format(&mut over, &options(4096, false)) {
        Err(EngineError::BadRequest(m)) => assert!(m.contains("16 TiB"), "{m}"),
        other => panic!("expected BadRequest, got {other:?}"),
    }
    let mut exact = Resized { inner: SimDevice::new(SIZE_BYTES, 5), size_bytes: most };
    assert_eq!(format(&mut exact, &options(4096, false)).expect("the most pages").data_pages, u32::MAX as u64);
}

#[test]
fn a_device_shorter_than_it_was_formatted_on_does_not_open() {
    let dev = fresh_sim(SIZE_BYTES, 6, 4096);
    let opened = |size_bytes: u64| Store::open(Resized { inner: dev.clone(), size_bytes }, SyncMode::Always);
    match opened(SIZE_BYTES - PAGE_BYTES as u64) {
        Err(EngineError::Corrupt(m)) => assert!(m.contains(&format!("formatted for {SIZE_BYTES}")), "{m}"),
        Err(e) => panic!("expected Corrupt, got {e:?}"),
        Ok(_) => panic!("a truncated device opened"),
    }
    // As formatted, or grown since: it opens.
    opened(SIZE_BYTES).expect("the size it was formatted on");
    opened(SIZE_BYTES + 16 * PAGE_BYTES as u64).expect("a larger device");
}

#[test]
fn an_open_store_reports_its_sync_mode_by_the_names_the_addon_shows() {
    let dev = fresh_sim(SIZE_BYTES, 7, 4096);
    for (sync, name, always) in [(SyncMode::Always, "always", true), (SyncMode::None, "none", false)] {
        assert_eq!(sync.name(), name);
        let store = Store::open(dev.clone(), sync).expect("open");
        assert_eq!(store.stats().sync_always, always, "{name}");
    }
}

#[test]
fn the_stats_count_the_entries_and_payload_bytes_written() {
    let dev = fresh_sim(SIZE_BYTES, 8, 4096);
    let mut store = Store::open(dev, SyncMode::Always).expect("open");
    let epoch = store.superblock().epoch;
    common::write(&mut store, epoch, &[(0, vec![1; 10]), (1, vec![2; 20])]);
    common::write(&mut store, epoch, &[(2, vec![3; 30])]);
    let stats = store.stats();
    assert_eq!((stats.entries_written, stats.payload_bytes_written, stats.rounds), (3, 60, 2));
}

/// What `corfu status` and the unit's metrics show: the epoch after a seal, the open's
/// generation, the index's memory and the newest checkpoint. Each is read live from the
/// store, not from what the open saw.
#[test]
fn the_stats_say_the_epoch_generation_index_and_checkpoint() {
    use corfu_engine::store::{Request, Response};
    use corfu_engine::CheckpointTrigger;

    let dev = fresh_sim(SIZE_BYTES, 9, 4096);
    let mut store = Store::open(dev.clone(), SyncMode::Always).expect("open");
    let fresh = store.stats();
    assert_eq!((fresh.generation, fresh.checkpoints_written, fresh.checkpoint_bytes), (1, 0, 0));
    let epoch = store.superblock().epoch;
    let Response::Seal(Ok(_)) = store.execute::<Vec<u8>>(&[Request::Seal { epoch: epoch + 3 }]).pop().unwrap() else { panic!("seal failed") };
    assert_eq!(store.stats().epoch, epoch + 3, "the epoch of the seal, not of the open");

    store.set_checkpoint_trigger(CheckpointTrigger::EveryFlushes(1));
    let empty_index_bytes = store.stats().index_bytes;
    for round in 0..3u64 {
        let entries: Vec<(u64, Vec<u8>)> = (0..50).map(|i| (round * 100 + i * 2, vec![round as u8; 100])).collect();
        common::write(&mut store, epoch + 3, &entries);
    }
    let stats = store.stats();
    assert!(stats.index_bytes > empty_index_bytes, "the index grew: {} -> {}", empty_index_bytes, stats.index_bytes);
    assert_eq!(stats.checkpoints_written, 3, "one checkpoint after each of the three flushes");
    let sb = store.superblock().clone();
    assert!(sb.ckpt_bytes > 0);
    assert_eq!((stats.checkpoint_seq, stats.checkpoint_bytes), (sb.ckpt_seq, sb.ckpt_bytes), "the newest checkpoint");

    drop(store);
    let store = Store::open(dev, SyncMode::Always).expect("reopen");
    assert_eq!(store.stats().generation, 2, "each open is a new generation");
}
