//! What a synced flush makes durable. On a real device a synced flush is written with
//! RWF_DSYNC (durable as each write completes, no data sync of the file after it) unless
//! some earlier write was left unsynced, when it falls back to a data sync after its
//! writes, which covers those too (`device::SyncCover`). The crash-testing device keeps
//! the same rule, so the power-loss campaigns test the store against what the device
//! really gives; these tests pin the rule itself.

use corfu_engine::device::sim::{LossMode, SimDevice};
use corfu_engine::device::{Batch, Device, SyncCover, WriteOp};

const SECTOR: usize = 512;

fn sector(byte: u8) -> Vec<u8> {
    vec![byte; SECTOR]
}

/// Cuts the power at the next write (through a handle of its own: the store's may have
/// started writes unfinished), then brings it back: what is left is what was durable.
fn cut_power(dev: &SimDevice) {
    dev.arm_power_loss(0, LossMode::DropUnsynced);
    assert!(dev.clone().write_at(60 * SECTOR as u64, &sector(0xee), false).is_err(), "the power went out");
    dev.restart();
}

fn durable_at(dev: &SimDevice, offset: usize) -> u8 {
    dev.state.lock().unwrap().durable[offset]
}

/// (synced flushes made durable by their own writes, data syncs) so far.
fn syncs(dev: &SimDevice) -> (u64, u64) {
    let s = dev.state.lock().unwrap();
    (s.own_syncs, s.syncs)
}

#[test]
fn a_synced_flush_alone_is_made_durable_by_its_own_writes() {
    let dev = SimDevice::new(64 * SECTOR as u64, 1);
    let mut d = dev.clone();
    let (a, b) = (sector(0xaa), sector(0xbb));
    // SAFETY: the buffers outlive both tickets.
    let first = unsafe { d.start_writes(&[WriteOp { offset: 0, buf: &a }], true) }.unwrap();
    let _second = unsafe { d.start_writes(&[WriteOp { offset: SECTOR as u64, buf: &b }], true) }.unwrap();
    d.finish_writes(first).unwrap();
    assert_eq!(syncs(&dev), (1, 0), "no data sync of the whole device");
    cut_power(&dev);
    assert_eq!(durable_at(&dev, 0), 0xaa, "the finished flush is durable");
    assert_eq!(durable_at(&dev, SECTOR), 0, "the unfinished one is not: its sync was not the first's");
}

#[test]
fn a_synced_flush_after_unsynced_writes_syncs_them_too() {
    let dev = SimDevice::new(64 * SECTOR as u64, 2);
    let mut d = dev.clone();
    let (a, b) = (sector(0xaa), sector(0xbb));
    d.submit(Batch { reads: &mut [], writes: &[WriteOp { offset: 0, buf: &a }], sync: false }).unwrap();
    // SAFETY: the buffer outlives the ticket.
    let t = unsafe { d.start_writes(&[WriteOp { offset: SECTOR as u64, buf: &b }], true) }.unwrap();
    d.finish_writes(t).unwrap();
    assert_eq!(syncs(&dev), (0, 1), "a data sync, not the flush's own writes");
    cut_power(&dev);
    assert_eq!(durable_at(&dev, 0), 0xaa, "the unsynced write before the flush is durable");
    assert_eq!(durable_at(&dev, SECTOR), 0xbb);
}

#[test]
fn sync_cover_lets_a_flush_sync_itself_only_with_nothing_unsynced_behind_it() {
    let mut c = SyncCover::default();
    assert!(c.start(true), "a fresh device: its own writes suffice");
    c.finish(true, true);
    c.submitted(false);
    assert!(!c.start(true), "after an unsynced write: a data sync");
    c.finish(true, false);
    assert!(c.start(true), "that data sync covered it");
    c.finish(true, true);
    // An unsynced flush still at the device: a data sync after a later one does not cover
    // it until it has finished, so flushes keep falling back until a sync after it.
    assert!(!c.start(false));
    assert!(!c.start(true));
    c.finish(false, false);
    c.finish(true, false);
    assert!(c.start(true), "the data sync after the synced flush covered the unsynced one, finished before it");
    c.finish(true, true);
    c.submitted(true);
    assert!(c.start(true));
    c.finish(true, true);
    // A data sync while an unsynced flush started after it is still at the device does
    // not cover that flush, which will have completed before any later flush finishes.
    c.submitted(false);
    assert!(!c.start(true), "a data sync follows this one");
    assert!(!c.start(false));
    c.finish(true, false);
    assert!(!c.start(true), "the unsynced flush was still at the device when that sync ran");
}
