//! The read service's ceiling without JavaScript: random one-page reads at a fixed
//! queue depth (default 32), straight into the service, for comparison with fio and
//! with `npm run bench:engine` (which adds the N-API path).
//!
//!   cargo run --release --example read_qd -- DEVICE [SECONDS] [QUEUE_DEPTH]
//!
//! DEVICE is formatted (with force) and filled first. Prints reads/s.

use std::sync::mpsc::{channel, sync_channel};
use std::time::{Duration, Instant};

use corfu_engine::device::sim::SplitMix64;
use corfu_engine::path::{format_path, open_store, FormatRequest};
use corfu_engine::read_service::{Next, ReadRequest, ReadService};
use corfu_engine::store::{Request, Response};
use corfu_engine::SyncMode;

const PAYLOAD: usize = 4040; // one 4 KiB page with its headers

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::PathBuf::from(args.get(1).expect("usage: read_qd DEVICE [SECONDS] [QUEUE_DEPTH]"));
    let seconds: u64 = args.get(2).map_or(5, |s| s.parse().expect("seconds"));
    let depth: u32 = args.get(3).map_or(32, |s| s.parse().expect("queue depth"));
    format_path(&path, &FormatRequest { size_bytes: None, max_entry_bytes: None, cluster_id: None, unit_id: 0, force: true, zero: false })
        .expect("format");
    let mut store = open_store(&path, SyncMode::None).expect("open");
    let capacity = store.stats().data_pages * 95 / 100;
    let mut n = 0u64;
    while n < capacity {
        let k = 1024.min(capacity - n);
        let addresses: Vec<u64> = (n..n + k).collect();
        let r = store.execute(&[Request::Write {
            epoch: 0,
            lengths: vec![PAYLOAD as u32; k as usize],
            data: vec![7u8; PAYLOAD * k as usize],
            addresses,
        }]);
        assert!(matches!(&r[0], Response::Write(Ok(o)) if o.status.iter().all(|&s| s == 0)), "prefill");
        n += k;
    }
    let file = store.device().file().try_clone().unwrap();
    let mut service = ReadService::new(store.shared(), file).unwrap();
    let waker = service.waker();
    let (tx, rx) = sync_channel::<ReadRequest>(4096);
    let (done_tx, done_rx) = channel::<usize>();
    let worker = std::thread::spawn(move || {
        service.run(
            || Next::from_channel(&rx),
            |done| {
                for (_, r) in &done {
                    assert!(r.as_ref().is_ok_and(|o| o.status[0] == 0 && o.data.len() == PAYLOAD));
                }
                done_tx.send(done.len()).unwrap();
            },
        )
    });
    let mut rng = SplitMix64(1);
    let mut send = |id: u32| {
        tx.send(ReadRequest { id, epoch: 0, addresses: vec![rng.below(n)] }).unwrap();
        waker.wake();
    };
    for id in 0..depth {
        send(id);
    }
    let started = Instant::now();
    let mut completed = 0u64;
    let mut id = depth;
    while started.elapsed() < Duration::from_secs(seconds) {
        let k = done_rx.recv().unwrap();
        completed += k as u64;
        for _ in 0..k {
            send(id);
            id = id.wrapping_add(1);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    drop(tx);
    waker.wake();
    while done_rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
    worker.join().unwrap();
    println!("{{\"reads_per_s\":{:.0},\"queue_depth\":{depth},\"seconds\":{secs:.2},\"entries\":{n}}}", completed as f64 / secs);
}
