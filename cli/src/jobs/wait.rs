//! `wix-media wait FILE_ID...`, and the wait for processing that `upload --wait` and
//! `import --wait` use: reads the file until it is READY or FAILED, stopping at Ctrl-C.

use std::time::{Duration, Instant};

use serde_json::json;
use wix_media_upload::wix::{FileDescriptor, OperationStatus, WixClient};
use wix_media_upload::{AbortHandle, Error};

use super::gate::Verdict;
use super::{Exit, describe_call, print, refused, verdict};
use crate::args::WaitArgs;
use crate::interrupt::Stop;
use crate::output::{self, Stdout};

/// Why waiting did not give a READY file.
#[derive(Debug)]
pub enum WaitError {
    /// Wix could not process it.
    Failed(Box<FileDescriptor>),
    /// Still not ready at the deadline.
    NotReady(Duration),
    /// A read failed.
    Call(Box<Error>),
    /// Stopped (a signal, stdout, the credentials).
    Stopped,
}

impl WaitError {
    pub fn message(&self, id: &str) -> String {
        match self {
            WaitError::Failed(_) => format!("Wix could not process file {id} (FAILED)"),
            WaitError::NotReady(waited) => format!(
                "file {id} was still being processed after {}",
                output::human_duration(*waited)
            ),
            WaitError::Call(e) => describe_call(e),
            WaitError::Stopped => "interrupted".into(),
        }
    }

    /// What the failure says of the credentials; a refusal stops the run (said once).
    pub fn verdict(&self, client: &WixClient, stop: &Stop) -> Verdict {
        match self {
            WaitError::Call(e) => {
                let v = verdict(client, e);
                if v == Verdict::Refused {
                    refused(stop, e);
                }
                v
            }
            WaitError::Failed(_) | WaitError::NotReady(_) => Verdict::Accepted,
            WaitError::Stopped => Verdict::Unknown,
        }
    }
}

/// Waits until `file` is READY (at once when it is), FAILED, `deadline` passes or `stop`
/// fires (the library's poll: backing off from 0.5 s to 10 s, a few 404s of a new file
/// tolerated).
pub fn wait_file(
    client: &WixClient,
    file: &FileDescriptor,
    deadline: Instant,
    stop: &Stop,
) -> Result<FileDescriptor, WaitError> {
    until(deadline, stop, |timeout, abort| {
        client.wait_processed(file, timeout, abort)
    })
}

// Runs one of the client's waits with what is left until `deadline`, stopped by `stop`.
fn until(
    deadline: Instant,
    stop: &Stop,
    wait: impl FnOnce(Duration, Option<&AbortHandle>) -> wix_media_upload::Result<FileDescriptor>,
) -> Result<FileDescriptor, WaitError> {
    let timeout = deadline.saturating_duration_since(Instant::now());
    match wait(timeout, Some(stop.abort_handle())) {
        Ok(file) if file.operation_status == Some(OperationStatus::Failed) => {
            Err(WaitError::Failed(Box::new(file)))
        }
        Ok(file) => Ok(file),
        Err(Error::NotReady { waited, .. }) => Err(WaitError::NotReady(waited)),
        Err(Error::Aborted) => Err(WaitError::Stopped),
        Err(e) => Err(WaitError::Call(Box::new(e))),
    }
}

pub fn run(args: WaitArgs, stop: &Stop, out: &Stdout) -> Exit {
    super::on_wix(&args.site, |_, client| wait(&args, client, stop, out))
}

fn wait(args: &WaitArgs, client: &WixClient, stop: &Stop, out: &Stdout) -> Exit {
    let deadline = Instant::now() + args.timeout;
    let mut failed = false;
    for id in &args.ids {
        let line = match until(deadline, stop, |t, abort| {
            client.wait_processed(id, t, abort)
        }) {
            Ok(file) => json!({ "file": file }),
            Err(WaitError::Stopped) => break,
            Err(e) => {
                failed = true;
                let text = e.message(id);
                output::note(&text);
                e.verdict(client, stop);
                match e {
                    WaitError::Failed(file) => json!({"fileId": id, "file": file, "error": text}),
                    _ => json!({"fileId": id, "error": text}),
                }
            }
        };
        if !print(out, stop, &line) || stop.stopped() {
            break;
        }
    }
    if stop.interrupted() {
        output::note("interrupted");
    }
    Exit::after(stop, if failed { Exit::Failed } else { Exit::Ok })
}
