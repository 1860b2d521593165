//! Pacing of Wix REST calls: the [`pace`](super::pace) rules on the client's clock, shared by
//! every thread of a client and, through a file in the state directory, by every client of
//! the site that uses the same directory (in this or other processes).
//!
//! Only REST calls to the API base go through it: the upload host's answers (a 429 there is a
//! reused one-time token, not the rate) never reach it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::pace::file::PaceFile;
use super::pace::{Answer, Pace, Quota, Ticket, Turn};
use crate::control::{AbortHandle, Clock, sleep_unless_aborted};
use crate::error::{Error, Result};

/// A caller held back asks again at least this often (another process may have moved on).
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Limiter {
    /// The pace, or with a file this process's settings and a stand-in if the file fails.
    local: Mutex<Local>,
    file: Option<PaceFile>,
    /// Calls this limiter let through that got an answer or were lost, and how many of
    /// those were refused (429): this process's, never the shared file's.
    sent: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug)]
struct Local {
    pace: Pace,
    /// The last answer that was not a 429.
    last_ok: Option<SystemTime>,
    /// The file failed once: from then on, this process paces alone.
    file_failed: bool,
}

impl Limiter {
    /// Learns the quota, never going above `ceiling` (at most that many calls a minute); shares
    /// it through `file` when there is one.
    pub(crate) fn new(per_minute: Option<u32>, file: Option<PaceFile>) -> Self {
        Self {
            local: Mutex::new(Local {
                pace: Pace::new(per_minute.map(Quota::per_minute)),
                last_ok: None,
                file_failed: false,
            }),
            file,
            sent: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The calls sent through this limiter so far, and how many of them were refused (429).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    fn local(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    // Runs `f` on the pace: the shared one when there is a file, else this process's.
    fn with_pace<T>(&self, f: impl FnOnce(&mut Pace) -> T) -> T {
        let mut local = self.local();
        let Some(file) = self.file.as_ref().filter(|_| !local.file_failed) else {
            return f(&mut local.pace);
        };
        let failed = |e: std::io::Error, local: &mut Local| {
            log::warn!(
                "cannot share the pace through {}: {e}; pacing this process alone",
                file.path().display()
            );
            local.file_failed = true;
        };
        match file.lock(&local.pace) {
            Ok(mut shared) => {
                let out = f(&mut shared.pace);
                if let Err(e) = shared.save() {
                    failed(e, &mut local);
                }
                out
            }
            Err(e) => {
                failed(e, &mut local);
                f(&mut local.pace)
            }
        }
    }

    /// Waits for this call's turn; hand the ticket back with the answer to [`Limiter::observe`].
    pub(crate) fn acquire(&self, clock: &dyn Clock, abort: Option<&AbortHandle>) -> Result<Ticket> {
        loop {
            // The time is read once the pace is ours: a call's send time is when it may go,
            // not when it began to wait for the lock (threads and processes queue there).
            let (turn, now) = self.with_pace(|p| {
                let now = clock.now();
                (p.turn(now), now)
            });
            let until = match turn {
                Turn::Go(ticket) => return Ok(ticket),
                Turn::Wait(until) => until,
            };
            let wait = until.duration_since(now).unwrap_or_default().min(RECHECK);
            if !sleep_unless_aborted(clock, wait.max(Duration::from_millis(1)), abort) {
                return Err(Error::Aborted);
            }
        }
    }

    /// Learns from the answer to a call: its status, and the server's `Retry-After` (as a time)
    /// on a 429.
    pub(crate) fn observe(&self, ticket: Ticket, answer: Answer, now: SystemTime) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if matches!(answer, Answer::Refused(_)) {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        if answer == Answer::Counted {
            self.local().last_ok = Some(now);
        }
        self.with_pace(|p| p.answered(ticket, answer, now));
    }

    /// When a REST call last got an answer other than 429.
    pub(crate) fn last_ok(&self) -> Option<SystemTime> {
        self.local().last_ok
    }

    /// The quota in force (learned or given).
    #[cfg(test)]
    pub(crate) fn quota(&self) -> Option<Quota> {
        self.with_pace(|p| p.quota())
    }
}

/// How an answer of `status` counts, with its `Retry-After` as a time.
pub(crate) fn answer_for(status: u16, retry_after: Option<SystemTime>) -> Answer {
    if status == 429 {
        Answer::Refused(retry_after)
    } else {
        Answer::Counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ManualClock;

    #[test]
    fn a_fixed_rate_lets_a_burst_go_then_waits_on_the_clock() {
        let clock = ManualClock::new();
        let l = Limiter::new(Some(60), None);
        for _ in 0..60 {
            let t = l.acquire(&clock, None).unwrap();
            l.observe(t, Answer::Counted, clock.now());
        }
        assert_eq!(clock.slept(), Duration::ZERO);
        l.acquire(&clock, None).unwrap();
        // The first call leaves the minute (and a margin for the network's delays).
        assert_eq!(clock.slept(), Duration::from_millis(61_205));
        assert_eq!(l.quota(), Some(Quota::per_minute(60)));
        assert!(l.last_ok().is_some());
    }

    /// A clock that notes, at each reading, whether the limiter's pace was held then.
    struct Witness<'a> {
        limiter: &'a Limiter,
        clock: ManualClock,
        held: Mutex<Vec<bool>>,
    }

    impl Clock for Witness<'_> {
        fn now(&self) -> SystemTime {
            let held = self.limiter.local.try_lock().is_err();
            self.held.lock().unwrap().push(held);
            self.clock.now()
        }

        fn sleep(&self, d: Duration) {
            self.clock.sleep(d);
        }
    }

    #[test]
    fn a_calls_send_time_is_read_once_the_pace_is_held() {
        // Read before, it would count the time spent queueing for the pace (other threads,
        // other processes' turns on the file) as if the call had been sent then: the server
        // would see the calls later, and closer together, than the pace thinks.
        let l = Limiter::new(Some(60), None);
        let witness = Witness {
            limiter: &l,
            clock: ManualClock::new(),
            held: Mutex::new(Vec::new()),
        };
        l.acquire(&witness, None).unwrap();
        assert_eq!(*witness.held.lock().unwrap(), [true]);
    }

    #[test]
    fn calls_and_refusals_are_counted() {
        let clock = ManualClock::new();
        let l = Limiter::new(None, None);
        for answer in [Answer::Counted, Answer::Refused(None), Answer::Lost] {
            let t = l.acquire(&clock, None).unwrap();
            l.observe(t, answer, clock.now());
        }
        assert_eq!(l.counts(), (3, 1));
    }

    #[test]
    fn waiting_stops_on_abort() {
        let clock = ManualClock::new();
        let l = Limiter::new(Some(1), None);
        l.acquire(&clock, None).unwrap();
        let abort = AbortHandle::new();
        abort.abort();
        assert!(matches!(
            l.acquire(&clock, Some(&abort)),
            Err(Error::Aborted)
        ));
    }

    #[test]
    fn only_429_is_a_refusal() {
        let at = SystemTime::UNIX_EPOCH;
        assert_eq!(answer_for(429, Some(at)), Answer::Refused(Some(at)));
        for status in [200, 400, 404, 500, 503] {
            assert_eq!(answer_for(status, None), Answer::Counted);
        }
    }

    #[test]
    fn a_pace_file_that_fails_leaves_the_process_pacing_alone() {
        // A directory where the file should be: it can't be opened as a file.
        let dir = std::env::temp_dir().join(format!("wmu-limiter-{}", std::process::id()));
        let file = PaceFile::new(&dir, "site").unwrap();
        std::fs::create_dir_all(file.path()).unwrap();
        let clock = ManualClock::new();
        let l = Limiter::new(Some(2), Some(file));
        for _ in 0..3 {
            let t = l.acquire(&clock, None).unwrap();
            l.observe(t, Answer::Counted, clock.now());
        }
        assert_eq!(clock.slept(), Duration::from_millis(61_205));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
