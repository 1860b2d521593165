//! Retries against a `mockito` server: 503s with the policy's delays, a 400 that is final,
//! `Retry-After`, and a stream's chunk resent from its buffer. A recording clock tells how long
//! the client waited after each failure, without waiting.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mockito::{Matcher, Mock};
use wix_media_upload::{Error, RetryPolicy, UploadOptions, Uploader};

use crate::support::clock::RecordingClock;
use crate::support::mock::{MockTus, assert_all, counted_stream, uploader};
use crate::support::{TempFile, pseudo_random_bytes};

/// An upload of a 10-byte file whose PATCH is answered 503 `failures` times (each marked on
/// the clock), with `heads` HEADs at offset 0 in between, by an uploader that retries after
/// 0, 3 and 5 s.
struct Unavailable {
    tus: MockTus,
    file: TempFile,
    bytes: Vec<u8>,
    clock: RecordingClock,
    up: Uploader,
    mocks: [Mock; 3],
}

fn unavailable(seed: u64, path: &str, failures: usize, heads: usize) -> Unavailable {
    let (mut tus, file, bytes) = MockTus::with_file(seed);
    let clock = RecordingClock::new();
    let mocks = [
        tus.creates("/files", 10, path),
        tus.patch(path, 0, &bytes)
            .with_status(503)
            .with_body_from_request(clock.failure_marker())
            .expect(failures)
            .create(),
        tus.heads(path, 0, 10, heads),
    ];
    let up = uploader(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    Unavailable {
        tus,
        file,
        bytes,
        clock,
        up,
        mocks,
    }
}

#[test]
fn service_unavailable_is_retried_with_the_policy_delays() {
    let mut u = unavailable(6, "/files/u", 2, 2);
    let ok = u.tus.takes("/files/u", 0, &u.bytes);
    let done = u.tus.upload(&u.up, &u.file, UploadOptions::new()).unwrap();
    assert_all(&[&u.mocks[0], &u.mocks[1], &u.mocks[2], &ok]);
    let clock = &u.clock;
    assert_eq!(done.size, 10);
    assert_eq!(
        clock.waits_after_failures(),
        vec![Duration::ZERO, Duration::from_secs(3)]
    );
    assert_eq!(clock.total_slept(), Duration::from_secs(3));
}

#[test]
fn permanent_service_unavailable_gives_up_after_every_delay() {
    let u = unavailable(7, "/files/p", 4, 3);
    let (clock, up) = (&u.clock, &u.up);
    let err = u.tus.upload(up, &u.file, UploadOptions::new()).unwrap_err();
    assert_all(&[&u.mocks[0], &u.mocks[1], &u.mocks[2]]);
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
    let (mut tus, file, _) = MockTus::with_file(8);
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
    let err = tus.upload(&up, &file, UploadOptions::new()).unwrap_err();
    post.assert();
    no_patch.assert();
    no_head.assert();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.wix().and_then(|w| w.code).as_deref(),
        Some("INVALID_TOKEN")
    );
    let wix = err.wix().unwrap();
    assert_eq!(wix.message, "bad upload");
    assert_eq!(wix.description.as_deref(), Some("the token is not valid"));
    assert!(!err.is_retryable());
    assert!(clock.sleeps().is_empty());
}

#[test]
fn retry_after_is_honoured() {
    let (mut tus, file, bytes) = MockTus::with_file(9);
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
    tus.upload(&up, &file, UploadOptions::new()).unwrap();
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
