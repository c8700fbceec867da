//! The store's I/O thread: take everything queued, run it as one round, and hand every
//! answer of the round back to JS in ONE buffer through ONE threadsafe call. Promises
//! live on the JS side (bindings/store-channel.ts), keyed by request id: a per-call
//! threadsafe function and per-result external buffers cost more than the I/O itself
//! (perf: ~12 µs of CPU per single-entry call before this design). A WRITE a unit's
//! native front queued (`Job::Front`) is answered to its connection instead: its wire
//! answer is encoded here and the round's go to the front in one batch, never to JS.
//!
//! Round buffer: a sequence of replies, little-endian:
//!   u32 id | u8 tag | u8 ok (1) or error (0) | u16 zero | u32 body_bytes | body
//! An error body is the JSON error text (see convert::js_error_json). Bodies by tag:
//!   WRITE: u32 n | status[n] | written[n]
//!   READ:  u32 n | status[n] | kinds[n] | pad to 4 | u32 lengths[n] | data
//!   READ_INTO: as READ without the data, which went into the caller's buffer
//!   TRIM:  u32 n | status[n]
//!   UNIT:  empty            NUMBER: f64            STATS: JSON text
//!   CLOSED: empty (the store is closed; the last reply this store sends)

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use corfu_engine::front::{Replier, Reply};
use corfu_engine::unit_front::{read_answer, write_answer, OpMetrics};

use corfu_engine::read_service::{Next, ReadRequest, ReadService};
use corfu_engine::shared::Shared;

use corfu_engine::device::uring::UringDevice;
use corfu_engine::{EngineError, ReadOutcome, Request, Response, RoundId, Store};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

use crate::convert::{js_error_json, stats_json, to_js_number};

/// Requests in one round at most: bounds a round's memory and its latency.
const MAX_ROUND_REQUESTS: usize = 4096;

pub const TAG_WRITE: u8 = 1;
pub const TAG_READ: u8 = 2;
pub const TAG_TRIM: u8 = 3;
pub const TAG_UNIT: u8 = 4;
pub const TAG_NUMBER: u8 = 5;
pub const TAG_STATS: u8 = 6;
pub const TAG_CLOSED: u8 = 7;
pub const TAG_READ_INTO: u8 = 8;

/// Where a `readInto`'s payloads go: the caller's Buffer. The JS side holds that Buffer
/// (and does not touch it) until the answer comes, so the bytes stay where they are.
#[derive(Clone, Copy)]
pub struct Dest {
    pub ptr: *mut u8,
    pub len: usize,
}

// SAFETY: the pointer is written by the read thread only, and only while the JS side
// keeps its Buffer alive and untouched (bindings/store-channel.ts).
unsafe impl Send for Dest {}

/// Where a read is answered when not into the round buffer: a readInto's target, or a
/// unit's native front (its READ, answered to the connection).
pub enum ReadRoute {
    Into(Dest),
    Front(FrontRequest),
}

/// Read routes by request id: put before the request is queued, taken by the read thread
/// when it answers.
pub type ReadRoutes = Arc<Mutex<HashMap<u32, ReadRoute>>>;

pub type RoundCallback = ThreadsafeFunction<Buffer, (), Buffer, Status, false, true>;

/// A write's payload bytes, copied off the JS Buffer on the JS thread. Not the Buffer
/// itself: napi-rs releases a Buffer dropped on another thread by a threadsafe call
/// back to the JS thread, a second wake-up of that thread per round (measured: two
/// eventfd writes per round at depth 1) that costs far more than the copy. The engine
/// copies the bytes into its aligned round buffer either way.
pub struct Payload(pub Box<[u8]>);

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Where a WRITE or READ taken by a unit's native front (unit_front.rs) is answered:
/// straight to its connection, encoded here, never through JS.
pub struct FrontLink {
    pub replier: Replier,
    pub writes: OpMetrics,
    pub reads: OpMetrics,
}

/// A front request's connection, its request header (echoed in the answer) and what its
/// metrics need.
pub struct FrontRequest {
    pub link: Arc<FrontLink>,
    pub conn: u32,
    pub head: [u8; 20],
    pub entries: usize,
    pub payload_bytes: usize,
    pub taken: Instant,
}

pub enum Job {
    Request {
        id: u32,
        request: Request<Payload>,
    },
    /// A WRITE from a unit's native front.
    Front {
        write: FrontRequest,
        request: Request<Payload>,
    },
    /// Close the store once the read service (its own fd on the device) has stopped.
    Close {
        id: u32,
        reader: Option<JoinHandle<()>>,
    },
}

struct Out(Vec<u8>);

impl Out {
    fn reply(&mut self, id: u32, tag: u8, ok: bool, body: impl FnOnce(&mut Vec<u8>)) {
        let b = &mut self.0;
        b.extend_from_slice(&id.to_le_bytes());
        b.push(tag);
        b.push(ok as u8);
        b.extend_from_slice(&[0, 0]);
        let len_at = b.len();
        b.extend_from_slice(&[0; 4]);
        let start = b.len();
        body(b);
        let len = (b.len() - start) as u32;
        b[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }

    fn error(&mut self, id: u32, tag: u8, e: &corfu_engine::EngineError) {
        let json = js_error_json(e);
        self.reply(id, tag, false, |b| b.extend_from_slice(json.as_bytes()));
    }
}

fn tag_of(r: &Response) -> u8 {
    match r {
        Response::Write(_) => TAG_WRITE,
        Response::Read(_) => TAG_READ,
        Response::Trim(_) => TAG_TRIM,
        Response::PrefixTrim(_) => TAG_UNIT,
        Response::Seal(_) | Response::Tail(_) => TAG_NUMBER,
        Response::Stats(_) => TAG_STATS,
    }
}

fn encode(out: &mut Out, id: u32, response: Response) {
    let tag = tag_of(&response);
    match response {
        Response::Write(Ok(o)) => out.reply(id, tag, true, |b| {
            b.extend_from_slice(&(o.status.len() as u32).to_le_bytes());
            b.extend_from_slice(&o.status);
            b.extend_from_slice(&o.written);
        }),
        Response::Read(Ok(o)) => out.reply(id, tag, true, |b| {
            read_head(b, &o);
            b.extend_from_slice(&o.data);
        }),
        Response::Trim(Ok(status)) => out.reply(id, tag, true, |b| {
            b.extend_from_slice(&(status.len() as u32).to_le_bytes());
            b.extend_from_slice(&status);
        }),
        Response::PrefixTrim(Ok(())) => out.reply(id, tag, true, |_| {}),
        Response::Seal(Ok(v)) | Response::Tail(Ok(v)) => out.reply(id, tag, true, |b| b.extend_from_slice(&to_js_number(v).to_le_bytes())),
        Response::Stats(s) => out.reply(id, tag, true, |b| b.extend_from_slice(stats_json(&s).as_bytes())),
        Response::Write(Err(e)) | Response::Read(Err(e)) | Response::Trim(Err(e)) | Response::PrefixTrim(Err(e)) => out.error(id, tag, &e),
        Response::Seal(Err(e)) | Response::Tail(Err(e)) => out.error(id, tag, &e),
    }
}

/// A READ answer's body up to its data: n, statuses, kinds, padding, lengths.
fn read_head(b: &mut Vec<u8>, o: &ReadOutcome) {
    // Padding is relative to the start of this body: a round buffer holds many replies,
    // and the decoder aligns within the body, not the buffer.
    let body_start = b.len();
    let n = o.status.len();
    b.extend_from_slice(&(n as u32).to_le_bytes());
    b.extend_from_slice(&o.status);
    b.extend_from_slice(&o.kinds);
    while !(b.len() - body_start).is_multiple_of(4) {
        b.push(0);
    }
    for l in &o.lengths {
        b.extend_from_slice(&l.to_le_bytes());
    }
}

/// A `readInto`'s answer: the payloads go into the caller's buffer, the rest into the
/// round buffer. Payloads that do not fit fail the request (ERR_TOO_LARGE): nothing is
/// written past the buffer, and a read can simply be asked again with a larger one.
fn encode_into(out: &mut Out, id: u32, result: corfu_engine::Result<ReadOutcome>, dest: Dest) {
    match result {
        Ok(o) if o.data.len() > dest.len => {
            let e = EngineError::TooLarge(format!("the payloads read take {} bytes; the target buffer holds {}", o.data.len(), dest.len));
            out.error(id, TAG_READ_INTO, &e);
        }
        Ok(o) => {
            // SAFETY: dest is the caller's live Buffer of dest.len bytes (see Dest), and
            // o.data.len() <= dest.len.
            unsafe { std::ptr::copy_nonoverlapping(o.data.as_ptr(), dest.ptr, o.data.len()) };
            out.reply(id, TAG_READ_INTO, true, |b| read_head(b, &o));
        }
        Err(e) => out.error(id, TAG_READ_INTO, &e),
    }
}

/// The read service's thread: answers reads as they complete, batching whatever
/// completed together into one round buffer (and a front's into one batch of replies).
pub fn run_reads(mut service: ReadService, rx: Receiver<ReadRequest>, callback: Arc<RoundCallback>, routes: ReadRoutes) {
    service.run(
        || Next::from_channel(&rx),
        |done| {
            let mut out = Out(Vec::with_capacity(64 * done.len()));
            let mut replies = Vec::new();
            for (id, r) in done {
                let route = routes.lock().expect("read routes lock").remove(&id);
                match route {
                    Some(ReadRoute::Into(dest)) => encode_into(&mut out, id, r, dest),
                    Some(ReadRoute::Front(f)) => replies.push((f.link.clone(), front_read_reply(f, r))),
                    None => encode(&mut out, id, Response::Read(r)),
                }
            }
            send_front(replies);
            if !out.0.is_empty() {
                callback.call(out.0.into(), ThreadsafeFunctionCallMode::Blocking);
            }
        },
    );
}

/// A panic is a broken invariant: crash the process loudly rather than leave every
/// pending promise hanging on a dead thread.
pub fn or_abort<T>(f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            eprintln!("corfu: engine invariant violated; aborting (see the panic message above)");
            std::process::abort();
        }
    }
}

/// Who a request of a round is answered to.
enum Route {
    Js(u32),
    Front(FrontRequest),
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A front WRITE's answer (from the round the I/O thread or the front ran).
pub fn front_write_reply(w: FrontRequest, response: Response) -> Reply {
    let Response::Write(result) = response else { unreachable!("a front job is a WRITE") };
    let mut bytes = Vec::with_capacity(32 + 2 * w.entries);
    write_answer(&mut bytes, &w.head, &result);
    w.link.writes.record(w.entries, w.payload_bytes, result.as_ref().map(|o| &o.status[..]), elapsed_ns(w.taken));
    // A refused request is worth the JS side's log line (it filters the routine ones).
    Reply { conn: w.conn, bytes, done: true, notice: result.is_err() }
}

/// A front READ's answer (read by the read thread, or on the front's own thread).
pub fn front_read_reply(r: FrontRequest, result: corfu_engine::Result<ReadOutcome>) -> Reply {
    let mut bytes = Vec::with_capacity(32 + 6 * r.entries + result.as_ref().map_or(0, |o| o.data.len()));
    read_answer(&mut bytes, &r.head, &result);
    r.link.reads.record(r.entries, result.as_ref().map_or(0, |o| o.data.len()), result.as_ref().map(|o| &o.status[..]), elapsed_ns(r.taken));
    Reply { conn: r.conn, bytes, done: true, notice: result.is_err() }
}

/// Sends a round's front answers, one batch (one wake-up) per front.
fn send_front(replies: Vec<(Arc<FrontLink>, Reply)>) {
    let mut batch: Vec<Reply> = Vec::with_capacity(replies.len());
    let mut link: Option<Arc<FrontLink>> = None;
    for (l, r) in replies {
        if let Some(current) = &link {
            if !Arc::ptr_eq(current, &l) {
                current.replier.send(std::mem::take(&mut batch));
            }
        }
        link = Some(l);
        batch.push(r);
    }
    if let Some(l) = link {
        l.replier.send(batch);
    }
}

/// The store, shared by its I/O thread and a unit's native front: whoever holds the
/// lock runs rounds. The I/O thread holds it from the moment it takes a job until it has
/// answered every round it began, and lets go only to wait for the next job; the front
/// runs a turn's WRITEs itself when it gets the lock, and queues them here otherwise.
/// The store is `None` once the I/O thread has closed it.
pub struct StoreCell {
    store: Mutex<Option<Store<UringDevice>>>,
    /// The I/O thread waits for the lock: the front queues its WRITEs instead of taking
    /// it (std's Mutex is not fair; a front busy with rounds could keep a SEAL waiting).
    io_waiting: AtomicBool,
}

pub(crate) type StoreGuard<'a> = MutexGuard<'a, Option<Store<UringDevice>>>;

impl StoreCell {
    pub fn new(store: Store<UringDevice>) -> Arc<StoreCell> {
        Arc::new(StoreCell { store: Mutex::new(Some(store)), io_waiting: AtomicBool::new(false) })
    }

    fn lock_for_io(&self) -> StoreGuard<'_> {
        self.io_waiting.store(true, Ordering::SeqCst);
        let guard = self.store.lock().expect("store lock");
        self.io_waiting.store(false, Ordering::SeqCst);
        guard
    }

    /// The store for a bench load that runs rounds on a thread of its own (write_load.rs),
    /// waited for as the I/O thread waits, and held until the load ends.
    pub fn lock_for_load(&self) -> StoreGuard<'_> {
        self.lock_for_io()
    }

    /// The store's shared state and a new descriptor of its device; `None` once closed.
    pub fn reader(&self) -> Option<(Arc<Shared>, std::io::Result<File>)> {
        let guard = self.store.lock().expect("store lock");
        let store = guard.as_ref()?;
        Some((store.shared(), store.device().file().try_clone()))
    }

    /// The store, if nobody holds it and the I/O thread is not waiting for it.
    pub fn try_lock_for_front(&self) -> Option<StoreGuard<'_>> {
        if self.io_waiting.load(Ordering::SeqCst) {
            return None;
        }
        self.store.try_lock().ok()
    }
}

pub fn run(cell: Arc<StoreCell>, rx: Receiver<Job>, callback: Arc<RoundCallback>) {
    let mut close: Option<(u32, Option<JoinHandle<()>>)> = None;
    // Rounds begun and not yet answered, oldest first: at most two, so that the next
    // round's flush is at the device while this one's completes.
    let mut begun: VecDeque<(RoundId, Vec<Route>)> = VecDeque::new();
    let mut held: Option<StoreGuard<'_>> = None;
    loop {
        // Wait for work only with nothing at the device; else take what has queued.
        let mut jobs = Vec::new();
        if begun.is_empty() && close.is_none() {
            // Not while holding the store: a front may run rounds meanwhile.
            drop(held.take());
            match rx.recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        while close.is_none() && jobs.len() < MAX_ROUND_REQUESTS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let store = held.get_or_insert_with(|| cell.lock_for_io()).as_mut().expect("only this thread closes the store, after its last round");
        let mut ids = Vec::with_capacity(jobs.len());
        let mut requests = Vec::with_capacity(jobs.len());
        for job in jobs {
            match job {
                Job::Close { id, reader } => close = Some((id, reader)),
                Job::Request { id, request } => {
                    ids.push(Route::Js(id));
                    requests.push(request);
                }
                Job::Front { write, request } => {
                    ids.push(Route::Front(write));
                    requests.push(request);
                }
            }
        }
        let new_round = !requests.is_empty();
        if new_round {
            let round = or_abort(|| store.begin(&requests));
            begun.push_back((round, ids));
        }
        // Answer the oldest round once a newer one is begun behind it, or when nothing
        // new came to overlap it with. Encoding is inside the abort guard too: an answer
        // that cannot cross to JS (a number above 2^53 - 1) must abort as well, not end
        // this thread quietly and leave every later call on the store hanging.
        if begun.len() >= 2 || (!new_round && !begun.is_empty()) {
            let (round, ids) = begun.pop_front().expect("checked above");
            let (out, replies) = or_abort(|| {
                let responses = store.finish(round);
                let mut out = Out(Vec::with_capacity(64 * responses.len()));
                let mut replies = Vec::new();
                for (route, response) in ids.into_iter().zip(responses) {
                    match route {
                        Route::Js(id) => encode(&mut out, id, response),
                        Route::Front(w) => replies.push((w.link.clone(), front_write_reply(w, response))),
                    }
                }
                (out, replies)
            });
            send_front(replies);
            if !out.0.is_empty() {
                callback.call(out.0.into(), ThreadsafeFunctionCallMode::Blocking);
            }
        }
        if close.is_some() && begun.is_empty() {
            // Every round before the close is answered: close the device, then say so.
            break;
        }
    }
    // Out of the cell, so that a front that still runs finds the store gone (and queues
    // its WRITEs to a channel nobody reads: ERR_CLOSED once this thread has ended).
    let store = match held.take() {
        Some(mut guard) => guard.take(),
        None => cell.lock_for_io().take(),
    }
    .expect("the store was open until now");
    if close.is_some() {
        // A clean close leaves an index checkpoint of the whole log: the next open reads
        // it instead of the summaries and the log. If it fails the store is still whole
        // (the previous checkpoint, the summaries and the log stand): say so and close.
        if let Err(e) = store.close() {
            eprintln!("corfu: closing the store: {e}; the next open recovers from the log");
        }
    } else {
        drop(store);
    }
    if let Some((id, reader)) = close {
        if let Some(reader) = reader {
            let _ = reader.join();
        }
        let mut out = Out(Vec::new());
        out.reply(id, TAG_CLOSED, true, |_| {});
        callback.call(out.0.into(), ThreadsafeFunctionCallMode::Blocking);
    }
}
