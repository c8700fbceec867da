//! The sequencer's token counter: one `AtomicU64`, lock-free, shareable across threads.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct TokenCounter {
    next: AtomicU64,
}

impl TokenCounter {
    pub fn new(start: u64) -> Self {
        TokenCounter { next: AtomicU64::new(start) }
    }

    /// The first of `n` consecutive tokens; nobody else ever gets any of them.
    pub fn next(&self, n: u64) -> u64 {
        let first = self.next.fetch_add(n, Ordering::Relaxed);
        assert!(first.checked_add(n).is_some(), "token space exhausted");
        first
    }

    pub fn peek(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn threads_get_disjoint_contiguous_ranges() {
        let c = Arc::new(TokenCounter::new(10));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || (0..20_000).map(|i| (c.next(1 + (i + t) % 5), 1 + (i + t) % 5)).collect::<Vec<_>>())
            })
            .collect();
        let mut ranges: Vec<(u64, u64)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        ranges.sort();
        let mut expect = 10;
        for (first, n) in ranges {
            assert_eq!(first, expect, "no gap, no overlap");
            expect += n;
        }
        assert_eq!(c.peek(), expect);
    }
}
