//! Pacing that learns a site's REST quota: pure logic, time given as an argument.
//!
//! The rule, in short. Until the first 429 calls go as fast as the callers ask (8 at most
//! under way: those under way when the first 429 comes are all refused too). A 429 stops
//! every call but one probe at a time; the probes go where a window of a common length (1, 2,
//! 5, 10, 30, 60 s...) would reopen ([`probe`]), or when `Retry-After` says. The first call let
//! through after the refusal tells the window (`Ŵ`) and the count (`N̂`: the calls let through
//! from the window's start). From then on at most `N̂` calls go in any `Ŵ` (a sliding log of
//! send times, calls under way included): bursts allowed, so a batch of `N + k` calls takes one
//! window, not `(N + k) / N` of them spread thin. A 429 while paced learns again: the count
//! falls to what the last window held, or the window widens. A long calm while the pace holds
//! callers back raises `N̂` a quarter, less often after a raise was refused. A caller's own
//! quota (`requests_per_minute`) is a second gate, never raised. The network reorders and
//! delays calls: a call sent within a round trip of a refused one proves nothing about the
//! window, and paced calls keep the round trip's deviation beyond the window.
//!
//! The whole state is [`Pace`]: small, serializable, shared by the threads of a client and,
//! through a file, by processes (see [`file`]).

pub(crate) mod file;
mod probe;
#[cfg(test)]
mod sim;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use probe::{Probes, Refusal};

/// At most `calls` calls in any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Quota {
    pub(crate) calls: u32,
    /// Milliseconds.
    pub(crate) window: u64,
}

impl Quota {
    /// `calls` a minute, as the server counts them: the minute is taken a little longer, for
    /// the network's delays ([`probe::margin`]).
    pub(crate) fn per_minute(calls: u32) -> Self {
        Self {
            calls: calls.max(1),
            window: 60_000 + probe::margin(60_000),
        }
    }
}

/// How an answer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Refused for the rate (429), with the server's `Retry-After` as a time, if it sent one.
    Refused(Option<SystemTime>),
    /// Any other answer: the server counted the call.
    Counted,
    /// No answer (the connection broke): the server may have counted it.
    Lost,
}

/// A call allowed to go: hand it back with its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    sent: u64,
    probe: bool,
}

/// What [`Pace::turn`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Send now.
    Go(Ticket),
    /// Ask again at this time (or when an answer came).
    Wait(SystemTime),
}

/// Calls remembered: enough for the windows that matter, and a small file.
const LOG_CAP: usize = 1024;
/// How long calls are remembered without a learned window.
const MEMORY: u64 = 600_000;
/// A probe that got no answer this long is forgotten: another may go.
const PROBE_TIMEOUT: u64 = 30_000;
/// A raise waits this many windows of calm (at least [`CALM_MIN`]); doubled after a refused raise.
const CALM_WINDOWS: u32 = 10;
const CALM_MIN: u64 = 30_000;
const CALM_WINDOWS_MAX: u32 = 160;
/// Send times this far after now are from a clock that went back since: forgotten.
const CLOCK_SLACK: u64 = 2_000;
/// Calls under way at most while no quota is known; a call without an answer this long is
/// no longer counted so.
const UNKNOWN_UNDER_WAY: usize = 8;
const UNDER_WAY_FOR: u64 = 5_000;
/// Calls sent this much (beyond a round trip) apart may reach the server in either order.
const SLACK: u64 = 2;
/// A count learned from this many calls is taken as the server's (fewer: others had used the
/// quota up, or the first call was refused).
const CONFIRMED: u32 = 2;

/// The shared state of the pace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Pace {
    /// The quota learned.
    quota: Option<Quota>,
    /// This process's own quota (a caller who knows it): never exceeded, never shared.
    #[serde(skip)]
    ceiling: Option<Quota>,
    /// Send times (ms since the epoch) of answered calls that were not refused, ascending.
    #[serde(with = "file::deltas")]
    log: Vec<u64>,
    /// Send times of calls still waiting for their answer.
    #[serde(with = "file::deltas")]
    pending: Vec<u64>,
    /// Set from a 429 until a probe gets through.
    block: Option<Block>,
    /// No 429 since then.
    calm_since: u64,
    /// When `N̂` was last raised, until a window passed without a refusal.
    raised: Option<u64>,
    /// Windows of calm a raise waits for.
    patience: u32,
    /// The time answers take (ms, smoothed), and how much it varies (mean deviation).
    rtt: u64,
    rtt_dev: u64,
    /// The last probe let through.
    reopened: Option<u64>,
    /// The count was seen to be the server's: by many calls, or by a refusal while paced.
    confirmed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Block {
    /// Send time of the call whose refusal started it.
    refused: u64,
    /// Where the window may reopen, earliest first.
    probes: Probes,
    /// Not before this (`Retry-After`).
    not_before: u64,
    /// The probe under way: its send time, and the guess it tries.
    probing: Option<u64>,
    aim: u64,
    /// Refused while paced: the quota then.
    paced: Option<Quota>,
}

impl Pace {
    /// A pace that learns the quota, never above `ceiling` (callers who know theirs).
    pub(crate) fn new(ceiling: Option<Quota>) -> Self {
        Self {
            ceiling,
            patience: CALM_WINDOWS,
            ..Self::default()
        }
    }

    /// This state, under this process's own quota (for a state read from a shared file).
    pub(crate) fn with_ceiling(mut self, ceiling: Option<Quota>) -> Self {
        self.ceiling = ceiling;
        self.patience = self.patience.max(CALM_WINDOWS);
        self
    }

    /// The quota learned, else the caller's.
    pub(crate) fn quota(&self) -> Option<Quota> {
        self.quota.or(self.ceiling)
    }

    /// Whether calls are held until a probe gets through.
    #[cfg(test)]
    pub(crate) fn blocked(&self) -> bool {
        self.block.is_some()
    }

    /// May a call go at `now`?
    pub(crate) fn turn(&mut self, now: SystemTime) -> Turn {
        let now = ms(now);
        self.trim(now);
        if let Some(block) = &mut self.block {
            // The answers still coming may rule out guesses, or say when (`Retry-After`).
            let fresh = |t: &u64| now < t + PROBE_TIMEOUT;
            if block.probing.is_some_and(|t| fresh(&t)) || self.pending.iter().any(fresh) {
                return Turn::Wait(at(now + poll(self.rtt)));
            }
            let aim = block.probes.next().unwrap_or(now);
            let next = aim.max(block.not_before);
            if now < next {
                return Turn::Wait(at(next));
            }
            block.probing = Some(now);
            block.aim = aim;
            return self.go(now, true);
        }
        let learned = self.quota.and_then(|q| self.free_at(q, now));
        let own = self.ceiling.and_then(|q| self.free_at(q, now));
        match learned.max(own) {
            // Before anything is known, few calls under way: those under way when the first
            // 429 comes are all refused too.
            None if self.quota.is_none() && self.under_way(now) >= UNKNOWN_UNDER_WAY => {
                Turn::Wait(at(now + poll(self.rtt)))
            }
            None => self.go(now, false),
            Some(t) => {
                if learned.is_some() {
                    self.raise_after_calm(now);
                }
                Turn::Wait(at(t.max(now + 1)))
            }
        }
    }

    /// Learns from the answer to `ticket`, received at `now`.
    pub(crate) fn answered(&mut self, ticket: Ticket, answer: Answer, now: SystemTime) {
        let now = ms(now);
        let sent = ticket.sent;
        if let Some(i) = self.pending.iter().position(|t| *t == sent) {
            self.pending.swap_remove(i);
        }
        let took = now.saturating_sub(sent);
        if self.rtt == 0 {
            self.rtt = took;
        } else {
            self.rtt_dev = (self.rtt_dev * 3 + self.rtt.abs_diff(took)) / 4;
            self.rtt = (self.rtt * 7 + took) / 8;
        }
        match answer {
            Answer::Refused(retry_after) => self.refused(ticket, retry_after.map(ms), now),
            Answer::Counted | Answer::Lost => {
                insert_sorted(&mut self.log, sent);
                let Some(block) = &mut self.block else {
                    return;
                };
                let probe = block.probing == Some(sent);
                if probe {
                    block.probing = None;
                }
                // The first call let through after the refusal, probe or not, says when the
                // window reopened; a call sent just after the refused one may have reached the
                // server before it (the network reorders), so only a probe (nothing else under
                // way) or a call sent later than that says so.
                let after = probe || sent > block.refused + self.rtt + SLACK;
                if answer == Answer::Counted && after {
                    let aim = if probe { block.aim } else { sent };
                    self.reopen(sent, aim);
                }
            }
        }
    }

    // Calls sent lately that have no answer yet (a process killed with calls under way
    // leaves them in the shared file: they hold nobody back for long).
    fn under_way(&self, now: u64) -> usize {
        self.pending
            .iter()
            .filter(|t| now < *t + UNDER_WAY_FOR)
            .count()
    }

    fn go(&mut self, now: u64, probe: bool) -> Turn {
        self.pending.push(now);
        Turn::Go(Ticket { sent: now, probe })
    }

    // When the oldest call that keeps the quota full leaves its window; `None`: free now.
    fn free_at(&self, q: Quota, now: u64) -> Option<u64> {
        let mut recent: Vec<u64> = self.sent_since(now.saturating_sub(q.window)).collect();
        if recent.len() < q.calls as usize {
            return None;
        }
        recent.sort_unstable();
        // The server counts arrivals: the oldest call may have arrived later than a new one
        // sent a window after it will, by the spread of the network's delays.
        Some(recent[recent.len() - q.calls as usize] + q.window + self.rtt_dev)
    }

    // Send times after `from` (exclusive), answered or not.
    fn sent_since(&self, from: u64) -> impl Iterator<Item = u64> + '_ {
        let start = self.log.partition_point(|t| *t <= from);
        self.log[start..]
            .iter()
            .chain(self.pending.iter().filter(move |t| **t > from))
            .copied()
    }

    // Answered calls sent in `from..to`.
    fn counted(&self, from: u64, to: u64) -> u32 {
        let a = self.log.partition_point(|t| *t < from);
        let b = self.log.partition_point(|t| *t < to);
        u32::try_from(b.saturating_sub(a)).unwrap_or(u32::MAX)
    }

    fn refused(&mut self, ticket: Ticket, retry_after: Option<u64>, now: u64) {
        let sent = ticket.sent;
        self.calm_since = now;
        if self.raised.take().is_some() {
            self.patience = (self.patience * 2).min(CALM_WINDOWS_MAX);
        }
        if self.block.is_none() {
            let paced = self.quota();
            let mut recent: Vec<u64> = self.sent_since(0).filter(|t| *t <= sent).collect();
            recent.sort_unstable();
            let first = recent.first().copied().unwrap_or(sent);
            let refusal = Refusal {
                sent: &recent,
                counted: &self.log,
                refused: sent,
                restart: self
                    .reopened
                    .filter(|_| paced.is_some())
                    .map_or(first, |t| t.max(first)),
                quota: paced,
            };
            self.block = Some(Block {
                refused: sent,
                probes: Probes::after(&refusal),
                not_before: 0,
                probing: None,
                aim: 0,
                paced,
            });
        }
        let Some(block) = &mut self.block else {
            return;
        };
        let probe = block.probing == Some(sent);
        if probe {
            block.probing = None;
        }
        // Every window that would have let this call in is ruled out.
        // A probe goes alone; other calls may have reached the server out of their order.
        let slack = if probe { 0 } else { self.rtt + SLACK };
        block.probes.refuted_by(sent, slack, probe);
        // `Retry-After` answers the call that was refused first, and each probe; the calls
        // already under way were not waiting for it.
        if let Some(t) = retry_after.filter(|_| probe || sent == block.refused) {
            block.not_before = block.not_before.max(t);
        }
        if block.probes.next().is_none() && retry_after.is_none() {
            block.probes.extend_after(sent.max(block.refused));
        }
    }

    // A probe got through: the window reopened. Learn the quota from it.
    fn reopen(&mut self, probe: u64, aim: u64) {
        let Some(block) = self.block.take() else {
            return;
        };
        let learned = block.probes.measure(probe, aim, block.not_before, self.rtt);
        let quota = match block.paced {
            Some(q) => self.relearn(q, learned.window, block.refused, probe),
            None => Quota {
                calls: self.counted(learned.count_from, probe).max(1),
                window: learned.window,
            },
        };
        self.confirmed = block.paced.is_some() || quota.calls >= CONFIRMED;
        if self.quota != Some(quota) {
            log::info!(
                "the server limits REST calls: pacing at {} per {:?}",
                quota.calls,
                Duration::from_millis(quota.window)
            );
        }
        self.quota = Some(quota);
        self.calm_since = probe;
        self.reopened = Some(probe);
    }

    // Refused at `refused` while paced by `q`, reopened at `probe` as a window of `window` says.
    fn relearn(&self, q: Quota, window: u64, refused: u64, probe: u64) -> Quota {
        // Calls paced steadily make every longer window reopen right after the refusal: only a
        // late reopening says the window is longer than thought.
        if window > q.window && probe - refused.min(probe) > q.window / 4 {
            return Quota {
                calls: q.calls,
                window,
            };
        }
        // What the last window (and the network's delays) let through: all the quota holds.
        let reach = q.window + probe::margin(q.window);
        let held = self.counted(refused.saturating_sub(reach) + 1, refused);
        if held < q.calls {
            return Quota {
                calls: held.max(1),
                window: q.window,
            };
        }
        // The count is right: the network's delays reach farther than the margin.
        Quota {
            calls: q.calls,
            window: q.window + probe::margin(q.window),
        }
    }

    // After a calm with callers held back, more: a quarter more after a long calm (longer after
    // each raise that was refused), twice as many after one window while the count was never
    // confirmed (learned from a few calls only, say when others had used the quota up).
    fn raise_after_calm(&mut self, now: u64) {
        let Some(q) = self.quota.filter(|_| self.block.is_none()) else {
            return;
        };
        if let Some(r) = self.raised
            && now >= r + q.window * 2
        {
            // A raise that held two windows is kept; the next one waits as long as usual.
            self.raised = None;
            self.patience = CALM_WINDOWS;
        }
        let (calm, calls) = if self.confirmed {
            let calm = (q.window * u64::from(self.patience)).max(CALM_MIN);
            (calm, q.calls + (q.calls / 4).max(1))
        } else {
            (q.window, q.calls * 2)
        };
        if now < self.calm_since + calm {
            return;
        }
        let more = Quota {
            calls,
            window: q.window,
        };
        self.quota = Some(more);
        self.calm_since = now;
        self.raised = Some(now);
        log::debug!(
            "no 429 for {calm} ms: pacing at {calls} per {} ms",
            q.window
        );
    }

    // Forgets calls no window looks at any more, and keeps the log small.
    fn trim(&mut self, now: u64) {
        let longest = [self.quota, self.ceiling]
            .into_iter()
            .flatten()
            .map(|q| q.window)
            .max();
        let keep = longest.map_or(MEMORY, |w| (w * 2).max(MEMORY / 5));
        let from = now.saturating_sub(keep);
        let old = self.log.partition_point(|t| *t < from);
        let over = self.log.len().saturating_sub(LOG_CAP);
        self.log.drain(..old.max(over));
        // An answer that never came (its process died): the call is counted as sent.
        let stale = now.saturating_sub(PROBE_TIMEOUT.max(keep));
        self.pending.retain(|t| *t >= stale);
        // The clock went back (or another process's is ahead): what it says later is
        // forgotten rather than waited for.
        let ahead = now + CLOCK_SLACK;
        self.log.retain(|t| *t <= ahead);
        self.pending.retain(|t| *t <= ahead);
        if self.block.as_ref().is_some_and(|b| b.refused > ahead) {
            self.block = None;
        }
    }
}

fn insert_sorted(v: &mut Vec<u64>, t: u64) {
    let i = v.partition_point(|x| *x <= t);
    v.insert(i, t);
}

// How often a caller held while a probe is under way asks again.
fn poll(rtt: u64) -> u64 {
    (rtt / 2).clamp(5, 200)
}

/// Milliseconds since the epoch.
pub(crate) fn ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the epoch.
pub(crate) fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    /// A pace on a clock of its own (ms after `T0`).
    struct Run {
        pace: Pace,
        now: u64,
    }

    impl Run {
        fn new(ceiling: Option<Quota>) -> Self {
            Self {
                pace: Pace::new(ceiling),
                now: 0,
            }
        }

        fn time(&self) -> SystemTime {
            at(T0 + self.now)
        }

        /// The call's ticket now, or how long to wait (ms).
        fn turn(&mut self) -> Result<Ticket, u64> {
            match self.pace.turn(self.time()) {
                Turn::Go(t) => Ok(t),
                Turn::Wait(until) => Err(ms(until) - T0 - self.now),
            }
        }

        /// Waits as long as the pace says, then sends.
        fn next(&mut self) -> Ticket {
            loop {
                match self.turn() {
                    Ok(t) => return t,
                    Err(wait) => self.now += wait,
                }
            }
        }

        fn answer(&mut self, t: Ticket, a: Answer) {
            self.pace.answered(t, a, self.time());
        }

        /// `n` calls let through, one after the other, `gap` ms apart.
        fn ok(&mut self, n: usize, gap: u64) {
            for _ in 0..n {
                let t = self.next();
                self.answer(t, Answer::Counted);
                self.now += gap;
            }
        }

        /// A call refused (with `Retry-After` in seconds).
        fn refused(&mut self, retry_after: Option<u64>) {
            let t = self.next();
            let ra = retry_after.map(|s| at(T0 + self.now + s * 1000));
            self.answer(t, Answer::Refused(ra));
        }
    }

    #[test]
    fn calls_go_at_once_until_a_refusal() {
        let mut r = Run::new(None);
        r.ok(500, 0);
        assert_eq!(r.now, 0);
        assert_eq!(r.pace.quota(), None);
    }

    #[test]
    fn retry_after_says_when_the_probe_goes_and_nothing_goes_before() {
        let mut r = Run::new(None);
        r.ok(10, 10);
        r.refused(Some(7));
        let refused_at = r.now;
        // Held until then, by as much as it says.
        assert_eq!(r.turn(), Err(7000));
        let probe = r.next();
        assert_eq!(r.now, refused_at + 7000);
        // Only one probe at a time.
        assert!(r.turn().is_err());
        r.answer(probe, Answer::Counted);
        // Ten calls, then the window reopened about 7 s after the first.
        let q = r.pace.quota().unwrap();
        assert_eq!(q.calls, 10);
        assert!((7000..7500).contains(&q.window), "{q:?}");
    }

    #[test]
    fn the_first_probe_let_through_tells_the_window_and_the_count() {
        let mut r = Run::new(None);
        // 20 calls in 200 ms, then a 429: a window of 20 calls.
        r.ok(20, 10);
        r.refused(None);
        // Probes go at the common lengths from the first call: refused at 1 s and 2 s...
        let p = r.next();
        assert_eq!(r.now, 1000 + probe::margin(1000));
        r.answer(p, Answer::Refused(None));
        let p = r.next();
        assert_eq!(r.now, 2000 + probe::margin(2000));
        r.answer(p, Answer::Refused(None));
        // ... let through at 5 s: 20 calls in 5 s (and its margin).
        let p = r.next();
        assert_eq!(r.now, 5000 + probe::margin(5000));
        r.answer(p, Answer::Counted);
        let learned = Quota {
            calls: 20,
            window: 5000 + probe::margin(5000),
        };
        assert_eq!(r.pace.quota(), Some(learned));
        // From then on at most 20 in any window: the next 19 as the burst's calls leave it.
        let probe_at = r.now;
        r.ok(19, 0);
        assert_eq!(r.now, 190 + learned.window);
        r.ok(1, 0);
        assert_eq!(r.now, probe_at + learned.window);
    }

    #[test]
    fn before_anything_is_known_eight_calls_are_under_way_at_most() {
        let mut r = Run::new(None);
        let first: Vec<_> = (0..UNKNOWN_UNDER_WAY).map(|_| r.next()).collect();
        assert_eq!(r.now, 0);
        // A ninth waits for an answer (those under way at the first 429 are refused too).
        assert!(r.turn().is_err());
        r.answer(first[0], Answer::Counted);
        let ninth = r.next();
        assert_eq!(r.now, 0);
        assert!(r.turn().is_err());
        // Calls left without an answer (a process killed) hold nobody back for long.
        r.now += UNDER_WAY_FOR;
        assert!(r.turn().is_ok());
        r.answer(ninth, Answer::Counted);
    }

    #[test]
    fn a_call_sent_just_after_a_refused_one_does_not_say_the_window_reopened() {
        let mut r = Run::new(None);
        // Round trips of 20 ms: 20 calls let through, then calls 21 and 22 go 1 ms apart.
        for _ in 0..20 {
            let t = r.next();
            r.now += 20;
            r.answer(t, Answer::Counted);
        }
        let refused = r.next();
        r.now += 1;
        let reordered = r.next();
        r.now += 19;
        r.answer(refused, Answer::Refused(None));
        // The later call reached the server first and was let through: no window reopened
        // 1 ms after the refusal, so the pace still waits for a probe.
        r.now += 1;
        r.answer(reordered, Answer::Counted);
        assert!(r.pace.blocked());
        assert_eq!(r.pace.quota(), None);
    }

    #[test]
    fn calls_under_way_count() {
        let mut r = Run::new(Some(Quota {
            calls: 3,
            window: 1000,
        }));
        let sent: Vec<_> = (0..3).map(|_| r.next()).collect();
        assert_eq!(r.now, 0);
        // Three calls without an answer yet fill the quota.
        assert_eq!(r.turn(), Err(1000));
        for t in sent {
            r.answer(t, Answer::Counted);
        }
        assert_eq!(r.turn(), Err(1000));
    }

    #[test]
    fn a_callers_own_quota_is_a_second_gate() {
        // Learned: 20 a second; the caller's: 30 a minute. Both hold.
        let mut r = learned_20_per_second();
        r.pace = r.pace.clone().with_ceiling(Some(Quota::per_minute(30)));
        r.now += 120_000;
        let start = r.now;
        r.ok(20, 0);
        assert_eq!(r.now, start);
        r.ok(10, 0);
        assert_eq!(r.now, start + r.pace.quota.unwrap().window);
        r.ok(1, 0);
        assert_eq!(r.now, start + Quota::per_minute(30).window);
    }

    #[test]
    fn a_fixed_rate_allows_bursts_and_holds_the_rest_a_window() {
        let mut r = Run::new(Some(Quota::per_minute(120)));
        r.ok(120, 0);
        assert_eq!(r.now, 0);
        r.ok(1, 0);
        assert_eq!(r.now, Quota::per_minute(120).window);
    }

    // Learns 20 calls per 1 s (and margin) from a burst of 20.
    fn learned_20_per_second() -> Run {
        let mut r = Run::new(None);
        r.ok(20, 10);
        r.refused(None);
        let p = r.next();
        r.answer(p, Answer::Counted);
        assert_eq!(r.pace.quota().map(|q| q.calls), Some(20));
        r
    }

    #[test]
    fn a_refusal_while_paced_lowers_the_count_to_what_the_window_held() {
        let mut r = learned_20_per_second();
        let window = r.pace.quota().unwrap().window;
        // Later, someone else takes 5 of the 20: the 16th call of a window is refused.
        r.now += 10 * window;
        r.ok(15, 1);
        r.refused(None);
        // The window reopens when the first of the 15 leaves it.
        let p = r.next();
        r.answer(p, Answer::Counted);
        assert_eq!(r.pace.quota(), Some(Quota { calls: 15, window }));
    }

    #[test]
    fn a_refusal_while_paced_that_the_count_explains_not_lowers_it_but_widens_the_window() {
        let mut r = learned_20_per_second();
        let window = r.pace.quota().unwrap().window;
        // The network delayed the first call of a window more than the margin: the call sent
        // a window after it is refused.
        r.now += 10 * window;
        r.ok(20, 1);
        r.refused(None);
        let p = r.next();
        r.answer(p, Answer::Counted);
        let q = r.pace.quota().unwrap();
        assert_eq!(q.calls, 20);
        assert_eq!(q.window, window + probe::margin(window));
    }

    #[test]
    fn a_refusal_while_paced_at_a_longer_window_learns_it() {
        let mut r = learned_20_per_second();
        let window = r.pace.quota().unwrap().window;
        // The server's window is 2 s: the next burst is refused at once.
        r.now += window;
        r.refused(None);
        loop {
            let p = r.next();
            let reopened = r.now >= 2000 + window;
            r.answer(
                p,
                if reopened {
                    Answer::Counted
                } else {
                    Answer::Refused(None)
                },
            );
            if reopened {
                break;
            }
        }
        let q = r.pace.quota().unwrap();
        assert!(q.window >= 2000 && q.calls == 20, "{q:?}");
    }

    #[test]
    fn a_long_calm_raises_the_count_and_a_refused_raise_waits_longer_next_time() {
        let mut r = learned_20_per_second();
        let q = r.pace.quota().unwrap();
        // Calls held back by the pace, never refused: after CALM_MIN (30 windows of 1 s), a
        // quarter more.
        let start = r.now;
        while r.pace.quota() == Some(q) {
            r.ok(1, 0);
        }
        assert!(r.now - start >= CALM_MIN, "{}", r.now - start);
        assert_eq!(r.pace.quota().unwrap().calls, 25);
        assert_eq!(r.pace.patience, CALM_WINDOWS);
        // Refused at 21 in a window: the raise was too much.
        r.now += 2 * q.window;
        r.ok(20, 1);
        r.refused(None);
        assert_eq!(r.pace.patience, 2 * CALM_WINDOWS);
    }

    #[test]
    fn a_count_learned_from_a_refused_first_call_doubles_after_each_calm_window() {
        let mut r = Run::new(None);
        // Someone else had used the quota up: the first call is refused.
        r.refused(Some(1));
        let p = r.next();
        r.answer(p, Answer::Counted);
        let q = r.pace.quota().unwrap();
        assert_eq!(q.calls, 1);
        r.ok(12, 0);
        assert!(r.pace.quota().unwrap().calls >= 4, "{:?}", r.pace.quota());
    }

    #[test]
    fn a_lost_probe_is_sent_again_and_a_lost_call_counts() {
        let mut r = Run::new(None);
        r.ok(5, 0);
        r.refused(Some(2));
        let p = r.next();
        r.answer(p, Answer::Lost);
        let again = r.next();
        assert_eq!(again.sent, p.sent);
        assert!(again.probe);
        r.answer(again, Answer::Counted);
        // The lost one and the probe are both in the log.
        assert_eq!(r.pace.log.len(), 7);
    }

    #[test]
    fn a_clock_that_went_back_forgets_what_it_said_later() {
        let mut r = Run::new(Some(Quota::per_minute(2)));
        r.now = 3_600_000;
        r.ok(2, 0);
        r.refused(None);
        r.now = 0;
        assert!(r.turn().is_ok());
        assert!(!r.pace.blocked());
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut r = learned_20_per_second();
        r.ok(3, 7);
        let json = serde_json::to_string(&r.pace).unwrap();
        let back: Pace = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r.pace);
    }
}
