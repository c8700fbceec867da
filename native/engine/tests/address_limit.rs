//! The highest address: the tail after it must stay exact as a JavaScript number.
//! Regression: a WRITE at 2^53 - 1 was accepted, the tail became 2^53, and the addon's
//! I/O thread died on the next TAIL or SEAL (the unit could never be sealed again).

mod common;

use common::*;
use corfu_engine::store::{Request, Response, MAX_ADDRESS};
use corfu_engine::{Code, EngineError, SyncMode};

fn tail(store: &mut corfu_engine::Store<corfu_engine::device::sim::SimDevice>) -> u64 {
    match one(store, Request::Tail { epoch: 0 }) {
        Response::Tail(Ok(t)) => t,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn entries_above_the_highest_address_are_refused_whole() {
    let dev = fresh_sim(2 * 1024 * 1024, 1, 4096);
    let mut store = open(&dev, SyncMode::Always);
    for bad in [MAX_ADDRESS + 1, u64::MAX] {
        // The good entry before the bad one is not written either: nothing is staged.
        let r = one(&mut store, write_req(0, &[(5, vec![1]), (bad, vec![2])]));
        assert!(matches!(r, Response::Write(Err(EngineError::BadRequest(_)))), "write at {bad}: {r:?}");
        let r = one(&mut store, Request::Fill { epoch: 0, addresses: vec![6, bad] });
        assert!(matches!(r, Response::Write(Err(EngineError::BadRequest(_)))), "fill at {bad}: {r:?}");
        let r = one(&mut store, Request::Trim { epoch: 0, addresses: vec![7, bad] });
        assert!(matches!(r, Response::Trim(Err(EngineError::BadRequest(_)))), "trim at {bad}: {r:?}");
    }
    let r = one(&mut store, Request::PrefixTrim { epoch: 0, address: MAX_ADDRESS + 2 });
    assert!(matches!(r, Response::PrefixTrim(Err(EngineError::BadRequest(_)))), "prefix trim: {r:?}");
    assert_eq!(tail(&mut store), 0);
    assert_eq!(seen(&read(&mut store, 0, &[5])), Seen::Unwritten);
    assert_eq!(seen(&read(&mut store, 0, &[6])), Seen::Unwritten);
}

#[test]
fn the_highest_address_is_written_and_its_tail_survives_a_reopen() {
    let dev = fresh_sim(2 * 1024 * 1024, 2, 4096);
    let mut store = open(&dev, SyncMode::Always);
    let out = write(&mut store, 0, &[(MAX_ADDRESS, vec![9; 10])]);
    assert_eq!(out.status, vec![Code::Ok as u8]);
    assert_eq!(tail(&mut store), (1 << 53) - 1);
    let r = one(&mut store, Request::PrefixTrim { epoch: 0, address: MAX_ADDRESS + 1 });
    assert!(matches!(r, Response::PrefixTrim(Ok(()))), "{r:?}");
    drop(store);
    let mut store = open(&dev, SyncMode::Always);
    assert_eq!(tail(&mut store), (1 << 53) - 1);
    assert_eq!(seen(&read(&mut store, 0, &[MAX_ADDRESS])), Seen::Trimmed);
}
