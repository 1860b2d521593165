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

/// The unit tests' clock: it never sleeps. `sleep(d)` records `d` and moves `now()` forward
/// by it; clones share the same time. (The integration tests use the testkit's.)
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct ManualClock {
    inner: Arc<std::sync::Mutex<ManualTime>>,
}

#[cfg(test)]
#[derive(Debug)]
struct ManualTime {
    now: SystemTime,
    sleeps: Vec<Duration>,
}

#[cfg(test)]
impl ManualClock {
    /// A clock at a fixed instant (2027-01-15 08:00:00 UTC), with no sleeps yet.
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(std::sync::Mutex::new(ManualTime {
                now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                sleeps: Vec::new(),
            })),
        }
    }

    fn time(&self) -> std::sync::MutexGuard<'_, ManualTime> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the time forward without recording a sleep.
    pub(crate) fn advance(&self, d: Duration) {
        self.time().now += d;
    }

    /// The sum of the sleeps so far.
    pub(crate) fn slept(&self) -> Duration {
        self.time().sleeps.iter().sum()
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.time().now
    }

    fn sleep(&self, d: Duration) {
        let mut t = self.time();
        t.sleeps.push(d);
        t.now += d;
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
    pub(crate) fn is_aborted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How far an upload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes handed to the connection (the source position of the request under way).
    pub sent: u64,
    /// Bytes the server acknowledged.
    pub acked: u64,
    /// Total bytes; `None` while the length of a stream is unknown.
    pub total: Option<u64>,
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
