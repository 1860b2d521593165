//! The requests that create a file (the simple `PUT`, finalize, import) are never sent again
//! blindly: before one goes out its job record says what is being created (see `job.rs`), and
//! when its outcome is unknown (`Error::is_outcome_unknown`) the file is looked for (see
//! `reconcile.rs`) and adopted when it landed; only when nothing landed is it sent again.

use std::time::Duration;

use super::FileDescriptor;
use super::job::{Intent, JobRecord, KeptRoute};
use super::reconcile::Lookout;
use super::resumable::{ResumableTarget, finalize_once};
use crate::control::AbortHandle;
use crate::digest::Md5Digest;
use crate::engine::Step;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::uploader::Uploader;

/// One file's creation, over its attempts.
pub(crate) struct Creating<'a> {
    pub(crate) lookout: Lookout<'a>,
    /// Where the intent is kept (none for an import, which has no job).
    pub(crate) job: Option<&'a JobRecord<'a>>,
    pub(crate) intent: Intent,
    /// A resumable upload's target, kept with the intent.
    pub(crate) target: Option<&'a ResumableTarget>,
    /// How long a new file may be missing from listings.
    pub(crate) list_lag: Duration,
    /// An attempt's outcome was unknown: its file may still land.
    pub(crate) unsure: bool,
    kept: bool,
}

impl<'a> Creating<'a> {
    /// The creation of the file `intent` describes (`unsure`: a run before this one may have
    /// created it already).
    pub(crate) fn new(lookout: Lookout<'a>, intent: Intent, list_lag: Duration) -> Self {
        Self {
            lookout,
            job: None,
            intent,
            target: None,
            list_lag,
            unsure: false,
            kept: false,
        }
    }

    /// Keeps the intent in `job`'s record, with `target` for the resumable route.
    pub(crate) fn kept_in(
        mut self,
        job: Option<&'a JobRecord<'a>>,
        target: Option<&'a ResumableTarget>,
    ) -> Self {
        self.job = job;
        self.target = target;
        self
    }

    /// Just before the request that creates the file: the intent is kept (once, and again
    /// when the source's MD5 became known).
    pub(crate) fn before(&mut self, md5: Option<Md5Digest>) -> Result<()> {
        let knew = self.intent.md5.is_some();
        self.intent = std::mem::replace(&mut self.intent, blank()).with_md5(md5);
        if self.kept && (knew || self.intent.md5.is_none()) {
            return Ok(());
        }
        self.keep(true)?;
        self.kept = true;
        Ok(())
    }

    /// The request's outcome is unknown: the file that landed, looked for until the list lag
    /// has passed; `None` when none did (the request may go again).
    pub(crate) fn landed(&mut self, md5: Option<Md5Digest>) -> Result<Option<FileDescriptor>> {
        self.unsure = true;
        self.intent = std::mem::replace(&mut self.intent, blank()).with_md5(md5);
        let deadline = self.lookout.clock.now() + self.list_lag;
        let found = self.lookout.find(&self.intent.expected(), deadline)?;
        match &found {
            Some(f) => log::info!(
                "the answer was lost, but the file landed: {} (taken as this upload's)",
                f.id.as_deref().unwrap_or("?")
            ),
            None => log::info!(
                "the answer was lost and no file landed within {:?}: sending it again",
                self.list_lag
            ),
        }
        Ok(found)
    }

    /// The creation failed for good: unless an attempt's file may still land, the intent is
    /// dropped (for a resumable upload, its target stays).
    pub(crate) fn failed(&self) -> Result<()> {
        if self.unsure || !self.kept {
            return Ok(());
        }
        self.keep(false)
    }

    fn keep(&self, creating: bool) -> Result<()> {
        let Some(job) = self.job else { return Ok(()) };
        let intent = creating.then_some(&self.intent);
        match (self.target, intent) {
            (Some(t), intent) => job.resumable(t, intent),
            (None, Some(intent)) => job.creating(intent),
            (None, None) => job.clear(),
        }
    }
}

// A placeholder while an intent is rebuilt.
fn blank() -> Intent {
    Intent {
        route: KeptRoute::Simple,
        display_name: None,
        size_in_bytes: None,
        source_url: None,
        parent_folder_id: None,
        file_path: None,
        md5: None,
        started_ms: 0,
    }
}

/// Finalizes the resumable upload to `target` (a tus upload finished with `token`, named
/// `filename`, of MD5 `md5`), never twice blindly: a lost answer, or a refusal of the token
/// after one (Wix answers a used token with 4xx, 429 included), looks for the file first.
pub(crate) fn finalize(
    uploader: &Uploader,
    (token, filename): (&Secret, Option<&str>),
    md5: Option<Md5Digest>,
    abort: Option<&AbortHandle>,
    creating: &mut Creating<'_>,
) -> Result<FileDescriptor> {
    let url = &creating
        .target
        .ok_or(Error::Internal("a finalize without its target"))?
        .upload_url;
    let got = uploader.engine().run(abort, || {
        creating.before(md5)?;
        match finalize_once(uploader, url, token, filename) {
            Ok(file) => Ok(Step::Done(Ok(file))),
            Err(e) if e.is_outcome_unknown() || (creating.unsure && refused(&e)) => {
                match creating.landed(md5)? {
                    Some(file) => Ok(Step::Done(Ok(file))),
                    // Nothing yet: finalize again.
                    None if e.is_outcome_unknown() => Err(e),
                    // The token is used, yet no file shows: stop (never a second file).
                    None => Ok(Step::Done(Err(e))),
                }
            }
            Err(e) => Err(e),
        }
    });
    let got = got.and_then(|r| r);
    if got.is_err() {
        creating.failed()?;
    }
    got
}

// An answer refusing the request itself (a used token): a 4xx.
fn refused(e: &Error) -> bool {
    e.status().is_some_and(|s| (400..500).contains(&s))
}
