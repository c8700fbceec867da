//! Recovery takes a flush only whole. A power cut can leave a multi-page flush with its
//! first page on the device and the rest still holding what was there before: pages of
//! the previous lap of the circular log, whose headers verify (same format) and whose
//! records are real, only old. Recovery must stop at such a flush: none of its records,
//! and none of the old lap's, may come back as data. After a clean close the same holds
//! where the log ends: the page after its last flush is the old lap's, a whole flush of
//! its own, and must not be taken for the next one.

mod common;

use std::collections::BTreeMap;

use common::*;
use corfu_engine::layout::{PAGE_BODY_BYTES, PAGE_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::SyncMode;

const MAX_ENTRY: u32 = 16 * 1024;
const MIB: u64 = 1024 * 1024;
/// Records of 3,000 bytes straddle page bodies, so a flush of eight is several pages long.
const ENTRY_BYTES: usize = 3000;
const _: () = assert!(ENTRY_BYTES < PAGE_BODY_BYTES, "entries smaller than a page body: several to a flush, some straddling two pages");
const PER_FLUSH: u64 = 8;

fn batch(first: u64, salt: u64) -> Vec<(u64, Vec<u8>)> {
    (first..first + PER_FLUSH).map(|a| (a, payload(a, salt, ENTRY_BYTES))).collect()
}

fn tear(seed: u64) {
    let dev = fresh_sim(2 * MIB, seed, MAX_ENTRY);
    let mut store = open(&dev, SyncMode::Always);
    let epoch = store.superblock().epoch;
    let data_pages = store.stats().data_pages;
    let data_start = store.superblock().data_start as usize;
    let mut next = 0u64;
    let mut expect: BTreeMap<u64, Vec<u8>> = BTreeMap::new();

    // Lap 1: most of the circle, then trimmed away, so lap 2 writes over its pages.
    while store.stats().next_seq + 16 < data_pages {
        assert_eq!(write(&mut store, epoch, &batch(next, seed)).status, vec![0; PER_FLUSH as usize]);
        next += PER_FLUSH;
    }
    let lap1_end = next;
    match one(&mut store, Request::PrefixTrim { epoch, address: lap1_end }) {
        Response::PrefixTrim(Ok(())) => {}
        other => panic!("{other:?}"),
    }

    // Lap 2: past the end of the circle, a few flushes into the old lap's pages.
    while store.stats().next_seq < data_pages + 8 + seed % 5 {
        assert_eq!(write(&mut store, epoch, &batch(next, seed)).status, vec![0; PER_FLUSH as usize]);
        expect.extend(batch(next, seed));
        next += PER_FLUSH;
    }

    // The flush to tear: written whole, then all but its first page put back as they were.
    let before = dev.state.lock().unwrap().durable.clone();
    let start_seq = store.stats().next_seq;
    let torn = batch(next, seed);
    assert_eq!(write(&mut store, epoch, &torn).status, vec![0; PER_FLUSH as usize]);
    let pages = store.stats().next_seq - start_seq;
    assert!(pages >= 3, "the torn flush spans several pages ({pages})");
    drop(store);
    {
        let mut s = dev.state.lock().unwrap();
        for seq in start_seq + 1..start_seq + pages {
            let at = data_start + ((seq % data_pages) as usize) * PAGE_BYTES;
            assert!(before[at..at + PAGE_BYTES] != s.durable[at..at + PAGE_BYTES], "the old page differs");
            let old = before[at..at + PAGE_BYTES].to_vec();
            s.durable[at..at + PAGE_BYTES].copy_from_slice(&old);
        }
    }

    let mut store = open(&dev, SyncMode::Always);
    assert_eq!(store.stats().next_seq, start_seq, "recovery stops at the torn flush");
    for a in 0..lap1_end {
        assert_eq!(seen(&read(&mut store, epoch, &[a])), Seen::Trimmed, "seed {seed}: lap 1's address {a}");
    }
    for (a, p) in &expect {
        assert_eq!(seen(&read(&mut store, epoch, &[*a])), Seen::Data(p.clone()), "seed {seed}: acknowledged address {a}");
    }
    // The torn flush was never acknowledged (its sync did not finish): none of it is there,
    // and its addresses take new writes.
    for (a, _) in &torn {
        assert_eq!(seen(&read(&mut store, epoch, &[*a])), Seen::Unwritten, "seed {seed}: torn address {a}");
    }
    let again = batch(next, seed ^ 1);
    assert_eq!(write(&mut store, epoch, &again).status, vec![0; PER_FLUSH as usize]);
    for (a, p) in &again {
        assert_eq!(seen(&read(&mut store, epoch, &[*a])), Seen::Data(p.clone()));
    }
}

#[test]
fn a_flush_torn_after_its_first_page_over_an_older_lap_brings_nothing_back() {
    for seed in 0..seeds(6) {
        tear(seed);
    }
}

/// Single-page flushes (one small entry each) around the circle and a third of the way
/// again: after a clean close the page after the log's end is a whole one-page flush of
/// the previous lap, same format, same generation, only its sequence number is old.
fn reopen_at_the_end_of_a_lap(seed: u64) {
    let dev = fresh_sim(2 * MIB, 100 + seed, MAX_ENTRY);
    let mut store = open(&dev, SyncMode::Always);
    let epoch = store.superblock().epoch;
    let data_pages = store.stats().data_pages;
    let mut expect: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let one_page = |a: u64| vec![(a, payload(a, seed, 100 + (a % 7) as usize))];
    let mut next = 0u64;
    while store.stats().next_seq + 2 < data_pages {
        assert_eq!(write(&mut store, epoch, &one_page(next)).status, vec![0]);
        next += 1;
    }
    let lap1_end = next;
    match one(&mut store, Request::PrefixTrim { epoch, address: lap1_end }) {
        Response::PrefixTrim(Ok(())) => {}
        other => panic!("{other:?}"),
    }
    while store.stats().next_seq < data_pages + data_pages / 3 + seed {
        assert_eq!(write(&mut store, epoch, &one_page(next)).status, vec![0]);
        expect.extend(one_page(next));
        next += 1;
    }
    let end = store.stats().next_seq;
    drop(store);

    let mut store = open(&dev, SyncMode::Always);
    assert_eq!(store.stats().next_seq, end, "seed {seed}: the log ends where it ended");
    assert_eq!(store.stats().tail, next, "seed {seed}: the tail");
    for (a, p) in &expect {
        assert_eq!(seen(&read(&mut store, epoch, &[*a])), Seen::Data(p.clone()), "seed {seed}: address {a}");
    }
    assert_eq!(seen(&read(&mut store, epoch, &[next])), Seen::Unwritten);
    assert_eq!(write(&mut store, epoch, &one_page(next)).status, vec![0]);
    drop(store);
    let mut store = open(&dev, SyncMode::Always);
    assert_eq!(store.stats().next_seq, end + 1, "seed {seed}: one flush more");
    assert_eq!(seen(&read(&mut store, epoch, &[next])), Seen::Data(one_page(next)[0].1.clone()));
}

#[test]
fn a_clean_reopen_after_a_lap_ends_at_the_log_not_in_the_lap_before() {
    for seed in 0..seeds(4) {
        reopen_at_the_end_of_a_lap(seed);
    }
}
