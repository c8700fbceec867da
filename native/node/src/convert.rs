//! Type conversions between JS and the engine. Numbers cross as f64: exact for integers
//! below 2^53, which every address, epoch and size must be.

use corfu_engine::layout::Superblock;
use corfu_engine::{EngineError, Stats};
use napi::bindgen_prelude::*;
use napi_derive::napi;

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Errors cross as JSON text; `bindings/` turns it into `CorfuError`.
pub fn js_error_json(e: &EngineError) -> String {
    let mut json = format!("{{\"code\":\"{}\",\"message\":{}", e.code().name(), json_string(&e.to_string()));
    if let EngineError::Sealed { unit_epoch, .. } = e {
        json.push_str(&format!(",\"unitEpoch\":{unit_epoch}"));
    }
    json.push('}');
    json
}

/// A synchronous failure (open, format, a refused call) as a thrown JS error.
pub fn js_error(e: &EngineError) -> Error {
    Error::new(Status::GenericFailure, js_error_json(e))
}

pub fn stats_json(s: &Stats) -> String {
    format!(
        concat!(
            "{{\"epoch\":{},\"trimMark\":{},\"tail\":{},\"generation\":{},\"dataPages\":{},\"usedPages\":{},",
            "\"freePages\":{},\"addresses\":{},\"indexBytes\":{},\"flushes\":{},\"pagesWritten\":{},",
            "\"entriesWritten\":{},\"payloadBytesWritten\":{},\"rounds\":{},\"recoveryPages\":{},",
            "\"recoverySummaries\":{},\"recoveryCheckpointBytes\":{},\"recoveryMs\":{},\"checkpointSeq\":{},",
            "\"checkpointBytes\":{},\"checkpointPages\":{},\"checkpointsWritten\":{},\"sync\":\"{}\"}}"
        ),
        s.epoch,
        s.trim_mark,
        s.tail,
        s.generation,
        s.data_pages,
        s.used_pages,
        s.free_pages,
        s.addresses,
        s.index_bytes,
        s.flushes,
        s.pages_written,
        s.entries_written,
        s.payload_bytes_written,
        s.rounds,
        s.recovery_pages,
        s.recovery_summaries,
        s.recovery_checkpoint_bytes,
        s.recovery_micros as f64 / 1000.0,
        if s.checkpoint_seq == u64::MAX { "null".to_string() } else { s.checkpoint_seq.to_string() },
        s.checkpoint_bytes,
        s.checkpoint_pages,
        s.checkpoints_written,
        if s.sync_always { "always" } else { "none" }
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn to_u64(what: &str, v: f64) -> Result<u64> {
    if v.is_finite() && (0.0..=MAX_SAFE_INTEGER).contains(&v) && v.fract() == 0.0 {
        Ok(v as u64)
    } else {
        Err(js_error(&EngineError::BadRequest(format!("{what} must be a non-negative safe integer, got {v}"))))
    }
}

pub fn to_js_number(v: u64) -> f64 {
    assert!(v as f64 <= MAX_SAFE_INTEGER, "value {v} does not fit a JS number");
    v as f64
}

pub fn addresses(a: &[f64]) -> Result<Vec<u64>> {
    a.iter().map(|&x| to_u64("address", x)).collect()
}

#[napi(object)]
pub struct SuperblockInfo {
    pub format_version: u32,
    pub cluster_id: String,
    pub unit_id: f64,
    pub epoch: f64,
    pub trim_mark: f64,
    pub page_bytes: u32,
    pub logical_block_bytes: u32,
    pub device_bytes: f64,
    pub data_pages: f64,
    pub max_entry_bytes: u32,
    pub head_seq: f64,
    pub used_pages: f64,
    pub free_pages: f64,
    pub generation: f64,
    pub created_unix_ms: f64,
    /// Random per format, 16 lower-case hex digits: tells one format of a device from another.
    pub format_id: String,
    /// "file" or "block".
    pub kind: String,
    /// The newest durable index checkpoint: the page seq it starts at (absent: none yet),
    /// its encoded bytes and the pages it takes.
    pub checkpoint_seq: Option<f64>,
    pub checkpoint_bytes: f64,
    pub checkpoint_pages: f64,
    /// The index a unit opening the device now would hold: its heap bytes and addresses.
    pub index_bytes: f64,
    pub addresses: f64,
}

/// What a device's superblock says of it, read without recovery (`Store.identity`).
#[napi(object)]
pub struct DeviceIdentity {
    pub format_version: u32,
    pub cluster_id: String,
    pub unit_id: f64,
    pub epoch: f64,
    pub page_bytes: u32,
    pub max_entry_bytes: u32,
    pub device_bytes: f64,
    pub format_id: String,
    /// "file" or "block".
    pub kind: String,
}

impl DeviceIdentity {
    pub fn new(sb: &Superblock, kind: &str) -> Self {
        DeviceIdentity {
            format_version: sb.format_version,
            cluster_id: sb.cluster_id_hex(),
            unit_id: to_js_number(sb.unit_id),
            epoch: to_js_number(sb.epoch),
            page_bytes: sb.page_bytes,
            max_entry_bytes: sb.max_entry_bytes,
            device_bytes: to_js_number(sb.device_bytes),
            format_id: format!("{:016x}", sb.format_id),
            kind: kind.to_string(),
        }
    }
}

/// What the read-only recovery of an inspection found (all zero on a fresh format).
#[derive(Default)]
pub struct Usage {
    pub used_pages: u64,
    pub index_bytes: u64,
    pub addresses: u64,
}

impl SuperblockInfo {
    pub fn new(sb: &Superblock, kind: &str, usage: Usage) -> Self {
        let Usage { used_pages, index_bytes, addresses } = usage;
        SuperblockInfo {
            format_version: sb.format_version,
            cluster_id: sb.cluster_id_hex(),
            unit_id: to_js_number(sb.unit_id),
            epoch: to_js_number(sb.epoch),
            trim_mark: to_js_number(sb.trim_mark),
            page_bytes: sb.page_bytes,
            logical_block_bytes: sb.logical_block_bytes,
            device_bytes: to_js_number(sb.device_bytes),
            data_pages: to_js_number(sb.data_pages),
            max_entry_bytes: sb.max_entry_bytes,
            head_seq: to_js_number(sb.head_seq),
            used_pages: to_js_number(used_pages),
            free_pages: to_js_number(sb.data_pages - used_pages),
            generation: to_js_number(sb.generation),
            created_unix_ms: to_js_number(sb.created_unix_ms),
            format_id: format!("{:016x}", sb.format_id),
            kind: kind.to_string(),
            checkpoint_seq: (sb.ckpt_seq != u64::MAX).then(|| to_js_number(sb.ckpt_seq)),
            checkpoint_bytes: to_js_number(sb.ckpt_bytes),
            checkpoint_pages: to_js_number(sb.ckpt_pages),
            index_bytes: to_js_number(index_bytes),
            addresses: to_js_number(addresses),
        }
    }
}
