//! Exact protocol exchanges against a `mockito` server (support/mock.rs): creation and PATCHes,
//! chunks, creation-with-upload after OPTIONS, streams, redirects, aborts and expired uploads.
//! Every request the SDK makes is matched on method, path, headers and body, and every mock
//! asserts how often it was hit. Resumes: resume.rs; retries: retry.rs; Wix finalize:
//! wix/finalize.rs.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mockito::Matcher;
use wix_media_upload::{AbortHandle, CreationMode, Error, Progress, Source, UploadOptions};

use crate::support::clock::RecordingClock;
use crate::support::mock::{
    MockTus, OCTET, TOKEN, answer, assert_all, counted_stream, created, uploader, wix_metadata,
};
use crate::support::state::{load, metadata_value, records, with_metadata};
use crate::support::{TempDir, pseudo_random_bytes};

/// `Upload-Metadata` decoded into `(key, value)` pairs.
fn decode_metadata(header: &str) -> Vec<(String, String)> {
    header
        .split(',')
        .map(|pair| {
            let mut it = pair.trim().splitn(2, ' ');
            let key = it.next().unwrap().to_owned();
            let value = it
                .next()
                .map(|v| String::from_utf8(STANDARD.decode(v).expect("base64")).unwrap())
                .unwrap_or_default();
            (key, value)
        })
        .collect()
}

#[test]
fn nothing_is_sent_into_an_expired_upload() {
    let (mut tus, file, _) = MockTus::with_file(41);
    let clock = RecordingClock::new();
    // The server says the upload expired a second before its own `Date`.
    let date = SystemTime::now();
    let post = created(tus.post("/files", 10), "/files/x")
        .with_header("Date", &httpdate::fmt_http_date(date))
        .with_header(
            "Upload-Expires",
            &httpdate::fmt_http_date(date - Duration::from_secs(1)),
        )
        .expect(1)
        .create();
    let none = tus.never("PATCH", "/files/x");
    let up = uploader(&clock).chunk_size(4).build().unwrap();
    let err = tus.upload(&up, &file, UploadOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Expired), "{err:?}");
    assert!(!err.is_retryable());
    post.assert();
    none.assert();
}

#[test]
fn create_then_single_patch() {
    let (mut tus, file, bytes) = MockTus::with_file(1);
    let seen_metadata = Arc::new(Mutex::new(None::<String>));

    let post = {
        let seen = Arc::clone(&seen_metadata);
        created(tus.post("/files", 10), "/files/abc123")
            .match_header("Upload-Metadata", Matcher::Any)
            .match_request(move |req| {
                let values = req.header("Upload-Metadata");
                if let Some(v) = values.first() {
                    *seen.lock().unwrap() = Some(v.to_str().unwrap().to_owned());
                }
                true
            })
            .expect(1)
            .create()
    };
    let patch = tus.takes("/files/abc123", 0, &bytes);

    let clock = RecordingClock::new();
    let state = TempDir::new("wmu-mockito-state");
    let up = uploader(&clock).state_dir(state.path()).build().unwrap();
    let meta = wix_metadata("photo one.jpg", "image/jpeg", TOKEN);
    let key = tus.state_key(&file);
    let done = tus
        .upload(&up, &file, with_metadata(UploadOptions::new(), &meta))
        .unwrap();

    post.assert();
    patch.assert();
    assert_eq!(done.url, tus.at("/files/abc123"));
    assert_eq!(done.size, 10);
    assert_eq!(done.resumed_from, None);
    for (k, v) in meta.iter() {
        assert_eq!(done.metadata(k), Some(v), "{k}");
    }
    // The record is kept marked finished (for a writer waiting for this one), without the token.
    let rec = load(state.path(), &key).expect("a finished record");
    assert!(rec["completed_at_ms"].is_u64(), "{rec}");
    assert_eq!(metadata_value(&rec, "token"), None, "{rec}");
    assert_eq!(
        metadata_value(&rec, "filename"),
        Some("photo one.jpg"),
        "{rec}"
    );

    let header = seen_metadata
        .lock()
        .unwrap()
        .clone()
        .expect("Upload-Metadata");
    assert_eq!(
        decode_metadata(&header),
        vec![
            ("filename".to_owned(), "photo one.jpg".to_owned()),
            ("contentType".to_owned(), "image/jpeg".to_owned()),
            ("token".to_owned(), TOKEN.to_owned()),
        ]
    );
    assert!(!header.contains(TOKEN), "values are base64: {header}");
    assert!(clock.sleeps().is_empty());
}

#[test]
fn chunked_patches_walk_the_file() {
    let (mut tus, file, bytes) = MockTus::with_file(2);
    let post = tus.creates("/files", 10, "/files/c");
    let patches = tus.takes_in_chunks("/files/c", &bytes, 0, 4);

    let clock = RecordingClock::new();
    let up = uploader(&clock).chunk_size(4).build().unwrap();
    let mut acks = Vec::new();
    let done = tus
        .upload(
            &up,
            &file,
            UploadOptions::new().progress(|p: Progress| {
                if p.sent == p.acked {
                    acks.push(p.acked);
                }
            }),
        )
        .unwrap();
    post.assert();
    assert_all(&patches);
    assert_eq!(done.size, 10);
    assert_eq!(acks, vec![4, 8, 10]);
}

#[test]
fn redirects_are_not_followed() {
    let (mut tus, file, bytes) = MockTus::with_file(12);
    let post = tus.creates("/files", 10, "/files/rd");
    let moved = [("Location", "/elsewhere/rd")];
    let redirect = answer(tus.patch("/files/rd", 0, &bytes), 307, &moved, 1);
    let target_patch = tus.never("PATCH", "/elsewhere/rd");
    let target_get = tus.never("GET", "/elsewhere/rd");

    let clock = RecordingClock::new();
    let up = uploader(&clock).build().unwrap();
    let err = tus.upload(&up, &file, UploadOptions::new()).unwrap_err();
    post.assert();
    redirect.assert();
    target_patch.assert();
    target_get.assert();
    assert_eq!(err.status(), Some(307), "{err:?}");
}

#[test]
fn abort_from_progress_stops_and_keeps_the_record() {
    let (mut tus, file, bytes) = MockTus::with_file(13);
    let post = tus.creates("/files", 10, "/files/ab");
    let p0 = tus.takes("/files/ab", 0, &bytes[0..4]);
    let no_more = tus.never("PATCH", Matcher::Any);

    let clock = RecordingClock::new();
    let state = TempDir::new("wmu-mockito-state");
    let up = uploader(&clock)
        .chunk_size(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    let key = tus.state_key(&file);
    let err = tus
        .upload(
            &up,
            &file,
            UploadOptions::new()
                .abort(abort)
                .progress(move |p: Progress| {
                    if p.acked >= 4 {
                        trigger.abort();
                    }
                }),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Aborted), "{err:?}");
    post.assert();
    p0.assert();
    no_more.assert();
    let rec = load(state.path(), &key).expect("record kept");
    assert_eq!(rec["offset"], 4);
    assert_eq!(rec["upload_url"], tus.at("/files/ab"));
}

#[test]
fn auto_mode_sends_the_first_chunk_with_the_post() {
    let (mut tus, file, bytes) = MockTus::with_file(14);
    let offered = [
        ("Tus-Resumable", "1.0.0"),
        ("Tus-Version", "1.0.0"),
        ("Tus-Extension", "creation,creation-with-upload,termination"),
    ];
    let asked = tus.server.mock("OPTIONS", "/files");
    let options = answer(
        asked.match_header("Tus-Resumable", Matcher::Missing),
        204,
        &offered,
        1,
    );
    let post = tus
        .server
        .mock("POST", "/files")
        .match_header("Tus-Resumable", "1.0.0")
        .match_header("Upload-Length", "10")
        .match_header("Content-Type", OCTET)
        .match_header("Content-Length", "4")
        .match_body(bytes[0..4].to_vec())
        .with_status(201)
        .with_header("Location", "/files/cwu")
        .with_header("Upload-Offset", "4")
        .expect(1)
        .create();
    let patches = tus.takes_in_chunks("/files/cwu", &bytes, 4, 4);
    let no_head = tus.never("HEAD", Matcher::Any);

    let clock = RecordingClock::new();
    let up = uploader(&clock)
        .creation(CreationMode::Auto)
        .chunk_size(4)
        .build()
        .unwrap();
    let done = tus.upload(&up, &file, UploadOptions::new()).unwrap();
    assert_all(&[&options, &post, &no_head]);
    assert_all(&patches);
    assert_eq!(done.url, tus.at("/files/cwu"));
}

#[test]
fn auto_mode_without_options_support_posts_plainly() {
    let (mut tus, file, bytes) = MockTus::with_file(15);
    let options = answer(tus.server.mock("OPTIONS", "/files"), 404, &[], 1);
    let post = tus.creates("/files", 10, "/files/np");
    let p0 = tus.takes("/files/np", 0, &bytes);

    let clock = RecordingClock::new();
    let up = uploader(&clock)
        .creation(CreationMode::Auto)
        .build()
        .unwrap();
    tus.upload(&up, &file, UploadOptions::new()).unwrap();
    options.assert();
    post.assert();
    p0.assert();
}

#[test]
fn stream_chunks_are_sent_in_order() {
    let mut tus = MockTus::new();
    let endpoint = tus.endpoint();
    let bytes = pseudo_random_bytes(10, 16);
    let post = tus.creates("/files", 10, "/files/s");
    let patches = tus.takes_in_chunks("/files/s", &bytes, 0, 4);

    let clock = RecordingClock::new();
    let state = TempDir::new("wmu-stream-state");
    let up = uploader(&clock)
        .chunk_size(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    let (source, read) = counted_stream(&bytes);
    let done = up.upload(&endpoint, source, UploadOptions::new()).unwrap();
    post.assert();
    assert_all(&patches);
    assert_eq!(done.size, 10);
    // A stream without a key has no record to resume from.
    assert!(records(state.path()).is_empty());
    assert!(!up.has_saved(&Source::stream(std::io::empty(), 10)));
    assert_eq!(read.load(Ordering::Relaxed), 10);
}
