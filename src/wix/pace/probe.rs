//! Where a refused quota may reopen: one guess per window length, tried earliest first.
//!
//! For a window of length `c` the server counts (sliding), the call that keeps it full is the
//! oldest still inside it, so it reopens when that call is `c` old. A window that restarts
//! every `c` (fixed) reopens `c` after it last restarted (when a probe got through), and at the
//! latest `c` after the refusal. A call refused at `t` rules out every guess at or before `t`;
//! the first call let through tells the window. Paced, the guesses start at the window in
//! force, in finer steps (x1.1, x1.25, x1.5) before the longer common lengths.

use serde::{Deserialize, Serialize};

use super::Quota;

/// Window lengths servers commonly use, in seconds.
const COMMON: [u64; 11] = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/// Past the common lengths, guesses every hour.
const HOUR: u64 = 3_600_000;

/// A call sent this much later than the window's length still finds the window full when the
/// network delayed the oldest call more than it (2% and 5 ms).
pub(crate) fn margin(window: u64) -> u64 {
    window / 50 + 5
}

/// The guesses not ruled out yet, earliest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Probes {
    guesses: Vec<Guess>,
    /// The first call counted.
    start: u64,
    /// The last probe refused.
    refused: Option<u64>,
    /// Guesses from a quota in force (close together: no spacing).
    paced: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Guess {
    /// When the window would reopen.
    at: u64,
    /// Its length, margin included.
    window: u64,
    /// The first call it counts.
    from: u64,
}

/// What the probe that got through says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Learned {
    pub(crate) window: u64,
    /// Count the calls let through from here to the probe.
    pub(crate) count_from: u64,
}

/// What was seen when a call was refused.
pub(crate) struct Refusal<'a> {
    /// Send times of the calls not refused up to it (answered or not), ascending.
    pub(crate) sent: &'a [u64],
    /// Send times of the calls let through, ascending.
    pub(crate) counted: &'a [u64],
    /// Its send time.
    pub(crate) refused: u64,
    /// The last time the quota was seen reopen (a probe let through), or the first call.
    pub(crate) restart: u64,
    /// The quota in force.
    pub(crate) quota: Option<Quota>,
}

impl Probes {
    /// The guesses after a refusal. Paced, the window is at least the quota's: the guesses
    /// start there, with finer steps near it.
    pub(crate) fn after(r: &Refusal<'_>) -> Self {
        let mut windows: Vec<u64> = COMMON.iter().map(|s| s * 1000).collect();
        if let Some(q) = r.quota {
            windows.retain(|w| *w > q.window);
            windows.extend([100, 110, 125, 150].map(|k| q.window * k / 100));
        }
        let mut guesses = Vec::new();
        for w in windows {
            let window = match r.quota {
                Some(q) if q.window == w => w,
                _ => w + margin(w),
            };
            guesses.extend(guesses_for(r, w, window));
        }
        guesses.sort_by_key(|g| (g.at, g.window));
        guesses.dedup_by_key(|g| g.at);
        let start = guesses.iter().map(|g| g.from).min().unwrap_or(r.refused);
        Self {
            guesses,
            start,
            refused: None,
            paced: r.quota.is_some(),
        }
    }

    /// When the next probe may go: at the next guess, and after a refused probe no sooner
    /// than half the time waited so far while nothing is known (a few probes, however long
    /// the window; a probe late for a guess still tells it).
    pub(crate) fn next(&self) -> Option<u64> {
        let spaced = match self.refused {
            Some(t) if !self.paced => t + (t - self.start.min(t)) / 2,
            _ => 0,
        };
        let next = self.guesses.iter().find(|g| g.at >= spaced);
        let at = next.or(self.guesses.last())?.at;
        // However far the next guess, a probe after as long again as waited so far (1 s at
        // least) while paced: guesses thrown off by the network's delays cost a little, not hours.
        let latest = self
            .refused
            .filter(|_| self.paced)
            .map_or(u64::MAX, |t| t + (t - self.start.min(t)).max(1000));
        Some(at.min(latest))
    }

    /// A call sent at `sent` was refused: the window did not reopen by then, give or take
    /// `slack` (how much earlier than it a call sent before may have reached the server).
    pub(crate) fn refuted_by(&mut self, sent: u64, slack: u64, probe: bool) {
        self.guesses.retain(|g| g.at + slack > sent);
        if probe {
            self.refused = Some(sent);
        }
    }

    /// Every guess failed: go on hourly from `t`.
    pub(crate) fn extend_after(&mut self, t: u64) {
        let last = self.guesses.last().map_or(HOUR, |g| g.window);
        self.guesses.push(Guess {
            at: t + HOUR,
            window: last.max(HOUR),
            from: t,
        });
    }

    /// The call sent at `probe` got through, aimed at the guess at `aim` (or sent before the
    /// refusal was known: then `aim` is `probe`); `not_before` was the server's `Retry-After`
    /// (0 for none). The guess is the last one at or before the aim (the guesses skipped to
    /// space the probes are not known to be wrong, nor right), or paced the shortest one. Held
    /// by `Retry-After`, the shortest window in its last second; before any guess, the first
    /// one, shortened by how much earlier it reopened. `rtt` is the time answers take.
    pub(crate) fn measure(&self, probe: u64, aim: u64, not_before: u64, rtt: u64) -> Learned {
        // `Retry-After` is whole seconds from when the server refused (about a round trip
        // before it came): a guess more than a second before that is ruled out.
        let floor = not_before.saturating_sub(1000 + rtt);
        let confirmed = if not_before > aim {
            self.guesses
                .iter()
                .filter(|g| g.at <= probe && g.at >= floor)
                .min_by_key(|g| g.window)
        } else if self.paced {
            // Paced calls come steadily: every window reopens right after the refusal, and the
            // one in force is the likeliest.
            self.guesses
                .iter()
                .filter(|g| g.at <= aim)
                .min_by_key(|g| g.window)
        } else {
            self.guesses.iter().rfind(|g| g.at <= aim)
        };
        if let Some(g) = confirmed {
            return Learned {
                window: g.window,
                count_from: g.from,
            };
        }
        match self.guesses.iter().find(|g| g.at > probe) {
            Some(g) => {
                let window = g.window - (g.at - probe);
                Learned {
                    window: window + margin(window),
                    count_from: g.from,
                }
            }
            None => Learned {
                window: probe.saturating_sub(floor).max(1000),
                count_from: floor,
            },
        }
    }
}

// Where a window of length `w` (`window` with its margin) may reopen: when the oldest call it
// holds leaves it (sliding), `window` after it last restarted, and at the latest `window`
// after the refusal (fixed, when a restart inside the calls counted would explain them).
fn guesses_for(r: &Refusal<'_>, w: u64, window: u64) -> Vec<Guess> {
    let held = &r.sent[r.sent.partition_point(|t| *t + window <= r.refused)..];
    let paced = r.quota.is_some_and(|q| q.window == w);
    // A window much shorter than the calls counted, that let more through before than it held
    // when it refused, is not it (a fixed one may let twice its count through in one length:
    // only short ones are judged).
    let short = (r.refused - r.restart.min(r.refused)) / 2 > w;
    if !paced && short && (held.len() as u32) < most_in(r.counted, w - margin(w)) {
        return Vec::new();
    }
    // Paced, a longer window keeps the count: not one that let through more than twice it
    // (a fixed window lets twice its count through in one length, not more).
    if let Some(q) = r.quota.filter(|q| w > q.window)
        && most_in(r.counted, w - margin(w)) > 2 * q.calls
    {
        return Vec::new();
    }
    let from = held.first().copied().unwrap_or(r.refused);
    let mut guesses = vec![Guess {
        at: from + window,
        window,
        from,
    }];
    if r.restart > from && r.restart < r.refused {
        guesses.push(Guess {
            at: r.restart + window,
            window,
            from: r.restart,
        });
    }
    if r.refused - r.restart.min(r.refused) < w {
        guesses.push(Guess {
            at: r.refused + window,
            window,
            from: from.max(r.restart),
        });
    }
    guesses
}

// The most calls in any `window` of the ascending `times`.
fn most_in(times: &[u64], window: u64) -> u32 {
    let mut most = 0;
    let mut start = 0;
    for (i, t) in times.iter().enumerate() {
        while times[start] + window <= *t {
            start += 1;
        }
        most = most.max(i + 1 - start);
    }
    u32::try_from(most).unwrap_or(u32::MAX)
}
