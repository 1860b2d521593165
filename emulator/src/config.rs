//! [`EmulatorConfig`] and the tus extensions it can switch on and off.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::Emulator;

/// A tus 1.0 protocol extension the emulator can advertise and honour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TusExtension {
    /// `POST` creates an upload.
    Creation,
    /// The creation `POST` may carry the first bytes.
    CreationWithUpload,
    /// `Upload-Defer-Length: 1` at creation; the length comes with a later `PATCH`.
    CreationDeferLength,
    /// `DELETE` removes an upload.
    Termination,
    /// Incomplete uploads expire; responses carry `Upload-Expires`.
    Expiration,
    /// `Upload-Checksum` on `PATCH` is verified (`sha1`, `sha256`, `md5`).
    Checksum,
    /// `Upload-Concat: partial` and `final;...` uploads.
    Concatenation,
}

impl TusExtension {
    /// Every extension, in the order `Tus-Extension` lists them.
    pub const ALL: [TusExtension; 7] = [
        TusExtension::Creation,
        TusExtension::CreationWithUpload,
        TusExtension::CreationDeferLength,
        TusExtension::Termination,
        TusExtension::Expiration,
        TusExtension::Checksum,
        TusExtension::Concatenation,
    ];

    /// The name used in the `Tus-Extension` header.
    pub fn name(self) -> &'static str {
        match self {
            TusExtension::Creation => "creation",
            TusExtension::CreationWithUpload => "creation-with-upload",
            TusExtension::CreationDeferLength => "creation-defer-length",
            TusExtension::Termination => "termination",
            TusExtension::Expiration => "expiration",
            TusExtension::Checksum => "checksum",
            TusExtension::Concatenation => "concatenation",
        }
    }
}

impl fmt::Display for TusExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cap on REST calls: at most `calls` per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub calls: u32,
    pub window: Duration,
}

/// How [`EmulatorConfig::rate_limit`] counts its window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateWindow {
    /// At most `calls` in any `window` ending now (the default).
    #[default]
    Sliding,
    /// At most `calls` in each of back-to-back windows, the first starting at the first REST
    /// call; the count starts again at each window's start.
    Fixed,
}

/// Settings for an [`Emulator`]; build one, then call [`EmulatorConfig::start`].
///
/// Every setter takes and returns the config by value, so an unused result is a lost setting.
#[must_use]
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub(crate) port: u16,
    pub(crate) max_file_size: u64,
    pub(crate) max_body_size: Option<u64>,
    pub(crate) drain_rejected_bodies: bool,
    pub(crate) expiration: Duration,
    pub(crate) extensions: Vec<TusExtension>,
    pub(crate) idle_timeout: Duration,
    pub(crate) null_sink: bool,
    pub(crate) processing_delay: Duration,
    pub(crate) lookup_delay: Duration,
    pub(crate) list_lag: Duration,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) rate_window: RateWindow,
    pub(crate) retry_after: bool,
    pub(crate) site_id: Option<String>,
    pub(crate) token_ttl: Duration,
    pub(crate) upload_url_ttl: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            max_file_size: 5 * 1024 * 1024 * 1024,
            max_body_size: None,
            drain_rejected_bodies: false,
            expiration: Duration::from_secs(24 * 60 * 60),
            extensions: TusExtension::ALL.to_vec(),
            // Like @tus/server, idle kept-alive connections are closed after about 5 s.
            idle_timeout: Duration::from_secs(5),
            null_sink: false,
            processing_delay: Duration::from_secs(2),
            lookup_delay: Duration::ZERO,
            list_lag: Duration::ZERO,
            rate_limit: None,
            rate_window: RateWindow::Sliding,
            retry_after: false,
            site_id: None,
            // Decoded real tokens are valid about 7 days; simple upload URLs about 12-24 h.
            token_ttl: Duration::from_secs(7 * 24 * 60 * 60),
            upload_url_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl EmulatorConfig {
    /// The defaults: random port, 5 GiB file limit, unlimited bodies, 24 h tus expiration,
    /// every tus extension, 5 s keep-alive idle timeout, 2 s processing for videos and
    /// imports, no lookup delay, no list lag, no rate limit, any site id, 7-day upload tokens
    /// and 24-hour simple upload URLs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Port on 127.0.0.1 to bind; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Largest file accepted: bigger `sizeInBytes` gives `FILE_SIZE_OVER_LIMIT`, bigger
    /// `Upload-Length` (or simple upload body, or import) gives 413 (a failed import). Also
    /// sent as `Tus-Max-Size`.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Largest body of upload traffic (tus `PATCH`, tus `POST` with creation-with-upload,
    /// simple upload `PUT`) accepted (default: unlimited), like a front proxy's limit (nginx's
    /// `client_max_body_size`).
    ///
    /// A `Content-Length` over it is answered `413` with `Connection: close` right after the
    /// head, without reading the body, and the connection is closed; with
    /// `Expect: 100-continue` the 413 comes instead of `100 Continue`. A client that only
    /// reads its answer after sending the whole body sees the connection reset instead (see
    /// [`EmulatorConfig::drain_rejected_bodies`]). A chunked body is cut off with a 413 once it
    /// passes the limit. REST (JSON) bodies have their own 1 MiB limit.
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = Some(bytes);
        self
    }

    /// With `true`, a body over [`EmulatorConfig::max_body_size`] is read to its end and thrown
    /// away before the 413, and the connection stays open: what a client that can't take early
    /// answers needs (off by default). A request with `Expect: 100-continue` still gets the 413
    /// at once.
    pub fn drain_rejected_bodies(mut self, on: bool) -> Self {
        self.drain_rejected_bodies = on;
        self
    }

    /// How long an incomplete upload lives after its creation (`Upload-Expires`).
    pub fn expiration(mut self, period: Duration) -> Self {
        self.expiration = period;
        self
    }

    /// How long a kept-alive connection may sit idle before the server closes it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Adds `PUT {base}/null`, which reads its body through the same 256 KiB buffer as tus
    /// uploads and throws it away: the HTTP layer's raw rate, for benchmarks (off by default).
    pub fn null_sink(mut self, on: bool) -> Self {
        self.null_sink = on;
        self
    }

    /// How long a video (`mediaType` `VIDEO`, from any route) and an imported file stay
    /// `PENDING` after their bytes arrived before turning `READY` (default 2 s). Other uploads
    /// are `READY` at once. `Duration::ZERO` makes videos `READY` at once and imports as soon
    /// as they are fetched.
    pub fn processing_delay(mut self, delay: Duration) -> Self {
        self.processing_delay = delay;
        self
    }

    /// For this long after its creation a file is not found by the read routes (404), as Wix's
    /// descriptors can be briefly absent right after creation (default: 0).
    pub fn lookup_delay(mut self, delay: Duration) -> Self {
        self.lookup_delay = delay;
        self
    }

    /// For this long after its creation a file is left out of the listing routes (list files,
    /// search files), as Wix's index lags behind its writes, while the routes by id
    /// (`get-file-by-id`, `get-files`, ...) see it at once (default: 0).
    pub fn list_lag(mut self, lag: Duration) -> Self {
        self.list_lag = lag;
        self
    }

    /// Whether a 429 carries `Retry-After` (whole seconds until a call is allowed again). Off
    /// by default: Wix documents none.
    pub fn rate_limit_retry_after(mut self, on: bool) -> Self {
        self.retry_after = on;
        self
    }

    /// The only site id REST calls may use: another `wix-site-id` gets `403` with an HTML body,
    /// as Wix answers a wrong site id or a key without the Media Manager permission. Unset (the
    /// default), any site id is accepted.
    pub fn site_id(mut self, site_id: impl Into<String>) -> Self {
        self.site_id = Some(site_id.into());
        self
    }

    /// How long a resumable upload token is accepted (default 7 days): an expired token can't
    /// create tus uploads or finalize (`401 UNAUTHENTICATED`).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// How long a simple upload URL is accepted (default 24 h): an expired one answers
    /// `401 UNAUTHENTICATED`.
    pub fn upload_url_ttl(mut self, ttl: Duration) -> Self {
        self.upload_url_ttl = ttl;
        self
    }

    /// Exactly which tus extensions to advertise and honour.
    pub fn extensions(mut self, extensions: impl IntoIterator<Item = TusExtension>) -> Self {
        self.extensions = extensions.into_iter().collect();
        self.extensions.sort();
        self.extensions.dedup();
        self
    }

    /// Switches one tus extension off.
    pub fn without_extension(mut self, extension: TusExtension) -> Self {
        self.extensions.retain(|e| *e != extension);
        self
    }

    /// At most `calls` REST calls (every `/site-media/...` route, the read side included) per
    /// `window`, counted as [`EmulatorConfig::rate_window`] says (sliding by default); past it
    /// they get `429` with a `RESOURCE_EXHAUSTED` body (default: no limit; Wix's is about 200
    /// per minute per site). Refused calls don't count. Upload traffic (tus, the simple upload
    /// `PUT`) and download URLs are never limited. All sites and clients share the one limit.
    pub fn rate_limit(mut self, calls: u32, window: Duration) -> Self {
        self.rate_limit = Some(RateLimit { calls, window });
        self
    }

    /// How the rate limit's window is counted: [`RateWindow::Sliding`] (the default) or
    /// [`RateWindow::Fixed`].
    pub fn rate_window(mut self, kind: RateWindow) -> Self {
        self.rate_window = kind;
        self
    }

    /// Starts an emulator storing its uploads under `dir` (created if missing).
    ///
    /// # Errors
    ///
    /// The I/O error when the directory can't be made or read, or the port can't be bound.
    pub fn start(self, dir: impl AsRef<Path>) -> io::Result<Emulator> {
        Emulator::start_with(dir, self)
    }

    pub(crate) fn has(&self, extension: TusExtension) -> bool {
        self.extensions.contains(&extension)
    }
}
