//! `NativeAppender`: the client's native append path (corfu_engine::appender), driven by
//! src/client/native-appends.ts. Outcomes reach JS as one flat Buffer per turn of the
//! path's loop (a record per entry, below), not an object per entry: at 16 x 32 the
//! client ends a hundred thousand appends a second.
//!
//! A record is 24 bytes, little-endian: batch u32, index u32, address f64 (-1: no token),
//! fate u8 (0 written, 1 no token, 2 fell), replica u8, status u8, one unused byte, and
//! the index of its message in `messages` as a u32 (0xffffffff: none).

use corfu_engine::appender::{Appender, Fate, LayoutSpec, Limits, Outcome, Payloads};
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

type OutcomeCallback = ThreadsafeFunction<AppendOutcomes, (), AppendOutcomes, Status, false, true>;

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
        let o = &options;
        if o.frame_entries == 0 || o.frame_payload_bytes == 0 || o.tokens_per_request == 0 || o.max_entries == 0 || o.max_bytes == 0 {
            return Err(js_error(&EngineError::BadRequest("every appender limit must be at least 1".into())));
        }
        let limits = Limits {
            frame_entries: o.frame_entries as usize,
            frame_payload_bytes: o.frame_payload_bytes as usize,
            tokens_per_request: o.tokens_per_request as usize,
            max_entries: o.max_entries as usize,
            max_bytes: o.max_bytes as usize,
        };
        let callback: OutcomeCallback =
            on_outcomes.build_threadsafe_function::<AppendOutcomes>().callee_handled::<false>().weak::<true>().build()?;
        let sink = Box::new(move |outcomes: Vec<Outcome>, token_requests: u64| {
            let (records, messages) = encode(&outcomes);
            callback.call(
                AppendOutcomes { records: records.into(), messages, token_requests: token_requests as f64 },
                ThreadsafeFunctionCallMode::Blocking,
            );
        });
        let inner = Appender::start(limits, sink).map_err(|e| js_error(&EngineError::io("cannot start the appender's thread", e)))?;
        Ok(NativeAppender { inner })
    }

    /// Registers a layout; returns its number for `submit`.
    #[napi]
    pub fn layout(&mut self, l: AppenderLayout) -> Result<u32> {
        let end = match l.end {
            Some(e) => Some(to_u64("end", e)?),
            None => None,
        };
        if l.chains.is_empty() || l.chains.iter().any(|c| c.is_empty() || c.len() > 255) || l.timeout_ms == 0 {
            return Err(js_error(&EngineError::BadRequest("a layout needs chains of 1 to 255 units and a timeout of at least 1 ms".into())));
        }
        Ok(self.inner.layout(LayoutSpec {
            epoch: to_u64("epoch", l.epoch)?,
            timeout_ms: u64::from(l.timeout_ms),
            sequencer: l.sequencer,
            start: to_u64("start", l.start)?,
            end,
            chains: l.chains,
        }))
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

    /// Queues `payloads` as batch `batch` under `layout`; false (nothing queued) for a
    /// batch larger than the path's limits.
    #[napi]
    pub fn submit(&self, layout: u32, batch: u32, payloads: Vec<Uint8Array>) -> bool {
        let parts: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
        self.inner.submit(layout, batch, Payloads::new(&parts))
    }

    /// Stops the thread; what it held comes back as lost in a last call of onOutcomes.
    #[napi]
    pub fn stop(&mut self) {
        self.inner.stop();
    }
}

fn encode(outcomes: &[Outcome]) -> (Vec<u8>, Vec<String>) {
    let mut records = Vec::with_capacity(outcomes.len() * RECORD_BYTES);
    let mut messages: Vec<String> = Vec::new();
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
    (records, messages)
}
