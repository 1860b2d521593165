//! The tus extensions (checksum, creation-defer-length, termination, expiration,
//! concatenation), the Wix generate call and the whole Wix route, against the local emulator
//! and, where it speaks the extension, the official tus server.
//!
//! Every fault is injected with the emulator's switches at a known point of the upload (a
//! progress report with `sent == acked` comes between two requests), and every claim is checked
//! on the server side (stored bytes, `request_counts()`, the uploads it holds): no timing.

use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::support::EmuExt as _;
use crate::support::emulator::{Emu, md5_hex};
use crate::support::http::{eventually, head_status};
use crate::support::raw_server::{Next, RawServer, respond};
use crate::support::state::{file_state_key, load, ms, plant, record_json, with_metadata};
use crate::support::upload::{
    abort_when, stream_of, upload_aborted, upload_file, upload_file_to_wix, upload_unknown_length,
};
use crate::support::{TempDir, TempFile, TusServer, temp_file_with, unfinished_records};
use wix_media_emulator::{EmulatorConfig, UploadInfo};
use wix_media_tus::Metadata;
use wix_media_upload::wix::{self, GenerateUploadUrlRequest, MediaType, ResumableTarget};
use wix_media_upload::{
    AbortHandle, Clock, CreationMode, Credentials, Error, Progress, RetryPolicy, Source,
    UploadOptions, Uploader, UploaderBuilder,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
const CHUNK: usize = 64 * KIB;

/// An emulator (on its own directory) with the SDK calls these tests make to it.
struct Wix(Emu);

impl Deref for Wix {
    type Target = Emu;

    fn deref(&self) -> &Emu {
        &self.0
    }
}

impl Wix {
    fn start() -> Wix {
        Wix::with(EmulatorConfig::new())
    }

    fn with(config: EmulatorConfig) -> Wix {
        Wix(Emu::with(config))
    }

    fn generate(
        &self,
        request: &GenerateUploadUrlRequest,
    ) -> wix_media_upload::Result<ResumableTarget> {
        wix::generate_resumable_upload_url(&uploader(), &self.credentials(), request)
    }

    /// A target for a `len`-byte `name` of `mime`.
    fn generate_for(
        &self,
        mime: &str,
        name: &str,
        len: usize,
    ) -> wix_media_upload::Result<ResumableTarget> {
        let request = GenerateUploadUrlRequest::new(mime)
            .file_name(name)
            .size_in_bytes(len as u64);
        self.generate(&request)
    }

    /// A `len`-byte temp file (seed `seed`), its bytes, and a target for it as `name` of `mime`.
    fn file_and_target(
        &self,
        mime: &str,
        name: &str,
        (len, seed): (usize, u64),
    ) -> (TempFile, Vec<u8>, ResumableTarget) {
        let (file, bytes) = temp_file_with(len, seed);
        let target = self.generate_for(mime, name, len).unwrap();
        (file, bytes, target)
    }

    /// A fresh `{uploadUrl, uploadToken}` for a file of any size.
    fn target(&self) -> ResumableTarget {
        self.generate(&GenerateUploadUrlRequest::new("application/octet-stream"))
            .expect("generate")
    }

    /// The tus endpoint and metadata carrying a fresh token: what a plain upload needs here.
    fn endpoint_and_meta(&self) -> (String, Metadata) {
        let t = self.target();
        let meta = Metadata::new()
            .with("filename", "f.bin")
            .unwrap()
            .with("token", t.upload_token.expose())
            .unwrap();
        (t.upload_url, meta)
    }

    /// Uploads the file at `path` with `up` and a fresh token (see [`Self::endpoint_and_meta`]).
    fn upload_fresh(
        &self,
        up: &Uploader,
        path: &Path,
    ) -> wix_media_upload::Result<wix_media_upload::Uploaded> {
        let (endpoint, meta) = self.endpoint_and_meta();
        upload_file(
            up,
            &endpoint,
            path,
            with_metadata(UploadOptions::new(), &meta),
        )
    }

    /// The uploads held that `kind` picks (partial, final).
    fn uploads_that(&self, kind: fn(&UploadInfo) -> bool) -> Vec<UploadInfo> {
        self.emu.uploads().into_iter().filter(kind).collect()
    }

    fn partials(&self) -> Vec<UploadInfo> {
        self.uploads_that(|u| u.is_partial)
    }

    fn finals(&self) -> Vec<UploadInfo> {
        self.uploads_that(|u| u.is_final)
    }
}

fn uploader() -> Uploader {
    Uploader::builder().build().unwrap()
}

/// Retries without real waits worth mentioning.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::from_millis(&[0, 20, 50, 100, 200, 500])
}

fn builder() -> UploaderBuilder {
    Uploader::builder()
        .retry(quick_retries())
        .stall_timeout(Some(Duration::from_secs(30)))
}

/// A [`builder`] uploader that sends [`CHUNK`]-byte PATCHes.
fn chunked() -> Uploader {
    builder().chunk_size(CHUNK as u64).build().unwrap()
}

/// Whether a progress report falls between two requests (`sent == acked`: no body is under
/// way) once the server acknowledged something.
fn between_requests(p: Progress) -> bool {
    p.sent == p.acked && p.acked > 0
}

/// Calls `f` once, at the first progress report that falls between two requests after the
/// server acknowledged at least `min_acked` bytes (`sent == acked`: no body is under way).
fn between_requests_once<'a>(
    min_acked: u64,
    mut f: impl FnMut(Progress) + 'a,
) -> impl FnMut(Progress) + 'a {
    let mut done = false;
    move |p: Progress| {
        if !done && p.sent == p.acked && p.acked >= min_acked && p.acked > 0 {
            done = true;
            f(p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// checksum
// ---------------------------------------------------------------------------------------------

/// Uploads 5 chunks and a bit; between two PATCHes the next body is cut after 1000 bytes.
/// Returns every acknowledged offset the progress saw. The emulator keeps the bytes of a cut
/// body unless it carried `Upload-Checksum` (they can't be verified).
fn cut_one_chunk(checksum: bool) -> Vec<u64> {
    let wix = Wix::start();
    let (file, bytes) = temp_file_with(5 * CHUNK + 17, 21);
    let (endpoint, meta) = wix.endpoint_and_meta();
    // Auto: the checksum algorithm is agreed through OPTIONS.
    let uploader = builder()
        .creation(CreationMode::Auto)
        .chunk_size(CHUNK as u64)
        .checksum(checksum)
        .build()
        .unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&acked);
    let mut arm = between_requests_once(1, |_| wix.emu.cut_next_body_after(1000));
    let done = uploader
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            with_metadata(UploadOptions::new(), &meta).progress(move |p: Progress| {
                log.lock().unwrap().push(p.acked);
                arm(p);
            }),
        )
        .expect("the upload survives a cut body");
    assert_eq!(wix.emu.stored_bytes(&done.url).unwrap(), bytes);
    assert_eq!(
        wix.count("HEAD"),
        1,
        "one HEAD after the cut: {:?}",
        wix.emu.request_counts()
    );
    assert_eq!(wix.emu.uploads().len(), 1);
    acked.lock().unwrap().clone()
}

#[test]
fn checksum_is_sent_with_every_chunk_and_verified() {
    // With checksums the cut body is not kept: the server's offset stays on a chunk boundary.
    let with = cut_one_chunk(true);
    assert!(
        with.iter()
            .all(|o| *o % CHUNK as u64 == 0 || *o == (5 * CHUNK + 17) as u64),
        "a cut body with Upload-Checksum was partly kept, so no checksum was sent: {with:?}"
    );
    // Control: without checksums the emulator keeps the 1000 bytes that arrived.
    let without = cut_one_chunk(false);
    assert!(
        without.iter().any(|o| *o % CHUNK as u64 == 1000),
        "the control upload did not see the cut's bytes kept: {without:?}"
    );
}

#[test]
fn upload_without_checksum_succeeds() {
    let wix = Wix::start();
    let (file, bytes) = temp_file_with(3 * CHUNK + 5, 22);
    let uploader = builder()
        .chunk_size(CHUNK as u64)
        .checksum(false)
        .build()
        .unwrap();
    let done = wix.upload_fresh(&uploader, file.path()).unwrap();
    assert_eq!(done.size, bytes.len() as u64);
    assert_eq!(wix.emu.stored_bytes(&done.url).unwrap(), bytes);
    assert_eq!(wix.count("HEAD"), 0);
}

#[test]
fn checksum_mismatch_460_resends_the_chunk() {
    let wix = Wix::start();
    let len = 4 * CHUNK + 3;
    let (file, bytes) = temp_file_with(len, 23);
    let (endpoint, meta) = wix.endpoint_and_meta();
    let uploader = builder()
        .creation(CreationMode::Auto)
        .chunk_size(CHUNK as u64)
        .build()
        .unwrap();
    // OPTIONS and the POST (with the first chunk) come first; the fault is armed after the
    // second chunk's 204, so it hits the third chunk's PATCH.
    let armed = Arc::new(Mutex::new(None));
    let at = Arc::clone(&armed);
    let emu = &wix.emu;
    let arm = between_requests_once(2 * CHUNK as u64, move |p: Progress| {
        emu.fail_next(1, 460);
        *at.lock().unwrap() = Some(p.acked);
    });
    let done = uploader
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            with_metadata(UploadOptions::new(), &meta).progress(arm),
        )
        .expect("a 460 is resent, not fatal");
    assert_eq!(*armed.lock().unwrap(), Some(2 * CHUNK as u64));
    assert_eq!(wix.emu.stored_bytes(&done.url).unwrap(), bytes);
    assert_eq!(wix.emu.uploads().len(), 1);
    let counts = wix.emu.request_counts();
    // Chunks 2..=5 by PATCH, one of them twice; one HEAD to re-read the offset.
    assert_eq!(counts.get("PATCH"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("HEAD"), Some(&1), "{counts:?}");
    assert_eq!(
        counts.get("POST"),
        Some(&2),
        "generate + creation: {counts:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// creation-defer-length
// ---------------------------------------------------------------------------------------------

const DEFERRED_SIZES: [(usize, u64); 4] = [(0, 31), (1, 32), (2 * CHUNK, 33), (5 * CHUNK / 2, 34)];

/// The streams of [`DEFERRED_SIZES`]: each length and its pseudo-random bytes.
fn deferred_streams() -> [(usize, Vec<u8>); 4] {
    DEFERRED_SIZES.map(|(len, seed)| (len, crate::support::pseudo_random_bytes(len, seed)))
}

#[test]
fn deferred_length_streams_on_the_emulator() {
    let wix = Wix::start();
    let uploader = chunked();
    for (len, bytes) in deferred_streams() {
        let (endpoint, meta) = wix.endpoint_and_meta();
        let done = uploader
            .upload(
                &endpoint,
                Source::stream_unknown_length(stream_of(&bytes)),
                with_metadata(UploadOptions::new(), &meta),
            )
            .unwrap_or_else(|e| panic!("{len} B: {e}"));
        assert_eq!(done.size, len as u64, "{len} B");
        let info = wix.emu.upload(&done.url).expect("upload held");
        assert_eq!(info.length, Some(len as u64), "{len} B");
        assert_eq!(info.offset, len as u64, "{len} B");
        assert_eq!(wix.emu.stored_bytes(&done.url).unwrap(), bytes, "{len} B");
    }
    assert_eq!(wix.emu.uploads().len(), DEFERRED_SIZES.len());
}

#[test]
fn deferred_length_streams_on_the_tus_server() {
    let server = TusServer::start();
    let uploader = chunked();
    for (len, bytes) in deferred_streams() {
        let done = upload_unknown_length(&uploader, &server.endpoint(), &bytes)
            .unwrap_or_else(|e| panic!("{len} B: {e}"));
        assert_eq!(done.size, len as u64, "{len} B");
        assert_eq!(server.stored_bytes(&done.url), bytes, "{len} B");
        let info = server.info(&done.url);
        // (The file store derives the offset from the data file; its info's `offset` stays 0.)
        assert_eq!(info["size"], len as u64, "{len} B: {info}");
    }
    assert_eq!(server.uploads().len(), DEFERRED_SIZES.len());
}

// ---------------------------------------------------------------------------------------------
// termination
// ---------------------------------------------------------------------------------------------

#[test]
fn terminate_deletes_an_upload() {
    let wix = Wix::start();
    let (file, _) = temp_file_with(3 * CHUNK, 41);
    let (endpoint, meta) = wix.endpoint_and_meta();
    let uploader = chunked();
    let options = abort_when(with_metadata(UploadOptions::new(), &meta), between_requests);
    upload_aborted(&uploader, &endpoint, file.path(), options);
    let uploads = wix.emu.uploads();
    assert_eq!(uploads.len(), 1);
    let url = uploads[0].url.clone();
    assert_eq!(head_status(&url), 200);

    uploader.terminate(&url).expect("terminate");
    assert_eq!(head_status(&url), 404);
    assert!(wix.emu.upload(&url).is_none());
    assert!(wix.emu.uploads().is_empty());
    // A second terminate of a gone upload is fine.
    uploader.terminate(&url).expect("terminate again");
    assert_eq!(wix.count("DELETE"), 2);
}

/// Aborts between two PATCHes with `terminate_on_abort`: the call says Aborted, a record had
/// been saved before the abort, and none is left after it.
fn abort_and_terminate(endpoint: &str, meta: Metadata, state: &TempDir) {
    let (file, _) = temp_file_with(4 * CHUNK, 42);
    let uploader = builder()
        .chunk_size(CHUNK as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    let saw_record = Arc::new(Mutex::new(false));
    let seen = Arc::clone(&saw_record);
    let dir = state.path().to_path_buf();
    let options = with_metadata(UploadOptions::new(), &meta)
        .abort(abort)
        .terminate_on_abort(true)
        .progress(between_requests_once(1, move |_| {
            *seen.lock().unwrap() = !unfinished_records(&dir).is_empty();
            trigger.abort();
        }));
    upload_aborted(&uploader, endpoint, file.path(), options);
    assert!(
        *saw_record.lock().unwrap(),
        "no state was saved before the abort"
    );
    assert!(
        unfinished_records(state.path()).is_empty(),
        "a state record remains: {:?}",
        unfinished_records(state.path())
    );
    let key = file_state_key(endpoint, file.path());
    assert_eq!(load(state.path(), &key), None);
}

#[test]
fn terminate_on_abort_deletes_the_upload_and_its_state_on_the_emulator() {
    let wix = Wix::start();
    let state = TempDir::new("wmu-ext-state");
    let (endpoint, meta) = wix.endpoint_and_meta();
    abort_and_terminate(&endpoint, meta, &state);
    assert!(wix.emu.uploads().is_empty(), "{:?}", wix.emu.uploads());
    assert_eq!(wix.count("DELETE"), 1);
}

#[test]
fn terminate_on_abort_deletes_the_upload_and_its_state_on_the_tus_server() {
    let server = TusServer::start();
    let state = TempDir::new("wmu-ext-state");
    abort_and_terminate(&server.endpoint(), Metadata::new(), &state);
    assert!(server.uploads().is_empty(), "{:?}", server.uploads());
}

// ---------------------------------------------------------------------------------------------
// expiration
// ---------------------------------------------------------------------------------------------

/// Real time shifted by `ahead`; sleeps for real.
struct Ahead(Duration);

impl Clock for Ahead {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.0
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Starts an upload of `file` and aborts it after the first acknowledged chunk, keeping its
/// state in `state`; returns the saved record's upload URL.
fn leave_an_unfinished_upload(
    wix: &Wix,
    endpoint: &str,
    meta: Metadata,
    file: &Path,
    state: &Path,
) -> String {
    let uploader = builder()
        .chunk_size(CHUNK as u64)
        .state_dir(state)
        .build()
        .unwrap();
    let options = abort_when(with_metadata(UploadOptions::new(), &meta), between_requests);
    upload_aborted(&uploader, endpoint, file, options);
    let rec = load(state, &file_state_key(endpoint, file)).expect("a record was saved");
    let (offset, length) = (
        rec["offset"].as_u64().unwrap(),
        rec["length"].as_u64().unwrap(),
    );
    assert!(offset > 0 && offset < length, "{rec}");
    assert!(
        rec["expires_at_ms"].is_u64(),
        "Upload-Expires was not saved: {rec}"
    );
    assert_eq!(wix.emu.uploads().len(), 1);
    rec["upload_url"].as_str().unwrap().to_owned()
}

/// An expiration test: an emulator whose uploads expire after a while, a state dir, a file
/// and the endpoint and metadata of its upload.
struct Expiring {
    wix: Wix,
    state: TempDir,
    file: TempFile,
    bytes: Vec<u8>,
    endpoint: String,
    meta: Metadata,
}

impl Expiring {
    /// Uploads expire `after` that long; the file is 4 chunks of seed `seed`.
    fn new(after: Duration, seed: u64) -> Expiring {
        let wix = Wix::with(EmulatorConfig::new().expiration(after));
        let state = TempDir::new("wmu-ext-state");
        let (file, bytes) = temp_file_with(4 * CHUNK, seed);
        let (endpoint, meta) = wix.endpoint_and_meta();
        Expiring {
            wix,
            state,
            file,
            bytes,
            endpoint,
            meta,
        }
    }

    /// The second upload, with `uploader`, must start anew: no HEAD to the `stale` URL, a
    /// second upload, the stale one untouched, and no unfinished record left.
    fn check_fresh_start(self, uploader: &Uploader, stale: &str) {
        let wix = &self.wix;
        wix.emu.reset_request_counts();
        let done = uploader
            .upload(
                &self.endpoint,
                Source::file(self.file.path()).unwrap(),
                with_metadata(UploadOptions::new(), &self.meta),
            )
            .expect("a fresh upload");
        assert_eq!(wix.count("HEAD"), 0, "{:?}", wix.emu.request_counts());
        assert_eq!(done.resumed_from, None);
        assert_ne!(done.url, stale);
        assert_eq!(wix.emu.stored_bytes(&done.url).unwrap(), self.bytes);
        assert_eq!(wix.emu.uploads().len(), 2);
        assert!(!wix.emu.upload(stale).unwrap().is_complete());
        assert!(unfinished_records(self.state.path()).is_empty());
    }
}

#[test]
fn expired_record_by_the_clock_starts_a_fresh_upload() {
    // Short, but long enough that the first leg never meets it on a slow machine; the second
    // uploader's clock is an hour ahead.
    let x = Expiring::new(Duration::from_secs(30), 51);
    let stale = leave_an_unfinished_upload(
        &x.wix,
        &x.endpoint,
        x.meta.clone(),
        x.file.path(),
        x.state.path(),
    );

    let later = builder()
        .state_dir(x.state.path())
        .clock(Ahead(Duration::from_secs(3600)))
        .build()
        .unwrap();
    x.check_fresh_start(&later, &stale);
}

#[test]
fn record_with_past_expiry_starts_a_fresh_upload() {
    let x = Expiring::new(Duration::from_secs(1), 52);
    // A record for a real, unfinished upload (created by hand), dated as expired a minute ago.
    assert_eq!(x.endpoint, x.wix.tus_url());
    let created = x.wix.create_with(x.bytes.len(), &x.meta.encode());
    assert_eq!(created.status, 201);
    let stale = created.location();
    let now = SystemTime::now();
    let key = file_state_key(&x.endpoint, x.file.path());
    let pairs: Vec<(&str, &str)> = x.meta.iter().collect();
    let mut rec = record_json(&key, &x.endpoint, &stale, x.bytes.len() as u64, 0, &pairs);
    rec["created_at_ms"] = ms(now - Duration::from_secs(120)).into();
    rec["expires_at_ms"] = ms(now - Duration::from_secs(60)).into();
    plant(x.state.path(), &rec);
    let uploader = builder().state_dir(x.state.path()).build().unwrap();
    x.check_fresh_start(&uploader, &stale);
}

// ---------------------------------------------------------------------------------------------
// concatenation (parallel)
// ---------------------------------------------------------------------------------------------

#[test]
fn parallel_upload_concatenates_four_partials() {
    let wix = Wix::start();
    let (file, bytes) = temp_file_with(8 * MIB, 61);
    let uploader = builder().parallel(4).build().unwrap();
    let done = wix.upload_fresh(&uploader, file.path()).unwrap();
    assert_eq!(done.size, bytes.len() as u64);
    assert_eq!(wix.partials().len(), 4, "{:?}", wix.emu.uploads());
    assert!(
        wix.partials()
            .iter()
            .all(|p| p.is_complete() && p.length == Some(2 * MIB as u64))
    );
    let finals = wix.finals();
    assert_eq!(finals.len(), 1);
    assert_eq!(done.url, finals[0].url);
    assert!(
        wix.emu.stored_bytes(&done.url).unwrap() == bytes,
        "final bytes differ"
    );
}

#[test]
fn parallel_falls_back_to_one_upload_without_concatenation() {
    let server = TusServer::start();
    let (file, bytes) = temp_file_with(8 * MIB, 62);
    let uploader = builder().parallel(4).build().unwrap();
    let done = upload_file(
        &uploader,
        &server.endpoint(),
        file.path(),
        UploadOptions::new(),
    )
    .unwrap();
    assert_eq!(server.uploads().len(), 1, "{:?}", server.uploads());
    assert!(
        server.stored_bytes(&done.url) == bytes,
        "stored bytes differ"
    );
}

#[test]
fn parallel_upload_resumes_its_partials() {
    let wix = Wix::start();
    let state = TempDir::new("wmu-ext-state");
    let len = 8 * MIB;
    let (file, bytes) = temp_file_with(len, 63);
    let (endpoint, meta) = wix.endpoint_and_meta();

    // First run. The first PATCH body is cut and its slice then waits a minute before retrying,
    // so the upload can't finish: the abort comes once all four partials exist and another slice
    // is done.
    let first = Uploader::builder()
        .parallel(4)
        .retry(RetryPolicy::from_millis(&[60_000]))
        .state_dir(state.path())
        .build()
        .unwrap();
    wix.emu.cut_next_body_after(64 * KIB as u64);
    let emu = &wix;
    let options = abort_when(with_metadata(UploadOptions::new(), &meta), |p| {
        p.acked >= 2 * MIB as u64 && emu.partials().len() == 4
    });
    upload_aborted(&first, &endpoint, file.path(), options);
    assert_eq!(wix.partials().len(), 4);
    assert!(wix.finals().is_empty());
    assert!(wix.partials().iter().any(|p| p.is_complete()));
    assert!(wix.partials().iter().any(|p| !p.is_complete()));
    assert_eq!(
        unfinished_records(state.path()).len(),
        4,
        "one record per slice"
    );

    // Second run, a new uploader on the same state: no new partials, one final.
    wix.emu.reset_request_counts();
    let second = builder()
        .parallel(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    let done = upload_file(
        &second,
        &endpoint,
        file.path(),
        with_metadata(UploadOptions::new(), &meta),
    )
    .expect("the parallel upload resumes");
    assert!(done.resumed_from.is_some(), "{done:?}");
    assert_eq!(wix.partials().len(), 4, "{:?}", wix.emu.uploads());
    assert_eq!(wix.finals().len(), 1);
    assert_eq!(
        wix.count("POST"),
        1,
        "only the final: {:?}",
        wix.emu.request_counts()
    );
    assert!(wix.count("HEAD") >= 4, "{:?}", wix.emu.request_counts());
    assert!(
        wix.emu.stored_bytes(&done.url).unwrap() == bytes,
        "final bytes differ"
    );
    assert!(
        unfinished_records(state.path()).is_empty(),
        "{:?}",
        unfinished_records(state.path())
    );
}

// ---------------------------------------------------------------------------------------------
// Generate File Resumable Upload URL
// ---------------------------------------------------------------------------------------------

#[test]
fn generate_issues_a_distinct_token_per_call() {
    let wix = Wix::start();
    let request = GenerateUploadUrlRequest::new("image/png")
        .file_name("a.png")
        .size_in_bytes(10);
    let a = wix.generate(&request).unwrap();
    let b = wix.generate(&request).unwrap();
    assert_eq!(a.upload_url, wix.emu.tus_endpoint());
    assert_eq!(a.mime_type, "image/png");
    assert!(!a.upload_token.expose().is_empty());
    assert_ne!(a.upload_token.expose(), b.upload_token.expose());
    assert_eq!(
        wix.emu.issued_tokens(),
        vec![
            a.upload_token.expose().to_owned(),
            b.upload_token.expose().to_owned()
        ]
    );
}

#[test]
fn generate_validation_rules_surface_as_400_with_rule_names() {
    let wix = Wix::with(EmulatorConfig::new().max_file_size(1000));
    let cases = [
        (
            GenerateUploadUrlRequest::new("image/png")
                .file_name("a.png")
                .size_in_bytes(0),
            "ZERO_FILE_SIZE",
        ),
        (
            GenerateUploadUrlRequest::new("application/x-msdownload").file_name("a.exe"),
            "UNSUPPORTED_FILE_FORMAT",
        ),
        (
            GenerateUploadUrlRequest::new("video/mp4").file_name("a.png"),
            "MISMATCH_MIME_TYPE",
        ),
        (
            GenerateUploadUrlRequest::new("image/png")
                .file_name("a.png")
                .size_in_bytes(1001),
            "FILE_SIZE_OVER_LIMIT",
        ),
    ];
    for (request, rule) in cases {
        let err = wix.generate(&request).unwrap_err();
        assert!(
            matches!(err, Error::Status { status: 400, .. }),
            "{rule}: {err:?}"
        );
        let body = err
            .wix()
            .unwrap_or_else(|| panic!("{rule}: no Wix body in {err:?}"));
        assert!(
            body.rule_names.iter().any(|r| r == rule),
            "{rule} not in {:?}",
            body.rule_names
        );
        assert!(!err.is_retryable(), "{rule}");
    }
    assert!(wix.emu.issued_tokens().is_empty());
}

#[test]
fn generate_without_authorization_is_refused() {
    let wix = Wix::start();
    let request = GenerateUploadUrlRequest::new("image/png").file_name("a.png");
    let refused = |creds: &Credentials| {
        let err = wix::generate_resumable_upload_url(&uploader(), creds, &request).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Status {
                    status: 401 | 403,
                    ..
                }
            ),
            "{err:?}"
        );
        err
    };
    let no_key = Credentials::site("", "site-1").with_api_base(wix.emu.base_url());
    let err = refused(&no_key);
    assert!(err.wix().is_some(), "{err:?}");

    let no_site = Credentials::account("IST.test-api-key-0123456789", "account-1")
        .with_api_base(wix.emu.base_url());
    refused(&no_site);
    assert!(wix.emu.issued_tokens().is_empty());
}

#[test]
fn credentials_debug_hides_the_api_key() {
    let wix = Wix::start();
    let creds = wix.credentials();
    let key = wix_media_testkit::emulator::API_KEY;
    let dbg = format!("{creds:?} {:#?}", creds);
    assert!(!dbg.contains(key), "{dbg}");
    assert!(!dbg.contains("0123456789"), "{dbg}");
    // Nor does an error of a call made with it.
    let err = wix
        .generate(&GenerateUploadUrlRequest::new("image/png").size_in_bytes(0))
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(key), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The whole Wix route
// ---------------------------------------------------------------------------------------------

#[test]
fn full_wix_route_generate_upload_finalize() {
    let wix = Wix::start();
    let len = 3 * CHUNK + 11;
    let (file, bytes, target) = wix.file_and_target("image/png", "photo.png", (len, 71));
    let state = TempDir::new("wmu-ext-state");
    let uploader = builder()
        .chunk_size(CHUNK as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let file_desc =
        upload_file_to_wix(&uploader, &target, file.path()).expect("upload and finalize");
    let md5_hex = md5_hex(&bytes);
    assert_eq!(file_desc.size_in_bytes, Some(len as u64));
    assert_eq!(file_desc.hash.as_deref(), Some(md5_hex.as_str()));
    assert_eq!(file_desc.media_type, Some(MediaType::Image));
    assert_eq!(file_desc.display_name.as_deref(), Some("photo.png"));
    let finalized = wix.emu.finalized_files();
    assert_eq!(finalized.len(), 1);
    assert_eq!(finalized[0]["hash"], md5_hex.as_str());
    assert_eq!(finalized[0]["sizeInBytes"], len.to_string().as_str());
    assert_eq!(finalized[0]["id"].as_str(), file_desc.id.as_deref());
    assert!(unfinished_records(state.path()).is_empty());

    // The token is single-use: a second finalize fails with a Wix error.
    let err = wix::finalize(
        &uploader,
        &target.upload_url,
        &target.upload_token,
        Some("photo.png"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Status { status: 409, .. }), "{err:?}");
    assert_eq!(
        err.wix().and_then(|w| w.code).as_deref(),
        Some("ALREADY_EXISTS"),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains(target.upload_token.expose()), "{text}");
    assert_eq!(wix.emu.finalized_files().len(), 1);
}

#[test]
fn full_wix_route_in_parallel_finalizes_the_concatenation() {
    let wix = Wix::start();
    let len = 4 * MIB + 3;
    let (file, bytes, target) = wix.file_and_target("video/mp4", "clip.mp4", (len, 72));
    let uploader = builder().parallel(4).build().unwrap();
    let desc = upload_file_to_wix(&uploader, &target, file.path()).unwrap();
    assert_eq!(desc.hash, Some(md5_hex(&bytes)));
    assert_eq!(desc.size_in_bytes, Some(len as u64));
    assert_eq!(desc.media_type, Some(MediaType::Video));
    assert_eq!(wix.partials().len(), 4);
    assert_eq!(wix.finals().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Connection reuse (seen while reading the CLI's debug log: a new connection per request)
// ---------------------------------------------------------------------------------------------

/// Requests of one uploader share a kept-alive connection: a chunked upload to Wix is not a TLS
/// handshake per chunk. Counted on a raw server that keeps every connection open.
#[test]
fn sequential_requests_reuse_one_connection() {
    // DELETE has no body: a request ends at its blank line.
    let server = RawServer::start(|_, s| {
        let _ = respond(s, 204, &[("Tus-Resumable", "1.0.0")], b"");
        Next::KeepAlive
    });
    let uploader = builder().build().unwrap();
    for i in 0..3 {
        uploader
            .terminate(&server.url(&format!("/files/u{i}")))
            .unwrap();
    }
    assert_eq!(server.connections(), 1, "a connection per request");
}

/// Whether the server on 127.0.0.1:`port` has closed the connections to it: none is open, and
/// one waits for its client to close it (`CLOSE_WAIT`, in Linux's /proc/net/tcp).
fn closed_by_the_server(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let to_port = format!("0100007F:{port:04X}");
    let states: Vec<String> = table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|f| f.get(2) == Some(&to_port))
        .map(|f| f[3].clone())
        .collect();
    const ESTABLISHED: &str = "01";
    const CLOSE_WAIT: &str = "08";
    !states.iter().any(|s| s == ESTABLISHED) && states.iter().any(|s| s == CLOSE_WAIT)
}

/// With connections now reused, one the server closed while idle (the emulator after its idle
/// timeout, like `@tus/server` after 5 s) must not fail the next request, even without retries.
#[test]
fn a_pooled_connection_closed_while_idle_is_not_an_error() {
    let wix = Wix::with(EmulatorConfig::new().idle_timeout(Duration::from_millis(100)));
    let uploader = builder().retry(RetryPolicy::none()).build().unwrap();
    for seed in [81, 82] {
        // The second upload meets the connection the server closed after the first.
        if seed == 82 {
            eventually("the emulator closes the idle pooled connection", || {
                closed_by_the_server(wix.emu.addr().port()).then_some(())
            });
        }
        let (file, bytes) = temp_file_with(10 * KIB, seed);
        let done = wix
            .upload_fresh(&uploader, file.path())
            .unwrap_or_else(|e| panic!("upload {seed}: {e}"));
        assert_eq!(wix.emu.stored_bytes(&done.url).unwrap(), bytes);
    }
}
