//! The Wix client's requests, exactly: headers, query strings and bodies, against mockito.

use std::time::Duration;

use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::json;
use wix_media_upload::wix::OperationStatus;
use wix_media_upload::wix::{FileOptions, FileUpload, ImportFileRequest, Route, WixClient};
use wix_media_upload::{Credentials, Error, RetryPolicy, Uploader};

use crate::support::TempDir;
use crate::support::clock::ManualClock;

const KEY: &str = "IST.mockito-key-0123456789";
const SITE: &str = "5f3e-site";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.c2ltcGxl.c2lnbmF0dXJl";
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.cmVzdW1hYmxl.c2ln";
const UA: &str = concat!("wix-media-upload/", env!("CARGO_PKG_VERSION"));

/// A mockito server and the clock the client under test sleeps on.
fn mocked() -> (ServerGuard, ManualClock) {
    (Server::new(), ManualClock::new())
}

fn client(server: &Server, clock: &ManualClock, retry: RetryPolicy) -> WixClient {
    WixClient::builder(Credentials::site(KEY, SITE).with_api_base(server.url()))
        .uploader(Uploader::builder().clock(clock.clone()).retry(retry))
        .build()
        .unwrap()
}

fn file(name: &str, bytes: &[u8]) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new("wmu-client-mock");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// A `get-file-by-id` answer: the file `id` in `status` (`PENDING`, `READY`, `FAILED`).
fn file_in(id: &str, status: &str) -> String {
    json!({"file": {"id": id, "operationStatus": status}}).to_string()
}

/// A `PUT` to `path` whose `filename` query is `name` (the simple upload, the finalize).
fn put_named(server: &mut ServerGuard, path: &str, name: &str) -> Mock {
    server
        .mock("PUT", path)
        .match_query(Matcher::UrlEncoded("filename".into(), name.into()))
}

/// Any `get-file-by-id` read, answered `body`.
fn file_reads(server: &mut ServerGuard, body: &str) -> Mock {
    server
        .mock("GET", "/site-media/v1/files/get-file-by-id")
        .match_query(Matcher::Any)
        .with_body(body)
}

#[test]
fn the_simple_route_sends_exactly_two_requests() {
    let (mut server, clock) = mocked();
    let generate = server
        .mock("POST", "/site-media/v1/files/generate-upload-url")
        .match_header("Authorization", KEY)
        .match_header("wix-site-id", SITE)
        .match_header("Content-Type", "application/json")
        .match_header("User-Agent", UA)
        .match_header("wix-account-id", Matcher::Missing)
        .match_body(Matcher::Json(json!({
            "mimeType": "image/png",
            "fileName": "a b&c.png",
            "sizeInBytes": "5",
            "filePath": "/albums",
            "labels": ["one"],
            "private": true,
        })))
        .with_status(200)
        .with_body(json!({"uploadUrl": format!("{}/upload/{JWT}", server.url())}).to_string())
        .expect(1)
        .create();
    let put = put_named(&mut server, &format!("/upload/{JWT}"), "a b&c.png")
        .match_header("Content-Type", "image/png")
        .match_header("Content-Length", "5")
        .match_header("Authorization", Matcher::Missing)
        .match_body("hello")
        .with_status(200)
        // Lenient: `_id`, and a number where Wix documents a string.
        .with_body(r#"{"file":{"_id":"f-1","sizeInBytes":5,"operationStatus":"READY","mediaType":"IMAGE","newField":{"x":1}}}"#)
        .expect(1)
        .create();
    let (_dir, path) = file("a b&c.png", b"hello");
    let done = client(&server, &clock, RetryPolicy::none())
        .upload_with(
            &path,
            FileUpload::new().options(
                FileOptions::new()
                    .file_path("/albums")
                    .label("one")
                    .private(true),
            ),
        )
        .unwrap();
    generate.assert();
    put.assert();
    assert_eq!(done.route, Route::Simple);
    assert_eq!(done.file.id.as_deref(), Some("f-1"));
    assert_eq!(done.file.size_in_bytes, Some(5));
    assert_eq!(done.file.operation_status, Some(OperationStatus::Ready));
}

#[test]
fn the_resumable_route_sends_generate_tus_and_finalize() {
    let (mut server, clock) = mocked();
    let upload_url = format!("{}/upload/tus", server.url());
    let generate = server
        .mock("POST", "/site-media/v1/files/generate-resumable-upload-url")
        .match_header("Authorization", KEY)
        .match_body(Matcher::Json(json!({
            "mimeType": "video/mp4",
            "fileName": "clip.mp4",
            "sizeInBytes": "6",
            "uploadProtocol": "TUS",
        })))
        .with_body(
            json!({"uploadProtocol": "TUS", "uploadUrl": upload_url, "uploadToken": TOKEN})
                .to_string(),
        )
        .expect(1)
        .create();
    let meta = |k: &str, v: &str| {
        use base64::Engine as _;
        format!(
            "{k} {}",
            base64::engine::general_purpose::STANDARD.encode(v)
        )
    };
    let create = server
        .mock("POST", "/upload/tus")
        .match_header("Tus-Resumable", "1.0.0")
        .match_header("Upload-Length", "6")
        .match_header(
            "Upload-Metadata",
            format!(
                "{},{},{}",
                meta("filename", "clip.mp4"),
                meta("contentType", "video/mp4"),
                meta("token", TOKEN)
            )
            .as_str(),
        )
        .with_status(201)
        .with_header("Location", "/upload/tus/u1")
        .expect(1)
        .create();
    let patch = server
        .mock("PATCH", "/upload/tus/u1")
        .match_header("Upload-Offset", "0")
        .match_body("123456")
        .with_status(204)
        .with_header("Upload-Offset", "6")
        .expect(1)
        .create();
    let finalize = put_named(&mut server, &format!("/upload/tus/{TOKEN}"), "clip.mp4")
        .match_header("Content-Type", "application/json")
        .match_body("{}")
        .with_body(r#"{"file":{"id":"v-1","operationStatus":"PENDING","mediaType":"VIDEO"}}"#)
        .expect(1)
        .create();
    let (_dir, path) = file("clip.mp4", b"123456");
    let done = client(&server, &clock, RetryPolicy::none())
        .upload_with(&path, FileUpload::new().route(Route::Resumable))
        .unwrap();
    for m in [&generate, &create, &patch, &finalize] {
        m.assert();
    }
    assert_eq!(done.route, Route::Resumable);
    assert_eq!(done.file.operation_status, Some(OperationStatus::Pending));
}

#[test]
fn waiting_polls_get_file_by_id_with_backoff() {
    let (mut server, clock) = mocked();
    let id = "2acbb8_86485e~mv2.mp4";
    let pending = server
        .mock("GET", "/site-media/v1/files/get-file-by-id")
        .match_query(Matcher::UrlEncoded("fileId".into(), id.into()))
        .match_header("Authorization", KEY)
        .with_body(file_in(id, "PENDING"))
        // At 0 s, 0.5 s, 1.25 s, and a last look at the 2 s deadline.
        .expect(4)
        .create();
    let client = client(&server, &clock, RetryPolicy::none());
    let err = client.wait_ready(id, Duration::from_secs(2)).unwrap_err();
    pending.assert();
    assert!(matches!(err, Error::NotReady { .. }), "{err}");
    // 0.5 s, then 0.75 s, then what was left of the 2 s.
    let slept = clock.slept();
    assert_eq!(slept, Duration::from_secs(2), "{:?}", clock.sleeps());
    pending.remove();

    let ready = file_reads(&mut server, &file_in(id, "READY"))
        .expect(1)
        .create();
    let file = client.wait_ready(id, Duration::from_secs(2)).unwrap();
    ready.assert();
    assert_eq!(file.operation_status, Some(OperationStatus::Ready));
}

#[test]
fn failed_processing_is_a_typed_error() {
    let (mut server, clock) = mocked();
    file_reads(&mut server, &file_in("x", "FAILED")).create();
    let err = client(&server, &clock, RetryPolicy::none())
        .wait_ready("x", Duration::from_secs(60))
        .unwrap_err();
    match err {
        Error::ProcessingFailed { file_id } => assert_eq!(&*file_id, "x"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_429_holds_rest_calls_until_retry_after_and_later_calls_are_paced() {
    let (mut server, clock) = mocked();
    let ok_body = r#"{"file":{"id":"i-1","operationStatus":"PENDING"}}"#;
    let first = server
        .mock("POST", "/site-media/v1/files/import")
        .with_body(ok_body)
        .expect(1)
        .create();
    let client = client(
        &server,
        &clock,
        RetryPolicy::none().max_throttled_wait(Duration::from_secs(60)),
    );
    let request = ImportFileRequest::new("https://example.com/a.jpg").display_name("a.jpg");
    client.import(&request).unwrap();
    first.assert();
    let limited = server
        .mock("POST", "/site-media/v1/files/import")
        .with_status(429)
        .with_header("Retry-After", "2")
        .with_body(r#"{"message":"rate limit","details":{"applicationError":{"code":"RESOURCE_EXHAUSTED"}}}"#)
        .expect(1)
        .create();
    let ok = server
        .mock("POST", "/site-media/v1/files/import")
        .match_body(Matcher::Json(
            json!({"url": "https://example.com/a.jpg", "displayName": "a.jpg"}),
        ))
        .with_body(ok_body)
        .expect(2)
        .create();
    // Refused once: waited the server's 2 s (no retry delay: the policy has none), not failed.
    let file = client.import(&request).unwrap();
    limited.assert();
    assert_eq!(file.id.as_deref(), Some("i-1"));
    assert_eq!(clock.slept(), Duration::from_secs(2));
    // Paced by the quota learned from it (one call let through in about 2 s): the next call
    // waits for the earlier ones to leave that window.
    client.import(&request).unwrap();
    ok.assert();
    assert!(
        clock.slept() > Duration::from_secs(2),
        "{:?}",
        clock.slept()
    );
}

#[test]
fn a_rest_call_refused_with_429_for_longer_than_the_throttled_wait_fails() {
    let (mut server, clock) = mocked();
    let limited = server
        .mock("POST", "/site-media/v1/files/import")
        .with_status(429)
        .expect_at_least(2)
        .create();
    let policy = RetryPolicy::default().max_throttled_wait(Duration::from_secs(30));
    let err = client(&server, &clock, policy)
        .import(&ImportFileRequest::new("https://example.com/a.jpg"))
        .unwrap_err();
    limited.assert();
    assert_eq!(err.status(), Some(429), "{err}");
    assert!(matches!(err, Error::GaveUp { .. }), "{err:?}");
    // It waited the 30 s (probing at 1, 2, 5, 10, 30 s...), not the policy's 5 attempts.
    assert!(
        clock.slept() >= Duration::from_secs(30),
        "{:?}",
        clock.slept()
    );
}

#[test]
fn a_client_never_refused_is_never_slowed() {
    let (mut server, clock) = mocked();
    file_reads(&mut server, &file_in("x", "READY"))
        .expect(20)
        .create();
    let client = client(&server, &clock, RetryPolicy::none());
    for _ in 0..20 {
        client.get_file("x").unwrap();
    }
    assert_eq!(clock.slept(), Duration::ZERO);
}

#[test]
fn html_error_pages_are_errors_with_a_hint_not_parse_failures() {
    let (mut server, clock) = mocked();
    server
        .mock("POST", "/site-media/v1/files/generate-upload-url")
        .with_status(403)
        .with_header("Content-Type", "text/html")
        .with_body("<!DOCTYPE html><html><head><title>403</title><style>p{}</style></head><body><p>Forbidden: you are not allowed</p></body></html>")
        .create();
    let (_dir, path) = file("a.png", b"x");
    let err = client(&server, &clock, RetryPolicy::default())
        .upload(&path)
        .unwrap_err();
    // Not retried, and readable.
    assert!(matches!(err, Error::Status { status: 403, .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Forbidden") && text.contains("API key"),
        "{text}"
    );
    assert!(!text.contains("<p>") && !text.contains(KEY), "{text}");
    assert_eq!(clock.slept(), Duration::ZERO);
}

#[test]
fn a_bad_json_answer_is_bad_response() {
    let (mut server, clock) = mocked();
    file_reads(&mut server, "{\"file\": [").create();
    let err = client(&server, &clock, RetryPolicy::none())
        .get_file("x")
        .unwrap_err();
    assert!(
        matches!(err, Error::BadResponse { status: 200, .. }),
        "{err:?}"
    );
}

#[test]
fn the_simple_upload_url_never_shows_in_errors() {
    let (mut server, clock) = mocked();
    server
        .mock("POST", "/site-media/v1/files/generate-upload-url")
        .with_body(json!({"uploadUrl": format!("{}/upload/{JWT}", server.url())}).to_string())
        .create();
    server
        .mock("PUT", format!("/upload/{JWT}").as_str())
        .match_query(Matcher::Any)
        .with_status(400)
        .with_body(r#"{"message":"bad","details":{}}"#)
        .create();
    let (_dir, path) = file("a.png", b"xyz");
    let err = client(&server, &clock, RetryPolicy::none())
        .upload(&path)
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(JWT) && text.contains("***"), "{text}");
}
