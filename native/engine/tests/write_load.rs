//! The bench's native write load (write_load.rs) on a real file through io_uring: every
//! write it counts is on the device, in order from the tail it found, and its prefix
//! trims keep the live span inside a device it writes over many times.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::formatted_file;

use corfu_engine::load_window::Window;
use corfu_engine::path::open_store;
use corfu_engine::store::{Request, Response};
use corfu_engine::write_load::{run, WriteLoadOptions};
use corfu_engine::{EntryKind, SyncMode};

const PAYLOAD_BYTES: u32 = 4040;

#[test]
fn writes_in_order_from_the_tail_and_trims_to_stay_inside_the_device() {
    let (_dir, path) = formatted_file(16 << 20, None);
    let mut store = open_store(&path, SyncMode::None).unwrap();
    // Something below the load's first address: it starts at the tail.
    let r = store.execute(&[Request::Write { epoch: 0, addresses: vec![0, 1, 2], lengths: vec![3, 3, 3], data: vec![9u8; 9] }]);
    assert!(matches!(&r[0], Response::Write(Ok(o)) if o.status == vec![0, 0, 0]));
    let capacity_pages = store.stats().data_pages;

    let window = Arc::new(Window::default());
    let w = window.clone();
    let load = std::thread::spawn(move || {
        let result = run(&mut store, &w, &WriteLoadOptions { queue_depth: 8, epoch: 0, payload_bytes: PAYLOAD_BYTES });
        (store, result)
    });
    window.open();
    // Until it has written the device over twice (bounded: a stuck load fails here).
    let deadline = Instant::now() + Duration::from_secs(60);
    while window.measured() < 2 * capacity_pages {
        assert!(window.failure().is_none(), "{:?}", window.failure());
        assert!(Instant::now() < deadline, "{} writes in 60 s", window.measured());
        std::thread::sleep(Duration::from_millis(20));
    }
    window.close();
    let (mut store, r) = load.join().unwrap();

    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert_eq!(r.first_address, 3);
    assert!(r.ops >= 2 * capacity_pages && r.next_address - r.first_address >= r.ops, "{r:?}");
    assert_eq!(r.seconds.iter().flatten().map(|&(_, c)| u64::from(c)).sum::<u64>(), r.ops);
    assert!(r.trims >= 2, "{} trims", r.trims);
    let stats = store.stats();
    assert_eq!(stats.tail, r.next_address);
    assert!(stats.trim_mark > 3 && (r.next_address - stats.trim_mark) * 4 < capacity_pages * 3, "{stats:?}");
    // Every address from the trim mark to the tail holds the load's page; below it, trimmed.
    let live: Vec<u64> = (stats.trim_mark..r.next_address).collect();
    let r = store.execute::<Vec<u8>>(&[
        Request::Read { epoch: 0, addresses: live.clone() },
        Request::Read { epoch: 0, addresses: vec![0, stats.trim_mark - 1] },
    ]);
    let Response::Read(Ok(o)) = &r[0] else { panic!("{:?}", r[0]) };
    assert!(o.status.iter().all(|&s| s == 0) && o.kinds.iter().all(|&k| k == EntryKind::Data as u8), "a live address unwritten");
    assert!(o.lengths.iter().all(|&l| l == PAYLOAD_BYTES));
    assert!(o.data.iter().all(|&b| b == 0x57));
    let Response::Read(Ok(o)) = &r[1] else { panic!("{:?}", r[1]) };
    assert!(o.status.iter().all(|&s| s != 0), "an address below the trim mark still read: {o:?}");
}
