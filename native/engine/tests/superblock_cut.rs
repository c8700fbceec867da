//! A power cut in a superblock write: the one every open makes, and a seal's. The
//! superblock has two slots and each write goes to the one the newest copy is not in, so a
//! torn write leaves the newest copy whole. The crash campaign arms its cuts after an open,
//! so it never cuts the open's write; these runs cut each write on purpose.

mod common;

use common::{fresh_sim, one, open};
use corfu_engine::aligned::AlignedBuf;
use corfu_engine::device::sim::{LossMode, SimDevice};
use corfu_engine::device::Device;
use corfu_engine::layout::{Superblock, SUPERBLOCK_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::{read_superblock, Store, SyncMode};

const SEEDS: u64 = 16;

fn seal(store: &mut Store<SimDevice>, epoch: u64) -> Response {
    one(store, Request::Seal { epoch })
}

/// A fresh store sealed at epoch 5 (acknowledged), and the superblock copy that records it.
fn sealed_at_5(seed: u64) -> (SimDevice, Store<SimDevice>, Superblock) {
    let dev = fresh_sim(2 * 1024 * 1024, seed, 4096);
    let mut store = open(&dev, SyncMode::Always);
    assert!(matches!(seal(&mut store, 5), Response::Seal(Ok(_))));
    let newest = read_superblock(&mut dev.clone()).unwrap().expect("formatted");
    assert_eq!(newest.epoch, 5);
    (dev, store, newest)
}

/// After a cut armed at a superblock write: checks that it hit the slot the newest copy
/// (`newest_seq`) is not in, powers the device back on, and returns whether the slot was
/// torn (what it holds differs from what was being written).
fn after_the_cut(dev: &SimDevice, newest_seq: u64, what: &str) -> bool {
    let cut = dev.state.lock().unwrap().cut_write.clone().expect("the cut hit a write");
    assert_eq!(cut.0, Superblock::slot_offset(newest_seq + 1), "{what}: wrote the slot the newest copy is not in");
    assert_eq!(cut.1.len(), SUPERBLOCK_BYTES);
    dev.restart();
    let mut slot = AlignedBuf::zeroed(SUPERBLOCK_BYTES);
    dev.clone().read_at(cut.0, &mut slot).unwrap();
    slot[..] != cut.1[..]
}

/// The cuts did tear the slot: each of its 8 sectors lands with probability 1/2, and only
/// the sectors that changed (sequence, generation, epoch, checksum) show it. With these
/// seeds, 8 of the 16 of each test did.
fn assert_torn_often(torn: u64) {
    assert!(torn >= 4, "only {torn} of {SEEDS} cuts tore the superblock slot");
}

#[test]
fn a_cut_in_the_superblock_write_of_an_open_loses_nothing_the_previous_one_recorded() {
    let mut torn = 0;
    for seed in 0..SEEDS {
        let (dev, store, newest) = sealed_at_5(seed);
        // Dropped without a close: a crash after the seal was acknowledged.
        drop(store);
        // The next open's first write is its superblock: the power goes out in it, each
        // sector of it landing or not.
        dev.arm_power_loss(0, LossMode::TornSectors);
        assert!(Store::open(dev.clone(), SyncMode::Always).is_err(), "seed {seed}: the open survived its cut");
        torn += u64::from(after_the_cut(&dev, newest.seq, &format!("seed {seed}: the open")));
        let store = open(&dev, SyncMode::Always);
        assert_eq!(store.superblock().epoch, 5, "seed {seed}: the seal was lost");
    }
    assert_torn_often(torn);
}

#[test]
fn a_cut_in_the_superblock_write_of_a_seal_keeps_the_seal_before_it() {
    let mut torn = 0;
    for seed in 0..SEEDS {
        let (dev, mut store, newest) = sealed_at_5(seed);
        // The next seal's only write is the superblock: the power goes out in it.
        dev.arm_power_loss(0, LossMode::TornSectors);
        assert!(matches!(seal(&mut store, 6), Response::Seal(Err(_))), "seed {seed}: the seal survived its cut");
        drop(store);
        torn += u64::from(after_the_cut(&dev, newest.seq, &format!("seed {seed}: the seal")));
        let store = open(&dev, SyncMode::Always);
        assert!(store.superblock().epoch >= 5, "seed {seed}: the acknowledged seal at 5 was lost");
    }
    assert_torn_often(torn);
}
