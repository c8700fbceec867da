//! `UnitFront`: a storage unit's native TCP front (corfu_engine::front), driven by
//! src/unit/front.ts. The WRITEs of one turn of the loop run as one round at the turn's
//! end, here when the store's I/O thread is idle, else queued to it with their
//! connections (io_thread.rs, `Job::Front`) and answered by it straight to them; a lone
//! small READ is read here when the read service is idle, others go to it
//! (`ReadRoute::Front`): no JS on the way. Every other frame goes to JS whole (FrontEvent
//! "frame") and is answered with `reply`; the WRITEs taken before it are queued first,
//! so that it does not overtake them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use corfu_engine::front::wire::{whole_frame, HEADER_BYTES};
use corfu_engine::front::{Front, Next, Reply, Service, Take};
use corfu_engine::read_service::{read_now, ReadRequest, Waker};
use corfu_engine::shared::Shared;
use corfu_engine::unit_front::{error_answer, parse_read, parse_write, OpMetrics, CODES};
use corfu_engine::{EngineError, Request};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::fs::File;

use crate::convert::to_js_number;
use crate::front::{bad, bind_error, event_sink, front_options, FrontEvent, Limits};
use crate::io_thread::{front_read_reply, front_write_reply, or_abort, FrontLink, FrontRequest, Job, Payload, ReadRoute, ReadRoutes, StoreCell};
use crate::{NativeStore, MAX_QUEUED_REQUESTS};

#[napi(object)]
pub struct UnitFrontOptions {
    pub host: String,
    pub port: u32,
    pub max_connections: u32,
    pub frame_timeout_ms: u32,
    pub max_buffered_bytes: u32,
    pub keepalive_idle_s: u32,
    /// Requests of one connection with the store or the JS side at once.
    pub max_in_flight_per_connection: u32,
    /// The WRITE latency histogram's bucket bounds, in seconds, ascending.
    pub latency_bounds_seconds: Vec<f64>,
}

/// What the WRITEs (or READs) answered by the front add to the unit's metrics, since it started.
#[napi(object)]
pub struct FrontOpMetrics {
    pub requests: f64,
    pub entries: f64,
    /// A WRITE's payloads; a READ's data answered.
    pub payload_bytes: f64,
    /// Whole-request errors by status byte (index = code).
    pub request_errors: Vec<f64>,
    /// Non-OK entry statuses by status byte.
    pub entry_errors: Vec<f64>,
    /// Observations per latency bucket (not cumulative), the last past every bound.
    pub latency_buckets: Vec<f64>,
    pub latency_sum_seconds: f64,
}

#[napi(object)]
pub struct UnitFrontMetrics {
    pub write: FrontOpMetrics,
    pub read: FrontOpMetrics,
}

fn op_metrics(m: &OpMetrics) -> FrontOpMetrics {
    let load = |a: &AtomicU64| to_js_number(a.load(Ordering::Relaxed));
    FrontOpMetrics {
        requests: load(&m.requests),
        entries: load(&m.entries),
        payload_bytes: load(&m.payload_bytes),
        request_errors: (0..CODES).map(|i| load(&m.request_errors[i])).collect(),
        entry_errors: (0..CODES).map(|i| load(&m.entry_errors[i])).collect(),
        latency_buckets: m.buckets().into_iter().map(to_js_number).collect(),
        latency_sum_seconds: m.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
    }
}

/// Request ids of the front's READs: the upper half of the u32s (bindings/store-channel.ts
/// numbers the JS calls in the lower half), so the read thread's routes never mix them.
const FRONT_READ_IDS: u32 = 0x8000_0000;

/// The unit's service on the front: WRITEs to the I/O thread, READs to the read service,
/// the rest to JS.
struct Hot {
    tx: SyncSender<Job>,
    store: Arc<StoreCell>,
    /// The turn's WRITEs, for `end_turn`.
    writes: Vec<(FrontRequest, Request<Payload>)>,
    /// The turn's READs (request, epoch, addresses), for `end_turn`.
    reads_taken: Vec<(FrontRequest, u64, Vec<u64>)>,
    /// Answers ready before the turn's end (reads done here, requests a queue refused).
    ready: Vec<Reply>,
    /// For a READ read on this thread: the store's shared state and its device.
    shared: Arc<Shared>,
    file: File,
    /// Taken when the front ends (Drop), so that the read service sees its queue close.
    reads: Option<SyncSender<ReadRequest>>,
    read_waker: Waker,
    routes: ReadRoutes,
    next_read: u32,
    link: Arc<FrontLink>,
}

impl Service for Hot {
    fn take(&mut self, conn: u32, input: &[u8], room: u32, _out: &mut Vec<u8>) -> Take {
        let mut take = Take { consumed: 0, answered: false, dispatched: 0, signal: false, next: Next::Need };
        while take.dispatched < room {
            let at = take.consumed;
            let len = match whole_frame(&input[at..]) {
                Err(why) => {
                    take.next = Next::Malformed(why);
                    break;
                }
                Ok(None) => break,
                Ok(Some(len)) => len,
            };
            let frame = &input[at..at + len];
            let head: [u8; HEADER_BYTES] = frame[..HEADER_BYTES].try_into().expect("a whole frame holds its header");
            let request = FrontRequest { link: self.link.clone(), conn, head, entries: 0, payload_bytes: 0, taken: Instant::now() };
            if let Some(w) = parse_write(frame) {
                let request = FrontRequest { entries: w.addresses.len(), payload_bytes: w.payloads.len(), ..request };
                let write =
                    Request::Write { epoch: w.epoch, addresses: w.addresses, lengths: w.lengths, data: Payload(frame[w.payloads].into()) };
                take.consumed += len;
                // Run (or queued) at the end of the turn, with every WRITE the turn brought.
                self.writes.push((request, write));
                take.dispatched += 1;
            } else if let Some(r) = parse_read(frame) {
                take.consumed += len;
                // Read here or queued to the read service at the end of the turn.
                self.reads_taken.push((FrontRequest { entries: r.addresses.len(), ..request }, r.epoch, r.addresses));
                take.dispatched += 1;
            } else {
                // A frame for JS (a SEAL, a FILL) must not overtake the WRITEs taken before
                // it: they go to the I/O thread's channel now, ahead of JS's call.
                self.queue_writes();
                take.next = forward_held(&input[at..], len, room - take.dispatched);
                break;
            }
        }
        if take.dispatched == room && take.next == Next::Need {
            take.next = Next::Owing;
        }
        take
    }

    /// The turn's READs (`end_reads`), then its WRITEs as one round, run here when the
    /// store's I/O thread is idle: at low load that saves a wake-up of that thread and one
    /// of this one per WRITE, which on a VM cost more than the write (about 50 µs each).
    /// Queued to the I/O thread when it is busy (JS's calls, or a round of ours it is
    /// still answering) or waiting for the store.
    fn end_turn(&mut self) -> Option<Vec<Reply>> {
        if self.writes.is_empty() && self.reads_taken.is_empty() && self.ready.is_empty() {
            return None;
        }
        self.end_reads();
        let mut replies = std::mem::take(&mut self.ready);
        if self.writes.is_empty() {
            return Some(replies);
        }
        if let Some(mut guard) = self.store.try_lock_for_front() {
            if let Some(store) = guard.as_mut() {
                let (routes, requests): (Vec<FrontRequest>, Vec<Request<Payload>>) = std::mem::take(&mut self.writes).into_iter().unzip();
                let responses = or_abort(|| {
                    let round = store.begin(&requests);
                    store.finish(round)
                });
                drop(guard);
                replies.extend(routes.into_iter().zip(responses).map(|(w, r)| front_write_reply(w, r)));
                return Some(replies);
            }
        }
        self.queue_writes();
        replies.append(&mut self.ready);
        Some(replies)
    }
}

/// Bytes of frames handed over in one event at most, besides the first frame.
const MAX_FORWARD_BYTES: usize = 1 << 20;

/// The frame of `first` bytes at the head of `input` and the whole frames after it (up to
/// `room` in all): the JS side's, in one event. It decodes them in order, so a malformed
/// one ends the connection with nothing after it run, as on the Node path; one event
/// for a run of FILLs or TRIMs costs one wake-up, not one each.
fn forward_held(input: &[u8], first: usize, room: u32) -> Next {
    let mut bytes = first;
    let mut frames = 1;
    while frames < room && bytes < MAX_FORWARD_BYTES {
        match whole_frame(&input[bytes..]) {
            Ok(Some(len)) => {
                bytes += len;
                frames += 1;
            }
            // Not whole yet, or a bad length field: found on the next look, after these.
            _ => break,
        }
    }
    Next::ForwardHeld { bytes, frames }
}

impl Drop for Hot {
    /// The front's thread has ended: let go of the read queue and wake the read service,
    /// which sleeps in its ring and stops only once every sender is gone (a store closed
    /// while this one still lived would otherwise wait for it for ever).
    fn drop(&mut self) {
        drop(self.reads.take());
        self.read_waker.wake();
    }
}

/// The most addresses a READ read on the front's own thread may name: its reads there go
/// one after another, where the read service keeps many at the device at once.
const READ_HERE_MAX_ADDRESSES: usize = 4;

impl Hot {
    /// The turn's READs: a lone small one, in a turn with no WRITE, while the read service
    /// has nothing in flight, is read here and now (`read_now`): at depth 1 the hand-off
    /// to the read thread and back is two wake-ups of sleeping threads, more than the
    /// read. Anything else goes to the read service, which keeps the device busy with
    /// many reads at once.
    fn end_reads(&mut self) {
        if self.reads_taken.is_empty() {
            return;
        }
        let mut reads = std::mem::take(&mut self.reads_taken);
        if reads.len() == 1 && self.writes.is_empty() && reads[0].2.len() <= READ_HERE_MAX_ADDRESSES && self.read_waker.is_idle() {
            let (request, epoch, addresses) = reads.pop().expect("one read");
            let result = read_now(&self.shared, &self.file, epoch, &addresses);
            self.ready.push(front_read_reply(request, result));
            return;
        }
        let mut queued = false;
        for (request, epoch, addresses) in reads {
            let id = self.next_read;
            self.next_read = if id == u32::MAX { FRONT_READ_IDS } else { id + 1 };
            // The route before the request: the read thread looks for it when it answers.
            self.routes.lock().expect("read routes lock").insert(id, ReadRoute::Front(request));
            let queue = self.reads.as_ref().expect("the read queue lives as long as the front");
            match queue.try_send(ReadRequest { id, epoch, addresses }) {
                Ok(()) => queued = true,
                Err(e) => {
                    let Some(ReadRoute::Front(request)) = self.routes.lock().expect("read routes lock").remove(&id) else {
                        unreachable!("the route just put")
                    };
                    let why =
                        if matches!(e, TrySendError::Full(_)) { EngineError::Overloaded(MAX_QUEUED_REQUESTS) } else { EngineError::Closed };
                    let refusal = self.refusal(request, why);
                    self.ready.push(refusal);
                }
            }
        }
        if queued {
            self.read_waker.wake();
        }
    }

    /// The turn's WRITEs to the I/O thread's channel (the order JS's calls take too); one
    /// the channel does not take is answered ERR_OVERLOADED (full) or ERR_CLOSED.
    fn queue_writes(&mut self) {
        for (write, request) in std::mem::take(&mut self.writes) {
            let why = match self.tx.try_send(Job::Front { write, request }) {
                Ok(()) => continue,
                Err(TrySendError::Full(Job::Front { write, .. })) => (write, EngineError::Overloaded(MAX_QUEUED_REQUESTS)),
                Err(TrySendError::Disconnected(Job::Front { write, .. })) => (write, EngineError::Closed),
                Err(_) => unreachable!("the job sent is a front job"),
            };
            let refusal = self.refusal(why.0, why.1);
            self.ready.push(refusal);
        }
    }

    /// Answers a request the store's queue did not take, as the TypeScript path answers
    /// a store that refuses the call.
    fn refusal(&self, r: FrontRequest, e: EngineError) -> Reply {
        let mut bytes = Vec::new();
        error_answer(&mut bytes, &r.head, &e);
        let metrics = if r.head[5] == corfu_engine::unit_front::READ_OPCODE { &self.link.reads } else { &self.link.writes };
        metrics.record(r.entries, r.payload_bytes, Err(&e), 0);
        Reply { conn: r.conn, bytes, done: true, notice: false }
    }
}

#[napi]
pub struct UnitFront {
    front: Front,
    link: Arc<FrontLink>,
}

#[napi]
impl UnitFront {
    /// Binds and starts serving `store`. A bind that fails throws an Error whose message
    /// starts with the errno's name (EADDRINUSE, EADDRNOTAVAIL, EACCES, ...).
    #[napi(factory, ts_args_type = "store: NativeStore, options: UnitFrontOptions, onEvent: (event: FrontEvent) => void")]
    pub fn start(store: &NativeStore, o: UnitFrontOptions, on_event: Function<FrontEvent, ()>) -> Result<UnitFront> {
        let limits = Limits {
            port: o.port,
            max_connections: o.max_connections,
            frame_timeout_ms: o.frame_timeout_ms,
            max_buffered_bytes: o.max_buffered_bytes,
            keepalive_idle_s: o.keepalive_idle_s,
        };
        let options = front_options(o.host, limits, o.max_in_flight_per_connection, "corfu-unit-front")?;
        let bounds = o.latency_bounds_seconds.iter().map(|&s| (s * 1e9).round() as u64).collect::<Vec<u64>>();
        if o.latency_bounds_seconds.iter().any(|s| !s.is_finite() || *s <= 0.0) || !bounds.windows(2).all(|w| w[0] < w[1]) {
            return Err(bad("latencyBoundsSeconds must be positive and ascending".into()));
        }
        let tx = store.sender()?;
        let cell = store.cell();
        let (shared, file) = store.reader()?;
        let (reads, read_waker, routes) = store.read_queue()?;
        let sink = event_sink(on_event, "signal")?;
        // The I/O thread answers to the front's replier, which the front makes as it starts.
        let (front, link) = Front::start_with(options, sink, |replier| {
            let link = Arc::new(FrontLink { replier, writes: OpMetrics::new(bounds.clone()), reads: OpMetrics::new(bounds) });
            let service = Hot {
                tx,
                store: cell,
                writes: Vec::new(),
                reads_taken: Vec::new(),
                ready: Vec::new(),
                shared,
                file,
                reads: Some(reads),
                read_waker,
                routes,
                next_read: FRONT_READ_IDS,
                link: link.clone(),
            };
            (Box::new(service) as Box<dyn Service>, link)
        })
        .map_err(bind_error)?;
        Ok(UnitFront { front, link })
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.front.local_addr().port())
    }

    #[napi(getter)]
    pub fn host(&self) -> String {
        self.front.local_addr().ip().to_string()
    }

    /// Sends a handed-over frame's answer on `conn` (settling what it owed).
    #[napi]
    pub fn reply(&self, conn: u32, bytes: Buffer) {
        self.front.reply(conn, bytes.to_vec(), true);
    }

    /// The frames handed over in a "frame" event all decoded: `conn` is read again.
    #[napi]
    pub fn resume(&self, conn: u32) {
        self.front.resume(conn);
    }

    #[napi]
    pub fn close_connection(&self, conn: u32) {
        self.front.close(conn);
    }

    /// Stops accepting; each connection gets every answer it is owed, then a FIN; those
    /// still open after `grace_ms` are cut; then the "stopped" event.
    #[napi]
    pub fn stop(&self, grace_ms: u32) {
        self.front.stop(u64::from(grace_ms));
    }

    #[napi]
    pub fn connections(&self) -> u32 {
        self.front.connections() as u32
    }

    /// What the WRITEs and READs the front answered add up to, since it started.
    #[napi]
    pub fn metrics(&self) -> UnitFrontMetrics {
        UnitFrontMetrics { write: op_metrics(&self.link.writes), read: op_metrics(&self.link.reads) }
    }
}
