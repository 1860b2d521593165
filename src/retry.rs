//! The retry settings: the delays between attempts (the rule that applies them is
//! `wix_media_tus::RetryState`), how long a `Retry-After` may hold, and how long paced calls
//! wait out 429 answers.

use std::time::Duration;

/// The delays between attempts: one retry per entry.
///
/// The default is Wix's documented example, `[0, 3000, 5000, 10000, 20000]` ms. Calls paced
/// by a rate limiter (the Wix client's REST calls) are not counted on a 429: they wait for
/// their turn as long as calls keep succeeding, and give up only after
/// [`RetryPolicy::max_throttled_wait`] without any.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
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
    /// Retries after each of `delays` milliseconds.
    pub fn from_millis(delays: &[u64]) -> Self {
        Self {
            delays: delays.iter().map(|ms| Duration::from_millis(*ms)).collect(),
            max_retry_after: Duration::from_secs(300),
            max_throttled_wait: DEFAULT_THROTTLED_WAIT,
        }
    }

    /// Never retries (a 429 to a paced call included).
    pub fn none() -> Self {
        Self::from_millis(&[]).max_throttled_wait(Duration::ZERO)
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
    pub(crate) fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// See [`RetryPolicy::max_retry_after`].
    pub(crate) fn retry_after_cap(&self) -> Duration {
        self.max_retry_after
    }

    /// See [`RetryPolicy::max_throttled_wait`].
    pub(crate) fn throttled_wait(&self) -> Duration {
        self.max_throttled_wait
    }
}

/// How long paced calls wait out 429 answers without any success, by default.
const DEFAULT_THROTTLED_WAIT: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;
    use wix_media_tus::{Error, RetryState};

    fn unavailable() -> Error {
        Error::Status {
            status: 503,
            retry_after: None,
        }
    }

    #[test]
    fn the_default_is_wix_example() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delays(),
            RetryPolicy::from_millis(&[0, 3000, 5000, 10000, 20000]).delays()
        );
        assert_eq!(p.retry_after_cap(), Duration::from_secs(300));
        let cap = RetryPolicy::default().max_retry_after(Duration::from_secs(60));
        assert_eq!(cap.retry_after_cap(), Duration::from_secs(60));
    }

    #[test]
    fn no_policy_never_retries() {
        let none = RetryPolicy::none();
        assert_eq!(
            RetryState::new().on_failure(none.delays(), none.retry_after_cap(), &unavailable()),
            None
        );
        assert_eq!(none.throttled_wait(), Duration::ZERO);
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
