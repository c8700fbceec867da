//! A round whose planning fails on the device (its first flush fills up mid-round and the
//! write of it fails) fails whole: every request of it answers the same RoundFailed, naming
//! the failure, and the store refuses further work until it is reopened. A started flush
//! that fails fails every round started after it too.

mod common;

use common::{fresh_sim, open, payload, read, write_req};
use corfu_engine::device::sim::LossMode;
use corfu_engine::flush::MAX_FLUSH_RECORDS;
use corfu_engine::store::{Request, Response};
use corfu_engine::{EngineError, SyncMode};

#[test]
fn a_flush_failing_while_a_round_is_planned_fails_every_request_of_the_round() {
    let dev = fresh_sim(8 * 1024 * 1024, 11, 4096);
    let mut store = open(&dev, SyncMode::Always);
    let epoch = store.superblock().epoch;
    // One record more than a flush holds: planning writes the first flush before the round ends.
    let entries: Vec<(u64, Vec<u8>)> = (0..=MAX_FLUSH_RECORDS as u64).map(|a| (a, payload(a, 1, 8))).collect();
    dev.arm_power_loss(0, LossMode::DropUnsynced);
    let answers = store.execute(&[write_req(epoch, &entries), Request::Tail { epoch }]);
    assert_eq!(answers.len(), 2);
    for a in &answers {
        match a {
            Response::Write(Err(EngineError::RoundFailed(m))) | Response::Tail(Err(EngineError::RoundFailed(m))) => {
                assert!(m.contains("flush failed"), "{m}")
            }
            other => panic!("expected RoundFailed, got {other:?}"),
        }
    }
    assert_eq!(store.stats().rounds, 1, "one round counted");
    match store.execute::<Vec<u8>>(&[Request::Tail { epoch }]).pop().unwrap() {
        Response::Tail(Err(EngineError::Failed)) => {}
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// Two rounds' flushes at the device; the first one's write fails, the second one's
/// lands. The second round must fail too: its entries lie past a flush the log lost, so
/// the next open's recovery stops short of them, and an acknowledgment would be a lie.
#[test]
fn a_started_flush_failing_fails_every_round_started_after_it() {
    let dev = fresh_sim(8 * 1024 * 1024, 12, 4096);
    let mut store = open(&dev, SyncMode::Always);
    let epoch = store.superblock().epoch;
    dev.arm_write_error(0);
    let first = store.begin(&[write_req(epoch, &[(0, payload(0, 1, 100))])]);
    let second = store.begin(&[write_req(epoch, &[(1, payload(1, 1, 100))])]);
    assert_eq!(store.started_flushes(), 2, "both flushes were started");
    match store.finish(first).pop().unwrap() {
        Response::Write(Err(EngineError::RoundFailed(m))) => assert!(m.contains("flush failed"), "{m}"),
        other => panic!("the failed flush's round: expected RoundFailed, got {other:?}"),
    }
    match store.finish(second).pop().unwrap() {
        Response::Write(Err(EngineError::RoundFailed(m))) => assert!(m.contains("refuses further work"), "{m}"),
        other => panic!("the round after it: expected RoundFailed, got {other:?}"),
    }
    drop(store);
    // The second flush did land; the reopened log still ends before the lost first one.
    let mut store = open(&dev, SyncMode::Always);
    let epoch = store.superblock().epoch;
    let out = read(&mut store, epoch, &[0, 1]);
    assert_eq!(out.status.to_vec(), vec![2, 2], "both addresses read unwritten after the reopen");
}
