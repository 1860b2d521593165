//! Pacing of Wix REST calls, shared by every thread using one client.
//!
//! Wix allows about 200 REST requests per minute per site. A client that was never refused
//! is not slowed down. Once the server answers 429, the following calls are spaced: at
//! [`WIX_PACE`] the first time; twice as far (at most [`MAX_PACE`]) after a further 429, but
//! only once the spacing has been in force for [`SETTLE`] (threads refused together, or calls
//! refused while the server's window drains, widen it once). After [`RELAX_AFTER`] calls
//! without a 429, and at least [`SETTLE`] since the last change, the spacing halves; below
//! [`MIN_PACE`] pacing stops, and a later 429 starts again at twice the spacing that worked
//! last. A caller who knows its quota sets a fixed rate instead, which is kept.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::control::{AbortHandle, Clock, sleep_unless_aborted};
use crate::error::{Error, Result};

/// 200 requests per minute.
pub(crate) const WIX_PACE: Duration = Duration::from_millis(300);
/// The widest spacing after repeated refusals.
pub(crate) const MAX_PACE: Duration = Duration::from_secs(5);
/// Spacing below this is dropped.
pub(crate) const MIN_PACE: Duration = Duration::from_millis(20);
/// Calls without a refusal before the spacing halves.
pub(crate) const RELAX_AFTER: u32 = 20;
/// How long a spacing stays before it changes again.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct Limiter {
    fixed: bool,
    state: Mutex<Pace>,
}

#[derive(Debug)]
struct Pace {
    interval: Option<Duration>,
    next: Option<SystemTime>,
    calm: u32,
    changed: Option<SystemTime>,
    // The spacing in force when pacing stopped.
    last: Option<Duration>,
}

impl Limiter {
    /// No pacing until the server pushes back.
    pub(crate) fn adaptive() -> Self {
        Self::with(None, false)
    }

    /// At most `per_minute` calls a minute, always.
    pub(crate) fn fixed(per_minute: u32) -> Self {
        let interval = Duration::from_secs(60) / per_minute.max(1);
        Self::with(Some(interval), true)
    }

    fn with(interval: Option<Duration>, fixed: bool) -> Self {
        Self {
            fixed,
            state: Mutex::new(Pace {
                interval,
                next: None,
                calm: 0,
                changed: None,
                last: None,
            }),
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The spacing in force, if any.
    #[cfg(test)]
    pub(crate) fn interval(&self) -> Option<Duration> {
        self.pace().interval
    }

    /// Waits for this call's turn.
    pub(crate) fn acquire(&self, clock: &dyn Clock, abort: Option<&AbortHandle>) -> Result<()> {
        let wait = {
            let mut p = self.pace();
            let Some(interval) = p.interval else {
                return Ok(());
            };
            let now = clock.now();
            let slot = p.next.filter(|n| *n > now).unwrap_or(now);
            p.next = Some(slot + interval);
            slot.duration_since(now).unwrap_or_default()
        };
        if sleep_unless_aborted(clock, wait, abort) {
            Ok(())
        } else {
            Err(Error::Aborted)
        }
    }

    /// Learns from the status of an answer that came at `now`.
    pub(crate) fn observe(&self, status: u16, now: SystemTime) {
        if self.fixed {
            return;
        }
        let mut p = self.pace();
        let settled = p
            .changed
            .is_none_or(|at| now.duration_since(at).unwrap_or_default() >= SETTLE);
        if status == 429 {
            p.calm = 0;
            let wider = match (p.interval, p.last) {
                (Some(_), _) if !settled => return,
                (Some(i), _) => (i * 2).min(MAX_PACE),
                (None, Some(last)) => (last * 2).min(WIX_PACE),
                (None, None) => WIX_PACE,
            };
            log::info!("the server is rate-limiting: spacing REST calls {wider:?} apart");
            p.interval = Some(wider);
            p.changed = Some(now);
            return;
        }
        let Some(interval) = p.interval else {
            return;
        };
        p.calm += 1;
        if p.calm >= RELAX_AFTER && settled {
            p.calm = 0;
            p.changed = Some(now);
            let narrower = interval / 2;
            if narrower >= MIN_PACE {
                p.interval = Some(narrower);
            } else {
                p.interval = None;
                p.last = Some(interval);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ManualClock;

    // One call: its turn, then its answer.
    fn call(l: &Limiter, clock: &ManualClock, status: u16) {
        l.acquire(clock, None).unwrap();
        l.observe(status, clock.now());
    }

    #[test]
    fn no_pacing_until_refused() {
        let clock = ManualClock::new();
        let l = Limiter::adaptive();
        for _ in 0..100 {
            call(&l, &clock, 200);
        }
        assert_eq!(clock.slept(), Duration::ZERO);
        assert_eq!(l.interval(), None);
    }

    #[test]
    fn refusals_space_calls_then_calm_relaxes() {
        let clock = ManualClock::new();
        let l = Limiter::adaptive();
        // Four threads refused together widen the spacing once.
        for _ in 0..4 {
            l.observe(429, clock.now());
        }
        assert_eq!(l.interval(), Some(WIX_PACE));
        for _ in 0..3 {
            l.acquire(&clock, None).unwrap();
        }
        // The first goes at once, the next two one and two intervals later.
        assert_eq!(clock.slept(), WIX_PACE * 2);
        // Refused again before the spacing settled: unchanged; after: twice as wide.
        l.observe(429, clock.now());
        assert_eq!(l.interval(), Some(WIX_PACE));
        clock.advance(SETTLE);
        l.observe(429, clock.now());
        assert_eq!(l.interval(), Some(WIX_PACE * 2));
        for _ in 0..10 {
            clock.advance(SETTLE);
            l.observe(429, clock.now());
        }
        assert_eq!(l.interval(), Some(MAX_PACE));
        for _ in 0..RELAX_AFTER {
            call(&l, &clock, 200);
        }
        assert_eq!(l.interval(), Some(MAX_PACE / 2));
        for _ in 0..20 * RELAX_AFTER {
            call(&l, &clock, 200);
        }
        assert_eq!(l.interval(), None);
        // Refused again: it starts from twice what worked last, not from scratch.
        call(&l, &clock, 429);
        let restart = l.interval().unwrap();
        assert!(restart < WIX_PACE && restart >= MIN_PACE * 2, "{restart:?}");
    }

    #[test]
    fn relaxing_waits_for_the_spacing_to_settle() {
        let clock = ManualClock::new();
        let l = Limiter::adaptive();
        l.observe(429, clock.now());
        // Calls spaced 300 ms apart: 20 of them take 6 s, past SETTLE.
        for _ in 0..RELAX_AFTER {
            call(&l, &clock, 200);
        }
        assert_eq!(l.interval(), Some(WIX_PACE / 2));
    }

    #[test]
    fn a_fixed_rate_is_kept() {
        let clock = ManualClock::new();
        let l = Limiter::fixed(120);
        for _ in 0..5 {
            call(&l, &clock, 429);
        }
        assert_eq!(l.interval(), Some(Duration::from_millis(500)));
        assert_eq!(clock.slept(), Duration::from_millis(2000));
    }

    #[test]
    fn waiting_stops_on_abort() {
        let clock = ManualClock::new();
        let l = Limiter::fixed(1);
        l.acquire(&clock, None).unwrap();
        let abort = AbortHandle::new();
        abort.abort();
        assert!(matches!(
            l.acquire(&clock, Some(&abort)),
            Err(Error::Aborted)
        ));
    }
}
