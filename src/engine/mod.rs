//! The machinery every call stands on: one agent and its settings, the state store, the clock,
//! the retry policy, and one retry loop.
//!
//! - [`transport`]: send one request (ureq), get status, headers and a bounded body.
//! - [`Engine::run`]: the one retry loop, for tus uploads and Wix REST calls alike.
//! - [`tracked`]: one upload and its resume record (open, persist, restart, forget).
//! - [`single`]: drive a tracked upload over one connection; [`parallel`]: over several.
//! - [`progress`]: the rate-limited progress reporter.

pub(crate) mod parallel;
pub(crate) mod progress;
pub(crate) mod single;
pub(crate) mod tracked;
pub(crate) mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ureq::Agent;

use crate::control::{AbortHandle, Clock, sleep_unless_aborted};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::store::Watched;
use transport::{BODY_LIMIT, Call, HttpSettings, Response};
use wix_media_tus::{self as proto, Config, RetryState};

/// Shared by an [`Uploader`](crate::Uploader) and everything built on it.
pub(crate) struct Engine {
    pub(crate) agent: Agent,
    pub(crate) http: HttpSettings,
    pub(crate) tus: Config,
    pub(crate) retry: RetryPolicy,
    pub(crate) store: Arc<Watched>,
    /// The state directory the store was made from, if any.
    pub(crate) state_dir: Option<std::path::PathBuf>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) parallel: usize,
    /// Who this engine is, in the records it finishes (another writer's are news to it).
    pub(crate) writer_id: String,
    /// When it was made: records another writer finished since then are its answer too.
    pub(crate) started: std::time::SystemTime,
    /// Set once a server let an `Expect: 100-continue` wait run out: no more asking.
    pub(crate) expect_ignored: AtomicBool,
}

/// A first body read this long after the request went out means no `100 Continue` came: the
/// await-100 wait (ureq's is 1 s) ran out.
pub(crate) const EXPECT_IGNORED_AFTER: Duration = Duration::from_millis(900);

/// An id no other engine (in this or another process) has.
pub(crate) fn new_writer_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// What one step of a retried operation did.
pub(crate) enum Step<T> {
    /// Go on; no progress to speak of.
    Continue,
    /// Go on; progress was made, so the retry count restarts.
    Advanced,
    /// Finished.
    Done(T),
}

impl Engine {
    /// The protocol settings for a new upload: no `Expect` once a server ignored it.
    pub(crate) fn tus_config(&self) -> Config {
        let mut c = self.tus.clone();
        if self.expect_ignored.load(Ordering::Relaxed) {
            c.expect_continue_above = None;
        }
        c
    }

    /// Whether a body of `len` bytes outside the tus machine (the simple PUT) asks `Expect`.
    pub(crate) fn expect_for(&self, len: u64) -> bool {
        !self.expect_ignored.load(Ordering::Relaxed)
            && self
                .tus
                .expect_continue_above
                .is_some_and(|above| len > above)
    }

    /// Learns from a request that `asked` `Expect`, sent at `sent`, whose body was first read
    /// at `first_read`, whether the server answers `Expect` at all. (A wall-clock measure of
    /// the network, not the injected clock: nothing waits on it.)
    pub(crate) fn note_expect(&self, asked: bool, sent: Instant, first_read: Option<Instant>) {
        let ignored =
            asked && first_read.is_some_and(|t| t.duration_since(sent) >= EXPECT_IGNORED_AFTER);
        if ignored && !self.expect_ignored.swap(true, Ordering::Relaxed) {
            log::info!("the server does not answer Expect: 100-continue: not asking any more");
        }
    }

    /// The current time on the injected clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Sends one request.
    pub(crate) fn send(&self, call: Call<'_>) -> Result<Response> {
        transport::send(&self.agent, &self.http, call)
    }

    /// Sends a bodiless request the protocol built.
    pub(crate) fn send_tus(&self, req: &proto::Request, secrets: &[&str]) -> Result<Response> {
        self.send(Call {
            method: req.method,
            url: &req.url,
            headers: &req.headers,
            body: None,
            body_limit: BODY_LIMIT,
            secrets,
        })
    }

    /// The one retry loop: runs `step` until it is done, or fails with an error that is not
    /// worth retrying, or the policy's attempts since the last progress are used up. Waits
    /// between attempts on the injected clock and stops at once when `abort` fires.
    pub(crate) fn run<T>(
        &self,
        abort: Option<&AbortHandle>,
        mut step: impl FnMut() -> Result<Step<T>>,
    ) -> Result<T> {
        let mut retry = RetryState::new();
        loop {
            if abort.is_some_and(AbortHandle::is_aborted) {
                return Err(Error::Aborted);
            }
            match step() {
                Ok(Step::Done(t)) => return Ok(t),
                Ok(Step::Advanced) => retry.reset(),
                Ok(Step::Continue) => {}
                Err(e) => self.backoff(&mut retry, e, abort)?,
            }
        }
    }

    /// Tries `call` under the retry policy: for requests that are one step.
    pub(crate) fn retrying<T>(
        &self,
        abort: Option<&AbortHandle>,
        mut call: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        self.run(abort, || call().map(Step::Done))
    }

    // Waits before the next attempt, or returns the error when retrying is over.
    fn backoff(&self, retry: &mut RetryState, e: Error, abort: Option<&AbortHandle>) -> Result<()> {
        match retry.on_failure(self.retry.delays(), self.retry.retry_after_cap(), &e) {
            Some(delay) => {
                log::warn!(
                    "{e} (attempt {}); retrying in {delay:?}",
                    retry.attempts() - 1
                );
                if sleep_unless_aborted(&*self.clock, delay, abort) {
                    Ok(())
                } else {
                    Err(Error::Aborted)
                }
            }
            None if retry.attempts() > 1 && e.is_retryable() => Err(Error::GaveUp {
                attempts: retry.attempts(),
                last: Box::new(e),
            }),
            None => Err(e),
        }
    }
}
