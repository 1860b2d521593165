//! Defects found when the code was read closely, each pinned by a test: the Wix calls share
//! the uploader's settings, clock, retry policy and abort handle; the caller's metadata survives.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use mockito::{Matcher, Server};
use serde_json::json;
use wix_media_upload::wix::{self, GenerateUploadUrlRequest, ResumableTarget};
use wix_media_upload::{
    AbortHandle, Clock, Credentials, Error, RetryPolicy, Source, UploadOptions, Uploader,
};

use crate::support::clock::ManualClock;

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.cmVncmVzc2lvbg.c2ln";

fn file(bytes: &[u8]) -> (std::path::PathBuf, impl Drop) {
    struct Gone(std::path::PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "wmu-regress-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("photo.jpg");
    std::fs::write(&path, bytes).unwrap();
    (path, Gone(dir))
}

/// The 201 of a tus creation at `/upload/tus/u`.
fn created(mock: mockito::Mock) -> mockito::Mock {
    mock.with_status(201)
        .with_header("Location", "/upload/tus/u")
}

/// The PATCH of the 3-byte test file, acknowledged.
fn accept_the_body(server: &mut Server) {
    server
        .mock("PATCH", "/upload/tus/u")
        .with_status(204)
        .with_header("Upload-Offset", "3")
        .create();
}

fn target(server: &Server) -> ResumableTarget {
    let url = format!("{}/upload/tus", server.url());
    ResumableTarget::new(url, TOKEN, Some("photo.jpg".into()), "image/jpeg")
}

/// `upload_to_wix` used to replace the caller's metadata with Wix's three keys.
#[test]
fn the_callers_metadata_goes_with_wixs() {
    let mut server = Server::new();
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let post = server.mock("POST", "/upload/tus").match_header(
        "Upload-Metadata",
        format!(
            "origin {},filename {},contentType {},token {}",
            b64("batch-7"),
            b64("photo.jpg"),
            b64("image/jpeg"),
            b64(TOKEN)
        )
        .as_str(),
    );
    let post = created(post).expect(1).create();
    accept_the_body(&mut server);
    server
        .mock("PUT", format!("/upload/tus/{TOKEN}").as_str())
        .match_query(Matcher::Any)
        .with_body(r#"{"file":{"id":"f"}}"#)
        .create();
    let (path, _dir) = file(b"abc");
    let uploader = Uploader::builder()
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let done = wix::upload(
        &uploader,
        &target(&server),
        Source::file(&path).unwrap(),
        UploadOptions::new().metadata("origin", "batch-7"),
    )
    .unwrap();
    post.assert();
    assert_eq!(done.upload.metadata("origin"), Some("batch-7"));
}

/// A clock whose first sleep fires an abort handle (as a user's Ctrl-C would).
struct AbortOnSleep {
    clock: ManualClock,
    abort: AbortHandle,
}

impl Clock for AbortOnSleep {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }
    fn sleep(&self, d: Duration) {
        self.abort.abort();
        self.clock.sleep(d);
    }
}

/// Finalize's waits between retries used to ignore the abort handle.
#[test]
fn finalize_retries_stop_on_abort() {
    let mut server = Server::new();
    created(server.mock("POST", "/upload/tus")).create();
    accept_the_body(&mut server);
    let finalize = server
        .mock("PUT", format!("/upload/tus/{TOKEN}").as_str())
        .match_query(Matcher::Any)
        .with_status(503)
        .expect(1)
        .create();
    let (path, _dir) = file(b"abc");
    let abort = AbortHandle::new();
    let uploader = Uploader::builder()
        .retry(RetryPolicy::from_millis(&[60_000, 60_000]))
        .clock(AbortOnSleep {
            clock: ManualClock::new(),
            abort: abort.clone(),
        })
        .build()
        .unwrap();
    let result = wix::upload(
        &uploader,
        &target(&server),
        Source::file(&path).unwrap(),
        UploadOptions::new().abort(abort),
    );
    finalize.assert();
    assert!(matches!(result, Err(Error::Aborted)), "{result:?}");
}

/// The Wix calls used to read `Retry-After` dates against the system clock, not the injected one.
#[test]
fn retry_after_dates_are_read_on_the_injected_clock() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let at = httpdate::fmt_http_date(clock.now() + Duration::from_secs(7));
    server
        .mock("POST", "/site-media/v1/files/generate-resumable-upload-url")
        .with_status(429)
        .with_header("Retry-After", &at)
        .expect(1)
        .create();
    let ok = server
        .mock("POST", "/site-media/v1/files/generate-resumable-upload-url")
        .with_body(
            json!({"uploadUrl": "http://127.0.0.1:9/upload/tus", "uploadToken": TOKEN}).to_string(),
        )
        .expect(1)
        .create();
    let uploader = Uploader::builder().clock(clock.clone()).build().unwrap();
    let creds = Credentials::site("k", "s").with_api_base(server.url());
    wix::generate_resumable_upload_url(
        &uploader,
        &creds,
        &GenerateUploadUrlRequest::new("image/png"),
    )
    .unwrap();
    ok.assert();
    assert_eq!(clock.slept(), Duration::from_secs(7));
}

/// Generate used its own timeouts, user agent and headers, and was never retried.
#[test]
fn generate_uses_the_uploaders_settings_and_retries() {
    let mut server = Server::new();
    let failed = server
        .mock("POST", "/site-media/v1/files/generate-resumable-upload-url")
        .with_status(503)
        .expect(2)
        .create();
    let ok = server
        .mock("POST", "/site-media/v1/files/generate-resumable-upload-url")
        .match_header("User-Agent", "my-app/1.2")
        .match_header("X-Request-Origin", "nightly-job")
        .with_body(
            json!({"uploadUrl": "http://127.0.0.1:9/upload/tus", "uploadToken": TOKEN}).to_string(),
        )
        .expect(1)
        .create();
    let clock = ManualClock::new();
    let uploader = Uploader::builder()
        .user_agent("my-app/1.2")
        .header("X-Request-Origin", "nightly-job")
        .retry(RetryPolicy::from_millis(&[0, 0, 0]))
        .clock(clock)
        .build()
        .unwrap();
    let creds = Credentials::site("k", "s").with_api_base(server.url());
    let t = wix::generate_resumable_upload_url(
        &uploader,
        &creds,
        &GenerateUploadUrlRequest::new("image/png"),
    )
    .unwrap();
    failed.assert();
    ok.assert();
    assert_eq!(t.upload_url, "http://127.0.0.1:9/upload/tus");
}

/// Generate to a closed port used to fail at once; it is retried, and says what happened.
#[test]
fn generate_to_a_closed_port_is_retried_and_says_so() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let uploader = Uploader::builder()
        .retry(RetryPolicy::from_millis(&[0, 0]))
        .build()
        .unwrap();
    let creds = Credentials::site("k", "s").with_api_base(format!("http://127.0.0.1:{port}"));
    let err = wix::generate_resumable_upload_url(
        &uploader,
        &creds,
        &GenerateUploadUrlRequest::new("image/png"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::GaveUp { attempts: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("could not connect"), "{err}");
}

/// Progress used to be reported on every read of the body (4,579 calls for 300 MB): it is
/// rate-limited now, about one call per MiB sent.
#[test]
fn progress_is_reported_about_once_per_mib() {
    let mut server = Server::new();
    let len = 16 << 20;
    server
        .mock("POST", "/files")
        .with_status(201)
        .with_header("Location", "/files/p")
        .create();
    server
        .mock("PATCH", "/files/p")
        .with_status(204)
        .with_header("Upload-Offset", &len.to_string())
        .create();
    let bytes = vec![7u8; len];
    let calls = Arc::new(Mutex::new(0u32));
    let counter = Arc::clone(&calls);
    let uploader = Uploader::builder()
        .clock(ManualClock::new())
        .build()
        .unwrap();
    uploader
        .upload(
            &format!("{}/files", server.url()),
            Source::seekable(std::io::Cursor::new(bytes)).unwrap(),
            UploadOptions::new().progress(move |_| *counter.lock().unwrap() += 1),
        )
        .unwrap();
    let calls = *calls.lock().unwrap();
    assert!(
        (16..=20).contains(&calls),
        "{calls} progress calls for 16 MiB"
    );
}

/// A server that never answers `Expect: 100-continue` used to cost a 1 s wait on every large
/// body: the first wait teaches the uploader to stop asking.
#[test]
fn a_server_that_ignores_expect_is_asked_once() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::<bool>::new()));
    let seen = Arc::clone(&asked);
    std::thread::spawn(move || {
        for (id, stream) in listener.incoming().flatten().enumerate() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.to_ascii_lowercase());
                    }
                    let len: u64 = head
                        .iter()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    let post = head[0].starts_with("post");
                    if !post {
                        seen.lock()
                            .unwrap()
                            .push(head.iter().any(|l| l.starts_with("expect:")));
                    }
                    std::io::copy(&mut (&mut r).take(len), &mut std::io::sink()).unwrap();
                    let answer = if post {
                        format!(
                            "HTTP/1.1 201 Created\r\nLocation: /files/{id}\r\nContent-Length: 0\r\n\r\n"
                        )
                    } else {
                        format!("HTTP/1.1 204 No Content\r\nUpload-Offset: {len}\r\n\r\n")
                    };
                    w.write_all(answer.as_bytes()).unwrap();
                }
            });
        }
    });
    let uploader = Uploader::builder()
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    for _ in 0..3 {
        uploader
            .upload(
                &format!("http://{addr}/files"),
                Source::seekable(std::io::Cursor::new(vec![1u8; 2 << 20])).unwrap(),
                UploadOptions::new(),
            )
            .unwrap();
    }
    assert_eq!(*asked.lock().unwrap(), [true, false, false]);
}
