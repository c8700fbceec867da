//! The edges of one flush, as a user sees them: how records pack into pages (stats'
//! pages and flushes against the layout's arithmetic), the exact point where a device is
//! full (the last entry that fits is taken, one byte more is ERR_FULL, nothing acked is
//! touched), a round of more records than one flush may hold, a second write of an
//! address still staged in the round (ERR_WRITTEN, same or different), and a small flush
//! after a big one bringing nothing of the big one back at reopen.

mod common;

use std::collections::BTreeMap;

use common::*;
use corfu_engine::device::sim::{SimDevice, SplitMix64};
use corfu_engine::flush::MAX_FLUSH_RECORDS;
use corfu_engine::layout::{MAX_FLUSH_PAGES, MIN_DEVICE_BYTES, PAGE_BODY_BYTES, RECORD_HEADER_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::{CheckpointTrigger, Code, Store, SyncMode, WriteOutcome, Written};

const MAX_ENTRY: u32 = 64 * 1024;
const MIB: u64 = 1024 * 1024;

/// Pages a record stream of `bytes` occupies: records pack back to back across page bodies.
fn pages(bytes: usize) -> u64 {
    bytes.div_ceil(PAGE_BODY_BYTES) as u64
}

/// Pages of each flush one round of `lens` writes (every entry accepted, the flush empty
/// at the start): a flush ends at `MAX_FLUSH_RECORDS` records or `MAX_FLUSH_PAGES` pages.
fn packed(lens: impl IntoIterator<Item = usize>) -> Vec<u64> {
    let (mut flushes, mut stream, mut records) = (Vec::new(), 0usize, 0usize);
    for len in lens {
        if records == MAX_FLUSH_RECORDS || stream + RECORD_HEADER_BYTES + len > MAX_FLUSH_PAGES * PAGE_BODY_BYTES {
            flushes.push(pages(stream));
            (stream, records) = (0, 0);
        }
        stream += RECORD_HEADER_BYTES + len;
        records += 1;
    }
    if records > 0 {
        flushes.push(pages(stream));
    }
    flushes
}

/// The payload length whose record ends exactly at the end of the page body that stream
/// offset `off` is in (the next page's body if fewer than a record header's bytes are left).
fn fill_page(off: usize) -> usize {
    let left = PAGE_BODY_BYTES - off % PAGE_BODY_BYTES;
    if left >= RECORD_HEADER_BYTES {
        left - RECORD_HEADER_BYTES
    } else {
        left + PAGE_BODY_BYTES - RECORD_HEADER_BYTES
    }
}

fn describe(s: &Seen) -> String {
    match s {
        Seen::Data(d) => format!("data of {} bytes", d.len()),
        other => format!("{other:?}"),
    }
}

/// What each of `addrs` reads as (chunked: one read request per 4,096 addresses).
fn read_all(store: &mut Store<SimDevice>, addrs: &[u64]) -> Vec<Seen> {
    let epoch = store.superblock().epoch;
    let mut seen = Vec::with_capacity(addrs.len());
    for chunk in addrs.chunks(4096) {
        let out = read(store, epoch, chunk);
        let mut at = 0usize;
        for i in 0..chunk.len() {
            seen.push(match (out.status[i], out.kinds[i]) {
                (0, 1) => {
                    let len = out.lengths[i] as usize;
                    at += len;
                    Seen::Data(out.data[at - len..at].to_vec())
                }
                (0, 2) => Seen::Junk,
                (2, _) => Seen::Unwritten,
                (3, _) => Seen::Trimmed,
                (s, _) => Seen::Other(s),
            });
        }
        assert_eq!(at, out.data.len(), "a read answered more bytes than its entries' lengths");
    }
    seen
}

/// Every address in `expected` reads as expected (data byte for byte).
fn check(store: &mut Store<SimDevice>, expected: &BTreeMap<u64, Seen>, when: &str) {
    let addrs: Vec<u64> = expected.keys().copied().collect();
    for ((a, want), got) in expected.iter().zip(read_all(store, &addrs)) {
        assert!(got == *want, "{when}: address {a} reads {}, expected {}", describe(&got), describe(want));
    }
}

fn statuses(out: &WriteOutcome) -> Vec<(u8, u8)> {
    out.status.iter().copied().zip(out.written.iter().copied()).collect()
}

const OK: (u8, u8) = (Code::Ok as u8, Written::Na as u8);
const FULL: (u8, u8) = (Code::Full as u8, Written::Na as u8);
const SAME: (u8, u8) = (Code::Written as u8, Written::Same as u8);
const DIFFERENT: (u8, u8) = (Code::Written as u8, Written::Different as u8);

/// Writes one round of `lens` at fresh addresses from `*next`; each entry is predicted OK
/// iff its record still fits the free pages after the records of the round accepted
/// before it. Checks the statuses, and that the round wrote one flush of exactly the
/// pages its accepted records pack into. Returns the statuses.
fn round(store: &mut Store<SimDevice>, cells: &mut BTreeMap<u64, Seen>, next: &mut u64, lens: &[usize], salt: u64) -> Vec<(u8, u8)> {
    let before = store.stats();
    let mut off = 0usize;
    let mut entries = Vec::new();
    let mut want = Vec::new();
    for &len in lens {
        let a = *next;
        *next += 1;
        let bytes = payload(a, salt, len);
        if before.used_pages + pages(off + RECORD_HEADER_BYTES + len) <= before.data_pages {
            off += RECORD_HEADER_BYTES + len;
            want.push(OK);
            cells.insert(a, Seen::Data(bytes.clone()));
        } else {
            want.push(FULL);
            cells.insert(a, Seen::Unwritten);
        }
        entries.push((a, bytes));
    }
    let out = write(store, before.epoch, &entries);
    let got = statuses(&out);
    assert_eq!(got, want, "statuses of a round of {lens:?} with {} of {} pages used", before.used_pages, before.data_pages);
    let after = store.stats();
    assert_eq!(after.pages_written - before.pages_written, pages(off), "pages of a round of {lens:?}");
    assert_eq!(after.flushes - before.flushes, u64::from(off > 0), "flushes of a round of {lens:?}");
    got
}

/// Mixed sizes: small, crossing one or more page boundaries, and exactly filling the rest
/// of a page's body (as the round's records before it left it).
fn mixed_lens(rng: &mut SplitMix64, n: u64) -> Vec<usize> {
    let mut off = 0usize;
    (0..n)
        .map(|_| {
            let len = match rng.below(3) {
                0 => rng.below(300) as usize,
                1 => 3000 + rng.below(9000) as usize,
                _ => fill_page(off),
            };
            off += RECORD_HEADER_BYTES + len;
            len
        })
        .collect()
}

fn fill_to_full(sync: SyncMode, seed: u64) {
    let dev = fresh_sim(MIN_DEVICE_BYTES, seed, MAX_ENTRY);
    let mut store = open(&dev, sync);
    let data_pages = store.stats().data_pages;
    let mut rng = SplitMix64(seed);
    let mut cells = BTreeMap::new();
    let mut next = 0u64;

    // Rounds of mixed sizes until one is refused: the first refusal is ERR_FULL, exactly
    // where the layout says the device has no room left.
    let first = mixed_lens(&mut rng, 3);
    round(&mut store, &mut cells, &mut next, &first, seed);
    let first_pages = store.stats().pages_written;
    let first_end = next;
    loop {
        let n = 1 + rng.below(10);
        let lens = mixed_lens(&mut rng, n);
        if round(&mut store, &mut cells, &mut next, &lens, seed).contains(&FULL) {
            break;
        }
    }
    check(&mut store, &cells, "after the first ERR_FULL");

    // Free the first round's pages: the next flush wraps the circle onto them, and must
    // stop exactly there. The last entry that fits is taken; one byte more is refused.
    let left = store.stats().free_pages;
    let epoch = store.superblock().epoch;
    match one(&mut store, Request::PrefixTrim { epoch, address: first_end }) {
        Response::PrefixTrim(Ok(())) => {}
        other => panic!("{other:?}"),
    }
    for a in 0..first_end {
        cells.insert(a, Seen::Trimmed);
    }
    let free = store.stats().free_pages;
    assert_eq!(free, left + first_pages, "the prefix trim frees the first round's flush");
    let room = free as usize * PAGE_BODY_BYTES;
    let mut lens = Vec::new();
    let mut off = 0usize;
    for len in [100, 5000] {
        if off + 2 * RECORD_HEADER_BYTES + len <= room {
            lens.push(len);
            off += RECORD_HEADER_BYTES + len;
        }
    }
    let exact = room - off - RECORD_HEADER_BYTES;
    assert!(exact < MAX_ENTRY as usize, "the test's geometry: {exact} bytes left");
    lens.extend([exact + 1, exact, 0, 1]);
    let got = round(&mut store, &mut cells, &mut next, &lens, seed);
    assert_eq!(got[got.len() - 4..], [FULL, OK, FULL, FULL], "the last entry that fits, and one byte more");
    assert_eq!(store.stats().free_pages, 0);

    // Full: every write is refused, nothing acknowledged changes, before and after a reopen.
    for _ in 0..3 {
        let lens = mixed_lens(&mut rng, 5);
        assert!(round(&mut store, &mut cells, &mut next, &lens, seed).iter().all(|&s| s == FULL));
    }
    check(&mut store, &cells, "full");
    drop(store);
    let mut store = open(&dev, sync);
    check(&mut store, &cells, "full, reopened");
    assert!(round(&mut store, &mut cells, &mut next, &[0, 1, 4000], seed).iter().all(|&s| s == FULL));
    check(&mut store, &cells, "full, reopened, written to");
    assert_eq!(store.stats().data_pages, data_pages);
}

#[test]
fn a_device_fills_to_the_exact_byte_and_refuses_the_next_with_err_full() {
    for seed in 0..seeds(8) {
        fill_to_full(SyncMode::Always, seed);
        fill_to_full(SyncMode::None, 100 + seed);
    }
}

#[test]
fn small_entries_pack_back_to_back_across_pages() {
    let dev = fresh_sim(4 * MIB, 3, MAX_ENTRY);
    let mut store = open(&dev, SyncMode::Always);
    let mut cells = BTreeMap::new();
    let mut next = 0u64;
    // 103-byte payloads make 127-byte records, 32 to a page body exactly: 3,200 of them
    // fill 100 pages, and one more record takes a page of its own.
    assert_eq!(PAGE_BODY_BYTES % (RECORD_HEADER_BYTES + 103), 0);
    round(&mut store, &mut cells, &mut next, &[103; 3200], 1);
    assert_eq!(store.stats().pages_written, 100);
    round(&mut store, &mut cells, &mut next, &[103; 3201], 1);
    assert_eq!(store.stats().pages_written, 201);
    // 10,000 entries of 1..=120 bytes: one flush of ceil(records' bytes / page body) pages.
    let lens: Vec<usize> = (0..10_000).map(|i| 1 + (i * 37) % 120).collect();
    let bytes: usize = lens.iter().map(|l| RECORD_HEADER_BYTES + l).sum();
    round(&mut store, &mut cells, &mut next, &lens, 1);
    let st = store.stats();
    assert_eq!((st.flushes, st.pages_written), (3, 201 + bytes.div_ceil(PAGE_BODY_BYTES) as u64));
    check(&mut store, &cells, "packed");
    drop(store);
    let mut store = open(&dev, SyncMode::Always);
    check(&mut store, &cells, "packed, reopened");
}

#[test]
fn a_round_of_more_records_than_a_flush_holds_takes_several_flushes() {
    // With the summary chain alone, then with checkpoints as they fall due.
    for trigger in [CheckpointTrigger::OnCloseOnly, CheckpointTrigger::Auto] {
        round_of_more_records_than_a_flush_holds(trigger);
    }
}

fn round_of_more_records_than_a_flush_holds(trigger: CheckpointTrigger) {
    let dev = fresh_sim(8 * MIB, 4, MAX_ENTRY);
    let mut store = open(&dev, SyncMode::Always);
    store.set_checkpoint_trigger(trigger);
    let mut expected = BTreeMap::new();
    let mut next = 0u64;
    // One record more than a flush may hold, then a round long enough that an index
    // summary (or a checkpoint in its place) is written between its flushes.
    for n in [MAX_FLUSH_RECORDS + 1, 40_000] {
        let entries: Vec<(u64, Vec<u8>)> = (next..next + n as u64).map(|a| (a, payload(a, 2, (a % 9) as usize))).collect();
        next += n as u64;
        let before = store.stats();
        let out = write(&mut store, 0, &entries);
        assert!(out.status.iter().all(|&s| s == Code::Ok as u8), "a refused entry in a round of {n}");
        let after = store.stats();
        let flushes = after.flushes - before.flushes;
        if n == MAX_FLUSH_RECORDS + 1 {
            let want = packed(entries.iter().map(|e| e.1.len()));
            assert_eq!(want.len(), 2);
            assert_eq!((flushes, after.pages_written - before.pages_written), (2, want.iter().sum::<u64>()), "a round of {n} records");
        } else {
            assert!(flushes >= 3, "a round of {n} records in {flushes} flushes");
        }
        expected.extend(entries.into_iter().map(|(a, d)| (a, Seen::Data(d))));
    }
    check(&mut store, &expected, "written");
    drop(store);
    let mut store = open(&dev, SyncMode::Always);
    if trigger == CheckpointTrigger::OnCloseOnly {
        assert!(store.stats().recovery_summaries >= 1, "the reopen used the index summary");
    } else {
        assert!(store.stats().recovery_checkpoint_bytes > 0, "the reopen used the checkpoint written mid-round");
    }
    check(&mut store, &expected, "reopened");
}

#[test]
fn a_second_write_of_an_address_staged_in_the_same_round_is_err_written_same_or_different() {
    let dev = fresh_sim(4 * MIB, 5, MAX_ENTRY);
    let mut store = open(&dev, SyncMode::Always);
    let p = |a: u64| payload(a, 1, 300);
    let q = |a: u64| payload(a, 2, 300);
    // One call: the address twice, first record of the flush and later ones.
    let out = write(&mut store, 0, &[(10, p(10)), (10, p(10)), (11, p(11)), (11, q(11)), (12, p(12)), (12, p(12)[..299].to_vec())]);
    assert_eq!(statuses(&out), [OK, SAME, OK, DIFFERENT, OK, DIFFERENT]);
    let big = |salt: u64| payload(21, salt, 5000);
    let out = write(&mut store, 0, &[(20, p(20)), (21, big(1)), (22, p(22)), (21, big(1)), (21, big(2))]);
    assert_eq!(statuses(&out), [OK, OK, OK, SAME, DIFFERENT]);
    // Several write calls in one round: the later ones see the first one's staged record.
    let answers = store.execute(&[
        write_req(0, &[(30, p(30))]),
        write_req(0, &[(30, p(30))]),
        write_req(0, &[(30, q(30)), (31, p(31))]),
        write_req(0, &[(31, p(31)), (30, p(30))]),
    ]);
    let got: Vec<Vec<(u8, u8)>> = answers
        .into_iter()
        .map(|r| match r {
            Response::Write(Ok(out)) => statuses(&out),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, [vec![OK], vec![SAME], vec![DIFFERENT, OK], vec![SAME, SAME]]);
    // The same answers once the records are durable, and the first write's bytes stay.
    let out = write(&mut store, 0, &[(10, p(10)), (11, q(11)), (21, big(1)), (30, q(30))]);
    assert_eq!(statuses(&out), [SAME, DIFFERENT, SAME, DIFFERENT]);
    let expected: BTreeMap<u64, Seen> = [
        (10, Seen::Data(p(10))),
        (11, Seen::Data(p(11))),
        (12, Seen::Data(p(12))),
        (20, Seen::Data(p(20))),
        (21, Seen::Data(big(1))),
        (22, Seen::Data(p(22))),
        (30, Seen::Data(p(30))),
        (31, Seen::Data(p(31))),
        (13, Seen::Unwritten),
    ]
    .into_iter()
    .collect();
    check(&mut store, &expected, "written");
    drop(store);
    let mut store = open(&dev, SyncMode::Always);
    check(&mut store, &expected, "reopened");
}

#[test]
fn a_small_flush_after_a_big_one_brings_nothing_back_at_reopen() {
    const BIG: u64 = 300;
    const LEN: usize = 100;
    const RECORD: usize = RECORD_HEADER_BYTES + LEN;
    // The one entry of the small flush ends where the `m`th record of the big flush
    // began, so any of the big flush's records left behind it would parse.
    for m in [34, 50, 70, 90] {
        let dev = fresh_sim(4 * MIB, 6, MAX_ENTRY);
        let mut store = open(&dev, SyncMode::Always);
        let mut expected = BTreeMap::new();
        let entries: Vec<(u64, Vec<u8>)> = (0..BIG).map(|a| (a, payload(a, 1, LEN))).collect();
        assert!(write(&mut store, 0, &entries).status.iter().all(|&s| s == Code::Ok as u8));
        assert_eq!(store.stats().pages_written, pages(BIG as usize * RECORD));
        expected.extend(entries.into_iter().map(|(a, d)| (a, Seen::Data(d))));

        let trims: Vec<u64> = (40..BIG).filter(|a| a % 3 == 1).collect();
        let requests = [Request::PrefixTrim { epoch: 0, address: 40 }, Request::Trim { epoch: 0, addresses: trims.clone() }];
        let answers = store.execute::<Vec<u8>>(&requests);
        assert!(matches!(&answers[..], [Response::PrefixTrim(Ok(())), Response::Trim(Ok(s))] if s.iter().all(|&s| s == 0)), "{answers:?}");
        for a in (0..40).chain(trims) {
            expected.insert(a, Seen::Trimmed);
        }

        let small = payload(1000, 1, m * RECORD - RECORD_HEADER_BYTES);
        assert_eq!(statuses(&write(&mut store, 0, &[(1000, small.clone())])), [OK]);
        expected.insert(1000, Seen::Data(small));
        for a in (BIG..1000).chain(1001..1100) {
            expected.insert(a, Seen::Unwritten);
        }
        check(&mut store, &expected, "written");
        drop(store);
        let mut store = open(&dev, SyncMode::Always);
        check(&mut store, &expected, &format!("reopened (small entry of {m} records' bytes)"));
        let Response::Tail(t) = one(&mut store, Request::Tail { epoch: 0 }) else { panic!() };
        assert_eq!(t.unwrap(), 1001);
    }
}

#[test]
fn a_trim_in_the_same_round_as_the_write_it_trims_wins_before_and_after_a_reopen() {
    let dev = fresh_sim(4 * MIB, 9, MAX_ENTRY);
    let mut store = open(&dev, SyncMode::Always);
    // One round: writes of 0..8, a trim of 3 (staged after its write), more writes.
    let rs = store.execute(&[
        write_req(0, &(0..8u64).map(|a| (a, payload(a, 9, 100))).collect::<Vec<_>>()),
        Request::Trim { epoch: 0, addresses: vec![3] },
        write_req(0, &(8..12u64).map(|a| (a, payload(a, 9, 100))).collect::<Vec<_>>()),
    ]);
    assert!(
        rs.iter().all(|r| matches!(r, Response::Write(Ok(o)) if o.status.iter().all(|&s| s == 0))
            || matches!(r, Response::Trim(Ok(s)) if s.iter().all(|&x| x == 0))),
        "{rs:?}"
    );
    for pass in ["same store", "reopened"] {
        for a in 0..12u64 {
            let want = if a == 3 { Seen::Trimmed } else { Seen::Data(payload(a, 9, 100)) };
            assert_eq!(seen(&read(&mut store, 0, &[a])), want, "{pass}: address {a}");
        }
        assert_eq!(store.stats().addresses, 12, "{pass}");
        drop(store);
        store = open(&dev, SyncMode::Always);
    }
}
