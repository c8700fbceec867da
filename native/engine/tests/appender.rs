//! The appender's thread and sockets (corfu_engine::appender) against stand-in servers on
//! loopback: a sequencer that counts tokens and units that keep what they are sent. The
//! machine's protocol has its own tests (machine.rs); these check the I/O around it: that
//! frames reach the right servers, answers come back as outcomes, and a refused, hung or
//! abandoned server gives its entries back instead of holding them.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corfu_engine::appender::{Appender, Fate, LayoutSpec, Limits, Outcome, Payloads};

const LIMITS: Limits =
    Limits { frame_entries: 64, frame_payload_bytes: 1 << 20, tokens_per_request: 1024, max_entries: 1024, max_bytes: 1 << 20 };

/// What a stand-in does with a request frame: its answer, or None to stay silent.
type Answerer = Box<dyn FnMut(&[u8]) -> Option<Vec<u8>> + Send>;

/// Serves every connection to a fresh port with `answer`; returns `host:port`.
fn serve(mut answer: Answerer) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let name = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                let n = match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while buf.len() >= 4 {
                    let whole = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize + 4;
                    if buf.len() < whole {
                        break;
                    }
                    let frame: Vec<u8> = buf.drain(..whole).collect();
                    if let Some(a) = answer(&frame) {
                        if s.write_all(&a).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    name
}

fn reply(request: &[u8], body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
    f.push(1);
    f.push(0x80 | request[5]);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&request[8..20]);
    f.extend_from_slice(body);
    f
}

fn sequencer() -> String {
    let mut next = 0u64;
    serve(Box::new(move |f| {
        let count = u32::from_le_bytes(f[20..24].try_into().unwrap()) as u64;
        let mut body = vec![0u8];
        body.extend_from_slice(&next.to_le_bytes());
        next += count;
        Some(reply(f, &body))
    }))
}

/// What a stand-in unit took: (address, payload) of each entry.
type Kept = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// A unit that answers every WRITE OK and records what it took.
fn unit(kept: Kept) -> String {
    serve(Box::new(move |f| {
        let n = u32::from_le_bytes(f[20..24].try_into().unwrap()) as usize;
        let mut at = 24 + 12 * n;
        for i in 0..n {
            let d = 24 + 12 * i;
            let address = u64::from_le_bytes(f[d..d + 8].try_into().unwrap());
            let len = u32::from_le_bytes(f[d + 8..d + 12].try_into().unwrap()) as usize;
            kept.lock().unwrap().push((address, f[at..at + len].to_vec()));
            at += len;
        }
        let mut body = vec![0u8];
        body.extend_from_slice(&(n as u32).to_le_bytes());
        body.extend(std::iter::repeat_n(0u8, 2 * n));
        Some(reply(f, &body))
    }))
}

fn hung() -> String {
    serve(Box::new(|_| None))
}

fn refused() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn start() -> (Appender, Receiver<Outcome>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let appender = Appender::start(
        LIMITS,
        Box::new(move |outcomes, _| {
            for o in outcomes {
                let _ = tx.lock().unwrap().send(o);
            }
        }),
    )
    .unwrap();
    (appender, rx)
}

fn spec(sequencer: &str, chain: &[&str], timeout_ms: u64) -> LayoutSpec {
    LayoutSpec {
        epoch: 1,
        timeout_ms,
        sequencer: sequencer.into(),
        start: 0,
        end: None,
        chains: vec![chain.iter().map(|s| s.to_string()).collect()],
    }
}

fn outcomes(rx: &Receiver<Outcome>, n: usize) -> Vec<Outcome> {
    let mut got: Vec<Outcome> = (0..n).map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("an outcome")).collect();
    got.sort_by_key(|o| (o.batch, o.index));
    got
}

#[test]
fn entries_reach_every_replica_and_come_back_written() {
    let (head_kept, tail_kept): (Kept, Kept) = Default::default();
    let (head, tail) = (unit(head_kept.clone()), unit(tail_kept.clone()));
    let (mut a, rx) = start();
    let layout = a.layout(spec(&sequencer(), &[&head, &tail], 5_000));
    assert!(a.submit(layout, 1, Payloads::new(&[b"one", b"two"])));
    assert!(a.submit(layout, 2, Payloads::new(&[b"three"])));
    let got = outcomes(&rx, 3);
    assert!(got.iter().all(|o| o.fate == Fate::Written), "{got:?}");
    // Each entry's bytes at the address its outcome names, on both replicas.
    let payload = |o: &Outcome| if o.batch == 1 { [&b"one"[..], b"two"][o.index as usize].to_vec() } else { b"three".to_vec() };
    let mut want: Vec<(u64, Vec<u8>)> = got.iter().map(|o| (o.address.unwrap(), payload(o))).collect();
    want.sort();
    assert_eq!(want.iter().map(|w| w.0).collect::<Vec<_>>(), vec![0, 1, 2]);
    for kept in [&head_kept, &tail_kept] {
        let mut k = kept.lock().unwrap().clone();
        k.sort();
        assert_eq!(k, want);
    }
}

#[test]
fn a_refused_replica_gives_its_entries_back_at_once() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let (mut a, rx) = start();
    let layout = a.layout(spec(&sequencer(), &[&unit(kept.clone()), &refused()], 60_000));
    let t0 = Instant::now();
    assert!(a.submit(layout, 1, Payloads::new(&[b"x"])));
    let got = outcomes(&rx, 1);
    assert_eq!(got[0].fate, Fate::Fell { replica: 1, status: 0, message: None });
    assert!(t0.elapsed() < Duration::from_secs(5), "not after the 60 s timeout");
    assert_eq!(kept.lock().unwrap().len(), 1, "the head took it");
}

#[test]
fn a_hung_replica_times_out_and_an_abandoned_one_ends_at_once() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let seq = sequencer();
    let (head, stuck) = (unit(kept.clone()), hung());
    let (mut a, rx) = start();
    let layout = a.layout(spec(&seq, &[&head, &stuck], 100));
    assert!(a.submit(layout, 1, Payloads::new(&[b"x"])));
    assert_eq!(outcomes(&rx, 1)[0].fate, Fate::Fell { replica: 1, status: 0, message: None });

    let other = hung();
    let patient = a.layout(spec(&seq, &[&head, &other], 60_000));
    assert!(a.submit(patient, 2, Payloads::new(&[b"y"])));
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "waits on the hung tail");
    a.abandon(vec![other]);
    assert_eq!(outcomes(&rx, 1)[0].fate, Fate::Fell { replica: 1, status: 0, message: None });
}

#[test]
fn a_forgotten_layout_gives_its_submissions_back_without_tokens() {
    let (mut a, rx) = start();
    let layout = a.layout(spec(&sequencer(), &[&hung()], 1_000));
    a.forget(layout);
    assert!(a.submit(layout, 9, Payloads::new(&[b"x", b"y"])));
    let got = outcomes(&rx, 2);
    assert!(got.iter().all(|o| o.fate == Fate::NoToken { status: 0 } && o.address.is_none()));
    // Past the path's limits: refused at submit, nothing queued.
    let big: Vec<&[u8]> = vec![b"z"; LIMITS.max_entries + 1];
    assert!(!a.submit(layout, 10, Payloads::new(&big)));
}
