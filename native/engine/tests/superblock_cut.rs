//! A power cut in the superblock write that every open makes. The superblock has two
//! slots and each write goes to the one the newest copy is not in, so a torn write leaves
//! the newest copy whole. The crash campaign arms its cuts after an open, so it never cuts
//! this write: here each run does.

mod common;

use common::{fresh_sim, one, open};
use corfu_engine::device::sim::LossMode;
use corfu_engine::layout::{Superblock, SUPERBLOCK_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::{read_superblock, Store, SyncMode};

#[test]
fn a_cut_in_the_superblock_write_of_an_open_loses_nothing_the_previous_one_recorded() {
    let mut torn = 0;
    for seed in 0..16u64 {
        let dev = fresh_sim(2 * 1024 * 1024, seed, 4096);
        {
            let mut store = open(&dev, SyncMode::Always);
            match one(&mut store, Request::Seal { epoch: 5 }) {
                Response::Seal(Ok(_)) => {}
                other => panic!("seal: {other:?}"),
            }
            // Dropped without a close: a crash after the seal was acknowledged.
        }
        let newest = read_superblock(&mut dev.clone()).unwrap().expect("formatted");
        assert_eq!(newest.epoch, 5);
        // The next open's first write is its superblock: the power goes out in it, each
        // sector of it landing or not.
        dev.arm_power_loss(0, LossMode::TornSectors);
        assert!(Store::open(dev.clone(), SyncMode::Always).is_err(), "seed {seed}: the open survived its cut");
        let cut = dev.state.lock().unwrap().cut_write.clone().expect("the cut hit a write");
        assert_eq!(cut.0, Superblock::slot_offset(newest.seq + 1), "seed {seed}: the open wrote the slot the newest copy is not in");
        assert_eq!(cut.1.len(), SUPERBLOCK_BYTES);
        dev.restart();
        let mut slots = corfu_engine::aligned::AlignedBuf::zeroed(SUPERBLOCK_BYTES);
        corfu_engine::device::Device::read_at(&mut dev.clone(), cut.0, &mut slots).unwrap();
        if slots[..] != cut.1[..] {
            torn += 1;
        }
        let store = open(&dev, SyncMode::Always);
        assert_eq!(store.superblock().epoch, 5, "seed {seed}: the seal was lost");
    }
    // The cuts did tear the slot: each of its 8 sectors lands with probability 1/2, and
    // only the sectors that changed (sequence, generation, checksum) show it. With these
    // seeds, 8 of the 16 did.
    assert!(torn >= 4, "only {torn} of 16 cuts tore the superblock slot");
}

#[test]
fn a_cut_in_the_superblock_write_of_a_seal_keeps_the_seal_before_it() {
    let mut torn = 0;
    for seed in 0..16u64 {
        let dev = fresh_sim(2 * 1024 * 1024, seed, 4096);
        let mut store = open(&dev, SyncMode::Always);
        match one(&mut store, Request::Seal { epoch: 5 }) {
            Response::Seal(Ok(_)) => {}
            other => panic!("seal: {other:?}"),
        }
        let newest = read_superblock(&mut dev.clone()).unwrap().expect("formatted");
        // The next seal's only write is the superblock: the power goes out in it.
        dev.arm_power_loss(0, LossMode::TornSectors);
        assert!(matches!(one(&mut store, Request::Seal { epoch: 6 }), Response::Seal(Err(_))), "seed {seed}: the seal survived its cut");
        drop(store);
        let cut = dev.state.lock().unwrap().cut_write.clone().expect("the cut hit a write");
        assert_eq!(cut.0, Superblock::slot_offset(newest.seq + 1), "seed {seed}: the seal wrote the slot the newest copy is not in");
        dev.restart();
        let mut slot = corfu_engine::aligned::AlignedBuf::zeroed(SUPERBLOCK_BYTES);
        corfu_engine::device::Device::read_at(&mut dev.clone(), cut.0, &mut slot).unwrap();
        if slot[..] != cut.1[..] {
            torn += 1;
        }
        let store = open(&dev, SyncMode::Always);
        assert!(store.superblock().epoch >= 5, "seed {seed}: the acknowledged seal at 5 was lost");
    }
    assert!(torn >= 4, "only {torn} of 16 cuts tore the superblock slot");
}
