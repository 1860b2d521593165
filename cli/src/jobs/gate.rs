//! The credentials are proven by the first REST call Wix accepts: until then one job at a time
//! calls Wix and the others wait, so a bad key, a wrong site or a missing permission costs one
//! request and one message, not one of each per file.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::interrupt::Stop;

/// How often a waiting job looks at the stop switch.
const RECHECK: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No REST call accepted yet; `scouting` while one job tries.
    Unproven { scouting: bool },
    /// Wix accepted a call: every job may go.
    Proven,
    /// Wix refused the credentials: nobody goes.
    Closed,
}

/// How a job's calls went, for the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Wix answered a REST call with something other than 401 or 403.
    Accepted,
    /// Wix refused the credentials (401 or 403 on a REST call).
    Refused,
    /// Nothing learned (no REST call answered).
    Unknown,
}

/// The gate every job that calls Wix passes.
#[derive(Debug)]
pub struct Gate {
    state: Mutex<State>,
    changed: Condvar,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::new(State::Unproven { scouting: false }),
            changed: Condvar::new(),
        }
    }
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, state: State) {
        *self.state() = state;
        self.changed.notify_all();
    }

    /// Waits for this job's turn to call Wix; `None` when the run stopped or Wix refused the
    /// credentials meanwhile.
    pub fn enter(&self, stop: &Stop) -> Option<Pass<'_>> {
        let mut state = self.state();
        loop {
            if stop.stopped() || *state == State::Closed {
                return None;
            }
            match *state {
                State::Proven => return Some(Pass::new(self, false)),
                State::Unproven { scouting: false } => {
                    *state = State::Unproven { scouting: true };
                    return Some(Pass::new(self, true));
                }
                _ => {
                    state = self
                        .changed
                        .wait_timeout(state, RECHECK)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

/// A job's leave to call Wix.
#[derive(Debug)]
pub struct Pass<'g> {
    gate: &'g Gate,
    scout: bool,
}

impl<'g> Pass<'g> {
    fn new(gate: &'g Gate, scout: bool) -> Self {
        Pass { gate, scout }
    }

    /// Wix accepted one of this job's REST calls (its upload started sending bytes).
    pub fn accepted(&self) {
        if self.scout && matches!(*self.gate.state(), State::Unproven { .. }) {
            self.gate.set(State::Proven);
        }
    }

    /// The job is over; what its calls taught.
    pub fn end(self, verdict: Verdict) {
        match verdict {
            Verdict::Accepted => self.accepted(),
            Verdict::Refused => self.gate.set(State::Closed),
            Verdict::Unknown => {}
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        // A scout that learned nothing hands the turn to the next job.
        if self.scout && *self.gate.state() == (State::Unproven { scouting: true }) {
            self.gate.set(State::Unproven { scouting: false });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_scout_at_a_time_until_proven_or_refused() {
        let stop = Stop::default();
        let gate = Gate::default();
        let scout = gate.enter(&stop).expect("the first job scouts");
        assert!(scout.scout);
        // A scout that learned nothing lets the next one scout.
        scout.end(Verdict::Unknown);
        let scout = gate.enter(&stop).expect("the next job scouts");
        assert!(scout.scout);
        scout.accepted();
        let other = gate.enter(&stop).expect("proven: everyone goes");
        assert!(!other.scout);
        drop(scout);
        other.end(Verdict::Refused);
        assert!(gate.enter(&stop).is_none(), "refused: nobody goes");
    }

    #[test]
    fn a_waiting_job_leaves_when_the_run_stops() {
        let stop = Stop::default();
        let gate = Gate::default();
        let _scout = gate.enter(&stop).expect("scout");
        std::thread::scope(|s| {
            let waiting = s.spawn(|| gate.enter(&stop).is_none());
            stop.stop(crate::interrupt::Reason::Refused);
            assert!(waiting.join().unwrap());
        });
    }
}
