//! The upload token never reaches a log line, an error text or a `Debug` dump.
//!
//! This file is a test binary of its own on purpose: it sets the process-wide log level to
//! trace and checks every line logged in its process (the log capture of testkit/src/logs.rs).
//! Its tests take turns (`SERIAL`) because each sets the level and reads the captured lines.

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use mockito::{Matcher, Server};
use wix_media_testkit::clock::ManualClock;
use wix_media_testkit::logs::{capture_at, lines};
use wix_media_testkit::{TempDir, temp_file_with};
use wix_media_tus::Metadata;
use wix_media_upload::wix::{self, ResumableTarget};
use wix_media_upload::{Clock, CreationMode, Error, RetryPolicy, Source, UploadOptions, Uploader};

const TOKEN: &str = "TOKEN-abc123-SECRET";

static SERIAL: Mutex<()> = Mutex::new(());

/// The testkit's manual clock as the uploader's: retries wait no real time.
#[derive(Clone, Default)]
struct NoWait(ManualClock);

impl Clock for NoWait {
    fn now(&self) -> std::time::SystemTime {
        self.0.now()
    }

    fn sleep(&self, d: Duration) {
        self.0.sleep(d);
    }
}

/// The token and the forms it takes on the wire.
fn forbidden() -> Vec<String> {
    vec![
        TOKEN.to_owned(),
        STANDARD.encode(TOKEN),
        STANDARD_NO_PAD.encode(TOKEN),
        URL_SAFE_NO_PAD.encode(TOKEN),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for f in forbidden() {
        assert!(!text.contains(&f), "{what} shows the token ({f}): {text}");
    }
}

/// The client's log lines: everything but the mock server's own (target `mockito`), which is
/// the test's fake Wix, not the SDK.
fn client_lines() -> Vec<(String, log::Level, String)> {
    lines()
        .iter()
        .filter(|l| !l.target.starts_with("mockito"))
        .map(|l| (l.target.clone(), l.level, l.text.clone()))
        .collect()
}

/// The client's log lines of a [`scenario`] run with the log level at `level` (in its turn:
/// the level and the captured lines are the whole process's).
fn scenario_lines_at(level: log::LevelFilter) -> Vec<(String, log::Level, String)> {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    capture_at(level);
    scenario();
    client_lines()
}

/// Asserts that none of these (target, level, text) log lines shows the token.
fn assert_lines_clean<'a>(lines: impl IntoIterator<Item = &'a (String, log::Level, String)>) {
    for (target, level, text) in lines {
        assert_clean(&format!("log line [{level} {target}]"), text);
    }
}

/// An `upload_to_wix` whose PATCH is retried once and whose finalize fails with 404, then a plain
/// upload with the token in its metadata. Checks every `Display`/`Debug` on the way.
fn scenario() {
    let mut server = Server::new();
    let (file, bytes) = temp_file_with(10, 11);
    let upload_url = format!("{}/upload/tus", server.url());
    let target = ResumableTarget::new(upload_url, TOKEN, Some("photo.jpg".into()), "image/jpeg");

    // Creation (twice: the Wix upload and the plain one), a 503 (retried, logged at warn), HEAD,
    // PATCH (twice).
    let created = server
        .mock("POST", "/upload/tus")
        .match_header("Upload-Metadata", Matcher::Regex(STANDARD.encode(TOKEN)));
    let post = created
        .with_status(201)
        .with_header("Location", "/upload/tus/u1")
        .expect(2)
        .create();
    let unavailable = server
        .mock("PATCH", "/upload/tus/u1")
        .match_body(bytes.clone())
        .with_status(503)
        .with_body(r#"{"message":"try later","details":{}}"#)
        .expect(1)
        .create();
    let head = server
        .mock("HEAD", "/upload/tus/u1")
        .with_status(200)
        .with_header("Upload-Offset", "0")
        .with_header("Upload-Length", "10")
        .expect(1)
        .create();
    let patched = server
        .mock("PATCH", "/upload/tus/u1")
        .match_body(bytes.clone());
    let patch = patched
        .with_status(204)
        .with_header("Upload-Offset", "10")
        .expect(2)
        .create();
    let finalize = server
        .mock("PUT", format!("/upload/tus/{TOKEN}?filename=photo.jpg").as_str())
        .with_status(404)
        .with_header("Content-Type", "application/json")
        .with_body(r#"{"message":"upload not found","details":{"applicationError":{"code":"UPLOAD_NOT_FOUND","description":"gone"}}}"#)
        .expect(1)
        .create();

    let clock = NoWait::default();
    let state = TempDir::new("wmu-secrets-state");
    let uploader = Uploader::builder()
        .state_dir(state.path())
        .creation(CreationMode::Plain)
        .retry(RetryPolicy::from_millis(&[1000]))
        .clock(clock.clone())
        .build()
        .unwrap();
    let source = Source::file(file.path()).unwrap();
    let err = wix::upload(&uploader, &target, source, UploadOptions::new()).unwrap_err();
    unavailable.assert();
    head.assert();
    finalize.assert();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err:?}");
    assert_eq!(
        err.wix().and_then(|w| w.code).as_deref(),
        Some("UPLOAD_NOT_FOUND")
    );
    let shown = err.to_string();
    assert!(shown.contains("upload not found"), "{shown}");
    assert!(shown.contains("UPLOAD_NOT_FOUND"), "{shown}");
    assert!(shown.contains("***"), "the URL is masked: {shown}");
    assert_clean("the finalize error's Display", &shown);
    assert_clean("the finalize error's Debug", &format!("{err:?} {err:#?}"));
    assert_eq!(
        clock.0.slept(),
        Duration::from_secs(1),
        "the 503 was retried"
    );

    // The record of the finished but unfinalized upload is kept, and holds the token (its
    // file is private; that `Debug` of a record masks it is a unit test of the store).
    let kept = wix_media_testkit::state::records(state.path());
    assert_eq!(kept.len(), 1, "{kept:?}");
    let json = &kept[0].1;
    assert_eq!(
        json["endpoint"].as_str(),
        Some(target.upload_url.as_str()),
        "{json}"
    );
    let pairs = json["metadata"].as_array().expect("metadata pairs");
    assert!(
        pairs.contains(&serde_json::json!(["token", TOKEN])),
        "{json}"
    );

    // A plain upload with the token in its metadata.
    let meta = Metadata::new()
        .with("filename", "photo.jpg")
        .unwrap()
        .with_secret("token", TOKEN)
        .unwrap();
    let options = UploadOptions::new()
        .metadata("filename", "photo.jpg")
        .secret_metadata("token", TOKEN);
    assert_clean("UploadOptions' Debug", &format!("{options:?} {options:#?}"));
    let (file2, _) = temp_file_with(10, 11);
    let done = uploader
        .upload(
            &target.upload_url,
            Source::file(file2.path()).unwrap(),
            options,
        )
        .unwrap();
    post.assert();
    patch.assert();
    assert_eq!(done.metadata("token"), Some(TOKEN));
    assert_clean("Uploaded's Debug", &format!("{done:?} {done:#?}"));
    assert_clean("Metadata's Debug", &format!("{meta:?} {meta:#?}"));
    assert_clean(
        "ResumableTarget's Debug",
        &format!("{target:?} {target:#?}"),
    );
    assert_clean("Uploader's Debug", &format!("{uploader:?} {uploader:#?}"));
}

/// At trace level: errors, `Debug` output and every line this crate logs are clean.
#[test]
fn the_token_stays_out_of_logs_errors_and_debug_output() {
    let lines = scenario_lines_at(log::LevelFilter::Trace);
    let ours: Vec<_> = lines
        .iter()
        .filter(|(target, ..)| target.starts_with("wix_media_upload"))
        .collect();
    assert!(
        ours.iter().any(|(_, _, text)| text.contains("PUT")),
        "the crate logged the finalize: {ours:?}"
    );
    assert!(
        ours.iter()
            .any(|(_, level, text)| *level == log::Level::Warn && text.contains("503")),
        "the crate logged the retry: {ours:?}"
    );
    assert_lines_clean(ours);
}

/// At debug level every component's lines are clean, ureq's included (it masks paths below
/// trace).
#[test]
fn debug_logs_of_every_component_are_clean() {
    let lines = scenario_lines_at(log::LevelFilter::Debug);
    assert!(
        lines.iter().any(|(target, ..)| target.starts_with("ureq")),
        "ureq's lines were captured: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(target, ..)| target.starts_with("wix_media_upload"))
    );
    assert_lines_clean(&lines);
}

/// At trace level every component's lines are clean. They are not: ureq prints the whole
/// request URI once `trace` is enabled for it, and the finalize URI holds the token.
#[test]
#[ignore = "BUG (via ureq): with trace logging on for ureq, ureq::run logs the finalize URI \
            `PUT …/upload/tus/<token>?filename=…` unmasked"]
fn trace_logs_of_every_component_are_clean() {
    let lines = scenario_lines_at(log::LevelFilter::Trace);
    assert!(lines.iter().any(|(target, ..)| target.starts_with("ureq")));
    assert_lines_clean(&lines);
}
