//! The sequencer's epoch and token counter as one lock: what the native front checks a
//! TOKEN's epoch against and takes its tokens from, and what the TypeScript state machine
//! (src/sequencer/state.ts, through its TokenSource) takes STREAM_TOKEN's tokens from and
//! moves on SEAL and BOOTSTRAP.
//!
//! Why one lock and not the lock-free counter: a TOKEN answered by the front must be of
//! the epoch in force when its tokens are taken. The TypeScript side closes the gate
//! (`close_epoch`) before it handles a SEAL or BOOTSTRAP and opens it at the new epoch
//! after, so no TOKEN of the old epoch is answered from a counter the new epoch moved.
//! The lock is taken once per run of TOKEN frames (one read's worth), uncontended but
//! for those moments.

use std::sync::Mutex;

/// The largest token + 1 that may be handed out: JavaScript numbers are exact below 2^53.
pub const TOKEN_SPACE_END: u64 = (1 << 53) - 1;

#[derive(Debug)]
struct State {
    /// The epoch TOKENs must carry to be answered here; None while the state machine
    /// handles an epoch change (every TOKEN then goes to it).
    epoch: Option<u64>,
    next: u64,
}

#[derive(Debug)]
pub struct Gate {
    state: Mutex<State>,
}

impl Gate {
    pub fn new(epoch: u64, next: u64) -> Self {
        assert!(next <= TOKEN_SPACE_END, "start tail {next} past the token space");
        Gate { state: Mutex::new(State { epoch: Some(epoch), next }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("gate lock poisoned")
    }

    /// Takes the tokens of the counts in order, while the epoch is `epoch` and while they
    /// fit in the token space, and puts the first of each into `firsts` (cleared first).
    /// The frames after the first that does not fit are left to the state machine (it
    /// answers ERR_FULL, as taking frame by frame would). Returns false, taking nothing,
    /// when the epoch is not the one in force or the gate is closed.
    pub fn take_run(&self, epoch: u64, counts: &[u32], firsts: &mut Vec<u64>) -> bool {
        firsts.clear();
        let mut s = self.lock();
        if s.epoch != Some(epoch) {
            return false;
        }
        for &n in counts {
            assert!(n >= 1, "a TOKEN of 0 reached the gate");
            let end = s.next + u64::from(n);
            if end > TOKEN_SPACE_END {
                break;
            }
            firsts.push(s.next);
            s.next = end;
        }
        true
    }

    /// The first of `n` tokens for the state machine (it checked the epoch and the space).
    pub fn next(&self, n: u64) -> u64 {
        let mut s = self.lock();
        let first = s.next;
        s.next = first.checked_add(n).filter(|&e| e <= TOKEN_SPACE_END).expect("the state machine took tokens past the token space");
        first
    }

    pub fn peek(&self) -> u64 {
        self.lock().next
    }

    /// Makes `start` the next token. The state machine only ever moves it up; asserted.
    pub fn reset(&self, start: u64) {
        let mut s = self.lock();
        assert!(start >= s.next && start <= TOKEN_SPACE_END, "token counter moved from {} to {start}", s.next);
        s.next = start;
    }

    /// No TOKEN is answered by the front until `open_epoch`.
    pub fn close_epoch(&self) {
        self.lock().epoch = None;
    }

    pub fn open_epoch(&self, epoch: u64) {
        self.lock().epoch = Some(epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The firsts of a run, or None when the gate refused it.
    fn take(g: &Gate, epoch: u64, counts: &[u32]) -> Option<Vec<u64>> {
        let mut firsts = vec![99];
        g.take_run(epoch, counts, &mut firsts).then_some(firsts)
    }

    #[test]
    fn a_run_takes_consecutive_ranges_in_order() {
        let g = Gate::new(3, 10);
        assert_eq!(take(&g, 3, &[1, 5, 2]), Some(vec![10, 11, 16]));
        assert_eq!(g.peek(), 18);
        assert_eq!(g.next(4), 18);
        assert_eq!(take(&g, 3, &[1]), Some(vec![22]));
    }

    #[test]
    fn a_wrong_or_closed_epoch_takes_nothing() {
        let g = Gate::new(3, 0);
        assert_eq!(take(&g, 2, &[1]), None);
        g.close_epoch();
        assert_eq!(take(&g, 3, &[1]), None);
        g.reset(100);
        g.open_epoch(4);
        assert_eq!(take(&g, 3, &[1]), None);
        assert_eq!(take(&g, 4, &[1]), Some(vec![100]));
        assert_eq!(g.peek(), 101);
    }

    #[test]
    fn a_run_stops_at_the_end_of_the_token_space() {
        let g = Gate::new(0, TOKEN_SPACE_END - 3);
        assert_eq!(take(&g, 0, &[2, 2, 1]), Some(vec![TOKEN_SPACE_END - 3]));
        assert_eq!(g.peek(), TOKEN_SPACE_END - 1);
    }

    #[test]
    #[should_panic(expected = "moved from")]
    fn the_counter_never_moves_down() {
        let g = Gate::new(0, 50);
        g.reset(49);
    }
}
