//! The recovery scan reads the log through a sliding window of 4,096 pages (16 MiB). The
//! crash campaigns run on 3 MiB devices and never slide it; here the log since the last
//! index summary is several windows long (large entries: fewer records than a summary's
//! trigger, more pages than a window), so the window reloads at flushes that straddle
//! its end, and power cuts land in the second and later windows, tearing multi-page
//! flushes there.

mod common;

use std::collections::HashMap;

use common::*;
use corfu_engine::device::sim::{LossMode, SimDevice, SplitMix64};
use corfu_engine::store::Response;
use corfu_engine::{Store, SyncMode};

const WINDOW_PAGES: u64 = 4096;
const DEVICE_BYTES: u64 = 96 * 1024 * 1024;
const MAX_ENTRY_BYTES: u32 = 16 * 1024;

/// One round of 1..=3 write requests of 1..=48 entries each, 1 B .. 16 KiB (mostly a page
/// or more, so flushes run from one page to a few hundred and straddle window ends).
fn round(rng: &mut SplitMix64, next_addr: &mut u64) -> Vec<Vec<(u64, Vec<u8>)>> {
    (0..1 + rng.below(3))
        .map(|_| {
            (0..1 + rng.below(48))
                .map(|_| {
                    let a = *next_addr;
                    *next_addr += 1;
                    let len = match rng.below(4) {
                        0 => 1 + rng.below(300),
                        1 => 4000 + rng.below(200),
                        _ => rng.below(MAX_ENTRY_BYTES as u64 + 1),
                    } as usize;
                    (a, payload(a, rng.next_u64(), len))
                })
                .collect()
        })
        .collect()
}

/// Runs rounds until `stop` says so or a round fails; returns the acknowledged and the
/// in-doubt entries.
fn run(store: &mut Store<SimDevice>, rng: &mut SplitMix64, next_addr: &mut u64, rounds: u64) -> (HashMap<u64, Vec<u8>>, HashMap<u64, Vec<u8>>) {
    let (mut acked, mut doubt) = (HashMap::new(), HashMap::new());
    let epoch = store.superblock().epoch;
    for _ in 0..rounds {
        let batches = round(rng, next_addr);
        let reqs: Vec<Req> = batches.iter().map(|b| write_req(epoch, b)).collect();
        let mut failed = false;
        for (resp, batch) in store.execute(&reqs).iter().zip(&batches) {
            match resp {
                Response::Write(Ok(out)) => {
                    for (i, (a, p)) in batch.iter().enumerate() {
                        assert_eq!(out.status[i], 0, "address {a}: fresh write refused");
                        acked.insert(*a, p.clone());
                    }
                }
                Response::Write(Err(_)) => {
                    failed = true;
                    doubt.extend(batch.iter().cloned());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        if failed {
            break;
        }
    }
    (acked, doubt)
}

/// Every acknowledged entry reads its bytes; an in-doubt one reads its bytes or unwritten;
/// nothing else was ever written.
fn check(store: &mut Store<SimDevice>, acked: &HashMap<u64, Vec<u8>>, doubt: &HashMap<u64, Vec<u8>>, next_addr: u64, what: &str) {
    let epoch = store.superblock().epoch;
    let all: Vec<u64> = (0..next_addr + 2).collect();
    for addrs in all.chunks(512) {
        let out = read(store, epoch, addrs);
        let mut at = 0;
        for (i, &a) in addrs.iter().enumerate() {
            let got = match (out.status[i], out.kinds[i]) {
                (0, 1) => {
                    let len = out.lengths[i] as usize;
                    at += len;
                    Seen::Data(out.data[at - len..at].to_vec())
                }
                (2, _) => Seen::Unwritten,
                (s, k) => Seen::Other(s * 16 + k),
            };
            match (acked.get(&a), doubt.get(&a), got) {
                (Some(want), _, Seen::Data(d)) => assert!(d == *want, "{what}: acknowledged address {a} reads other bytes"),
                (Some(_), _, got) => panic!("{what}: acknowledged address {a} reads {got:?}"),
                (None, Some(want), Seen::Data(d)) => assert!(d == *want, "{what}: in-doubt address {a} reads torn bytes"),
                (None, _, Seen::Unwritten) => {}
                (None, _, got) => panic!("{what}: address {a}, never acknowledged, reads {got:?}"),
            }
        }
    }
}

#[test]
fn a_clean_reopen_scans_several_windows() {
    let dev = fresh_sim(DEVICE_BYTES, 77, MAX_ENTRY_BYTES);
    let mut store = open(&dev, SyncMode::Always);
    let mut rng = SplitMix64(77);
    let mut next_addr = 0;
    let (acked, doubt) = run(&mut store, &mut rng, &mut next_addr, 200);
    assert!(doubt.is_empty());
    let written_pages = store.stats().next_seq;
    drop(store);
    let read_before = dev.state.lock().unwrap().read_bytes;
    let mut store = open(&dev, SyncMode::Always);
    let read_pages = (dev.state.lock().unwrap().read_bytes - read_before) / 4096;
    let st = store.stats();
    assert_eq!(st.recovery_summaries, 0, "the run stayed below a summary's trigger: the whole log is scanned");
    assert_eq!(st.recovery_pages, written_pages, "the scan read every flush");
    assert!(st.recovery_pages > 2 * WINDOW_PAGES, "the scan slid its window: {} pages", st.recovery_pages);
    // Reopen time is the scan's reads: each window is read once, whole, and a new one
    // starts only at a flush that straddles the old one's end. This run's log (12,550
    // pages) takes four windows: the log plus less than one window of overlap and of the
    // last window's unwritten rest. A window read twice (a reload at its own start) is a
    // fifth.
    eprintln!("reopen read {read_pages} pages for a log of {written_pages}");
    assert!(read_pages <= written_pages + WINDOW_PAGES, "the scan read {read_pages} pages for a log of {written_pages}");
    check(&mut store, &acked, &doubt, next_addr, "clean reopen");
}

fn power_cuts(mode: LossMode, from_seed: u64) {
    let mut cut_pages = Vec::new();
    for seed in from_seed..from_seed + seeds(12) {
        let dev = fresh_sim(DEVICE_BYTES, seed, MAX_ENTRY_BYTES);
        let mut store = open(&dev, SyncMode::Always);
        let mut rng = SplitMix64(seed);
        let mut next_addr = 0;
        // About 40 pages a round: the cut lands after one to three windows.
        let rounds = 100 + rng.below(100);
        let (mut acked, _) = run(&mut store, &mut rng, &mut next_addr, rounds);
        dev.arm_power_loss(rng.below(40), mode);
        let (more, doubt) = run(&mut store, &mut rng, &mut next_addr, 1000);
        acked.extend(more);
        assert!(!dev.powered(), "seed {seed}: the power cut did not land");
        drop(store);
        dev.restart();
        let mut store = open(&dev, SyncMode::Always);
        cut_pages.push(store.stats().recovery_pages);
        check(&mut store, &acked, &doubt, next_addr, &format!("seed {seed}"));
        // The recovered store takes new work where the torn flush was.
        let a = next_addr;
        let epoch = store.superblock().epoch;
        assert_eq!(write(&mut store, epoch, &[(a, payload(a, 9, 5000))]).status[0], 0, "seed {seed}: recovered store refuses a write");
        drop(store);
        let mut store = open(&dev, SyncMode::Always);
        acked.insert(a, payload(a, 9, 5000));
        check(&mut store, &acked, &HashMap::new(), a + 1, &format!("seed {seed}, reopened after a write"));
    }
    assert!(
        cut_pages.iter().filter(|&&p| p > WINDOW_PAGES).count() * 2 > cut_pages.len(),
        "most cuts landed past the first window: {cut_pages:?}"
    );
}

#[test]
fn power_cuts_past_the_first_window_dropping_unsynced_writes() {
    power_cuts(LossMode::DropUnsynced, 1);
}

#[test]
fn power_cuts_past_the_first_window_tearing_sectors() {
    power_cuts(LossMode::TornSectors, 500);
}
