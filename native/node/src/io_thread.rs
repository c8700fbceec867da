//! The store's I/O thread: take everything queued, run it as one round, settle every
//! promise. While a round is on the device the next one queues up: group commit.

use std::sync::mpsc::Receiver;

use corfu_engine::device::uring::UringDevice;
use corfu_engine::{Request, Response, Store};
use napi::bindgen_prelude::*;
use napi::JsDeferred;

use crate::convert::{js_error, to_js_number, ReadResult, StoreStats, WriteResult};

/// Requests in one round at most: bounds a round's memory and its latency.
const MAX_ROUND_REQUESTS: usize = 4096;

type Settle<T> = Box<dyn FnOnce(Env) -> Result<T> + Send>;

/// A JS Buffer read in place by the I/O thread (no copy). napi-rs routes its release
/// back to the JS thread, so dropping it here is safe.
pub struct Payload(pub Buffer);

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

pub enum Reply {
    Write(JsDeferred<WriteResult, Settle<WriteResult>>),
    Read(JsDeferred<ReadResult, Settle<ReadResult>>),
    Bytes(JsDeferred<Buffer, Settle<Buffer>>),
    Unit(JsDeferred<(), Settle<()>>),
    Number(JsDeferred<f64, Settle<f64>>),
    Stats(JsDeferred<StoreStats, Settle<StoreStats>>),
    Close(JsDeferred<(), Settle<()>>),
}

pub struct Job {
    pub request: Request<Payload>,
    pub reply: Reply,
}

fn settle<T: ToNapiValue + Send + 'static>(d: JsDeferred<T, Settle<T>>, r: corfu_engine::Result<T>) {
    match r {
        Ok(v) => d.resolve(Box::new(move |_| Ok(v))),
        Err(e) => d.reject(js_error(&e)),
    }
}

fn deliver(reply: Reply, response: Response) {
    match (reply, response) {
        (Reply::Write(d), Response::Write(r)) => settle(d, r.map(Into::into)),
        (Reply::Read(d), Response::Read(r)) => settle(d, r.map(Into::into)),
        (Reply::Bytes(d), Response::Trim(r)) => settle(d, r.map(Into::into)),
        (Reply::Unit(d), Response::PrefixTrim(r)) => settle(d, r),
        (Reply::Number(d), Response::Seal(r) | Response::Tail(r)) => settle(d, r.map(to_js_number)),
        (Reply::Stats(d), Response::Stats(s)) => settle(d, Ok(s.into())),
        _ => unreachable!("a reply always matches its request"),
    }
}

pub fn run(mut store: Store<UringDevice>, rx: Receiver<Job>) {
    let mut close: Option<JsDeferred<(), Settle<()>>> = None;
    'rounds: while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_ROUND_REQUESTS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut requests = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Reply::Close(d) = job.reply {
                close = Some(d);
                continue;
            }
            requests.push(job.request);
            replies.push(job.reply);
        }
        // A panic is a broken invariant: crash the process loudly rather than leave
        // every pending promise hanging on a dead thread.
        let responses = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.execute(&requests))) {
            Ok(r) => r,
            Err(_) => {
                eprintln!("corfu: engine invariant violated; aborting (see the panic message above)");
                std::process::abort();
            }
        };
        for (reply, response) in replies.into_iter().zip(responses) {
            deliver(reply, response);
        }
        if close.is_some() {
            break 'rounds;
        }
    }
    drop(store);
    if let Some(d) = close {
        d.resolve(Box::new(|_| Ok(())));
    }
}
