//! Index checkpoints: a reopen through one rebuilds exactly what a full scan of the log
//! rebuilds; a clean close leaves a checkpoint and the next open reads it and nothing
//! else; after a crash the open reads the checkpoint and the log since; one spanning
//! several flushes round-trips; one the head has passed is ignored; a version-1 device
//! opens through its summary chain and is upgraded; a live checkpoint that does not
//! verify, or cannot be read, fails the open loudly.

mod common;

use std::collections::BTreeMap;

use common::*;
use corfu_engine::checkpoint::PART_BYTES;
use corfu_engine::device::sim::{SimDevice, SplitMix64};
use corfu_engine::layout::{Superblock, FORMAT_VERSION, PAGE_BYTES, PAGE_HEADER_BYTES, RECORD_HEADER_BYTES, SUPERBLOCK_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::{read_superblock, CheckpointTrigger, Code, Store, SyncMode};

const MIB: u64 = 1024 * 1024;
const WINDOW_PAGES: u64 = 4096;

#[derive(Clone, Debug, PartialEq)]
enum V {
    Data(Vec<u8>),
    Junk,
    Trimmed,
}

/// What the store must answer: the plain sequential semantics of tests/model.rs.
#[derive(Default)]
struct Model {
    cells: BTreeMap<u64, V>,
    trim_mark: u64,
    tail: u64,
}

impl Model {
    fn get(&self, a: u64) -> Option<&V> {
        if a < self.trim_mark {
            Some(&V::Trimmed)
        } else {
            self.cells.get(&a)
        }
    }
}

/// One request of a random workload: mostly appends (batches at stride 1 or 2, so the
/// index keeps runs), some fills, trims, rewrites (ERR_WRITTEN) and prefix trims.
fn step(store: &mut Store<SimDevice>, rng: &mut SplitMix64, m: &mut Model, next: &mut u64) {
    let epoch = store.superblock().epoch;
    match rng.below(20) {
        0..=13 => {
            let stride = 1 + rng.below(2);
            let n = 1 + rng.below(200);
            let len = match rng.below(3) {
                0 => rng.below(40),
                1 => 128,
                _ => rng.below(3000),
            } as usize;
            let entries: Vec<(u64, Vec<u8>)> = (0..n)
                .map(|i| {
                    let a = if rng.below(50) == 0 { rng.below(*next + 1) } else { *next + i * stride };
                    (a, payload(a, 3, len))
                })
                .collect();
            *next += n * stride;
            let out = write(store, epoch, &entries);
            for (i, (a, p)) in entries.iter().enumerate() {
                if out.status[i] == Code::Ok as u8 {
                    assert!(m.get(*a).is_none(), "address {a} written twice");
                    m.cells.insert(*a, V::Data(p.clone()));
                    m.tail = m.tail.max(a + 1);
                }
            }
        }
        14 | 15 => {
            let a = *next + rng.below(3);
            let Response::Write(Ok(out)) = one(store, Request::Fill { epoch, addresses: vec![a] }) else { panic!("fill failed") };
            if out.status[0] == Code::Ok as u8 {
                m.cells.insert(a, V::Junk);
                m.tail = m.tail.max(a + 1);
            }
        }
        16 | 17 => {
            let a = rng.below(*next + 1);
            let Response::Trim(Ok(status)) = one(store, Request::Trim { epoch, addresses: vec![a] }) else { panic!("trim failed") };
            if status[0] == Code::Ok as u8 && m.get(a) != Some(&V::Trimmed) {
                m.cells.insert(a, V::Trimmed);
                m.tail = m.tail.max(a + 1);
            }
        }
        _ => {
            // Keep the live log at most a few thousand addresses behind: the circle wraps.
            let mark = next.saturating_sub(1500 + rng.below(3000));
            let Response::PrefixTrim(Ok(())) = one(store, Request::PrefixTrim { epoch, address: mark }) else { panic!("prefix trim failed") };
            m.trim_mark = m.trim_mark.max(mark);
            m.tail = m.tail.max(m.trim_mark);
        }
    }
}

/// Every address up to past the tail reads what the model says.
fn check_model(store: &mut Store<SimDevice>, m: &Model, what: &str) {
    let epoch = store.superblock().epoch;
    let addrs: Vec<u64> = (m.trim_mark.saturating_sub(10)..m.tail + 5).collect();
    for chunk in addrs.chunks(1024) {
        let out = read(store, epoch, chunk);
        let mut at = 0;
        for (i, &a) in chunk.iter().enumerate() {
            let got = (out.status[i], out.kinds[i]);
            match m.get(a) {
                Some(V::Trimmed) => assert_eq!(got.0, Code::Trimmed as u8, "{what}: address {a}"),
                Some(V::Junk) => assert_eq!(got, (0, 2), "{what}: address {a}"),
                None => assert_eq!(got.0, Code::Unwritten as u8, "{what}: address {a}"),
                Some(V::Data(d)) => {
                    assert_eq!(got, (0, 1), "{what}: address {a}");
                    let len = out.lengths[i] as usize;
                    assert_eq!(&out.data[at..at + len], &d[..], "{what}: address {a}");
                    at += len;
                }
            }
        }
    }
    let Response::Tail(Ok(tail)) = one(store, Request::Tail { epoch }) else { panic!() };
    assert_eq!(tail, m.tail, "{what}: the tail");
}

/// A copy of the device whose superblocks point at no checkpoint and no summary: its open
/// scans the whole log from the head.
fn without_checkpoint_or_summaries(dev: &SimDevice) -> SimDevice {
    let copy = SimDevice::new(dev.state.lock().unwrap().durable.len() as u64, 1);
    let mut sb = read_superblock(&mut dev.clone()).unwrap().unwrap();
    copy.state.lock().unwrap().durable = dev.state.lock().unwrap().durable.clone();
    sb.ckpt_seq = u64::MAX;
    sb.ckpt_bytes = 0;
    sb.ckpt_pages = 0;
    sb.summary_seq = u64::MAX;
    let mut s = copy.state.lock().unwrap();
    for seq in [sb.seq, sb.seq + 1] {
        sb.seq = seq;
        let at = Superblock::slot_offset(seq) as usize;
        s.durable[at..at + SUPERBLOCK_BYTES].copy_from_slice(&sb.encode());
    }
    drop(s);
    copy
}

/// Opens the device twice — as it is (through its checkpoint) and with no checkpoint and
/// no summaries (a scan of the whole log) — and compares: the same log end, head, tail,
/// trim mark and live flushes, and for every address from the trim mark to past the
/// tail the same index slot (page, offset, length, kind). Returns the checkpoint store.
fn same_as_a_full_scan(dev: &SimDevice, what: &str) -> Store<SimDevice> {
    let scanned = Store::open(without_checkpoint_or_summaries(dev), SyncMode::Always).expect("open by a full scan");
    let store = open(dev, SyncMode::Always);
    let (a, b) = (store.stats(), scanned.stats());
    assert!(a.recovery_checkpoint_bytes > 0, "{what}: the open used the checkpoint");
    assert_eq!(b.recovery_checkpoint_bytes + b.recovery_summaries, 0, "{what}: the other open scanned");
    assert_eq!(
        (a.next_seq, a.head_seq, a.tail, a.trim_mark, a.used_pages),
        (b.next_seq, b.head_seq, b.tail, b.trim_mark, b.used_pages),
        "{what}: log end, head, tail, trim mark, used pages"
    );
    assert_eq!(store.live_flushes(), scanned.live_flushes(), "{what}: the live flushes");
    assert_eq!(store.live_flushes().is_empty(), a.used_pages == 0, "{what}: live flushes exactly when pages are used");
    let (ia, ib) = (store.shared(), scanned.shared());
    let (ia, ib) = (ia.index(), ib.index());
    for addr in a.trim_mark..a.tail + 4096 {
        assert_eq!(ia.get(addr), ib.get(addr), "{what}: the index at address {addr}");
    }
    assert!(ib.max_address().is_none_or(|x| ia.max_address() >= Some(x)), "{what}: the highest address");
    drop((ia, ib));
    store
}

/// Random workloads over a small circle (it wraps many times), with checkpoints every
/// few flushes, reopened through the checkpoint (after a drop, as after a crash, and
/// after a clean close) and compared with a full scan and with the model.
#[test]
fn a_reopen_through_a_checkpoint_rebuilds_what_a_full_scan_does() {
    for seed in 0..seeds(24) {
        let mut rng = SplitMix64(seed);
        let dev = fresh_sim(3 * MIB, seed, 4096);
        let mut m = Model::default();
        let mut next = 0u64;
        let mut store = open(&dev, SyncMode::Always);
        for lap in 0..6 {
            store.set_checkpoint_trigger(CheckpointTrigger::EveryFlushes(1 + rng.below(6)));
            for _ in 0..40 + rng.below(80) {
                step(&mut store, &mut rng, &mut m, &mut next);
            }
            let what = format!("seed {seed}, lap {lap}");
            if lap % 2 == 0 {
                drop(store);
            } else {
                store.close().expect("clean close");
            }
            let sb = read_superblock(&mut dev.clone()).unwrap().unwrap();
            if sb.ckpt_seq == u64::MAX || sb.ckpt_seq < sb.head_seq {
                // The head passed the newest checkpoint: the summaries and the scan serve.
                store = open(&dev, SyncMode::Always);
            } else {
                store = same_as_a_full_scan(&dev, &what);
            }
            check_model(&mut store, &m, &what);
        }
        assert!(store.stats().next_seq > 3 * store.stats().data_pages, "seed {seed}: the circle wrapped");
    }
}

/// A clean close leaves a checkpoint of the whole log: the next open reads it and no
/// page of the log, no summary. A second close with nothing new writes nothing.
#[test]
fn a_clean_close_leaves_a_checkpoint_and_the_open_reads_only_it() {
    let dev = fresh_sim(64 * MIB, 3, 4096);
    let mut store = open(&dev, SyncMode::Always);
    store.set_checkpoint_trigger(CheckpointTrigger::OnCloseOnly);
    let mut m = Model::default();
    for a in 0..100_000u64 {
        m.cells.insert(a, V::Data(payload(a, 3, 20)));
    }
    m.tail = 100_000;
    for from in (0..100_000u64).step_by(5000) {
        let entries: Vec<(u64, Vec<u8>)> = (from..from + 5000).map(|a| (a, payload(a, 3, 20))).collect();
        write(&mut store, 0, &entries);
    }
    let dev_after = store.close().expect("close");
    let sb = read_superblock(&mut dev_after.clone()).unwrap().unwrap();
    assert_eq!(sb.format_version, FORMAT_VERSION);
    assert_ne!(sb.ckpt_seq, u64::MAX, "the close wrote a checkpoint");
    let (writes, read_before) = {
        let s = dev.state.lock().unwrap();
        (s.writes, s.read_bytes)
    };
    let mut store = open(&dev, SyncMode::Always);
    let st = store.stats();
    let read = dev.state.lock().unwrap().read_bytes - read_before;
    eprintln!("clean reopen: checkpoint of {} bytes ({} pages), read {read} bytes", st.checkpoint_bytes, st.checkpoint_pages);
    assert_eq!((st.recovery_summaries, st.recovery_pages), (0, 0), "nothing but the checkpoint");
    assert_eq!(st.recovery_checkpoint_bytes, sb.ckpt_bytes);
    // The superblocks, the checkpoint's pages, and the one scan window that finds no flush after it.
    assert!(read <= 2 * SUPERBLOCK_BYTES as u64 + (st.checkpoint_pages + WINDOW_PAGES) * PAGE_BYTES as u64, "read {read} bytes");
    check_model(&mut store, &m, "after a clean close");
    // Nothing new: the close leaves the checkpoint as it is (only the superblock is written).
    store.close().expect("close");
    assert_eq!(dev.state.lock().unwrap().writes, writes + 1, "a second close writes nothing (the open wrote its superblock)");
    assert_eq!(read_superblock(&mut dev.clone()).unwrap().unwrap().ckpt_seq, sb.ckpt_seq);
}

/// A store that never took an entry closes without a checkpoint: its log stays empty, so
/// an operator's tools (and `corfu up`, which reformats only used spares) see it unused.
#[test]
fn a_clean_close_of_an_empty_store_writes_no_checkpoint() {
    let dev = fresh_sim(64 * MIB, 3, 4096);
    let store = open(&dev, SyncMode::Always);
    let dev_after = store.close().expect("close");
    let sb = read_superblock(&mut dev_after.clone()).unwrap().unwrap();
    assert_eq!(sb.ckpt_seq, u64::MAX, "no checkpoint of an empty log");
    let store = open(&dev, SyncMode::Always);
    assert_eq!(store.stats().used_pages, 0, "the log is still empty after a close and a reopen");
}

/// After a crash the open reads the newest checkpoint and the log after it, however long
/// the log before it: at most the checkpoint, the summaries and pages since, and one scan
/// window past the log's end.
#[test]
fn a_reopen_after_a_checkpoint_reads_only_it_and_the_log_since() {
    let dev = fresh_sim(256 * MIB, 8, 4096);
    let mut store = open(&dev, SyncMode::Always);
    let mut next = 0u64;
    // ~190 MiB of 128-byte entries in batches of 4,000 at stride 2 (one stripe of two):
    // the automatic trigger writes a checkpoint where each summary falls due.
    while store.stats().next_seq < 48_000 {
        let entries: Vec<(u64, Vec<u8>)> = (0..4000).map(|i| (next + 2 * i, payload(next + 2 * i, 1, 128))).collect();
        next += 8000;
        write(&mut store, 0, &entries);
    }
    let st = store.stats();
    assert!(st.checkpoints_written >= 10, "{} checkpoints", st.checkpoints_written);
    assert_ne!(st.checkpoint_seq, u64::MAX);
    let since = st.next_seq - st.checkpoint_seq - st.checkpoint_pages;
    let log = st.next_seq;
    drop(store);
    let read_before = dev.state.lock().unwrap().read_bytes;
    let mut store = open(&dev, SyncMode::Always);
    let read_pages = (dev.state.lock().unwrap().read_bytes - read_before) / PAGE_BYTES as u64;
    let st = store.stats();
    eprintln!(
        "log {log} pages; checkpoint {} bytes ({} pages), {since} pages since; the open read {read_pages} pages, scanned {}, {} summaries, index {} bytes",
        st.checkpoint_bytes, st.checkpoint_pages, st.recovery_pages, st.recovery_summaries, st.index_bytes
    );
    assert!(st.recovery_checkpoint_bytes > 0, "the open used the checkpoint");
    assert_eq!(st.recovery_pages, since, "the scan read only the flushes after the checkpoint");
    assert!(read_pages <= st.checkpoint_pages + since + WINDOW_PAGES + 2, "the open read {read_pages} pages of a {log}-page log");
    assert!(read_pages * 4 < log, "the open read a quarter of the log or more: {read_pages} of {log}");
    let epoch = store.superblock().epoch;
    let probe: Vec<u64> = (0..next).step_by(997).collect();
    let out = read(&mut store, epoch, &probe);
    for (i, &a) in probe.iter().enumerate() {
        assert_eq!(out.status[i], if a % 2 == 0 { 0 } else { Code::Unwritten as u8 }, "address {a}");
    }
}

/// Dense chunks (every 4,096-address chunk with one address trimmed out of order) make
/// a checkpoint larger than one flush: it spans parts, and reopens whole.
#[test]
fn a_checkpoint_of_several_flushes_round_trips() {
    let dev = fresh_sim(64 * MIB, 4, 4096);
    let mut store = open(&dev, SyncMode::Always);
    store.set_checkpoint_trigger(CheckpointTrigger::OnCloseOnly);
    let mut m = Model::default();
    let n = 160 * 4096u64;
    for from in (0..n).step_by(16_000) {
        let entries: Vec<(u64, Vec<u8>)> = (from..(from + 16_000).min(n)).map(|a| (a, payload(a, 3, (a % 5) as usize))).collect();
        for (a, p) in &entries {
            m.cells.insert(*a, V::Data(p.clone()));
        }
        write(&mut store, 0, &entries);
    }
    let trims: Vec<u64> = (0..160).map(|c| c * 4096 + 7).collect();
    let Response::Trim(Ok(_)) = one(&mut store, Request::Trim { epoch: 0, addresses: trims.clone() }) else { panic!() };
    for a in trims {
        m.cells.insert(a, V::Trimmed);
    }
    m.tail = n;
    store.close().expect("close");
    let sb = read_superblock(&mut dev.clone()).unwrap().unwrap();
    assert!(sb.ckpt_bytes > PART_BYTES as u64, "the checkpoint spans flushes: {} bytes", sb.ckpt_bytes);
    let mut store = same_as_a_full_scan(&dev, "dense");
    check_model(&mut store, &m, "a checkpoint of several parts");
}

/// Once the head passes the newest checkpoint (everything it describes trimmed), the
/// checkpoint is dead: the open walks the summaries from the head and scans.
#[test]
fn a_checkpoint_the_head_passed_is_ignored() {
    let dev = fresh_sim(4 * MIB, 5, 4096);
    let mut store = open(&dev, SyncMode::Always);
    store.set_checkpoint_trigger(CheckpointTrigger::OnCloseOnly);
    let entries: Vec<(u64, Vec<u8>)> = (0..50).map(|a| (a, payload(a, 3, 100))).collect();
    write(&mut store, 0, &entries);
    store.close().expect("close");
    let mut store = open(&dev, SyncMode::Always);
    store.set_checkpoint_trigger(CheckpointTrigger::OnCloseOnly);
    let ckpt = store.stats().checkpoint_seq;
    let Response::PrefixTrim(Ok(())) = one(&mut store, Request::PrefixTrim { epoch: 0, address: 50 }) else { panic!() };
    let entries: Vec<(u64, Vec<u8>)> = (50..80).map(|a| (a, payload(a, 3, 100))).collect();
    write(&mut store, 0, &entries);
    let Response::PrefixTrim(Ok(())) = one(&mut store, Request::PrefixTrim { epoch: 0, address: 51 }) else { panic!() };
    assert!(store.stats().head_seq > ckpt, "the head passed the checkpoint");
    drop(store);
    let mut store = open(&dev, SyncMode::Always);
    assert_eq!(store.stats().recovery_checkpoint_bytes, 0, "the dead checkpoint was not read");
    let m = Model { cells: entries.into_iter().map(|(a, p)| (a, V::Data(p))).collect(), trim_mark: 51, tail: 80 };
    check_model(&mut store, &m, "past a dead checkpoint");
}

/// A device formatted by version 1 (no checkpoint fields) opens through its summary
/// chain and is version 2 from then on.
#[test]
fn a_version_1_device_opens_and_is_upgraded() {
    let dev = fresh_sim(8 * MIB, 6, 4096);
    let mut store = open(&dev, SyncMode::Always);
    store.set_checkpoint_trigger(CheckpointTrigger::OnCloseOnly);
    let entries: Vec<(u64, Vec<u8>)> = (0..40_000).map(|a| (a, payload(a, 3, 10))).collect();
    write(&mut store, 0, &entries);
    assert_ne!(store.superblock().summary_seq, u64::MAX, "a summary was written");
    drop(store);
    {
        // What version 1 wrote: version 1, zeros where the checkpoint pointer is now.
        let mut sb = read_superblock(&mut dev.clone()).unwrap().unwrap();
        let mut s = dev.state.lock().unwrap();
        sb.format_version = 1;
        for seq in [sb.seq, sb.seq + 1] {
            sb.seq = seq;
            let mut b = sb.encode();
            b[152..176].fill(0);
            let crc = crc32c::crc32c(&b[12..]);
            b[8..12].copy_from_slice(&crc.to_le_bytes());
            let at = Superblock::slot_offset(seq) as usize;
            s.durable[at..at + SUPERBLOCK_BYTES].copy_from_slice(&b);
        }
    }
    let mut store = open(&dev, SyncMode::Always);
    assert!(store.stats().recovery_summaries >= 1, "the open walked the summaries");
    assert_eq!(store.superblock().format_version, FORMAT_VERSION, "upgraded at open");
    let m = Model { cells: entries.into_iter().map(|(a, p)| (a, V::Data(p))).collect(), trim_mark: 0, tail: 40_000 };
    check_model(&mut store, &m, "a version-1 device");
    store.close().unwrap();
    let sb = read_superblock(&mut dev.clone()).unwrap().unwrap();
    assert_eq!(sb.format_version, FORMAT_VERSION);
    let mut store = open(&dev, SyncMode::Always);
    assert!(store.stats().recovery_checkpoint_bytes > 0);
    check_model(&mut store, &m, "a version-1 device, upgraded and closed");
}

/// A store closed with a checkpoint; returns the device, the model, and the device bytes
/// of the checkpoint's first part's payload (after its record header).
fn with_checkpoint() -> (SimDevice, Model, std::ops::Range<u64>) {
    let dev = fresh_sim(8 * MIB, 9, 4096);
    let mut store = open(&dev, SyncMode::Always);
    let entries: Vec<(u64, Vec<u8>)> = (0..5000).map(|a| (a, payload(a, 3, 30))).collect();
    write(&mut store, 0, &entries);
    store.close().unwrap();
    let sb = read_superblock(&mut dev.clone()).unwrap().unwrap();
    let page = sb.data_start + (sb.ckpt_seq % sb.data_pages) * PAGE_BYTES as u64;
    let at = page + (PAGE_HEADER_BYTES + RECORD_HEADER_BYTES) as u64;
    let m = Model { cells: entries.into_iter().map(|(a, p)| (a, V::Data(p))).collect(), trim_mark: 0, tail: 5000 };
    (dev, m, at..at + sb.ckpt_bytes.min(1000))
}

#[test]
fn a_damaged_checkpoint_fails_the_open_with_err_corrupt() {
    let (dev, m, bytes) = with_checkpoint();
    for at in [bytes.start, bytes.start + 40, bytes.end - 1] {
        dev.state.lock().unwrap().durable[at as usize] ^= 0x10;
        match Store::open(dev.clone(), SyncMode::Always) {
            Err(e) => {
                assert_eq!(e.code(), Code::Corrupt, "{e}");
                assert!(e.to_string().contains("index checkpoint"), "{e}");
            }
            Ok(_) => panic!("a store whose checkpoint does not verify opened"),
        }
        dev.state.lock().unwrap().durable[at as usize] ^= 0x10;
    }
    let mut store = open(&dev, SyncMode::Always);
    check_model(&mut store, &m, "the byte put back");
}

#[test]
fn a_read_error_on_a_checkpoint_fails_the_open_with_err_io() {
    let (dev, m, bytes) = with_checkpoint();
    dev.state.lock().unwrap().failing_reads = Some(bytes);
    match Store::open(dev.clone(), SyncMode::Always) {
        Err(e) => assert_eq!(e.code(), Code::Io, "{e}"),
        Ok(_) => panic!("a store whose checkpoint cannot be read opened"),
    }
    dev.state.lock().unwrap().failing_reads = None;
    let mut store = open(&dev, SyncMode::Always);
    check_model(&mut store, &m, "readable again");
}

/// On a real file through O_DIRECT and io_uring: checkpoints fall due as the log grows, a
/// reopen after a drop reads the newest one and the log since, a clean close leaves one
/// that the next open reads alone, and every entry reads back.
#[test]
fn on_a_real_file_a_reopen_goes_through_the_checkpoint() {
    use corfu_engine::path::open_store;
    let (_dir, path) = formatted_file(64 << 20, None);
    let mut store = open_store(&path, SyncMode::None).unwrap();
    let n = 150_000u64;
    for from in (0..n).step_by(5000) {
        let entries: Vec<(u64, Vec<u8>)> = (from..from + 5000).map(|a| (a, payload(a, 4, 64))).collect();
        let Response::Write(Ok(out)) = store.execute(&[write_req(0, &entries)]).pop().unwrap() else { panic!("write failed") };
        assert!(out.status.iter().all(|&s| s == 0));
    }
    assert!(store.stats().checkpoints_written >= 3, "{} checkpoints", store.stats().checkpoints_written);
    drop(store);
    let read_all = |store: &mut Store<corfu_engine::device::uring::UringDevice>| {
        for from in (0..n).step_by(4096) {
            let addrs: Vec<u64> = (from..(from + 4096).min(n)).collect();
            let Response::Read(Ok(out)) = store.execute::<Vec<u8>>(&[Request::Read { epoch: 0, addresses: addrs.clone() }]).pop().unwrap()
            else {
                panic!("read failed")
            };
            for (i, &a) in addrs.iter().enumerate() {
                assert_eq!((out.status[i], out.kinds[i]), (0, 1), "address {a}");
                assert_eq!(&out.data[i * 64..(i + 1) * 64], &payload(a, 4, 64)[..], "address {a}");
            }
        }
    };
    let mut store = open_store(&path, SyncMode::None).unwrap();
    let st = store.stats();
    assert!(st.recovery_checkpoint_bytes > 0 && st.recovery_pages > 0, "the checkpoint and the log since: {st:?}");
    read_all(&mut store);
    store.close().unwrap();
    let mut store = open_store(&path, SyncMode::None).unwrap();
    let st = store.stats();
    assert!(st.recovery_checkpoint_bytes > 0, "{st:?}");
    assert_eq!((st.recovery_pages, st.recovery_summaries), (0, 0), "the checkpoint alone");
    read_all(&mut store);
}
