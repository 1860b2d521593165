//! [`Emulator`], the handle of a running emulator: start, addresses, inspection of what it
//! holds, request counts, injected faults, stop.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::http::{Outcome, Request, Response, Server, lock};
use crate::route::handle;
use crate::state::{Fault, Imports, State};
use crate::store::{self, Store, TokenKind, UploadRecord};
use crate::wix::access::RateLimiter;
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
            refused_counts: Mutex::new(BTreeMap::new()),
            rate: Mutex::new(RateLimiter::default()),
            downloads: Mutex::new(HashMap::new()),
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

    /// `{base}/site-media/v1/files`: list files (`GET`), and the prefix of the other file
    /// routes (`import`, `get-file-by-id`, `get-files`, `search`, ...).
    pub fn files_url(&self) -> String {
        format!("{}{}", self.state.base_url, FILES_PATH)
    }

    /// `{base}/site-media/v1/folders`: create (`POST`) and list (`GET`) folders.
    pub fn folders_url(&self) -> String {
        format!("{}{}/folders", self.state.base_url, wix::routes::API_PATH)
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
            .map(|f| wix::descriptor::descriptor(f, now))
            .collect()
    }

    /// The current descriptor of one file, by id.
    pub fn file(&self, id: &str) -> Option<serde_json::Value> {
        let f = self.state.store.file(id)?;
        Some(wix::descriptor::descriptor(&f, now_ms()))
    }

    /// Every folder made so far (by the folders route or by a `filePath`), oldest first, as
    /// `GET .../folders/{id}` answers it.
    pub fn folders(&self) -> Vec<serde_json::Value> {
        let folders = self.state.store.folders();
        folders.iter().map(wix::folders::folder_json).collect()
    }

    /// The path of a folder from the Media Manager's root, such as `/photos/2024` (`/` for
    /// `media-root`); `None` for an unknown folder.
    pub fn folder_path(&self, folder_id: &str) -> Option<String> {
        let mut names = Vec::new();
        let mut id = folder_id.to_string();
        while id != wix::folders::MEDIA_ROOT {
            let folder = self.state.store.folder(&id)?;
            names.push(folder.display_name);
            id = folder.parent_folder_id;
        }
        names.reverse();
        Some(format!("/{}", names.join("/")))
    }

    /// Where a file is: its folder's path and its display name, such as `/photos/2024/a.jpg`;
    /// `None` for an unknown file (or one deleted for good).
    pub fn path_of(&self, file_id: &str) -> Option<String> {
        let f = self.state.store.file(file_id)?;
        let folder = self.folder_path(&f.placement.parent_folder_id)?;
        Some(format!(
            "{}/{}",
            folder.trim_end_matches('/'),
            f.display_name
        ))
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

    /// Requests received so far, per method and route, faulted and rate-limited ones
    /// included. Keys:
    /// - REST: `POST generate-resumable-upload-url`, `POST generate-upload-url`,
    ///   `POST import`, `POST bulk-import-v2`, `GET get-file-by-id`, `GET get-file`
    ///   (`GET .../files/ID`), `POST get-files`, `GET list-files`, `POST search-files`,
    ///   `PATCH update-file-descriptor`, `POST bulk-delete-files`, `POST bulk-restore-files`,
    ///   `POST generate-file-download-url`, `POST create-folder`, `GET list-folders`,
    ///   `GET get-folder`;
    /// - uploads: `PUT simple-upload`, `OPTIONS tus`, `POST tus-create`, `HEAD tus`,
    ///   `PATCH tus` (a `POST` with `X-HTTP-Method-Override: PATCH` included), `DELETE tus`,
    ///   `PUT finalize`, `PUT null`;
    /// - `GET download` (a download URL).
    ///
    /// A route called with another method counts under that method (`DELETE get-files`);
    /// anything else is `<METHOD> unknown` (a method outside the nine standard ones counts as
    /// `OTHER`).
    pub fn route_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.route_counts).clone()
    }

    /// REST calls the rate limit refused (429) so far, per [`Emulator::route_counts`] key.
    pub fn refused_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.refused_counts).clone()
    }

    /// Clears [`Emulator::request_counts`], [`Emulator::route_counts`] and
    /// [`Emulator::refused_counts`].
    pub fn reset_request_counts(&self) {
        lock(&self.state.counts).clear();
        lock(&self.state.route_counts).clear();
        lock(&self.state.refused_counts).clear();
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
