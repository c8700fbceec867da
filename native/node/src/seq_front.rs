//! `SequencerFront`: the sequencer's native TCP front (corfu_engine::seq_front), driven
//! by src/sequencer/front.ts.

use std::sync::Arc;

use corfu_engine::seq_front::gate::Gate;
use corfu_engine::seq_front::SeqFront;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{to_js_number, to_u64};
use crate::front::{bad, bind_error, event_sink, front_options, FrontEvent, Limits};

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

#[napi]
pub struct SequencerFront {
    front: SeqFront,
    gate: Arc<Gate>,
}

#[napi]
impl SequencerFront {
    /// Binds and starts serving. A bind that fails throws an Error whose message starts
    /// with the errno's name (EADDRINUSE, EADDRNOTAVAIL, EACCES, ...).
    #[napi(factory, ts_args_type = "options: SequencerFrontOptions, onEvent: (event: FrontEvent) => void")]
    pub fn start(o: SequencerFrontOptions, on_event: Function<FrontEvent, ()>) -> Result<SequencerFront> {
        if o.max_tokens_per_request == 0 {
            return Err(bad("maxTokensPerRequest must be at least 1".into()));
        }
        let limits = Limits {
            port: o.port,
            max_connections: o.max_connections,
            frame_timeout_ms: o.frame_timeout_ms,
            max_buffered_bytes: o.max_buffered_bytes,
            keepalive_idle_s: o.keepalive_idle_s,
        };
        let options = front_options(o.host, limits, 1, "corfu-seq-front")?;
        let start_tail = to_u64("startTail", o.start_tail)?;
        if start_tail >= corfu_engine::seq_front::gate::TOKEN_SPACE_END {
            return Err(bad(format!("startTail {start_tail} leaves no token to hand out")));
        }
        let gate = Arc::new(Gate::new(to_u64("epoch", o.epoch)?, start_tail));
        let sink = event_sink(on_event, "tail")?;
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
