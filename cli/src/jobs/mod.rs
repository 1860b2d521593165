//! The subcommands, and what they share: exit codes, error messages, the credentials gate,
//! printing results.

pub mod docs;
pub mod emulator;
pub mod gate;
pub mod import;
pub mod ls;
pub mod upload;
pub mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use wix_media_upload::Error;
use wix_media_upload::wix::WixClient;

use self::gate::Verdict;
use crate::args::SiteArgs;
use crate::interrupt::{Reason, Stop};
use crate::output::{self, Stdout};
use crate::target::{self, Settings, Wix};

/// The state directory the command line names, or the default one.
pub fn state_dir(site: &SiteArgs) -> PathBuf {
    site.state
        .state_dir
        .clone()
        .unwrap_or_else(target::default_state_dir)
}

/// The Wix side of a command: the site in the environment, or with `--emulator` the built-in
/// emulator under the state directory (started on first use). No credentials: exit 2.
pub fn open_wix(site: &SiteArgs, mut settings: Settings) -> Result<Wix, Exit> {
    let credentials = target::choose(site.emulator).map_err(|text| usage(&text))?;
    settings.rate = site.rate;
    Wix::new(credentials, &state_dir(site), settings).map_err(|text| fail(&text))
}

/// Runs `job` on the Wix side of `import` and `wait`.
fn on_wix(site: &SiteArgs, job: impl FnOnce(&Wix, &WixClient) -> Exit) -> Exit {
    let wix = match open_wix(site, Settings::default()) {
        Ok(wix) => wix,
        Err(exit) => return exit,
    };
    match wix.client(&output::info) {
        Ok(client) => job(&wix, client),
        Err(text) => fail(&text),
    }
}

fn fail(text: &str) -> Exit {
    output::note(text);
    Exit::Failed
}

/// Prints one result line; a stdout that can't be written to stops the run. Whether it was
/// written.
pub fn print(out: &Stdout, stop: &Stop, line: &impl Serialize) -> bool {
    let text = match serde_json::to_string(line) {
        Ok(t) => t,
        Err(e) => {
            output::note(&format!("cannot write a result: {e}"));
            return false;
        }
    };
    match out.line(&text) {
        Ok(()) => true,
        Err(e) => {
            stop.stdout_failed(&e);
            false
        }
    }
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
    /// Stopped by this signal.
    Signal(i32),
    /// Stdout was closed under us.
    StdoutClosed,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Signal(n) => u8::try_from(128 + n).unwrap_or(255),
            // As if SIGPIPE had ended the process (128 + 13).
            Exit::StdoutClosed => 141,
        })
    }

    /// The exit for a run that was stopped, else `otherwise`.
    pub fn after(stop: &Stop, otherwise: Exit) -> Exit {
        match stop.reason() {
            Some(Reason::Signal(n)) => Exit::Signal(n),
            Some(Reason::StdoutClosed) => Exit::StdoutClosed,
            Some(Reason::StdoutFailed | Reason::Refused) => Exit::Failed,
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

/// What a failed call of `client` says of the credentials: 401 and 403 on a REST call are
/// Wix refusing them (an upload host's 401 or 403 is about its token, not the key).
pub fn verdict(client: &WixClient, e: &Error) -> Verdict {
    let rest = format!("{}/site-media/", client.credentials().api_base());
    let on_rest = e.request().is_some_and(|r| r.url().starts_with(&rest));
    match e.status() {
        Some(401 | 403) if on_rest => Verdict::Refused,
        Some(_) if on_rest => Verdict::Accepted,
        _ => Verdict::Unknown,
    }
}

/// Wix refused the credentials: said once, and the run stops.
pub fn refused(stop: &Stop, e: &Error) {
    if !stop.stopped() {
        let status = e.status().unwrap_or(0);
        output::note(&format!(
            "Wix refused the credentials (HTTP {status}): check WIX_API_KEY (a key with the \
             Media Manager permission) and WIX_SITE_ID or WIX_ACCOUNT_ID; stopping"
        ));
    }
    stop.stop(Reason::Refused);
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
