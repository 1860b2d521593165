//! The Wix media client: one call per file, every upload route, waiting for processing.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::create::{self, Creating};
use super::job::{Found, Intent, JobRecord, KeptRoute};
use super::limiter::Limiter;
use super::pace::file::PaceFile;
use super::processing::{self, FileRef};
use super::reconcile::Lookout;
use super::rest::Rest;
use super::resumable::{self, ResumableTarget, generate_with};
use super::simple;
use super::types::{FileDescriptorEnvelope, GetFilesRequest, GetFilesResponse};
use super::{
    Credentials, FileDescriptor, FileOptions, GenerateUploadUrlRequest, ImportFileRequest,
};
use crate::control::{AbortHandle, Progress};
use crate::digest::{Md5Digest, hex, parse_hex};
use crate::engine::Step;
use crate::engine::progress::Reporter;
use crate::error::{ContentMismatch, Error, Result};
use crate::source::Source;
use crate::uploader::{UploadOptions, Uploader, UploaderBuilder};

/// Below this size [`Route::Auto`] uploads in one request: Wix's advice is the resumable route
/// "for files larger than 10MB".
pub(crate) const DEFAULT_SIMPLE_BELOW: u64 = 10 * 1024 * 1024;

/// How long a new file may be missing from Wix's listings, by default.
pub(crate) const DEFAULT_LIST_LAG: Duration = Duration::from_secs(30);

/// How a file goes to Wix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// [`Route::Simple`] below the client's threshold (10 MiB by default), else
    /// [`Route::Resumable`]; a simple upload refused as too large (413) goes resumable.
    #[default]
    Auto,
    /// *Generate File Resumable Upload URL*, tus, finalize: resumes after failures and across
    /// processes (with a state directory), four requests per file or more.
    Resumable,
    /// *Generate File Upload URL*, then one `PUT` of the file: two requests per file; a failure
    /// starts over.
    Simple,
}

/// A client for one Wix site's (or account's) Media Manager.
///
/// Cheap to clone and `Send + Sync`: clones share the [`Uploader`] (agent, connection pool,
/// settings, state store) and the REST call pacing.
///
/// ```no_run
/// use std::time::Duration;
/// use wix_media_upload::wix::{FileOptions, FileUpload, WixClient};
///
/// let client = WixClient::from_env()?; // WIX_API_KEY, WIX_SITE_ID
/// let file = client.upload("photos/cat.jpg")?;
/// println!("{:?}", file.url);
/// let upload = FileUpload::new()
///     .options(FileOptions::new().file_path("/videos"))
///     .wait(Duration::from_secs(60));
/// let done = client.upload_with("clip.mp4", upload)?;
/// println!("{:?} resumed from {:?}", done.file.operation_status, done.resumed_from);
/// # Ok::<(), wix_media_upload::Error>(())
/// ```
#[derive(Clone)]
pub struct WixClient {
    inner: Arc<Inner>,
}

struct Inner {
    uploader: Uploader,
    credentials: Credentials,
    limiter: Limiter,
    simple_below: u64,
    list_lag: Duration,
    verify_hash: bool,
    // The files this client's uploads made or took: never taken for another upload's.
    taken: Mutex<HashSet<String>>,
}

impl fmt::Debug for WixClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WixClient")
            .field("credentials", &self.inner.credentials)
            .field("uploader", &self.inner.uploader)
            .field("simple_below", &self.inner.simple_below)
            .field("list_lag", &self.inner.list_lag)
            .field("verify_hash", &self.inner.verify_hash)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WixClient`].
#[derive(Debug)]
#[must_use]
pub struct WixClientBuilder {
    credentials: Credentials,
    uploader: UploaderBuilder,
    simple_below: u64,
    per_minute: Option<u32>,
    pace_dir: Option<PathBuf>,
    list_lag: Duration,
    verify_hash: bool,
}

impl WixClientBuilder {
    /// The uploader's settings (retries, timeouts, state directory, user agent, chunk size,
    /// parallel connections...): every call of the client shares them.
    pub fn uploader(mut self, settings: UploaderBuilder) -> Self {
        self.uploader = settings;
        self
    }

    /// Files smaller than `bytes` take the simple route under [`Route::Auto`] (default 10 MiB:
    /// Wix's advice is the resumable route "for files larger than 10MB").
    pub fn simple_below(mut self, bytes: u64) -> Self {
        self.simple_below = bytes;
        self
    }

    /// At most `n` REST calls in any minute (a sliding window: a burst of `n` may go at
    /// once), for callers who know their quota; a lower one learned from Wix's 429 answers
    /// still wins. By default the quota is learned from the answers alone.
    pub fn requests_per_minute(mut self, n: u32) -> Self {
        self.per_minute = Some(n);
        self
    }

    /// How long a new file may be missing from Wix's listings (default 30 s). When a request
    /// that creates a file was sent whole and its answer was lost, the target folder is read
    /// until then, every few seconds, for the file before the request is sent again; a rerun
    /// that finds such a request unanswered (a killed process) does the same. A bound shorter
    /// than Wix's actual lag can leave two files.
    pub fn list_lag(mut self, bound: Duration) -> Self {
        self.list_lag = bound;
        self
    }

    /// Makes a difference between Wix's `hash` of an uploaded file (when it is 32 hex digits)
    /// and the MD5 of the source computed while sending it an error,
    /// [`Error::ContentMismatch`] (default off: a warning is logged). Wix does not document
    /// its `hash`'s algorithm; its samples are MD5-shaped.
    pub fn verify_hash(mut self, on: bool) -> Self {
        self.verify_hash = on;
        self
    }

    /// Shares the pace of REST calls, through a small file in `dir`, with every client of
    /// the same site that uses it, in this process or another (default: the uploader's
    /// [state directory](UploaderBuilder::state_dir), if it has one; without, the clones
    /// of this client share it).
    pub fn pace_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.pace_dir = Some(dir.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// Those of [`UploaderBuilder::build`].
    pub fn build(self) -> Result<WixClient> {
        let uploader = self.uploader.build()?;
        let dir = self
            .pace_dir
            .or_else(|| uploader.engine().state_dir.clone());
        let site = format!(
            "{}\n{:?}",
            self.credentials.api_base(),
            self.credentials.scope()
        );
        let file = dir
            .map(|d| PaceFile::new(&d, &site))
            .transpose()
            .map_err(|e| Error::store_with("cannot create the directory of the shared pace", e))?;
        Ok(WixClient {
            inner: Arc::new(Inner {
                uploader,
                credentials: self.credentials,
                limiter: Limiter::new(self.per_minute, file),
                simple_below: self.simple_below,
                list_lag: self.list_lag,
                verify_hash: self.verify_hash,
                taken: Mutex::default(),
            }),
        })
    }
}

/// What to upload a file as, and how: every setting is optional.
///
/// ```
/// use std::time::Duration;
/// use wix_media_upload::wix::{FileOptions, FileUpload, Route};
///
/// let upload = FileUpload::new()
///     .display_name("Launch clip")
///     .options(FileOptions::new().file_path("/videos/2026").label("launch"))
///     .route(Route::Resumable)
///     .wait(Duration::from_secs(300));
/// # drop(upload);
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct FileUpload<'a> {
    display_name: Option<String>,
    mime_type: Option<String>,
    options: FileOptions,
    route: Route,
    wait: Option<Duration>,
    // Progress and abort, as for any upload.
    upload: UploadOptions<'a>,
}

impl<'a> FileUpload<'a> {
    /// The defaults: the file's own name, a MIME type guessed from its extension, Wix's
    /// defaults for folder, privacy and labels, [`Route::Auto`], no waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name shown in the Media Manager (default: the file's name).
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// The MIME type (default: guessed from the extension; `application/octet-stream` when
    /// unknown).
    pub fn mime_type(mut self, mime: impl Into<String>) -> Self {
        self.mime_type = Some(mime.into());
        self
    }

    /// Where the file goes and how it is marked: folder, privacy, labels, external ids.
    pub fn options(mut self, options: FileOptions) -> Self {
        self.options = options;
        self
    }

    /// The route (default [`Route::Auto`]).
    pub fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// Waits until Wix has processed the file (`READY`), for at most `timeout`: `FAILED` is
    /// [`Error::ProcessingFailed`], still pending then [`Error::NotReady`].
    pub fn wait(mut self, timeout: Duration) -> Self {
        self.wait = Some(timeout);
        self
    }

    /// Called with how far the upload is (see [`UploadOptions::progress`]).
    pub fn progress(mut self, f: impl FnMut(Progress) + 'a) -> Self {
        self.upload = self.upload.progress(f);
        self
    }

    /// Lets another thread stop the upload (a resumable one keeps its state for a resume).
    pub fn abort(mut self, handle: AbortHandle) -> Self {
        self.upload = self.upload.abort(handle);
        self
    }
}

/// A file in the Media Manager, and how it got there.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WixUpload {
    /// The file, as Wix described it last.
    pub file: FileDescriptor,
    /// The route taken ([`Route::Simple`] or [`Route::Resumable`]).
    pub route: Route,
    /// The offset an earlier, interrupted upload of the file was resumed from.
    pub resumed_from: Option<u64>,
    /// The source's MD5 (32 lowercase hex digits), computed while it was sent (or read to
    /// check a resume); `None` when not known (say, a file another run uploaded).
    pub content_md5: Option<String>,
}

/// One file to upload, checked: what [`WixClient::upload_with`] works on.
struct Job<'a> {
    path: &'a Path,
    source: Source,
    size: u64,
    name: String,
    request: GenerateUploadUrlRequest,
    route: Route,
}

impl WixClient {
    /// A client with default settings.
    ///
    /// # Errors
    ///
    /// Those of [`UploaderBuilder::build`].
    pub fn new(credentials: Credentials) -> Result<Self> {
        Self::builder(credentials).build()
    }

    /// A builder for other settings.
    pub fn builder(credentials: Credentials) -> WixClientBuilder {
        WixClientBuilder {
            credentials,
            uploader: Uploader::builder(),
            simple_below: DEFAULT_SIMPLE_BELOW,
            per_minute: None,
            pace_dir: None,
            list_lag: DEFAULT_LIST_LAG,
            verify_hash: false,
        }
    }

    /// A client for the credentials in the environment (see [`Credentials::from_env`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when they are not set.
    pub fn from_env() -> Result<Self> {
        let credentials = Credentials::from_env()?.ok_or_else(|| {
            Error::InvalidInput("set WIX_API_KEY and WIX_SITE_ID (or WIX_ACCOUNT_ID)".into())
        })?;
        Self::new(credentials)
    }

    /// Who the calls act for.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    fn rest<'a>(&'a self, abort: Option<&'a AbortHandle>) -> Rest<'a> {
        Rest {
            engine: self.inner.uploader.engine(),
            creds: &self.inner.credentials,
            limiter: Some(&self.inner.limiter),
            abort,
        }
    }

    /// Uploads the file at `path` with the defaults of [`FileUpload::new`].
    ///
    /// # Errors
    ///
    /// See [`WixClient::upload_with`].
    pub fn upload(&self, path: impl AsRef<Path>) -> Result<FileDescriptor> {
        self.upload_with(path, FileUpload::new()).map(|u| u.file)
    }

    /// Uploads the file at `path` into the Media Manager.
    ///
    /// Checked before any request: a directory, an unreadable or an empty file (Wix refuses
    /// those with `ZERO_FILE_SIZE`) fail at once. One writer per file and destination: a
    /// second one (another process) waits, and returns the same file when the first finished
    /// it meanwhile.
    ///
    /// # Errors
    ///
    /// [`Error::File`] or [`Error::InvalidInput`] for bad input; [`Error::Status`] with the
    /// Wix error ([`Error::wix`], for rule names such as `MISMATCH_MIME_TYPE`) when Wix
    /// refuses; [`Error::ProcessingFailed`] or [`Error::NotReady`] when waiting; transport
    /// errors once retries are used up.
    pub fn upload_with(
        &self,
        path: impl AsRef<Path>,
        options: FileUpload<'_>,
    ) -> Result<WixUpload> {
        let FileUpload {
            display_name,
            mime_type,
            options: file_options,
            route,
            wait,
            upload,
        } = options;
        let path = path.as_ref();
        let source = Source::file(path)?;
        let size = source.length().unwrap_or(0);
        if size == 0 {
            return Err(Error::InvalidInput(format!(
                "{} is empty: Wix refuses empty files (ZERO_FILE_SIZE)",
                path.display()
            )));
        }
        let name = display_name
            .or_else(|| source.file_name())
            .ok_or_else(|| Error::InvalidInput(format!("{} has no file name", path.display())))?;
        let mime = mime_type.unwrap_or_else(|| guess_mime(path));
        let request = GenerateUploadUrlRequest::new(mime)
            .file_name(name.as_str())
            .size_in_bytes(size)
            .options(file_options);
        let job = Job {
            path,
            source,
            size,
            name,
            request,
            route,
        };
        let abort = upload.abort_handle().cloned();
        let rest = self.rest(abort.as_ref());
        let mut done = self.upload_once(&rest, job, upload)?;
        if let Some(timeout) = wait {
            done.file = processing::ready(self.wait_for(&rest, &done.file, timeout)?)?;
        }
        Ok(done)
    }

    // The upload as the one writer of the file's job: the job's kept result when it was
    // done already (by an earlier run, or a writer this one waited for), else this one's,
    // kept (before the tus record is forgotten).
    fn upload_once(
        &self,
        rest: &Rest<'_>,
        job: Job<'_>,
        upload: UploadOptions<'_>,
    ) -> Result<WixUpload> {
        let engine = rest.engine;
        let Some(key) = self.job_key(&job.source, &job.request) else {
            let (done, tus) = self.upload_job(rest, job, upload, None, Found::Nothing)?;
            self.forget_tus(rest, tus.as_deref())?;
            return Ok(done);
        };
        let _writer = engine.writer(&key, &job.path.display().to_string())?;
        let api_base = self.inner.credentials.api_base();
        let record = JobRecord::new(engine, key, api_base, job.size, job.source.stamp());
        let found = record.load()?;
        if let Found::Finished(done) = found {
            log::info!(
                "{} was uploaded already: file {}",
                job.path.display(),
                done.file.id.as_deref().unwrap_or("?")
            );
            return Ok(*done);
        }
        let (done, tus) = self.upload_job(rest, job, upload, Some(&record), found)?;
        record.finished(&done)?;
        self.forget_tus(rest, tus.as_deref())?;
        Ok(done)
    }

    fn forget_tus(&self, rest: &Rest<'_>, key: Option<&str>) -> Result<()> {
        match key {
            Some(k) => rest.engine.store.remove(k),
            None => Ok(()),
        }
    }

    // The job from where its record says it is: the result, and the key of the tus record
    // to forget once the result is kept.
    fn upload_job(
        &self,
        rest: &Rest<'_>,
        job: Job<'_>,
        upload: UploadOptions<'_>,
        record: Option<&JobRecord<'_>>,
        found: Found,
    ) -> Result<(WixUpload, Option<String>)> {
        match found {
            Found::Creating(intent) => {
                if let Some(done) = self.look_again(rest, &intent, Route::Simple)? {
                    return Ok((done, None));
                }
                if let Some(r) = record {
                    r.clear()?;
                }
            }
            Found::Resumable(target, intent) => {
                let tus = self
                    .inner
                    .uploader
                    .resume_key(&target.upload_url, &job.source);
                if let Some(i) = &intent
                    && let Some(done) = self.look_again(rest, i, Route::Resumable)?
                {
                    return Ok((done, tus));
                }
                return self.resumable(rest, job, upload, record, (Some(*target), intent));
            }
            Found::Nothing | Found::Finished(_) => {}
        }
        self.upload_by_route(rest, job, upload, record)
    }

    // A run before this one was creating the file when it stopped: the file, if it landed.
    fn look_again(
        &self,
        rest: &Rest<'_>,
        intent: &Intent,
        route: Route,
    ) -> Result<Option<WixUpload>> {
        log::info!("an earlier run did not learn whether it created this file: looking for it");
        let lookout = self.lookout(rest);
        let deadline = rest.engine.now() + self.inner.list_lag;
        let Some(file) = lookout.find(&intent.expected(), deadline)? else {
            log::info!("it did not: uploading");
            return Ok(None);
        };
        log::info!(
            "it did: file {} (taken as this upload's)",
            file.id.as_deref().unwrap_or("?")
        );
        let md5 = intent.md5.as_deref().and_then(parse_hex);
        self.finish_file(file, route, None, md5).map(Some)
    }

    fn lookout<'a>(&'a self, rest: &'a Rest<'a>) -> Lookout<'a> {
        Lookout {
            listing: rest,
            clock: &*rest.engine.clock,
            abort: rest.abort,
            taken: &self.inner.taken,
        }
    }

    // What a job creates, as its intent says it (its first attempt starting now).
    fn intent(&self, rest: &Rest<'_>, job: &Job<'_>, route: KeptRoute) -> Intent {
        let started = rest.engine.now();
        Intent {
            route,
            display_name: Some(job.name.clone()),
            size_in_bytes: Some(job.size),
            source_url: None,
            parent_folder_id: job.request.options.parent_folder_id.clone(),
            file_path: job.request.options.file_path.clone(),
            md5: None,
            started_ms: crate::store::unix_ms(started),
        }
    }

    // The route the job asks for; under `Route::Auto` the simple one below the threshold,
    // and resumable after all when a body cap refuses the one request.
    fn upload_by_route(
        &self,
        rest: &Rest<'_>,
        mut job: Job<'_>,
        mut upload: UploadOptions<'_>,
        record: Option<&JobRecord<'_>>,
    ) -> Result<(WixUpload, Option<String>)> {
        let simple = match job.route {
            Route::Auto => job.size < self.inner.simple_below,
            route => route == Route::Simple,
        };
        if !simple {
            return self.resumable(rest, job, upload, record, (None, None));
        }
        let mut report = Reporter::new(upload.progress_callback(), &*rest.engine.clock);
        let request = job.request.for_simple_route();
        let intent = self.intent(rest, &job, KeptRoute::Simple);
        let mut creating =
            Creating::new(self.lookout(rest), intent, self.inner.list_lag).kept_in(record, None);
        let sent = simple::upload(
            rest,
            (&request, &job.name),
            &mut job.source,
            &mut report,
            &mut creating,
        );
        match sent {
            Ok((file, md5)) => Ok((self.finish_file(file, Route::Simple, None, md5)?, None)),
            // A server or proxy with a body cap: tus sends it in pieces.
            Err(e) if job.route == Route::Auto && refused_as_too_large(&e) => {
                log::info!("the one-request upload was refused as too large: going resumable");
                self.resumable(rest, job, upload, record, (None, None))
            }
            Err(e) => Err(e),
        }
    }

    // Keeps the finished job's record, with its result, for a writer waiting for this one.
    // Where the one-writer lock and the finished outcome of a file's upload live: the site, the
    // file, and everything asked of Wix (name, type, folder...).
    fn job_key(&self, source: &Source, request: &GenerateUploadUrlRequest) -> Option<String> {
        let file = source.key()?;
        let asked = serde_json::to_string(request).ok()?;
        let creds = &self.inner.credentials;
        Some(format!(
            "wix-file\n{}\n{:?}\n{file}\n{asked}",
            creds.api_base(),
            creds.scope()
        ))
    }

    // The resumable route: to the `stored` target (and after the `stored` intent of a run
    // that did not learn whether its finalize landed) or to a new one, kept in `record`.
    fn resumable(
        &self,
        rest: &Rest<'_>,
        job: Job<'_>,
        upload: UploadOptions<'_>,
        record: Option<&JobRecord<'_>>,
        stored: (Option<ResumableTarget>, Option<Intent>),
    ) -> Result<(WixUpload, Option<String>)> {
        let target = match stored.0 {
            Some(t) => t,
            None => {
                let t = generate_with(rest, &job.request)?;
                if let Some(r) = record {
                    r.resumable(&t, None)?;
                }
                t
            }
        };
        let unsure = stored.1.is_some();
        let intent = match stored.1 {
            Some(i) => i,
            None => self.intent(rest, &job, KeptRoute::Resumable),
        };
        let uploader = &self.inner.uploader;
        let tus = uploader.resume_key(&target.upload_url, &job.source);
        let abort = upload.abort_handle().cloned();
        let done = resumable::send(uploader, &target, job.source, upload)?;
        let md5 = done.md5();
        let (token, filename) = resumable::finalize_args(&done);
        let mut creating = Creating::new(self.lookout(rest), intent, self.inner.list_lag)
            .kept_in(record, Some(&target));
        creating.unsure = unsure;
        let args = (&token, filename.as_deref());
        let file = create::finalize(uploader, args, md5, abort.as_ref(), &mut creating)?;
        let up = self.finish_file(file, Route::Resumable, done.resumed_from, md5)?;
        Ok((up, tus))
    }

    // The upload's result: Wix's `hash` compared with the source's MD5, the file taken.
    fn finish_file(
        &self,
        file: FileDescriptor,
        route: Route,
        resumed_from: Option<u64>,
        md5: Option<Md5Digest>,
    ) -> Result<WixUpload> {
        self.check_hash(&file, md5)?;
        if let Some(id) = &file.id {
            let mut taken = self.inner.taken.lock().unwrap_or_else(|e| e.into_inner());
            taken.insert(id.clone());
        }
        Ok(WixUpload {
            file,
            route,
            resumed_from,
            content_md5: md5.map(|d| hex(&d)),
        })
    }

    // A `hash` of 32 hex digits that differs from the source's MD5: a warning, or an error
    // with `verify_hash`.
    fn check_hash(&self, file: &FileDescriptor, md5: Option<Md5Digest>) -> Result<()> {
        let server = file.hash.as_deref().and_then(parse_hex);
        let (Some(local), Some(server)) = (md5, server) else {
            return Ok(());
        };
        if local == server {
            return Ok(());
        }
        let mismatch =
            ContentMismatch::new(file.id.as_deref().unwrap_or("?"), hex(&local), hex(&server));
        if self.inner.verify_hash {
            return Err(Error::ContentMismatch(Box::new(mismatch)));
        }
        log::warn!("{mismatch}");
        Ok(())
    }

    /// Imports a file Wix fetches from a URL (*Import File*); it is usually still `PENDING`
    /// when this returns (see [`WixClient::wait_ready`]).
    ///
    /// # Errors
    ///
    /// [`Error::Status`] with the Wix error when Wix refuses; transport errors once retries
    /// are used up.
    ///
    /// An import whose answer was lost is not sent again before the target folder was read
    /// for a file of its URL (and display name) that came meanwhile (see
    /// [`WixClientBuilder::list_lag`]).
    pub fn import(&self, request: &ImportFileRequest) -> Result<FileDescriptor> {
        let rest = self.rest(None);
        let engine = rest.engine;
        let key = self.import_key(request)?;
        let _writer = engine.writer(&key, "an import of the same URL")?;
        let api_base = self.inner.credentials.api_base();
        let record = JobRecord::new(engine, key, api_base, 0, None);
        if let Found::Creating(intent) = record.load()?
            && let Some(done) = self.look_again(&rest, &intent, Route::Auto)?
        {
            record.clear()?;
            return Ok(done.file);
        }
        let intent = Intent {
            route: KeptRoute::Import,
            display_name: request.display_name.clone(),
            size_in_bytes: None,
            source_url: Some(request.url.clone()),
            parent_folder_id: request.options.parent_folder_id.clone(),
            file_path: request.options.file_path.clone(),
            md5: None,
            started_ms: crate::store::unix_ms(engine.now()),
        };
        let mut creating = Creating::new(self.lookout(&rest), intent, self.inner.list_lag)
            .kept_in(Some(&record), None);
        let file = self.import_once(&rest, request, &mut creating)?;
        record.clear()?;
        self.finish_file(file, Route::Auto, None, None)
            .map(|done| done.file)
    }

    // The import's requests: sent again only when no file of it landed.
    fn import_once(
        &self,
        rest: &Rest<'_>,
        request: &ImportFileRequest,
        creating: &mut Creating<'_>,
    ) -> Result<FileDescriptor> {
        let got = rest.engine.run(None, || {
            creating.before(None)?;
            let path = "/site-media/v1/files/import";
            match rest.create::<FileDescriptorEnvelope>(path, request) {
                Ok(e) => Ok(Step::Done(e.file)),
                Err(e) if e.is_outcome_unknown() => match creating.landed(None)? {
                    Some(file) => Ok(Step::Done(file)),
                    None => Err(e),
                },
                Err(e) => Err(e),
            }
        });
        if got.is_err() {
            creating.failed()?;
        }
        got
    }

    // Where an import's lock and intent live: the site and the request (digested: its URL
    // headers may hold secrets).
    fn import_key(&self, request: &ImportFileRequest) -> Result<String> {
        use md5::Digest as _;
        let asked = serde_json::to_vec(request)
            .map_err(|_| Error::Internal("a request body did not serialize"))?;
        let creds = &self.inner.credentials;
        Ok(format!(
            "wix-import\n{}\n{:?}\n{}",
            creds.api_base(),
            creds.scope(),
            hex(&md5::Md5::digest(&asked).into())
        ))
    }

    /// Reads a file's descriptor (*Get File Descriptor*).
    ///
    /// # Errors
    ///
    /// [`Error::Status`] (404 for an unknown id); transport errors once retries are used up.
    pub fn get_file(&self, id: &str) -> Result<FileDescriptor> {
        processing::get_file(&self.rest(None), id)
    }

    /// Reads several files' descriptors at once (*Get File Descriptors*), in the order asked.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] (Wix answers 404 when one of them is unknown); transport errors once
    /// retries are used up.
    pub fn get_files(&self, ids: &[&str]) -> Result<Vec<FileDescriptor>> {
        self.rest(None)
            .post::<GetFilesResponse>(
                "/site-media/v1/files/get-files",
                &GetFilesRequest::new(ids.iter().copied()),
            )
            .map(|r| r.files)
    }

    /// Reads the file until Wix has processed it: `READY` returns it, `FAILED` is
    /// [`Error::ProcessingFailed`], and still `PENDING` after `timeout` is [`Error::NotReady`].
    /// A 404 right after creation is tolerated a few times. `file` is an id, or a descriptor
    /// an upload or import answered (one that is processed already comes back without a
    /// request).
    ///
    /// # Errors
    ///
    /// As said, those of [`WixClient::get_file`], and [`Error::InvalidInput`] for a descriptor
    /// without id.
    pub fn wait_ready<'f>(
        &self,
        file: impl Into<FileRef<'f>>,
        timeout: Duration,
    ) -> Result<FileDescriptor> {
        processing::ready(self.wait_processed(file, timeout, None)?)
    }

    /// Reads the file until Wix has processed it, `READY` or `FAILED` (both returned: check
    /// its `operation_status`), for at most `timeout`; another thread can stop the wait
    /// through `abort` ([`Error::Aborted`]).
    ///
    /// # Errors
    ///
    /// [`Error::NotReady`], [`Error::Aborted`], those of [`WixClient::get_file`], and
    /// [`Error::InvalidInput`] for a descriptor without id.
    pub fn wait_processed<'f>(
        &self,
        file: impl Into<FileRef<'f>>,
        timeout: Duration,
        abort: Option<&AbortHandle>,
    ) -> Result<FileDescriptor> {
        self.wait_for(&self.rest(abort), file, timeout)
    }

    fn wait_for<'f>(
        &self,
        rest: &Rest<'_>,
        file: impl Into<FileRef<'f>>,
        timeout: Duration,
    ) -> Result<FileDescriptor> {
        let id = match file.into() {
            FileRef::Id(id) => id,
            FileRef::File(file) if processing::processed(file) => return Ok(file.clone()),
            FileRef::File(file) => file
                .id
                .as_deref()
                .ok_or_else(|| Error::InvalidInput("a file descriptor without id".into()))?,
        };
        processing::wait_processed(rest, id, timeout)
    }
}

// A 413, or a connection a server closed while the body was still going out (retries over);
// never an answer lost after the body was sent whole (the file may exist).
fn refused_as_too_large(e: &Error) -> bool {
    let e = e.last_attempt();
    e.status() == Some(413) || crate::engine::transport::lost_connection(e)
}

/// The MIME type for a file name's extension; `application/octet-stream` when unknown.
pub(crate) fn guess_mime(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_shared_across_threads() {
        fn check<T: Send + Sync + Clone>() {}
        check::<WixClient>();
    }

    #[test]
    fn mime_types_are_guessed_from_the_extension() {
        assert_eq!(guess_mime(Path::new("a/cat.JPG")), "image/jpeg");
        assert_eq!(guess_mime(Path::new("clip.mp4")), "video/mp4");
        assert_eq!(
            guess_mime(Path::new("notes.unknownext")),
            "application/octet-stream"
        );
        assert_eq!(
            guess_mime(Path::new("Makefile")),
            "application/octet-stream"
        );
    }

    #[test]
    fn a_ready_descriptor_needs_no_wait_and_one_without_id_is_refused() {
        // Nothing listens on port 9: a request would fail with a connection error.
        let creds = Credentials::site("k", "s").with_api_base("http://127.0.0.1:9");
        let client = WixClient::new(creds).unwrap();
        let ready: FileDescriptor =
            serde_json::from_value(serde_json::json!({"id": "f1", "operationStatus": "READY"}))
                .unwrap();
        let waited = client.wait_ready(&ready, Duration::from_secs(60)).unwrap();
        assert_eq!(waited, ready);
        let pending: FileDescriptor =
            serde_json::from_value(serde_json::json!({"operationStatus": "PENDING"})).unwrap();
        let err = client.wait_ready(&pending, Duration::from_secs(60));
        assert!(matches!(err, Err(Error::InvalidInput(_))), "{err:?}");
    }

    #[test]
    fn bad_input_fails_before_any_request() {
        // Port 9 (discard) on loopback: nothing is listening, and nothing must be sent.
        let creds = Credentials::site("k", "s").with_api_base("http://127.0.0.1:9");
        let client = WixClient::new(creds).unwrap();
        let dir = std::env::temp_dir().join(format!("wmu-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(client.upload(&dir), Err(Error::InvalidInput(_))));
        let empty = dir.join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        let err = client.upload(&empty).unwrap_err();
        assert!(err.to_string().contains("ZERO_FILE_SIZE"), "{err}");
        let missing = dir.join("missing.png");
        assert!(matches!(client.upload(&missing), Err(Error::File { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
