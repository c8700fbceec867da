//! Thin napi-rs binding over `corfu-engine`: converts types and schedules work, nothing
//! more. Each store owns one I/O thread; calls queue requests to it (one N-API crossing
//! per batch) and it answers a whole round at a time, so concurrent calls share a flush
//! and a sync (group commit).

mod convert;
mod io_thread;
mod token;

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Mutex;

use corfu_engine::{path, Code, EngineError, Request, SyncMode};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use convert::{addresses, js_error, SuperblockInfo};
use io_thread::{Job, Payload, Reply};

/// Requests queued to one store's I/O thread at most; beyond it calls fail fast with
/// ERR_OVERLOADED instead of growing a queue without bound.
const MAX_QUEUED_REQUESTS: usize = 16_384;

#[napi(object)]
pub struct FormatOptions {
    pub size_bytes: Option<f64>,
    pub max_entry_bytes: Option<u32>,
    /// 32 hex digits.
    pub cluster_id: Option<String>,
    pub unit_id: Option<f64>,
    pub force: Option<bool>,
}

#[napi(object)]
pub struct OpenOptions {
    /// "always" (default) or "none".
    pub sync: Option<String>,
}

#[napi(object)]
pub struct ErrorCodeEntry {
    pub code: u32,
    pub name: String,
}

#[napi]
pub fn error_codes() -> Vec<ErrorCodeEntry> {
    Code::ALL.iter().map(|c| ErrorCodeEntry { code: *c as u32, name: c.name().to_string() }).collect()
}

fn parse_cluster_id(hex: &str) -> Result<[u8; 16]> {
    let bad = || js_error(&EngineError::BadRequest(format!("cluster id must be 32 hex digits, got {hex:?}")));
    if hex.len() != 32 {
        return Err(bad());
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(id)
}

#[napi]
pub fn format(path: String, options: Option<FormatOptions>) -> Result<SuperblockInfo> {
    let o = options.unwrap_or(FormatOptions { size_bytes: None, max_entry_bytes: None, cluster_id: None, unit_id: None, force: None });
    let req = path::FormatRequest {
        size_bytes: o.size_bytes.map(|s| convert::to_u64("sizeBytes", s)).transpose()?,
        max_entry_bytes: o.max_entry_bytes,
        cluster_id: o.cluster_id.as_deref().map(parse_cluster_id).transpose()?,
        unit_id: o.unit_id.map(|u| convert::to_u64("unitId", u)).transpose()?.unwrap_or(0),
        force: o.force.unwrap_or(false),
    };
    let sb = path::format_path(Path::new(&path), &req).map_err(|e| js_error(&e))?;
    Ok(SuperblockInfo::new(&sb, kind_of(&path), 0))
}

fn kind_of(path: &str) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_block_device() => "block",
        _ => "file",
    }
}

#[napi]
pub fn inspect(path: String) -> Result<SuperblockInfo> {
    let ins = path::inspect_path(Path::new(&path)).map_err(|e| js_error(&e))?;
    Ok(SuperblockInfo::new(&ins.superblock, ins.kind.name(), ins.used_pages))
}

#[napi]
pub struct NativeStore {
    tx: Mutex<Option<SyncSender<Job>>>,
    sync_mode: &'static str,
}

#[napi]
impl NativeStore {
    /// Opens and recovers the store (blocking: this is the unit's start-up).
    #[napi(factory)]
    pub fn open(path: String, options: Option<OpenOptions>) -> Result<NativeStore> {
        let sync = match options.and_then(|o| o.sync).as_deref() {
            None | Some("always") => SyncMode::Always,
            Some("none") => SyncMode::None,
            Some(other) => {
                return Err(js_error(&EngineError::BadRequest(format!("sync must be \"always\" or \"none\", got {other:?}"))))
            }
        };
        let store = path::open_store(Path::new(&path), sync).map_err(|e| js_error(&e))?;
        let (tx, rx) = sync_channel(MAX_QUEUED_REQUESTS);
        std::thread::Builder::new()
            .name("corfu-io".into())
            .spawn(move || io_thread::run(store, rx))
            .map_err(|e| js_error(&EngineError::io("cannot start the I/O thread", e)))?;
        Ok(NativeStore { tx: Mutex::new(Some(tx)), sync_mode: sync.name() })
    }

    #[napi(getter)]
    pub fn sync_mode(&self) -> &'static str {
        self.sync_mode
    }

    fn send(&self, job: Job) -> Result<()> {
        let guard = self.tx.lock().expect("sender lock");
        let Some(tx) = guard.as_ref() else { return Err(js_error(&EngineError::Closed)) };
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(js_error(&EngineError::Overloaded(MAX_QUEUED_REQUESTS))),
            Err(TrySendError::Disconnected(_)) => Err(js_error(&EngineError::Closed)),
        }
    }

    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn write<'env>(&self, env: &'env Env, epoch: f64, addresses_in: Float64Array, lengths: Uint32Array, data: Buffer) -> Result<Object<'env>> {
        let req = Request::Write {
            epoch: convert::to_u64("epoch", epoch)?,
            addresses: addresses(&addresses_in)?,
            lengths: lengths.to_vec(),
            data: Payload(data),
        };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Write(deferred) })?;
        Ok(promise)
    }

    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn fill<'env>(&self, env: &'env Env, epoch: f64, addresses_in: Float64Array) -> Result<Object<'env>> {
        let req = Request::Fill { epoch: convert::to_u64("epoch", epoch)?, addresses: addresses(&addresses_in)? };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Write(deferred) })?;
        Ok(promise)
    }

    #[napi(ts_return_type = "Promise<ReadResult>")]
    pub fn read<'env>(&self, env: &'env Env, epoch: f64, addresses_in: Float64Array) -> Result<Object<'env>> {
        let req = Request::Read { epoch: convert::to_u64("epoch", epoch)?, addresses: addresses(&addresses_in)? };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Read(deferred) })?;
        Ok(promise)
    }

    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn trim<'env>(&self, env: &'env Env, epoch: f64, addresses_in: Float64Array) -> Result<Object<'env>> {
        let req = Request::Trim { epoch: convert::to_u64("epoch", epoch)?, addresses: addresses(&addresses_in)? };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Bytes(deferred) })?;
        Ok(promise)
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn prefix_trim<'env>(&self, env: &'env Env, epoch: f64, address: f64) -> Result<Object<'env>> {
        let req = Request::PrefixTrim { epoch: convert::to_u64("epoch", epoch)?, address: convert::to_u64("address", address)? };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Unit(deferred) })?;
        Ok(promise)
    }

    /// Moves the unit to `epoch` durably; answers the unit's local tail.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn seal<'env>(&self, env: &'env Env, epoch: f64) -> Result<Object<'env>> {
        let req = Request::Seal { epoch: convert::to_u64("epoch", epoch)? };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Number(deferred) })?;
        Ok(promise)
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn tail<'env>(&self, env: &'env Env, epoch: f64) -> Result<Object<'env>> {
        let req = Request::Tail { epoch: convert::to_u64("epoch", epoch)? };
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: req, reply: Reply::Number(deferred) })?;
        Ok(promise)
    }

    #[napi(ts_return_type = "Promise<StoreStats>")]
    pub fn stats<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred()?;
        self.send(Job { request: Request::Stats, reply: Reply::Stats(deferred) })?;
        Ok(promise)
    }

    /// Finishes what is queued, then closes the device. Later calls fail with ERR_CLOSED.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred()?;
        let tx = self.tx.lock().expect("sender lock").take();
        match tx {
            Some(tx) => {
                // A blocking send: close must not be refused because the queue is full.
                if tx.send(Job { request: Request::Stats, reply: Reply::Close(deferred) }).is_err() {
                    return Err(js_error(&EngineError::Closed));
                }
            }
            None => deferred.resolve(Box::new(|_| Ok(()))),
        }
        Ok(promise)
    }
}

pub use convert::{ReadResult, StoreStats, WriteResult};
pub use token::TokenCounter;
