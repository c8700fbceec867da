//! Thin napi-rs binding over `corfu-engine`: converts types and schedules work, nothing
//! more. Each store owns one I/O thread; calls queue requests to it (one N-API crossing
//! per batch) and it answers a whole round at a time, so concurrent calls share a flush
//! and a sync (group commit).

mod appender;
mod convert;
mod front;
mod io_thread;
mod read_load;
mod seq_front;
mod token;
mod token_load;
mod unit_front;
mod write_load;

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use corfu_engine::read_service::{ReadRequest, ReadService, Waker};
use corfu_engine::shared::Shared;

use corfu_engine::{path, Code, EngineError, EntryKind, Request, SyncMode, Written};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use convert::{addresses, js_error, DeviceIdentity, SuperblockInfo, Usage};
use io_thread::{Dest, Job, Payload, ReadRoute, ReadRoutes, RoundCallback, StoreCell};

/// Requests queued to one store's I/O thread at most; beyond it calls fail fast with
/// ERR_OVERLOADED instead of growing a queue without bound.
pub(crate) const MAX_QUEUED_REQUESTS: usize = 16_384;

#[napi(object)]
pub struct FormatOptions {
    pub size_bytes: Option<f64>,
    pub max_entry_bytes: Option<u32>,
    /// 32 hex digits.
    pub cluster_id: Option<String>,
    pub unit_id: Option<f64>,
    pub force: Option<bool>,
    /// Write zeros over a file before formatting it (files only).
    pub zero: Option<bool>,
}

#[napi(object)]
pub struct OpenOptions {
    /// "always" (default) or "none".
    pub sync: Option<String>,
}

/// A byte and its name in one of the code tables (error, written, kind).
#[napi(object)]
pub struct CodeEntry {
    pub code: u32,
    pub name: String,
}

#[napi]
pub fn error_codes() -> Vec<CodeEntry> {
    Code::ALL.iter().map(|c| CodeEntry { code: *c as u32, name: c.name().to_string() }).collect()
}

/// The engine's limits and geometry that TypeScript relies on too (the wire's frame cap,
/// the READ answer budget, entry sizes, the highest address, and what the simulator's
/// space model copies); test/limits.test.ts checks the TypeScript constants against them.
#[napi(object)]
pub struct EngineLimits {
    pub wire_max_frame_bytes: u32,
    pub max_read_answer_bytes: u32,
    pub read_answer_entry_bytes: u32,
    pub default_max_entry_bytes: u32,
    pub max_max_entry_bytes: u32,
    /// 2^53 - 2: exact as a JS number.
    pub max_address: f64,
    pub page_body_bytes: u32,
    pub record_header_bytes: u32,
    pub max_flush_pages: u32,
    pub max_flush_records: u32,
    pub summary_trigger_pages: u32,
    pub summary_trigger_records: u32,
}

#[napi]
pub fn engine_limits() -> EngineLimits {
    use corfu_engine::flush::MAX_FLUSH_RECORDS;
    use corfu_engine::layout::{DEFAULT_MAX_ENTRY_BYTES, MAX_FLUSH_PAGES, MAX_MAX_ENTRY_BYTES, PAGE_BODY_BYTES, RECORD_HEADER_BYTES};
    use corfu_engine::shared::{MAX_READ_ANSWER_BYTES, READ_ANSWER_ENTRY_BYTES, WIRE_MAX_FRAME_BYTES};
    use corfu_engine::summary::{TRIGGER_ENTRIES, TRIGGER_PAGES};
    EngineLimits {
        wire_max_frame_bytes: WIRE_MAX_FRAME_BYTES as u32,
        max_read_answer_bytes: MAX_READ_ANSWER_BYTES as u32,
        read_answer_entry_bytes: READ_ANSWER_ENTRY_BYTES as u32,
        default_max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
        max_max_entry_bytes: MAX_MAX_ENTRY_BYTES,
        max_address: corfu_engine::store::MAX_ADDRESS as f64,
        page_body_bytes: PAGE_BODY_BYTES as u32,
        record_header_bytes: RECORD_HEADER_BYTES as u32,
        max_flush_pages: MAX_FLUSH_PAGES as u32,
        max_flush_records: MAX_FLUSH_RECORDS as u32,
        summary_trigger_pages: TRIGGER_PAGES as u32,
        summary_trigger_records: TRIGGER_ENTRIES as u32,
    }
}

/// The `written` bytes of a WRITE or FILL answer (entry_codes.rs), for the drift test.
#[napi]
pub fn written_codes() -> Vec<CodeEntry> {
    Written::ALL.iter().map(|w| CodeEntry { code: *w as u32, name: w.name().to_string() }).collect()
}

/// The `kind` bytes of a READ answer (entry_codes.rs), for the drift test.
#[napi]
pub fn kind_codes() -> Vec<CodeEntry> {
    EntryKind::ALL.iter().map(|k| CodeEntry { code: *k as u32, name: k.name().to_string() }).collect()
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
    let o =
        options.unwrap_or(FormatOptions { size_bytes: None, max_entry_bytes: None, cluster_id: None, unit_id: None, force: None, zero: None });
    let req = path::FormatRequest {
        size_bytes: o.size_bytes.map(|s| convert::to_u64("sizeBytes", s)).transpose()?,
        max_entry_bytes: o.max_entry_bytes,
        cluster_id: o.cluster_id.as_deref().map(parse_cluster_id).transpose()?,
        unit_id: o.unit_id.map(|u| convert::to_u64("unitId", u)).transpose()?.unwrap_or(0),
        force: o.force.unwrap_or(false),
        zero: o.zero.unwrap_or(false),
    };
    let sb = path::format_path(Path::new(&path), &req).map_err(|e| js_error(&e))?;
    Ok(SuperblockInfo::new(&sb, kind_of(&path), Usage::default()))
}

fn kind_of(path: &str) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_block_device() => "block",
        _ => "file",
    }
}

/// The superblock alone, without the recovery `inspect` runs: a unit reads it before it
/// opens the device, and an open already recovers once.
#[napi]
pub fn identity(path: String) -> Result<DeviceIdentity> {
    let (sb, kind) = path::superblock_path(Path::new(&path)).map_err(|e| js_error(&e))?;
    Ok(DeviceIdentity::new(&sb, kind.name()))
}

#[napi]
pub fn inspect(path: String) -> Result<SuperblockInfo> {
    let ins = path::inspect_path(Path::new(&path)).map_err(|e| js_error(&e))?;
    Ok(SuperblockInfo::new(
        &ins.superblock,
        ins.kind.name(),
        Usage { used_pages: ins.used_pages, index_bytes: ins.index_bytes, addresses: ins.addresses },
    ))
}

/// Queues without blocking the JS thread: a full queue is ERR_OVERLOADED, not a wait.
fn enqueue<T>(tx: &SyncSender<T>, item: T) -> Result<()> {
    match tx.try_send(item) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(js_error(&EngineError::Overloaded(MAX_QUEUED_REQUESTS))),
        Err(TrySendError::Disconnected(_)) => Err(js_error(&EngineError::Closed)),
    }
}

#[napi]
pub struct NativeStore {
    tx: Mutex<Option<SyncSender<Job>>>,
    cell: Arc<StoreCell>,
    reads: Mutex<Option<(SyncSender<ReadRequest>, JoinHandle<()>)>>,
    read_waker: Waker,
    read_routes: ReadRoutes,
    sync_mode: &'static str,
}

/// Every request method takes a caller-chosen `id` and returns nothing: the answer comes
/// back through `onRound` (see io_thread.rs for the bytes). A method throws at once only
/// for bad arguments, a full queue (ERR_OVERLOADED) or a closed store (ERR_CLOSED).
#[napi]
impl NativeStore {
    /// Opens and recovers the store (blocking: this is the unit's start-up). `onRound`
    /// receives one Buffer per round holding every answer of that round. The callback
    /// does not keep Node's event loop alive: the JS side holds a handle while requests
    /// are outstanding, so an idle store never pins the process.
    #[napi(factory, ts_args_type = "path: string, options: OpenOptions | undefined | null, onRound: (round: Buffer) => void")]
    pub fn open(path: String, options: Option<OpenOptions>, on_round: Function<Buffer, ()>) -> Result<NativeStore> {
        let sync = match options.and_then(|o| o.sync).as_deref() {
            None | Some("always") => SyncMode::Always,
            Some("none") => SyncMode::None,
            Some(other) => return Err(js_error(&EngineError::BadRequest(format!("sync must be \"always\" or \"none\", got {other:?}")))),
        };
        let callback: Arc<RoundCallback> =
            Arc::new(on_round.build_threadsafe_function::<Buffer>().callee_handled::<false>().weak::<true>().build()?);
        let store = path::open_store(Path::new(&path), sync).map_err(|e| js_error(&e))?;
        let file = store.device().file().try_clone().map_err(|e| js_error(&EngineError::io("cannot duplicate the device fd", e)))?;
        let service = ReadService::new(store.shared(), file).map_err(|e| js_error(&EngineError::io("cannot set up io_uring", e)))?;
        let read_waker = service.waker();
        let spawn_failed = |e| js_error(&EngineError::io("cannot start an I/O thread", e));
        let (read_tx, read_rx) = sync_channel(MAX_QUEUED_REQUESTS);
        let read_callback = callback.clone();
        let read_routes = ReadRoutes::default();
        let thread_routes = read_routes.clone();
        let reader = std::thread::Builder::new()
            .name("corfu-read".into())
            .spawn(move || io_thread::run_reads(service, read_rx, read_callback, thread_routes))
            .map_err(spawn_failed)?;
        let (tx, rx) = sync_channel(MAX_QUEUED_REQUESTS);
        let cell = StoreCell::new(store);
        let thread_cell = cell.clone();
        std::thread::Builder::new().name("corfu-io".into()).spawn(move || io_thread::run(thread_cell, rx, callback)).map_err(spawn_failed)?;
        Ok(NativeStore {
            tx: Mutex::new(Some(tx)),
            cell,
            reads: Mutex::new(Some((read_tx, reader))),
            read_waker,
            read_routes,
            sync_mode: sync.name(),
        })
    }

    #[napi(getter)]
    pub fn sync_mode(&self) -> &'static str {
        self.sync_mode
    }

    /// The I/O thread's queue, for a native front's WRITEs (unit_front.rs).
    pub(crate) fn sender(&self) -> Result<SyncSender<Job>> {
        self.tx.lock().expect("sender lock").clone().ok_or_else(|| js_error(&EngineError::Closed))
    }

    /// The store itself, for a native front that runs rounds on its own thread when the
    /// I/O thread is idle (unit_front.rs).
    pub(crate) fn cell(&self) -> Arc<StoreCell> {
        self.cell.clone()
    }

    /// The store's shared state and a descriptor of its device of its own, for a native
    /// front that reads on its own thread (unit_front.rs).
    /// The descriptor lives as long as the front: a store's device stays locked until
    /// every descriptor of it is closed, so none is kept here (a store closed and opened
    /// again found its device "locked by another unit").
    pub(crate) fn reader(&self) -> Result<(Arc<Shared>, File)> {
        match self.cell.reader() {
            Some((shared, Ok(file))) => Ok((shared, file)),
            Some((_, Err(e))) => Err(js_error(&EngineError::io("cannot duplicate the device fd", e))),
            None => Err(js_error(&EngineError::Closed)),
        }
    }

    /// A native read load on this store's device (`corfu bench device`): reads of its
    /// written addresses from a thread and a ring of its own.
    #[napi]
    pub fn read_load(&self, options: read_load::ReadLoadOptions) -> Result<read_load::ReadLoad> {
        let (shared, file) = self.reader()?;
        read_load::ReadLoad::start(shared, file, options)
    }

    /// A native write load on this store (`corfu bench device`): one-page writes from its
    /// tail, rounds begun and finished on a thread that holds the store until closed.
    #[napi]
    pub fn write_load(&self, options: write_load::WriteLoadOptions) -> Result<write_load::WriteLoad> {
        write_load::WriteLoad::start(self.cell.clone(), options)
    }

    /// The read service's queue, its waker and the routes its answers take, for a native
    /// front's READs (unit_front.rs).
    pub(crate) fn read_queue(&self) -> Result<(SyncSender<ReadRequest>, Waker, ReadRoutes)> {
        let guard = self.reads.lock().expect("reads lock");
        let Some((tx, _)) = guard.as_ref() else { return Err(js_error(&EngineError::Closed)) };
        Ok((tx.clone(), self.read_waker.clone(), self.read_routes.clone()))
    }

    fn send(&self, id: u32, request: Request<Payload>) -> Result<()> {
        let guard = self.tx.lock().expect("sender lock");
        let Some(tx) = guard.as_ref() else { return Err(js_error(&EngineError::Closed)) };
        enqueue(tx, Job::Request { id, request })
    }

    /// Queues a read to the read service (`dest`: a readInto's target) and wakes it.
    fn queue_read(&self, id: u32, epoch: f64, addresses_in: &Float64Array, dest: Option<Dest>) -> Result<()> {
        let req = ReadRequest { id, epoch: convert::to_u64("epoch", epoch)?, addresses: addresses(addresses_in)? };
        let guard = self.reads.lock().expect("reads lock");
        let Some((tx, _)) = guard.as_ref() else { return Err(js_error(&EngineError::Closed)) };
        if let Some(dest) = dest {
            // Before the request is queued: the read thread looks for it when it answers.
            self.read_routes.lock().expect("read routes lock").insert(id, ReadRoute::Into(dest));
        }
        if let Err(e) = enqueue(tx, req) {
            if dest.is_some() {
                self.read_routes.lock().expect("read routes lock").remove(&id);
            }
            return Err(e);
        }
        self.read_waker.wake();
        Ok(())
    }

    #[napi]
    pub fn write(&self, id: u32, epoch: f64, addresses_in: Float64Array, lengths: Uint32Array, data: Buffer) -> Result<()> {
        let req = Request::Write {
            epoch: convert::to_u64("epoch", epoch)?,
            addresses: addresses(&addresses_in)?,
            lengths: lengths.to_vec(),
            data: Payload(data.as_ref().into()),
        };
        self.send(id, req)
    }

    #[napi]
    pub fn fill(&self, id: u32, epoch: f64, addresses_in: Float64Array) -> Result<()> {
        self.send(id, Request::Fill { epoch: convert::to_u64("epoch", epoch)?, addresses: addresses(&addresses_in)? })
    }

    /// Reads go to the read service, not the write rounds: they never wait for a sync.
    #[napi]
    pub fn read(&self, id: u32, epoch: f64, addresses_in: Float64Array) -> Result<()> {
        self.queue_read(id, epoch, &addresses_in, None)
    }

    /// A read whose payloads go into `target`, back to back in request order, instead of
    /// the round buffer: no new memory per read. The caller keeps `target` alive and does
    /// not touch it until the answer (bindings/store-channel.ts does both).
    #[napi]
    pub fn read_into(&self, id: u32, epoch: f64, addresses_in: Float64Array, mut target: BufferSlice) -> Result<()> {
        self.queue_read(id, epoch, &addresses_in, Some(Dest { ptr: target.as_mut_ptr(), len: target.len() }))
    }

    #[napi]
    pub fn trim(&self, id: u32, epoch: f64, addresses_in: Float64Array) -> Result<()> {
        self.send(id, Request::Trim { epoch: convert::to_u64("epoch", epoch)?, addresses: addresses(&addresses_in)? })
    }

    #[napi]
    pub fn prefix_trim(&self, id: u32, epoch: f64, address: f64) -> Result<()> {
        self.send(id, Request::PrefixTrim { epoch: convert::to_u64("epoch", epoch)?, address: convert::to_u64("address", address)? })
    }

    /// Moves the unit to `epoch` durably; answers the unit's local tail.
    #[napi]
    pub fn seal(&self, id: u32, epoch: f64) -> Result<()> {
        self.send(id, Request::Seal { epoch: convert::to_u64("epoch", epoch)? })
    }

    #[napi]
    pub fn tail(&self, id: u32, epoch: f64) -> Result<()> {
        self.send(id, Request::Tail { epoch: convert::to_u64("epoch", epoch)? })
    }

    #[napi]
    pub fn stats(&self, id: u32) -> Result<()> {
        self.send(id, Request::Stats)
    }

    /// Finishes what is queued, closes the device, then answers `id` with CLOSED.
    /// Later calls throw ERR_CLOSED.
    #[napi]
    pub fn close(&self, id: u32) -> Result<()> {
        let tx = self.tx.lock().expect("sender lock").take();
        let Some(tx) = tx else { return Err(js_error(&EngineError::Closed)) };
        // Dropping the read sender lets the read service finish what it has and stop.
        let reader = self.reads.lock().expect("reads lock").take().map(|(read_tx, handle)| {
            drop(read_tx);
            self.read_waker.wake();
            handle
        });
        // A blocking send: close must not be refused because the queue is full.
        tx.send(Job::Close { id, reader }).map_err(|_| js_error(&EngineError::Closed))
    }
}

pub use token::TokenCounter;

impl Drop for NativeStore {
    /// A store collected without close(): stop the read service too (it sleeps in its
    /// ring, so dropping its channel alone would not wake it), or its fd would keep
    /// holding the device.
    fn drop(&mut self) {
        if let Ok(mut reads) = self.reads.lock() {
            if let Some((tx, _handle)) = reads.take() {
                drop(tx);
                self.read_waker.wake();
            }
        }
    }
}
