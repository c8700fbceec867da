//! A native write load for `corfu bench device`: one-page writes at consecutive addresses,
//! `queue_depth` of them in flight, each replaced as soon as its round is answered, on the
//! calling thread with the store in hand. That is how a unit's store is driven when its
//! native front feeds it (the front's turns, or its I/O thread's queue): a new round is
//! begun with what is free before the oldest one is finished, so two rounds are at the
//! device at once. Through the JS binding, each write is its own call and its answer
//! crosses to JS before the next one is sent. A prefix trim keeps the live span under
//! three quarters of the device, as the JS load does. Bench tooling, not storage.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::device::Device;
use crate::load_window::{LoadResult, Recorder, Seconds, Window};
use crate::store::{Request, Response, RoundId, Store};

#[derive(Clone, Debug)]
pub struct WriteLoadOptions {
    pub queue_depth: usize,
    pub epoch: u64,
    pub payload_bytes: u32,
}

#[derive(Debug, Default)]
pub struct WriteLoadResult {
    /// Writes acknowledged inside the window (begun after it opened, answered before it closed).
    pub ops: u64,
    pub seconds: Seconds,
    /// Every address written lies in first_address..next_address.
    pub first_address: u64,
    pub next_address: u64,
    pub trims: u64,
    pub failure: Option<String>,
}

impl LoadResult for WriteLoadResult {
    fn failed(why: String) -> Self {
        WriteLoadResult { failure: Some(why), ..Default::default() }
    }
}

/// A round at the device: when it was begun and how many writes it holds.
struct Begun {
    round: RoundId,
    t0_ns: u64,
    writes: usize,
}

/// Writes from the store's tail until `window` is closed (or a write fails), then
/// answers every round in flight and returns what was counted.
pub fn run<D: Device>(store: &mut Store<D>, window: &Window, o: &WriteLoadOptions) -> WriteLoadResult {
    assert!(o.queue_depth >= 1, "a queue depth of at least 1");
    let stats = store.stats();
    let capacity_pages = stats.data_pages;
    let first_address = stats.tail;
    let mut next = first_address;
    let mut mark = stats.trim_mark;
    let payload: Arc<[u8]> = vec![0x57; o.payload_bytes as usize].into();
    let mut begun: VecDeque<Begun> = VecDeque::with_capacity(2);
    let mut in_flight = 0usize;
    let mut rec = Recorder::default();
    let mut trims = 0u64;
    let mut failure: Option<String> = None;
    loop {
        let stopping = window.stopping() || failure.is_some();
        // The first round takes half the queue, so that from then on one round is
        // answered while the next is at the device, as a busy unit's are.
        let room = if next == first_address { o.queue_depth.div_ceil(2) } else { o.queue_depth - in_flight };
        let mut new_round = false;
        if !stopping && room > 0 {
            let mut requests = Vec::with_capacity(room + 1);
            for _ in 0..room {
                requests.push(Request::Write { epoch: o.epoch, addresses: vec![next], lengths: vec![o.payload_bytes], data: payload.clone() });
                next += 1;
            }
            if (next - mark) * 4 >= capacity_pages * 3 {
                mark = next - capacity_pages / 10;
                trims += 1;
                requests.push(Request::PrefixTrim { epoch: o.epoch, address: mark });
            }
            let t0_ns = window.now_ns();
            let round = store.begin(&requests);
            begun.push_back(Begun { round, t0_ns, writes: room });
            in_flight += room;
            new_round = true;
        }
        if begun.len() >= 2 || (!new_round && !begun.is_empty()) {
            let b = begun.pop_front().expect("checked above");
            let responses = store.finish(b.round);
            let t1_ns = window.now_ns();
            in_flight -= b.writes;
            for r in responses {
                match r {
                    Response::Write(Ok(w)) if w.status.iter().all(|&s| s == 0) => rec.record(window, b.t0_ns, t1_ns),
                    Response::PrefixTrim(Ok(())) => {}
                    Response::Write(Ok(w)) => {
                        failure.get_or_insert(format!("a write answered status {:?}", w.status));
                    }
                    Response::Write(Err(e)) => {
                        failure.get_or_insert(format!("a write failed: {e}"));
                    }
                    Response::PrefixTrim(Err(e)) => {
                        failure.get_or_insert(format!("a prefix trim failed: {e}"));
                    }
                    other => {
                        failure.get_or_insert(format!("an answer the load never asked for: {other:?}"));
                    }
                }
            }
            if let Some(f) = &failure {
                window.fail(f.clone());
            }
        }
        if stopping && begun.is_empty() {
            break;
        }
    }
    WriteLoadResult { ops: rec.ops, seconds: rec.seconds(), first_address, next_address: next, trims, failure }
}
