//! A native load generator for the sequencer's TOKEN, for `corfu bench tokens|compare
//! --generator native`. Bench tooling, not storage: it lives in the core crate because
//! that is where the project's Rust is, and it shares nothing with the engine.
//!
//! Why native: a Node generator spends 1-2 µs of CPU per TOKEN (a promise, a write and a
//! decode each), more than the sequencer itself once its TOKEN path answers runs of frames
//! in place (0.5-0.7 µs), so on two cores the generator, not the sequencer, set the figure.
//! redis-benchmark, the peer's generator, is C. This one is one thread, one epoll set over
//! `connections` non-blocking sockets, `depth` TOKEN frames sent together on each and the
//! next `depth` once all are answered (what redis-benchmark -P does, so that both sides of
//! `bench compare` see the same pipelining), latencies recorded as whole microseconds per
//! second of the window (what the TypeScript side's histograms record anyway).
//!
//! Wire (docs/protocol.md): a TOKEN request is 24 bytes (length 20, version 1, opcode 8,
//! flags 0, request id, epoch, count); its OK answer is 29 bytes (length 25, opcode 0x88,
//! status 0, first token). Anything else ends the run with a failure that says what came.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::io::AsRawFd;

use crate::epoll::Epoll;
use crate::load_window::{LoadResult, LoadThread, Recorder, Seconds, Window};
use crate::seq_front::scan::{TOKEN_ANSWER_BYTES as ANSWER_BYTES, TOKEN_ANSWER_OPCODE as TOKEN_ANSWER, TOKEN_REQUEST_BYTES as REQUEST_BYTES};
/// How long one epoll wait may last: the loop notices `close` within this.
const WAIT_MS: i32 = 10;

#[derive(Clone, Debug)]
pub struct TokenLoadOptions {
    pub host: String,
    pub port: u16,
    pub epoch: u64,
    pub connections: usize,
    /// TOKEN requests in flight on each connection.
    pub depth: usize,
    /// Tokens per request.
    pub count: u32,
    /// Poll without sleeping (epoll with no timeout): a generator that never waits, as a
    /// saturated redis-benchmark hardly does. The sequencer's answers then seldom wake a
    /// sleeping thread, a wake-up that costs the writer several µs on a VM.
    pub busy_poll: bool,
}

#[derive(Debug, Default)]
pub struct TokenLoadResult {
    /// Requests answered inside the window (sent after it opened, answered before it closed).
    pub ops: u64,
    /// Per second of the window: (latency in whole µs, how many), ascending.
    pub seconds: Seconds,
    pub first_token: Option<u64>,
    /// Above every token answered.
    pub tail_after: u64,
    pub failure: Option<String>,
}

impl LoadResult for TokenLoadResult {
    fn failed(why: String) -> Self {
        TokenLoadResult { failure: Some(why), ..Default::default() }
    }
}

/// A running load: started by `start`, its window opened and closed by the caller (its
/// `close` waits at most one epoll wait).
pub type TokenLoad = LoadThread<TokenLoadResult>;

impl TokenLoad {
    /// Connects every connection (failing here if one cannot), then sends from a thread of
    /// its own until `close`.
    pub fn start(o: TokenLoadOptions) -> io::Result<TokenLoad> {
        if o.connections == 0 || o.depth == 0 || o.count == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "connections, depth and count must be at least 1"));
        }
        let mut conns = Vec::with_capacity(o.connections);
        for _ in 0..o.connections {
            let s = TcpStream::connect((o.host.as_str(), o.port))?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            conns.push(Conn::new(s));
        }
        LoadThread::spawn("corfu-token-load", move |w| run(w, conns, &o))
    }
}

struct Conn {
    stream: TcpStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    /// When each request in flight was queued, oldest first (ns since base).
    sent: VecDeque<u64>,
    want_write: bool,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Conn { stream, inbuf: Vec::with_capacity(64 * 1024), outbuf: Vec::new(), sent: VecDeque::new(), want_write: false }
    }

    /// Writes what it can; true when something is left (wait for EPOLLOUT).
    fn flush(&mut self) -> io::Result<bool> {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "the sequencer stopped reading")),
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}

/// The window's latencies, and what the tokens said.
#[derive(Default)]
struct Tokens {
    rec: Recorder,
    first_token: Option<u64>,
    tail_after: u64,
}

impl Tokens {
    fn finish(self, failure: Option<String>) -> TokenLoadResult {
        TokenLoadResult { ops: self.rec.ops, seconds: self.rec.seconds(), first_token: self.first_token, tail_after: self.tail_after, failure }
    }
}

fn request_frame(epoch: u64, count: u32) -> [u8; REQUEST_BYTES] {
    let mut f = [0u8; REQUEST_BYTES];
    f[0..4].copy_from_slice(&20u32.to_le_bytes());
    f[4] = 1;
    f[5] = 8;
    f[8..12].copy_from_slice(&1u32.to_le_bytes());
    f[12..20].copy_from_slice(&epoch.to_le_bytes());
    f[20..24].copy_from_slice(&count.to_le_bytes());
    f
}

/// What an answer that is not an OK TOKEN says: its status byte names the error.
fn describe(frame: &[u8]) -> String {
    if frame.len() >= 21 && frame[5] == TOKEN_ANSWER && frame[20] != 0 {
        let len = if frame.len() >= 31 { u16::from_le_bytes([frame[29], frame[30]]) as usize } else { 0 };
        let msg = frame.get(31..31 + len).map(|m| String::from_utf8_lossy(m).into_owned()).unwrap_or_default();
        return format!(
            "the sequencer answered TOKEN with error status {}{}",
            frame[20],
            if msg.is_empty() { String::new() } else { format!(": {msg}") }
        );
    }
    format!(
        "the sequencer sent a {}-byte frame with opcode 0x{:02x} where a TOKEN answer was expected",
        frame.len(),
        frame.get(5).copied().unwrap_or(0)
    )
}

fn run(shared: &Window, mut conns: Vec<Conn>, o: &TokenLoadOptions) -> TokenLoadResult {
    let mut tokens = Tokens::default();
    let failure = drive(shared, &mut conns, o, &mut tokens).err();
    if let Some(f) = &failure {
        shared.fail(f.clone());
    }
    tokens.finish(failure)
}

fn drive(shared: &Window, conns: &mut [Conn], o: &TokenLoadOptions, tokens: &mut Tokens) -> Result<(), String> {
    let frame = request_frame(o.epoch, o.count);
    let ep = Epoll::new().map_err(|e| format!("epoll_create1: {e}"))?;
    let now = shared.now_ns();
    for (i, c) in conns.iter_mut().enumerate() {
        ep.add(c.stream.as_raw_fd(), libc::EPOLLIN as u32, i as u64).map_err(|e| format!("epoll_ctl: {e}"))?;
        for _ in 0..o.depth {
            c.outbuf.extend_from_slice(&frame);
            c.sent.push_back(now);
        }
        c.want_write = c.flush().map_err(|e| format!("write to the sequencer: {e}"))?;
        set_interest(&ep, i, c)?;
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut read_buf = vec![0u8; 64 * 1024];
    while !shared.stopping() {
        let n = ep.wait(&mut events, if o.busy_poll { 0 } else { WAIT_MS }).map_err(|e| format!("epoll_wait: {e}"))?;
        let t1 = shared.now_ns();
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            let c = &mut conns[i];
            let mut answered = 0usize;
            if ev.events & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                loop {
                    match c.stream.read(&mut read_buf) {
                        Ok(0) => return Err("the sequencer closed the connection".into()),
                        Ok(k) => c.inbuf.extend_from_slice(&read_buf[..k]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("read from the sequencer: {e}")),
                    }
                }
                let mut at = 0;
                while c.inbuf.len() - at >= 4 {
                    let len = u32::from_le_bytes(c.inbuf[at..at + 4].try_into().expect("4 bytes")) as usize + 4;
                    if c.inbuf.len() - at < len {
                        break;
                    }
                    let f = &c.inbuf[at..at + len];
                    if len != ANSWER_BYTES || f[5] != TOKEN_ANSWER || f[20] != 0 {
                        return Err(describe(f));
                    }
                    let first = u64::from_le_bytes(f[21..29].try_into().expect("8 bytes"));
                    let t0 = c.sent.pop_front().ok_or("an answer to a request never sent")?;
                    tokens.rec.record(shared, t0, t1);
                    tokens.first_token.get_or_insert(first);
                    tokens.tail_after = tokens.tail_after.max(first + o.count as u64);
                    answered += 1;
                    at += len;
                }
                c.inbuf.drain(..at);
            }
            // Like redis-benchmark -P: the next `depth` requests leave together once all of
            // the last ones are answered (refilling one by one would split the pipeline into
            // more, smaller writes on both sides than the peer's generator makes).
            if answered > 0 && c.sent.is_empty() && !shared.stopping() {
                for _ in 0..o.depth {
                    c.outbuf.extend_from_slice(&frame);
                    c.sent.push_back(t1);
                }
            }
            let was = c.want_write;
            c.want_write = c.flush().map_err(|e| format!("write to the sequencer: {e}"))?;
            if was != c.want_write {
                set_interest(&ep, i, c)?;
            }
        }
    }
    Ok(())
}

fn set_interest(ep: &Epoll, i: usize, c: &Conn) -> Result<(), String> {
    let events = libc::EPOLLIN as u32 | if c.want_write { libc::EPOLLOUT as u32 } else { 0 };
    ep.modify(c.stream.as_raw_fd(), events, i as u64).map_err(|e| format!("epoll_ctl: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A sequencer stand-in: answers each TOKEN with consecutive tokens from 100, or with
    /// `refuse` as the status of every answer.
    fn serve(refuse: u8) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut next = 100u64;
            for s in l.incoming() {
                let mut s = s.unwrap();
                let mut buf = vec![0u8; 0];
                let mut chunk = [0u8; 4096];
                loop {
                    let n = match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let mut out = Vec::new();
                    while buf.len() >= REQUEST_BYTES {
                        let count = u32::from_le_bytes(buf[20..24].try_into().unwrap()) as u64;
                        let mut a = [0u8; ANSWER_BYTES];
                        a[0..4].copy_from_slice(&25u32.to_le_bytes());
                        a[4] = 1;
                        a[5] = TOKEN_ANSWER;
                        a[8..20].copy_from_slice(&buf[8..20]);
                        a[20] = refuse;
                        a[21..29].copy_from_slice(&next.to_le_bytes());
                        next += count;
                        out.extend_from_slice(&a);
                        buf.drain(..REQUEST_BYTES);
                    }
                    if s.write_all(&out).is_err() {
                        break;
                    }
                }
            }
        });
        port
    }

    /// Sleeping in epoll or polling without a timeout (`busy_poll`), the same counts.
    #[test]
    fn counts_what_the_window_saw_and_the_tokens_it_got() {
        for busy_poll in [false, true] {
            let port = serve(0);
            let mut load =
                TokenLoad::start(TokenLoadOptions { host: "127.0.0.1".into(), port, epoch: 7, connections: 3, depth: 4, count: 2, busy_poll })
                    .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
            let before = load.measured();
            load.open();
            std::thread::sleep(std::time::Duration::from_millis(300));
            let r = load.close();
            assert_eq!(before, 0, "nothing counted before the window opened");
            assert!(r.failure.is_none(), "{:?}", r.failure);
            assert!(r.ops > 0);
            assert_eq!(r.seconds.iter().flatten().map(|&(_, c)| c as u64).sum::<u64>(), r.ops);
            assert_eq!(r.first_token, Some(100));
            assert_eq!((r.tail_after - 100) % 2, 0);
        }
    }

    /// One connection, one TOKEN(1) in flight, epoch 1, sleeping between waits.
    fn one_by_one(port: u16) -> TokenLoadOptions {
        TokenLoadOptions { host: "127.0.0.1".into(), port, epoch: 1, connections: 1, depth: 1, count: 1, busy_poll: false }
    }

    #[test]
    fn an_error_answer_ends_the_run_with_its_status() {
        let port = serve(6);
        let mut load = TokenLoad::start(one_by_one(port)).unwrap();
        load.open();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(load.failure().is_some_and(|f| f.contains("error status 6")));
        let r = load.close();
        assert_eq!(r.ops, 0);
    }

    #[test]
    fn refuses_zero_connections_and_an_unreachable_port() {
        assert!(TokenLoad::start(TokenLoadOptions { connections: 0, ..one_by_one(1) }).is_err());
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        assert!(TokenLoad::start(one_by_one(port)).is_err());
    }
}
