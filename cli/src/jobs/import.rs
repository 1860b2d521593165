//! `wix-media import URL`: Wix fetches the file itself.

use std::time::{Duration, Instant};

use serde_json::json;
use wix_media_upload::wix::ImportFileRequest;

use super::wait::{WaitError, wait_file};
use super::{Exit, describe_call};
use crate::args::ImportArgs;
use crate::interrupt::{Reason, Stop};
use crate::output::{self, Stdout};

/// The longest `--wait`.
const WAIT: Duration = Duration::from_secs(3600);

pub fn run(args: ImportArgs, stop: &Stop, out: &Stdout) -> Exit {
    let state = args.state.clone();
    super::on_wix(state, |wix, client| import(args, wix, client, stop, out))
}

fn import(
    args: ImportArgs,
    wix: &crate::target::Wix,
    client: &wix_media_upload::wix::WixClient,
    stop: &Stop,
    out: &Stdout,
) -> Exit {
    let mut request = ImportFileRequest::new(args.url.as_str());
    if let Some(name) = &args.name {
        request = request.display_name(name.as_str());
    }
    request = request.options(args.file.options());
    let failure = |text: String| {
        output::note(&text);
        json!({"url": args.url, "error": text})
    };
    let (line, ok) = match client.import(&request) {
        Err(e) => (failure(describe_call(&e)), false),
        Ok(file) if !args.wait => {
            if wix.is_emulator() {
                output::note(
                    "the built-in emulator stops with this command: an import it has not \
                     fetched yet is lost (use --wait)",
                );
            }
            (json!({ "file": file }), true)
        }
        Ok(file) => match wait_file(client, &file, Instant::now() + WAIT, stop) {
            Ok(file) => (json!({ "file": file }), true),
            Err(WaitError::Stopped) => {
                output::note("interrupted");
                return Exit::after(stop, Exit::Failed);
            }
            Err(e) => {
                let text = e.message(file.id.as_deref().unwrap_or("?"));
                output::note(&text);
                let file = match e {
                    WaitError::Failed(f) => *f,
                    _ => file,
                };
                (json!({"file": file, "error": text}), false)
            }
        },
    };
    if out.json(&line).is_err() {
        stop.stop(Reason::StdoutClosed);
    }
    Exit::after(stop, if ok { Exit::Ok } else { Exit::Failed })
}
