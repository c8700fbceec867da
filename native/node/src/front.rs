//! What the two native fronts' bindings share (seq_front.rs, unit_front.rs): their events
//! as JS calls, their options checked, their bind errors named. Events reach JS through
//! one threadsafe function, which keeps Node's event loop alive while the front serves (a
//! listening server does) and is released when its thread ends after `stop`.

use corfu_engine::front::{Event, EventSink, FrontOptions};
use corfu_engine::EngineError;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::convert::js_error;

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

pub fn bad(what: String) -> Error {
    js_error(&EngineError::BadRequest(what))
}

/// The limits every front takes from JS, as u32s.
pub struct Limits {
    pub port: u32,
    pub max_connections: u32,
    pub frame_timeout_ms: u32,
    pub max_buffered_bytes: u32,
    pub keepalive_idle_s: u32,
}

/// The front's options, checked: ERR_BAD_REQUEST for a port above 65535 or a zero limit.
pub fn front_options(host: String, l: Limits, max_owed: u32, thread_name: &str) -> Result<FrontOptions> {
    if l.port > 65535 {
        return Err(bad(format!("port must be 0..65535, got {}", l.port)));
    }
    if l.max_connections == 0 || l.frame_timeout_ms == 0 || l.max_buffered_bytes == 0 || max_owed == 0 {
        return Err(bad("maxConnections, frameTimeoutMs, maxBufferedBytes and the answers a connection may owe must be at least 1".into()));
    }
    Ok(FrontOptions {
        host,
        port: l.port as u16,
        max_connections: l.max_connections as usize,
        frame_timeout_ms: u64::from(l.frame_timeout_ms),
        max_buffered_bytes: l.max_buffered_bytes as usize,
        keepalive_idle_s: l.keepalive_idle_s,
        max_owed,
        thread_name: thread_name.into(),
    })
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
