//! A clock for tests: it never sleeps. `sleep(d)` records `d` and moves `now()` forward by it.
//!
//! It names nothing of the SDK: a test crate wraps it in a type that implements the SDK's
//! `Clock` trait by calling [`ManualClock::now`] and [`ManualClock::sleep`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// A manual clock. Clones share the same time, so a test keeps one and hands another to the
/// code under test:
///
/// ```
/// use std::time::Duration;
/// use wix_media_testkit::clock::ManualClock;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.clone().sleep(Duration::from_secs(3));
/// assert_eq!(clock.now().duration_since(start)?, Duration::from_secs(3));
/// assert_eq!(clock.slept(), Duration::from_secs(3));
/// # Ok::<(), std::time::SystemTimeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualTime>>,
}

#[derive(Debug)]
struct ManualTime {
    now: SystemTime,
    sleeps: Vec<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock at a fixed instant (2027-01-15 08:00:00 UTC), with no sleeps yet.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(ManualTime {
                now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                sleeps: Vec::new(),
            })),
        }
    }

    fn time(&self) -> MutexGuard<'_, ManualTime> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        self.time().now
    }

    /// Records a sleep of `d` and moves the time forward by it, at once.
    pub fn sleep(&self, d: Duration) {
        let mut t = self.time();
        t.sleeps.push(d);
        t.now += d;
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.time().sleeps.clone()
    }

    /// The sum of the sleeps so far.
    pub fn slept(&self) -> Duration {
        self.time().sleeps.iter().sum()
    }
}
