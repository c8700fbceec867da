//! A round whose planning fails on the device (its first flush fills up mid-round and the
//! write of it fails) fails whole: every request of it answers the same RoundFailed, naming
//! the failure, and the store refuses further work until it is reopened.

mod common;

use common::{fresh_sim, open, payload, write_req};
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
