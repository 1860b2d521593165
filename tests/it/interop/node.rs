//! Interop with the official tus server (`@tus/server` + `@tus/file-store` on Node.js). The
//! uploads that check what went over the wire go through a transparent proxy ([`Rig`]), whose
//! request log counts PATCHes and body bytes per method.

use wix_media_upload::{CreationMode, Source, UploadOptions, Uploader};

use super::{Rig, resume, upload_fresh, upload_half};
use crate::support::proxy::ProxyConfig;
use crate::support::upload::{abort_when, upload_aborted, upload_file};
use crate::support::{TempDir, TusServer, pseudo_random_bytes, temp_file_with, unfinished_records};

const MIB: usize = 1024 * 1024;

/// A Node server with a transparent proxy in front.
fn rig() -> Rig<TusServer> {
    Rig::new(TusServer::start(), ProxyConfig::transparent())
}

/// Uploads a fresh file through `rig` and checks what the server stored, and its info file.
fn upload_checked(rig: &Rig<TusServer>, uploader: &Uploader, len: usize, seed: u64) {
    let done = upload_fresh(&rig.server, &rig.endpoint(), uploader, len, seed);
    let info = rig.server.info(&done.url);
    assert_eq!(info["size"], len as u64);
}

/// An uploader in 1 MiB chunks, creating uploads `creation`.
fn chunked(creation: CreationMode) -> Uploader {
    Uploader::builder()
        .chunk_size(MIB as u64)
        .creation(creation)
        .build()
        .unwrap()
}

#[test]
fn single_patch_uploads_of_0_1_and_5_mib() {
    let rig = rig();
    let uploader = Uploader::builder().build().unwrap();
    for (len, seed) in [(0, 1), (1, 2), (5 * MIB, 3)] {
        upload_checked(&rig, &uploader, len, seed);
    }
    assert_eq!(rig.server.uploads().len(), 3);
    assert_eq!(rig.proxy.count("POST"), 3);
    // Exactly one PATCH per non-empty file, with the whole file (the empty one needs none).
    assert_eq!(rig.patch_sizes(), [1, 5 * MIB as u64]);
}

#[test]
fn chunked_upload_in_1_mib_chunks() {
    let rig = rig();
    upload_checked(&rig, &chunked(CreationMode::Plain), 5 * MIB + 17, 4);
    let m = MIB as u64;
    assert_eq!(rig.patch_sizes(), [m, m, m, m, m, 17]);
}

#[test]
fn creation_with_upload_is_used_when_offered() {
    let rig = rig();
    upload_checked(&rig, &chunked(CreationMode::Auto), 3 * MIB, 5);
    // Auto asked first, then the POST carried the first chunk.
    assert_eq!(rig.proxy.count("OPTIONS"), 1);
    assert_eq!(rig.proxy.count("POST"), 1);
    assert_eq!(rig.proxy.body_bytes("POST"), MIB as u64);
    assert_eq!(rig.patch_sizes(), [MIB as u64, MIB as u64]);
}

#[test]
fn aborted_upload_resumes_with_a_new_uploader() {
    let server = TusServer::start();
    let state = TempDir::new("wmu-state");
    let (file, bytes) = temp_file_with(5 * MIB, 6);
    let endpoint = server.endpoint();

    upload_half(Uploader::builder(), &endpoint, file.path(), state.path());
    assert_eq!(server.uploads().len(), 1);
    // The file store keeps the bytes that arrived; their count is the server's offset.
    let stored_offset = server.stored_bytes(&server.uploads()[0]).len() as u64;
    assert!(
        (2 * MIB as u64..5 * MIB as u64).contains(&stored_offset),
        "{stored_offset}"
    );

    let b = Uploader::builder();
    let done = resume(
        b,
        &server,
        &endpoint,
        file.path(),
        state.path(),
        stored_offset,
    );
    assert_eq!(server.stored_bytes(&done.url), bytes);
    // No unfinished upload's record is left.
    assert_eq!(
        unfinished_records(state.path()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn stream_source_is_uploaded_in_buffered_chunks() {
    let server = TusServer::start();
    let uploader = Uploader::builder().chunk_size(MIB as u64).build().unwrap();
    let bytes = pseudo_random_bytes(3 * MIB + 5, 7);
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
    let first = Uploader::builder()
        .chunk_size(MIB as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let options = abort_when(UploadOptions::new(), |p| p.acked > 0);
    upload_aborted(&first, &server.endpoint(), file.path(), options);
    // The server loses the upload (its files are deleted).
    let lost = server.uploads();
    assert_eq!(lost.len(), 1, "{lost:?}");
    std::fs::remove_file(server.stored_path(&lost[0])).unwrap();
    std::fs::remove_file(server.dir().join(format!("{}.json", lost[0]))).unwrap();
    let second = Uploader::builder().state_dir(state.path()).build().unwrap();
    let done = upload_file(
        &second,
        &server.endpoint(),
        file.path(),
        UploadOptions::new(),
    )
    .unwrap();
    assert_eq!(done.resumed_from, None);
    assert!(!done.url.ends_with(&lost[0]), "{}", done.url);
    assert_eq!(server.stored_bytes(&done.url), bytes);
}
