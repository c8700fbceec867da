//! A native load on the engine's read service, for `corfu bench device`: one-page reads
//! at random addresses below `span`, `queue_depth` of them in flight, each replaced as
//! soon as it completes, from a thread of its own. That is how a unit's native front feeds
//! the same service (no JavaScript between a completion and the next read) and how fio
//! keeps its queue full. Through the JS binding, the reads of one completion batch are
//! answered to JS, and JS's next reads wait for the service's next completion: the queue
//! the device sees runs well below its depth (docs/architecture.md, "Reads against fio").
//! Bench tooling, not storage.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::Arc;

use crate::load_window::{LoadResult, LoadThread, Recorder, Seconds, Window};
use crate::read_service::{Next, ReadRequest, ReadService};
use crate::shared::Shared;
use crate::EntryKind;

#[derive(Clone, Debug)]
pub struct ReadLoadOptions {
    pub queue_depth: usize,
    /// Reads go to addresses 0..span, which the caller wrote.
    pub span: u64,
    pub epoch: u64,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct ReadLoadResult {
    /// Reads answered inside the window (started after it opened, answered before it closed).
    pub ops: u64,
    pub seconds: Seconds,
    pub failure: Option<String>,
}

impl LoadResult for ReadLoadResult {
    fn failed(why: String) -> Self {
        ReadLoadResult { failure: Some(why), ..Default::default() }
    }
}

/// A running load: started by `start`, its window opened and closed by the caller (its
/// reads in flight are answered before `close` returns).
pub type ReadLoad = LoadThread<ReadLoadResult>;

impl ReadLoad {
    /// Sets up the service's ring here (failing here if it cannot), then reads from a
    /// thread of its own until `close`.
    pub fn start(shared: Arc<Shared>, file: File, o: ReadLoadOptions) -> io::Result<ReadLoad> {
        if o.queue_depth == 0 || o.span == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "queue depth and span must be at least 1"));
        }
        let service = ReadService::new(shared, file)?;
        LoadThread::spawn("corfu-read-load", move |w| run(service, w, &o))
    }
}

fn run(mut service: ReadService, window: &Window, o: &ReadLoadOptions) -> ReadLoadResult {
    let rec = RefCell::new(Recorder::default());
    let started: RefCell<HashMap<u32, u64>> = RefCell::new(HashMap::with_capacity(o.queue_depth));
    let next_id = Cell::new(0u32);
    // xorshift64*: any nonzero state.
    let rng = Cell::new(o.seed | 1);
    let failure: RefCell<Option<String>> = RefCell::new(None);
    service.run(
        || {
            if window.stopping() || failure.borrow().is_some() {
                return Next::Closed;
            }
            if started.borrow().len() >= o.queue_depth {
                return Next::Empty;
            }
            let mut x = rng.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            rng.set(x);
            let address = x.wrapping_mul(0x2545_f491_4f6c_dd1d) % o.span;
            let id = next_id.get().wrapping_add(1);
            next_id.set(id);
            started.borrow_mut().insert(id, window.now_ns());
            Next::Request(ReadRequest { id, epoch: o.epoch, addresses: vec![address] })
        },
        |answers| {
            let t1 = window.now_ns();
            for (id, outcome) in answers {
                let t0 = started.borrow_mut().remove(&id).expect("an answer to a read in flight");
                match outcome {
                    Ok(r) if r.status[0] == 0 && r.kinds[0] == EntryKind::Data as u8 => rec.borrow_mut().record(window, t0, t1),
                    Ok(r) => {
                        failure.borrow_mut().get_or_insert(format!(
                            "a read answered status {} kind {} (the span holds written entries)",
                            r.status[0], r.kinds[0]
                        ));
                    }
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(format!("a read failed: {e}"));
                    }
                }
            }
        },
    );
    let failure = failure.into_inner();
    if let Some(f) = &failure {
        window.fail(f.clone());
    }
    let rec = rec.into_inner();
    ReadLoadResult { ops: rec.ops, seconds: rec.seconds(), failure }
}
