//! Resuming against a `mockito` server: from a record in a state directory with a new
//! uploader, after the upload is gone (404), and after a 409 on the offset. Resumes against
//! the reference servers: interop/; after kills of the CLI: crash.rs.

use std::time::{Duration, UNIX_EPOCH};

use mockito::Matcher;
use wix_media_upload::{DirStore, RetryPolicy, Source, StateStore, UploadOptions};

use crate::support::clock::RecordingClock;
use crate::support::mock::{MockTus, TOKEN, answer, assert_all, created, uploader, wix_metadata};
use crate::support::state::{record, state_key};
use crate::support::{TempDir, temp_file_with, unfinished_records};

#[test]
fn resume_from_state_dir_with_a_new_uploader() {
    use std::os::unix::fs::PermissionsExt;

    let mut tus = MockTus::new();
    let upload_url = tus.at("/files/r1");
    let (file, bytes) = temp_file_with(10, 3);
    let state = TempDir::new("wmu-mockito-state");
    let clock = RecordingClock::new();

    // Run 1: the first chunk lands, the second is refused (non-retryable): the record stays.
    let post = tus.creates("/files", 10, "/files/r1");
    let p0 = tus.takes("/files/r1", 0, &bytes[0..4]);
    let p4 = answer(tus.patch("/files/r1", 4, &bytes[4..8]), 400, &[], 1);
    let first = uploader(&clock)
        .chunk_size(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    let key = tus.state_key(&file);
    let meta = wix_metadata("r.bin", "application/octet-stream", TOKEN);
    let err = tus
        .upload(&first, &file, UploadOptions::new().metadata(meta))
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    post.assert();
    p0.assert();
    p4.assert();
    drop(first);

    let files = unfinished_records(state.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let rec = DirStore::new(state.path())
        .unwrap()
        .load(&key)
        .unwrap()
        .expect("record kept");
    assert_eq!((rec.upload_url(), rec.offset()), (upload_url.as_str(), 4));

    // Run 2: a new uploader finds the record; the server says it has 6 bytes.
    tus.server.reset();
    let no_post = tus.never("POST", Matcher::Any);
    let head = tus.heads("/files/r1", 6, 10, 1);
    let p6 = tus.takes("/files/r1", 6, &bytes[6..10]);
    let second = uploader(&clock)
        .chunk_size(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    // No metadata given: the record's is used.
    let done = tus.upload(&second, &file, UploadOptions::new()).unwrap();
    no_post.assert();
    head.assert();
    p6.assert();
    assert_eq!(done.resumed_from, Some(6));
    assert_eq!(done.url, upload_url);
    assert_eq!(done.metadata.get("filename"), Some("r.bin"));
    assert_eq!(done.metadata.get("token"), Some(TOKEN));
    assert!(
        unfinished_records(state.path()).is_empty(),
        "record removed on success"
    );
}

#[test]
fn gone_on_resume_creates_a_new_upload() {
    let (mut tus, file, bytes) = MockTus::with_file(4);
    let endpoint = tus.endpoint();
    let state = TempDir::new("wmu-mockito-state");
    let source = Source::file(file.path()).unwrap();
    let key = state_key(&endpoint, &source);
    let store = DirStore::new(state.path()).unwrap();
    let old_meta = [("filename", "old.bin"), ("token", "OLD-TOKEN")];
    let old = record(&key, &endpoint, &tus.at("/files/old"), 10, 4, &old_meta)
        .with_created_at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    store.save(&old).unwrap();

    let new_meta = wix_metadata("new.bin", "application/octet-stream", "NEW-TOKEN");
    let head = tus.head("/files/old").with_status(404).expect(1).create();
    let post = created(tus.post("/files", 10), "/files/new")
        .match_header("Upload-Metadata", new_meta.encode().as_str())
        .expect(1)
        .create();
    let p0 = tus.takes("/files/new", 0, &bytes);
    let no_old_patch = tus.never("PATCH", "/files/old");

    let clock = RecordingClock::new();
    let up = uploader(&clock).state_dir(state.path()).build().unwrap();
    let done = up
        .upload(
            &endpoint,
            source,
            UploadOptions::new()
                .metadata(new_meta.clone())
                .keep_state(true),
        )
        .unwrap();
    head.assert();
    post.assert();
    p0.assert();
    no_old_patch.assert();
    assert_eq!(done.resumed_from, None);
    assert_eq!(done.url, tus.at("/files/new"));
    assert_eq!(done.metadata, new_meta);

    let rec = store.load(&key).unwrap().expect("record of the new upload");
    assert_eq!(rec.upload_url(), tus.at("/files/new"));
    assert_eq!(rec.offset(), 10);
    assert_eq!(rec.metadata().unwrap().get("token"), Some("NEW-TOKEN"));
    assert_eq!(unfinished_records(state.path()).len(), 1);
}

#[test]
fn conflict_heads_then_continues() {
    let (mut tus, file, bytes) = MockTus::with_file(5);
    let post = tus.creates("/files", 10, "/files/k");
    let conflict = tus.patch("/files/k", 0, &bytes);
    let p0 = answer(conflict, 409, &[("Tus-Resumable", "1.0.0")], 1);
    let head = tus.heads("/files/k", 3, 10, 1);
    let p3 = tus.takes("/files/k", 3, &bytes[3..]);

    let clock = RecordingClock::new();
    let up = uploader(&clock)
        .retry(RetryPolicy::from_millis(&[0]))
        .build()
        .unwrap();
    let done = tus.upload(&up, &file, UploadOptions::new()).unwrap();
    assert_all(&[&post, &p0, &head, &p3]);
    assert_eq!(done.size, 10);
    assert_eq!(done.resumed_from, None);
}
