//! A Wix upload's job record, kept through the state store under the job's key (the site, the
//! source file and everything asked of Wix) beside the tus records (`0600` in a `DirStore`):
//!
//! - uploading (resumable route): the upload URL and token Wix generated (the token a secret
//!   of the record), so a rerun resumes the tus upload without generating again;
//! - creating: written just before the request that creates the file (the simple `PUT`,
//!   finalize, an import): what is being created (route, name, size, folder, content MD5, start time),
//!   so a run that finds it (after a kill, a power cut) looks for the file before uploading;
//! - finished: the result, which answers a later upload of the same job while it is kept
//!   (an hour), as long as the source still has the same stamp (identity and ctime).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::client::WixUpload;
use super::finished;
use super::reconcile::{Expected, Place};
use super::resumable::ResumableTarget;
use crate::digest::{Md5Digest, parse_hex};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::StateStore;
use crate::store::{FINISHED_KEPT, Record};
use wix_media_tus::Metadata;

/// How long a kept upload URL and token are used (Wix's tokens last about 7 days).
const TOKEN_KEPT: Duration = Duration::from_secs(6 * 24 * 3600);

/// What is being created, written before the request that creates it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Intent {
    pub(super) route: KeptRoute,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) size_in_bytes: Option<u64>,
    /// An import's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) parent_folder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) file_path: Option<String>,
    /// The source's MD5, 32 hex digits, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) md5: Option<String>,
    /// When the first attempt to create the file began (ms since the Unix epoch).
    pub(super) started_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum KeptRoute {
    Simple,
    Resumable,
    Import,
}

impl Intent {
    /// The file that would have landed.
    pub(super) fn expected(&self) -> Expected<'_> {
        Expected {
            place: Place {
                parent_folder_id: self.parent_folder_id.as_deref(),
                file_path: self.file_path.as_deref(),
            },
            name: self.display_name.as_deref(),
            size: self.size_in_bytes,
            md5: self.md5.as_deref().and_then(parse_hex),
            source_url: self.source_url.as_deref(),
            since: self.started(),
        }
    }

    pub(super) fn started(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.started_ms)
    }

    /// Sets the source's MD5.
    pub(super) fn with_md5(mut self, md5: Option<Md5Digest>) -> Self {
        if let Some(d) = md5 {
            self.md5 = Some(crate::digest::hex(&d));
        }
        self
    }
}

/// The record's `intent`: the upload under way (a resumable one's target, less its URL and
/// token), and what is being created, once that request is about to go.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kept {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creating: Option<Intent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_name: Option<String>,
}

/// What a job's record says.
#[derive(Debug)]
pub(super) enum Found {
    /// Nothing to go on: upload.
    Nothing,
    /// The job was done: its result.
    Finished(Box<WixUpload>),
    /// A resumable upload is under way to this target, and maybe its file is being created.
    Resumable(Box<ResumableTarget>, Option<Intent>),
    /// The simple route, or an import, was creating the file.
    Creating(Intent),
}

/// The record of one job.
pub(super) struct JobRecord<'a> {
    engine: &'a Engine,
    key: String,
    api_base: &'a str,
    size: u64,
    stamp: Option<String>,
}

impl<'a> JobRecord<'a> {
    /// The record under `key` of a job uploading a source of `size` bytes and `stamp` to the
    /// Wix API at `api_base`.
    pub(super) fn new(
        engine: &'a Engine,
        key: String,
        api_base: &'a str,
        size: u64,
        stamp: Option<&str>,
    ) -> Self {
        Self {
            engine,
            key,
            api_base,
            size,
            stamp: stamp.map(str::to_owned),
        }
    }

    /// What the record says.
    pub(super) fn load(&self) -> Result<Found> {
        let Some(rec) = self.engine.store.load(&self.key)? else {
            return Ok(Found::Nothing);
        };
        // The same file, unless it was written to since (a stamp only says when known).
        let same_source = match (rec.source_stamp(), &self.stamp) {
            (Some(saved), Some(now)) => saved == now,
            _ => true,
        };
        if let Some(done) = rec.completed_at() {
            let kept = self
                .engine
                .now()
                .duration_since(done)
                .is_ok_and(|age| age < FINISHED_KEPT);
            return Ok(match finished::read(&rec) {
                Some(up) if kept && same_source => Found::Finished(Box::new(up)),
                _ => Found::Nothing,
            });
        }
        let Some(kept) = rec
            .intent()
            .and_then(|v| serde_json::from_value::<Kept>(v.clone()).ok())
        else {
            return Ok(Found::Nothing);
        };
        if !same_source {
            log::info!("the file changed since its last upload began: uploading it anew");
            return Ok(Found::Nothing);
        }
        let token = rec.metadata()?.get("token").map(Secret::new);
        // Wix's upload tokens last about 7 days: an older one is not tried.
        let fresh = self
            .engine
            .now()
            .duration_since(rec.created_at())
            .is_ok_and(|age| age < TOKEN_KEPT);
        Ok(match (token, kept.mime_type) {
            (Some(token), Some(mime)) if !rec.upload_url().is_empty() && fresh => {
                let target = ResumableTarget {
                    upload_url: rec.upload_url().to_owned(),
                    upload_token: token,
                    file_name: kept.file_name,
                    mime_type: mime,
                };
                Found::Resumable(Box::new(target), kept.creating)
            }
            _ => match kept.creating {
                Some(intent) if intent.route != KeptRoute::Resumable => Found::Creating(intent),
                _ => Found::Nothing,
            },
        })
    }

    /// Keeps `target`, a resumable upload under way (`creating`: and its file being created).
    pub(super) fn resumable(
        &self,
        target: &ResumableTarget,
        creating: Option<&Intent>,
    ) -> Result<()> {
        let token = Metadata::new()
            .with_secret("token", target.upload_token.expose())
            .map_err(|e| Error::store_with("cannot keep the upload token", e))?;
        let kept = Kept {
            creating: creating.cloned(),
            mime_type: Some(target.mime_type.clone()),
            file_name: target.file_name.clone(),
        };
        let rec = self.record(&target.upload_url, kept)?.with_metadata(&token);
        self.engine.store.save(&rec)
    }

    /// Keeps `intent`: the simple route (or an import) is about to create the file.
    pub(super) fn creating(&self, intent: &Intent) -> Result<()> {
        let kept = Kept {
            creating: Some(intent.clone()),
            mime_type: None,
            file_name: None,
        };
        self.engine.store.save(&self.record("", kept)?)
    }

    /// Keeps `done` as the job's result (for a later upload of the same job).
    pub(super) fn finished(&self, done: &WixUpload) -> Result<()> {
        let about = (self.api_base, self.size, self.stamp.clone());
        finished::keep(self.engine, self.key.clone(), about, done)
    }

    /// Forgets the job (nothing was created).
    pub(super) fn clear(&self) -> Result<()> {
        self.engine.store.remove(&self.key)
    }

    fn record(&self, upload_url: &str, kept: Kept) -> Result<Record> {
        let intent = serde_json::to_value(kept)
            .map_err(|e| Error::store_with("cannot encode the job's intent", e))?;
        Ok(
            Record::new(self.key.clone(), self.api_base, upload_url, Some(self.size))
                .with_created_at(self.engine.now())
                .with_source_stamp(self.stamp.clone())
                .with_intent(Some(intent)),
        )
    }
}
