//! `TokenLoad`: the native TOKEN load generator of `corfu bench tokens|compare --generator
//! native` (corfu_engine::token_load), started, opened and closed from TypeScript
//! (src/bench/native-tokens.ts), which keeps the progress bar, the CPU meter and the
//! recording.

use corfu_engine::token_load::{TokenLoad as Load, TokenLoadOptions as LoadOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{to_js_number, to_u64};

#[napi(object)]
pub struct TokenLoadOptions {
    pub host: String,
    pub port: u32,
    pub epoch: f64,
    pub connections: u32,
    pub depth: u32,
    pub count: u32,
    /// Poll without sleeping (see corfu_engine::token_load); default false.
    pub busy_poll: Option<bool>,
}

/// One second of the window: latencies in whole microseconds and how many had each.
#[napi(object)]
pub struct TokenLoadSecond {
    pub latency_us: Vec<u32>,
    pub counts: Vec<u32>,
}

#[napi(object)]
pub struct TokenLoadResult {
    pub ops: f64,
    pub seconds: Vec<TokenLoadSecond>,
    pub first_token: Option<f64>,
    pub tail_after: f64,
    pub failure: Option<String>,
}

#[napi]
pub struct TokenLoad {
    inner: Load,
}

#[napi]
impl TokenLoad {
    /// Connects and starts sending; throws when a connection cannot be made.
    #[napi(factory)]
    pub fn start(o: TokenLoadOptions) -> Result<Self> {
        if o.port == 0 || o.port > 65535 {
            return Err(Error::new(Status::InvalidArg, format!("port must be 1..65535, got {}", o.port)));
        }
        let options = LoadOptions {
            host: o.host,
            port: o.port as u16,
            epoch: to_u64("epoch", o.epoch)?,
            connections: o.connections as usize,
            depth: o.depth as usize,
            count: o.count,
            busy_poll: o.busy_poll.unwrap_or(false),
        };
        let inner = Load::start(options).map_err(|e| Error::new(Status::GenericFailure, format!("cannot start the TOKEN load: {e}")))?;
        Ok(TokenLoad { inner })
    }

    #[napi]
    pub fn measured(&self) -> f64 {
        to_js_number(self.inner.measured())
    }

    #[napi]
    pub fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    #[napi]
    pub fn open(&self) {
        self.inner.open();
    }

    #[napi]
    pub fn close(&mut self) -> TokenLoadResult {
        let r = self.inner.close();
        TokenLoadResult {
            ops: to_js_number(r.ops),
            seconds: js_seconds(r.seconds),
            first_token: r.first_token.map(to_js_number),
            tail_after: to_js_number(r.tail_after),
            failure: r.failure,
        }
    }
}

/// A load's per-second latencies as JS takes them.
pub fn js_seconds(seconds: corfu_engine::load_window::Seconds) -> Vec<TokenLoadSecond> {
    seconds
        .into_iter()
        .map(|s| TokenLoadSecond { latency_us: s.iter().map(|p| p.0).collect(), counts: s.iter().map(|p| p.1).collect() })
        .collect()
}
