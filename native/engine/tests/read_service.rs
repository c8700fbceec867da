//! The read service on a real file through io_uring: answers match the store's own
//! reads, a request that needs no I/O is answered without waiting for another request,
//! epochs are checked, and the service stops when its sender goes away; and the bench's
//! native read load over it.

use std::sync::mpsc::{channel, sync_channel};
use std::time::Duration;

mod common;
use common::formatted_file;

use corfu_engine::error::Code;
use corfu_engine::path::open_store;
use corfu_engine::read_load::{ReadLoad, ReadLoadOptions};
use corfu_engine::read_service::{Next, ReadRequest, ReadService};
use corfu_engine::shared::{read_payload_budget, MAX_READ_ANSWER_BYTES, READ_ANSWER_ENTRY_BYTES};
use corfu_engine::store::{Request, Response};
use corfu_engine::{EngineError, ReadOutcome, SyncMode};

/// A fresh 16 MiB unit holding addresses 0..n, each with `payload(address)`.
fn written_store(
    n: u64,
    payload: impl Fn(u64) -> Vec<u8>,
) -> (tempfile::TempDir, corfu_engine::Store<corfu_engine::device::uring::UringDevice>) {
    let (dir, path) = formatted_file(16 << 20, None);
    let mut store = open_store(&path, SyncMode::Always).unwrap();
    let entries: Vec<u64> = (0..n).collect();
    let data: Vec<u8> = entries.iter().flat_map(|&a| payload(a)).collect();
    let lengths: Vec<u32> = entries.iter().map(|&a| payload(a).len() as u32).collect();
    let r = store.execute(&[Request::Write { epoch: 0, addresses: entries, lengths, data }]);
    assert!(matches!(&r[0], Response::Write(Ok(o)) if o.status.iter().all(|&s| s == 0)));
    (dir, store)
}

#[test]
fn answers_reads_as_they_complete() {
    let payload = |a: u64| vec![(a % 251) as u8; 10 + (a as usize * 37) % 5000];
    let (_dir, mut store) = written_store(500, payload);
    let r = store.execute::<Vec<u8>>(&[Request::Fill { epoch: 0, addresses: vec![600] }, Request::Trim { epoch: 0, addresses: vec![7] }]);
    assert_eq!(r.len(), 2);

    let file = store.device().file().try_clone().unwrap();
    let mut service = ReadService::new(store.shared(), file).unwrap();
    let (tx, rx) = sync_channel::<ReadRequest>(64);
    let (out_tx, out_rx) = channel();
    let waker = service.waker();
    let worker = std::thread::spawn(move || service.run(|| Next::from_channel(&rx), |done| out_tx.send(done).unwrap()));
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

    // A READ whose answer would exceed the byte budget serves a prefix and answers the
    // rest ERR_OVERLOADED (ask again), with no buffer built for them; one just under it
    // is served whole. Entry 499 is 10 + 499*37 % 5000 bytes.
    let len = payload(499).len() as u64;
    let whole = (read_payload_budget(1) / len) as usize;
    let over = whole + 1;
    let served = (read_payload_budget(over) / len) as usize;
    assert!(served < over);
    send(ReadRequest { id: 97, epoch: 0, addresses: vec![499; over] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_prefix_served(done[0].1.as_ref().unwrap(), served, len);
    let under = (read_payload_budget(whole) / len) as usize;
    send(ReadRequest { id: 98, epoch: 0, addresses: vec![499; under] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_prefix_served(done[0].1.as_ref().unwrap(), under, len);
    // The store's own reads keep the same budget.
    let r = store.execute::<Vec<u8>>(&[Request::Read { epoch: 0, addresses: vec![499; over] }]);
    let Response::Read(Ok(o)) = &r[0] else { panic!("the store's read path answers the same READ: {r:?}") };
    assert_prefix_served(o, served, len);

    // A stale epoch is refused with the unit's epoch.
    send(ReadRequest { id: 99, epoch: 3, addresses: vec![1] });
    let done = out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(done[0].1, Err(EngineError::Sealed { unit_epoch: 0, request_epoch: 3 })));

    drop(tx);
    waker.wake();
    worker.join().unwrap();
}

/// The first `served` entries are OK data of `len` bytes each; every later one is
/// ERR_OVERLOADED with no kind and no bytes.
fn assert_prefix_served(o: &ReadOutcome, served: usize, len: u64) {
    let n = o.status.len();
    assert_eq!(o.status[..served], vec![Code::Ok as u8; served][..]);
    assert_eq!(o.kinds[..served], vec![1; served][..]);
    assert_eq!(o.status[served..], vec![Code::Overloaded as u8; n - served][..]);
    assert_eq!(o.kinds[served..], vec![0; n - served][..]);
    assert!(o.lengths[served..].iter().all(|&l| l == 0));
    assert_eq!(o.data.len() as u64, served as u64 * len);
}

/// A reader that asks again for what a READ deferred, as the client's batcher does.
fn read_all<D: corfu_engine::device::Device>(store: &mut corfu_engine::Store<D>, addresses: &[u64]) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::new();
    let mut rest = addresses.to_vec();
    let mut rounds = 0;
    while !rest.is_empty() {
        rounds += 1;
        let r = store.execute::<Vec<u8>>(&[Request::Read { epoch: 0, addresses: rest.clone() }]);
        let Response::Read(Ok(o)) = r.into_iter().next().unwrap() else { panic!("read failed") };
        let answered = o.status.iter().take_while(|&&s| s != Code::Overloaded as u8).count();
        assert!(answered > 0, "a READ made no progress");
        assert!(o.status[answered..].iter().all(|&s| s == Code::Overloaded as u8), "deferred entries are a suffix");
        let mut at = 0;
        for i in 0..answered {
            assert_eq!(o.status[i], Code::Ok as u8);
            let l = o.lengths[i] as usize;
            out.push(o.data[at..at + l].to_vec());
            at += l;
        }
        rest.drain(..answered);
    }
    (out, rounds)
}

#[test]
fn a_read_of_large_entries_serves_what_fits_and_defers_the_rest() {
    const MIB: usize = 1 << 20;
    let (_dir, path) = formatted_file(48 << 20, Some(MIB as u32));
    let mut store = open_store(&path, SyncMode::Always).unwrap();
    // Addresses 0..20 hold 1 MiB entries, 20 holds junk; 21 is never written.
    let big = |a: u64| vec![(a * 7 + 3) as u8; MIB];
    let entries: Vec<u64> = (0..20).collect();
    let data: Vec<u8> = entries.iter().flat_map(|&a| big(a)).collect();
    let r = store.execute(&[Request::Write { epoch: 0, addresses: entries.clone(), lengths: vec![MIB as u32; 20], data }]);
    assert!(matches!(&r[0], Response::Write(Ok(o)) if o.status.iter().all(|&s| s == 0)));
    store.execute::<Vec<u8>>(&[Request::Fill { epoch: 0, addresses: vec![20] }]);

    // 22 entries: the 1 MiB ones up to the budget, then everything from the first that
    // does not fit is deferred, junk and unwritten entries too (the served part is a prefix).
    let mut ask: Vec<u64> = (0..22).collect();
    ask.swap(0, 21); // an unwritten entry first: it costs nothing
    let r = store.execute::<Vec<u8>>(&[Request::Read { epoch: 0, addresses: ask.clone() }]);
    let Response::Read(Ok(o)) = &r[0] else { panic!("{r:?}") };
    let fit = (read_payload_budget(22) / MIB as u64) as usize;
    assert_eq!(fit, 16);
    assert_eq!(o.status[0], Code::Unwritten as u8);
    assert!(o.status[1..=fit].iter().all(|&s| s == Code::Ok as u8));
    assert!(o.status[fit + 1..].iter().all(|&s| s == Code::Overloaded as u8), "{:?}", o.status);
    assert_eq!(o.data.len(), fit * MIB);

    // Asking again for what was deferred reads everything back, exact bytes, in few rounds.
    let (got, rounds) = read_all(&mut store, &entries);
    assert_eq!(rounds, 2);
    for (a, bytes) in entries.iter().zip(&got) {
        assert!(bytes == &big(*a), "address {a}");
    }

    // One 1 MiB entry named 65,536 times (the wire's most): one budget of answer, never
    // more; the answer with its per-entry fields fits the answer cap.
    let n = 65_536;
    let r = store.execute::<Vec<u8>>(&[Request::Read { epoch: 0, addresses: vec![5; n] }]);
    let Response::Read(Ok(o)) = &r[0] else { panic!("{r:?}") };
    let fit = (read_payload_budget(n) / MIB as u64) as usize;
    assert_prefix_served(o, fit, MIB as u64);
    assert!(o.data.len() as u64 + READ_ANSWER_ENTRY_BYTES * n as u64 <= MAX_READ_ANSWER_BYTES);
}

/// `read_now` (a front's read on its own thread) answers as the service does: bytes,
/// statuses and kinds of written, unwritten, junk and trimmed addresses, and a request
/// at another epoch refused with the unit's.
#[test]
fn a_read_on_the_callers_thread_answers_as_the_service_does() {
    let (_dir, mut store) = written_store(200, |a| vec![(a % 251) as u8; 1 + (a as usize * 53) % 9000]);
    store.execute::<Vec<u8>>(&[Request::Fill { epoch: 0, addresses: vec![300] }, Request::Trim { epoch: 0, addresses: vec![5] }]);

    let file = store.device().file().try_clone().unwrap();
    let mut service = ReadService::new(store.shared(), file.try_clone().unwrap()).unwrap();
    let (tx, rx) = sync_channel::<ReadRequest>(64);
    let (out_tx, out_rx) = channel();
    let waker = service.waker();
    let worker = std::thread::spawn(move || service.run(|| Next::from_channel(&rx), |done| out_tx.send(done).unwrap()));
    let requests: Vec<Vec<u64>> = vec![vec![3], vec![0, 199, 5, 300, 4000], (0..64).map(|k| (k * 7) % 200).collect(), vec![150, 150]];
    let shared = store.shared();
    for (id, addresses) in requests.iter().enumerate() {
        tx.send(ReadRequest { id: id as u32, epoch: 0, addresses: addresses.clone() }).unwrap();
        waker.wake();
        let (_, by_service) = out_rx.recv_timeout(Duration::from_secs(5)).unwrap().pop().unwrap();
        let (s, here) = (by_service.unwrap(), corfu_engine::read_service::read_now(&shared, &file, 0, addresses).unwrap());
        assert_eq!(
            (&here.status, &here.kinds, &here.lengths, &here.data),
            (&s.status, &s.kinds, &s.lengths, &s.data),
            "addresses {addresses:?}"
        );
        assert!(!here.data.is_empty() || addresses.iter().all(|&a| a == 5 || a >= 200));
    }
    let e = corfu_engine::read_service::read_now(&shared, &file, 3, &[1]).unwrap_err();
    assert!(matches!(e, EngineError::Sealed { unit_epoch: 0, request_epoch: 3 }), "{e:?}");
    drop(tx);
    waker.wake();
    worker.join().unwrap();
}

/// The bench's native read load (read_load.rs) reads written entries at its queue depth
/// until closed, and stops with a failure that says why when its span reaches past them.
#[test]
fn a_native_read_load_reads_written_entries_and_names_a_hole() {
    let (_dir, store) = written_store(300, |a| vec![a as u8; 100]);
    let file = || store.device().file().try_clone().unwrap();
    let options = ReadLoadOptions { queue_depth: 8, span: 300, epoch: 0, seed: 7 };
    let mut load = ReadLoad::start(store.shared(), file(), options.clone()).unwrap();
    load.open();
    std::thread::sleep(Duration::from_millis(200));
    let r = load.close();
    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert!(r.ops > 0);
    assert_eq!(r.seconds.iter().flatten().map(|&(_, c)| u64::from(c)).sum::<u64>(), r.ops);

    let mut past = ReadLoad::start(store.shared(), file(), ReadLoadOptions { span: 1_000_000, ..options }).unwrap();
    past.open();
    std::thread::sleep(Duration::from_millis(200));
    assert!(past.failure().is_some_and(|f| f.contains("status")), "{:?}", past.failure());
    assert!(past.close().failure.is_some());
}
