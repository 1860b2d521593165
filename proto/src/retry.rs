//! When to try a failed request again.

use std::time::Duration;

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
    /// `delays` holds one entry per retry; the delay is the next one, or the server's
    /// `Retry-After` when longer (capped at `max_retry_after`).
    pub fn on_failure(
        &mut self,
        delays: &[Duration],
        max_retry_after: Duration,
        err: &impl Retryable,
    ) -> Option<Duration> {
        if !err.is_retryable() {
            return None;
        }
        let delay = *delays.get(self.failures)?;
        self.failures += 1;
        let asked = err.retry_after().unwrap_or_default().min(max_retry_after);
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
    use crate::Error;

    const CAP: Duration = Duration::from_secs(300);

    fn status(code: u16, retry_after: Option<u64>) -> Error {
        Error::Status {
            status: code,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn millis(delays: &[u64]) -> Vec<Duration> {
        delays.iter().map(|ms| Duration::from_millis(*ms)).collect()
    }

    #[test]
    fn follows_the_delays_then_gives_up() {
        let p = millis(&[0, 10, 20]);
        let mut s = RetryState::new();
        let e = status(503, None);
        let got: Vec<_> = (0..4).map(|_| s.on_failure(&p, CAP, &e)).collect();
        let ms = |v| Some(Duration::from_millis(v));
        assert_eq!(got, vec![ms(0), ms(10), ms(20), None]);
        assert_eq!(s.attempts(), 4);
    }

    #[test]
    fn progress_resets_the_count() {
        let p = millis(&[5]);
        let mut s = RetryState::new();
        let e = status(500, None);
        assert!(s.on_failure(&p, CAP, &e).is_some());
        assert!(s.on_failure(&p, CAP, &e).is_none());
        s.reset();
        assert_eq!(s.attempts(), 1);
        assert!(s.on_failure(&p, CAP, &e).is_some());
        assert!(s.on_failure(&p, CAP, &e).is_none());
    }

    #[test]
    fn only_retryable_errors_are_retried() {
        let p = millis(&[0, 3000, 5000, 10000, 20000]);
        let first = |e: &Error| RetryState::new().on_failure(&p, CAP, e);
        for code in [400, 401, 403, 404, 409, 410, 413, 415, 460] {
            assert_eq!(first(&status(code, None)), None, "{code}");
        }
        for code in [423, 429, 500, 502, 503, 504] {
            assert!(first(&status(code, None)).is_some(), "{code}");
        }
        let mismatch = Error::OffsetMismatch {
            expected: 1,
            actual: Some(0),
        };
        assert!(first(&mismatch).is_some());
        let checksum = Error::ChecksumMismatch {
            offset: 0,
            status: 460,
        };
        assert!(first(&checksum).is_some());
        assert!(first(&Error::Gone { status: 404 }).is_none());
        assert!(first(&Error::Violation(crate::Violation::MissingOffset)).is_none());
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let p = millis(&[1000, 1000]);
        let cap = Duration::from_secs(60);
        let mut s = RetryState::new();
        assert_eq!(
            s.on_failure(&p, cap, &status(429, Some(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            s.on_failure(&p, cap, &status(429, Some(3600))),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn no_delays_never_retry() {
        assert_eq!(
            RetryState::new().on_failure(&[], CAP, &status(503, None)),
            None
        );
    }
}
