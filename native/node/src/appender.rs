//! `NativeAppender`: the client's native append path (corfu_engine::appender), driven by
//! src/client/native-appends.ts. Outcomes reach JS as one flat Buffer per delivery (the
//! loop's turns since the last one, `Outbox`), a record per entry (below), not an object
//! per entry: at 16 x 32 the client ends hundreds of thousands of appends a second.
//!
//! A record is 24 bytes, little-endian: batch u32, index u32, address f64 (-1: no token),
//! fate u8 (0 written, 1 no token, 2 fell), replica u8, status u8, one unused byte, and
//! the index of its message in `messages` as a u32 (0xffffffff: none).

use std::sync::{Arc, Mutex};

use corfu_engine::appender::{Appender, Directory, Fate, LayoutSpec, Limits, Machine, Outcome, Payloads};
use corfu_engine::EngineError;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::convert::{js_error, to_js_number, to_u64};

pub const RECORD_BYTES: usize = 24;
const NO_MESSAGE: u32 = u32::MAX;

#[napi(object)]
pub struct AppenderOptions {
    /// Entries per WRITE frame.
    pub frame_entries: u32,
    /// Payload bytes per WRITE frame.
    pub frame_payload_bytes: u32,
    /// Tokens per TOKEN request.
    pub tokens_per_request: u32,
    /// Entries the path holds at once.
    pub max_entries: u32,
    /// Payload bytes the path holds at once.
    pub max_bytes: u32,
}

#[napi(object)]
pub struct AppenderLayout {
    pub epoch: f64,
    pub timeout_ms: u32,
    pub sequencer: String,
    pub start: f64,
    /// Exclusive; absent for an open segment.
    pub end: Option<f64>,
    /// Each stripe's chain, head first, as `host:port`s.
    pub chains: Vec<Vec<String>>,
}

#[napi(object)]
pub struct AppendOutcomes {
    pub records: Buffer,
    pub messages: Vec<String>,
    /// TOKEN requests the path has sent in all.
    pub token_requests: f64,
}

/// A call of onOutcomes carries nothing: it takes what the outbox holds when it runs.
type OutcomeCallback = ThreadsafeFunction<(), (), AppendOutcomes, Status, false, true>;

/// Outcomes the thread has encoded and JS has not taken yet. The thread queues a call of
/// onOutcomes only when none is on its way (`queued`); the call takes everything here. So
/// while the JS thread is busy, the loop's turns add to one delivery instead of queueing
/// one each: fewer wake-ups of the JS thread and fewer meetings of both threads on the
/// threadsafe function's lock, which the JS thread was often waiting for.
#[derive(Default)]
struct Outbox {
    records: Vec<u8>,
    messages: Vec<String>,
    token_requests: u64,
    queued: bool,
}

#[napi]
pub struct NativeAppender {
    inner: Appender,
}

#[napi]
impl NativeAppender {
    /// Starts the path's thread. `onOutcomes` does not keep Node's event loop alive: each
    /// append waiting for its outcome holds its call's deadline timer, which does.
    #[napi(factory, ts_args_type = "options: AppenderOptions, onOutcomes: (outcomes: AppendOutcomes) => void")]
    pub fn start(options: AppenderOptions, on_outcomes: Function<AppendOutcomes, ()>) -> Result<NativeAppender> {
        let limits = limits(&options)?;
        let outbox = Arc::new(Mutex::new(Outbox::default()));
        let taken = outbox.clone();
        let callback: OutcomeCallback =
            on_outcomes.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build_callback(move |_| {
                let mut o = taken.lock().expect("appender outbox lock");
                o.queued = false;
                let records = std::mem::take(&mut o.records);
                Ok(AppendOutcomes {
                    records: records.into(),
                    messages: std::mem::take(&mut o.messages),
                    token_requests: o.token_requests as f64,
                })
            })?;
        let sink = Box::new(move |outcomes: Vec<Outcome>, token_requests: u64| {
            let call = {
                let mut o = outbox.lock().expect("appender outbox lock");
                let Outbox { records, messages, .. } = &mut *o;
                encode(&outcomes, records, messages);
                o.token_requests = token_requests;
                !std::mem::replace(&mut o.queued, true)
            };
            if call {
                callback.call((), ThreadsafeFunctionCallMode::Blocking);
            }
        });
        let inner = Appender::start(limits, sink).map_err(|e| js_error(&EngineError::io("cannot start the appender's thread", e)))?;
        Ok(NativeAppender { inner })
    }

    /// Registers a layout; returns its number for `submit`.
    #[napi]
    pub fn layout(&mut self, l: AppenderLayout) -> Result<u32> {
        Ok(self.inner.layout(layout_spec(l)?))
    }

    #[napi]
    pub fn forget(&self, layout: u32) {
        self.inner.forget(layout);
    }

    /// Gives up on every request in flight to these servers (`host:port`s).
    #[napi]
    pub fn abandon(&self, servers: Vec<String>) {
        self.inner.abandon(servers);
    }

    /// Queues several submissions with one wake of the thread: submission i is batch
    /// `batches[i]` under `layouts[i]`, its `counts[i]` entries the next ones of `lengths`,
    /// their payloads back to back in `bytes`. Typed arrays, so that a tick's hundreds of
    /// appends cross N-API as five values, not one per entry. The bytes are copied before
    /// this returns: the caller may reuse its buffers. Returns the batches refused (larger
    /// than the path's limits; nothing of theirs queued).
    #[napi]
    pub fn submit(
        &self,
        layouts: Uint32ArraySlice,
        batches: Uint32ArraySlice,
        counts: Uint32ArraySlice,
        lengths: Uint32ArraySlice,
        bytes: Uint8ArraySlice,
    ) -> Result<Vec<u32>> {
        let (layouts, batches, counts, lengths): (&[u32], &[u32], &[u32], &[u32]) = (&layouts, &batches, &counts, &lengths);
        let bytes: &[u8] = &bytes;
        let entries: usize = counts.iter().map(|&c| c as usize).sum();
        let total: usize = lengths.iter().map(|&l| l as usize).sum();
        if layouts.len() != batches.len() || batches.len() != counts.len() || entries != lengths.len() || total != bytes.len() {
            return Err(js_error(&EngineError::BadRequest(format!(
                "submit: {} layouts, {} batches and {} counts adding up to {entries}, for {} lengths adding up to {total} and {} bytes",
                layouts.len(),
                batches.len(),
                counts.len(),
                lengths.len(),
                bytes.len()
            ))));
        }
        let (mut entry, mut byte) = (0, 0);
        let mut submissions = Vec::with_capacity(layouts.len());
        for i in 0..layouts.len() {
            let own = &lengths[entry..entry + counts[i] as usize];
            let size: usize = own.iter().map(|&l| l as usize).sum();
            submissions.push((layouts[i], batches[i], Payloads::packed(&bytes[byte..byte + size], own)));
            entry += own.len();
            byte += size;
        }
        Ok(self.inner.submit_many(submissions))
    }

    /// Stops the thread; what it held comes back as lost in a last call of onOutcomes.
    #[napi]
    pub fn stop(&mut self) {
        self.inner.stop();
    }
}

fn limits(o: &AppenderOptions) -> Result<Limits> {
    if o.frame_entries == 0 || o.frame_payload_bytes == 0 || o.tokens_per_request == 0 || o.max_entries == 0 || o.max_bytes == 0 {
        return Err(js_error(&EngineError::BadRequest("every appender limit must be at least 1".into())));
    }
    Ok(Limits {
        frame_entries: o.frame_entries as usize,
        frame_payload_bytes: o.frame_payload_bytes as usize,
        tokens_per_request: o.tokens_per_request as usize,
        max_entries: o.max_entries as usize,
        max_bytes: o.max_bytes as usize,
    })
}

fn layout_spec(l: AppenderLayout) -> Result<LayoutSpec> {
    let end = match l.end {
        Some(e) => Some(to_u64("end", e)?),
        None => None,
    };
    if l.chains.is_empty() || l.chains.iter().any(|c| c.is_empty() || c.len() > 255) || l.timeout_ms == 0 {
        return Err(js_error(&EngineError::BadRequest("a layout needs chains of 1 to 255 units and a timeout of at least 1 ms".into())));
    }
    Ok(LayoutSpec {
        epoch: to_u64("epoch", l.epoch)?,
        timeout_ms: u64::from(l.timeout_ms),
        sequencer: l.sequencer,
        start: to_u64("start", l.start)?,
        end,
        chains: l.chains,
    })
}

/// A frame the machine sends: to whom (`host:port`) and its bytes.
#[napi(object)]
pub struct MachineSend {
    pub server: String,
    pub frame: Buffer,
}

/// The native append path's machine alone, with no thread and no sockets: the seeded
/// simulator (test/sim) drives it on virtual time over its simulated network, as the
/// appender's thread drives it over TCP. Times are milliseconds on the caller's clock.
#[napi]
pub struct AppendMachine {
    machine: Machine,
    directory: Directory,
    next_layout: u32,
}

#[napi]
impl AppendMachine {
    #[napi(constructor)]
    pub fn new(options: AppenderOptions) -> Result<AppendMachine> {
        Ok(AppendMachine { machine: Machine::new(limits(&options)?), directory: Directory::default(), next_layout: 1 })
    }

    #[napi]
    pub fn layout(&mut self, l: AppenderLayout) -> Result<u32> {
        let id = self.next_layout;
        self.next_layout += 1;
        self.directory.add_layout(id, &layout_spec(l)?);
        Ok(id)
    }

    #[napi]
    pub fn forget(&mut self, layout: u32) {
        self.directory.forget(layout);
    }

    /// Takes a submission; one refused comes back as NoToken outcomes.
    #[napi]
    pub fn submit(&mut self, layout: u32, batch: u32, payloads: Vec<Uint8ArraySlice>) {
        let parts: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
        self.machine.take(self.directory.layout(layout), batch, Payloads::new(&parts));
    }

    #[napi]
    pub fn turn(&mut self, now_ms: f64) {
        self.machine.turn(ns(now_ms));
    }

    /// The frames the last turns made, in order.
    #[napi]
    pub fn take_sends(&mut self) -> Vec<MachineSend> {
        let sends = std::mem::take(&mut self.machine.sends);
        sends.into_iter().map(|s| MachineSend { server: self.directory.name(s.server).to_string(), frame: s.frame.into() }).collect()
    }

    /// A whole answer frame from `server`; a string says why the connection is not to be
    /// trusted (drop it, then call `lost`).
    #[napi]
    pub fn answer(&mut self, server: String, frame: Uint8Array) -> Option<String> {
        let id = self.directory.find(&server)?;
        self.machine.answer(id, frame.as_ref()).err()
    }

    #[napi]
    pub fn lost(&mut self, server: String) {
        if let Some(id) = self.directory.find(&server) {
            self.machine.lost(id);
        }
    }

    /// Gives up on requests past their deadline; returns the servers whose connections to drop.
    #[napi]
    pub fn expire(&mut self, now_ms: f64) -> Vec<String> {
        let servers = self.machine.expire(ns(now_ms));
        servers.into_iter().map(|s| self.directory.name(s).to_string()).collect()
    }

    #[napi]
    pub fn next_deadline_ms(&self) -> Option<f64> {
        self.machine.next_deadline_ns().map(|d| d as f64 / 1e6)
    }

    /// Outcomes since the last call, encoded as the appender's (the module's note).
    #[napi]
    pub fn take_outcomes(&mut self) -> AppendOutcomes {
        let outcomes = std::mem::take(&mut self.machine.outcomes);
        let (mut records, mut messages) = (Vec::new(), Vec::new());
        encode(&outcomes, &mut records, &mut messages);
        AppendOutcomes { records: records.into(), messages, token_requests: self.machine.token_requests as f64 }
    }
}

/// Milliseconds (a virtual clock's, fractional) as the machine's nanoseconds.
fn ns(ms: f64) -> u64 {
    (ms.max(0.0) * 1e6).round() as u64
}

/// Appends the records of `outcomes` to `records`, their messages to `messages`.
fn encode(outcomes: &[Outcome], records: &mut Vec<u8>, messages: &mut Vec<String>) {
    records.reserve(outcomes.len() * RECORD_BYTES);
    for o in outcomes {
        records.extend_from_slice(&o.batch.to_le_bytes());
        records.extend_from_slice(&o.index.to_le_bytes());
        let address = o.address.map_or(-1.0, to_js_number);
        records.extend_from_slice(&address.to_le_bytes());
        let (fate, replica, status, message) = match &o.fate {
            Fate::Written => (0u8, 0u8, 0u8, None),
            Fate::NoToken { status } => (1, 0, *status, None),
            Fate::Fell { replica, status, message } => (2, *replica as u8, *status, message.as_deref()),
        };
        records.extend_from_slice(&[fate, replica, status, 0]);
        let m = match message {
            Some(text) => {
                messages.push(text.to_string());
                (messages.len() - 1) as u32
            }
            None => NO_MESSAGE,
        };
        records.extend_from_slice(&m.to_le_bytes());
    }
}
