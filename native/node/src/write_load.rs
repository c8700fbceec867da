//! `WriteLoad`: the native write load of `corfu bench device` (corfu_engine::write_load),
//! started from an open store (`NativeStore.writeLoad`), opened and closed from
//! TypeScript (bench/engine-phases.ts), which keeps the progress bar, the CPU meter and
//! the recording, as for the read load (read_load.rs).
//!
//! Its thread holds the store from start to close, as the store's I/O thread holds it
//! while it runs rounds: a call on the store from JS meanwhile waits until the load is
//! closed.

use std::sync::Arc;

use corfu_engine::load_window::{LoadResult as _, LoadThread};
use corfu_engine::write_load::{run, WriteLoadOptions as LoadOptions, WriteLoadResult as LoadResult};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{to_js_number, to_u64};
use crate::io_thread::StoreCell;
use crate::token_load::{js_seconds, TokenLoadSecond};

#[napi(object)]
pub struct WriteLoadOptions {
    pub queue_depth: u32,
    pub epoch: f64,
    /// Bytes of each entry's payload.
    pub payload_bytes: u32,
}

#[napi(object)]
pub struct WriteLoadResult {
    pub ops: f64,
    pub seconds: Vec<TokenLoadSecond>,
    /// Every address the load wrote lies in firstAddress..nextAddress.
    pub first_address: f64,
    pub next_address: f64,
    pub trims: f64,
    pub failure: Option<String>,
}

#[napi]
pub struct WriteLoad {
    inner: LoadThread<LoadResult>,
}

impl WriteLoad {
    pub(crate) fn start(cell: Arc<StoreCell>, o: WriteLoadOptions) -> Result<WriteLoad> {
        if o.queue_depth == 0 || o.payload_bytes == 0 {
            return Err(Error::new(Status::InvalidArg, "queueDepth and payloadBytes must be at least 1"));
        }
        let options = LoadOptions { queue_depth: o.queue_depth as usize, epoch: to_u64("epoch", o.epoch)?, payload_bytes: o.payload_bytes };
        let inner = LoadThread::spawn("corfu-write-load", move |w| {
            let mut guard = cell.lock_for_load();
            match guard.as_mut() {
                Some(store) => run(store, w, &options),
                None => {
                    let failure = "the store is closed".to_string();
                    w.fail(failure.clone());
                    LoadResult::failed(failure)
                }
            }
        })
        .map_err(|e| Error::new(Status::GenericFailure, format!("cannot start the write load: {e}")))?;
        Ok(WriteLoad { inner })
    }
}

#[napi]
impl WriteLoad {
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

    /// Ends the window and the load (its rounds in flight are answered first); the store
    /// is free for JS's calls again.
    #[napi]
    pub fn close(&mut self) -> WriteLoadResult {
        let r = self.inner.close();
        WriteLoadResult {
            ops: to_js_number(r.ops),
            seconds: js_seconds(r.seconds),
            first_address: to_js_number(r.first_address),
            next_address: to_js_number(r.next_address),
            trims: to_js_number(r.trims),
            failure: r.failure,
        }
    }
}
