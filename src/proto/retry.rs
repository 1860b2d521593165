//! When to try a failed request again.

use std::time::Duration;

/// The delays between attempts: one retry per entry.
///
/// The default is Wix's documented example, `[0, 3000, 5000, 10000, 20000]` ms. Calls paced
/// by a rate limiter (the Wix client's REST calls) are not counted on a 429: they wait for
/// their turn as long as calls keep succeeding, and give up only after
/// [`RetryPolicy::max_throttled_wait`] without any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
    max_retry_after: Duration,
    max_throttled_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::from_millis(&[0, 3000, 5000, 10000, 20000])
    }
}

impl RetryPolicy {
    /// Retries after each of `delays`, in order.
    pub(crate) fn new(delays: Vec<Duration>) -> Self {
        Self {
            delays,
            max_retry_after: Duration::from_secs(300),
            max_throttled_wait: DEFAULT_THROTTLED_WAIT,
        }
    }

    /// Retries after each of `delays` milliseconds.
    pub fn from_millis(delays: &[u64]) -> Self {
        Self::new(delays.iter().map(|ms| Duration::from_millis(*ms)).collect())
    }

    /// Never retries (a 429 to a paced call included).
    pub fn none() -> Self {
        Self::new(Vec::new()).max_throttled_wait(Duration::ZERO)
    }

    /// Caps how long a server's `Retry-After` may make us wait (default 300 s).
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// How long a paced call refused with 429 keeps waiting for its turn while no paced call
    /// succeeds (default 5 minutes); then it fails with the 429.
    pub fn max_throttled_wait(mut self, wait: Duration) -> Self {
        self.max_throttled_wait = wait;
        self
    }

    /// The delays.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// See [`RetryPolicy::max_throttled_wait`].
    pub fn throttled_wait(&self) -> Duration {
        self.max_throttled_wait
    }
}

/// How long paced calls wait out 429 answers without any success, by default.
const DEFAULT_THROTTLED_WAIT: Duration = Duration::from_secs(300);

/// Whether an HTTP status may go away if the same request is sent again later: 423 (locked),
/// 429 (too many requests) and every 5xx. The one place this rule lives.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 423 | 429 | 500..=599)
}

/// What the retry loop needs to know of a failure.
pub trait Retryable {
    /// Whether trying again may help.
    fn is_retryable(&self) -> bool;
    /// How long the server asked us to wait (`Retry-After`), if it did.
    fn retry_after(&self) -> Option<Duration>;
}

/// Counts the failures of one operation since it last made progress.
#[derive(Clone, Debug, Default)]
pub struct RetryState {
    failures: usize,
}

impl RetryState {
    /// A fresh count.
    pub fn new() -> Self {
        Self::default()
    }

    /// The operation made progress (say, the server's offset advanced): the count restarts.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Records a failure; `Some(delay)` means wait that long and try again, `None` give up.
    /// The delay is the policy's next one, or the server's `Retry-After` when longer (capped).
    pub fn on_failure(&mut self, policy: &RetryPolicy, err: &impl Retryable) -> Option<Duration> {
        if !err.is_retryable() {
            return None;
        }
        let delay = *policy.delays.get(self.failures)?;
        self.failures += 1;
        let asked = err
            .retry_after()
            .unwrap_or_default()
            .min(policy.max_retry_after);
        Some(delay.max(asked))
    }

    /// Attempts made since the last progress: failures plus the one under way.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.failures + 1).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Error;

    fn status(code: u16, retry_after: Option<u64>) -> Error {
        Error::Status {
            status: code,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn follows_the_delays_then_gives_up() {
        let p = RetryPolicy::from_millis(&[0, 10, 20]);
        let mut s = RetryState::new();
        let e = status(503, None);
        let got: Vec<_> = (0..4).map(|_| s.on_failure(&p, &e)).collect();
        let ms = |v| Some(Duration::from_millis(v));
        assert_eq!(got, vec![ms(0), ms(10), ms(20), None]);
        assert_eq!(s.attempts(), 4);
    }

    #[test]
    fn progress_resets_the_count() {
        let p = RetryPolicy::from_millis(&[5]);
        let mut s = RetryState::new();
        let e = status(500, None);
        assert!(s.on_failure(&p, &e).is_some());
        assert!(s.on_failure(&p, &e).is_none());
        s.reset();
        assert_eq!(s.attempts(), 1);
        assert!(s.on_failure(&p, &e).is_some());
        assert!(s.on_failure(&p, &e).is_none());
    }

    #[test]
    fn only_retryable_errors_are_retried() {
        let p = RetryPolicy::default();
        for code in [400, 401, 403, 404, 409, 410, 413, 415, 460] {
            assert_eq!(
                RetryState::new().on_failure(&p, &status(code, None)),
                None,
                "{code}"
            );
        }
        for code in [423, 429, 500, 502, 503, 504] {
            assert!(
                RetryState::new()
                    .on_failure(&p, &status(code, None))
                    .is_some(),
                "{code}"
            );
        }
        let mismatch = Error::OffsetMismatch {
            expected: 1,
            actual: Some(0),
        };
        assert!(RetryState::new().on_failure(&p, &mismatch).is_some());
        let checksum = Error::ChecksumMismatch {
            offset: 0,
            status: 460,
        };
        assert!(RetryState::new().on_failure(&p, &checksum).is_some());
        let gone = Error::Gone { status: 404 };
        assert!(RetryState::new().on_failure(&p, &gone).is_none());
        let broken = Error::Violation(crate::proto::Violation::MissingOffset);
        assert!(RetryState::new().on_failure(&p, &broken).is_none());
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let p = RetryPolicy::from_millis(&[1000, 1000]).max_retry_after(Duration::from_secs(60));
        let mut s = RetryState::new();
        assert_eq!(
            s.on_failure(&p, &status(429, Some(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            s.on_failure(&p, &status(429, Some(3600))),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn no_policy_never_retries() {
        assert_eq!(
            RetryState::new().on_failure(&RetryPolicy::none(), &status(503, None)),
            None
        );
        assert_eq!(RetryPolicy::none().throttled_wait(), Duration::ZERO);
    }

    #[test]
    fn paced_calls_wait_out_429_for_five_minutes_unless_told() {
        assert_eq!(
            RetryPolicy::default().throttled_wait(),
            Duration::from_secs(300)
        );
        let p = RetryPolicy::from_millis(&[1]).max_throttled_wait(Duration::from_secs(9));
        assert_eq!(p.throttled_wait(), Duration::from_secs(9));
        assert_eq!(p.delays(), [Duration::from_millis(1)]);
    }
}
