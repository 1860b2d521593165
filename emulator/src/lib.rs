//! A local, offline stand-in for the Wix Media Manager: its REST routes and its upload
//! endpoints (tus, simple upload), written from Wix's documentation.
//!
//! Like LocalStack or Azurite, it lets you run your upload code without a Wix account or a
//! network: [`Emulator::start`] serves, on `127.0.0.1` and a free port (`{base}` below stands
//! for `https://www.wixapis.com` and `https://upload.wixmp.com` alike):
//!
//! | route | answer |
//! |---|---|
//! | `POST {base}/site-media/v1/files/generate-resumable-upload-url` | `{uploadProtocol: "TUS", uploadUrl: "{base}/upload/tus", uploadToken}` |
//! | tus 1.0 at `{base}/upload/tus` (`OPTIONS`, `POST`, then `HEAD`/`PATCH`/`DELETE` on `{base}/upload/tus/<id>`) | tus answers |
//! | `PUT {base}/upload/tus/<uploadToken>?filename=NAME` (finalize) | `{file: FileDescriptor}` |
//! | `POST {base}/site-media/v1/files/generate-upload-url` | `{uploadUrl: "{base}/upload/<token>"}` |
//! | `PUT {base}/upload/<token>?filename=NAME` with the raw file as body | `{file: FileDescriptor}` |
//! | `POST {base}/site-media/v1/files/import` | `{file: FileDescriptor}` (`PENDING`, no `media`) |
//! | `GET {base}/site-media/v1/files/get-file-by-id?fileId=ID` (also `GET .../files/ID`) | `{file: FileDescriptor}` |
//! | `POST {base}/site-media/v1/files/get-files` with `{fileIds: [...]}` | `{files: [...]}` |
//!
//! Both generate routes check Wix's rules (`ZERO_FILE_SIZE`, `UNSUPPORTED_FILE_FORMAT`,
//! `MISMATCH_MIME_TYPE`, `FILE_SIZE_OVER_LIMIT`) and issue single-use tokens. The tus server
//! speaks core, creation, creation-with-upload, creation-defer-length, termination,
//! expiration, checksum and concatenation (each can be switched off with
//! [`EmulatorConfig`]) and requires an issued `token` in `Upload-Metadata`. A descriptor's
//! `hash` is the MD5 of the stored bytes.
//!
//! State lives under the directory given to `start` and survives a restart on the same
//! directory, including the bytes of a body cut short by the process's death. Tests can
//! inspect it ([`Emulator::uploads`], [`Emulator::stored_bytes`], [`Emulator::files`]), count
//! requests ([`Emulator::request_counts`], [`Emulator::route_counts`]) and inject failures
//! ([`Emulator::fail_next`], [`Emulator::drop_next`], [`Emulator::cut_next_body_after`]).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let emu = wix_media_emulator::Emulator::start("target/wix-emulator")?;
//! println!("generate at {}, tus at {}", emu.generate_url(), emu.tus_endpoint());
//! emu.stop();
//! # Ok(()) }
//! ```
//!
//! # Behaviour worth knowing
//! - Errors carry Wix-shaped JSON bodies (`applicationError` or `validationError`), tus ones
//!   included; every tus answer has `Tus-Resumable: 1.0.0`.
//! - REST routes (`/site-media/...`) need `Authorization` (else 401) and `wix-site-id` (none,
//!   or only `wix-account-id`: 403; both: 400). With [`EmulatorConfig::site_id`] another site
//!   id gets 403 with an HTML body. [`EmulatorConfig::rate_limit`] limits them (429).
//! - MIME types Wix doesn't host (executables, `text/html`, ...) get `UNSUPPORTED_FILE_FORMAT`;
//!   `MISMATCH_MIME_TYPE` compares media families (a `.png` named `image/jpeg` passes, a
//!   `.png` named `video/mp4` does not).
//! - Creating a tus upload needs `token` (an issued, not yet finalized upload token) in
//!   `Upload-Metadata`: missing → 401, unknown or used → 403, expired → 401. A final
//!   concatenation inherits the partials' token. Finalize uses the newest final upload for
//!   the token, else the newest plain one.
//! - The `filename` query of finalize and of the simple upload may be left out when
//!   `fileName` was given at generate time; it is decoded as a form component (`%XX`, `+` as
//!   space).
//! - A simple upload URL is single-use: a second `PUT` gets 409 `ALREADY_EXISTS`. A `PUT`
//!   whose body is cut short stores nothing and leaves the URL unused, so it can be retried.
//! - Videos and imports are `PENDING` for [`EmulatorConfig::processing_delay`] (2 s by
//!   default), then `READY`; other files are `READY` at once. Imports only fetch from
//!   `http://127.0.0.1` or `http://localhost`; any other source becomes `FAILED`.
//! - A tus body cut short (client gone) keeps the bytes that arrived, like `@tus/server`,
//!   unless it carried `Upload-Checksum`. A checksum mismatch (460) keeps nothing.
//! - Upload bodies over [`EmulatorConfig::max_body_size`] get an early 413 and a closed
//!   connection, as front proxies answer.
//! - Only incomplete uploads expire; `Upload-Expires` is sent while an upload is incomplete.
//! - Idle kept-alive connections are closed after 5 s, as `@tus/server` does, so clients
//!   must retry a request that fails on a reused connection
//!   ([`EmulatorConfig::idle_timeout`] changes it).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod config;
mod http;
mod store;
mod tus;
mod wix;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use config::{EmulatorConfig, TusExtension};
use http::{Outcome, Request, Response, Server, lock};
use store::{Concat, Store, TokenKind, UploadRecord};

/// Path of the tus creation endpoint.
const TUS_PATH: &str = "/upload/tus";
/// Simple upload URLs are `{base}/upload/<token>`.
const UPLOAD_PREFIX: &str = "/upload/";
/// Prefix of the Media Manager REST routes.
const FILES_PATH: &str = "/site-media/v1/files";
/// Path of the resumable generate endpoint.
const GENERATE_PATH: &str = "/site-media/v1/files/generate-resumable-upload-url";
/// Path of the simple generate endpoint.
const GENERATE_SIMPLE_PATH: &str = "/site-media/v1/files/generate-upload-url";
/// Prefix under which every path counts as a (rate-limited, authenticated) REST call.
const REST_PREFIX: &str = "/site-media/";

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

/// Background imports, so a stop can cut and join them.
#[derive(Default)]
struct Imports {
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Clones of the sockets of fetches in progress.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    next: AtomicU64,
    stopping: AtomicBool,
}

/// State shared by the handle, the connection threads and the import threads.
struct State {
    config: EmulatorConfig,
    base_url: String,
    store: Store,
    faults: Mutex<VecDeque<Fault>>,
    cut_body_after: Mutex<Option<u64>>,
    counts: Mutex<BTreeMap<String, u64>>,
    route_counts: Mutex<BTreeMap<String, u64>>,
    /// When the REST calls of the current rate-limit window were let through.
    rate: Mutex<VecDeque<Instant>>,
    imports: Imports,
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

    /// Cuts running imports and joins their threads.
    fn stop_imports(&self) {
        self.imports.stopping.store(true, Ordering::SeqCst);
        for s in lock(&self.imports.sockets).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.imports.threads));
        for t in threads {
            let _ = t.join();
        }
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
    ///
    /// # Errors
    ///
    /// The I/O error when the directory can't be made or read, or the port can't be bound.
    pub fn start(dir: impl AsRef<Path>) -> io::Result<Emulator> {
        Self::start_with(dir, EmulatorConfig::default())
    }

    /// A builder for non-default settings.
    pub fn builder() -> EmulatorConfig {
        EmulatorConfig::default()
    }

    /// Starts an emulator with `config`, storing uploads under `dir`.
    ///
    /// # Errors
    ///
    /// The I/O error when the directory can't be made or read, or the port can't be bound.
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
            route_counts: Mutex::new(BTreeMap::new()),
            rate: Mutex::new(VecDeque::new()),
            imports: Imports::default(),
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

    /// The full URL of the generate-upload-url endpoint (simple upload).
    pub fn generate_simple_url(&self) -> String {
        format!("{}{}", self.state.base_url, GENERATE_SIMPLE_PATH)
    }

    /// `{base}/site-media/v1/files`, the prefix of `import`, `get-file-by-id` and `get-files`.
    pub fn files_url(&self) -> String {
        format!("{}{}", self.state.base_url, FILES_PATH)
    }

    /// Every tus upload held, oldest first.
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

    // The tokens of `kind` issued so far, oldest first.
    fn tokens(&self, kind: TokenKind) -> impl Iterator<Item = store::TokenRecord> {
        self.state.store.tokens(kind).into_iter()
    }

    /// Every resumable upload token issued so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.tokens(TokenKind::Resumable).map(|t| t.token).collect()
    }

    /// Every simple upload URL issued so far (`{base}/upload/<token>`), oldest first.
    pub fn issued_upload_urls(&self) -> Vec<String> {
        self.tokens(TokenKind::Simple)
            .map(|t| wix::simple_upload_url(&self.state, &t.token))
            .collect()
    }

    /// The file descriptors returned by successful finalize calls, oldest token first.
    pub fn finalized_files(&self) -> Vec<serde_json::Value> {
        self.tokens(TokenKind::Resumable)
            .filter_map(|t| t.finalized)
            .collect()
    }

    /// The current descriptor of every file (finalized, simple-uploaded or imported), oldest
    /// first, as `get-file-by-id` would answer it now (lookup delay aside).
    pub fn files(&self) -> Vec<serde_json::Value> {
        let now = now_ms();
        self.state
            .store
            .files()
            .iter()
            .map(|f| wix::files::descriptor(f, now))
            .collect()
    }

    /// The current descriptor of one file, by id.
    pub fn file(&self, id: &str) -> Option<serde_json::Value> {
        let f = self.state.store.file(id)?;
        Some(wix::files::descriptor(&f, now_ms()))
    }

    /// The bytes of a file, by id (reads the whole file; meant for tests on small files).
    /// `None` while an import is fetching or when it failed.
    pub fn file_bytes(&self, id: &str) -> Option<Vec<u8>> {
        let f = self.state.store.file(id)?;
        if f.stage != store::Stage::Processing {
            return None;
        }
        std::fs::read(self.state.store.bytes_path(&f)).ok()
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

    /// Requests received so far, per HTTP method (faulted ones included; methods other than
    /// the nine standard ones count as `OTHER`).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.counts).clone()
    }

    /// Requests received so far, per method and route, faulted ones included. Keys:
    /// `POST generate-resumable-upload-url`, `POST generate-upload-url`, `PUT simple-upload`,
    /// `OPTIONS tus`, `POST tus-create`, `HEAD tus`, `PATCH tus` (a `POST` with
    /// `X-HTTP-Method-Override: PATCH` included), `DELETE tus`, `PUT finalize`,
    /// `POST import`, `GET get-file-by-id`, `GET get-file` (`GET .../files/ID`),
    /// `POST get-files`, `PUT null`; anything else is `<METHOD> unknown` (a method outside
    /// the nine standard ones counts as `OTHER`).
    pub fn route_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.route_counts).clone()
    }

    /// Clears [`Emulator::request_counts`] and [`Emulator::route_counts`].
    pub fn reset_request_counts(&self) {
        lock(&self.state.counts).clear();
        lock(&self.state.route_counts).clear();
    }

    /// Stops serving: closes the listener and open connections, cuts running imports and
    /// joins every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.server.shutdown();
        self.state.stop_imports();
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

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where a request goes.
enum Route {
    Null,
    /// `/site-media/...`: the REST routes.
    Rest(wix::RestRoute),
    TusCollection,
    /// `/upload/tus/<segment>`: a tus upload, or the finalize `PUT` for a token.
    TusResource(String),
    /// `/upload/<token>`: a simple upload URL.
    Simple(String),
    Unknown,
}

fn route(state: &State, path: &str) -> Route {
    if state.config.null_sink && path == "/null" {
        return Route::Null;
    }
    if path.starts_with(REST_PREFIX) {
        return Route::Rest(wix::RestRoute::of(path));
    }
    if let Some(rest) = path.strip_prefix(TUS_PATH) {
        if rest.is_empty() || rest == "/" {
            return Route::TusCollection;
        }
        if let Some(seg) = rest.strip_prefix('/') {
            let seg = seg.trim_end_matches('/');
            if !seg.is_empty() && !seg.contains('/') {
                return Route::TusResource(seg.to_string());
            }
        }
        return Route::Unknown;
    }
    match path.strip_prefix(UPLOAD_PREFIX) {
        Some(seg) if !seg.is_empty() && !seg.contains('/') => Route::Simple(seg.to_string()),
        _ => Route::Unknown,
    }
}

/// The method a tus resource request stands for (`X-HTTP-Method-Override` on a `POST`).
fn tus_method(req: &Request<'_>) -> String {
    match (req.method.as_str(), req.header("X-HTTP-Method-Override")) {
        ("POST", Some(m)) => m.to_ascii_uppercase(),
        (m, _) => m.to_string(),
    }
}

/// The method as counted: a standard one, else `OTHER` (so that clients can't grow the
/// counters without bound by inventing methods).
fn counted_method(method: &str) -> &str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

/// The [`Emulator::route_counts`] key of a request.
fn route_key(req: &Request<'_>, route: &Route) -> String {
    let method = counted_method(&req.method);
    match route {
        Route::Null => format!("{method} null"),
        Route::Rest(r) => format!("{method} {}", r.name()),
        Route::TusCollection if method == "POST" => "POST tus-create".into(),
        Route::TusCollection => format!("{method} tus"),
        Route::TusResource(_) if method == "PUT" => "PUT finalize".into(),
        Route::TusResource(_) => format!("{} tus", counted_method(&tus_method(req))),
        Route::Simple(_) => format!("{method} simple-upload"),
        Route::Unknown => format!("{method} unknown"),
    }
}

/// Counts the request, applies any injected fault, then routes it.
fn handle(state: &Arc<State>, req: &mut Request<'_>) -> Outcome {
    let route = route(state, &req.path);
    *lock(&state.counts)
        .entry(counted_method(&req.method).to_string())
        .or_insert(0) += 1;
    *lock(&state.route_counts)
        .entry(route_key(req, &route))
        .or_insert(0) += 1;
    let fault = lock(&state.faults).pop_front();
    match fault {
        Some(Fault::Drop) => return Outcome::Drop,
        Some(Fault::Status(status)) => {
            let body = serde_json::json!({"message": "", "details": {}});
            return Outcome::Respond(Response::new(status).json(&body));
        }
        None => {}
    }
    if let Some(outcome) = body_cap(state, req, &route) {
        return outcome;
    }
    match route {
        Route::Null => null_sink(req),
        Route::Rest(r) => Outcome::Respond(wix::rest(state, req, &r)),
        Route::TusCollection => tus::collection(state, req),
        Route::TusResource(seg) if req.method == "PUT" => {
            Outcome::Respond(wix::upload::finalize(state, req, &seg))
        }
        Route::TusResource(seg) => tus::resource(state, req, &seg),
        Route::Simple(seg) => wix::upload::simple_put(state, req, &seg),
        Route::Unknown => Outcome::Respond(wix::error(404, "NOT_FOUND", "no such route")),
    }
}

/// The front-proxy body limit on upload traffic: a `Content-Length` over
/// [`EmulatorConfig::max_body_size`] is refused before any byte of it is read.
fn body_cap(state: &State, req: &mut Request<'_>, route: &Route) -> Option<Outcome> {
    let max = state.config.max_body_size?;
    let upload_traffic = match route {
        Route::TusCollection => req.method == "POST",
        Route::TusResource(_) => req.method != "PUT" && tus_method(req) == "PATCH",
        Route::Simple(_) => req.method == "PUT",
        _ => false,
    };
    if !upload_traffic || req.body.content_length().is_none_or(|n| n <= max) {
        return None;
    }
    let mut resp = wix::error(
        413,
        "INVALID_ARGUMENT",
        &format!("request body is over the limit of {max} bytes"),
    );
    if !matches!(route, Route::Simple(_)) {
        resp = resp.header("Tus-Resumable", tus::TUS_VERSION);
    }
    if state.config.drain_rejected_bodies && !req.body.awaiting_continue() {
        // The lenient mode: read it all (with a fixed buffer), then answer on a live connection.
        let mut buf = vec![0u8; store::BUF_SIZE];
        loop {
            match io::Read::read(&mut req.body, &mut buf) {
                Ok(0) => return Some(Outcome::Respond(resp)),
                Ok(_) => {}
                Err(_) => return Some(Outcome::Drop),
            }
        }
    }
    Some(Outcome::Respond(resp.closing()))
}

/// `PUT {base}/null`: reads the body and throws it away.
fn null_sink(req: &mut Request<'_>) -> Outcome {
    let mut buf = vec![0u8; store::BUF_SIZE];
    loop {
        match io::Read::read(&mut req.body, &mut buf) {
            Ok(0) => return Outcome::Respond(Response::new(204)),
            Ok(_) => {}
            Err(_) => return Outcome::Drop,
        }
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whole milliseconds of a duration, saturating.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
