//! Plain tus mode (`--endpoint`): each file to a tus server, no Wix calls.

use serde::Serialize;
use serde_json::{Value, json};
use wix_media_upload::{Source, UploadOptions};

use super::{Ctx, Job, path_text};
use crate::jobs::describe;
use crate::target::Tus;

/// A tus result line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TusLine<'a> {
    path: &'a str,
    upload_url: &'a str,
    size: u64,
    resumed_from: Option<u64>,
    skipped: bool,
}

impl Ctx<'_> {
    /// The manifest's entry printed again; `false` when it is not usable.
    pub(super) fn skip_tus(&self, job: &Job, stored: &Value) -> bool {
        let (Some(url), Some(size)) = (stored["uploadUrl"].as_str(), stored["size"].as_u64())
        else {
            return false;
        };
        self.board.skipped(job.size());
        self.emit(&TusLine {
            path: &path_text(job.path()),
            upload_url: url,
            size,
            resumed_from: None,
            skipped: true,
        });
        true
    }

    fn mime_for(&self, job: &Job) -> String {
        self.args.transfer.mime.clone().unwrap_or_else(|| {
            mime_guess::from_path(&job.name)
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_owned()
        })
    }

    pub(super) fn upload_tus(&self, t: &Tus, job: &Job) {
        let path = job.path();
        let source = match Source::file(path) {
            Ok(s) => s,
            Err(e) => return self.fail_early(path, job.size(), &e.to_string()),
        };
        let mut bar = self.board.start_file(path, job.size());
        let result = t.uploader.upload(
            &t.endpoint,
            source,
            UploadOptions::new()
                .metadata("filename", job.name.as_str())
                .metadata("contentType", self.mime_for(job))
                .progress(|p| bar.update(p))
                .abort(self.stop.abort_handle().clone()),
        );
        match result {
            Ok(done) => {
                self.remember(job, json!({"uploadUrl": done.url, "size": done.size}));
                bar.done(true);
                self.emit(&TusLine {
                    path: &path_text(path),
                    upload_url: &done.url,
                    size: done.size,
                    resumed_from: done.resumed_from,
                    skipped: false,
                });
            }
            Err(_) if self.stop.stopped() => bar.interrupted(),
            Err(e) => {
                let text = describe(&e, Self::kept(path, |s| t.uploader.has_saved(s)));
                bar.done(false);
                self.fail(path, &text, None);
            }
        }
    }
}
