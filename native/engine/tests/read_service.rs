//! The read service on a real file through io_uring: answers match the store's own
//! reads, a request that needs no I/O is answered without waiting for another request,
//! epochs are checked, and the service stops when its sender goes away.

use std::sync::mpsc::{channel, sync_channel};
use std::time::Duration;

use corfu_engine::path::{format_path, open_store, FormatRequest};
use corfu_engine::read_service::{Next, ReadRequest, ReadService};
use corfu_engine::store::{Request, Response};
use corfu_engine::{EngineError, SyncMode};

#[test]
fn answers_reads_as_they_complete() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let path = dir.path().join("unit.img");
    format_path(&path, &FormatRequest { size_bytes: Some(16 << 20), max_entry_bytes: None, cluster_id: None, unit_id: 0, force: false }).unwrap();
    let mut store = open_store(&path, SyncMode::Always).unwrap();
    let entries: Vec<u64> = (0..500).collect();
    let payload = |a: u64| vec![(a % 251) as u8; 10 + (a as usize * 37) % 5000];
    let data: Vec<u8> = entries.iter().flat_map(|&a| payload(a)).collect();
    let lengths: Vec<u32> = entries.iter().map(|&a| payload(a).len() as u32).collect();
    let r = store.execute(&[Request::Write { epoch: 0, addresses: entries.clone(), lengths, data }]);
    assert!(matches!(&r[0], Response::Write(Ok(o)) if o.status.iter().all(|&s| s == 0)));
    let r = store.execute::<Vec<u8>>(&[Request::Fill { epoch: 0, addresses: vec![600] }, Request::Trim { epoch: 0, addresses: vec![7] }]);
    assert_eq!(r.len(), 2);

    let file = store.device().file().try_clone().unwrap();
    let mut service = ReadService::new(store.shared(), file).unwrap();
    let (tx, rx) = sync_channel::<ReadRequest>(64);
    let (out_tx, out_rx) = channel();
    let waker = service.waker();
    let worker = std::thread::spawn(move || {
        service.run(
            || Next::from_channel(&rx),
            |done| out_tx.send(done).unwrap(),
        )
    });
    let send = |r: ReadRequest| {
        tx.send(r).unwrap();
        waker.wake();
    };

    // A request with no I/O at all (unwritten, junk, trimmed) is answered by itself.
    send(ReadRequest { id: 1, epoch: 0, addresses: vec![9999, 600, 7] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).expect("answered without another request arriving");
    let o = done[0].1.as_ref().unwrap();
    assert_eq!((done[0].0, o.status.clone(), o.kinds.clone()), (1, vec![2, 0, 3], vec![0, 2, 0]));

    // Many requests in flight: every entry comes back with its bytes.
    for id in 10..60u32 {
        let addrs: Vec<u64> = (0..10).map(|k| ((id as u64) * 7 + k * 13) % 500).filter(|&a| a != 7).collect();
        send(ReadRequest { id, epoch: 0, addresses: addrs });
    }
    let mut answered = 0;
    while answered < 50 {
        for (id, r) in out_rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            let addrs: Vec<u64> = (0..10).map(|k| ((id as u64) * 7 + k * 13) % 500).filter(|&a| a != 7).collect();
            let o = r.unwrap();
            let mut at = 0;
            for (i, a) in addrs.iter().enumerate() {
                assert_eq!((o.status[i], o.kinds[i]), (0, 1), "address {a}");
                let want = payload(*a);
                assert_eq!(&o.data[at..at + want.len()], &want[..], "address {a}");
                at += want.len();
            }
            answered += 1;
        }
    }

    // A READ whose answer would exceed the byte budget is refused before any buffer is
    // built for it; one just under it is served. Entry 499 is 10 + 499*37 % 5000 bytes.
    let len = payload(499).len() as u64;
    let over = (corfu_engine::shared::MAX_READ_PAYLOAD_BYTES / len + 1) as usize;
    send(ReadRequest { id: 97, epoch: 0, addresses: vec![499; over] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(&done[0].1, Err(EngineError::TooLarge(m)) if m.contains("ask for fewer entries")), "{:?}", done[0].1.as_ref().err());
    send(ReadRequest { id: 98, epoch: 0, addresses: vec![499; over - 1] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(done[0].1.as_ref().unwrap().data.len() as u64, (over as u64 - 1) * len);
    // The store's own reads keep the same budget.
    let r = store.execute::<Vec<u8>>(&[Request::Read { epoch: 0, addresses: vec![499; over] }]);
    assert!(matches!(&r[0], Response::Read(Err(EngineError::TooLarge(_)))), "the store's read path refuses the same READ");

    // A stale epoch is refused with the unit's epoch.
    send(ReadRequest { id: 99, epoch: 3, addresses: vec![1] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(done[0].1, Err(EngineError::Sealed { unit_epoch: 0, request_epoch: 3 })));

    drop(tx);
    waker.wake();
    worker.join().unwrap();
}
