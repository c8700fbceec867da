//! The client's native append path: TOKEN, then each replica's WRITE, head first, on a
//! thread of its own with its own connections, for the appends on which nothing goes
//! wrong. Everything else ends here with what the walk learned and goes back to the
//! TypeScript client's append protocol (machine.rs says why that is safe).
//!
//! Why native: at depth 1 an append is three round trips, and the client's JavaScript
//! (a promise per leg, the per-unit batchers' deferred flushes, the budget's races)
//! spent about 200 µs of CPU on each append on top of what a lean loop needs, all on the
//! append's critical path; at 16 x 32 the client's JS thread was the bottleneck, at
//! 10-15 µs of CPU per append. Here a turn of the loop sends one TOKEN per sequencer and
//! epoch for every submission waiting, and one WRITE frame per unit and epoch for every
//! entry bound there, as the JS batchers did, without a promise per leg.
//!
//! One thread, one level-triggered epoll set: an eventfd woken by `submit`, and one
//! non-blocking connection per server, opened on first use (a connect that fails, or a
//! connection that errs, ends what was in flight on it and is not tried again for
//! `RECONNECT_AFTER_MS`: those entries go back to the client at once).

pub mod codec;
pub mod directory;
pub mod machine;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::epoll::{Epoll, EventFd};
use crate::front::wire::whole_frame;
pub use directory::{Directory, LayoutSpec};
pub use machine::{Fate, Layout, Limits, Machine, Outcome, Payloads, ServerId};

/// How long a server whose connection failed is left alone.
const RECONNECT_AFTER_MS: u64 = 100;
/// The longest epoll wait with nothing due.
const IDLE_WAIT_MS: i32 = 1_000;
const KEY_WAKE: u64 = u64::MAX;
/// Bytes read per read call.
const READ_CHUNK_BYTES: usize = 256 * 1024;

/// What the loop tells its owner after a turn that ended entries: their outcomes, and
/// how many TOKEN requests it has sent in all.
pub type OutcomeSink = Box<dyn FnMut(Vec<Outcome>, u64) + Send>;

enum Command {
    Layout(u32, LayoutSpec),
    Forget(u32),
    Abandon(Vec<String>),
    Submit { layout: u32, batch: u32, payloads: Payloads },
}

struct Shared {
    commands: Mutex<Vec<Command>>,
    wake: EventFd,
    stop: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn push(&self, c: Command) {
        self.push_all(vec![c]);
    }

    fn push_all(&self, cs: Vec<Command>) {
        if cs.is_empty() {
            return;
        }
        let was_empty = {
            let mut q = self.commands.lock().expect("appender command lock");
            let was_empty = q.is_empty();
            q.extend(cs);
            was_empty
        };
        // The first command of a batch wakes the loop; it takes them all.
        if was_empty {
            self.wake();
        }
    }

    fn wake(&self) {
        self.wake.signal();
    }
}

/// A running append path; its thread runs until `stop` (or the value is dropped).
pub struct Appender {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    next_layout: u32,
    /// A submission past what the path ever holds at once is refused at `submit`.
    limits: Limits,
}

impl Appender {
    pub fn start(limits: Limits, sink: OutcomeSink) -> io::Result<Appender> {
        let wake = EventFd::new()?;
        let shared = Arc::new(Shared { commands: Mutex::new(Vec::new()), wake, stop: false.into() });
        let ep = Epoll::new()?;
        ep.add(shared.wake.as_raw_fd(), libc::EPOLLIN as u32, KEY_WAKE)?;
        let mut lp = Loop {
            ep,
            shared: shared.clone(),
            machine: Machine::new(limits),
            directory: Directory::default(),
            servers: Vec::new(),
            sink,
            base: Instant::now(),
            read_buf: vec![0; READ_CHUNK_BYTES],
        };
        let thread = std::thread::Builder::new().name("corfu-appender".into()).spawn(move || lp.run())?;
        Ok(Appender { shared, thread: Some(thread), next_layout: 1, limits })
    }

    /// Registers a layout; submissions name it by the number returned.
    pub fn layout(&mut self, spec: LayoutSpec) -> u32 {
        let id = self.next_layout;
        self.next_layout = self.next_layout.wrapping_add(1).max(1);
        self.shared.push(Command::Layout(id, spec));
        id
    }

    /// Drops a layout (entries already submitted under it keep it).
    pub fn forget(&self, layout: u32) {
        self.shared.push(Command::Forget(layout));
    }

    /// Gives up at once on every request in flight to these servers (a newer projection
    /// no longer names them: waiting out a hung one's timeout would only delay the
    /// client, which sends those entries again under the new layout).
    pub fn abandon(&self, servers: Vec<String>) {
        self.shared.push(Command::Abandon(servers));
    }

    /// Queues entries under a registered layout. False, nothing queued, for a submission
    /// larger than the path ever holds at once; one that finds the path full is still
    /// taken, and its entries come back at once as NoToken.
    pub fn submit(&self, layout: u32, batch: u32, payloads: Payloads) -> bool {
        self.submit_many(vec![(layout, batch, payloads)]).is_empty()
    }

    /// As `submit` for several (layout, batch, payloads), with one wake of the thread for
    /// all (one per JS tick, not one per client); returns the batches refused.
    pub fn submit_many(&self, submissions: Vec<(u32, u32, Payloads)>) -> Vec<u32> {
        let mut refused = Vec::new();
        let mut commands = Vec::with_capacity(submissions.len());
        for (layout, batch, payloads) in submissions {
            if payloads.is_empty() || payloads.len() > self.limits.max_entries || payloads.total_bytes() > self.limits.max_bytes {
                refused.push(batch);
            } else {
                commands.push(Command::Submit { layout, batch, payloads });
            }
        }
        self.shared.push_all(commands);
        refused
    }

    /// Ends the thread: what it held ends as lost (NoToken or Fell) in a last call of the sink.
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            self.shared.wake();
            let _ = t.join();
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Conn {
    stream: TcpStream,
    connecting: bool,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    want_write: bool,
}

/// A server's connection state, at its ServerId.
#[derive(Default)]
struct Server {
    conn: Option<Conn>,
    /// No new connection before this (ns since base).
    rest_until_ns: u64,
}

struct Loop {
    ep: Epoll,
    shared: Arc<Shared>,
    machine: Machine,
    directory: Directory,
    servers: Vec<Server>,
    sink: OutcomeSink,
    base: Instant,
    read_buf: Vec<u8>,
}

impl Loop {
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn run(&mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        loop {
            let wait_ms = match self.machine.next_deadline_ns() {
                Some(d) => (d.saturating_sub(self.now_ns()).div_ceil(1_000_000)).min(IDLE_WAIT_MS as u64) as i32,
                None => IDLE_WAIT_MS,
            };
            let n = match self.ep.wait(&mut events, wait_ms) {
                Ok(n) => n,
                Err(e) => panic!("corfu-appender: epoll_wait failed: {e}"),
            };
            let mut woken = false;
            for ev in &events[..n] {
                if ev.u64 == KEY_WAKE {
                    woken = true;
                    continue;
                }
                self.on_socket(ev.u64 as ServerId, ev.events);
            }
            if self.shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
                self.shut();
                return;
            }
            // Only a reported wake is drained (a read per turn was a wasted syscall in half
            // the turns); the commands are taken every turn, so one pushed after the wait
            // returned is not left behind, and its signal only makes the next wait return.
            if woken {
                self.shared.wake.drain();
            }
            self.take_commands();
            let now = self.now_ns();
            for server in self.machine.expire(now) {
                self.drop_conn(server, now);
            }
            self.machine.turn(now);
            self.send_all(now);
            self.deliver();
        }
    }

    fn deliver(&mut self) {
        if !self.machine.outcomes.is_empty() {
            let outcomes = std::mem::take(&mut self.machine.outcomes);
            (self.sink)(outcomes, self.machine.token_requests);
        }
    }

    fn shut(&mut self) {
        for s in 0..self.servers.len() {
            self.servers[s].conn = None;
            self.machine.lost(s);
        }
        // Entries still waiting for their TOKEN (or bound for a WRITE) go out as one last
        // turn's requests would; with no connection left they end as lost.
        let now = self.now_ns();
        self.take_commands();
        self.machine.turn(now);
        self.machine.sends.clear();
        for s in 0..self.servers.len() {
            self.machine.lost(s);
        }
        self.deliver();
    }

    fn take_commands(&mut self) {
        let commands = std::mem::take(&mut *self.shared.commands.lock().expect("appender command lock"));
        for c in commands {
            match c {
                Command::Layout(id, spec) => {
                    self.directory.add_layout(id, &spec);
                    self.servers.resize_with(self.directory.servers(), Server::default);
                }
                Command::Forget(id) => self.directory.forget(id),
                Command::Abandon(names) => {
                    let now = self.now_ns();
                    for name in names {
                        if let Some(server) = self.directory.find(&name) {
                            self.drop_conn(server, now);
                        }
                    }
                }
                Command::Submit { layout, batch, payloads } => self.machine.take(self.directory.layout(layout), batch, payloads),
            }
        }
    }

    fn send_all(&mut self, now: u64) {
        let sends = std::mem::take(&mut self.machine.sends);
        let mut touched: Vec<ServerId> = Vec::new();
        for s in sends {
            if self.servers[s.server].conn.is_none() && !self.connect(s.server, now) {
                // Its request stays in the machine's flights until `lost` below ends it.
                touched.push(s.server);
                continue;
            }
            let c = self.servers[s.server].conn.as_mut().expect("connected");
            if c.outbuf.is_empty() {
                c.outbuf = s.frame;
            } else {
                c.outbuf.extend_from_slice(&s.frame);
            }
            touched.push(s.server);
        }
        touched.sort_unstable();
        touched.dedup();
        for server in touched {
            if self.servers[server].conn.is_none() {
                self.machine.lost(server);
                continue;
            }
            self.flush(server, now);
        }
    }

    /// Opens a non-blocking connection to `server` unless it is resting after a failure.
    fn connect(&mut self, server: ServerId, now: u64) -> bool {
        if now < self.servers[server].rest_until_ns {
            return false;
        }
        match start_connect(self.directory.name(server)) {
            Ok(stream) => {
                let fd = stream.as_raw_fd();
                self.servers[server].conn = Some(Conn { stream, connecting: true, inbuf: Vec::new(), outbuf: Vec::new(), want_write: true });
                if self.ep.add(fd, (libc::EPOLLIN | libc::EPOLLOUT) as u32, server as u64).is_err() {
                    self.servers[server].conn = None;
                    self.rest(server, now);
                    return false;
                }
                true
            }
            Err(_) => {
                self.rest(server, now);
                false
            }
        }
    }

    fn rest(&mut self, server: ServerId, now: u64) {
        self.servers[server].rest_until_ns = now + RECONNECT_AFTER_MS * 1_000_000;
    }

    /// Drops the connection to `server` (if any) and ends what was in flight on it.
    fn drop_conn(&mut self, server: ServerId, now: u64) {
        if let Some(c) = self.servers[server].conn.take() {
            let _ = self.ep.delete(c.stream.as_raw_fd());
            self.rest(server, now);
        }
        self.machine.lost(server);
    }

    fn flush(&mut self, server: ServerId, now: u64) {
        let Some(c) = self.servers[server].conn.as_mut() else { return };
        if c.connecting {
            return;
        }
        let mut written = 0;
        let mut failed = false;
        while written < c.outbuf.len() {
            match c.stream.write(&c.outbuf[written..]) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(k) => written += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            self.drop_conn(server, now);
            return;
        }
        c.outbuf.drain(..written);
        let want = !c.outbuf.is_empty();
        if want != c.want_write {
            c.want_write = want;
            let events = libc::EPOLLIN as u32 | if want { libc::EPOLLOUT as u32 } else { 0 };
            let fd = c.stream.as_raw_fd();
            if self.ep.modify(fd, events, server as u64).is_err() {
                self.drop_conn(server, now);
            }
        }
    }

    fn on_socket(&mut self, server: ServerId, events: u32) {
        let now = self.now_ns();
        let Some(c) = self.servers[server].conn.as_mut() else { return };
        if c.connecting {
            if events & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32 == 0 {
                return;
            }
            if socket_error(c.stream.as_raw_fd()) != 0 {
                self.drop_conn(server, now);
                return;
            }
            c.connecting = false;
            self.flush(server, now);
            return;
        }
        if events & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 && !self.read(server) {
            self.drop_conn(server, now);
            return;
        }
        if events & libc::EPOLLOUT as u32 != 0 {
            self.flush(server, now);
        }
    }

    /// Reads what is there and hands each whole answer to the machine; false when the
    /// connection is to be dropped (closed, failed, or an answer it cannot read).
    fn read(&mut self, server: ServerId) -> bool {
        let c = self.servers[server].conn.as_mut().expect("connected");
        loop {
            match c.stream.read(&mut self.read_buf) {
                Ok(0) => return false,
                Ok(k) => {
                    c.inbuf.extend_from_slice(&self.read_buf[..k]);
                    if k < self.read_buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        let inbuf = std::mem::take(&mut c.inbuf);
        let mut at = 0;
        let mut ok = true;
        loop {
            match whole_frame(&inbuf[at..]) {
                Ok(Some(len)) => {
                    if self.machine.answer(server, &inbuf[at..at + len]).is_err() {
                        ok = false;
                        break;
                    }
                    at += len;
                }
                Ok(None) => break,
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            let mut rest = inbuf;
            rest.drain(..at);
            self.servers[server].conn.as_mut().expect("connected").inbuf = rest;
        }
        ok
    }
}

/// A socket's pending error (SO_ERROR): 0 once a non-blocking connect has succeeded.
fn socket_error(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a live int and its length.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, (&mut err as *mut libc::c_int).cast(), &mut len) };
    if r != 0 {
        return io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
    }
    err
}

/// Starts a non-blocking connect to `name` (`host:port`, resolved here: the projection's
/// servers are addresses or names the host resolves at once).
fn start_connect(name: &str) -> io::Result<TcpStream> {
    let addr =
        name.to_socket_addrs()?.next().ok_or_else(|| io::Error::new(ErrorKind::AddrNotAvailable, format!("{name} resolves to no address")))?;
    let (family, storage, len) = sockaddr(&addr);
    // SAFETY: plain syscalls on a descriptor we own; results checked.
    unsafe {
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let owned = OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        if libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        Ok(TcpStream::from(owned))
    }
}

fn sockaddr(addr: &SocketAddr) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            (libc::AF_INET, storage, std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            (libc::AF_INET6, storage, std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}
