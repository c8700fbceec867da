//! Index summaries: reopening uses them (few pages scanned), they stay right across the
//! circle's wrap and prefix trims, and a power cut at any write — including the flush
//! that carries a summary and the superblock that points at it — loses nothing acked. A
//! summary the device gives back damaged, or cannot read, fails the open loudly.

mod common;

use common::*;
use corfu_engine::device::sim::{LossMode, SimDevice, SplitMix64};
use corfu_engine::layout::{PAGE_BODY_BYTES, PAGE_BYTES, PAGE_HEADER_BYTES, RECORD_HEADER_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::summary::TRIGGER_PAGES;
use corfu_engine::{CheckpointTrigger, Code, Store, SyncMode};

const ENTRY: usize = 8;

/// A store that writes no checkpoint but at a clean close (these tests never close
/// cleanly): the summary chain alone describes the log, as on a device whose checkpoint
/// the head has passed. tests/checkpoint.rs runs the same workloads with checkpoints.
fn open_chain(dev: &SimDevice) -> Store<SimDevice> {
    let mut store = open(dev, SyncMode::Always);
    store.set_checkpoint_trigger(CheckpointTrigger::OnCloseOnly);
    store
}

fn append(store: &mut Store<SimDevice>, from: u64, n: u64) -> Option<u64> {
    let entries: Vec<(u64, Vec<u8>)> = (from..from + n).map(|a| (a, payload(a, 1, ENTRY))).collect();
    match store.execute(&[write_req(store.superblock().epoch, &entries)]).pop().unwrap() {
        Response::Write(Ok(out)) => {
            assert!(out.status.iter().all(|&s| s == 0), "append refused: {:?}", out.status.iter().find(|&&s| s != 0));
            Some(from + n)
        }
        _ => None,
    }
}

/// Every address in `[lo, hi)` reads its payload; everything in `[0, lo)` is trimmed.
fn verify(store: &mut Store<SimDevice>, lo: u64, hi: u64) {
    let epoch = store.superblock().epoch;
    let mut a = 0;
    while a < hi {
        let addrs: Vec<u64> = (a..(a + 4096).min(hi)).collect();
        let out = read(store, epoch, &addrs);
        let mut at = 0;
        for (i, &x) in addrs.iter().enumerate() {
            if x < lo {
                assert_eq!(out.status[i], 3, "address {x} should be trimmed");
            } else {
                assert_eq!((out.status[i], out.kinds[i]), (0, 1), "address {x}");
                assert_eq!(&out.data[at..at + ENTRY], &payload(x, 1, ENTRY)[..], "address {x}");
                at += ENTRY;
            }
        }
        a += 4096;
    }
}

#[test]
fn reopen_reads_summaries_not_the_whole_log() {
    let dev = fresh_sim(32 * 1024 * 1024, 5, 4096);
    let mut store = open_chain(&dev);
    let mut next = 0;
    for _ in 0..300 {
        next = append(&mut store, next, 1000).unwrap();
    }
    drop(store);
    let mut store = open_chain(&dev);
    let st = store.stats();
    // 300,000 entries make a summary each 32 Ki records: about nine, all still live.
    assert!((5..=10).contains(&st.recovery_summaries), "summaries used: {}", st.recovery_summaries);
    assert!(st.recovery_pages <= TRIGGER_PAGES + 1024, "scanned {} pages", st.recovery_pages);
    verify(&mut store, 0, next);

    // Trim the front, keep writing until the circle wraps twice, reopen each lap.
    let mut lo = 0;
    for _lap in 0..6 {
        lo = next - 100_000;
        match store.execute::<Vec<u8>>(&[Request::PrefixTrim { epoch: 0, address: lo }]).pop().unwrap() {
            Response::PrefixTrim(Ok(())) => {}
            other => panic!("{other:?}"),
        }
        for _ in 0..150 {
            next = append(&mut store, next, 1000).unwrap();
        }
        drop(store);
        store = open_chain(&dev);
        verify(&mut store, lo, next);
    }
    assert!(store.stats().next_seq > 2 * store.stats().data_pages, "the circle wrapped");
    let _ = lo;
}

#[test]
fn power_cuts_around_summaries_lose_nothing_acknowledged() {
    for seed in 0..seeds(40) {
        let mut rng = SplitMix64(seed);
        let dev = fresh_sim(16 * 1024 * 1024, seed, 4096);
        let mut acked = 0u64;
        let mut lo = 0u64;
        for _cut in 0..3 {
            let mut store = open_chain(&dev);
            verify(&mut store, lo, acked);
            dev.arm_power_loss(rng.below(120), if seed % 2 == 0 { LossMode::DropUnsynced } else { LossMode::TornSectors });
            let mut next = acked;
            // Addresses continue after the last acked one: an in-doubt batch may survive.
            let mut in_doubt_to = acked;
            loop {
                if rng.below(20) == 0 && next > 60_000 {
                    let mark = next - 50_000;
                    match store.execute::<Vec<u8>>(&[Request::PrefixTrim { epoch: store.superblock().epoch, address: mark }]).pop().unwrap() {
                        Response::PrefixTrim(Ok(())) => lo = lo.max(mark),
                        _ => break,
                    }
                }
                let n = 500 + rng.below(1500);
                in_doubt_to = next + n;
                match append(&mut store, next, n) {
                    Some(end) => {
                        next = end;
                        acked = end;
                    }
                    None => break,
                }
            }
            drop(store);
            dev.restart();
            let mut store = open_chain(&dev);
            verify(&mut store, lo, acked);
            // The batch in doubt: whole or absent per entry, never different bytes.
            let addrs: Vec<u64> = (acked..in_doubt_to).collect();
            let epoch = store.superblock().epoch;
            let out = read(&mut store, epoch, &addrs);
            let mut at = 0;
            for (i, &a) in addrs.iter().enumerate() {
                if out.status[i] == 0 {
                    assert_eq!(&out.data[at..at + ENTRY], &payload(a, 1, ENTRY)[..], "seed {seed} address {a}");
                    at += ENTRY;
                } else {
                    assert_eq!(out.status[i], 2, "seed {seed} address {a}");
                }
            }
            // Continue above anything that may have survived.
            acked = in_doubt_to;
            let fill: Vec<u64> = addrs.iter().zip(&out.status).filter(|(_, &s)| s != 0).map(|(a, _)| *a).collect();
            if !fill.is_empty() {
                // Fill the holes so later checks see a dense log of data (junk reads differ).
                let entries: Vec<(u64, Vec<u8>)> = fill.iter().map(|&a| (a, payload(a, 1, ENTRY))).collect();
                assert!(matches!(store.execute(&[write_req(epoch, &entries)]).pop().unwrap(), Response::Write(Ok(_))));
            }
        }
    }
}

/// A store with a few index summaries, closed; returns the device and the next address.
fn with_summaries() -> (SimDevice, u64) {
    let dev = fresh_sim(32 * 1024 * 1024, 9, 4096);
    let mut store = open_chain(&dev);
    let mut next = 0;
    for _ in 0..80 {
        next = append(&mut store, next, 1000).unwrap();
    }
    assert_ne!(store.superblock().summary_seq, u64::MAX, "a summary was written");
    (dev, next)
}

/// The device bytes of the newest summary's record payload (it starts its flush's first page).
fn newest_summary_bytes(dev: &SimDevice) -> std::ops::Range<u64> {
    let sb = open_chain(dev).superblock().clone();
    let page = sb.data_start + (sb.summary_seq % sb.data_pages) * PAGE_BYTES as u64;
    let at = page + (PAGE_HEADER_BYTES + sb.summary_off as usize + RECORD_HEADER_BYTES) as u64;
    at..at + u64::from(sb.summary_len).min((PAGE_BODY_BYTES - RECORD_HEADER_BYTES) as u64)
}

#[test]
fn a_damaged_summary_fails_the_open_instead_of_truncating_the_log() {
    let (dev, next) = with_summaries();
    let bytes = newest_summary_bytes(&dev);
    dev.state.lock().unwrap().durable[bytes.start as usize + 5] ^= 0x40;
    match Store::open(dev.clone(), SyncMode::Always) {
        Err(e) => assert_eq!(e.code(), Code::Corrupt, "{e}"),
        Ok(_) => panic!("a store whose index summary does not verify opened"),
    }
    // Put the byte back: every acknowledged entry is still there, nothing was rewritten.
    dev.state.lock().unwrap().durable[bytes.start as usize + 5] ^= 0x40;
    let mut store = open_chain(&dev);
    verify(&mut store, 0, next);
}

#[test]
fn a_read_error_on_a_summary_fails_the_open_with_err_io() {
    let (dev, next) = with_summaries();
    let bytes = newest_summary_bytes(&dev);
    dev.state.lock().unwrap().failing_reads = Some(bytes);
    match Store::open(dev.clone(), SyncMode::Always) {
        Err(e) => assert_eq!(e.code(), Code::Io, "{e}"),
        Ok(_) => panic!("a store whose index summary cannot be read opened"),
    }
    dev.state.lock().unwrap().failing_reads = None;
    let mut store = open_chain(&dev);
    verify(&mut store, 0, next);
}

/// Appends `[from, from + n)` and returns the end of what was taken: a full circle takes a
/// prefix of the batch and answers ERR_FULL for the rest, and for everything after it.
fn append_until_full(store: &mut Store<SimDevice>, from: u64, n: u64) -> u64 {
    let entries: Vec<(u64, Vec<u8>)> = (from..from + n).map(|a| (a, payload(a, 1, ENTRY))).collect();
    let Response::Write(Ok(out)) = store.execute(&[write_req(store.superblock().epoch, &entries)]).pop().unwrap() else {
        panic!("the round failed")
    };
    let taken = out.status.iter().take_while(|&&s| s == Code::Ok as u8).count();
    assert!(out.status[taken..].iter().all(|&s| s == Code::Full as u8), "after a full answer only full ones: {:?}", out.status);
    from + taken as u64
}

/// A summary that falls due while the circle has no room for it waits: the store answers
/// ERR_FULL, never writes the summary over live pages, and writes it once a prefix trim
/// frees pages. Several device sizes put the due summary at different distances from the
/// full mark; on some of them it finds no room.
#[test]
fn a_summary_due_while_the_circle_is_full_waits_for_room() {
    for size_mib in [3u64, 4, 5, 6, 7] {
        let dev = fresh_sim(size_mib * 1024 * 1024 + 4096 * size_mib, size_mib, 4096);
        let mut store = open_chain(&dev);
        let mut next = 0;
        loop {
            let end = append_until_full(&mut store, next, 700);
            if end < next + 700 {
                next = end;
                break;
            }
            next = end;
        }
        assert_eq!(append_until_full(&mut store, next, 10), next, "{size_mib} MiB: a full circle takes nothing");
        verify(&mut store, 0, next);

        let lo = next / 2;
        let epoch = store.superblock().epoch;
        match store.execute::<Vec<u8>>(&[Request::PrefixTrim { epoch, address: lo }]).pop().unwrap() {
            Response::PrefixTrim(Ok(())) => {}
            other => panic!("{other:?}"),
        }
        for _ in 0..20 {
            next = append_until_full(&mut store, next, 700);
        }
        drop(store);
        let mut store = open_chain(&dev);
        verify(&mut store, lo, next);
    }
}
