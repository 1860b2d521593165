//! The blocking uploader: drives [`proto::Upload`](crate::proto::Upload) over HTTP, retries,
//! and keeps resumable state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ureq::Agent;

use crate::checksum;
use crate::control::{AbortHandle, Clock, Progress, SystemClock, sleep_unless_aborted};
use crate::error::{Error, Result};
use crate::parallel;
use crate::proto::{
    self, Config, CreationMode, Event, Metadata, Phase, RetryPolicy, RetryState, Upload,
};
use crate::secret::Secret;
use crate::source::Source;
use crate::store::{DirStore, MemoryStore, Record, StateStore};
use crate::transport::{self, BODY_LIMIT, BodyReader, Exchange, HttpSettings};

/// The chunk a non-seekable source is sent in when no chunk size is set: it is held in memory.
pub const DEFAULT_STREAM_CHUNK: u64 = 8 * 1024 * 1024;

/// Uploads files with tus 1.0 over a blocking [`ureq::Agent`].
///
/// Cheap to share by reference across threads; each call to [`Uploader::upload`] is one upload.
pub struct Uploader {
    parallel: usize,
    agent: Agent,
    http: HttpSettings,
    proto: Config,
    retry: RetryPolicy,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("chunk_size", &self.proto.chunk_size)
            .field("creation", &self.proto.creation)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.http.connect_timeout)
            .field("stall_timeout", &self.http.stall_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Uploader`].
pub struct UploaderBuilder {
    parallel: usize,
    agent: Option<Agent>,
    http: HttpSettings,
    proto: Config,
    retry: RetryPolicy,
    store: Option<Arc<dyn StateStore>>,
    state_dir: Option<PathBuf>,
    clock: Arc<dyn Clock>,
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
            proto: Config {
                checksums: checksum::SUPPORTED.to_vec(),
                ..Config::default()
            },
            retry: RetryPolicy::default(),
            store: None,
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

    /// Longest time without progress reading or writing, or waiting for a response (default 30 s).
    /// A response's head, and then the (bounded) part of its body that is read, must each arrive
    /// within it as a whole, so a server dribbling bytes cannot hold an upload forever.
    pub fn stall_timeout(mut self, t: Option<Duration>) -> Self {
        self.http.stall_timeout = t;
        self
    }

    /// A header sent with every tus request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http.headers.push((name.into(), value.into()));
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

    /// Keeps resumable state in `store` (default: in memory, for this uploader's life).
    pub fn state_store(mut self, store: impl StateStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Keeps resumable state as files in `dir`, so uploads resume across processes.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The clock used for sleeping between retries and for expiry.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the uploader.
    pub fn build(self) -> Result<Uploader> {
        let store: Arc<dyn StateStore> = match (self.store, self.state_dir) {
            (Some(s), _) => s,
            (None, Some(dir)) => Arc::new(DirStore::new(dir)?),
            (None, None) => Arc::new(MemoryStore::new()),
        };
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
        Ok(Uploader {
            parallel: self.parallel,
            agent,
            http: self.http,
            proto: self.proto,
            retry: self.retry,
            store,
            clock: self.clock,
        })
    }
}

/// Per-upload options: metadata, progress, abort.
#[derive(Default)]
pub struct UploadOptions<'a> {
    metadata: Metadata,
    progress: Option<Box<dyn FnMut(Progress) + 'a>>,
    abort: Option<AbortHandle>,
    terminate_on_abort: bool,
}

impl<'a> UploadOptions<'a> {
    /// No metadata, no progress, no abort.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `Upload-Metadata` pairs.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Called as bytes go out and as the server acknowledges them.
    pub fn progress(mut self, f: impl FnMut(Progress) + 'a) -> Self {
        self.progress = Some(Box::new(f));
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
}

/// A completed upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// The upload's URL.
    pub url: String,
    /// Bytes uploaded in all.
    pub size: u64,
    /// The server's offset when this call resumed an earlier upload, `None` for a new one.
    pub resumed_from: Option<u64>,
    /// The metadata the upload was created with: on a resume, the earlier call's.
    pub metadata: Metadata,
    /// The key its resumable state is saved under, if any.
    pub key: Option<String>,
}

impl Uploader {
    /// An uploader with default settings.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Starts a builder.
    pub fn builder() -> UploaderBuilder {
        UploaderBuilder::default()
    }

    /// The agent requests go through (for [`finalize`](crate::wix::finalize) and Wix calls).
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The state store.
    pub fn store(&self) -> &dyn StateStore {
        &*self.store
    }

    /// Uploads `source` to the tus creation URL `endpoint`, resuming an earlier upload of the same
    /// source to the same endpoint when the state store has one. Its record is removed on success.
    pub fn upload(
        &self,
        endpoint: &str,
        source: Source,
        options: UploadOptions<'_>,
    ) -> Result<Uploaded> {
        let done = self.upload_inner(endpoint, source, options, false)?;
        if let Some(key) = &done.key {
            self.store.remove(key)?;
        }
        Ok(done)
    }

    /// Like [`Uploader::upload`] but keeps the record, so a later call (say, after a failed
    /// finalize) finds the finished upload instead of starting another.
    pub fn upload_keep_state(
        &self,
        endpoint: &str,
        source: Source,
        options: UploadOptions<'_>,
    ) -> Result<Uploaded> {
        self.upload_inner(endpoint, source, options, true)
    }

    fn upload_inner(
        &self,
        endpoint: &str,
        mut source: Source,
        options: UploadOptions<'_>,
        keep: bool,
    ) -> Result<Uploaded> {
        let UploadOptions {
            metadata,
            mut progress,
            abort,
            terminate_on_abort,
        } = options;
        let mut report = |p: Progress| {
            if let Some(f) = progress.as_mut() {
                f(p);
            }
        };
        let key = source.key().map(|k| format!("{endpoint}\n{k}"));
        if self.parallel > 1 && source.is_file() {
            let done = parallel::upload(
                self,
                endpoint,
                &source,
                &metadata,
                key.as_deref(),
                abort.as_ref(),
                &mut report,
            )?;
            if let Some(done) = done {
                return Ok(done);
            }
        }
        let mut cfg = self.proto.clone();
        if source.is_stream() && cfg.chunk_size.is_none() {
            cfg.chunk_size = Some(DEFAULT_STREAM_CHUNK);
        }
        let fresh = |meta: &Metadata| match source.length() {
            Some(len) => Upload::new(endpoint, len, meta, cfg.clone()),
            None => Upload::deferred(endpoint, meta, cfg.clone()),
        };
        let mut leg = self.open_leg(endpoint, key, source.length(), metadata, fresh)?;
        let result = self.drive(&mut leg, &mut source, 0, abort.as_ref(), &mut report);
        if let (Err(Error::Aborted), true, Some(url)) = (&result, terminate_on_abort, leg.up.url())
        {
            self.terminate(url)?;
            if let Some(key) = &leg.key {
                self.store.remove(key)?;
            }
        }
        let resumed_from = result?;
        source.check_unchanged()?;
        if keep {
            self.save(&leg)?;
        }
        let url = leg
            .up
            .url()
            .ok_or_else(|| Error::Protocol("upload finished without a URL".into()))?
            .to_owned();
        Ok(Uploaded {
            url,
            size: leg.up.offset(),
            resumed_from,
            metadata: leg.meta,
            key: leg.key,
        })
    }

    /// Deletes an upload from the server (tus termination). An upload already gone is fine.
    pub fn terminate(&self, upload_url: &str) -> Result<()> {
        let req = proto::Request {
            method: proto::Method::Delete,
            url: upload_url.to_owned(),
            headers: vec![("Tus-Resumable", proto::TUS_VERSION.to_owned())],
            body: None,
            checksum: None,
        };
        let resp = self.send(&req, None, &[])?;
        match resp.status {
            200..=299 | 404 | 410 => Ok(()),
            _ => Err(proto::status_error(
                req.method,
                upload_url,
                &resp,
                self.clock.now(),
            )),
        }
    }

    // Loads the saved state of `key`, or starts a new upload with `fresh`.
    pub(crate) fn open_leg(
        &self,
        endpoint: &str,
        key: Option<String>,
        length: Option<u64>,
        metadata: Metadata,
        fresh: impl Fn(&Metadata) -> Upload,
    ) -> Result<Leg> {
        if let Some(k) = &key {
            match self.store.load(k)? {
                Some(rec)
                    if rec.length == length
                        && length.is_some()
                        && rec.endpoint == endpoint
                        && !expired(&rec, self.clock.now()) =>
                {
                    let meta = record_metadata(&rec)?;
                    let mut up = fresh(&meta);
                    up.resume_at(&rec.upload_url);
                    log::debug!("resuming a saved upload (offset {} when saved)", rec.offset);
                    return Ok(Leg {
                        up,
                        key,
                        meta,
                        caller_meta: metadata,
                        from_record: true,
                        created_at: rec.created_at,
                    });
                }
                Some(_) => {
                    log::info!("saved upload is stale or expired: starting anew");
                    self.store.remove(k)?;
                }
                None => {}
            }
        }
        Ok(Leg {
            up: fresh(&metadata),
            key,
            meta: metadata.clone(),
            caller_meta: metadata,
            from_record: false,
            created_at: unix(self.clock.now()),
        })
    }

    // Runs one upload to its end: `base` is where its byte 0 lies in `source`. Returns the offset
    // it resumed from, if it resumed.
    pub(crate) fn drive(
        &self,
        leg: &mut Leg,
        source: &mut Source,
        base: u64,
        abort: Option<&AbortHandle>,
        report: &mut dyn FnMut(Progress),
    ) -> Result<Option<u64>> {
        let result = self.drive_to_end(leg, source, base, abort, report);
        if let Err(e) = &result {
            if !matches!(e, Error::Gone { .. }) {
                // Best effort: the offset reached, for whoever looks at the record.
                if let Err(save) = self.save(leg) {
                    log::warn!("could not save the upload's state: {save}");
                }
            }
        }
        result
    }

    fn drive_to_end(
        &self,
        leg: &mut Leg,
        source: &mut Source,
        base: u64,
        abort: Option<&AbortHandle>,
        report: &mut dyn FnMut(Progress),
    ) -> Result<Option<u64>> {
        let mut secrets = secret_values(&leg.meta);
        secrets.extend(secret_values(&leg.caller_meta));
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let mut retry = RetryState::new();
        let mut resumed_from = None;
        let mut acked_any = false;
        loop {
            if abort.is_some_and(AbortHandle::is_aborted) {
                return Err(Error::Aborted);
            }
            // Don't send into an upload the server said has expired.
            if leg.up.url().is_some() && leg.up.is_expired(self.clock.now()) {
                if leg.from_record && !acked_any {
                    log::info!("saved upload has expired: starting anew");
                    self.restart_leg(leg)?;
                } else {
                    return Err(Error::Expired);
                }
            }
            let up = &mut leg.up;
            if up.is_deferred() && up.phase() == Phase::Patch {
                let chunk = up.chunk_size().unwrap_or(proto::DEFERRED_CHUNK);
                let have = source.available(base + up.offset(), chunk)?;
                if have < chunk {
                    up.declare_length(up.offset() + have)?;
                }
            }
            let Some(req) = up.next_request() else { break };
            let acked = up.offset();
            let total = up.length().unwrap_or(0);
            let sent = match &req.body {
                Some(range) => {
                    source.check_unchanged()?;
                    let abs = base + range.start..base + range.end;
                    let len = range.end - range.start;
                    let mut headers = req.headers.clone();
                    if let Some(algo) = req.checksum {
                        headers.push((
                            "Upload-Checksum",
                            checksum::header(algo, source.range(abs.clone())?)?,
                        ));
                    }
                    let start = range.start;
                    let mut on_read = |n: u64| {
                        report(Progress {
                            sent: start + n,
                            acked,
                            total,
                        })
                    };
                    let abs_start = abs.start;
                    let body = source.range(abs)?;
                    let mut reader = BodyReader::new(body, len, abort, &mut on_read);
                    let req = proto::Request {
                        headers,
                        ..req.clone()
                    };
                    match self.send(&req, Some((&mut reader, len)), &secrets) {
                        // The body reader counts within this body: say what the source holds.
                        Err(Error::SourceChanged { found, .. }) => {
                            drop(reader);
                            source.check_unchanged()?;
                            Err(Error::SourceChanged {
                                expected: source.length().unwrap_or(base + range.end),
                                found: abs_start + found,
                            })
                        }
                        other => other,
                    }
                }
                None => self.send(&req, None, &secrets),
            };
            let outcome = match sent {
                Ok(resp) => up.handle(&resp, self.clock.now()),
                Err(e) => {
                    up.interrupted();
                    Err(e)
                }
            };
            match outcome {
                Ok(Event::Created { .. }) => {
                    leg.created_at = unix(self.clock.now());
                    self.save(leg)?;
                    acked_any = true;
                    let offset = leg.up.offset();
                    if offset > 0 {
                        // creation-with-upload carried bytes.
                        report(Progress {
                            sent: offset,
                            acked: offset,
                            total,
                        });
                    }
                }
                Ok(Event::Synced { offset }) => {
                    if leg.from_record && resumed_from.is_none() {
                        resumed_from = Some(offset);
                    }
                    acked_any = true;
                    report(Progress {
                        sent: offset,
                        acked: offset,
                        total,
                    });
                }
                Ok(Event::Progress { offset }) => {
                    // Not saved here: a resume re-reads the offset with HEAD anyway, so the
                    // record's offset is only informational (saved when the call ends early).
                    report(Progress {
                        sent: offset,
                        acked: offset,
                        total: leg.up.length().unwrap_or(0),
                    });
                }
                Ok(Event::ChunkSizeLowered { chunk_size }) => {
                    log::warn!("server refused a body as too large; chunk size now {chunk_size}");
                }
                Ok(Event::Discovered) => {}
                Err(Error::Gone { status }) if leg.from_record && !acked_any => {
                    log::info!("saved upload is gone (HTTP {status}): starting anew");
                    self.restart_leg(leg)?;
                }
                Err(e) => {
                    if matches!(e, Error::Gone { .. }) {
                        if let Some(key) = &leg.key {
                            self.store.remove(key)?;
                        }
                    }
                    self.backoff(&mut retry, e, leg.up.offset(), req.method, abort)?;
                }
            }
        }
        Ok(resumed_from)
    }

    // Drops a saved upload that can't be continued and starts a new one.
    fn restart_leg(&self, leg: &mut Leg) -> Result<()> {
        if let Some(key) = &leg.key {
            self.store.remove(key)?;
        }
        // The new upload goes with the caller's metadata (a fresh token), not the saved one.
        leg.from_record = false;
        leg.meta = leg.caller_meta.clone();
        leg.up.restart_with(&leg.meta);
        Ok(())
    }

    // Waits before the next attempt, or returns the error when retrying is over.
    pub(crate) fn backoff(
        &self,
        retry: &mut RetryState,
        e: Error,
        offset: u64,
        method: proto::Method,
        abort: Option<&AbortHandle>,
    ) -> Result<()> {
        match retry.on_failure(&self.retry, &e, offset) {
            Some(delay) => {
                log::warn!(
                    "{} failed (attempt {}), retrying in {delay:?}: {e}",
                    method.as_str(),
                    retry.attempts() - 1
                );
                if sleep_unless_aborted(&*self.clock, delay, abort) {
                    Ok(())
                } else {
                    Err(Error::Aborted)
                }
            }
            None if retry.attempts() > 1 && e.is_retryable() => Err(Error::GaveUp {
                attempts: retry.attempts(),
                last: Box::new(e),
            }),
            None => Err(e),
        }
    }

    pub(crate) fn send<'a>(
        &self,
        req: &'a proto::Request,
        body: Option<(&'a mut dyn std::io::Read, u64)>,
        secrets: &'a [&'a str],
    ) -> Result<proto::ResponseHead> {
        transport::send(
            &self.agent,
            &self.http,
            Exchange {
                method: req.method,
                url: &req.url,
                headers: &req.headers,
                body,
                body_limit: BODY_LIMIT,
                secrets,
            },
        )
    }

    pub(crate) fn save(&self, leg: &Leg) -> Result<()> {
        let (Some(key), Some(url)) = (&leg.key, leg.up.url()) else {
            return Ok(());
        };
        self.store.save(&Record {
            key: key.clone(),
            endpoint: leg.up.endpoint().to_owned(),
            upload_url: url.to_owned(),
            length: leg.up.length(),
            offset: leg.up.offset(),
            created_at: leg.created_at,
            expires_at: leg.up.expires().map(unix),
            metadata: leg
                .meta
                .iter()
                .map(|(k, v)| (k.to_owned(), Secret::new(v)))
                .collect(),
        })
    }

    pub(crate) fn http(&self) -> &HttpSettings {
        &self.http
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn parallel(&self) -> usize {
        self.parallel
    }

    pub(crate) fn proto_config(&self) -> &Config {
        &self.proto
    }
}

/// One upload under way: the machine, where its state is saved, and its metadata.
pub(crate) struct Leg {
    pub(crate) up: Upload,
    pub(crate) key: Option<String>,
    pub(crate) meta: Metadata,
    // What the caller passed, for when a saved upload turns out to be gone.
    pub(crate) caller_meta: Metadata,
    pub(crate) from_record: bool,
    pub(crate) created_at: u64,
}

fn expired(rec: &Record, now: SystemTime) -> bool {
    rec.expires_at.is_some_and(|at| at <= unix(now))
}

fn record_metadata(rec: &Record) -> Result<Metadata> {
    let mut m = Metadata::new();
    for (k, v) in &rec.metadata {
        m.insert(k, v.expose())
            .map_err(|e| Error::Store(format!("saved metadata is invalid: {e}")))?;
    }
    Ok(m)
}

// Metadata values that must never be logged.
fn secret_values(meta: &Metadata) -> Vec<String> {
    meta.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("token"))
        .map(|(_, v)| v.to_owned())
        .collect()
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
