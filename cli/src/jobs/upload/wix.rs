//! Wix mode: each file into the Media Manager, in its folder, through the credentials gate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use wix_media_upload::wix::{FileDescriptor, FileUpload, OperationStatus, Route, WixClient};

use super::{Ctx, Job, path_text};
use crate::args::RouteArg;
use crate::jobs::gate::{Pass, Verdict};
use crate::jobs::wait::{WaitError, wait_file};
use crate::jobs::{describe, refused, verdict};
use crate::progress::FileBar;
use crate::target::Wix;

/// The longest `--wait` for one file.
const WAIT: Duration = Duration::from_secs(3600);

/// A Wix result line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WixLine<'a> {
    path: &'a str,
    file: &'a FileDescriptor,
    resumed_from: Option<u64>,
    /// Not uploaded by this run: in the manifest, or uploaded by another process meanwhile.
    skipped: bool,
    /// `sync`: "upload" or "replace".
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    /// `sync`: the id of the file this one replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

impl Ctx<'_> {
    /// How the emulator's start is said: not with `-q`.
    fn announce(&self, text: &str) {
        if !crate::output::quiet() {
            self.board.note(text);
        }
    }

    fn wix_line(&self, job: &Job, file: &FileDescriptor, resumed_from: Option<u64>, skipped: bool) {
        // `sync` names files by their path in the folder, as its plan does.
        let path = match &self.replaces {
            Some(_) => crate::walk::rel_path(&job.found),
            None => path_text(job.path()),
        };
        let mut line = WixLine {
            path: &path,
            file,
            resumed_from,
            skipped,
            action: None,
            replaces: None,
            note: None,
        };
        if let Some(r) = self.replaces.as_ref().filter(|_| !skipped) {
            line.action = Some("upload");
            if let Some((old, rel)) = r.old.get(job.path()) {
                let mut made = r.made.lock().unwrap_or_else(|e| e.into_inner());
                made.push((old.clone(), rel.clone(), file.clone()));
                line.action = Some("replace");
                line.replaces = Some(old);
                line.note = Some(
                    "a new file with a new id and URL; the old one stays until trashed \
                     (--delete trashes it once this one is READY)",
                );
            }
        }
        self.emit(&line);
    }

    /// The manifest's entry printed again (with `--wait`, once the file is processed);
    /// `false` when it is not usable.
    pub(super) fn skip_wix(&self, w: &Wix, job: &Job, stored: &Value) -> bool {
        let Ok(mut file) = serde_json::from_value::<FileDescriptor>(stored["file"].clone()) else {
            return false;
        };
        if self.args.wait && file.operation_status != Some(OperationStatus::Ready) {
            let Some(done) = self.wait_stored(w, job, file) else {
                return true;
            };
            file = done;
        }
        self.board.skipped(job.size());
        self.wix_line(job, &file, None, true);
        true
    }

    /// `--wait` for a file the manifest holds as not yet processed; `None` when it failed
    /// (said) or the run stopped.
    fn wait_stored(&self, w: &Wix, job: &Job, stored: FileDescriptor) -> Option<FileDescriptor> {
        let Some(pass) = self.gate.enter(self.stop) else {
            self.board.left_undone();
            return None;
        };
        let client = match w.client(&|t| self.announce(t)) {
            Ok(c) => c,
            Err(text) => {
                self.fail_early(job.path(), job.size(), &text);
                return None;
            }
        };
        let bar = self.board.start_file(job.path(), job.size());
        bar.message("waiting for Wix to process it");
        let waited = self.wait_for(client, &stored);
        bar.discard();
        match waited {
            Ok(done) => {
                pass.end(Verdict::Accepted);
                self.remember(job, json!({ "file": done }));
                Some(done)
            }
            Err(WaitError::Stopped) => {
                self.board.left_undone();
                None
            }
            Err(e) => {
                self.board.failed_early(job.size());
                self.wait_failed(client, pass, job, e, stored);
                None
            }
        }
    }

    fn wait_for(
        &self,
        client: &WixClient,
        file: &FileDescriptor,
    ) -> Result<FileDescriptor, WaitError> {
        wait_file(client, file, Instant::now() + WAIT, self.stop)
    }

    /// A wait that ended without a READY file: the failure line (and a refusal stops the run).
    fn wait_failed(
        &self,
        client: &WixClient,
        pass: Pass<'_>,
        job: &Job,
        e: WaitError,
        file: FileDescriptor,
    ) {
        let text = e.message(file.id.as_deref().unwrap_or("?"));
        pass.end(e.verdict(client, self.stop));
        let failed = match e {
            WaitError::Failed(f) => *f,
            _ => file,
        };
        self.fail(job.path(), &text, Some(&failed));
    }

    /// How the command line asks the file to go to Wix.
    fn file_upload<'a>(&self, job: &Job) -> FileUpload<'a> {
        let route = match self.args.transfer.route {
            RouteArg::Auto => Route::Auto,
            RouteArg::Resumable => Route::Resumable,
            RouteArg::Simple => Route::Simple,
        };
        let upload = FileUpload::new()
            .route(route)
            .display_name(job.name.as_str())
            .options(self.args.file.options_in(job.folder.as_deref()))
            .reupload(self.args.force)
            .abort(self.stop.abort_handle().clone());
        match &self.args.transfer.mime {
            Some(m) => upload.mime_type(m.as_str()),
            None => upload,
        }
    }

    pub(super) fn upload_wix(&self, w: &Wix, job: &Job) {
        let Some(pass) = self.gate.enter(self.stop) else {
            return self.board.left_undone();
        };
        let client = match w.client(&|t| self.announce(t)) {
            Ok(c) => c,
            Err(text) => return self.fail_early(job.path(), job.size(), &text),
        };
        let mut bar = self.board.start_file(job.path(), job.size());
        // Bytes going out (or acknowledged) mean Wix accepted the generate call.
        let progressed = AtomicBool::new(false);
        let upload = self.file_upload(job).progress(|p| {
            if !progressed.swap(true, Ordering::Relaxed) {
                pass.accepted();
            }
            bar.update(p)
        });
        let result = client.upload_with(job.path(), upload);
        match result {
            Ok(done) if !progressed.load(Ordering::Relaxed) && done.resumed_from.is_none() => {
                // Another process uploaded it while this one waited for it: not our work.
                bar.discard();
                self.board.by_other(job.size());
                self.remember(job, json!({ "file": done.file }));
                self.wix_line(job, &done.file, None, true);
            }
            Ok(done) => {
                pass.end(Verdict::Accepted);
                self.uploaded(client, job, bar, done.file, done.resumed_from);
            }
            Err(_) if self.stop.stopped() => bar.interrupted(),
            Err(e) => {
                let v = verdict(client, &e);
                if v == Verdict::Refused {
                    refused(self.stop, &e);
                }
                pass.end(v);
                let text = describe(&e, Self::kept(job.path(), |s| client.has_saved(s)));
                bar.done(false);
                self.fail(job.path(), &text, None);
            }
        }
    }

    /// The file is uploaded: remembered, with `--wait` waited for, printed.
    fn uploaded(
        &self,
        client: &WixClient,
        job: &Job,
        bar: FileBar<'_>,
        mut file: FileDescriptor,
        resumed_from: Option<u64>,
    ) {
        self.remember(job, json!({ "file": file }));
        if self.args.wait {
            bar.message("waiting for Wix to process it");
            match self.wait_for(client, &file) {
                Ok(ready) => {
                    if ready != file {
                        self.remember(job, json!({ "file": ready }));
                    }
                    file = ready;
                }
                Err(WaitError::Stopped) => return bar.interrupted(),
                Err(e) => {
                    bar.done(false);
                    let text = e.message(file.id.as_deref().unwrap_or("?"));
                    // A refusal stops the run: the gate lets nobody through after a stop.
                    e.verdict(client, self.stop);
                    let failed = match e {
                        WaitError::Failed(f) => *f,
                        _ => file,
                    };
                    return self.fail(job.path(), &text, Some(&failed));
                }
            }
        }
        bar.done(true);
        self.wix_line(job, &file, resumed_from, false);
    }
}
