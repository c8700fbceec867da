//! The index's memory and the reopen time of a full device, without JavaScript: fills
//! DEVICE with ENTRY_BYTES entries in writes of 4,096 (sync none) until ERR_FULL, at the
//! addresses a stripe of STRIDE holds (0, STRIDE, 2*STRIDE, ...), then closes (`close`,
//! the default: a clean close, which writes an index checkpoint) or drops the store
//! (`drop`: as after kill -9, the last checkpoint and the log since), and reopens.
//!
//!   cargo run --release --example index_fill -- DEVICE [ENTRY_BYTES] [STRIDE] [close|drop] [FILL]
//!   cargo run --release --example index_fill -- reopen DEVICE
//!
//! DEVICE is formatted with force (a file is created at 1 GiB if missing). Prints one
//! line of JSON: entries, the index's bytes and RSS while full and after the reopen, and
//! the reopen time. FILL (default 1) stops the fill at that fraction of the pages, which
//! leaves a clean close room for its checkpoint. `reopen` only opens DEVICE, in a fresh process: the reopen's time,
//! its peak RSS (VmHWM) and what recovery read.

use std::time::Instant;

use corfu_engine::path::{format_path, open_store, FormatRequest};
use corfu_engine::store::{Request, Response};
use corfu_engine::SyncMode;

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 =
        status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).expect(field);
    kb * 1024
}

fn rss_bytes() -> u64 {
    status_bytes("VmRSS:")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("reopen") {
        let path = std::path::PathBuf::from(args.get(2).expect("usage: index_fill reopen DEVICE"));
        let t = Instant::now();
        let store = open_store(&path, SyncMode::None).expect("reopen");
        let reopen_ms = t.elapsed().as_secs_f64() * 1000.0;
        let s = store.stats();
        println!(
            "{{\"reopen_ms\":{reopen_ms:.1},\"peak_rss_bytes\":{},\"rss_bytes\":{},\"addresses\":{},\"index_bytes\":{},\"recovery_checkpoint_bytes\":{},\"recovery_summaries\":{},\"recovery_pages\":{},\"used_pages\":{}}}",
            status_bytes("VmHWM:"),
            rss_bytes(),
            s.addresses,
            s.index_bytes,
            s.recovery_checkpoint_bytes,
            s.recovery_summaries,
            s.recovery_pages,
            s.used_pages
        );
        return;
    }
    let path = std::path::PathBuf::from(args.get(1).expect("usage: index_fill DEVICE [ENTRY_BYTES] [STRIDE]"));
    let entry: usize = args.get(2).map_or(128, |s| s.parse().expect("entry bytes"));
    let stride: u64 = args.get(3).map_or(1, |s| s.parse().expect("stride"));
    let close = match args.get(4).map_or("close", String::as_str) {
        "close" => true,
        "drop" => false,
        other => panic!("close or drop, not {other}"),
    };
    let fill: f64 = args.get(5).map_or(1.0, |s| s.parse().expect("fill fraction"));
    let size = if path.exists() { None } else { Some(1u64 << 30) };
    format_path(&path, &FormatRequest { size_bytes: size, max_entry_bytes: None, cluster_id: None, unit_id: 0, force: true, zero: false })
        .expect("format");
    let mut store = open_store(&path, SyncMode::None).expect("open");
    let rss_empty = rss_bytes();
    const BATCH: u64 = 4096;
    let mut n = 0u64;
    'fill: loop {
        let st = store.stats();
        if st.used_pages as f64 >= fill * st.data_pages as f64 {
            break;
        }
        let addresses: Vec<u64> = (n..n + BATCH).map(|i| i * stride).collect();
        let r = store.execute(&[Request::Write {
            epoch: 0,
            lengths: vec![entry as u32; BATCH as usize],
            data: vec![7u8; entry * BATCH as usize],
            addresses,
        }]);
        let Response::Write(Ok(o)) = &r[0] else { panic!("write failed: {r:?}") };
        for &s in &o.status {
            if s != 0 {
                break 'fill;
            }
            n += 1;
        }
    }
    let full = store.stats();
    let rss_full = rss_bytes();
    if close {
        store.close().expect("close");
    } else {
        drop(store);
    }
    let t = Instant::now();
    let store = open_store(&path, SyncMode::None).expect("reopen");
    let reopen_ms = t.elapsed().as_secs_f64() * 1000.0;
    let again = store.stats();
    println!(
        "{{\"entry_bytes\":{entry},\"stride\":{stride},\"entries\":{n},\"index_bytes_full\":{},\"rss_empty_bytes\":{rss_empty},\"rss_full_bytes\":{rss_full},\"reopen_ms\":{reopen_ms:.1},\"index_bytes_reopened\":{},\"rss_reopened_bytes\":{},\"recovery_pages\":{},\"recovery_summaries\":{},\"recovery_checkpoint_bytes\":{},\"checkpoints_written\":{}}}",
        full.index_bytes,
        again.index_bytes,
        rss_bytes(),
        again.recovery_pages,
        again.recovery_summaries,
        again.recovery_checkpoint_bytes,
        full.checkpoints_written
    );
}
