//! [`Emulator`], the handle of a running emulator: start, addresses, inspection of what it
//! holds, request counts, injected faults, stop.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::http::{Outcome, Request, Response, Server, lock};
use crate::route::handle;
use crate::state::{Fault, Imports, State};
use crate::store::{self, Store, TokenKind, UploadRecord};
use crate::{
    EmulatorConfig, FILES_PATH, GENERATE_PATH, GENERATE_SIMPLE_PATH, TUS_PATH, now_ms, wix,
};

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
