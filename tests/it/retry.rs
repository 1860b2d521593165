//! Retries against a `mockito` server: 503s with the policy's delays, a 400 that is final,
//! `Retry-After`, and a stream's chunk resent from its buffer. A recording clock tells how long
//! the client waited after each failure, without waiting.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mockito::Matcher;
use wix_media_upload::{Error, RetryPolicy, Source, UploadOptions};

use crate::support::clock::RecordingClock;
use crate::support::mock::{MockTus, assert_all, counted_stream, uploader};
use crate::support::{pseudo_random_bytes, temp_file_with};

#[test]
fn service_unavailable_is_retried_with_the_policy_delays() {
    let mut tus = MockTus::new();
    let endpoint = tus.endpoint();
    let (file, bytes) = temp_file_with(10, 6);
    let clock = RecordingClock::new();
    let post = tus.creates("/files", 10, "/files/u");
    let unavailable = tus
        .patch("/files/u", 0, &bytes)
        .with_status(503)
        .with_body_from_request(clock.failure_marker())
        .expect(2)
        .create();
    let head = tus.heads("/files/u", 0, 10, 2);
    let ok = tus.takes("/files/u", 0, &bytes);

    let up = uploader(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    let done = up
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new(),
        )
        .unwrap();
    assert_all(&[&post, &unavailable, &head, &ok]);
    assert_eq!(done.size, 10);
    assert_eq!(
        clock.waits_after_failures(),
        vec![Duration::ZERO, Duration::from_secs(3)]
    );
    assert_eq!(clock.total_slept(), Duration::from_secs(3));
}

#[test]
fn permanent_service_unavailable_gives_up_after_every_delay() {
    let mut tus = MockTus::new();
    let endpoint = tus.endpoint();
    let (file, bytes) = temp_file_with(10, 7);
    let clock = RecordingClock::new();
    let post = tus.creates("/files", 10, "/files/p");
    let unavailable = tus
        .patch("/files/p", 0, &bytes)
        .with_status(503)
        .with_body_from_request(clock.failure_marker())
        .expect(4)
        .create();
    let head = tus.heads("/files/p", 0, 10, 3);

    let up = uploader(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    let err = up
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new(),
        )
        .unwrap_err();
    post.assert();
    unavailable.assert();
    head.assert();
    match &err {
        Error::GaveUp { attempts, last } => {
            assert_eq!(*attempts, 4);
            assert_eq!(last.status(), Some(503));
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
    assert_eq!(err.status(), Some(503));
    // The last failure is not waited for.
    assert_eq!(
        clock.waits_after_failures(),
        vec![
            Duration::ZERO,
            Duration::from_secs(3),
            Duration::from_secs(5),
            Duration::ZERO
        ]
    );
    assert_eq!(clock.total_slept(), Duration::from_secs(8));
}

#[test]
fn bad_request_is_not_retried() {
    let mut tus = MockTus::new();
    let endpoint = tus.endpoint();
    let (file, _) = temp_file_with(10, 8);
    let body = r#"{"message":"bad upload","details":{"applicationError":{"code":"INVALID_TOKEN","description":"the token is not valid"}}}"#;
    let post = tus
        .post("/files", 10)
        .with_status(400)
        .with_header("Content-Type", "application/json")
        .with_body(body)
        .expect(1)
        .create();
    let no_patch = tus.never("PATCH", Matcher::Any);
    let no_head = tus.never("HEAD", Matcher::Any);

    let clock = RecordingClock::new();
    let up = uploader(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    let err = up
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new(),
        )
        .unwrap_err();
    post.assert();
    no_patch.assert();
    no_head.assert();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.wix_code(), Some("INVALID_TOKEN"));
    let wix = err.wix().unwrap();
    assert_eq!(wix.message, "bad upload");
    assert_eq!(wix.description.as_deref(), Some("the token is not valid"));
    assert!(!err.is_retryable());
    assert!(clock.sleeps().is_empty());
}

#[test]
fn retry_after_is_honoured() {
    let mut tus = MockTus::new();
    let endpoint = tus.endpoint();
    let (file, bytes) = temp_file_with(10, 9);
    let clock = RecordingClock::new();
    let limited = tus
        .post("/files", 10)
        .with_status(429)
        .with_header("Retry-After", "7")
        .with_body_from_request(clock.failure_marker())
        .expect(1)
        .create();
    let post = tus.creates("/files", 10, "/files/ra");
    let p0 = tus.takes("/files/ra", 0, &bytes);

    let up = uploader(&clock)
        .retry(RetryPolicy::from_millis(&[0]))
        .build()
        .unwrap();
    up.upload(
        &endpoint,
        Source::file(file.path()).unwrap(),
        UploadOptions::new(),
    )
    .unwrap();
    limited.assert();
    post.assert();
    p0.assert();
    assert_eq!(clock.waits_after_failures(), vec![Duration::from_secs(7)]);
    assert_eq!(clock.total_slept(), Duration::from_secs(7));
}

#[test]
fn stream_chunk_is_resent_from_the_buffer_after_a_failure() {
    let mut tus = MockTus::new();
    let endpoint = tus.endpoint();
    let bytes = pseudo_random_bytes(10, 17);
    let clock = RecordingClock::new();
    let post = tus.creates("/files", 10, "/files/sr");
    let p0 = tus.takes("/files/sr", 0, &bytes[0..4]);
    let p4_fail = tus
        .patch("/files/sr", 4, &bytes[4..8])
        .with_status(503)
        .with_body_from_request(clock.failure_marker())
        .expect(1)
        .create();
    let head = tus.heads("/files/sr", 4, 10, 1);
    let p4_ok = tus.takes("/files/sr", 4, &bytes[4..8]);
    let p8 = tus.takes("/files/sr", 8, &bytes[8..10]);

    let up = uploader(&clock)
        .chunk_size(4)
        .retry(RetryPolicy::from_millis(&[250]))
        .build()
        .unwrap();
    let (source, read) = counted_stream(&bytes);
    up.upload(&endpoint, source, UploadOptions::new()).unwrap();
    assert_all(&[&post, &p0, &p4_fail, &head, &p4_ok, &p8]);
    // Each byte was read from the stream once: the retry came from the buffer.
    assert_eq!(read.load(Ordering::Relaxed), 10);
    assert_eq!(
        clock.waits_after_failures(),
        vec![Duration::from_millis(250)]
    );
}
