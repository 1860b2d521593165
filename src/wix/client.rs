//! The Wix media client: one call per file, every upload route, waiting for processing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::limiter::Limiter;
use super::pace::file::PaceFile;
use super::processing::{self, FileRef};
use super::reconcile::Taken;
use super::rest::Rest;
use super::{
    Credentials, FileDescriptor, FileOptions, GenerateUploadUrlRequest, ImportFileRequest,
};
use crate::control::{AbortHandle, Progress};
use crate::error::{Error, Result};
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
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) uploader: Uploader,
    pub(super) credentials: Credentials,
    limiter: Limiter,
    pub(super) simple_below: u64,
    pub(super) list_lag: Duration,
    pub(super) verify_hash: bool,
    /// The files this client's uploads made or took: never taken for another upload's.
    pub(super) taken: Taken,
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
                taken: Taken::default(),
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
    reupload: bool,
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

    /// Uploads the file again even when the same file with the same settings was uploaded
    /// within the hour (default: that upload's file is returned, read again by id, unless it
    /// was trashed or deleted since): a second Media Manager file.
    pub fn reupload(mut self, yes: bool) -> Self {
        self.reupload = yes;
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

/// The REST calls a client made (see [`WixClient::rest_calls`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestCalls {
    /// Calls sent to the API base (retries and calls refused included; upload traffic not).
    pub sent: u64,
    /// Of those, the ones Wix refused as over the rate limit (429).
    pub refused: u64,
}

impl WixClient {
    /// Whether an upload of `source` by this client left a resume record (its Wix upload
    /// under way, or the tus upload in it): after an error, whether calling again resumes
    /// rather than starting over. As [`Uploader::has_saved`] for the client's uploader.
    pub fn has_saved(&self, source: &Source) -> bool {
        self.inner.uploader.has_saved(source)
    }

    /// The REST calls this client and its clones sent so far, and how many of them were
    /// refused with 429: what this process did (others sharing the pace count their own).
    pub fn rest_calls(&self) -> RestCalls {
        let (sent, refused) = self.inner.limiter.counts();
        RestCalls { sent, refused }
    }
}

/// One file to upload, checked: what [`WixClient::upload_with`] works on.
pub(super) struct Job<'a> {
    pub(super) path: &'a Path,
    pub(super) source: Source,
    pub(super) size: u64,
    pub(super) name: String,
    pub(super) request: GenerateUploadUrlRequest,
    pub(super) route: Route,
    /// The kept result of the same job does not answer.
    pub(super) reupload: bool,
}

impl WixClient {
    /// A client with default settings.
    ///
    /// # Errors
    ///
    /// Those of [`UploaderBuilder::build`].
    pub(crate) fn new(credentials: Credentials) -> Result<Self> {
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

    pub(crate) fn rest<'a>(&'a self, abort: Option<&'a AbortHandle>) -> Rest<'a> {
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
    /// Exactly one Media Manager file per file and settings (with a state directory, across
    /// processes too): a request that creates the file and loses its answer is not sent
    /// again before the target folder was read for the file (see
    /// [`WixClientBuilder::list_lag`]), nor is one a killed run left unanswered; the same
    /// upload again within the hour returns the file it made (see [`FileUpload::reupload`]).
    /// The source's MD5, computed while it is sent, comes with the result and is compared
    /// with Wix's `hash` (see [`WixClientBuilder::verify_hash`]).
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
            reupload,
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
            reupload,
        };
        let abort = upload.abort_handle().cloned();
        let rest = self.rest(abort.as_ref());
        let mut done = self.upload_once(&rest, job, upload)?;
        if let Some(timeout) = wait {
            done.file = processing::ready(self.wait_for(&rest, &done.file, timeout)?)?;
        }
        Ok(done)
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
        self.import_job(request)
    }

    /// Reads a file's descriptor (*Get File Descriptor*).
    ///
    /// # Errors
    ///
    /// [`Error::Status`] (404 for an unknown id); transport errors once retries are used up.
    pub fn get_file(&self, id: &str) -> Result<FileDescriptor> {
        processing::get_file(&self.rest(None), id)
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
