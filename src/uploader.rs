//! The public face of the engine: [`Uploader`], its builder and per-upload options.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ureq::Agent;

use crate::checksum;
use crate::control::{AbortHandle, Clock, Progress, SystemClock};
use crate::digest::Md5Digest;
use crate::engine::Engine;
use crate::engine::progress::Reporter;
use crate::engine::tracked::Tracked;
use crate::engine::transport::{self, HttpSettings};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::source::Source;
use crate::store::{DirStore, MemoryStore, Record, StateStore, Watched};
use wix_media_tus::{self as proto, Config, CreationMode, Metadata, Upload};

/// Uploads files with tus 1.0 over a blocking [`ureq::Agent`].
///
/// Cheap to clone (clones share the agent, its connection pool, the settings and the state
/// store) and `Send + Sync`: one uploader serves every thread. Each call to
/// [`Uploader::upload`] is one upload.
///
/// [`ureq::Agent`]: https://docs.rs/ureq/3/ureq/struct.Agent.html
#[derive(Clone)]
pub struct Uploader {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.engine;
        f.debug_struct("Uploader")
            .field("chunk_size", &e.tus.chunk_size)
            .field("creation", &e.tus.creation)
            .field("parallel", &e.parallel)
            .field("retry", &e.retry)
            .field("connect_timeout", &e.http.connect_timeout)
            .field("stall_timeout", &e.http.stall_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Uploader`].
#[must_use]
pub struct UploaderBuilder {
    parallel: usize,
    agent: Option<Agent>,
    http: HttpSettings,
    proto: Config,
    retry: RetryPolicy,
    state_dir: Option<PathBuf>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UploaderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may hold credentials: only their names are shown.
        let headers: Vec<&str> = self.http.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("UploaderBuilder")
            .field("tus", &self.proto)
            .field("parallel", &self.parallel)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.http.connect_timeout)
            .field("stall_timeout", &self.http.stall_timeout)
            .field("user_agent", &self.http.user_agent)
            .field("headers", &headers)
            .field("state_dir", &self.state_dir)
            .field("own_agent", &self.agent.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for UploaderBuilder {
    fn default() -> Self {
        Self {
            parallel: 1,
            agent: None,
            http: HttpSettings {
                connect_timeout: Some(Duration::from_secs(10)),
                stall_timeout: Some(Duration::from_secs(30)),
                user_agent: transport::USER_AGENT.to_owned(),
                headers: Vec::new(),
            },
            proto: {
                let mut tus = Config::default();
                tus.checksums = checksum::SUPPORTED.to_vec();
                tus
            },
            retry: RetryPolicy::default(),
            state_dir: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl UploaderBuilder {
    /// PATCH bodies of at most `bytes` (at least 1); the default sends the rest of the file in
    /// one request.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.proto.chunk_size = Some(bytes.max(1));
        self
    }

    /// Uploads files over `n` connections at once when the server offers tus concatenation
    /// (default 1). Each connection sends its own slice of the file as a partial upload.
    pub fn parallel(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// How uploads are created (default [`CreationMode::Plain`]; checksums need
    /// [`CreationMode::Auto`], which asks the server what it supports).
    pub fn creation(mut self, mode: CreationMode) -> Self {
        self.proto.creation = mode;
        self
    }

    /// The retry delays (default `[0, 3000, 5000, 10000, 20000]` ms).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Connection timeout (default 10 s; `None`: none).
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Self {
        self.http.connect_timeout = t;
        self
    }

    /// Longest time without progress reading or writing, or waiting for a response
    /// (default 30 s). A response's head, and then the (bounded) part of its body that is
    /// read, must each arrive within it as a whole, so a server dribbling bytes cannot hold
    /// an upload forever.
    pub fn stall_timeout(mut self, t: Option<Duration>) -> Self {
        self.http.stall_timeout = t;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.http.user_agent = ua.into();
        self
    }

    /// Uses the caller's agent (its pool, proxy and TLS settings). Status handling, redirects
    /// and timeouts are still set per request.
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Keeps resumable state as files in `dir`, so uploads resume across processes (default:
    /// in memory, for this uploader's life). The directory is made `0700` and each file
    /// `0600` (they hold upload tokens); records written by earlier versions of this crate
    /// are read, so an upload interrupted before an upgrade resumes after it.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The clock used for sleeping between retries and for expiry.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether bodies over 1 MiB ask `Expect: 100-continue` until the server has accepted one
    /// of their size (default on): a server or proxy with a body cap then refuses the body
    /// before it is sent. Costs a round trip on the first large body of each upload (and up to
    /// a second on servers that ignore `Expect`).
    pub fn expect_continue(mut self, on: bool) -> Self {
        self.proto.expect_continue_above = on.then_some(1024 * 1024);
        self
    }

    /// Whether to send `Upload-Checksum` when the server offers a known algorithm (default on
    /// with the `checksum` feature; it costs a second read of each body). The offer is learned
    /// with [`CreationMode::Auto`].
    pub fn checksum(mut self, on: bool) -> Self {
        self.proto.checksums = if on {
            checksum::SUPPORTED.to_vec()
        } else {
            Vec::new()
        };
        self
    }

    /// A header sent with every tus request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http.headers.push((name.into(), value.into()));
        self
    }

    /// Builds the uploader.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the state directory can't be created or is not private.
    pub fn build(self) -> Result<Uploader> {
        let store = Arc::new(match &self.state_dir {
            Some(dir) => Watched::new(DirStore::new(dir)?),
            None => Watched::new(MemoryStore::new()),
        });
        let state_dir = self.state_dir;
        let agent = self.agent.unwrap_or_else(|| {
            Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                // Body bytes go file -> this buffer -> socket; 64 KiB stays in cache between the
                // two copies (128 KiB, ureq's default, cost about twice the CPU here).
                .output_buffer_size(64 * 1024)
                .build()
                .new_agent()
        });
        let started = self.clock.now();
        Ok(Uploader {
            engine: Arc::new(Engine {
                writer_id: crate::engine::new_writer_id(),
                expect_ignored: std::sync::atomic::AtomicBool::new(false),
                started,
                agent,
                http: self.http,
                tus: self.proto,
                retry: self.retry,
                store,
                state_dir,
                clock: self.clock,
                parallel: self.parallel,
            }),
        })
    }
}

/// Per-upload options: metadata, progress, abort, what happens to the resume record.
#[derive(Default)]
#[must_use]
pub struct UploadOptions<'a> {
    metadata: Metadata,
    // The first metadata key refused, reported by the upload.
    bad_key: Option<proto::Error>,
    progress: Option<Box<dyn FnMut(Progress) + 'a>>,
    abort: Option<AbortHandle>,
    terminate_on_abort: bool,
    keep_state: bool,
}

impl std::fmt::Debug for UploadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("metadata", &self.metadata)
            .field("bad_key", &self.bad_key)
            .field("progress", &self.progress.is_some())
            .field("abort", &self.abort)
            .field("terminate_on_abort", &self.terminate_on_abort)
            .field("keep_state", &self.keep_state)
            .finish()
    }
}

impl<'a> UploadOptions<'a> {
    /// No metadata, no progress, no abort.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a pair of `Upload-Metadata` (say `filename`). A key must be
    /// non-empty ASCII without spaces or commas: [`Uploader::upload`] refuses another with
    /// [`Error::InvalidInput`], before sending anything.
    pub fn metadata(self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value.into(), false)
    }

    /// Adds (or replaces) a pair of `Upload-Metadata` whose value must never show (a token):
    /// masked in `Debug`, logs and errors, and dropped from the resume record once the upload
    /// is finished. Keys as for [`UploadOptions::metadata`].
    pub fn secret_metadata(self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value.into(), true)
    }

    fn insert(mut self, key: &str, value: String, secret: bool) -> Self {
        let added = if secret {
            Metadata::new().with_secret(key, value)
        } else {
            Metadata::new().with(key, value)
        };
        match added {
            Ok(pair) => self.metadata.merge(&pair),
            Err(e) => {
                self.bad_key.get_or_insert(e);
            }
        }
        self
    }

    /// Lets another thread stop the upload.
    pub fn abort(mut self, handle: AbortHandle) -> Self {
        self.abort = Some(handle);
        self
    }

    /// On abort, deletes the upload from the server (tus termination) and forgets it, instead
    /// of keeping it for a resume.
    pub fn terminate_on_abort(mut self, yes: bool) -> Self {
        self.terminate_on_abort = yes;
        self
    }

    /// Keeps the resume record after success (default: removed), so a later call finds the
    /// finished upload instead of starting another; [`Uploader::forget`] removes it.
    pub fn keep_state(mut self, yes: bool) -> Self {
        self.keep_state = yes;
        self
    }

    /// Called with how far the upload is: whenever the server acknowledges bytes (at most once
    /// per request), and while a body goes out, once per MiB sent or per 250 ms, whichever
    /// comes first. A 300 MB file in one PATCH makes about 300 calls.
    pub fn progress(mut self, f: impl FnMut(Progress) + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    pub(crate) fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    pub(crate) fn abort_handle(&self) -> Option<&AbortHandle> {
        self.abort.as_ref()
    }

    pub(crate) fn progress_callback(&mut self) -> Option<&mut dyn FnMut(Progress)> {
        self.progress
            .as_mut()
            .map(|f| &mut **f as &mut dyn FnMut(Progress))
    }
}

/// A completed upload.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Uploaded {
    /// The upload's URL.
    pub url: String,
    /// Bytes uploaded in all.
    pub size: u64,
    /// The server's offset when this call resumed an earlier upload, `None` for a new one.
    pub resumed_from: Option<u64>,
    // The metadata the upload was created with: on a resume, the earlier call's.
    pub(crate) metadata: Metadata,
    // Where its record is saved, if anywhere.
    key: Option<String>,
    // The MD5 of its bytes, when this call saw them all (sent, or read to check a resume).
    md5: Option<Md5Digest>,
}

impl Uploaded {
    /// The MD5 of the upload's bytes, when this call saw them all.
    pub(crate) fn md5(&self) -> Option<Md5Digest> {
        self.md5
    }
}

impl Uploaded {
    /// The value of `key` in the metadata the upload was created with: on a resume, the
    /// earlier call's.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key)
    }
}

impl Uploader {
    /// Starts a builder.
    pub fn builder() -> UploaderBuilder {
        UploaderBuilder::default()
    }

    /// The key under which an upload of `source` to `endpoint` is saved in the state store;
    /// `None` for sources without a key (streams, unless given one).
    pub(crate) fn resume_key(&self, endpoint: &str, source: &Source) -> Option<String> {
        source.key().map(|k| crate::store::key::upload(endpoint, k))
    }

    /// Whether an upload of `source` by this uploader left a resume record: after an error,
    /// whether calling again resumes (part of it is on the server) rather than starting over.
    /// Records of uploads not marked finished count (on any endpoint; for a
    /// [`WixClient`](crate::wix::WixClient)'s uploader, its Wix upload's record too); those
    /// of finished or forgotten uploads don't, nor records this uploader never read or wrote
    /// (another process's). Answered from memory (the latest 10,000 sources).
    pub fn has_saved(&self, source: &Source) -> bool {
        source.key().is_some_and(|k| self.engine.store.has_open(k))
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Uploads `source` to the tus creation URL `endpoint`, resuming an earlier upload of the same
    /// source to the same endpoint when the state store has one.
    ///
    /// One writer per upload: when another uploader (another process, or another `Uploader` on
    /// the same state store) is uploading the same source to the same endpoint, this call waits
    /// for it (logging that it does), then continues from the server's offset; when that other
    /// one finished the upload since this uploader was built, its upload is returned, and
    /// nothing is sent. On success the record is kept, marked finished and without secrets, for
    /// such a waiter (an hour at most); [`UploadOptions::keep_state`] keeps it as it is instead.
    ///
    /// # Errors
    ///
    /// Any [`Error`]: the server's refusals ([`Error::Status`], [`Error::Gone`], ...), lost
    /// connections once retries are used up ([`Error::GaveUp`]), a source that changed
    /// ([`Error::SourceChanged`]), [`Error::Aborted`]. The record is kept for a resume unless
    /// the upload is gone.
    pub fn upload(
        &self,
        endpoint: &str,
        mut source: Source,
        options: UploadOptions<'_>,
    ) -> Result<Uploaded> {
        let UploadOptions {
            metadata,
            bad_key,
            mut progress,
            abort,
            terminate_on_abort,
            keep_state,
        } = options;
        if let Some(e) = bad_key {
            return Err(e.into());
        }
        let engine = &*self.engine;
        let callback = progress
            .as_mut()
            .map(|f| &mut **f as &mut dyn FnMut(Progress));
        let mut report = Reporter::new(callback, &*engine.clock);
        let abort = abort.as_ref();
        let key = self.resume_key(endpoint, &source);
        // One writer per upload: a second one waits, then takes over (or learns it finished).
        let writer = match &key {
            Some(k) => Some(engine.writer(k, &source.describe())?),
            None => None,
        };
        if let (Some(k), Some(w)) = (&key, &writer)
            && let Some(rec) = engine.finished_meanwhile(k, w)?
        {
            return finished_upload(&rec, key.clone());
        }
        if engine.parallel > 1 && source.is_file() {
            let done = engine.upload_parallel(
                endpoint,
                &source,
                &metadata,
                key.as_deref(),
                abort,
                &mut report,
            )?;
            if let Some(done) = done {
                return self.finish(done.tracked, done.resumed_from, keep_state);
            }
        }
        let mut tracked = self.open_one(endpoint, &source, key, metadata)?;
        let result = engine.drive(&mut tracked, &mut source, 0, abort, &mut report);
        if let (Err(Error::Aborted), true, Some(url)) =
            (&result, terminate_on_abort, tracked.up.url())
        {
            self.terminate(url)?;
            engine.forget(&tracked)?;
        }
        result?;
        source.check_unchanged()?;
        let resumed_from = tracked.resumed_from;
        self.finish(tracked, resumed_from, keep_state)
    }

    // The upload of `source` over one connection: the saved one under `key`, or a new one.
    fn open_one(
        &self,
        endpoint: &str,
        source: &Source,
        key: Option<String>,
        metadata: Metadata,
    ) -> Result<Tracked> {
        let mut cfg = self.engine.tus_config();
        if source.is_stream() && cfg.chunk_size.is_none() {
            cfg.chunk_size = Some(proto::STREAM_CHUNK);
        }
        let fresh = |meta: &Metadata| match source.length() {
            Some(len) => Upload::new(endpoint, len, meta, cfg.clone()),
            None => Upload::deferred(endpoint, meta, cfg.clone()),
        };
        self.engine.open(
            endpoint,
            key,
            (source.length(), source.stamp()),
            metadata,
            fresh,
        )
    }

    fn finish(
        &self,
        mut tracked: Tracked,
        resumed_from: Option<u64>,
        keep_state: bool,
    ) -> Result<Uploaded> {
        // The digest of the whole upload (also the record's acknowledged digest from now).
        let md5 = match tracked.up.length() {
            Some(len) if tracked.md5.position() == Some(len) => tracked.md5.digest(),
            _ => None,
        };
        match (keep_state, tracked.record()) {
            (true, _) => self.engine.persist(&tracked)?,
            // Kept, marked finished, for a writer waiting for this one.
            (false, Some(rec)) => self.engine.finished(rec, None)?,
            (false, None) => {}
        }
        let url = tracked
            .up
            .url()
            .ok_or(Error::Internal("an upload finished without a URL"))?
            .to_owned();
        Ok(Uploaded {
            url,
            size: tracked.up.length().unwrap_or_else(|| tracked.up.offset()),
            resumed_from,
            metadata: tracked.meta,
            key: tracked.key,
            md5,
        })
    }

    /// Removes the resume record of a finished upload kept with [`UploadOptions::keep_state`].
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store can't remove it.
    pub fn forget(&self, done: &Uploaded) -> Result<()> {
        match &done.key {
            Some(k) => self.engine.store.remove(k),
            None => Ok(()),
        }
    }

    /// Deletes an upload from the server (tus termination). An upload already gone is fine.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] when the server refuses; transport errors once retries are used up.
    pub fn terminate(&self, upload_url: &str) -> Result<()> {
        let engine = &*self.engine;
        let req = proto::terminate::request(upload_url);
        engine.retrying(None, || {
            let resp = engine.send_tus(&req, &[])?;
            proto::terminate::response(&resp.head, engine.now()).map_err(|e| {
                Error::from_proto(
                    e,
                    crate::error::FailedRequest::new(proto::Method::Delete, upload_url),
                    &resp.body,
                )
            })
        })
    }
}

// The upload another writer finished, from its record.
fn finished_upload(rec: &Record, key: Option<String>) -> Result<Uploaded> {
    log::info!("the other upload finished it: {}", rec.upload_url());
    Ok(Uploaded {
        url: rec.upload_url().to_owned(),
        size: rec.length().unwrap_or(rec.offset()),
        resumed_from: None,
        metadata: rec.metadata()?,
        key,
        md5: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn uploaders_are_shared_across_threads() {
        assert_send_sync_clone::<Uploader>();
    }

    #[test]
    fn debug_of_builder_and_options_hides_header_values_and_metadata() {
        let builder = Uploader::builder().header("Authorization", "S3CRET-KEY");
        let dbg = format!("{builder:?}");
        assert!(
            dbg.contains("Authorization") && !dbg.contains("S3CRET"),
            "{dbg}"
        );
        let options = UploadOptions::new()
            .secret_metadata("token", "S3CRET-TOKEN")
            .progress(|_| {});
        let dbg = format!("{options:?}");
        assert!(dbg.contains("token") && !dbg.contains("S3CRET"), "{dbg}");
    }

    #[test]
    fn metadata_pairs_merge_and_the_first_bad_key_is_kept() {
        let options = UploadOptions::new()
            .metadata("filename", "a.txt")
            .secret_metadata("token", "T")
            .metadata("a b", "v")
            .metadata("", "v")
            .metadata("filename", "b.txt");
        assert_eq!(options.metadata.get("filename"), Some("b.txt"));
        assert!(options.metadata.is_secret("token"));
        assert_eq!(options.metadata.iter().count(), 2);
        assert!(matches!(
            options.bad_key,
            Some(proto::Error::Usage(proto::Usage::BadMetadataKey(ref k))) if k == "a b"
        ));
    }
}
