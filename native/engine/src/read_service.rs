//! Reads off the writer's thread. A read needs only the durable index, epoch and trim
//! mark (`Shared`), so it need not wait for a round of writes and syncs. The service
//! keeps a rolling window of reads in flight on its own io_uring (same file, separate
//! ring) and answers each request as soon as its last read completes: the device queue
//! never drains between requests, as it would in round-at-a-time processing.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use io_uring::{opcode, types, IoUring};

use crate::epoll::EventFd;
use crate::error::{EngineError, Result};
use crate::reader::RecordReads;
use crate::shared::{ReadPlan, Shared};
use crate::store::ReadOutcome;

/// Reads in flight at most (the ring's size).
pub const READ_RING_ENTRIES: u32 = 128;

pub struct ReadRequest {
    pub id: u32,
    pub epoch: u64,
    pub addresses: Vec<u64>,
}

struct Active {
    request: ReadRequest,
    plan: ReadPlan,
    reads: RecordReads,
    remaining: usize,
    failed: Option<io::Error>,
}

/// One device read still to do (or to redo, after a short completion).
struct Op {
    request: u32,
    offset: u64,
    ptr: *mut u8,
    len: usize,
}

/// Wakes the service when a request is queued: an eventfd whose read is always armed
/// in the service's ring, so intake does not wait for some read to complete.
/// Only an idle service is woken: under load it takes new requests at every
/// completion anyway, and a wake per request costs a syscall and a context switch.
#[derive(Clone)]
pub struct Waker {
    fd: Arc<EventFd>,
    idle: Arc<AtomicBool>,
}

impl Waker {
    /// The service sleeps with nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.idle.load(Ordering::SeqCst)
    }

    /// Call after queueing a request (or closing the queue).
    pub fn wake(&self) {
        // Pairs with the service's "set idle, then look at the queue again" (SeqCst on
        // both sides): either it sees our request, or we see it idle.
        if self.idle.swap(false, Ordering::SeqCst) {
            self.fd.signal();
        }
    }
}

/// What the request source says when asked for more.
pub enum Next {
    Request(ReadRequest),
    Empty,
    /// No more requests will come: finish what is in flight and stop.
    Closed,
}

impl Next {
    /// The usual source: a std channel of requests.
    pub fn from_channel(rx: &Receiver<ReadRequest>) -> Next {
        match rx.try_recv() {
            Ok(r) => Next::Request(r),
            Err(TryRecvError::Empty) => Next::Empty,
            Err(TryRecvError::Disconnected) => Next::Closed,
        }
    }
}

/// One read request served on the caller's thread with plain positioned reads, for a
/// caller whose read would otherwise cross to the service's thread and back while the
/// service has nothing else to do (a unit's front at low load: two wake-ups of sleeping
/// threads, which on a VM cost more than the read). The same checks and the same outcome
/// as the service's: the epoch, then the plan, then the device, then the answer.
pub fn read_now(shared: &Shared, file: &File, epoch: u64, addresses: &[u64]) -> Result<ReadOutcome> {
    check_epoch(shared, epoch)?;
    let mut reads = RecordReads::default();
    let plan = shared.plan_read(shared.trim_mark(), addresses, &mut reads);
    for op in reads.ops() {
        // read_exact_at goes on after a short read and retries an interrupted one, as the
        // service does; a read past the end is UnexpectedEof, as there.
        file.read_exact_at(op.buf, op.offset).map_err(|e| EngineError::io("read failed", e))?;
    }
    Ok(shared.finish_read(plan, addresses, &reads))
}

/// A read is served only at the unit's epoch: ERR_SEALED with the unit's otherwise.
fn check_epoch(shared: &Shared, epoch: u64) -> Result<()> {
    let current = shared.epoch();
    if epoch == current {
        Ok(())
    } else {
        Err(EngineError::Sealed { unit_epoch: current, request_epoch: epoch })
    }
}

const WAKE_UD: u64 = u64::MAX;
const CANCEL_UD: u64 = u64::MAX - 1;

pub struct ReadService {
    shared: Arc<Shared>,
    file: File,
    ring: IoUring,
    wake_fd: Arc<EventFd>,
    wake_buf: Box<u64>,
    idle: Arc<AtomicBool>,
}

// SAFETY: the raw pointers in `Op` point into buffers owned by `Active` entries that
// live in the same service; nothing is shared across threads.
unsafe impl Send for ReadService {}

impl ReadService {
    pub fn new(shared: Arc<Shared>, file: File) -> io::Result<Self> {
        let wake_fd = Arc::new(EventFd::new()?);
        Ok(ReadService {
            shared,
            file,
            ring: IoUring::new(READ_RING_ENTRIES + 2)?,
            wake_fd,
            wake_buf: Box::new(0),
            idle: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn waker(&self) -> Waker {
        Waker { fd: self.wake_fd.clone(), idle: self.idle.clone() }
    }

    /// Serves requests from `next` until it says `Closed` and nothing is in flight.
    /// Whoever queues a request calls `Waker::wake`. `reply` gets every answer that
    /// completed together, in one call.
    pub fn run(&mut self, mut next: impl FnMut() -> Next, mut reply: impl FnMut(Vec<(u32, Result<ReadOutcome>)>)) {
        let fd = types::Fd(self.file.as_raw_fd());
        let mut active: HashMap<u32, Active> = HashMap::new();
        // FIFO: under a full ring, older requests' reads go first (no starvation).
        let mut queue: VecDeque<Op> = VecDeque::new();
        let mut ops: Vec<Option<Op>> = Vec::new();
        let mut free_slots: Vec<usize> = Vec::new();
        let mut in_flight = 0usize;
        let mut open = true;
        let mut wake_armed = false;
        loop {
            let mut done: Vec<(u32, Result<ReadOutcome>)> = Vec::new();
            // Take every queued request the window has room for.
            while open && queue.len() + in_flight < READ_RING_ENTRIES as usize {
                match next() {
                    Next::Request(req) => self.start(req, &mut active, &mut queue, &mut done),
                    Next::Empty => break,
                    Next::Closed => open = false,
                }
            }
            if !done.is_empty() {
                reply(std::mem::take(&mut done));
            }
            if !open && active.is_empty() {
                self.disarm(wake_armed);
                return;
            }
            if !wake_armed {
                let entry = opcode::Read::new(types::Fd(self.wake_fd.as_raw_fd()), (&mut *self.wake_buf as *mut u64).cast(), 8)
                    .build()
                    .user_data(WAKE_UD);
                // SAFETY: wake_buf lives in the service and outlives the read (disarm).
                unsafe { self.ring.submission().push(&entry) }.expect("the ring has room for the wake read");
                wake_armed = true;
            }
            // About to sleep with nothing to wait for but new requests: say so, then look
            // once more (a request queued before the flag was seen would otherwise wait).
            if in_flight == 0 && queue.is_empty() && open {
                self.idle.store(true, Ordering::SeqCst);
                match next() {
                    Next::Request(req) => {
                        self.idle.store(false, Ordering::SeqCst);
                        self.start(req, &mut active, &mut queue, &mut done);
                        if !done.is_empty() {
                            reply(std::mem::take(&mut done));
                        }
                        continue;
                    }
                    Next::Closed => {
                        self.idle.store(false, Ordering::SeqCst);
                        open = false;
                        continue;
                    }
                    Next::Empty => {}
                }
            }
            // Submit what fits.
            {
                let mut sq = self.ring.submission();
                while in_flight < READ_RING_ENTRIES as usize {
                    let Some(op) = queue.pop_front() else { break };
                    let slot = free_slots.pop().unwrap_or_else(|| {
                        ops.push(None);
                        ops.len() - 1
                    });
                    let entry = opcode::Read::new(fd, op.ptr, op.len as u32).offset(op.offset).build().user_data(slot as u64);
                    ops[slot] = Some(op);
                    // SAFETY: the buffer belongs to an Active entry that stays until its
                    // last read completes.
                    unsafe { sq.push(&entry) }.expect("in_flight bounds the ring");
                    in_flight += 1;
                }
            }
            {
                if let Err(e) = self.ring.submit_and_wait(1) {
                    if e.raw_os_error() != Some(libc::EINTR) {
                        panic!("io_uring wait failed: {e}");
                    }
                }
                let completed: Vec<(u64, i32)> = self.ring.completion().map(|c| (c.user_data(), c.result())).collect();
                for (user_data, res) in completed {
                    if user_data == WAKE_UD {
                        wake_armed = false;
                        continue;
                    }
                    in_flight -= 1;
                    let slot = user_data as usize;
                    let mut op = ops[slot].take().expect("a completion has its op");
                    free_slots.push(slot);
                    let a = active.get_mut(&op.request).expect("an op has its request");
                    if res == -libc::EINTR || res == -libc::EAGAIN {
                        queue.push_front(op);
                        continue;
                    }
                    if res <= 0 {
                        a.failed.get_or_insert(if res < 0 { io::Error::from_raw_os_error(-res) } else { io::ErrorKind::UnexpectedEof.into() });
                    } else if (res as usize) < op.len {
                        op.offset += res as u64;
                        // SAFETY: stays inside the same buffer.
                        op.ptr = unsafe { op.ptr.add(res as usize) };
                        op.len -= res as usize;
                        queue.push_front(op);
                        continue;
                    }
                    a.remaining -= 1;
                    if a.remaining == 0 {
                        let a = active.remove(&op.request).expect("still active");
                        done.push((a.request.id, self.finish(a)));
                    }
                }
            }
            if !done.is_empty() {
                reply(done);
            }
        }
    }

    /// Cancels the armed wake read and waits for it, so the kernel never writes into
    /// `wake_buf` after the service is gone.
    fn disarm(&mut self, armed: bool) {
        if !armed {
            return;
        }
        let cancel = opcode::AsyncCancel::new(WAKE_UD).build().user_data(CANCEL_UD);
        // SAFETY: no buffers.
        unsafe { self.ring.submission().push(&cancel) }.expect("room for the cancel");
        let mut wake_done = false;
        let mut cancel_done = false;
        while !(wake_done && cancel_done) {
            if self.ring.submit_and_wait(1).is_err() {
                continue;
            }
            for c in self.ring.completion() {
                match c.user_data() {
                    WAKE_UD => wake_done = true,
                    CANCEL_UD => cancel_done = true,
                    _ => unreachable!("nothing else is in flight"),
                }
            }
        }
    }

    fn start(
        &self,
        request: ReadRequest,
        active: &mut HashMap<u32, Active>,
        queue: &mut VecDeque<Op>,
        done: &mut Vec<(u32, Result<ReadOutcome>)>,
    ) {
        if let Err(sealed) = check_epoch(&self.shared, request.epoch) {
            done.push((request.id, Err(sealed)));
            return;
        }
        let mut reads = RecordReads::default();
        let plan = self.shared.plan_read(self.shared.trim_mark(), &request.addresses, &mut reads);
        let ops: Vec<(u64, *mut u8, usize)> = reads.ops().into_iter().map(|o| (o.offset, o.buf.as_mut_ptr(), o.buf.len())).collect();
        if ops.is_empty() {
            let outcome = self.shared.finish_read(plan, &request.addresses, &reads);
            done.push((request.id, Ok(outcome)));
            return;
        }
        assert!(!active.contains_key(&request.id), "request ids are unique while in flight");
        let id = request.id;
        for &(offset, ptr, len) in &ops {
            queue.push_back(Op { request: id, offset, ptr, len });
        }
        active.insert(id, Active { remaining: ops.len(), request, plan, reads, failed: None });
    }

    fn finish(&self, a: Active) -> Result<ReadOutcome> {
        if let Some(e) = a.failed {
            return Err(EngineError::io("read failed", e));
        }
        Ok(self.shared.finish_read(a.plan, &a.request.addresses, &a.reads))
    }
}
