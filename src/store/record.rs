//! What is remembered of one upload. Its serde form is the state file's (see `format.rs`).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::format;
use crate::digest::Md5Digest;
use crate::error::{Error, Result};
use crate::secret::Secret;
use wix_media_tus::Metadata;

/// What is remembered of one upload, to resume it in a later call or process, or to tell a
/// second writer how it ended. `Debug` masks the metadata values (they may hold the upload
/// token).
///
/// A [`StateStore`](super::StateStore) keeps it as it likes; its serde form (a map with a
/// format `version`) is what [`DirStore`](super::DirStore) writes, and deserializing also
/// reads records written by earlier versions of this crate. A record of a format newer than
/// this crate knows is refused with an error, never misread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "format::Stored", into = "format::Current")]
pub(crate) struct Record {
    pub(super) key: String,
    pub(super) endpoint: String,
    pub(super) upload_url: String,
    pub(super) length: Option<u64>,
    pub(super) offset: u64,
    pub(super) created_at: SystemTime,
    pub(super) expires_at: Option<SystemTime>,
    pub(super) metadata: Vec<(String, Secret)>,
    pub(super) secret_keys: Vec<String>,
    pub(super) chunk_size: Option<u64>,
    pub(super) completed_at: Option<SystemTime>,
    // What a layer above tus keeps of the finished upload (the Wix client: the file and the
    // route); opaque here.
    pub(super) result: Option<serde_json::Value>,
    pub(super) finished_by: Option<String>,
    // The MD5 of the upload's first bytes, up to an offset the server acknowledged: a resume
    // first checks that the source still starts with them.
    pub(super) acked_md5: Option<(u64, Md5Digest)>,
    // The source file's identity and change time (see `Source::stamp`), when the upload was
    // created: bytes the server holds beyond `acked_md5` are trusted only while it is the same.
    pub(super) source_stamp: Option<String>,
    // What a layer above tus keeps of a job under way (the Wix client: what it is creating);
    // opaque here.
    pub(super) intent: Option<serde_json::Value>,
}

impl Record {
    /// A record of the upload at `upload_url`, created at `endpoint`, saved under `key`:
    /// offset 0, created at the Unix epoch, no metadata, not finished.
    pub(crate) fn new(
        key: impl Into<String>,
        endpoint: impl Into<String>,
        upload_url: impl Into<String>,
        length: Option<u64>,
    ) -> Self {
        Self {
            key: key.into(),
            endpoint: endpoint.into(),
            upload_url: upload_url.into(),
            length,
            offset: 0,
            created_at: SystemTime::UNIX_EPOCH,
            expires_at: None,
            metadata: Vec::new(),
            secret_keys: Vec::new(),
            chunk_size: None,
            completed_at: None,
            result: None,
            finished_by: None,
            acked_md5: None,
            source_stamp: None,
            intent: None,
        }
    }

    /// Sets the last offset the server acknowledged.
    #[must_use]
    pub(crate) fn with_offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// Sets when the upload was created (kept to the millisecond).
    #[must_use]
    pub(crate) fn with_created_at(mut self, at: SystemTime) -> Self {
        self.created_at = whole_ms(at);
        self
    }

    /// Sets when the server forgets the upload (its `Upload-Expires`; kept to the
    /// millisecond).
    #[must_use]
    pub(crate) fn with_expires_at(mut self, at: Option<SystemTime>) -> Self {
        self.expires_at = at.map(whole_ms);
        self
    }

    /// Sets the metadata the upload was created with; its secrets stay marked.
    #[must_use]
    pub(crate) fn with_metadata(mut self, metadata: &Metadata) -> Self {
        self.metadata = metadata
            .iter()
            .map(|(k, v)| (k.to_owned(), Secret::new(v)))
            .collect();
        self.secret_keys = metadata
            .iter()
            .filter(|(k, _)| metadata.is_secret(k))
            .map(|(k, _)| k.to_owned())
            .collect();
        self
    }

    /// Sets the largest body the server took, when refused bodies taught one.
    #[must_use]
    pub(crate) fn with_chunk_size(mut self, bytes: Option<u64>) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Sets the digest of the upload's first `offset` bytes (acknowledged by the server).
    #[must_use]
    pub(crate) fn with_acked_md5(mut self, acked: Option<(u64, Md5Digest)>) -> Self {
        self.acked_md5 = acked;
        self
    }

    /// Sets the source's stamp (identity and change time) when the upload was created.
    #[must_use]
    pub(crate) fn with_source_stamp(mut self, stamp: Option<String>) -> Self {
        self.source_stamp = stamp;
        self
    }

    /// Sets what a layer above keeps of a job under way.
    #[must_use]
    pub(crate) fn with_intent(mut self, intent: Option<serde_json::Value>) -> Self {
        self.intent = intent;
        self
    }

    /// Marks the upload finished `at` by `writer`, keeping `result` for a layer above, and
    /// drops the secrets (a finished upload needs no token).
    #[must_use]
    pub(crate) fn finished(
        mut self,
        at: SystemTime,
        writer: &str,
        result: Option<serde_json::Value>,
    ) -> Self {
        self.completed_at = Some(whole_ms(at));
        self.finished_by = Some(writer.to_owned());
        self.result = result;
        self.intent = None;
        let secret = std::mem::take(&mut self.secret_keys);
        self.metadata.retain(|(k, _)| !secret.contains(k));
        self
    }

    /// The key it is saved under: the creation URL and the source's fingerprint.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The creation URL the upload was made at.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The upload's URL.
    pub(crate) fn upload_url(&self) -> &str {
        &self.upload_url
    }

    /// Total bytes (`None` for a stream whose length was not known yet).
    pub(crate) fn length(&self) -> Option<u64> {
        self.length
    }

    /// The last offset the server acknowledged when the record was saved (a resume asks the
    /// server anyway).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// When the upload was created.
    pub(crate) fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// When the server forgets the upload (its `Upload-Expires`), if it said.
    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The metadata the upload was created with (it may hold the upload token, marked
    /// secret).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when a saved key is not a valid metadata key.
    pub(crate) fn metadata(&self) -> Result<Metadata> {
        let mut m = Metadata::new();
        for (k, v) in &self.metadata {
            m = if self.secret_keys.contains(k) {
                m.with_secret(k, v.expose())
            } else {
                m.with(k, v.expose())
            }
            .map_err(|e| Error::store_with("saved metadata is invalid", e))?;
        }
        Ok(m)
    }

    /// The largest body the server took, when refused bodies taught one.
    pub(crate) fn chunk_size(&self) -> Option<u64> {
        self.chunk_size
    }

    /// When the upload finished: a finished upload's record is kept for a while, so that a
    /// second writer that came meanwhile learns the outcome.
    pub(crate) fn completed_at(&self) -> Option<SystemTime> {
        self.completed_at
    }

    /// What a layer above tus kept of the finished upload.
    pub(crate) fn result(&self) -> Option<&serde_json::Value> {
        self.result.as_ref()
    }

    /// Which uploader finished it (an opaque id).
    pub(crate) fn finished_by(&self) -> Option<&str> {
        self.finished_by.as_deref()
    }

    /// The digest of the upload's first bytes, and how many they are.
    pub(crate) fn acked_md5(&self) -> Option<(u64, Md5Digest)> {
        self.acked_md5
    }

    /// The source's stamp when the upload was created.
    pub(crate) fn source_stamp(&self) -> Option<&str> {
        self.source_stamp.as_deref()
    }

    /// What a layer above keeps of a job under way.
    pub(crate) fn intent(&self) -> Option<&serde_json::Value> {
        self.intent.as_ref()
    }
}

/// `t` cut to whole milliseconds, as records keep times (so a saved record loads equal).
pub(crate) fn whole_ms(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + Duration::from_millis(millis(d)),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

/// Milliseconds in `d`, saturating.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
