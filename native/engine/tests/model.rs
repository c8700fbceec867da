//! The store against a simple model under random sequences of write, fill, trim, prefix
//! trim, seal, read and reopen (proptest). One request per round, so the model is plain
//! sequential semantics.

mod common;

use std::collections::HashMap;

use common::*;
use corfu_engine::layout::{PAGE_BODY_BYTES, RECORD_HEADER_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::Written;
use corfu_engine::{CheckpointTrigger, Code, EngineError, SyncMode};
use proptest::prelude::*;

const MAX_ENTRY: u32 = 6000;

#[derive(Clone, Debug)]
enum Op {
    Write {
        addrs: Vec<(u64, usize, u64)>,
        stale: bool,
    },
    Fill(u64),
    Trim(u64),
    PrefixTrim(u64),
    Seal,
    Read(Vec<u64>),
    Reopen,
    /// A clean close (it writes an index checkpoint), then an open.
    CloseAndOpen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec((0u64..200, prop_oneof![0usize..200, 3000usize..6100], 0u64..3), 1..12), prop::bool::weighted(0.05))
            .prop_map(|(addrs, stale)| Op::Write { addrs, stale }),
        1 => (0u64..200).prop_map(Op::Fill),
        1 => (0u64..200).prop_map(Op::Trim),
        1 => (0u64..200).prop_map(Op::PrefixTrim),
        1 => Just(Op::Seal),
        3 => prop::collection::vec(0u64..220, 1..10).prop_map(Op::Read),
        1 => Just(Op::Reopen),
        1 => Just(Op::CloseAndOpen),
    ]
}

#[derive(Clone, Debug, PartialEq)]
enum V {
    Data(Vec<u8>),
    Junk,
    Trimmed,
}

struct Model {
    cells: HashMap<u64, V>,
    trim_mark: u64,
    epoch: u64,
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

fn run(ops: Vec<Op>, sync: SyncMode, trigger: CheckpointTrigger) {
    // 2 MiB: ~240 data pages, so long runs wrap the circle and fill it.
    let dev = fresh_sim(2 * 1024 * 1024 + 64 * 1024, 1, MAX_ENTRY);
    let open = |dev| {
        let mut store = open(dev, sync);
        store.set_checkpoint_trigger(trigger);
        store
    };
    let mut store = open(&dev);
    let mut m = Model { cells: HashMap::new(), trim_mark: 0, epoch: 0, tail: 0 };
    for op in ops {
        match op {
            Op::Write { addrs, stale } => {
                let epoch = if stale { m.epoch + 1 } else { m.epoch };
                let entries: Vec<(u64, Vec<u8>)> = addrs.iter().map(|&(a, len, salt)| (a, payload(a, salt, len))).collect();
                let r = one(&mut store, write_req(epoch, &entries));
                let Response::Write(r) = r else { panic!() };
                if stale {
                    assert!(matches!(r, Err(EngineError::Sealed { unit_epoch, .. }) if unit_epoch == m.epoch));
                    continue;
                }
                let out = r.unwrap();
                for (i, (a, bytes)) in entries.iter().enumerate() {
                    let (status, detail) = (out.status[i], out.written[i]);
                    if bytes.len() > MAX_ENTRY as usize {
                        assert_eq!(status, Code::TooLarge as u8);
                        continue;
                    }
                    match m.get(*a).cloned() {
                        Some(V::Trimmed) => assert_eq!(status, Code::Trimmed as u8),
                        Some(V::Junk) => assert_eq!((status, detail), (Code::Written as u8, Written::Junk as u8)),
                        Some(V::Data(d)) => {
                            let expect = if &d == bytes { Written::Same as u8 } else { Written::Different as u8 };
                            assert_eq!((status, detail), (Code::Written as u8, expect), "address {a}");
                        }
                        None if status == Code::Full as u8 => {
                            let free = store.stats().free_pages as usize;
                            assert!(
                                free * PAGE_BODY_BYTES < 2 * (RECORD_HEADER_BYTES + bytes.len()) + 2 * PAGE_BODY_BYTES,
                                "ERR_FULL with {free} free pages"
                            );
                        }
                        None => {
                            assert_eq!(status, Code::Ok as u8, "address {a}");
                            m.cells.insert(*a, V::Data(bytes.clone()));
                            m.tail = m.tail.max(a + 1);
                        }
                    }
                }
            }
            Op::Fill(a) => {
                let Response::Write(r) = one(&mut store, Request::Fill { epoch: m.epoch, addresses: vec![a] }) else { panic!() };
                let out = r.unwrap();
                match m.get(a).cloned() {
                    Some(V::Trimmed) => assert_eq!(out.status[0], Code::Trimmed as u8),
                    Some(V::Junk) => assert_eq!((out.status[0], out.written[0]), (Code::Written as u8, Written::Junk as u8)),
                    Some(V::Data(_)) => assert_eq!((out.status[0], out.written[0]), (Code::Written as u8, Written::Different as u8)),
                    None if out.status[0] == Code::Full as u8 => {}
                    None => {
                        assert_eq!(out.status[0], Code::Ok as u8);
                        m.cells.insert(a, V::Junk);
                        m.tail = m.tail.max(a + 1);
                    }
                }
            }
            Op::Trim(a) => {
                let Response::Trim(r) = one(&mut store, Request::Trim { epoch: m.epoch, addresses: vec![a] }) else { panic!() };
                let status = r.unwrap()[0];
                if status == Code::Full as u8 {
                    continue;
                }
                assert_eq!(status, Code::Ok as u8);
                if m.get(a) != Some(&V::Trimmed) {
                    m.cells.insert(a, V::Trimmed);
                    m.tail = m.tail.max(a + 1);
                }
            }
            Op::PrefixTrim(a) => {
                let Response::PrefixTrim(r) = one(&mut store, Request::PrefixTrim { epoch: m.epoch, address: a }) else { panic!() };
                r.unwrap();
                m.trim_mark = m.trim_mark.max(a);
                m.tail = m.tail.max(m.trim_mark);
            }
            Op::Seal => {
                let Response::Seal(r) = one(&mut store, Request::Seal { epoch: m.epoch }) else { panic!() };
                assert!(matches!(r, Err(EngineError::Sealed { .. })), "sealing to the current epoch is refused");
                m.epoch += 1;
                let Response::Seal(r) = one(&mut store, Request::Seal { epoch: m.epoch }) else { panic!() };
                assert_eq!(r.unwrap(), m.tail, "seal answers the local tail");
            }
            Op::Read(addrs) => {
                let out = read(&mut store, m.epoch, &addrs);
                let mut at = 0usize;
                for (i, a) in addrs.iter().enumerate() {
                    let got = (out.status[i], out.kinds[i]);
                    match m.get(*a) {
                        Some(V::Trimmed) => assert_eq!(got.0, Code::Trimmed as u8, "address {a}"),
                        Some(V::Junk) => assert_eq!(got, (0, 2), "address {a}"),
                        None => assert_eq!(got.0, Code::Unwritten as u8, "address {a}"),
                        Some(V::Data(d)) => {
                            assert_eq!(got, (0, 1), "address {a}");
                            let len = out.lengths[i] as usize;
                            assert_eq!(&out.data[at..at + len], &d[..], "address {a}");
                            at += len;
                        }
                    }
                }
                assert_eq!(at, out.data.len());
            }
            Op::Reopen => {
                drop(store);
                store = open(&dev);
            }
            Op::CloseAndOpen => {
                store.close().expect("a clean close");
                // (Store::open asserts it loaded the checkpoint if the close left one.)
                store = open(&dev);
            }
        }
        let Response::Tail(t) = one(&mut store, Request::Tail { epoch: m.epoch }) else { panic!() };
        assert_eq!(t.unwrap(), m.tail);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: seeds(200) as u32, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        run(ops, SyncMode::Always, CheckpointTrigger::Auto);
    }

    #[test]
    fn store_matches_model_without_sync(ops in prop::collection::vec(op(), 1..60)) {
        run(ops, SyncMode::None, CheckpointTrigger::Auto);
    }

    /// With an index checkpoint after every two flushes: reopens go through checkpoints.
    #[test]
    fn store_matches_model_with_frequent_checkpoints(ops in prop::collection::vec(op(), 1..120)) {
        run(ops, SyncMode::Always, CheckpointTrigger::EveryFlushes(2));
    }
}
