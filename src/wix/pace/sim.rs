//! The pace against simulated servers, on virtual time: a server that allows `N` calls per
//! window (fixed or sliding, with or without `Retry-After`), `J` callers making `K` calls
//! through one pace, each call taking a network delay each way. Deterministic: the delays come
//! from a seeded generator, and nothing sleeps. `PACE_TRACE=1` prints every answer and what the
//! pace then holds.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

use super::{Answer, Pace, Quota, Ticket, Turn, at, ms};

/// How the server counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Window {
    /// The last `window` ms before each call.
    Sliding,
    /// Windows that restart every `window` ms, the first `phase` ms in.
    Fixed { phase: u64 },
}

/// A server that answers 429 past `calls` per `window` ms; refused calls don't count.
#[derive(Debug)]
pub(super) struct Server {
    kind: Window,
    calls: u32,
    window: u64,
    retry_after: bool,
    hits: VecDeque<u64>,
    fixed: (u64, u32),
}

impl Server {
    pub(super) fn new(kind: Window, calls: u32, window: u64, retry_after: bool) -> Self {
        Self {
            kind,
            calls,
            window,
            retry_after,
            hits: VecDeque::new(),
            fixed: (u64::MAX, 0),
        }
    }

    /// A call arriving at `t`: `Ok` let through, `Err` refused with `Retry-After` (seconds).
    pub(super) fn arrive(&mut self, t: u64) -> Result<(), Option<u64>> {
        let free_at = match self.kind {
            Window::Sliding => {
                while self.hits.front().is_some_and(|h| t - h >= self.window) {
                    self.hits.pop_front();
                }
                if self.hits.len() < self.calls as usize {
                    self.hits.push_back(t);
                    return Ok(());
                }
                self.hits[0] + self.window
            }
            Window::Fixed { phase } => {
                let k = (t + self.window - phase) / self.window;
                if self.fixed.0 != k {
                    self.fixed = (k, 0);
                }
                if self.fixed.1 < self.calls {
                    self.fixed.1 += 1;
                    return Ok(());
                }
                (k + 1) * self.window + phase - self.window
            }
        };
        Err(self
            .retry_after
            .then(|| (free_at - t).div_ceil(1000).max(1)))
    }
}

/// One run: who calls, how much, how far.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scenario {
    pub(super) kind: Window,
    pub(super) calls: u32,
    pub(super) window: u64,
    pub(super) retry_after: bool,
    /// Callers at once.
    pub(super) jobs: usize,
    /// Calls to make (a refused call is made again).
    pub(super) total: usize,
    /// One-way network delay, ms: from `delay.0` to `delay.1`.
    pub(super) delay: (u64, u64),
    /// What a caller does between its calls (the upload), ms.
    pub(super) work: u64,
    pub(super) seed: u64,
    /// The callers' own quota, if they know it.
    pub(super) ceiling: Option<Quota>,
    /// Calls someone else made just before the start (counted in the server's first window).
    pub(super) taken: u32,
}

impl Scenario {
    pub(super) fn new(kind: Window, calls: u32, window: u64, total: usize) -> Self {
        Self {
            kind,
            calls,
            window,
            retry_after: false,
            jobs: 4,
            total,
            delay: (10, 40),
            work: 20,
            seed: 1,
            ceiling: None,
            taken: 0,
        }
    }

    /// The quota's bound: a caller that knew the quota sends `N` at once, then `N` more each
    /// time the first of them leave the window (what a sliding window, or a fixed one whose
    /// window started with the first call, allows), plus one round trip.
    pub(super) fn bound(&self) -> u64 {
        let windows = (self.total as u64).div_ceil(u64::from(self.calls)) - 1;
        windows * self.window + self.delay.0 + self.delay.1
    }

    pub(super) fn run(&self) -> Outcome {
        Sim::new(self).run()
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub(super) struct Outcome {
    pub(super) scenario: Scenario,
    /// From the first call to the last answer, ms.
    pub(super) elapsed: u64,
    pub(super) refused: usize,
    pub(super) sent: usize,
    pub(super) learned: Option<Quota>,
}

impl Outcome {
    /// The bound as a share of the time taken (1.0: as fast as the quota allows).
    pub(super) fn of_bound(&self) -> f64 {
        self.scenario.bound() as f64 / self.elapsed as f64
    }

    /// Refused calls as a share of all calls sent.
    pub(super) fn refused_share(&self) -> f64 {
        self.refused as f64 / self.sent as f64
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.scenario;
        let kind = match s.kind {
            Window::Sliding => "sliding".to_owned(),
            Window::Fixed { phase } => format!("fixed@{phase}"),
        };
        write!(
            f,
            "{:>4}/{:>5}ms {:<11} RA={:<5} J={:<2} K={:<4} {:>8.1}s vs {:>6.1}s = {:>5.1}% of bound, {:>3}/{:<4} refused = {:>4.1}%, learned {:?}",
            s.calls,
            s.window,
            kind,
            s.retry_after,
            s.jobs,
            s.total,
            self.elapsed as f64 / 1000.0,
            s.bound() as f64 / 1000.0,
            100.0 * self.of_bound(),
            self.refused,
            self.sent,
            100.0 * self.refused_share(),
            self.learned.map(|q| (q.calls, q.window)),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A caller asks for its turn.
    Wake(usize),
    /// A call reaches the server.
    Arrive(usize, u64, bool),
    /// Its answer reaches the caller: let through, or refused with `Retry-After`.
    Answer(usize, u64, bool, Option<Option<u64>>),
}

struct Sim<'a> {
    s: &'a Scenario,
    server: Server,
    pace: Pace,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    rng: u64,
    queue: usize,
    holding: Vec<bool>,
    done: usize,
    refused: usize,
    sent: usize,
    last: u64,
}

/// Virtual time starts here (ms since the epoch), far from 0 so nothing underflows.
const T0: u64 = 1_800_000_000_000;

impl<'a> Sim<'a> {
    fn new(s: &'a Scenario) -> Self {
        Self {
            s,
            server: Server::new(s.kind, s.calls, s.window, s.retry_after),
            pace: Pace::new(s.ceiling),
            events: BinaryHeap::new(),
            seq: 0,
            rng: s
                .seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1),
            queue: s.total,
            holding: vec![false; s.jobs],
            done: 0,
            refused: 0,
            sent: 0,
            last: 0,
        }
    }

    fn at(&mut self, t: u64, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((t, self.seq, e)));
    }

    fn delay(&mut self) -> u64 {
        self.rng = self
            .rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let (lo, hi) = self.s.delay;
        lo + (self.rng >> 33) % (hi - lo + 1)
    }

    fn run(mut self) -> Outcome {
        for _ in 0..self.s.taken {
            assert!(self.server.arrive(0).is_ok(), "more taken than the quota");
        }
        for j in 0..self.s.jobs {
            self.at(0, Event::Wake(j));
        }
        let mut steps = 0u64;
        while let Some(Reverse((t, _, e))) = self.events.pop() {
            steps += 1;
            assert!(steps < 50_000_000, "the simulation does not end");
            match e {
                Event::Wake(j) => self.wake(j, t),
                Event::Arrive(j, sent, probe) => {
                    let verdict = self.server.arrive(t).err();
                    let back = t + self.delay();
                    self.at(back, Event::Answer(j, sent, probe, verdict));
                }
                Event::Answer(j, sent, probe, verdict) => self.answer(j, t, sent, probe, verdict),
            }
        }
        assert_eq!(self.done, self.s.total, "calls left undone");
        Outcome {
            scenario: *self.s,
            elapsed: self.last,
            refused: self.refused,
            sent: self.sent,
            learned: self.pace.quota(),
        }
    }

    fn wake(&mut self, j: usize, t: u64) {
        if !self.holding[j] {
            if self.queue == 0 {
                return;
            }
            self.queue -= 1;
            self.holding[j] = true;
        }
        match self.pace.turn(at(T0 + t)) {
            Turn::Go(ticket) => {
                self.sent += 1;
                let arrive = t + self.delay();
                self.at(arrive, Event::Arrive(j, ticket.sent, ticket.probe));
            }
            Turn::Wait(until) => {
                let until = ms(until) - T0;
                assert!(until > t, "a wait that does not wait");
                self.at(until, Event::Wake(j));
            }
        }
    }

    fn answer(&mut self, j: usize, t: u64, sent: u64, probe: bool, verdict: Option<Option<u64>>) {
        let ticket = Ticket { sent, probe };
        let answer = match verdict {
            None => Answer::Counted,
            Some(ra) => Answer::Refused(ra.map(|s| at(T0 + t + s * 1000))),
        };
        self.pace.answered(ticket, answer, at(T0 + t));
        if std::env::var_os("PACE_TRACE").is_some() {
            println!(
                "{t:>7} sent {:>7} probe={probe:<5} {:?} -> {:?} blocked={}",
                sent - T0,
                verdict,
                self.pace.quota().map(|q| (q.calls, q.window)),
                self.pace.blocked()
            );
        }
        if verdict.is_some() {
            self.refused += 1;
            self.at(t, Event::Wake(j));
        } else {
            self.holding[j] = false;
            self.done += 1;
            self.last = t;
            self.at(t + self.s.work, Event::Wake(j));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1000;
    const MIN: u64 = 60 * SEC;

    /// Each (calls, window, total, jobs) on every kind of window, with and without
    /// `Retry-After`.
    fn matrix(sets: &[(u32, u64, usize, usize)], kinds: &[fn(u64) -> Window]) -> Vec<Scenario> {
        let mut all = Vec::new();
        for retry_after in [false, true] {
            for &(calls, window, total, jobs) in sets {
                for kind in kinds {
                    let mut s = Scenario::new(kind(window), calls, window, total);
                    s.retry_after = retry_after;
                    s.jobs = jobs;
                    all.push(s);
                }
            }
        }
        all
    }

    const KINDS: [fn(u64) -> Window; 4] = [
        |_| Window::Sliding,
        |_| Window::Fixed { phase: 0 },
        |w| Window::Fixed { phase: w / 3 },
        |w| Window::Fixed { phase: w * 9 / 10 },
    ];

    /// The targets: 1 s windows (20 calls, and 5) and 60 s windows (200 calls).
    fn targets() -> Vec<Scenario> {
        matrix(
            &[
                (20, SEC, 300, 4),
                (20, SEC, 200, 8),
                (20, SEC, 400, 16),
                (5, SEC, 100, 4),
                (200, MIN, 250, 4),
                (200, MIN, 250, 8),
                (200, MIN, 600, 4),
            ],
            &KINDS,
        )
    }

    /// Runs `scenarios`, prints the table, and lists the rows outside the targets.
    fn misses(scenarios: Vec<Scenario>, of_bound: f64, refused: f64) -> Vec<String> {
        let mut bad = Vec::new();
        for s in scenarios {
            let o = s.run();
            println!("{o}");
            if o.of_bound() < of_bound || o.refused_share() > refused {
                bad.push(o.to_string());
            }
        }
        bad
    }

    #[test]
    fn the_quota_is_reached_with_few_refusals() {
        let bad = misses(targets(), 0.9, 0.05);
        assert!(bad.is_empty(), "{bad:#?}");
    }

    /// Known weaker cases, reported: a first refusal held up to a whole 1 s window by
    /// `Retry-After` (whole seconds) in a run of 10 windows; 100 a second for 16 callers, whose
    /// first burst goes 8 calls at a time (the cap before anything is known).
    #[test]
    fn weaker_cases_still_finish_without_many_refusals() {
        let mut edges = matrix(&[(20, SEC, 200, 4)], &KINDS);
        edges.extend(matrix(
            &[(100, SEC, 1500, 16)],
            &[KINDS[0], KINDS[1], KINDS[3]],
        ));
        let bad = misses(edges, 0.85, 0.05);
        assert!(bad.is_empty(), "{bad:#?}");
    }

    /// Misses kept in view: 100 a second, 16 callers, a fixed window whose restart falls in the
    /// first burst: the count learned is about one and a half times the server's until
    /// refusals while paced bring it down (75–81% of the bound, up to 7% refused).
    #[test]
    fn a_first_burst_across_a_fixed_restart_costs_a_few_windows() {
        let bad = misses(matrix(&[(100, SEC, 1000, 16)], &[KINDS[2]]), 0.7, 0.07);
        assert!(bad.is_empty(), "{bad:#?}");
    }

    /// The windows (20 a second, 200 a minute) under many network delays (seeded,
    /// from under a millisecond to 10–40 ms each way), callers, and pauses between calls: the
    /// network reorders calls and delays the oldest call of a window, and no run may be thrown
    /// far off by it (an earlier pace learned 70 ms windows, or hour-long ones, here).
    #[test]
    fn the_quota_is_reached_under_many_network_delays() {
        let (mut runs, mut off_target, mut worst) = (0, Vec::new(), (1.0f64, 0.0f64));
        for (calls, window, total) in [(20, SEC, 250), (200, MIN, 250)] {
            for kind in KINDS {
                for retry_after in [false, true] {
                    for jobs in [4, 8, 16] {
                        for delay in [(0, 1), (1, 10), (10, 40)] {
                            for (seed, work) in (1..=8).zip([0, 2, 20].into_iter().cycle()) {
                                let mut s = Scenario::new(kind(window), calls, window, total);
                                (s.retry_after, s.jobs, s.delay) = (retry_after, jobs, delay);
                                (s.seed, s.work) = (seed, work);
                                let o = s.run();
                                runs += 1;
                                worst.0 = worst.0.min(o.of_bound());
                                worst.1 = worst.1.max(o.refused_share());
                                if o.of_bound() < 0.9 || o.refused_share() > 0.05 {
                                    off_target.push(o.to_string());
                                }
                            }
                        }
                    }
                }
            }
        }
        println!(
            "{runs} runs, {} off target, worst {worst:?}",
            off_target.len()
        );
        assert!(off_target.len() * 100 <= runs, "{off_target:#?}");
        assert!(
            worst.0 >= 0.85 && worst.1 <= 0.06,
            "{worst:?}: {off_target:#?}"
        );
    }

    #[test]
    fn a_quota_the_callers_know_is_reached_without_refusals() {
        for kind in [Window::Sliding, Window::Fixed { phase: 20 * SEC }] {
            let mut s = Scenario::new(kind, 200, MIN, 600);
            s.ceiling = Some(Quota::per_minute(200));
            let o = s.run();
            println!("{o}");
            assert_eq!(o.refused, 0, "{o}");
            assert!(o.of_bound() > 0.95, "{o}");
        }
    }

    /// Others had used 15 of 20 when the run started, then stopped: the count learned (5) grows
    /// back after calm windows, a quarter at a time.
    #[test]
    fn a_count_learned_while_others_used_the_quota_grows_back_after_calm() {
        let mut s = Scenario::new(Window::Sliding, 20, SEC, 3000);
        s.taken = 15;
        let o = s.run();
        println!("{o}");
        let learned = o.learned.unwrap();
        assert!(learned.calls >= 18, "{o}");
        assert!(o.refused_share() <= 0.05, "{o}");
    }
}
