//! Type conversions between JS and the engine. Numbers cross as f64: exact for integers
//! below 2^53, which every address, epoch and size must be.

use corfu_engine::layout::Superblock;
use corfu_engine::{EngineError, ReadOutcome, Stats, WriteOutcome};
use napi::bindgen_prelude::*;
use napi_derive::napi;

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Errors cross as JSON in the message; `bindings/` turns them into `CorfuError`.
pub fn js_error(e: &EngineError) -> Error {
    let mut json = format!(
        "{{\"code\":\"{}\",\"message\":{}",
        e.code().name(),
        json_string(&e.to_string())
    );
    if let EngineError::Sealed { unit_epoch, .. } = e {
        json.push_str(&format!(",\"unitEpoch\":{unit_epoch}"));
    }
    json.push('}');
    Error::new(Status::GenericFailure, json)
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
    if v.is_finite() && v >= 0.0 && v <= MAX_SAFE_INTEGER && v.fract() == 0.0 {
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
pub struct WriteResult {
    /// One error-table byte per entry (0 = OK).
    pub status: Buffer,
    /// Per entry with ERR_WRITTEN: 1 same bytes, 2 different bytes, 3 junk.
    pub written: Buffer,
}

impl From<WriteOutcome> for WriteResult {
    fn from(o: WriteOutcome) -> Self {
        WriteResult { status: o.status.into(), written: o.written.into() }
    }
}

#[napi(object)]
pub struct ReadResult {
    pub status: Buffer,
    /// 1 data, 2 junk.
    pub kinds: Buffer,
    pub lengths: Uint32Array,
    /// Payloads of the OK data entries, concatenated in request order.
    pub data: Buffer,
}

impl From<ReadOutcome> for ReadResult {
    fn from(o: ReadOutcome) -> Self {
        ReadResult { status: o.status.into(), kinds: o.kinds.into(), lengths: Uint32Array::new(o.lengths), data: o.data.into() }
    }
}

#[napi(object)]
pub struct StoreStats {
    pub epoch: f64,
    pub trim_mark: f64,
    pub tail: f64,
    pub generation: f64,
    pub data_pages: f64,
    pub used_pages: f64,
    pub free_pages: f64,
    pub addresses: f64,
    pub index_bytes: f64,
    pub flushes: f64,
    pub pages_written: f64,
    pub entries_written: f64,
    pub payload_bytes_written: f64,
    pub rounds: f64,
    pub recovery_pages: f64,
    pub recovery_ms: f64,
    pub sync: String,
}

impl From<Stats> for StoreStats {
    fn from(s: Stats) -> Self {
        StoreStats {
            epoch: to_js_number(s.epoch),
            trim_mark: to_js_number(s.trim_mark),
            tail: to_js_number(s.tail),
            generation: to_js_number(s.generation),
            data_pages: to_js_number(s.data_pages),
            used_pages: to_js_number(s.used_pages),
            free_pages: to_js_number(s.free_pages),
            addresses: to_js_number(s.addresses),
            index_bytes: to_js_number(s.index_bytes),
            flushes: to_js_number(s.flushes),
            pages_written: to_js_number(s.pages_written),
            entries_written: to_js_number(s.entries_written),
            payload_bytes_written: to_js_number(s.payload_bytes_written),
            rounds: to_js_number(s.rounds),
            recovery_pages: to_js_number(s.recovery_pages),
            recovery_ms: s.recovery_micros as f64 / 1000.0,
            sync: if s.sync_always { "always" } else { "none" }.to_string(),
        }
    }
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
    /// "file" or "block".
    pub kind: String,
}

impl SuperblockInfo {
    pub fn new(sb: &Superblock, kind: &str, used_pages: u64) -> Self {
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
            kind: kind.to_string(),
        }
    }
}
