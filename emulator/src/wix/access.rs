//! What every REST call passes first: the rate limit (fixed or sliding window), then Wix's
//! authentication headers and the site check.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::error;
use crate::config::RateLimit;
use crate::http::{Request, Response, lock};
use crate::{RateWindow, State};

/// The calls a rate limit has let through lately.
#[derive(Default)]
pub(crate) struct RateLimiter {
    /// Sliding window: when each call of the last window was let through.
    hits: VecDeque<Instant>,
    /// Fixed windows: when the current one started, and its calls so far.
    window: Option<(Instant, u32)>,
}

impl RateLimiter {
    /// Lets a call through at `now`, or tells how long until one may pass.
    fn admit(&mut self, limit: RateLimit, kind: RateWindow, now: Instant) -> Result<(), Duration> {
        match kind {
            RateWindow::Fixed => self.admit_fixed(limit, now),
            _ => self.admit_sliding(limit, now),
        }
    }

    fn admit_sliding(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.window)
        {
            self.hits.pop_front();
        }
        if self.hits.len() < limit.calls as usize {
            self.hits.push_back(now);
            return Ok(());
        }
        Err(self.hits.front().map_or(limit.window, |t| {
            limit.window.saturating_sub(now.duration_since(*t))
        }))
    }

    fn admit_fixed(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let (mut start, mut count) = self.window.unwrap_or((now, 0));
        let elapsed = now.duration_since(start);
        if elapsed >= limit.window && !limit.window.is_zero() {
            // Back-to-back windows: skip to the one holding `now`.
            let windows = elapsed.as_nanos() / limit.window.as_nanos();
            let skip = limit.window.as_nanos() * windows;
            start += Duration::from_nanos(u64::try_from(skip).unwrap_or(u64::MAX));
            count = 0;
        }
        let admitted = count < limit.calls;
        self.window = Some((start, count + u32::from(admitted)));
        if admitted {
            Ok(())
        } else {
            Err(limit.window.saturating_sub(now.duration_since(start)))
        }
    }
}

/// 429 past the configured rate (counted in [`Emulator::refused_counts`] under `route_key`).
///
/// [`Emulator::refused_counts`]: crate::Emulator::refused_counts
pub(crate) fn rate_limited(state: &State, route_key: &str) -> Option<Response> {
    let limit = state.config.rate_limit?;
    let admitted = lock(&state.rate).admit(limit, state.config.rate_window, Instant::now());
    let wait = admitted.err()?;
    *lock(&state.refused_counts)
        .entry(route_key.to_string())
        .or_insert(0) += 1;
    let mut resp = error(
        429,
        "RESOURCE_EXHAUSTED",
        "rate limit exceeded: too many requests",
    );
    if state.config.retry_after {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        resp = resp.header("Retry-After", secs.max(1).to_string());
    }
    Some(resp)
}

/// Wix's header rules; the site id on success.
pub(crate) fn authenticate(state: &State, req: &Request<'_>) -> Result<String, Response> {
    if req.header("Authorization").is_none_or(str::is_empty) {
        return Err(error(
            401,
            "UNAUTHENTICATED",
            "missing Authorization header",
        ));
    }
    let site = req.header("wix-site-id").filter(|s| !s.is_empty());
    let account = req.header("wix-account-id").filter(|s| !s.is_empty());
    if site.is_some() && account.is_some() {
        return Err(error(
            400,
            "INVALID_ARGUMENT",
            "send either wix-site-id or wix-account-id, not both",
        ));
    }
    let Some(site) = site else {
        return Err(error(
            403,
            "PERMISSION_DENIED",
            "this call needs a wix-site-id header (site-level permission MANAGE MEDIA MANAGER)",
        ));
    };
    if state.config.site_id.as_deref().is_some_and(|s| s != site) {
        return Err(forbidden_html());
    }
    Ok(site.to_string())
}

/// What Wix answers a wrong site id or a key without the Media Manager permission.
fn forbidden_html() -> Response {
    Response::new(403).html(
        "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\
         <body><h1>403 Forbidden</h1><p>You don't have permission to access this resource.</p>\
         </body></html>\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_fixed_window_starts_its_count_again_at_each_window() {
        let limit = RateLimit {
            calls: 2,
            window: SECOND,
        };
        let t0 = Instant::now();
        let mut r = RateLimiter::default();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(r.admit(limit, RateWindow::Fixed, at(0)).is_ok());
        assert!(r.admit(limit, RateWindow::Fixed, at(900)).is_ok());
        assert_eq!(
            r.admit(limit, RateWindow::Fixed, at(950)),
            Err(Duration::from_millis(50))
        );
        // A new window at 1000 ms, though the sliding count would still hold the call at 900.
        assert!(r.admit(limit, RateWindow::Fixed, at(1000)).is_ok());
        assert!(r.admit(limit, RateWindow::Fixed, at(1100)).is_ok());
        assert!(r.admit(limit, RateWindow::Fixed, at(1999)).is_err());
        // Windows are back to back from the first call: 3000..4000 after a quiet spell.
        assert!(r.admit(limit, RateWindow::Fixed, at(3500)).is_ok());
        assert!(r.admit(limit, RateWindow::Fixed, at(3600)).is_ok());
        assert_eq!(
            r.admit(limit, RateWindow::Fixed, at(3700)),
            Err(Duration::from_millis(300))
        );
    }

    #[test]
    fn a_sliding_window_frees_a_call_a_window_after_it() {
        let limit = RateLimit {
            calls: 2,
            window: SECOND,
        };
        let t0 = Instant::now();
        let mut r = RateLimiter::default();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(r.admit(limit, RateWindow::Sliding, at(0)).is_ok());
        assert!(r.admit(limit, RateWindow::Sliding, at(900)).is_ok());
        assert_eq!(
            r.admit(limit, RateWindow::Sliding, at(950)),
            Err(Duration::from_millis(50))
        );
        assert!(r.admit(limit, RateWindow::Sliding, at(1000)).is_ok());
        assert_eq!(
            r.admit(limit, RateWindow::Sliding, at(1100)),
            Err(Duration::from_millis(800))
        );
    }
}
