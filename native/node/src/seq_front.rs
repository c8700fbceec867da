//! `SequencerFront`: the sequencer's native TCP front (corfu_engine::seq_front), driven
//! by src/sequencer/front.ts. Its events reach JS through one threadsafe function, which
//! keeps Node's event loop alive while the front serves (a listening server does) and is
//! released when its thread ends after `stop`.

use std::sync::Arc;

use corfu_engine::front::{Event, EventSink, FrontOptions};
use corfu_engine::seq_front::gate::Gate;
use corfu_engine::seq_front::SeqFront;
use corfu_engine::EngineError;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::convert::{js_error, to_js_number, to_u64};

#[napi(object)]
pub struct SequencerFrontOptions {
    pub host: String,
    pub port: u32,
    pub epoch: f64,
    pub start_tail: f64,
    pub max_connections: u32,
    pub frame_timeout_ms: u32,
    pub max_buffered_bytes: u32,
    pub max_tokens_per_request: u32,
    pub keepalive_idle_s: u32,
}

/// One event: `kind` is opened | frame | notice | closed | full | stopped, or the
/// service's signal (the sequencer's: tail).
#[napi(object)]
pub struct FrontEvent {
    pub kind: String,
    pub conn: u32,
    /// A frame's bytes (kind frame).
    pub bytes: Option<Buffer>,
    /// The peer's address (opened) or why the front closed it (closed).
    pub text: Option<String>,
}

type EventCallback = ThreadsafeFunction<FrontEvent, (), FrontEvent, Status, false, false>;

/// The front's events as JS calls through one threadsafe function; `signal` names the
/// service's Event::Signal for the JS side. The function keeps Node's event loop alive
/// until the front's thread ends (after `stop`) and drops it.
pub fn event_sink(on_event: Function<FrontEvent, ()>, signal: &'static str) -> Result<EventSink> {
    let callback: EventCallback = on_event.build_threadsafe_function::<FrontEvent>().callee_handled::<false>().weak::<false>().build()?;
    Ok(Box::new(move |e: Event| {
        let (kind, conn, bytes, text) = match e {
            Event::Opened { conn, remote } => ("opened", conn, None, Some(remote)),
            Event::Frame { conn, bytes } => ("frame", conn, Some(Buffer::from(bytes)), None),
            Event::Notice { conn, bytes } => ("notice", conn, Some(Buffer::from(bytes)), None),
            Event::Closed { conn, why } => ("closed", conn, None, why),
            Event::Signal => (signal, 0, None, None),
            Event::Full => ("full", 0, None, None),
            Event::Stopped => ("stopped", 0, None, None),
        };
        callback.call(FrontEvent { kind: kind.into(), conn, bytes, text }, ThreadsafeFunctionCallMode::Blocking);
    }))
}

/// A bind that failed, as an Error whose message starts with the errno's name.
pub fn bind_error(e: std::io::Error) -> Error {
    let name = e.raw_os_error().map_or("EIO", errno_name);
    Error::new(Status::GenericFailure, format!("{name}: {e}"))
}

#[napi]
pub struct SequencerFront {
    front: SeqFront,
    gate: Arc<Gate>,
}

fn bad(what: String) -> Error {
    js_error(&EngineError::BadRequest(what))
}

#[napi]
impl SequencerFront {
    /// Binds and starts serving. A bind that fails throws an Error whose message starts
    /// with the errno's name (EADDRINUSE, EADDRNOTAVAIL, EACCES, ...).
    #[napi(factory, ts_args_type = "options: SequencerFrontOptions, onEvent: (event: FrontEvent) => void")]
    pub fn start(o: SequencerFrontOptions, on_event: Function<FrontEvent, ()>) -> Result<SequencerFront> {
        if o.port > 65535 {
            return Err(bad(format!("port must be 0..65535, got {}", o.port)));
        }
        if o.max_connections == 0 || o.frame_timeout_ms == 0 || o.max_buffered_bytes == 0 || o.max_tokens_per_request == 0 {
            return Err(bad("maxConnections, frameTimeoutMs, maxBufferedBytes and maxTokensPerRequest must be at least 1".into()));
        }
        let start_tail = to_u64("startTail", o.start_tail)?;
        if start_tail >= corfu_engine::seq_front::gate::TOKEN_SPACE_END {
            return Err(bad(format!("startTail {start_tail} leaves no token to hand out")));
        }
        let gate = Arc::new(Gate::new(to_u64("epoch", o.epoch)?, start_tail));
        let sink = event_sink(on_event, "tail")?;
        let options = FrontOptions {
            host: o.host,
            port: o.port as u16,
            max_connections: o.max_connections as usize,
            frame_timeout_ms: u64::from(o.frame_timeout_ms),
            max_buffered_bytes: o.max_buffered_bytes as usize,
            keepalive_idle_s: o.keepalive_idle_s,
            max_owed: 1,
            thread_name: "corfu-seq-front".into(),
        };
        let front = SeqFront::start(options, gate.clone(), o.max_tokens_per_request, sink).map_err(bind_error)?;
        Ok(SequencerFront { front, gate })
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.front.front.local_addr().port())
    }

    #[napi(getter)]
    pub fn host(&self) -> String {
        self.front.front.local_addr().ip().to_string()
    }

    /// Sends `bytes` on `conn`; `resume`: its held frame is handled, go on.
    #[napi]
    pub fn reply(&self, conn: u32, bytes: Buffer, resume: bool) {
        self.front.front.reply(conn, bytes.to_vec(), resume);
    }

    #[napi]
    pub fn close_connection(&self, conn: u32) {
        self.front.front.close(conn);
    }

    #[napi]
    pub fn stop(&self, grace_ms: u32) {
        self.front.front.stop(u64::from(grace_ms));
    }

    #[napi]
    pub fn set_waiters(&self, any: bool) {
        self.front.set_waiters(any);
    }

    #[napi]
    pub fn tail_seen(&self) {
        self.front.tail_seen();
    }

    /// TOKEN requests answered by the front so far.
    #[napi]
    pub fn answered(&self) -> f64 {
        to_js_number(self.front.answered())
    }

    #[napi]
    pub fn tokens(&self) -> f64 {
        to_js_number(self.front.tokens())
    }

    #[napi]
    pub fn connections(&self) -> u32 {
        self.front.front.connections() as u32
    }

    /// The first of `n` tokens (the state machine's TokenSource).
    #[napi]
    pub fn next(&self, n: f64) -> Result<f64> {
        let n = to_u64("n", n)?;
        if n == 0 {
            return Err(bad("next(n) needs n >= 1".into()));
        }
        Ok(to_js_number(self.gate.next(n)))
    }

    #[napi]
    pub fn peek(&self) -> f64 {
        to_js_number(self.gate.peek())
    }

    #[napi]
    pub fn reset(&self, start: f64) -> Result<()> {
        self.gate.reset(to_u64("start", start)?);
        Ok(())
    }

    /// No TOKEN is answered by the front until `openEpoch` (around an epoch change).
    #[napi]
    pub fn close_epoch(&self) {
        self.gate.close_epoch();
    }

    #[napi]
    pub fn open_epoch(&self, epoch: f64) -> Result<()> {
        self.gate.open_epoch(to_u64("epoch", epoch)?);
        Ok(())
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc_errno::EADDRINUSE => "EADDRINUSE",
        libc_errno::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc_errno::EACCES => "EACCES",
        _ => "EIO",
    }
}

/// The three errnos a bind reports that the TypeScript side names (Linux values).
mod libc_errno {
    pub const EACCES: i32 = 13;
    pub const EADDRINUSE: i32 = 98;
    pub const EADDRNOTAVAIL: i32 = 99;
}
