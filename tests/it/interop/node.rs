//! Interop with the official tus server (`@tus/server` + `@tus/file-store` on Node.js). The
//! uploads that check what went over the wire go through a transparent [`FaultProxy`], whose
//! request log counts PATCHes and body bytes per method.

use std::sync::{Arc, Mutex};

use crate::support::proxy::{FaultProxy, ProxyConfig};
use crate::support::{TempDir, TusServer, temp_file_with};
use wix_media_upload::{
    AbortHandle, CreationMode, Error, Metadata, Progress, Source, UploadOptions, Uploader,
};

const MIB: usize = 1024 * 1024;

/// A transparent proxy in front of `server`, and the creation URL through it.
fn proxied(server: &TusServer) -> (FaultProxy, String) {
    let proxy = FaultProxy::to_url(&server.base_url(), ProxyConfig::transparent());
    let endpoint = proxy.url_for(&server.endpoint());
    (proxy, endpoint)
}

/// Body sizes of the PATCHes that went through `proxy`, in order.
fn patch_sizes(proxy: &FaultProxy) -> Vec<u64> {
    proxy
        .requests_of("PATCH")
        .iter()
        .map(|r| r.body_bytes)
        .collect()
}

fn upload_file(endpoint: &str, server: &TusServer, uploader: &Uploader, len: usize, seed: u64) {
    let (file, bytes) = temp_file_with(len, seed);
    let meta = Metadata::new().with("filename", "f.bin").unwrap();
    let done = uploader
        .upload(
            endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new().metadata(meta),
        )
        .unwrap();
    assert_eq!(done.size, len as u64);
    assert_eq!(done.resumed_from, None);
    assert!(done.url.starts_with(endpoint), "{}", done.url);
    assert_eq!(
        server.stored_bytes(&done.url),
        bytes,
        "stored bytes differ ({len} B)"
    );
    let info = server.info(&done.url);
    assert_eq!(info["size"], len as u64);
}

#[test]
fn single_patch_uploads_of_0_1_and_5_mib() {
    let server = TusServer::start();
    let (proxy, endpoint) = proxied(&server);
    let uploader = Uploader::new().unwrap();
    for (len, seed) in [(0, 1), (1, 2), (5 * MIB, 3)] {
        upload_file(&endpoint, &server, &uploader, len, seed);
    }
    assert_eq!(server.uploads().len(), 3);
    assert_eq!(proxy.count("POST"), 3);
    // Exactly one PATCH per non-empty file, with the whole file (the empty one needs none).
    assert_eq!(patch_sizes(&proxy), [1, 5 * MIB as u64]);
}

#[test]
fn chunked_upload_in_1_mib_chunks() {
    let server = TusServer::start();
    let (proxy, endpoint) = proxied(&server);
    let uploader = Uploader::builder()
        .chunk_size(MIB as u64)
        .creation(CreationMode::Plain)
        .build()
        .unwrap();
    upload_file(&endpoint, &server, &uploader, 5 * MIB + 17, 4);
    let m = MIB as u64;
    assert_eq!(patch_sizes(&proxy), [m, m, m, m, m, 17]);
}

#[test]
fn creation_with_upload_is_used_when_offered() {
    let server = TusServer::start();
    let (proxy, endpoint) = proxied(&server);
    let uploader = Uploader::builder()
        .chunk_size(MIB as u64)
        .creation(CreationMode::Auto)
        .build()
        .unwrap();
    upload_file(&endpoint, &server, &uploader, 3 * MIB, 5);
    // Auto asked first, then the POST carried the first chunk.
    assert_eq!(proxy.count("OPTIONS"), 1);
    assert_eq!(proxy.count("POST"), 1);
    assert_eq!(proxy.body_bytes("POST"), MIB as u64);
    assert_eq!(patch_sizes(&proxy), [MIB as u64, MIB as u64]);
}

#[test]
fn aborted_upload_resumes_with_a_new_uploader() {
    let server = TusServer::start();
    let state = TempDir::new("wmu-state");
    let (file, bytes) = temp_file_with(5 * MIB, 6);
    let endpoint = server.endpoint();

    // First process: 1 MiB chunks, stop once half the file is acknowledged.
    let abort = AbortHandle::new();
    let first = Uploader::builder()
        .chunk_size(MIB as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let trigger = abort.clone();
    let err = first
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new()
                .progress(move |p: Progress| {
                    if p.acked >= p.total.unwrap_or(u64::MAX) / 2 {
                        trigger.abort();
                    }
                })
                .abort(abort),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Aborted), "{err:?}");
    assert_eq!(server.uploads().len(), 1);
    // The file store keeps the bytes that arrived; their count is the server's offset.
    let stored_offset = server.stored_bytes(&server.uploads()[0]).len() as u64;
    assert!(
        (2 * MIB as u64..5 * MIB as u64).contains(&stored_offset),
        "{stored_offset}"
    );

    // Second process: a new uploader in single-PATCH mode resumes from the server's offset.
    let second = Uploader::builder().state_dir(state.path()).build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let done = second
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new().progress(move |p: Progress| log.lock().unwrap().push(p.sent)),
        )
        .unwrap();
    assert_eq!(done.resumed_from, Some(stored_offset));
    assert_eq!(server.uploads().len(), 1, "a second upload was created");
    assert_eq!(server.stored_bytes(&done.url), bytes);
    // Nothing before the resume point went out again.
    assert!(seen.lock().unwrap().iter().all(|&s| s >= stored_offset));
    // No unfinished upload's record is left.
    assert_eq!(
        crate::support::unfinished_records(state.path()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn stream_source_is_uploaded_in_buffered_chunks() {
    let server = TusServer::start();
    let uploader = Uploader::builder().chunk_size(MIB as u64).build().unwrap();
    let bytes = crate::support::pseudo_random_bytes(3 * MIB + 5, 7);
    let reader = std::io::Cursor::new(bytes.clone());
    // A `Read` that is not `Seek`.
    let stream = std::io::Read::chain(reader, std::io::empty());
    let done = uploader
        .upload(
            &server.endpoint(),
            Source::stream(stream, bytes.len() as u64),
            UploadOptions::new(),
        )
        .unwrap();
    assert_eq!(server.stored_bytes(&done.url), bytes);
}

#[test]
fn gone_upload_on_resume_starts_a_new_one() {
    let server = TusServer::start();
    let state = TempDir::new("wmu-state");
    let (file, bytes) = temp_file_with(2 * MIB, 8);
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    let first = Uploader::builder()
        .chunk_size(MIB as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let err = first
        .upload(
            &server.endpoint(),
            Source::file(file.path()).unwrap(),
            UploadOptions::new()
                .progress(move |p: Progress| {
                    if p.acked > 0 {
                        trigger.abort();
                    }
                })
                .abort(abort),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Aborted));
    // The server loses the upload (its files are deleted).
    for id in server.uploads() {
        std::fs::remove_file(server.stored_path(&id)).unwrap();
        std::fs::remove_file(server.dir().join(format!("{id}.json"))).unwrap();
    }
    let second = Uploader::builder().state_dir(state.path()).build().unwrap();
    let done = second
        .upload(
            &server.endpoint(),
            Source::file(file.path()).unwrap(),
            UploadOptions::new(),
        )
        .unwrap();
    assert_eq!(done.resumed_from, None);
    assert_eq!(server.stored_bytes(&done.url), bytes);
}
