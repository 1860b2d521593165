//! A local, offline stand-in for the Wix upload endpoints (feature `emulator`).
//!
//! Like LocalStack or Azurite, it lets you run your upload code without a Wix account or a
//! network: [`Emulator::start`] serves, on `127.0.0.1` and a free port,
//!
//! - `POST {base}/site-media/v1/files/generate-resumable-upload-url`, with Wix's header checks
//!   and validation rules (`ZERO_FILE_SIZE`, `UNSUPPORTED_FILE_FORMAT`, `MISMATCH_MIME_TYPE`,
//!   `FILE_SIZE_OVER_LIMIT`), issuing single-use upload tokens;
//! - a tus 1.0 server at `{base}/upload/tus` (core, creation, creation-with-upload,
//!   creation-defer-length, termination, expiration, checksum, concatenation; each can be
//!   switched off with [`EmulatorConfig`]) that requires an issued `token` in
//!   `Upload-Metadata`;
//! - the finalize call `PUT {base}/upload/tus/{token}?filename=NAME`, answering a Wix-shaped
//!   `FileDescriptor` whose `hash` is the MD5 of the stored bytes.
//!
//! Uploads are stored under the directory given to `start` and survive a restart on the same
//! directory. Tests can inspect them ([`Emulator::uploads`], [`Emulator::stored_bytes`]), count
//! requests ([`Emulator::request_counts`]) and inject failures ([`Emulator::fail_next`],
//! [`Emulator::drop_next`], [`Emulator::cut_next_body_after`]).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let emu = wix_media_upload::emulator::Emulator::start("target/wix-emulator")?;
//! println!("generate at {}, tus at {}", emu.generate_url(), emu.tus_endpoint());
//! emu.stop();
//! # Ok(()) }
//! ```
//!
//! # Behaviour worth knowing
//! - Errors carry Wix-shaped JSON bodies (`applicationError` or `validationError`), tus ones
//!   included; every tus answer has `Tus-Resumable: 1.0.0`.
//! - MIME types Wix doesn't host (executables, `application/octet-stream`, `text/html`, ...)
//!   get `UNSUPPORTED_FILE_FORMAT`; `MISMATCH_MIME_TYPE` compares media families (a `.png`
//!   named `image/jpeg` passes, a `.png` named `video/mp4` does not).
//! - Creating an upload needs `token` (an issued, not yet finalized upload token) in
//!   `Upload-Metadata`: missing → 401, unknown or used → 403. A final concatenation inherits
//!   the partials' token. Finalize uses the newest final upload for the token, else the
//!   newest plain one.
//! - A body cut short (client gone) keeps the bytes that arrived, like `@tus/server`, unless
//!   it carried `Upload-Checksum`. A checksum mismatch (460) keeps nothing.
//! - Only incomplete uploads expire; `Upload-Expires` is sent while an upload is incomplete.
//! - Idle kept-alive connections are closed after 5 s, as `@tus/server` does, so clients
//!   must retry a request that fails on a reused connection
//!   ([`EmulatorConfig::idle_timeout`] changes it).
//! - The finalize `filename` query is decoded as a form component: `%XX`, and `+` as space.
//!
//! # Why no HTTP server crate
//! The server is a small HTTP/1.1 loop on `std::net` with `httparse` (already in the tree
//! through `ureq`) for request heads. `tiny_http` 0.12 (its latest release, from 2022) was
//! checked and rejected: its threads can't be joined, so a stop can't be clean; a request
//! arriving on a kept-alive connection after the server is dropped is queued and never
//! answered, so a client hangs instead of seeing the connection close; and it drains an
//! unread body by allocating a buffer as large as the remaining `Content-Length`, which a
//! 413 answer to a multi-GiB PATCH would hit. Owning the loop also gives exact control over
//! what tus needs: streamed bodies read with a fixed buffer, `Expect: 100-continue`, custom
//! statuses such as 460, and cutting a connection mid-body for fault tests.

mod http;
mod store;
mod tus;
mod wix;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Outcome, Request, Response, Server, lock};
use store::{Concat, Store, UploadRecord};

/// Path of the tus creation endpoint.
const TUS_PATH: &str = "/upload/tus";
/// Path of the generate endpoint.
const GENERATE_PATH: &str = "/site-media/v1/files/generate-resumable-upload-url";

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

/// Settings for an [`Emulator`]; build one, then call [`EmulatorConfig::start`].
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    port: u16,
    max_file_size: u64,
    max_body_size: Option<u64>,
    expiration: Duration,
    extensions: Vec<TusExtension>,
    idle_timeout: Duration,
    null_sink: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            max_file_size: 5 * 1024 * 1024 * 1024,
            max_body_size: None,
            expiration: Duration::from_secs(24 * 60 * 60),
            extensions: TusExtension::ALL.to_vec(),
            // Like @tus/server, idle kept-alive connections are closed after about 5 s.
            idle_timeout: Duration::from_secs(5),
            null_sink: false,
        }
    }
}

impl EmulatorConfig {
    /// The defaults: random port, 5 GiB file limit, unlimited bodies, 24 h expiration, every
    /// tus extension, 5 s keep-alive idle timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Port on 127.0.0.1 to bind; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Largest file accepted: bigger `sizeInBytes` gives `FILE_SIZE_OVER_LIMIT`, bigger
    /// `Upload-Length` gives 413. Also sent as `Tus-Max-Size`.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Largest `PATCH`/`POST` body accepted; larger ones get 413 (default: unlimited).
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = Some(bytes);
        self
    }

    /// How long an incomplete upload lives after its creation (`Upload-Expires`).
    pub fn expiration(mut self, period: Duration) -> Self {
        self.expiration = period;
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

    /// How long a kept-alive connection may sit idle before the server closes it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Adds `PUT {base}/null`, which reads its body through the same 256 KiB buffer as tus uploads and
    /// throws it away: the HTTP layer's raw rate, for benchmarks (off by default).
    pub fn null_sink(mut self, on: bool) -> Self {
        self.null_sink = on;
        self
    }

    /// Starts an emulator storing its uploads under `dir` (created if missing).
    pub fn start(self, dir: impl AsRef<Path>) -> io::Result<Emulator> {
        Emulator::start_with(dir, self)
    }

    fn has(&self, extension: TusExtension) -> bool {
        self.extensions.contains(&extension)
    }
}

/// One tus upload held by the emulator, as [`Emulator::uploads`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadInfo {
    /// The upload's id (last segment of its URL).
    pub id: String,
    /// The absolute upload URL (the `Location` of its creation).
    pub url: String,
    /// Bytes received so far.
    pub offset: u64,
    /// Total length, `None` while deferred.
    pub length: Option<u64>,
    /// Decoded `Upload-Metadata` (values as lossy UTF-8; a key without value maps to "").
    pub metadata: BTreeMap<String, String>,
    /// The Wix upload token it belongs to.
    pub token: Option<String>,
    /// Created with `Upload-Concat: partial`.
    pub is_partial: bool,
    /// Created with `Upload-Concat: final;...`.
    pub is_final: bool,
    /// Where its bytes are stored.
    pub path: PathBuf,
}

impl UploadInfo {
    /// All bytes have arrived.
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.offset)
    }
}

/// A failure injected by the fault switch.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Status(u16),
    Drop,
}

/// State shared by the handle and the connection threads.
struct State {
    config: EmulatorConfig,
    base_url: String,
    store: Store,
    faults: Mutex<VecDeque<Fault>>,
    cut_body_after: Mutex<Option<u64>>,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl State {
    fn upload_url(&self, id: &str) -> String {
        format!("{}{}/{}", self.base_url, TUS_PATH, id)
    }

    fn info(&self, rec: &UploadRecord) -> UploadInfo {
        UploadInfo {
            id: rec.id.clone(),
            url: self.upload_url(&rec.id),
            offset: rec.offset,
            length: rec.length,
            metadata: rec
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect(),
            token: rec.token.clone(),
            is_partial: rec.concat == Concat::Partial,
            is_final: matches!(rec.concat, Concat::Final(_)),
            path: self.store.data_path(&rec.id),
        }
    }

    /// Takes the one-shot "cut the next body" switch.
    fn take_cut(&self) -> Option<u64> {
        lock(&self.cut_body_after).take()
    }
}

/// A running emulator. Dropping it stops it, like [`Emulator::stop`].
pub struct Emulator {
    state: Arc<State>,
    server: Server,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.state.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator with default settings, storing uploads under `dir`.
    pub fn start(dir: impl AsRef<Path>) -> io::Result<Emulator> {
        Self::start_with(dir, EmulatorConfig::default())
    }

    /// A builder for non-default settings.
    pub fn builder() -> EmulatorConfig {
        EmulatorConfig::default()
    }

    /// Starts an emulator with `config`, storing uploads under `dir`.
    pub fn start_with(dir: impl AsRef<Path>, config: EmulatorConfig) -> io::Result<Emulator> {
        let store = Store::open(dir.as_ref())?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        // The handler needs the base URL, which needs the bound port: fill it in after binding.
        let slot: Arc<Mutex<Option<Arc<State>>>> = Arc::new(Mutex::new(None));
        let handler_slot = Arc::clone(&slot);
        let handler = Arc::new(move |req: &mut Request<'_>| {
            let state = lock(&handler_slot).clone();
            match state {
                Some(state) => handle(&state, req),
                None => Outcome::Respond(Response::new(503)),
            }
        });
        let idle = config.idle_timeout;
        let server = Server::start(addr, idle, handler)?;
        let state = Arc::new(State {
            base_url: format!("http://{}", server.addr()),
            config,
            store,
            faults: Mutex::new(VecDeque::new()),
            cut_body_after: Mutex::new(None),
            counts: Mutex::new(BTreeMap::new()),
        });
        *lock(&slot) = Some(Arc::clone(&state));
        Ok(Emulator { state, server })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, standing in for `https://www.wixapis.com`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The tus creation URL (`{base}/upload/tus`), as returned in `uploadUrl`.
    pub fn tus_endpoint(&self) -> String {
        format!("{}{}", self.state.base_url, TUS_PATH)
    }

    /// The full URL of the generate-resumable-upload-url endpoint.
    pub fn generate_url(&self) -> String {
        format!("{}{}", self.state.base_url, GENERATE_PATH)
    }

    /// Every upload held, oldest first.
    pub fn uploads(&self) -> Vec<UploadInfo> {
        let recs = self.state.store.all();
        recs.iter().map(|r| self.state.info(r)).collect()
    }

    /// One upload, by upload URL or id, or the one a token's finalize would use.
    pub fn upload(&self, key: &str) -> Option<UploadInfo> {
        self.find(key).map(|r| self.state.info(&r))
    }

    /// Path of the stored bytes for an upload URL, upload id or upload token.
    pub fn stored_path(&self, key: &str) -> Option<PathBuf> {
        self.find(key).map(|r| self.state.store.data_path(&r.id))
    }

    /// The stored bytes for an upload URL, upload id or upload token (reads the whole file;
    /// meant for tests on small files).
    pub fn stored_bytes(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.stored_path(key)?).ok()
    }

    /// Every upload token issued so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state
            .store
            .tokens()
            .into_iter()
            .map(|t| t.token)
            .collect()
    }

    /// The file descriptors returned by successful finalize calls, oldest token first.
    pub fn finalized_files(&self) -> Vec<serde_json::Value> {
        self.state
            .store
            .tokens()
            .into_iter()
            .filter_map(|t| t.finalized)
            .collect()
    }

    /// For tests: the next `n` requests (any route) answer `status` with a Wix-shaped error
    /// body and change no state.
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.state.faults).extend(std::iter::repeat_n(Fault::Status(status), n));
    }

    /// For tests: the next `n` requests get no answer; their connection is closed.
    pub fn drop_next(&self, n: usize) {
        lock(&self.state.faults).extend(std::iter::repeat_n(Fault::Drop, n));
    }

    /// For tests: the next upload body (PATCH, or POST with creation-with-upload) is cut after
    /// `bytes` bytes: those bytes are kept, the offset advances, and the connection closes
    /// without an answer, like a network failure mid-upload.
    pub fn cut_next_body_after(&self, bytes: u64) {
        *lock(&self.state.cut_body_after) = Some(bytes);
    }

    /// Requests received so far, per HTTP method (faulted ones included).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.counts).clone()
    }

    /// Clears [`Emulator::request_counts`].
    pub fn reset_request_counts(&self) {
        lock(&self.state.counts).clear();
    }

    /// Stops serving: closes the listener and open connections and joins every thread.
    pub fn stop(mut self) {
        self.server.shutdown();
    }

    fn find(&self, key: &str) -> Option<UploadRecord> {
        let store = &self.state.store;
        if store.token(key).is_some() {
            return wix::upload_for_token(store, key);
        }
        let id = key.trim_end_matches('/').rsplit('/').next().unwrap_or(key);
        store.get(id)
    }
}

/// Counts the request, applies any injected fault, then routes it.
fn handle(state: &State, req: &mut Request<'_>) -> Outcome {
    *lock(&state.counts).entry(req.method.clone()).or_insert(0) += 1;
    let fault = lock(&state.faults).pop_front();
    match fault {
        Some(Fault::Drop) => return Outcome::Drop,
        Some(Fault::Status(status)) => {
            let body = serde_json::json!({"message": "", "details": {}});
            return Outcome::Respond(Response::new(status).json(&body));
        }
        None => {}
    }
    let path = req.path.clone();
    if state.config.null_sink && path == "/null" {
        let mut buf = vec![0u8; store::BUF_SIZE];
        loop {
            match std::io::Read::read(&mut req.body, &mut buf) {
                Ok(0) => return Outcome::Respond(Response::new(204)),
                Ok(_) => {}
                Err(_) => return Outcome::Drop,
            }
        }
    }
    if path == GENERATE_PATH {
        return match req.method.as_str() {
            "POST" => Outcome::Respond(wix::generate(state, req)),
            _ => Outcome::Respond(wix::error(405, "METHOD_NOT_ALLOWED", "method not allowed")),
        };
    }
    let Some(rest) = path.strip_prefix(TUS_PATH) else {
        return Outcome::Respond(wix::error(404, "NOT_FOUND", "no such route"));
    };
    let rest = rest.trim_matches('/');
    if rest.is_empty() {
        return tus::collection(state, req);
    }
    if rest.contains('/') {
        return Outcome::Respond(wix::error(404, "NOT_FOUND", "no such route"));
    }
    let rest = rest.to_string();
    if req.method == "PUT" {
        return Outcome::Respond(wix::finalize(state, req, &rest));
    }
    tus::resource(state, req, &rest)
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// 64 unpredictable-looking bits (std's randomly keyed SipHash over a counter and the clock);
/// not for security, only so ids and tokens don't repeat or look sequential.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// `2 * n` random lowercase hex digits.
fn random_hex(n: usize) -> String {
    let mut s = String::with_capacity(2 * n);
    while s.len() < 2 * n {
        s.push_str(&format!("{:016x}", random_u64()));
    }
    s.truncate(2 * n);
    s
}

/// RFC 3339 UTC timestamp with milliseconds, e.g. `2022-09-11T15:13:24.000Z`.
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_662_909_204_000), "2022-09-11T15:13:24.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }

    #[test]
    fn random_hex_has_requested_length_and_varies() {
        let a = random_hex(16);
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex(16));
    }
}
