//! The subcommands, and what they share: exit codes, error messages, waiting for Wix.

pub mod emulator;
pub mod import;
pub mod upload;
pub mod wait;

use std::process::ExitCode;

use wix_media_upload::Error;

use crate::args::StateArgs;
use crate::interrupt::{Reason, Stop};
use crate::output;
use crate::target::{self, Settings, Wix};

/// Runs `job` on the Wix side of `import` and `wait`: the site in the environment, else the
/// built-in emulator under the state directory (started here).
fn on_wix(
    state: StateArgs,
    job: impl FnOnce(&Wix, &wix_media_upload::wix::WixClient) -> Exit,
) -> Exit {
    let credentials = match target::env_credentials() {
        Ok(c) => c,
        Err(text) => return usage(&text),
    };
    let state_dir = state.state_dir.unwrap_or_else(target::default_state_dir);
    let wix = match Wix::new(credentials, &state_dir, Settings::default()) {
        Ok(wix) => wix,
        Err(text) => return fail(&text),
    };
    match wix.client(&output::note) {
        Ok(client) => job(&wix, client),
        Err(text) => fail(&text),
    }
}

fn fail(text: &str) -> Exit {
    output::note(text);
    Exit::Failed
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything succeeded.
    Ok,
    /// Something failed.
    Failed,
    /// The command line (or the environment) is not usable.
    Usage,
    /// Ctrl-C.
    Interrupted,
    /// Stdout was closed under us.
    StdoutClosed,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
            // As if SIGPIPE had ended the process (128 + 13).
            Exit::StdoutClosed => 141,
        })
    }

    /// The exit for a run that was stopped, else `otherwise`.
    pub fn after(stop: &Stop, otherwise: Exit) -> Exit {
        match stop.reason() {
            Some(Reason::Interrupted) => Exit::Interrupted,
            Some(Reason::StdoutClosed) => Exit::StdoutClosed,
            None => otherwise,
        }
    }
}

/// A usage error: said on stderr, exit 2.
pub fn usage(text: &str) -> Exit {
    output::note(text);
    output::stderr_line("For more information, try '--help'.");
    Exit::Usage
}

/// A one-line message for a failed upload; `kept` says whether a resume record is left (the
/// upload exists on the server and a rerun resumes it).
pub fn describe(e: &Error, kept: bool) -> String {
    let attempts = e.attempts();
    let text = if e.is_connection_refused() && !kept {
        let request = e
            .request()
            .map(|r| format!(" ({r}"))
            .unwrap_or_else(|| " (".into());
        let tries = if attempts == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{attempts} attempts")
        };
        format!("nothing was uploaded: the server refused the connection{request}, {tries})")
    } else if kept {
        format!("{e} (part of it is on the server: run again to resume)")
    } else {
        e.to_string()
    };
    output::one_line(&text)
}

/// A one-line message for a failed Wix call that uploads nothing (import, wait).
pub fn describe_call(e: &Error) -> String {
    if e.is_connection_refused() {
        let request = e.request().map(|r| format!(" ({r})")).unwrap_or_default();
        return output::one_line(&format!("the server refused the connection{request}"));
    }
    output::one_line(&e.to_string())
}
