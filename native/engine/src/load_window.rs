//! What the bench's native load generators share (token_load: TOKEN at the sequencer;
//! read_load: reads at the engine's read service): a thread that runs until `close`, a
//! measurement window opened and closed by the caller, and latencies recorded as whole
//! microseconds per second of the window (what the TypeScript side's histograms record
//! anyway). Bench tooling, not storage.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// Latencies up to this many microseconds are counted in a dense array per second; longer
/// ones in a map.
const DENSE_US: usize = 100_000;
const NOT_SET: u64 = u64::MAX;

/// The window and the generator's state, shared by its thread and its owner.
pub struct Window {
    measured: AtomicU64,
    stop: AtomicBool,
    /// Nanoseconds since `base` (NOT_SET until set).
    start: AtomicU64,
    end: AtomicU64,
    base: Instant,
    failure: Mutex<Option<String>>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            measured: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            start: AtomicU64::new(NOT_SET),
            end: AtomicU64::new(NOT_SET),
            base: Instant::now(),
            failure: Mutex::new(None),
        }
    }
}

impl Window {
    /// Nanoseconds since the generator started: the clock of `Recorder::record`.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Operations counted so far (inside the window).
    pub fn measured(&self) -> u64 {
        self.measured.load(Ordering::Relaxed)
    }

    pub fn failure(&self) -> Option<String> {
        self.failure.lock().expect("failure lock").clone()
    }

    pub fn fail(&self, why: String) {
        *self.failure.lock().expect("failure lock") = Some(why);
    }

    /// From now on, operations started are counted when they end.
    pub fn open(&self) {
        self.start.store(self.now_ns(), Ordering::SeqCst);
    }

    /// Ends the window and asks the generator to stop.
    pub fn close(&self) {
        self.end.store(self.now_ns(), Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Per second of the window: (latency in whole µs, how many), ascending.
pub type Seconds = Vec<Vec<(u32, u32)>>;

#[derive(Default)]
pub struct Recorder {
    seconds: Vec<(Vec<u32>, BTreeMap<u32, u32>)>,
    pub ops: u64,
}

impl Recorder {
    /// An operation that started at `t0` and ended at `t1` (Window::now_ns), counted if
    /// both fall inside the window.
    pub fn record(&mut self, w: &Window, t0: u64, t1: u64) {
        let start = w.start.load(Ordering::Relaxed);
        let end = w.end.load(Ordering::Relaxed);
        if start == NOT_SET || t0 < start || t1 > end {
            return;
        }
        let second = ((t1 - start) / 1_000_000_000) as usize;
        while self.seconds.len() <= second {
            self.seconds.push((vec![0; DENSE_US + 1], BTreeMap::new()));
        }
        let us = ((t1 - t0 + 500) / 1_000).max(1);
        let (dense, sparse) = &mut self.seconds[second];
        if (us as usize) <= DENSE_US {
            dense[us as usize] += 1;
        } else {
            *sparse.entry(us.min(u32::MAX as u64) as u32).or_insert(0) += 1;
        }
        self.ops += 1;
        w.measured.fetch_add(1, Ordering::Relaxed);
    }

    pub fn seconds(self) -> Seconds {
        self.seconds
            .into_iter()
            .map(|(dense, sparse)| {
                let mut v: Vec<(u32, u32)> = dense.iter().enumerate().filter(|(_, &c)| c > 0).map(|(us, &c)| (us as u32, c)).collect();
                v.extend(sparse);
                v
            })
            .collect()
    }
}

/// What a load's thread returns: a result with room for the failure that ended it.
pub trait LoadResult: Default + Send + 'static {
    fn failed(why: String) -> Self;
}

/// A running load: its thread, and the window it counts in, opened and closed by the
/// caller. Dropping it closes it (a load's thread may hold a store or sockets).
pub struct LoadThread<R: LoadResult> {
    window: Arc<Window>,
    thread: Option<JoinHandle<R>>,
}

impl<R: LoadResult> LoadThread<R> {
    /// Runs `body` on a thread named `name` until the window is closed.
    pub fn spawn(name: &str, body: impl FnOnce(&Window) -> R + Send + 'static) -> io::Result<LoadThread<R>> {
        let window = Arc::new(Window::default());
        let w = window.clone();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || body(&w))?;
        Ok(LoadThread { window, thread: Some(thread) })
    }

    /// Operations counted so far (inside the window).
    pub fn measured(&self) -> u64 {
        self.window.measured()
    }

    /// The first failure, once there is one.
    pub fn failure(&self) -> Option<String> {
        self.window.failure()
    }

    /// From now on, operations started are counted when they end.
    pub fn open(&self) {
        self.window.open();
    }

    /// Ends the window and the load (what it has in flight ends first); returns what was counted.
    pub fn close(&mut self) -> R {
        self.window.close();
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| R::failed("the load thread panicked".into())),
            None => R::failed("the load was closed already".into()),
        }
    }
}

impl<R: LoadResult> Drop for LoadThread<R> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.close();
        }
    }
}
