//! Stopping: a signal (Ctrl-C's SIGINT, SIGTERM from CI runners and `timeout`, SIGHUP from a
//! closed terminal: the first stops the batch keeping resume state, a second exits at once),
//! stdout that can't be written to, or Wix refusing the credentials.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use wix_media_upload::AbortHandle;

use crate::output::{self, WriteError};

/// Why the work stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A signal (its number): SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// Stdout was closed: nobody reads the results any more.
    StdoutClosed,
    /// Stdout could not be written to (said on stderr).
    StdoutFailed,
    /// Wix refused the credentials (401 or 403; said on stderr).
    Refused,
}

/// The one stop switch, shared by every job: it holds the [`AbortHandle`] every upload gets.
#[derive(Debug, Default)]
pub struct Stop {
    abort: AbortHandle,
    stopped: AtomicBool,
    reason: Mutex<Option<Reason>>,
    signals: AtomicUsize,
    woken: (Mutex<bool>, Condvar),
}

impl Stop {
    /// A switch with SIGINT, SIGTERM and SIGHUP wired to it.
    pub fn install() -> Arc<Stop> {
        let stop = Arc::new(Stop::default());
        let s = Arc::clone(&stop);
        let watched = Signals::new([SIGINT, SIGTERM, SIGHUP]).and_then(|mut signals| {
            std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    for signal in signals.forever() {
                        s.on_signal(signal);
                    }
                })
        });
        if let Err(e) = watched {
            log::warn!("signals will end the process at once: {e}");
        }
        stop
    }

    fn on_signal(&self, signal: i32) {
        if self.signals.fetch_add(1, Ordering::SeqCst) > 0 {
            output::note("interrupted again: exiting now");
            std::process::exit(128 + signal);
        }
        output::note(match signal {
            SIGINT => "stopping (Ctrl-C again to quit at once)",
            SIGTERM => "terminated (SIGTERM): stopping (again to quit at once)",
            _ => "hung up (SIGHUP): stopping (again to quit at once)",
        });
        self.stop(Reason::Signal(signal));
    }

    /// Stops: no new work starts and running uploads are aborted (their state is kept). The
    /// first reason is the one kept.
    pub fn stop(&self, reason: Reason) {
        {
            let mut kept = self.reason.lock().unwrap_or_else(|e| e.into_inner());
            kept.get_or_insert(reason);
        }
        self.stopped.store(true, Ordering::SeqCst);
        self.abort.abort();
        let (lock, cvar) = &self.woken;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }

    /// Stops for a stdout that can't be written to: quietly for a closed pipe, said once for
    /// anything else.
    pub fn stdout_failed(&self, e: &WriteError) {
        match e {
            WriteError::Closed => self.stop(Reason::StdoutClosed),
            WriteError::Failed(text) => {
                if !self.stopped() {
                    output::note(&format!("cannot write the results to stdout: {text}"));
                }
                self.stop(Reason::StdoutFailed);
            }
        }
    }

    /// Why it stopped, if it did.
    pub fn reason(&self) -> Option<Reason> {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stopped by a signal: the batch was interrupted, its state kept for a rerun.
    pub fn interrupted(&self) -> bool {
        matches!(self.reason(), Some(Reason::Signal(_)))
    }

    /// The handle given to every upload.
    pub fn abort_handle(&self) -> &AbortHandle {
        &self.abort
    }

    /// Blocks until stopped.
    pub fn wait(&self) {
        let (lock, cvar) = &self.woken;
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*guard {
            guard = cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }
}
