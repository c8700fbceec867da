//! Shared helpers for the engine's integration tests.
#![allow(dead_code)]

use corfu_engine::device::sim::SimDevice;
use corfu_engine::store::{Request, Response};
use corfu_engine::{format, FormatOptions, ReadOutcome, Store, SyncMode, WriteOutcome};

pub type Req = Request<Vec<u8>>;

/// A freshly formatted unit file of `size_bytes` in a temporary directory under /var/tmp
/// (a real file system: O_DIRECT and io_uring, unlike a tmpfs); the directory goes when
/// the `TempDir` does, so keep it as long as the file.
pub fn formatted_file(size_bytes: u64, max_entry_bytes: Option<u32>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let path = dir.path().join("unit.img");
    let request = corfu_engine::path::FormatRequest {
        size_bytes: Some(size_bytes),
        max_entry_bytes,
        cluster_id: None,
        unit_id: 0,
        force: false,
        zero: false,
    };
    corfu_engine::path::format_path(&path, &request).unwrap();
    (dir, path)
}

/// How many seeds a seeded campaign runs: `full` times CORFU_TEST_SEED_SCALE (default 1, at
/// least one seed). The mutation runs (native/mutants.sh) first test every mutant against a
/// quarter of each campaign, then rerun the survivors against the whole one; CI runs it whole.
pub fn seeds(full: u64) -> u64 {
    let scale: f64 = match std::env::var("CORFU_TEST_SEED_SCALE") {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("CORFU_TEST_SEED_SCALE={v:?} is not a number")),
        Err(_) => 1.0,
    };
    assert!(scale > 0.0 && scale <= 1.0, "CORFU_TEST_SEED_SCALE={scale} is outside (0, 1]");
    ((full as f64 * scale).ceil() as u64).max(1)
}

pub fn fresh_sim(size_bytes: u64, seed: u64, max_entry_bytes: u32) -> SimDevice {
    let mut dev = SimDevice::new(size_bytes, seed);
    format(
        &mut dev,
        &FormatOptions { max_entry_bytes, cluster_id: [7; 16], unit_id: 1, force: false, format_id: seed ^ 0xF0F0, created_unix_ms: 0 },
    )
    .expect("format");
    dev
}

pub fn open(dev: &SimDevice, sync: SyncMode) -> Store<SimDevice> {
    Store::open(dev.clone(), sync).expect("open")
}

/// Deterministic payload for (address, salt): checkers recompute it instead of storing it.
pub fn payload(address: u64, salt: u64, len: usize) -> Vec<u8> {
    let mut x = address.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn write_req(epoch: u64, entries: &[(u64, Vec<u8>)]) -> Req {
    Request::Write {
        epoch,
        addresses: entries.iter().map(|e| e.0).collect(),
        lengths: entries.iter().map(|e| e.1.len() as u32).collect(),
        data: entries.iter().flat_map(|e| e.1.iter().copied()).collect(),
    }
}

pub fn one(store: &mut Store<SimDevice>, req: Req) -> Response {
    store.execute(&[req]).pop().unwrap()
}

pub fn write(store: &mut Store<SimDevice>, epoch: u64, entries: &[(u64, Vec<u8>)]) -> WriteOutcome {
    match one(store, write_req(epoch, entries)) {
        Response::Write(r) => r.expect("write"),
        other => panic!("unexpected {other:?}"),
    }
}

pub fn read(store: &mut Store<SimDevice>, epoch: u64, addresses: &[u64]) -> ReadOutcome {
    match one(store, Request::Read { epoch, addresses: addresses.to_vec() }) {
        Response::Read(r) => r.expect("read"),
        other => panic!("unexpected {other:?}"),
    }
}

/// What one address reads as, decoded from a single-entry ReadOutcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Data(Vec<u8>),
    Junk,
    Unwritten,
    Trimmed,
    Other(u8),
}

pub fn seen(o: &ReadOutcome) -> Seen {
    match (o.status[0], o.kinds[0]) {
        (0, 1) => Seen::Data(o.data.clone()),
        (0, 2) => Seen::Junk,
        (2, _) => Seen::Unwritten,
        (3, _) => Seen::Trimmed,
        (s, _) => Seen::Other(s),
    }
}
