//! Exactly one Media Manager file per source when answers are lost: an [`AnswerRelay`] between
//! the client and the emulator forwards each request whole, lets the emulator act, and then
//! drops the answer of a kind of request (generate, the simple PUT, finalize, the final PATCH,
//! import), or swallows the request itself. Files are counted by content (the emulator's
//! `hash` is the MD5 of the stored bytes). Also: no request is added on the happy path, and
//! Wix's `hash` is checked against the source's MD5.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::emulator::{Emu, md5_hex};
use wix_media_testkit::proxy::answers::{AnswerRelay, Fate, Kind, Rule};
use wix_media_testkit::raw_server::file_server;
use wix_media_upload::wix::{FileDescriptor, FileUpload, ImportFileRequest, Route, WixClient};
use wix_media_upload::{Credentials, Error, RetryPolicy, Uploader};

use crate::support::{EmuExt, TempDir, pseudo_random_bytes};

/// An emulator behind a relay that loses answers by `rules`.
struct Lossy {
    emu: Emu,
    relay: AnswerRelay,
    state: TempDir,
}

impl Lossy {
    fn new(config: EmulatorConfig, rules: Vec<Rule>) -> Lossy {
        let emu = Emu::with(config);
        let relay = AnswerRelay::to_url(emu.emu.base_url(), rules, 0x1057);
        Lossy {
            emu,
            relay,
            state: TempDir::new("wmu-lost"),
        }
    }

    /// A client through the relay (quick retries, a state dir, a list lag bound of `lag`).
    fn client(&self, lag: Duration) -> WixClient {
        let creds = Credentials::site(wix_media_testkit::emulator::API_KEY, "site-1")
            .with_api_base(self.relay.base_url());
        let uploader = Uploader::builder()
            .retry(RetryPolicy::from_millis(&[0, 100, 200]))
            .state_dir(self.state.path());
        WixClient::builder(creds)
            .uploader(uploader)
            .simple_below(1 << 20)
            .list_lag(lag)
            .build()
            .unwrap()
    }

    /// A file named `name` of `len` pseudo-random bytes, and its MD5.
    fn file(&self, name: &str, len: usize) -> (PathBuf, String) {
        let bytes = pseudo_random_bytes(len, len as u64 ^ 0xf11e);
        let path = self.emu.dir().join(name);
        std::fs::write(&path, &bytes).unwrap();
        (path, md5_hex(&bytes))
    }

    /// The emulator's files holding the bytes of MD5 `md5`.
    fn files_with(&self, md5: &str) -> Vec<String> {
        self.emu
            .emu
            .files()
            .iter()
            .filter(|f| f["hash"] == md5)
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// Asserts that exactly one file holds the bytes of `md5`, and that it is `file`.
    fn assert_one(&self, md5: &str, file: &FileDescriptor) {
        let ids = self.files_with(md5);
        assert_eq!(ids.len(), 1, "{ids:?}; {:#?}", self.relay.exchanges());
        assert_eq!(file.id.as_deref(), Some(ids[0].as_str()));
    }

    /// Requests per route the emulator answered, without the zero ones.
    fn counts(&self) -> BTreeMap<String, u64> {
        let counts = self.emu.emu.route_counts();
        counts.into_iter().filter(|(_, n)| *n > 0).collect()
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const LAG: Duration = Duration::from_secs(5);

#[test]
fn a_lost_answer_of_each_creating_request_leaves_one_file() {
    let cases = [
        (Kind::SimplePut, Route::Simple, 20_000),
        (Kind::SimplePut, Route::Auto, 20_000),
        (Kind::Generate, Route::Simple, 20_000),
        (Kind::Generate, Route::Resumable, 20_000),
        (Kind::Finalize, Route::Resumable, 2 << 20),
        (Kind::FinalPatch, Route::Resumable, 2 << 20),
    ];
    for (kind, route, len) in cases {
        let wix = Lossy::new(
            EmulatorConfig::new(),
            vec![Rule::first(kind, 1, Fate::Dropped)],
        );
        let (path, md5) = wix.file("lost.bin", len);
        let done = wix
            .client(LAG)
            .upload_with(&path, FileUpload::new().route(route))
            .unwrap_or_else(|e| panic!("{kind:?} {route:?}: {e}"));
        assert_eq!(
            wix.relay.count(kind, Fate::Dropped),
            1,
            "{kind:?} {route:?}"
        );
        wix.assert_one(&md5, &done.file);
        assert_eq!(done.content_md5.as_deref(), Some(md5.as_str()));
        // A lost answer of a request that creates the file is never followed by a second one.
        if matches!(kind, Kind::SimplePut | Kind::Finalize) {
            assert_eq!(
                wix.relay.count(kind, Fate::Relayed),
                0,
                "{kind:?} {route:?}"
            );
        }
        // The auto route keeps to the simple one: a lost answer is no refused body.
        if route == Route::Auto {
            assert_eq!(done.route, Route::Simple);
        }
    }
}

#[test]
fn every_simple_put_answer_lost_still_makes_one_file() {
    let rules = vec![Rule::chance(Kind::SimplePut, 1.0, Fate::Dropped)];
    let wix = Lossy::new(EmulatorConfig::new(), rules);
    let (path, md5) = wix.file("always.png", 30_000);
    let done = wix.client(LAG).upload(&path).unwrap();
    wix.assert_one(&md5, &done);
    assert_eq!(wix.counts().get("PUT simple-upload"), Some(&1));
}

#[test]
fn a_file_late_in_the_listings_is_waited_for() {
    let config = EmulatorConfig::new().list_lag(Duration::from_secs(2));
    let rules = vec![Rule::first(Kind::SimplePut, 1, Fate::Dropped)];
    let wix = Lossy::new(config, rules);
    let (path, md5) = wix.file("late.png", 10_000);
    let done = wix.client(Duration::from_secs(20)).upload(&path).unwrap();
    wix.assert_one(&md5, &done);
    // The folder was read more than once before the file showed.
    assert!(wix.counts()["GET list-files"] >= 2, "{:?}", wix.counts());
}

#[test]
fn a_request_that_never_arrived_is_sent_again_after_the_lag_bound() {
    let rules = vec![Rule::first(Kind::SimplePut, 1, Fate::Swallowed)];
    let wix = Lossy::new(EmulatorConfig::new(), rules);
    let (path, md5) = wix.file("again.png", 10_000);
    let done = wix.client(Duration::from_secs(1)).upload(&path).unwrap();
    wix.assert_one(&md5, &done);
    assert_eq!(wix.relay.count(Kind::SimplePut, Fate::Swallowed), 1);
    assert_eq!(wix.counts()["PUT simple-upload"], 1);
    assert_eq!(wix.counts()["POST generate-upload-url"], 2);
    assert!(wix.counts()["GET list-files"] >= 1);
}

#[test]
fn a_lost_import_answer_leaves_one_import() {
    let source = file_server(pseudo_random_bytes(5000, 9), "image/png");
    let url = source.url("/pic.png");
    let rules = vec![Rule::first(Kind::Import, 1, Fate::Dropped)];
    let wix = Lossy::new(EmulatorConfig::new(), rules);
    let file = wix
        .client(LAG)
        .import(&ImportFileRequest::new(&url).display_name("pic.png"))
        .unwrap();
    let imports: Vec<_> = wix
        .emu
        .emu
        .files()
        .into_iter()
        .filter(|f| f["sourceUrl"] == url.as_str())
        .collect();
    assert_eq!(imports.len(), 1, "{imports:?}");
    assert_eq!(file.id.as_deref(), imports[0]["id"].as_str());
    assert_eq!(wix.counts()["POST import"], 1);
}

#[test]
fn a_lost_bulk_import_answer_sends_again_only_what_did_not_land() {
    let source = file_server(pseudo_random_bytes(3000, 10), "image/png");
    let urls: Vec<String> = (0..3).map(|i| source.url(&format!("/p{i}.png"))).collect();
    let requests: Vec<_> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| ImportFileRequest::new(u).display_name(format!("p{i}.png")))
        .collect();
    for fate in [Fate::Dropped, Fate::Swallowed] {
        let wix = Lossy::new(
            EmulatorConfig::new(),
            vec![Rule::first(Kind::Import, 1, fate)],
        );
        let results = wix
            .client(Duration::from_secs(1))
            .import_many(&requests)
            .unwrap();
        let files = wix.emu.emu.files();
        for (url, result) in urls.iter().zip(&results) {
            let imports: Vec<_> = files
                .iter()
                .filter(|f| f["sourceUrl"] == url.as_str())
                .collect();
            assert_eq!(imports.len(), 1, "{fate:?} {url}: {imports:?}");
            let file = result.as_ref().expect("imported");
            assert_eq!(file.id.as_deref(), imports[0]["id"].as_str(), "{fate:?}");
        }
        // Dropped: the first request did it all; swallowed: the second one.
        assert_eq!(wix.counts()["POST bulk-import-v2"], 1, "{fate:?}");
    }
}

#[test]
fn the_happy_path_adds_no_request_and_a_rerun_reads_the_kept_file_once() {
    for (route, expected) in [
        (
            Route::Simple,
            counts(&[("POST generate-upload-url", 1), ("PUT simple-upload", 1)]),
        ),
        (
            Route::Resumable,
            counts(&[
                ("POST generate-resumable-upload-url", 1),
                ("POST tus-create", 1),
                ("PATCH tus", 1),
                ("PUT finalize", 1),
            ]),
        ),
    ] {
        let wix = Lossy::new(EmulatorConfig::new(), Vec::new());
        let (path, md5) = wix.file("happy.png", 3 << 20);
        let upload = || FileUpload::new().route(route);
        let done = wix.client(LAG).upload_with(&path, upload()).unwrap();
        assert_eq!(wix.counts(), expected, "{route:?}");
        assert_eq!(done.content_md5.as_deref(), Some(md5.as_str()));
        // The same job again, from another client on the state dir: its kept result, read
        // again by id.
        wix.emu.emu.reset_request_counts();
        let again = wix.client(LAG).upload_with(&path, upload()).unwrap();
        assert_eq!(again.file.id, done.file.id);
        assert_eq!(again.content_md5, done.content_md5);
        assert_eq!(
            wix.counts(),
            counts(&[("GET get-file-by-id", 1)]),
            "{route:?}"
        );
        // Asked to upload it again: a second file.
        let second = wix
            .client(LAG)
            .upload_with(&path, upload().reupload(true))
            .unwrap();
        assert_ne!(second.file.id, done.file.id);
        assert_eq!(wix.files_with(&md5).len(), 2, "{route:?}");
    }
}

#[test]
fn an_upload_that_fails_for_good_leaves_no_intent() {
    // Every generate refused (a 400): nothing was created, nothing is looked for later.
    let wix = Lossy::new(EmulatorConfig::new().max_file_size(10), Vec::new());
    let (path, _) = wix.file("big.png", 20_000);
    let err = wix.client(LAG).upload(&path).unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    let left = crate::support::state::records(wix.state.path());
    assert!(
        left.iter().all(|(_, r)| r.get("intent").is_none()),
        "{left:?}"
    );
}

#[test]
fn a_hash_that_differs_from_the_source_is_a_warning_or_an_error() {
    let mut server = mockito::Server::new();
    let wrong = "0".repeat(32);
    let answer = |s: &mut mockito::Server| {
        let upload_url = format!("{}/upload/tok-12345678", s.url());
        let generate = s
            .mock("POST", "/site-media/v1/files/generate-upload-url")
            .with_body(serde_json::json!({ "uploadUrl": upload_url }).to_string())
            .create();
        let put = s
            .mock(
                "PUT",
                mockito::Matcher::Regex("^/upload/tok-12345678".into()),
            )
            .with_body(
                serde_json::json!({"file": {"id": "f1", "hash": wrong, "sizeInBytes": "9"}})
                    .to_string(),
            )
            .create();
        (generate, put)
    };
    let dir = TempDir::new("wmu-hash");
    let path = dir.join("a.txt");
    std::fs::write(&path, b"some text").unwrap();
    for verify in [false, true] {
        let _mocks = answer(&mut server);
        let creds = Credentials::site("k", "s").with_api_base(server.url());
        let client = WixClient::builder(creds)
            .verify_hash(verify)
            .build()
            .unwrap();
        match (verify, client.upload(&path)) {
            (false, Ok(file)) => assert_eq!(file.hash.as_deref(), Some(wrong.as_str())),
            (true, Err(Error::ContentMismatch(m))) => {
                assert_eq!(m.file_id(), "f1");
                assert_eq!(m.server_hash(), wrong);
                assert_eq!(m.local_md5(), md5_hex(b"some text"));
            }
            (verify, other) => panic!("verify {verify}: {other:?}"),
        }
        server.reset();
    }
}

#[test]
fn the_emulators_hash_is_the_md5_the_client_computed() {
    let wix = Emu::start();
    let client = WixClient::builder(wix.credentials())
        .verify_hash(true)
        .simple_below(1 << 20)
        .build()
        .unwrap();
    for len in [1000, 3 << 20, 9 << 20] {
        let bytes = pseudo_random_bytes(len, 5);
        let path = wix.dir().join(format!("f{len}.bin"));
        std::fs::write(&path, &bytes).unwrap();
        let done = client.upload_with(&path, FileUpload::new()).unwrap();
        assert_eq!(done.content_md5, Some(md5_hex(&bytes)), "{len}");
        assert_eq!(done.file.hash, done.content_md5, "{len}");
    }
}
