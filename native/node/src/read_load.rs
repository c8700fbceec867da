//! `ReadLoad`: the native read load of `corfu bench device` (corfu_engine::read_load),
//! started from an open store (`NativeStore.readLoad`), opened and closed from TypeScript
//! (src/bench/device.ts), which keeps the progress bar, the CPU meter and the recording,
//! as for the TOKEN load (token_load.rs).

use corfu_engine::read_load::{ReadLoad as Load, ReadLoadOptions as LoadOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{to_js_number, to_u64};
use crate::token_load::{js_seconds, TokenLoadSecond};

#[napi(object)]
pub struct ReadLoadOptions {
    pub queue_depth: u32,
    /// Reads go to addresses 0..span, every one of them written.
    pub span: f64,
    pub epoch: f64,
    pub seed: u32,
}

#[napi(object)]
pub struct ReadLoadResult {
    pub ops: f64,
    pub seconds: Vec<TokenLoadSecond>,
    pub failure: Option<String>,
}

#[napi]
pub struct ReadLoad {
    inner: Load,
}

impl ReadLoad {
    pub(crate) fn start(shared: std::sync::Arc<corfu_engine::shared::Shared>, file: std::fs::File, o: ReadLoadOptions) -> Result<ReadLoad> {
        let options = LoadOptions {
            queue_depth: o.queue_depth as usize,
            span: to_u64("span", o.span)?,
            epoch: to_u64("epoch", o.epoch)?,
            seed: u64::from(o.seed),
        };
        let inner =
            Load::start(shared, file, options).map_err(|e| Error::new(Status::GenericFailure, format!("cannot start the read load: {e}")))?;
        Ok(ReadLoad { inner })
    }
}

#[napi]
impl ReadLoad {
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
    pub fn close(&mut self) -> ReadLoadResult {
        let r = self.inner.close();
        ReadLoadResult { ops: to_js_number(r.ops), seconds: js_seconds(r.seconds), failure: r.failure }
    }
}
