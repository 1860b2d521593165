//! Pacing of Wix REST calls, shared by every thread using one client.
//!
//! Wix allows about 200 REST requests per minute per site. A client that was never refused
//! is not slowed down. Once the server answers 429, the following calls are spaced (at
//! [`WIX_PACE`] at first, twice as far after each further 429, at most [`MAX_PACE`]); every
//! [`RELAX_AFTER`] calls without a 429 the spacing halves, and below [`MIN_PACE`] pacing stops.
//! A caller who knows its quota sets a fixed rate instead, which is kept.

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
pub(crate) const RELAX_AFTER: u32 = 50;

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

    /// Learns from the answer's status.
    pub(crate) fn observe(&self, status: u16) {
        if self.fixed {
            return;
        }
        let mut p = self.pace();
        if status == 429 {
            let wider = p.interval.map_or(WIX_PACE, |i| (i * 2).min(MAX_PACE));
            if p.interval != Some(wider) {
                log::info!("Wix is rate-limiting: spacing REST calls {wider:?} apart");
            }
            p.interval = Some(wider);
            p.calm = 0;
            return;
        }
        let Some(interval) = p.interval else {
            return;
        };
        p.calm += 1;
        if p.calm >= RELAX_AFTER {
            p.calm = 0;
            let narrower = interval / 2;
            p.interval = (narrower >= MIN_PACE).then_some(narrower);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ManualClock;

    #[test]
    fn no_pacing_until_refused() {
        let clock = ManualClock::new();
        let l = Limiter::adaptive();
        for _ in 0..100 {
            l.acquire(&clock, None).unwrap();
            l.observe(200);
        }
        assert_eq!(clock.slept(), Duration::ZERO);
        assert_eq!(l.interval(), None);
    }

    #[test]
    fn refusals_space_calls_then_calm_relaxes() {
        let clock = ManualClock::new();
        let l = Limiter::adaptive();
        l.observe(429);
        assert_eq!(l.interval(), Some(WIX_PACE));
        l.acquire(&clock, None).unwrap();
        l.acquire(&clock, None).unwrap();
        l.acquire(&clock, None).unwrap();
        // The first goes at once, the next two one and two intervals later.
        assert_eq!(clock.slept(), WIX_PACE * 2);
        l.observe(429);
        assert_eq!(l.interval(), Some(WIX_PACE * 2));
        for _ in 0..10 {
            l.observe(429);
        }
        assert_eq!(l.interval(), Some(MAX_PACE));
        for _ in 0..RELAX_AFTER {
            l.observe(200);
        }
        assert_eq!(l.interval(), Some(MAX_PACE / 2));
        for _ in 0..20 * RELAX_AFTER {
            l.observe(200);
        }
        assert_eq!(l.interval(), None);
    }

    #[test]
    fn a_fixed_rate_is_kept() {
        let clock = ManualClock::new();
        let l = Limiter::fixed(120);
        for _ in 0..5 {
            l.acquire(&clock, None).unwrap();
            l.observe(429);
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
