//! What the caller controls from outside an upload: time, progress, abort.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The source of time: tests inject one that never really sleeps.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Stops an upload from another thread; clones share the same switch.
///
/// The upload notices within one read of its body (or one slice of a retry wait) and returns
/// [`Error::Aborted`](crate::Error::Aborted); its state is kept so a later call resumes it.
#[derive(Clone, Debug, Default)]
pub struct AbortHandle(Arc<AtomicBool>);

impl AbortHandle {
    /// A handle that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the upload to stop.
    pub fn abort(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`AbortHandle::abort`] was called.
    pub fn is_aborted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How far an upload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes handed to the connection (the source position of the request under way).
    pub sent: u64,
    /// Bytes the server acknowledged.
    pub acked: u64,
    /// Total bytes.
    pub total: u64,
}

// Sleeps in slices so an abort is noticed during long retry waits.
pub(crate) fn sleep_unless_aborted(
    clock: &dyn Clock,
    d: Duration,
    abort: Option<&AbortHandle>,
) -> bool {
    const SLICE: Duration = Duration::from_millis(100);
    let mut left = d;
    loop {
        if abort.is_some_and(AbortHandle::is_aborted) {
            return false;
        }
        if left.is_zero() {
            return true;
        }
        let step = left.min(SLICE);
        clock.sleep(step);
        left -= step;
    }
}
