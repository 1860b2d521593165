//! Stopping: Ctrl-C (the first stops the batch, keeping resume state; a second exits at once)
//! and a closed stdout (stops the batch quietly).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use wix_media_upload::AbortHandle;

use crate::output;

/// Why the work stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Ctrl-C (SIGINT).
    Interrupted,
    /// Stdout was closed: nobody reads the results any more.
    StdoutClosed,
}

/// The one stop switch, shared by every job: it holds the [`AbortHandle`] every upload gets.
#[derive(Debug, Default)]
pub struct Stop {
    abort: AbortHandle,
    reason: AtomicU8,
    presses: AtomicUsize,
    woken: (Mutex<bool>, Condvar),
}

impl Stop {
    /// A switch with Ctrl-C wired to it.
    pub fn install() -> Arc<Stop> {
        let stop = Arc::new(Stop::default());
        let s = Arc::clone(&stop);
        let handler = ctrlc::set_handler(move || {
            if s.presses.fetch_add(1, Ordering::SeqCst) == 0 {
                output::note("stopping (Ctrl-C again to quit at once)");
                s.stop(Reason::Interrupted);
            } else {
                output::note("interrupted again: exiting now");
                std::process::exit(130);
            }
        });
        if let Err(e) = handler {
            log::warn!("Ctrl-C will end the process at once: {e}");
        }
        stop
    }

    /// Stops: no new work starts and running uploads are aborted (their state is kept).
    pub fn stop(&self, reason: Reason) {
        let code = match reason {
            Reason::Interrupted => 1,
            Reason::StdoutClosed => 2,
        };
        let _ = self
            .reason
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.abort.abort();
        let (lock, cvar) = &self.woken;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }

    /// Why it stopped, if it did.
    pub fn reason(&self) -> Option<Reason> {
        match self.reason.load(Ordering::SeqCst) {
            1 => Some(Reason::Interrupted),
            2 => Some(Reason::StdoutClosed),
            _ => None,
        }
    }

    pub fn stopped(&self) -> bool {
        self.reason().is_some()
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
