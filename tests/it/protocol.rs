//! Exact protocol exchanges against a `mockito` server: every request the SDK makes is matched
//! on method, path, headers and body, and every mock asserts how often it was hit. A fake clock
//! records retry waits instead of sleeping.

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::support::{TempDir, TempFile, temp_file_with};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mockito::{Matcher, Mock, Server, ServerGuard};
use wix_media_upload::wix::types::{MediaType, OperationStatus};
use wix_media_upload::wix::{self, GenerateUploadUrlResponse, ResumableTarget};
use wix_media_upload::{
    AbortHandle, Clock, CreationMode, DirStore, Error, Metadata, Progress, Record, RetryPolicy,
    Secret, Source, StateStore, UploadOptions, Uploader, UploaderBuilder,
};

// ---------------------------------------------------------------------------------------------
// Fake clock
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Ev {
    /// The clock was asked to sleep.
    Sleep(Duration),
    /// The mock server answered a request with a failure (pushed by the server thread before the
    /// response goes out, so it precedes the client's reaction).
    Failed,
}

/// Never sleeps: `sleep(d)` records `d` and moves `now()` forward by `d`.
#[derive(Clone)]
struct FakeClock {
    now: Arc<Mutex<SystemTime>>,
    sleeps: Arc<Mutex<Vec<Duration>>>,
    events: Arc<Mutex<Vec<Ev>>>,
}

impl FakeClock {
    fn new() -> Self {
        Self {
            now: Arc::new(Mutex::new(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            )),
            sleeps: Arc::default(),
            events: Arc::default(),
        }
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }

    fn total_slept(&self) -> Duration {
        self.sleeps().iter().sum()
    }

    /// A mockito body callback that records a failure marker and answers an empty body.
    fn failure_marker(&self) -> impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static {
        let events = Arc::clone(&self.events);
        move |_| {
            events.lock().unwrap().push(Ev::Failed);
            Vec::new()
        }
    }

    /// How long the client waited after each marked failure (the library sleeps in slices, so
    /// the slices between two failures are summed).
    fn waits_after_failures(&self) -> Vec<Duration> {
        let mut waits = Vec::new();
        for ev in self.events.lock().unwrap().iter() {
            match ev {
                Ev::Failed => waits.push(Duration::ZERO),
                Ev::Sleep(d) => {
                    *waits
                        .last_mut()
                        .expect("the client slept before any failure") += *d
                }
            }
        }
        waits
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, d: Duration) {
        self.sleeps.lock().unwrap().push(d);
        self.events.lock().unwrap().push(Ev::Sleep(d));
        *self.now.lock().unwrap() += d;
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl";
const OCTET: &str = "application/offset+octet-stream";

/// Plain creation, no retries, the fake clock.
fn builder(clock: &FakeClock) -> UploaderBuilder {
    Uploader::builder()
        .creation(CreationMode::Plain)
        .retry(RetryPolicy::none())
        .clock(clock.clone())
}

fn wix_metadata(filename: &str, content_type: &str, token: &str) -> Metadata {
    Metadata::new()
        .with("filename", filename)
        .unwrap()
        .with("contentType", content_type)
        .unwrap()
        .with_secret("token", token)
        .unwrap()
}

/// The key an uploader saves a source's record under.
fn key_for(endpoint: &str, source: &Source) -> String {
    format!("{endpoint}\n{}", source.key().expect("source has a key"))
}

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

/// A creation POST without body (plain mode).
fn plain_post(server: &mut ServerGuard, path: &str, length: u64) -> Mock {
    server
        .mock("POST", path)
        .match_header("Tus-Resumable", "1.0.0")
        .match_header("Upload-Length", length.to_string().as_str())
        .match_header("Content-Length", "0")
        .match_header("Content-Type", Matcher::Missing)
        .match_body(Vec::new())
}

/// A PATCH at `offset` carrying exactly `body`.
fn patch(server: &mut ServerGuard, path: &str, offset: u64, body: &[u8]) -> Mock {
    server
        .mock("PATCH", path)
        .match_header("Tus-Resumable", "1.0.0")
        .match_header("Content-Type", OCTET)
        .match_header("Upload-Offset", offset.to_string().as_str())
        .match_header("Content-Length", body.len().to_string().as_str())
        .match_body(body.to_vec())
}

fn head(server: &mut ServerGuard, path: &str) -> Mock {
    server
        .mock("HEAD", path)
        .match_header("Tus-Resumable", "1.0.0")
}

/// `201 Created` with `Location`.
fn created(mock: Mock, location: &str) -> Mock {
    mock.with_status(201)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Location", location)
}

/// `204` with `Upload-Offset`.
fn acked(mock: Mock, offset: u64) -> Mock {
    mock.with_status(204)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Upload-Offset", &offset.to_string())
}

/// A HEAD answer: `200` with `Upload-Offset` and `Upload-Length`.
fn head_at(mock: Mock, offset: u64, length: u64) -> Mock {
    mock.with_status(200)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Upload-Offset", &offset.to_string())
        .with_header("Upload-Length", &length.to_string())
        .with_header("Cache-Control", "no-store")
}

/// The `.json` files in a state directory.
/// The records of unfinished uploads (a finished one is kept, marked, for a while).
fn state_files(dir: &TempDir) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            let rec: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            rec["completed_at"].is_null()
        })
        .collect();
    v.sort();
    v
}

fn file_source(file: &TempFile) -> Source {
    Source::file(file.path()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Upload-Expires
// ---------------------------------------------------------------------------------------------

#[test]
fn nothing_is_sent_into_an_expired_upload() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, _) = temp_file_with(10, 41);
    let clock = FakeClock::new();
    // The server says the upload expired a second before its own `Date`.
    let date = SystemTime::now();
    let post = created(plain_post(&mut server, "/files", 10), "/files/x")
        .with_header("Date", &httpdate::fmt_http_date(date))
        .with_header(
            "Upload-Expires",
            &httpdate::fmt_http_date(date - Duration::from_secs(1)),
        )
        .expect(1)
        .create();
    let none = server.mock("PATCH", "/files/x").expect(0).create();
    let up = builder(&clock).chunk_size(4).build().unwrap();
    let err = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::Expired), "{err:?}");
    assert!(!err.is_retryable());
    post.assert();
    none.assert();
}

/// The finalize response of wix-api.md §4, verbatim.
const FINALIZE_EXAMPLE: &str = r#"{"file": {"id": "2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg", "displayName": "file.jpg",
  "url": "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
  "parentFolderId": "media-root", "hash": "cf96f0567ed967f02bc9580ab8db86be", "sizeInBytes": "15359",
  "private": false, "mediaType": "IMAGE",
  "media": {"image": {"image": {"id": "2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
    "url": "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
    "height": 226, "width": 370, "filename": "file.jpg", "sizeInBytes": "15359"}, "faces": []}},
  "operationStatus": "READY",
  "thumbnailUrl": "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
  "labels": [], "createdDate": "2022-09-11T15:13:24.000Z", "updatedDate": "2022-09-11T15:13:24.000Z"}}"#;

// ---------------------------------------------------------------------------------------------
// 1. Creation and a single PATCH
// ---------------------------------------------------------------------------------------------

#[test]
fn create_then_single_patch() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 1);
    let seen_metadata = Arc::new(Mutex::new(None::<String>));

    let post = {
        let seen = Arc::clone(&seen_metadata);
        created(plain_post(&mut server, "/files", 10), "/files/abc123")
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
    let patch = acked(patch(&mut server, "/files/abc123", 0, &bytes), 10)
        .expect(1)
        .create();

    let clock = FakeClock::new();
    let up = builder(&clock).build().unwrap();
    let meta = wix_metadata("photo one.jpg", "image/jpeg", TOKEN);
    let source = file_source(&file);
    let key = key_for(&endpoint, &source);
    let done = up
        .upload(
            &endpoint,
            source,
            UploadOptions::new().metadata(meta.clone()),
        )
        .unwrap();

    post.assert();
    patch.assert();
    assert_eq!(done.url, format!("{}/files/abc123", server.url()));
    assert_eq!(done.size, 10);
    assert_eq!(done.resumed_from, None);
    assert_eq!(done.metadata, meta);
    // The record is kept marked finished (for a writer waiting for this one), without the token.
    let rec = up.store().load(&key).unwrap().expect("a finished record");
    assert!(rec.completed_at.is_some());
    assert!(rec.metadata.iter().all(|(k, _)| k != "token"), "{rec:?}");

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

// ---------------------------------------------------------------------------------------------
// 2. Chunks
// ---------------------------------------------------------------------------------------------

#[test]
fn chunked_patches_walk_the_file() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 2);
    let post = created(plain_post(&mut server, "/files", 10), "/files/c")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/c", 0, &bytes[0..4]), 4)
        .expect(1)
        .create();
    let p4 = acked(patch(&mut server, "/files/c", 4, &bytes[4..8]), 8)
        .expect(1)
        .create();
    let p8 = acked(patch(&mut server, "/files/c", 8, &bytes[8..10]), 10)
        .expect(1)
        .create();

    let clock = FakeClock::new();
    let up = builder(&clock).chunk_size(4).build().unwrap();
    let mut acks = Vec::new();
    let done = up
        .upload(
            &endpoint,
            file_source(&file),
            UploadOptions::new().progress(|p: Progress| {
                if p.sent == p.acked {
                    acks.push(p.acked);
                }
            }),
        )
        .unwrap();
    for m in [&post, &p0, &p4, &p8] {
        m.assert();
    }
    assert_eq!(done.size, 10);
    assert_eq!(acks, vec![4, 8, 10]);
}

// ---------------------------------------------------------------------------------------------
// 3. Resume from a persisted record, in a new Uploader
// ---------------------------------------------------------------------------------------------

#[test]
fn resume_from_state_dir_with_a_new_uploader() {
    use std::os::unix::fs::PermissionsExt;

    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let upload_url = format!("{}/files/r1", server.url());
    let (file, bytes) = temp_file_with(10, 3);
    let state = TempDir::new("wmu-mockito-state");
    let clock = FakeClock::new();

    // Run 1: the first chunk lands, the second is refused (non-retryable): the record stays.
    let post = created(plain_post(&mut server, "/files", 10), "/files/r1")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/r1", 0, &bytes[0..4]), 4)
        .expect(1)
        .create();
    let p4 = patch(&mut server, "/files/r1", 4, &bytes[4..8])
        .with_status(400)
        .expect(1)
        .create();
    let first = builder(&clock)
        .chunk_size(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    let source = file_source(&file);
    let key = key_for(&endpoint, &source);
    let err = first
        .upload(
            &endpoint,
            source,
            UploadOptions::new().metadata(wix_metadata("r.bin", "application/octet-stream", TOKEN)),
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    post.assert();
    p0.assert();
    p4.assert();
    drop(first);

    let files = state_files(&state);
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let rec = DirStore::new(state.path())
        .unwrap()
        .load(&key)
        .unwrap()
        .expect("record kept");
    assert_eq!(
        (rec.upload_url.as_str(), rec.offset),
        (upload_url.as_str(), 4)
    );

    // Run 2: a new uploader finds the record; the server says it has 6 bytes.
    server.reset();
    let no_post = server.mock("POST", Matcher::Any).expect(0).create();
    let head = head_at(head(&mut server, "/files/r1"), 6, 10)
        .expect(1)
        .create();
    let p6 = acked(patch(&mut server, "/files/r1", 6, &bytes[6..10]), 10)
        .expect(1)
        .create();
    let second = builder(&clock)
        .chunk_size(4)
        .state_dir(state.path())
        .build()
        .unwrap();
    // No metadata given: the record's is used.
    let done = second
        .upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap();
    no_post.assert();
    head.assert();
    p6.assert();
    assert_eq!(done.resumed_from, Some(6));
    assert_eq!(done.url, upload_url);
    assert_eq!(done.metadata.get("filename"), Some("r.bin"));
    assert_eq!(done.metadata.get("token"), Some(TOKEN));
    assert!(state_files(&state).is_empty(), "record removed on success");
}

// ---------------------------------------------------------------------------------------------
// 4. 404 on resume: a new upload replaces the record
// ---------------------------------------------------------------------------------------------

#[test]
fn gone_on_resume_creates_a_new_upload() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 4);
    let state = TempDir::new("wmu-mockito-state");
    let source = file_source(&file);
    let key = key_for(&endpoint, &source);
    let store = DirStore::new(state.path()).unwrap();
    let mut old = Record::new(
        key.clone(),
        endpoint.clone(),
        format!("{}/files/old", server.url()),
        Some(10),
    );
    old.offset = 4;
    old.created_at = 1_700_000_000;
    old.metadata = vec![
        ("filename".into(), Secret::new("old.bin")),
        ("token".into(), Secret::new("OLD-TOKEN")),
    ];
    old.secret_keys = vec!["token".into()];
    store.save(&old).unwrap();

    let new_meta = wix_metadata("new.bin", "application/octet-stream", "NEW-TOKEN");
    let head = head(&mut server, "/files/old")
        .with_status(404)
        .expect(1)
        .create();
    let post = created(plain_post(&mut server, "/files", 10), "/files/new")
        .match_header("Upload-Metadata", new_meta.encode().as_str())
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/new", 0, &bytes), 10)
        .expect(1)
        .create();
    let no_old_patch = server.mock("PATCH", "/files/old").expect(0).create();

    let clock = FakeClock::new();
    let up = builder(&clock).state_dir(state.path()).build().unwrap();
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
    assert_eq!(done.url, format!("{}/files/new", server.url()));
    assert_eq!(done.metadata, new_meta);

    let rec = store.load(&key).unwrap().expect("record of the new upload");
    assert_eq!(rec.upload_url, format!("{}/files/new", server.url()));
    assert_eq!(rec.offset, 10);
    assert_eq!(
        rec.metadata
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.expose()),
        Some("NEW-TOKEN")
    );
    assert_eq!(state_files(&state).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 5. 409: HEAD, then continue from the server's offset
// ---------------------------------------------------------------------------------------------

#[test]
fn conflict_heads_then_continues() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 5);
    let post = created(plain_post(&mut server, "/files", 10), "/files/k")
        .expect(1)
        .create();
    let p0 = patch(&mut server, "/files/k", 0, &bytes)
        .with_status(409)
        .with_header("Tus-Resumable", "1.0.0")
        .expect(1)
        .create();
    let head = head_at(head(&mut server, "/files/k"), 3, 10)
        .expect(1)
        .create();
    let p3 = acked(patch(&mut server, "/files/k", 3, &bytes[3..]), 10)
        .expect(1)
        .create();

    let clock = FakeClock::new();
    let up = builder(&clock)
        .retry(RetryPolicy::from_millis(&[0]))
        .build()
        .unwrap();
    let done = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap();
    for m in [&post, &p0, &head, &p3] {
        m.assert();
    }
    assert_eq!(done.size, 10);
    assert_eq!(done.resumed_from, None);
}

// ---------------------------------------------------------------------------------------------
// 6. 503: retried with the policy's delays; permanent 503 gives up
// ---------------------------------------------------------------------------------------------

#[test]
fn service_unavailable_is_retried_with_the_policy_delays() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 6);
    let clock = FakeClock::new();
    let post = created(plain_post(&mut server, "/files", 10), "/files/u")
        .expect(1)
        .create();
    let unavailable = patch(&mut server, "/files/u", 0, &bytes)
        .with_status(503)
        .with_body_from_request(clock.failure_marker())
        .expect(2)
        .create();
    let head = head_at(head(&mut server, "/files/u"), 0, 10)
        .expect(2)
        .create();
    let ok = acked(patch(&mut server, "/files/u", 0, &bytes), 10)
        .expect(1)
        .create();

    let up = builder(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    let done = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap();
    for m in [&post, &unavailable, &head, &ok] {
        m.assert();
    }
    assert_eq!(done.size, 10);
    assert_eq!(
        clock.waits_after_failures(),
        vec![Duration::ZERO, Duration::from_secs(3)]
    );
    assert_eq!(clock.total_slept(), Duration::from_secs(3));
}

#[test]
fn permanent_service_unavailable_gives_up_after_every_delay() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 7);
    let clock = FakeClock::new();
    let post = created(plain_post(&mut server, "/files", 10), "/files/p")
        .expect(1)
        .create();
    let unavailable = patch(&mut server, "/files/p", 0, &bytes)
        .with_status(503)
        .with_body_from_request(clock.failure_marker())
        .expect(4)
        .create();
    let head = head_at(head(&mut server, "/files/p"), 0, 10)
        .expect(3)
        .create();

    let up = builder(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    let err = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
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

// ---------------------------------------------------------------------------------------------
// 7. 400 is final
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_request_is_not_retried() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, _) = temp_file_with(10, 8);
    let body = r#"{"message":"bad upload","details":{"applicationError":{"code":"INVALID_TOKEN","description":"the token is not valid"}}}"#;
    let post = plain_post(&mut server, "/files", 10)
        .with_status(400)
        .with_header("Content-Type", "application/json")
        .with_body(body)
        .expect(1)
        .create();
    let no_patch = server.mock("PATCH", Matcher::Any).expect(0).create();
    let no_head = server.mock("HEAD", Matcher::Any).expect(0).create();

    let clock = FakeClock::new();
    let up = builder(&clock)
        .retry(RetryPolicy::from_millis(&[0, 3000, 5000]))
        .build()
        .unwrap();
    let err = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
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

// ---------------------------------------------------------------------------------------------
// 8. Retry-After
// ---------------------------------------------------------------------------------------------

#[test]
fn retry_after_is_honoured() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 9);
    let clock = FakeClock::new();
    let limited = plain_post(&mut server, "/files", 10)
        .with_status(429)
        .with_header("Retry-After", "7")
        .with_body_from_request(clock.failure_marker())
        .expect(1)
        .create();
    let post = created(plain_post(&mut server, "/files", 10), "/files/ra")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/ra", 0, &bytes), 10)
        .expect(1)
        .create();

    let up = builder(&clock)
        .retry(RetryPolicy::from_millis(&[0]))
        .build()
        .unwrap();
    up.upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap();
    limited.assert();
    post.assert();
    p0.assert();
    assert_eq!(clock.waits_after_failures(), vec![Duration::from_secs(7)]);
    assert_eq!(clock.total_slept(), Duration::from_secs(7));
}

// ---------------------------------------------------------------------------------------------
// 9. Finalize
// ---------------------------------------------------------------------------------------------

fn assert_example_descriptor(file: &wix_media_upload::wix::FileDescriptor) {
    assert_eq!(
        file.id.as_deref(),
        Some("2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg")
    );
    assert_eq!(file.size_in_bytes, Some(15359));
    assert_eq!(file.media_type, Some(MediaType::Image));
    assert_eq!(file.operation_status, Some(OperationStatus::Ready));
    assert_eq!(file.display_name.as_deref(), Some("file.jpg"));
    assert_eq!(file.parent_folder_id.as_deref(), Some("media-root"));
    assert_eq!(file.private, Some(false));
}

#[test]
fn finalize_puts_to_the_token_url_and_parses_the_example() {
    let mut server = Server::new();
    let put = server
        .mock(
            "PUT",
            format!("/upload/tus/{TOKEN}?filename=file%20name.jpg").as_str(),
        )
        .match_header("Content-Type", "application/json")
        .match_header("Content-Length", "2")
        .match_body(Matcher::Exact("{}".into()))
        .with_status(200)
        .with_header("Content-Type", "application/json")
        .with_body(FINALIZE_EXAMPLE)
        .expect(1)
        .create();
    let uploader = Uploader::new().unwrap();
    let file = wix_media_upload::wix::finalize(
        &uploader,
        &format!("{}/upload/tus", server.url()),
        &Secret::new(TOKEN),
        Some("file name.jpg"),
    )
    .unwrap();
    put.assert();
    assert_example_descriptor(&file);
}

#[test]
fn upload_to_wix_uploads_and_finalizes() {
    let mut server = Server::new();
    let (file, bytes) = temp_file_with(10, 10);
    let response: GenerateUploadUrlResponse = serde_json::from_value(serde_json::json!({
        "uploadProtocol": "TUS",
        "uploadUrl": format!("{}/upload/tus", server.url()),
        "uploadToken": TOKEN,
    }))
    .unwrap();
    let target = ResumableTarget::new(response, Some("photo 1.jpg".into()), "image/jpeg");
    let meta = wix_metadata("photo 1.jpg", "image/jpeg", TOKEN);
    let post = created(
        plain_post(&mut server, "/upload/tus", 10),
        "/upload/tus/up-1",
    )
    .match_header("Upload-Metadata", meta.encode().as_str())
    .expect(1)
    .create();
    let p0 = acked(patch(&mut server, "/upload/tus/up-1", 0, &bytes), 10)
        .expect(1)
        .create();
    let put = server
        .mock(
            "PUT",
            format!("/upload/tus/{TOKEN}?filename=photo%201.jpg").as_str(),
        )
        .match_header("Content-Type", "application/json")
        .match_body(Matcher::Exact("{}".into()))
        .with_status(200)
        .with_body(FINALIZE_EXAMPLE)
        .expect(1)
        .create();

    let clock = FakeClock::new();
    let up = builder(&clock).build().unwrap();
    let source = file_source(&file);
    let key = key_for(&target.upload_url, &source);
    let descriptor = wix::upload(&up, &target, source, UploadOptions::new())
        .unwrap()
        .file;
    post.assert();
    p0.assert();
    put.assert();
    assert_example_descriptor(&descriptor);
    assert_eq!(up.store().load(&key).unwrap(), None, "record removed");
}

// ---------------------------------------------------------------------------------------------
// 10. Wix error bodies
// ---------------------------------------------------------------------------------------------

#[test]
fn finalize_errors_carry_the_wix_body() {
    let mut server = Server::new();
    let validation = r#"{"message":"INVALID_ARGUMENT: file size is zero","details":{"validationError":{"fieldViolations":[{"field":"sizeInBytes","description":"must be positive","violatedRule":"OTHER","ruleName":"ZERO_FILE_SIZE"}]}}}"#;
    let not_found = r#"{"message":"upload not found","details":{"applicationError":{"code":"UPLOAD_NOT_FOUND","description":"no upload for this token","data":{}}}}"#;
    let bad = server
        .mock("PUT", "/upload/tus/tok-400?filename=empty.txt")
        .with_status(400)
        .with_header("Content-Type", "application/json")
        .with_body(validation)
        .expect(1)
        .create();
    let missing = server
        .mock("PUT", "/upload/tus/tok-404?filename=gone.txt")
        .with_status(404)
        .with_header("Content-Type", "application/json")
        .with_body(not_found)
        .expect(1)
        .create();
    let uploader = Uploader::new().unwrap();
    let base = format!("{}/upload/tus", server.url());

    let err = wix_media_upload::wix::finalize(
        &uploader,
        &base,
        &Secret::new("tok-400"),
        Some("empty.txt"),
    )
    .unwrap_err();
    bad.assert();
    assert!(
        matches!(
            err,
            Error::Status {
                status: 400,
                ref request,
                ..
            } if request.method() == "PUT"
        ),
        "{err:?}"
    );
    let wix = err.wix().expect("wix body");
    assert_eq!(wix.message, "INVALID_ARGUMENT: file size is zero");
    assert!(wix.has_rule("ZERO_FILE_SIZE"));
    assert_eq!(
        wix.field_violations[0].field.as_deref(),
        Some("sizeInBytes")
    );
    assert_eq!(err.wix_code(), None);
    let shown = err.to_string();
    assert!(
        shown.contains("INVALID_ARGUMENT: file size is zero"),
        "{shown}"
    );
    assert!(shown.contains("ZERO_FILE_SIZE"), "{shown}");
    assert!(shown.contains("400"), "{shown}");
    assert!(!shown.contains("tok-400"), "{shown}");

    let err = wix_media_upload::wix::finalize(
        &uploader,
        &base,
        &Secret::new("tok-404"),
        Some("gone.txt"),
    )
    .unwrap_err();
    missing.assert();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err:?}");
    assert_eq!(err.wix_code(), Some("UPLOAD_NOT_FOUND"));
    assert_eq!(
        err.wix().unwrap().description.as_deref(),
        Some("no upload for this token")
    );
    let shown = err.to_string();
    assert!(shown.contains("upload not found"), "{shown}");
    assert!(shown.contains("UPLOAD_NOT_FOUND"), "{shown}");
    assert!(!shown.contains("tok-404"), "{shown}");
    assert!(!format!("{err:?}").contains("tok-404"));
}

// ---------------------------------------------------------------------------------------------
// 12. Redirects
// ---------------------------------------------------------------------------------------------

#[test]
fn redirects_are_not_followed() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 12);
    let post = created(plain_post(&mut server, "/files", 10), "/files/rd")
        .expect(1)
        .create();
    let redirect = patch(&mut server, "/files/rd", 0, &bytes)
        .with_status(307)
        .with_header("Location", "/elsewhere/rd")
        .expect(1)
        .create();
    let target_patch = server.mock("PATCH", "/elsewhere/rd").expect(0).create();
    let target_get = server.mock("GET", "/elsewhere/rd").expect(0).create();

    let clock = FakeClock::new();
    let up = builder(&clock).build().unwrap();
    let err = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap_err();
    post.assert();
    redirect.assert();
    target_patch.assert();
    target_get.assert();
    assert_eq!(err.status(), Some(307), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// 13. Abort
// ---------------------------------------------------------------------------------------------

#[test]
fn abort_from_progress_stops_and_keeps_the_record() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 13);
    let post = created(plain_post(&mut server, "/files", 10), "/files/ab")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/ab", 0, &bytes[0..4]), 4)
        .expect(1)
        .create();
    let no_more = server.mock("PATCH", Matcher::Any).expect(0).create();

    let clock = FakeClock::new();
    let up = builder(&clock).chunk_size(4).build().unwrap();
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    let source = file_source(&file);
    let key = key_for(&endpoint, &source);
    let err = up
        .upload(
            &endpoint,
            source,
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
    let rec = up.store().load(&key).unwrap().expect("record kept");
    assert_eq!(rec.offset, 4);
    assert_eq!(rec.upload_url, format!("{}/files/ab", server.url()));
}

// ---------------------------------------------------------------------------------------------
// 14. OPTIONS (auto mode)
// ---------------------------------------------------------------------------------------------

#[test]
fn auto_mode_sends_the_first_chunk_with_the_post() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 14);
    let options = server
        .mock("OPTIONS", "/files")
        .match_header("Tus-Resumable", Matcher::Missing)
        .with_status(204)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Tus-Version", "1.0.0")
        .with_header("Tus-Extension", "creation,creation-with-upload,termination")
        .expect(1)
        .create();
    let post = server
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
    let p4 = acked(patch(&mut server, "/files/cwu", 4, &bytes[4..8]), 8)
        .expect(1)
        .create();
    let p8 = acked(patch(&mut server, "/files/cwu", 8, &bytes[8..10]), 10)
        .expect(1)
        .create();
    let no_head = server.mock("HEAD", Matcher::Any).expect(0).create();

    let clock = FakeClock::new();
    let up = builder(&clock)
        .creation(CreationMode::Auto)
        .chunk_size(4)
        .build()
        .unwrap();
    let done = up
        .upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap();
    for m in [&options, &post, &p4, &p8, &no_head] {
        m.assert();
    }
    assert_eq!(done.url, format!("{}/files/cwu", server.url()));
}

#[test]
fn auto_mode_without_options_support_posts_plainly() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let (file, bytes) = temp_file_with(10, 15);
    let options = server
        .mock("OPTIONS", "/files")
        .with_status(404)
        .expect(1)
        .create();
    let post = created(plain_post(&mut server, "/files", 10), "/files/np")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/np", 0, &bytes), 10)
        .expect(1)
        .create();

    let clock = FakeClock::new();
    let up = builder(&clock)
        .creation(CreationMode::Auto)
        .build()
        .unwrap();
    up.upload(&endpoint, file_source(&file), UploadOptions::new())
        .unwrap();
    options.assert();
    post.assert();
    p0.assert();
}

// ---------------------------------------------------------------------------------------------
// 15. Streams
// ---------------------------------------------------------------------------------------------

/// A reader that cannot seek and counts what was read from it.
struct CountingReader {
    inner: Cursor<Vec<u8>>,
    read: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn stream(bytes: &[u8]) -> (Source, Arc<AtomicU64>) {
    let read = Arc::new(AtomicU64::new(0));
    let reader = CountingReader {
        inner: Cursor::new(bytes.to_vec()),
        read: Arc::clone(&read),
    };
    (Source::stream(reader, bytes.len() as u64), read)
}

#[test]
fn stream_chunks_are_sent_in_order() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let bytes = crate::support::pseudo_random_bytes(10, 16);
    let post = created(plain_post(&mut server, "/files", 10), "/files/s")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/s", 0, &bytes[0..4]), 4)
        .expect(1)
        .create();
    let p4 = acked(patch(&mut server, "/files/s", 4, &bytes[4..8]), 8)
        .expect(1)
        .create();
    let p8 = acked(patch(&mut server, "/files/s", 8, &bytes[8..10]), 10)
        .expect(1)
        .create();

    let clock = FakeClock::new();
    let up = builder(&clock).chunk_size(4).build().unwrap();
    let (source, read) = stream(&bytes);
    let done = up.upload(&endpoint, source, UploadOptions::new()).unwrap();
    for m in [&post, &p0, &p4, &p8] {
        m.assert();
    }
    assert_eq!(done.size, 10);
    assert_eq!(
        up.resume_key(&endpoint, &Source::stream(std::io::empty(), 10)),
        None
    );
    assert_eq!(read.load(Ordering::Relaxed), 10);
}

#[test]
fn stream_chunk_is_resent_from_the_buffer_after_a_failure() {
    let mut server = Server::new();
    let endpoint = format!("{}/files", server.url());
    let bytes = crate::support::pseudo_random_bytes(10, 17);
    let clock = FakeClock::new();
    let post = created(plain_post(&mut server, "/files", 10), "/files/sr")
        .expect(1)
        .create();
    let p0 = acked(patch(&mut server, "/files/sr", 0, &bytes[0..4]), 4)
        .expect(1)
        .create();
    let p4_fail = patch(&mut server, "/files/sr", 4, &bytes[4..8])
        .with_status(503)
        .with_body_from_request(clock.failure_marker())
        .expect(1)
        .create();
    let head = head_at(head(&mut server, "/files/sr"), 4, 10)
        .expect(1)
        .create();
    let p4_ok = acked(patch(&mut server, "/files/sr", 4, &bytes[4..8]), 8)
        .expect(1)
        .create();
    let p8 = acked(patch(&mut server, "/files/sr", 8, &bytes[8..10]), 10)
        .expect(1)
        .create();

    let up = builder(&clock)
        .chunk_size(4)
        .retry(RetryPolicy::from_millis(&[250]))
        .build()
        .unwrap();
    let (source, read) = stream(&bytes);
    up.upload(&endpoint, source, UploadOptions::new()).unwrap();
    for m in [&post, &p0, &p4_fail, &head, &p4_ok, &p8] {
        m.assert();
    }
    // Each byte was read from the stream once: the retry came from the buffer.
    assert_eq!(read.load(Ordering::Relaxed), 10);
    assert_eq!(
        clock.waits_after_failures(),
        vec![Duration::from_millis(250)]
    );
}
