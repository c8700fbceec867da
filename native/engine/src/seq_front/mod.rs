//! The sequencer's native front: the TCP loop of `corfu sequencer`, in Rust, answering
//! its one hot request (TOKEN) itself and handing every other frame, whole, to the
//! TypeScript state machine (src/sequencer/front.ts drives it).
//!
//! Why: the TypeScript server spent 3.4 µs of CPU per request at 16 connections x 8
//! pipelined where Redis spends 2.1 for INCR with the same syscalls; libuv's and V8's
//! share of that is the difference (docs/architecture.md, "The sequencer's native
//! front"). Here a TOKEN costs a scan of 24 bytes and 29 bytes of answer.
//!
//! One thread, one level-triggered epoll set: the listener, an eventfd the JS thread
//! writes when it queues a command, and the connections. Per connection:
//! - Requests are answered in arrival order. A run of TOKENs is answered here
//!   (scan.rs); the first other frame goes to the state machine as an `Event::Frame`
//!   and the connection is *held* (not read, nothing after it answered) until the JS
//!   side replies with `resume` (`Front::reply`). A parked WAIT_TAIL is answered later
//!   by a reply without `resume`, as the TypeScript server answers it.
//! - Answers of every connection read in one turn are written at the turn's end.
//! - Limits, as the TypeScript server's (docs/protocol.md "Server limits"): at most
//!   `max_connections` (one more is closed on accept, `Event::Full` once per episode);
//!   a frame must arrive whole within `frame_timeout_ms` of its first byte (while held
//!   or paused the clock stops: that wait is not the peer's); while more than
//!   `max_buffered_bytes` of answers wait to be sent the connection is not read until
//!   they are all sent (TCP pushes back on the client).
//! - A length field out of bounds closes that connection only, saying why.
//!
//! The epoch and the counter are the gate's (gate.rs), shared with the state machine.

pub mod gate;
pub mod scan;

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::epoll::Epoll;
use gate::Gate;
use scan::{scan, Next, Scratch};

/// One read takes at most this; a connection that sent more is read again next turn.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// An empty input buffer larger than this is freed (a large frame passed through).
const SHRINK_ABOVE_BYTES: usize = 4 * READ_CHUNK_BYTES;
/// Bytes read from one connection in one turn at most, so one busy peer cannot starve the rest.
const MAX_READ_PER_TURN_BYTES: usize = 256 * 1024;
/// How long one epoll wait may last: frame deadlines are checked at least this often.
const WAIT_MS: i32 = 50;
const EVENTS_PER_WAIT: usize = 256;
const KEY_LISTENER: u64 = u64::MAX;
const KEY_WAKE: u64 = u64::MAX - 1;

#[derive(Clone, Debug)]
pub struct FrontOptions {
    pub host: String,
    pub port: u16,
    pub max_connections: usize,
    pub frame_timeout_ms: u64,
    pub max_buffered_bytes: usize,
    pub max_tokens_per_request: u32,
    /// TCP keepalive probes start after this much silence.
    pub keepalive_idle_s: u32,
}

/// What the front tells the JS side. Calls come from the front's thread.
#[derive(Debug)]
pub enum Event {
    Opened {
        conn: u32,
        remote: String,
    },
    /// A whole frame for the state machine; the connection is held until a reply resumes it.
    Frame {
        conn: u32,
        bytes: Vec<u8>,
    },
    /// The connection is gone; `why` when the front closed it for a reason worth a log line.
    Closed {
        conn: u32,
        why: Option<String>,
    },
    /// TOKENs were answered while the JS side said it has parked WAIT_TAILs.
    TailMoved,
    /// The connection cap was reached: new connections are being closed.
    Full,
    /// The loop has ended (after `stop`): no event follows.
    Stopped,
}

pub type EventSink = Box<dyn Fn(Event) + Send>;

enum Command {
    Reply { conn: u32, bytes: Vec<u8>, resume: bool },
    Close { conn: u32 },
    Stop { grace_ms: u64 },
}

struct Shared {
    commands: Mutex<Vec<Command>>,
    wake_fd: OwnedFd,
    waiters: AtomicBool,
    tail_pending: AtomicBool,
    answered: AtomicU64,
    tokens: AtomicU64,
    connections: AtomicUsize,
}

impl Shared {
    fn push(&self, c: Command) {
        let was_empty = {
            let mut q = self.commands.lock().expect("command queue lock");
            q.push(c);
            q.len() == 1
        };
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd; a full counter (EAGAIN) still wakes.
            unsafe { libc::write(self.wake_fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}

/// A running front: its thread serves until `stop`.
pub struct Front {
    shared: Arc<Shared>,
    local: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Front {
    /// Binds and starts serving. The error is the bind's (address in use, not available, no permission).
    pub fn start(o: FrontOptions, gate: Arc<Gate>, events: EventSink) -> io::Result<Front> {
        assert!(o.max_connections >= 1 && o.frame_timeout_ms >= 1 && o.max_tokens_per_request >= 1);
        let addr = (o.host.as_str(), o.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::AddrNotAvailable, format!("{} resolves to no address", o.host)))?;
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        // SAFETY: plain syscalls; each result is checked.
        let wake_fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if wake_fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just created and owned by nobody else.
        let wake_fd = unsafe { OwnedFd::from_raw_fd(wake_fd) };
        let shared = Arc::new(Shared {
            commands: Mutex::new(Vec::new()),
            wake_fd,
            waiters: AtomicBool::new(false),
            tail_pending: AtomicBool::new(false),
            answered: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
        });
        let ep = Epoll::new()?;
        ep.add(listener.as_raw_fd(), libc::EPOLLIN as u32, KEY_LISTENER)?;
        ep.add(shared.wake_fd.as_raw_fd(), libc::EPOLLIN as u32, KEY_WAKE)?;
        let mut lp = Loop {
            ep,
            listener: Some(listener),
            conns: HashMap::new(),
            next_id: 1,
            shared: shared.clone(),
            gate,
            o,
            events,
            dirty: Vec::new(),
            full: false,
            accept_resting: false,
            stop_by: None,
            scratch: Scratch::default(),
        };
        let thread = std::thread::Builder::new().name("corfu-seq-front".into()).spawn(move || lp.run())?;
        Ok(Front { shared, local, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends `bytes` on `conn` (nothing if it is gone); `resume`: the frame it was held
    /// for is handled, go on with what it sent after.
    pub fn reply(&self, conn: u32, bytes: Vec<u8>, resume: bool) {
        self.shared.push(Command::Reply { conn, bytes, resume });
    }

    /// Closes `conn` now (a `Closed` event follows).
    pub fn close(&self, conn: u32) {
        self.shared.push(Command::Close { conn });
    }

    /// Stops accepting, sends what each connection was answered, ends them, and cuts
    /// those not closed by their peer within `grace_ms`; then `Event::Stopped`.
    pub fn stop(&self, grace_ms: u64) {
        self.shared.push(Command::Stop { grace_ms });
    }

    /// Whether the JS side has parked WAIT_TAILs (it then hears `TailMoved`).
    pub fn set_waiters(&self, any: bool) {
        self.shared.waiters.store(any, Ordering::SeqCst);
    }

    /// The JS side has seen a `TailMoved` and reads the tail after this: the next TOKENs
    /// answered send another.
    pub fn tail_seen(&self) {
        self.shared.tail_pending.store(false, Ordering::SeqCst);
    }

    /// TOKEN requests answered here so far.
    pub fn answered(&self) -> u64 {
        self.shared.answered.load(Ordering::Relaxed)
    }

    /// Tokens those requests handed out.
    pub fn tokens(&self) -> u64 {
        self.shared.tokens.load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop(0);
            let _ = t.join();
        }
    }
}

struct Conn {
    stream: TcpStream,
    /// What the peer sent: `input[start..end]` is not consumed yet; the rest is room.
    input: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// Bytes of `out` already sent.
    sent: usize,
    /// A frame is with the state machine: nothing after it is read or answered.
    held: bool,
    /// Too many answers unsent: not read until they are all sent.
    paused: bool,
    /// When the unfinished frame's clock started (its first byte, or the last whole frame).
    frame_since: Option<Instant>,
    /// The epoll events registered now.
    armed: u32,
    /// Stopping: FIN sent once everything was.
    ended: bool,
    /// The peer sent its FIN: close once every answer owed is sent.
    peer_done: bool,
}

impl Conn {
    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// One read into the room at the end of the input: consumed bytes are dropped from
    /// the front first, and the buffer grows (zeroed once) only for a frame larger than it.
    fn read_more(&mut self) -> io::Result<usize> {
        if self.input.len() - self.end < READ_CHUNK_BYTES {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.input.len() - self.end < READ_CHUNK_BYTES {
                let grown = (self.input.len() * 2).max(self.end + READ_CHUNK_BYTES);
                self.input.resize(grown, 0);
            }
        }
        let k = self.stream.read(&mut self.input[self.end..])?;
        self.end += k;
        Ok(k)
    }

    /// After a pass over the input: empty, it starts again at 0 (and gives back the memory
    /// a large frame took).
    fn consumed_all(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.input.len() > SHRINK_ABOVE_BYTES {
                self.input = Vec::new();
            }
        }
    }

    fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }
}

struct Loop {
    ep: Epoll,
    listener: Option<TcpListener>,
    conns: HashMap<u32, Conn>,
    next_id: u32,
    shared: Arc<Shared>,
    gate: Arc<Gate>,
    o: FrontOptions,
    events: EventSink,
    /// Connections with answers to write at the end of this turn.
    dirty: Vec<u32>,
    full: bool,
    /// The listener is not watched until the next sweep (accept failed: out of descriptors).
    accept_resting: bool,
    /// Stopping: cut whatever is open at this instant.
    stop_by: Option<Instant>,
    scratch: Scratch,
}

impl Loop {
    fn run(&mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
        let mut last_sweep = Instant::now();
        loop {
            let n = match self.ep.wait(&mut events, WAIT_MS) {
                Ok(n) => n,
                Err(e) => panic!("epoll_wait: {e}"),
            };
            for ev in &events[..n] {
                let (key, flags) = (ev.u64, ev.events);
                match key {
                    KEY_LISTENER => self.accept_all(),
                    KEY_WAKE => self.run_commands(),
                    _ => {
                        let id = key as u32;
                        if flags & libc::EPOLLOUT as u32 != 0 {
                            self.dirty.push(id);
                        }
                        if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                            self.on_readable(id);
                        }
                    }
                }
            }
            self.flush_dirty();
            let now = Instant::now();
            if now.duration_since(last_sweep) >= Duration::from_millis(WAIT_MS as u64) {
                last_sweep = now;
                self.sweep(now);
            }
            if let Some(by) = self.stop_by {
                if self.conns.is_empty() || now >= by {
                    break;
                }
            }
        }
        let ids: Vec<u32> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id, None);
        }
        (self.events)(Event::Stopped);
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else { return };
            let (stream, remote) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::ConnectionAborted) => continue,
                Err(_) => {
                    // Out of descriptors and the like: the listener stays readable, so stop
                    // watching it until the next sweep instead of spinning (the peer waits
                    // in the backlog or retries).
                    let fd = listener.as_raw_fd();
                    if self.ep.modify(fd, 0, KEY_LISTENER).is_ok() {
                        self.accept_resting = true;
                    }
                    return;
                }
            };
            if self.conns.len() >= self.o.max_connections {
                drop(stream);
                if !self.full {
                    self.full = true;
                    (self.events)(Event::Full);
                }
                continue;
            }
            // An error here: the socket died between accept and setup, nothing to serve.
            let _ = self.adopt(stream, remote);
        }
    }

    fn adopt(&mut self, stream: TcpStream, remote: SocketAddr) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        set_keepalive(stream.as_raw_fd(), self.o.keepalive_idle_s);
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let armed = libc::EPOLLIN as u32;
        self.ep.add(stream.as_raw_fd(), armed, u64::from(id))?;
        let conn = Conn {
            stream,
            input: Vec::new(),
            start: 0,
            end: 0,
            out: Vec::new(),
            sent: 0,
            held: false,
            paused: false,
            frame_since: None,
            armed,
            ended: false,
            peer_done: false,
        };
        assert!(self.conns.insert(id, conn).is_none(), "connection id {id} reused while open");
        self.shared.connections.store(self.conns.len(), Ordering::Relaxed);
        (self.events)(Event::Opened { conn: id, remote: remote.to_string() });
        Ok(())
    }

    fn on_readable(&mut self, id: u32) {
        let stopping = self.stop_by.is_some();
        let Some(c) = self.conns.get_mut(&id) else { return };
        if c.peer_done || ((c.held || c.paused) && !stopping) {
            // Not armed for input: a hang-up or an error. An error (a reset) closes now; an
            // orderly end waits until the answers owed are sent.
            let mut probe = [0u8; 1];
            match c.stream.peek(&mut probe) {
                Ok(0) => self.peer_ended(id),
                Err(e) if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::Interrupted => self.close(id, None),
                _ => {}
            }
            return;
        }
        let mut taken = 0;
        let mut ended = false;
        let mut failed = false;
        while taken < MAX_READ_PER_TURN_BYTES {
            match c.read_more() {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(k) => taken += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    failed = e.kind() != ErrorKind::WouldBlock;
                    break;
                }
            }
        }
        if stopping {
            // Ending: what arrives now is not answered.
            c.start = c.end;
            c.consumed_all();
        } else if taken > 0 {
            self.process(id);
        }
        if failed {
            self.close(id, None);
        } else if ended {
            self.peer_ended(id);
        }
    }

    /// The peer sent its last byte: answer what it sent (a held frame's answer included),
    /// send it all, then close (what Node does for a socket that does not allow half-open).
    fn peer_ended(&mut self, id: u32) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        c.peer_done = true;
        c.frame_since = None;
        self.flush(id);
    }

    /// Answers what the connection sent, up to a frame for the state machine.
    fn process(&mut self, id: u32) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        if c.held {
            return;
        }
        let s = scan(&c.input[c.start..c.end], &self.gate, self.o.max_tokens_per_request, &mut c.out, &mut self.scratch);
        c.start += s.consumed;
        let mut progressed = s.answered > 0;
        if s.answered > 0 {
            self.shared.answered.fetch_add(s.answered as u64, Ordering::Relaxed);
            self.shared.tokens.fetch_add(self.scratch.counts[..s.answered].iter().map(|&n| u64::from(n)).sum(), Ordering::Relaxed);
            self.dirty.push(id);
            if self.shared.waiters.load(Ordering::SeqCst) && !self.shared.tail_pending.swap(true, Ordering::SeqCst) {
                (self.events)(Event::TailMoved);
            }
        }
        match s.next {
            Next::Need => {}
            Next::Forward(len) => {
                let bytes = c.input[c.start..c.start + len].to_vec();
                c.start += len;
                c.held = true;
                progressed = true;
                (self.events)(Event::Frame { conn: id, bytes });
            }
            Next::Malformed(why) => {
                self.close(id, Some(format!("protocol error: {why}")));
                return;
            }
        }
        let c = self.conns.get_mut(&id).expect("still open");
        c.consumed_all();
        // The frame clock runs only while the peer owes us the rest of a frame.
        if c.held || c.buffered() == 0 {
            c.frame_since = None;
        } else if progressed || c.frame_since.is_none() {
            c.frame_since = Some(Instant::now());
        }
        self.rearm(id);
    }

    fn run_commands(&mut self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads 8 bytes into a live buffer from our eventfd (EAGAIN when already read).
        unsafe { libc::read(self.shared.wake_fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        let commands = std::mem::take(&mut *self.shared.commands.lock().expect("command queue lock"));
        for c in commands {
            match c {
                Command::Reply { conn, bytes, resume } => {
                    let Some(c) = self.conns.get_mut(&conn) else { continue };
                    if !bytes.is_empty() {
                        c.out.extend_from_slice(&bytes);
                        self.dirty.push(conn);
                    }
                    if resume {
                        assert!(c.held, "a resume for connection {conn}, which holds no frame");
                        c.held = false;
                        if self.stop_by.is_none() {
                            self.process(conn);
                        }
                        self.dirty.push(conn);
                    }
                }
                Command::Close { conn } => {
                    if self.conns.contains_key(&conn) {
                        self.close(conn, None);
                    }
                }
                Command::Stop { grace_ms } => self.begin_stop(grace_ms),
            }
        }
    }

    fn begin_stop(&mut self, grace_ms: u64) {
        if self.stop_by.is_some() {
            return;
        }
        self.stop_by = Some(Instant::now() + Duration::from_millis(grace_ms));
        if let Some(l) = self.listener.take() {
            let _ = self.ep.delete(l.as_raw_fd());
        }
        let ids: Vec<u32> = self.conns.keys().copied().collect();
        for id in ids {
            self.dirty.push(id);
        }
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for &id in &dirty {
            self.flush(id);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Writes what the connection was answered; pauses or resumes its reading by what is left.
    fn flush(&mut self, id: u32) {
        let stopping = self.stop_by.is_some();
        let Some(c) = self.conns.get_mut(&id) else { return };
        while c.unsent() > 0 {
            match c.stream.write(&c.out[c.sent..]) {
                Ok(k) => c.sent += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.close(id, None);
                    return;
                }
            }
        }
        if c.unsent() == 0 {
            c.out.clear();
            c.sent = 0;
            if c.peer_done && !c.held {
                self.close(id, None);
                return;
            }
            if c.paused {
                // Drained: read again, and answer what was buffered meanwhile (nothing: a
                // pause follows a whole pass over the input).
                c.paused = false;
            }
            if stopping && !c.ended {
                c.ended = true;
                let _ = c.stream.shutdown(Shutdown::Write);
            }
        } else if c.unsent() > self.o.max_buffered_bytes && !c.paused {
            c.paused = true;
            c.frame_since = None;
        }
        self.rearm(id);
    }

    fn rearm(&mut self, id: u32) {
        let stopping = self.stop_by.is_some();
        let Some(c) = self.conns.get_mut(&id) else { return };
        let mut want = 0;
        if !c.peer_done && (stopping || (!c.held && !c.paused)) {
            want |= libc::EPOLLIN as u32;
        }
        if c.unsent() > 0 {
            want |= libc::EPOLLOUT as u32;
        }
        if want != c.armed {
            c.armed = want;
            if self.ep.modify(c.stream.as_raw_fd(), want, u64::from(id)).is_err() {
                self.close(id, None);
            }
        }
    }

    fn sweep(&mut self, now: Instant) {
        if self.accept_resting {
            self.accept_resting = false;
            if let Some(l) = &self.listener {
                let _ = self.ep.modify(l.as_raw_fd(), libc::EPOLLIN as u32, KEY_LISTENER);
            }
        }
        let limit = Duration::from_millis(self.o.frame_timeout_ms);
        let late: Vec<u32> =
            self.conns.iter().filter(|(_, c)| c.frame_since.is_some_and(|t| now.duration_since(t) >= limit)).map(|(&id, _)| id).collect();
        for id in late {
            let why = format!("no whole frame within {} ms of its first byte", self.o.frame_timeout_ms);
            self.close(id, Some(why));
        }
    }

    fn close(&mut self, id: u32, why: Option<String>) {
        let Some(c) = self.conns.remove(&id) else { return };
        let _ = self.ep.delete(c.stream.as_raw_fd());
        drop(c);
        self.full = false;
        self.shared.connections.store(self.conns.len(), Ordering::Relaxed);
        (self.events)(Event::Closed { conn: id, why });
    }
}

fn set_keepalive(fd: RawFd, idle_s: u32) {
    let on: libc::c_int = 1;
    let idle = idle_s.max(1) as libc::c_int;
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt on a live socket with pointers to live ints; a failure only
    // leaves the kernel's default, as Node's setKeepAlive would.
    unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, (&on as *const libc::c_int).cast(), size);
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, (&idle as *const libc::c_int).cast(), size);
    }
}
