//! Progress reports, rate-limited.
//!
//! The rule (documented on [`UploadOptions::progress`](crate::UploadOptions::progress)): a
//! report whenever the server acknowledges bytes (at most one per request), and while a body
//! goes out, one when at least [`SENT_STEP`] more bytes went or [`SENT_INTERVAL`] passed since
//! the last report, whichever comes first. A 300 MB single PATCH gives about 300 reports.

use std::time::{Duration, SystemTime};

use crate::control::{Clock, Progress};

/// Bytes sent between two reports while a body streams.
pub(crate) const SENT_STEP: u64 = 1024 * 1024;
/// Longest time between two reports while a body streams.
pub(crate) const SENT_INTERVAL: Duration = Duration::from_millis(250);

/// Reports progress to the caller's callback, if any.
pub(crate) struct Reporter<'a> {
    callback: Option<&'a mut dyn FnMut(Progress)>,
    clock: &'a dyn Clock,
    last: Option<(u64, SystemTime)>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(callback: Option<&'a mut dyn FnMut(Progress)>, clock: &'a dyn Clock) -> Self {
        Self {
            callback,
            clock,
            last: None,
        }
    }

    /// The server acknowledged `acked` bytes (or the upload resumed there).
    pub(crate) fn acked(&mut self, acked: u64, total: Option<u64>) {
        self.emit(acked, acked, total);
    }

    /// The body under way reached `sent` bytes of the source.
    pub(crate) fn sent(&mut self, sent: u64, acked: u64, total: Option<u64>) {
        if self.callback.is_none() {
            return;
        }
        let now = self.clock.now();
        let due = match self.last {
            None => true,
            Some((at, when)) => {
                sent.saturating_sub(at) >= SENT_STEP
                    || now.duration_since(when).unwrap_or_default() >= SENT_INTERVAL
            }
        };
        if due {
            self.emit(sent, acked, total);
        }
    }

    fn emit(&mut self, sent: u64, acked: u64, total: Option<u64>) {
        if let Some(f) = self.callback.as_mut() {
            self.last = Some((sent, self.clock.now()));
            f(Progress { sent, acked, total });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ManualClock as FakeClock;

    #[test]
    fn sent_bytes_are_reported_per_step_or_interval() {
        let clock = FakeClock::new();
        let mut seen = Vec::new();
        let mut f = |p: Progress| seen.push(p.sent);
        let mut r = Reporter::new(Some(&mut f), &clock);
        for sent in (0..=3 * SENT_STEP).step_by(64 * 1024) {
            r.sent(sent, 0, Some(3 * SENT_STEP));
        }
        clock.advance(SENT_INTERVAL);
        r.sent(3 * SENT_STEP + 1, 0, None);
        r.acked(3 * SENT_STEP + 1, None);
        assert_eq!(
            seen,
            vec![
                0,
                SENT_STEP,
                2 * SENT_STEP,
                3 * SENT_STEP,
                3 * SENT_STEP + 1,
                3 * SENT_STEP + 1
            ]
        );
    }
}
