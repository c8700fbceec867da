//! A native TCP front: the request loop of a Corfu server, in Rust. It answers the
//! server's hot requests itself (a `Service` says how) and hands every other frame,
//! whole, to the TypeScript server, which answers it through `Front::reply`.
//!
//! Why: a request that crosses libuv and V8 costs the Node servers several times what
//! the work itself costs (docs/architecture.md, "The native fronts"). The sequencer
//! answers TOKEN here (seq_front), a storage unit WRITE and READ (unit_front).
//!
//! One thread, one level-triggered epoll set: the listener, an eventfd woken when a
//! command is queued (a reply from the JS side or the store's I/O thread), and the
//! connections. Per connection:
//! - The service takes the whole frames at the head of what the connection sent: it
//!   answers some into the connection's output at once, and dispatches some elsewhere
//!   (each then *owes* an answer, which comes back as a `Reply` with `done`). The first
//!   frame it does not take goes to the JS side as an `Event::Frame` and owes an answer
//!   too. At `max_owed` answers owed the connection is not read until one comes: the
//!   sequencer sets 1 (answers in arrival order: nothing after a forwarded frame is
//!   answered before it), a unit its in-flight bound (answers matched by request id).
//! - Answers of every connection read in one turn are written at the turn's end.
//! - Limits, as the TypeScript servers' (docs/protocol.md "Server limits"): at most
//!   `max_connections` (one more is closed on accept, `Event::Full` once per episode);
//!   a frame must arrive whole within `frame_timeout_ms` of its first byte (while the
//!   connection is not read, the clock stops: that wait is not the peer's); while more
//!   than `max_buffered_bytes` of answers wait to be sent the connection is not read
//!   until they are all sent (TCP pushes back on the client).
//! - A length field out of bounds closes that connection only, saying why.
//! - A peer that ends its side is answered everything it sent, then closed; on `stop`
//!   each connection gets every answer it is owed, then a FIN.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod wire;

use crate::epoll::{Epoll, EventFd};

/// One read takes at most this; a connection that sent more is read again next turn.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// An empty input buffer larger than this is freed (a large frame passed through).
const SHRINK_ABOVE_BYTES: usize = 4 * READ_CHUNK_BYTES;
/// Bytes read from one connection in one turn at most, so one busy peer cannot starve the rest.
const MAX_READ_PER_TURN_BYTES: usize = 256 * 1024;
/// How long one epoll wait may last while a frame deadline runs (or the listener rests, or
/// a stop is pending): they are checked at least this often. Idle, the wait has no end.
const WAIT_MS: i32 = 50;
const EVENTS_PER_WAIT: usize = 256;
const KEY_LISTENER: u64 = u64::MAX;
const KEY_WAKE: u64 = u64::MAX - 1;
/// Pending connections the kernel queues for accept (above std's 128; `start_with` says why).
const LISTEN_BACKLOG: i32 = 4096;

#[derive(Clone, Debug)]
pub struct FrontOptions {
    pub host: String,
    pub port: u16,
    pub max_connections: usize,
    pub frame_timeout_ms: u64,
    pub max_buffered_bytes: usize,
    /// TCP keepalive probes start after this much silence.
    pub keepalive_idle_s: u32,
    /// Answers one connection may be owed (dispatched or forwarded frames) before it is
    /// not read until one comes.
    pub max_owed: u32,
    /// The loop thread's name.
    pub thread_name: String,
}

/// How a service's look at a connection's bytes ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Everything whole was taken; the rest (maybe nothing) is part of a frame.
    Need,
    /// The frame of this many bytes at the head (after `consumed`) is the JS side's.
    Forward(usize),
    /// The `frames` whole frames in these bytes at the head are the JS side's, and the
    /// connection is held (nothing more taken) until it says they decoded (`resume`): a
    /// malformed one ends the connection, and nothing sent after it may run first.
    ForwardHeld { bytes: usize, frames: u32 },
    /// As many frames were dispatched as the connection may owe: the rest waits.
    Owing,
    /// The stream's framing is lost: close the connection, saying why.
    Malformed(String),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Take {
    /// Bytes of whole frames taken (answered here or dispatched).
    pub consumed: usize,
    /// Answers were written to the output.
    pub answered: bool,
    /// Frames dispatched elsewhere: each owes an answer, to come as a `Reply` with `done`.
    pub dispatched: u32,
    /// Send `Event::Signal` (the service's own "something moved" note).
    pub signal: bool,
    pub next: Next,
}

/// A server's protocol on a front: what to do with the bytes a connection sent.
pub trait Service: Send + 'static {
    /// Takes what it can of the frames at the head of `input`, answering into `out` or
    /// dispatching at most `room` of them; stops at the first frame for the JS side.
    fn take(&mut self, conn: u32, input: &[u8], room: u32, out: &mut Vec<u8>) -> Take;

    /// The turn's frames are all taken (every ready connection's) and its answers sent:
    /// a service that gathered work over the turn (a unit's WRITEs, for one round) runs
    /// or hands it off here and returns the answers it has now, each settling what its
    /// connection owed; `None` when nothing was gathered. Called again until `None`, as
    /// answers may let a connection's waiting frames be taken.
    fn end_turn(&mut self) -> Option<Vec<Reply>> {
        None
    }
}

/// What a stopped loop holds instead of its service.
struct Stopped;

impl Service for Stopped {
    fn take(&mut self, _conn: u32, _input: &[u8], _room: u32, _out: &mut Vec<u8>) -> Take {
        Take { consumed: 0, answered: false, dispatched: 0, signal: false, next: Next::Need }
    }
}

/// An answer for a connection, from the JS side or another thread.
#[derive(Debug)]
pub struct Reply {
    pub conn: u32,
    pub bytes: Vec<u8>,
    /// It settles one answer the connection was owed.
    pub done: bool,
    /// Also hand a copy to the JS side (`Event::Notice`): an answer worth a log line.
    pub notice: bool,
}

/// What the front tells the JS side. Calls come from the front's thread.
#[derive(Debug)]
pub enum Event {
    Opened {
        conn: u32,
        remote: String,
    },
    /// A whole frame for the JS side; the connection owes its answer.
    Frame {
        conn: u32,
        bytes: Vec<u8>,
    },
    /// The connection is gone; `why` when the front closed it for a reason worth a log line.
    Closed {
        conn: u32,
        why: Option<String>,
    },
    /// The service's note (`Take::signal`).
    Signal,
    /// A copy of an answer sent (`Reply::notice`).
    Notice {
        conn: u32,
        bytes: Vec<u8>,
    },
    /// The connection cap was reached: new connections are being closed.
    Full,
    /// The loop has ended (after `stop`): no event follows.
    Stopped,
}

pub type EventSink = Box<dyn Fn(Event) + Send>;

enum Command {
    Replies(Vec<Reply>),
    Resume { conn: u32 },
    Close { conn: u32 },
    Stop { grace_ms: u64 },
}

struct Shared {
    commands: Mutex<Vec<Command>>,
    wake_fd: EventFd,
    connections: AtomicUsize,
}

impl Shared {
    fn push(&self, c: Command) {
        let was_empty = {
            let mut q = self.commands.lock().expect("command queue lock");
            q.push(c);
            q.len() == 1
        };
        // Only the first command of a batch wakes the loop: it takes them all.
        if was_empty {
            self.wake_fd.signal();
        }
    }
}

/// Sends replies to a front's connections from any thread; cheap to clone.
#[derive(Clone)]
pub struct Replier(Arc<Shared>);

impl Replier {
    /// Queues `replies` (one wake-up of the loop for all of them).
    pub fn send(&self, replies: Vec<Reply>) {
        if !replies.is_empty() {
            self.0.push(Command::Replies(replies));
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
    pub fn start(o: FrontOptions, service: Box<dyn Service>, events: EventSink) -> io::Result<Front> {
        Front::start_with(o, events, |_| (service, ())).map(|(front, ())| front)
    }

    /// As `start`, with the service made from the front's `Replier` (a service whose
    /// answers come from another thread hands it there); `T` is whatever else `make` returns.
    pub fn start_with<T>(o: FrontOptions, events: EventSink, make: impl FnOnce(Replier) -> (Box<dyn Service>, T)) -> io::Result<(Front, T)> {
        assert!(o.max_connections >= 1 && o.frame_timeout_ms >= 1 && o.max_owed >= 1);
        let addr = (o.host.as_str(), o.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::AddrNotAvailable, format!("{} resolves to no address", o.host)))?;
        let listener = TcpListener::bind(addr)?;
        // std listens with a backlog of 128. A burst of connects past it (2,000 idle peers
        // at once, the hostile tests) left peers the kernel had answered but not queued,
        // waiting for SYN-ACK retransmits, seconds before the loop could close those past
        // the cap; Node's servers listen with 511. A second listen() only changes the
        // backlog (the kernel clamps it to net.core.somaxconn).
        // SAFETY: listen on a valid, bound socket.
        if unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) } != 0 {
            return Err(io::Error::last_os_error());
        }
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let wake_fd = EventFd::new()?;
        let shared = Arc::new(Shared { commands: Mutex::new(Vec::new()), wake_fd, connections: AtomicUsize::new(0) });
        let (service, extra) = make(Replier(shared.clone()));
        let ep = Epoll::new()?;
        ep.add(listener.as_raw_fd(), libc::EPOLLIN as u32, KEY_LISTENER)?;
        ep.add(shared.wake_fd.as_raw_fd(), libc::EPOLLIN as u32, KEY_WAKE)?;
        let mut lp = Loop {
            ep,
            listener: Some(listener),
            conns: HashMap::new(),
            next_id: 1,
            shared: shared.clone(),
            service,
            o,
            events,
            dirty: Vec::new(),
            full: false,
            accept_resting: false,
            stop_by: None,
        };
        let thread = std::thread::Builder::new().name(lp.o.thread_name.clone()).spawn(move || lp.run())?;
        Ok((Front { shared, local, thread: Some(thread) }, extra))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends `bytes` on `conn` (nothing if it is gone); `done`: it settles an answer the
    /// connection was owed (a forwarded frame's), so reading may go on.
    pub fn reply(&self, conn: u32, bytes: Vec<u8>, done: bool) {
        self.shared.push(Command::Replies(vec![Reply { conn, bytes, done, notice: false }]));
    }

    /// The frames handed over held (`Next::ForwardHeld`) all decoded: go on reading `conn`.
    pub fn resume(&self, conn: u32) {
        self.shared.push(Command::Resume { conn });
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
    /// Answers owed by others (the JS side, the store): at `max_owed` the connection is not read.
    owed: u32,
    /// Frames are with the JS side to decode (`Next::ForwardHeld`): not read until `resume`.
    held: bool,
    /// Too many answers unsent: not read until they are all sent.
    paused: bool,
    /// Whole frames wait in the input for the answers to be sent (`process`).
    stalled: bool,
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
    /// Reads what fits; `Ok((k, true))` when the read filled the room it had (more may be waiting).
    fn read_more(&mut self) -> io::Result<(usize, bool)> {
        if self.input.len() - self.end < READ_CHUNK_BYTES {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.input.len() - self.end < READ_CHUNK_BYTES {
                let grown = (self.input.len() * 2).max(self.end + READ_CHUNK_BYTES);
                self.input.resize(grown, 0);
            }
        }
        let room = self.input.len() - self.end;
        let k = self.stream.read(&mut self.input[self.end..])?;
        self.end += k;
        Ok((k, k == room))
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

    /// Not read now: frames held with the JS side, too many answers owed, or too many unsent.
    fn not_reading(&self, max_owed: u32) -> bool {
        self.held || self.owed >= max_owed || self.paused
    }
}

struct Loop {
    ep: Epoll,
    listener: Option<TcpListener>,
    conns: HashMap<u32, Conn>,
    next_id: u32,
    shared: Arc<Shared>,
    service: Box<dyn Service>,
    o: FrontOptions,
    events: EventSink,
    /// Connections with answers to write at the end of this turn.
    dirty: Vec<u32>,
    full: bool,
    /// The listener is not watched until the next sweep (accept failed: out of descriptors).
    accept_resting: bool,
    /// Stopping: cut whatever is open at this instant.
    stop_by: Option<Instant>,
}

impl Loop {
    fn run(&mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
        let mut last_sweep = Instant::now();
        let mut wait_ms = WAIT_MS;
        loop {
            let n = match self.ep.wait(&mut events, wait_ms) {
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
            loop {
                self.flush_dirty();
                let Some(replies) = self.service.end_turn() else { break };
                for r in replies {
                    self.on_reply(r);
                }
            }
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
            // A wait that ended with nothing to do, no frame clock running, the listener
            // watched and no stop pending: sleep until something happens (an idle server
            // costs no wake-ups); anything else is looked at again within WAIT_MS.
            let idle = n == 0 && self.stop_by.is_none() && !self.accept_resting && self.conns.values().all(|c| c.frame_since.is_none());
            wait_ms = if idle { -1 } else { WAIT_MS };
        }
        let ids: Vec<u32> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id, None);
        }
        // The service goes before the JS side hears the front stopped: what it holds (a
        // unit's device descriptor, its read queue) is let go by then, so a store closed
        // right after opens again (a device stays locked while any descriptor of it is open).
        drop(std::mem::replace(&mut self.service, Box::new(Stopped)));
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
            owed: 0,
            held: false,
            paused: false,
            stalled: false,
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
        let max_owed = self.o.max_owed;
        let Some(c) = self.conns.get_mut(&id) else { return };
        if c.peer_done || (c.not_reading(max_owed) && !stopping) {
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
                Ok((0, _)) => {
                    ended = true;
                    break;
                }
                Ok((k, filled)) => {
                    taken += k;
                    // A short read emptied the socket: another would only say EAGAIN (a
                    // syscall per turn); the level-triggered wait reports what comes next,
                    // a FIN included.
                    if !filled {
                        break;
                    }
                }
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

    /// The peer sent its last byte: answer what it sent (the answers owed included), send
    /// it all, then close (what Node does for a socket that does not allow half-open).
    fn peer_ended(&mut self, id: u32) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        c.peer_done = true;
        c.frame_since = None;
        self.flush(id);
    }

    /// Takes what the connection sent, while it may owe more answers.
    fn process(&mut self, id: u32) {
        let max_owed = self.o.max_owed;
        let max_buffered = self.o.max_buffered_bytes;
        let Some(c) = self.conns.get_mut(&id) else { return };
        let mut progressed = false;
        // No new request while its answers are over the bound (as the TypeScript server):
        // the rest is taken once they are sent (`flush`).
        c.stalled = false;
        while !c.held && c.owed < max_owed && c.buffered() > 0 {
            if c.unsent() > max_buffered {
                c.stalled = true;
                break;
            }
            let t = self.service.take(id, &c.input[c.start..c.end], max_owed - c.owed, &mut c.out);
            debug_assert!(t.consumed <= c.buffered() && t.dispatched <= max_owed - c.owed);
            c.start += t.consumed;
            c.owed += t.dispatched;
            progressed |= t.consumed > 0;
            if t.answered {
                self.dirty.push(id);
            }
            if t.signal {
                (self.events)(Event::Signal);
            }
            match t.next {
                Next::Need | Next::Owing => break,
                Next::Forward(len) => {
                    let bytes = c.input[c.start..c.start + len].to_vec();
                    c.start += len;
                    c.owed += 1;
                    progressed = true;
                    (self.events)(Event::Frame { conn: id, bytes });
                }
                Next::ForwardHeld { bytes: len, frames } => {
                    debug_assert!(frames >= 1 && c.owed + frames <= max_owed);
                    let bytes = c.input[c.start..c.start + len].to_vec();
                    c.start += len;
                    c.owed += frames;
                    c.held = true;
                    progressed = true;
                    (self.events)(Event::Frame { conn: id, bytes });
                }
                Next::Malformed(why) => {
                    self.close(id, Some(format!("protocol error: {why}")));
                    return;
                }
            }
        }
        c.consumed_all();
        // The frame clock runs only while the peer owes us the rest of a frame.
        if c.not_reading(max_owed) || c.buffered() == 0 {
            c.frame_since = None;
        } else if progressed || c.frame_since.is_none() {
            c.frame_since = Some(Instant::now());
        }
        self.rearm(id);
    }

    fn run_commands(&mut self) {
        self.shared.wake_fd.drain();
        let commands = std::mem::take(&mut *self.shared.commands.lock().expect("command queue lock"));
        for c in commands {
            match c {
                Command::Replies(replies) => {
                    for r in replies {
                        self.on_reply(r);
                    }
                }
                Command::Resume { conn } => {
                    let Some(c) = self.conns.get_mut(&conn) else { continue };
                    assert!(c.held, "a resume for connection {conn}, which holds no frames");
                    c.held = false;
                    if self.stop_by.is_none() {
                        self.process(conn);
                    }
                    self.dirty.push(conn);
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

    fn on_reply(&mut self, r: Reply) {
        let max_owed = self.o.max_owed;
        let Reply { conn, bytes, done, notice } = r;
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let was_blocked = c.owed >= max_owed;
        let copy = notice.then(|| bytes.clone());
        if !bytes.is_empty() {
            // Nothing waiting to be sent and no room for it: the answer becomes the output,
            // uncopied (a READ's can be megabytes); else the output's room is reused.
            if c.out.is_empty() && bytes.len() > c.out.capacity() {
                c.out = bytes;
            } else {
                c.out.extend_from_slice(&bytes);
            }
            self.dirty.push(conn);
        }
        if done {
            assert!(c.owed > 0, "an answer settled on connection {conn}, which is owed none");
            c.owed -= 1;
            self.dirty.push(conn);
            if was_blocked && self.stop_by.is_none() {
                self.process(conn);
            }
        }
        if let Some(bytes) = copy {
            (self.events)(Event::Notice { conn, bytes });
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
        // A flush can make more to flush (a drained connection takes the frames it had
        // buffered), so until nothing is left.
        while !self.dirty.is_empty() {
            let mut dirty = std::mem::take(&mut self.dirty);
            dirty.sort_unstable();
            dirty.dedup();
            for &id in &dirty {
                self.flush(id);
            }
        }
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
            if c.out.capacity() > SHRINK_ABOVE_BYTES {
                c.out = Vec::new();
            }
            c.paused = false;
            if c.stalled && !stopping {
                // Drained: take the frames left for the answers to go first (before a peer
                // that has sent its FIN is closed: they are owed answers too), then look
                // at this connection again.
                self.process(id);
                self.dirty.push(id);
                return;
            }
            if c.peer_done && c.owed == 0 {
                self.close(id, None);
                return;
            }
            if stopping && !c.ended && c.owed == 0 {
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
        if !c.peer_done && (stopping || !c.not_reading(self.o.max_owed)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// A service of lines: each is gathered over the turn and answered at its end, as a
    /// unit's front runs a turn's WRITEs as one round.
    struct Lines {
        gathered: Vec<(u32, Vec<u8>)>,
    }

    impl Service for Lines {
        fn take(&mut self, conn: u32, input: &[u8], room: u32, _out: &mut Vec<u8>) -> Take {
            let mut take = Take { consumed: 0, answered: false, dispatched: 0, signal: false, next: Next::Need };
            while take.dispatched < room {
                let Some(end) = input[take.consumed..].iter().position(|&b| b == b'\n') else { break };
                self.gathered.push((conn, input[take.consumed..take.consumed + end].to_vec()));
                take.consumed += end + 1;
                take.dispatched += 1;
            }
            if take.dispatched == room {
                take.next = Next::Owing;
            }
            take
        }

        fn end_turn(&mut self) -> Option<Vec<Reply>> {
            if self.gathered.is_empty() {
                return None;
            }
            let replies = self.gathered.drain(..).map(|(conn, line)| Reply {
                conn,
                bytes: [b"ok ", &line[..], b"\n"].concat(),
                done: true,
                notice: false,
            });
            Some(replies.collect())
        }
    }

    /// Lines sent at once past what a connection may owe: the answers of one turn's end
    /// let the rest be taken, with no event from outside to wake the loop again.
    #[test]
    fn answers_from_the_end_of_a_turn_let_a_connection_owing_its_limit_go_on() {
        let o = FrontOptions {
            host: "127.0.0.1".into(),
            port: 0,
            max_connections: 4,
            frame_timeout_ms: 10_000,
            max_buffered_bytes: 1 << 20,
            keepalive_idle_s: 60,
            max_owed: 2,
            thread_name: "front-test".into(),
        };
        let front = Front::start(o, Box::new(Lines { gathered: Vec::new() }), Box::new(|_| {})).unwrap();
        let mut s = TcpStream::connect(front.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let sent: String = (0..50).map(|i| format!("line {i}\n")).collect();
        s.write_all(sent.as_bytes()).unwrap();
        let mut answers = BufReader::new(s);
        for i in 0..50 {
            let mut a = String::new();
            answers.read_line(&mut a).expect("every line is answered, in order, within the timeout");
            assert_eq!(a, format!("ok line {i}\n"));
        }
    }
}
