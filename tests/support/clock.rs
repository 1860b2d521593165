//! Clocks for the tests: the testkit's manual clock (never sleeps, records each sleep and moves
//! its time on by it) as the SDK's [`Clock`] ([`ManualClock`]), and one that also puts the
//! sleeps in order with the failures a mock server answered, to tell how long the client waited
//! after each one ([`RecordingClock`]).

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use wix_media_upload::Clock;

/// The testkit's [`ManualClock`](wix_media_testkit::clock::ManualClock), handed to an uploader
/// as its [`Clock`]; its `sleeps()` and `slept()` are the testkit clock's.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(wix_media_testkit::clock::ManualClock);

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Deref for ManualClock {
    type Target = wix_media_testkit::clock::ManualClock;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }

    fn sleep(&self, d: Duration) {
        self.0.sleep(d);
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Event {
    /// The clock was asked to sleep.
    Sleep(Duration),
    /// The mock server answered a request with a failure (pushed by the server thread before the
    /// response goes out, so it precedes the client's reaction).
    Failed,
}

/// A manual clock whose sleeps are also logged among the failures marked by
/// [`RecordingClock::failure_marker`].
#[derive(Clone, Default)]
pub struct RecordingClock {
    clock: wix_media_testkit::clock::ManualClock,
    events: Arc<Mutex<Vec<Event>>>,
}

impl RecordingClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every sleep so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.clock.sleeps()
    }

    /// The sum of the sleeps so far.
    pub fn total_slept(&self) -> Duration {
        self.clock.slept()
    }

    /// A mockito body callback that records a failure marker and answers an empty body.
    pub fn failure_marker(&self) -> impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static {
        let events = Arc::clone(&self.events);
        move |_| {
            events.lock().unwrap().push(Event::Failed);
            Vec::new()
        }
    }

    /// How long the client waited after each marked failure (the library sleeps in slices, so
    /// the slices between two failures are summed).
    pub fn waits_after_failures(&self) -> Vec<Duration> {
        let mut waits = Vec::new();
        for ev in self.events.lock().unwrap().iter() {
            match ev {
                Event::Failed => waits.push(Duration::ZERO),
                Event::Sleep(d) => {
                    *waits
                        .last_mut()
                        .expect("the client slept before any failure") += *d
                }
            }
        }
        waits
    }
}

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn sleep(&self, d: Duration) {
        self.events.lock().unwrap().push(Event::Sleep(d));
        self.clock.sleep(d);
    }
}
