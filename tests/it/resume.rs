//! Resuming against a `mockito` server: from a record in a state directory with a new
//! uploader, after the upload is gone (404), and after a 409 on the offset. Resumes against
//! the reference servers: interop/; after kills of the CLI: crash.rs.

use mockito::Matcher;
use serde_json::json;
use wix_media_upload::{RetryPolicy, Source, UploadOptions};

use crate::support::clock::RecordingClock;
use crate::support::mock::{MockTus, TOKEN, answer, assert_all, created, uploader, wix_metadata};
use crate::support::state::{
    file_state_key, load, metadata_value, plant, record_json, with_metadata,
};
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
        .upload(&first, &file, with_metadata(UploadOptions::new(), &meta))
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    post.assert();
    p0.assert();
    p4.assert();
    // What a caller asks after the failure: a rerun resumes.
    assert!(first.has_saved(&Source::file(file.path()).unwrap()));
    assert!(!first.has_saved(&Source::stream(&b""[..], 0).with_key("other")));
    drop(first);

    let files = unfinished_records(state.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let rec = load(state.path(), &key).expect("record kept");
    assert_eq!(
        (&rec["upload_url"], &rec["offset"]),
        (&json!(upload_url), &json!(4))
    );

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
    assert!(
        !second.has_saved(&Source::file(file.path()).unwrap()),
        "not read yet"
    );
    let done = tus.upload(&second, &file, UploadOptions::new()).unwrap();
    assert!(
        !second.has_saved(&Source::file(file.path()).unwrap()),
        "finished"
    );
    no_post.assert();
    head.assert();
    p6.assert();
    assert_eq!(done.resumed_from, Some(6));
    assert_eq!(done.url, upload_url);
    assert_eq!(done.metadata("filename"), Some("r.bin"));
    assert_eq!(done.metadata("token"), Some(TOKEN));
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
    let key = file_state_key(&endpoint, file.path());
    let old_meta = [("filename", "old.bin"), ("token", "OLD-TOKEN")];
    let mut old = record_json(&key, &endpoint, &tus.at("/files/old"), 10, 4, &old_meta);
    old["created_at_ms"] = json!(1_700_000_000_000_u64);
    plant(state.path(), &old);

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
            with_metadata(UploadOptions::new(), &new_meta).keep_state(true),
        )
        .unwrap();
    head.assert();
    post.assert();
    p0.assert();
    no_old_patch.assert();
    assert_eq!(done.resumed_from, None);
    assert_eq!(done.url, tus.at("/files/new"));
    for (k, v) in new_meta.iter() {
        assert_eq!(done.metadata(k), Some(v), "{k}");
    }

    let rec = load(state.path(), &key).expect("record of the new upload");
    assert_eq!(rec["upload_url"], tus.at("/files/new"));
    assert_eq!(rec["offset"], 10);
    assert_eq!(metadata_value(&rec, "token"), Some("NEW-TOKEN"));
    assert_eq!(rec["secret_keys"], json!(["token"]));
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
