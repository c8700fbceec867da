//! The sequencer on a native front (crate::front): TOKEN is answered in Rust (scan.rs),
//! every other frame goes, whole, to the TypeScript state machine (src/sequencer/
//! front.ts drives it), and the connection owes at most one answer, so requests are
//! answered in arrival order as the state machine's server answers them.
//!
//! Why: the TypeScript server spent 3.4 µs of CPU per request at 16 connections x 8
//! pipelined where Redis spends 2.1 for INCR with the same syscalls; libuv's and V8's
//! share of that is the difference (docs/architecture.md, "The native fronts"). Here a
//! TOKEN costs a scan of 24 bytes and 29 bytes of answer.
//!
//! The epoch and the counter are the gate's (gate.rs), shared with the state machine.
//! While the JS side has parked WAIT_TAILs, TOKENs answered here send it `Event::Signal`
//! ("the tail moved"), once until it says it has looked (`tail_seen`).

pub mod gate;
pub mod scan;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::front::{EventSink, Front, FrontOptions, Service, Take};
use gate::Gate;
use scan::{scan, Scratch};

#[derive(Default)]
struct Counters {
    waiters: AtomicBool,
    tail_pending: AtomicBool,
    answered: AtomicU64,
    tokens: AtomicU64,
}

struct Tokens {
    gate: Arc<Gate>,
    counters: Arc<Counters>,
    max_tokens_per_request: u32,
    scratch: Scratch,
}

impl Service for Tokens {
    fn take(&mut self, _conn: u32, input: &[u8], _room: u32, out: &mut Vec<u8>) -> Take {
        let s = scan(input, &self.gate, self.max_tokens_per_request, out, &mut self.scratch);
        let mut signal = false;
        if s.answered > 0 {
            let c = &self.counters;
            c.answered.fetch_add(s.answered as u64, Ordering::Relaxed);
            c.tokens.fetch_add(self.scratch.counts[..s.answered].iter().map(|&n| u64::from(n)).sum(), Ordering::Relaxed);
            signal = c.waiters.load(Ordering::SeqCst) && !c.tail_pending.swap(true, Ordering::SeqCst);
        }
        Take { consumed: s.consumed, answered: s.answered > 0, dispatched: 0, signal, next: s.next }
    }
}

/// A running sequencer front.
pub struct SeqFront {
    pub front: Front,
    counters: Arc<Counters>,
}

impl SeqFront {
    /// Binds and starts serving (`o.max_owed` is set to 1: answers in arrival order).
    pub fn start(mut o: FrontOptions, gate: Arc<Gate>, max_tokens_per_request: u32, events: EventSink) -> io::Result<SeqFront> {
        assert!(max_tokens_per_request >= 1);
        o.max_owed = 1;
        let counters = Arc::new(Counters::default());
        let service = Tokens { gate, counters: counters.clone(), max_tokens_per_request, scratch: Scratch::default() };
        Ok(SeqFront { front: Front::start(o, Box::new(service), events)?, counters })
    }

    /// Whether the JS side has parked WAIT_TAILs (it then hears `Event::Signal`).
    pub fn set_waiters(&self, any: bool) {
        self.counters.waiters.store(any, Ordering::SeqCst);
    }

    /// The JS side has seen a signal and reads the tail after this: the next TOKENs
    /// answered send another.
    pub fn tail_seen(&self) {
        self.counters.tail_pending.store(false, Ordering::SeqCst);
    }

    /// TOKEN requests answered here so far.
    pub fn answered(&self) -> u64 {
        self.counters.answered.load(Ordering::Relaxed)
    }

    /// Tokens those requests handed out.
    pub fn tokens(&self) -> u64 {
        self.counters.tokens.load(Ordering::Relaxed)
    }
}
