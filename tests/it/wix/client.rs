//! The Wix client against the emulator: every route, waiting for processing, pacing under a
//! rate limit, and Wix's error answers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use crate::support::TempDir;
use crate::support::clock::ManualClock;
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_upload::wix::{FileOptions, FileUpload, ImportFileRequest, Route, WixClient};
use wix_media_upload::wix::{MediaType, OperationStatus};
use wix_media_upload::{Credentials, Error, RetryPolicy, Uploader};

const KEY: &str = "IST.client-test-key-0123456789";
const SITE: &str = "site-1";

struct Wix {
    emu: Emulator,
    dir: TempDir,
}

impl Wix {
    fn start(config: EmulatorConfig) -> Wix {
        let dir = TempDir::new("wmu-client");
        let emu = config.start(dir.join("emu")).expect("start the emulator");
        Wix { emu, dir }
    }

    fn credentials(&self) -> Credentials {
        Credentials::site(KEY, SITE).with_api_base(self.emu.base_url())
    }

    fn client(&self) -> WixClient {
        WixClient::builder(self.credentials()).build().unwrap()
    }

    /// A file named `name` holding `len` pseudo-random bytes.
    fn file(&self, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
        let bytes = crate::support::pseudo_random_bytes(len, len as u64 ^ 0x5eed);
        let path = self.dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }

    /// Requests per route since the last reset, without the zero ones.
    fn counts(&self) -> BTreeMap<String, u64> {
        self.emu
            .route_counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn id(file: &wix_media_upload::wix::FileDescriptor) -> &str {
    file.id.as_deref().expect("the file has an id")
}

#[test]
fn a_small_file_takes_the_simple_route_in_two_requests() {
    let wix = Wix::start(EmulatorConfig::new());
    let (path, bytes) = wix.file("cat.png", 20_000);
    let done = wix
        .client()
        .upload_with(&path, FileUpload::new())
        .expect("upload");
    assert_eq!(done.route, Route::Simple);
    assert_eq!(done.resumed_from, None);
    let file = done.file;
    assert_eq!(file.display_name.as_deref(), Some("cat.png"));
    assert_eq!(file.size_in_bytes, Some(bytes.len() as u64));
    // The MIME type was guessed from the extension.
    assert_eq!(file.media_type, Some(MediaType::Image));
    assert_eq!(wix.emu.file_bytes(id(&file)), Some(bytes));
    assert_eq!(
        wix.counts(),
        counts(&[("POST generate-upload-url", 1), ("PUT simple-upload", 1)])
    );
}

#[test]
fn a_large_file_takes_the_resumable_route_in_four_requests() {
    let wix = Wix::start(EmulatorConfig::new());
    let (path, bytes) = wix.file("clip.bin", 3 << 20);
    let client = WixClient::builder(wix.credentials())
        .simple_below(1 << 20)
        .build()
        .unwrap();
    let done = client.upload_with(&path, FileUpload::new()).unwrap();
    assert_eq!(done.route, Route::Resumable);
    assert_eq!(done.file.size_in_bytes, Some(bytes.len() as u64));
    assert_eq!(wix.emu.file_bytes(id(&done.file)), Some(bytes));
    assert_eq!(
        wix.counts(),
        counts(&[
            ("POST generate-resumable-upload-url", 1),
            ("POST tus-create", 1),
            ("PATCH tus", 1),
            ("PUT finalize", 1),
        ])
    );
}

#[test]
fn routes_can_be_chosen_and_options_reach_wix() {
    let wix = Wix::start(EmulatorConfig::new());
    let client = wix.client();
    let (path, bytes) = wix.file("photo.jpg", 5000);
    for route in [Route::Simple, Route::Resumable] {
        wix.emu.reset_request_counts();
        let done = client
            .upload_with(
                &path,
                FileUpload::new()
                    .route(route)
                    .display_name(format!("holiday {route:?}.jpg"))
                    .mime_type("image/jpeg")
                    .options(
                        FileOptions::new()
                            .file_path("/albums/2026")
                            .private(true)
                            .label("summer")
                            .label("beach")
                            .external_info("my-app", ["row-17"]),
                    ),
            )
            .unwrap_or_else(|e| panic!("{route:?}: {e}"));
        assert_eq!(done.route, route);
        let f = &done.file;
        assert_eq!(
            f.display_name.as_deref(),
            Some(format!("holiday {route:?}.jpg").as_str())
        );
        assert_eq!(f.private, Some(true), "{route:?}");
        assert_eq!(f.labels, ["summer", "beach"], "{route:?}");
        let stored = wix.emu.file(id(f)).unwrap();
        assert_eq!(stored["filePath"], "/albums/2026", "{route:?}: {stored}");
        assert_eq!(wix.emu.file_bytes(id(f)).as_deref(), Some(&bytes[..]));
        let requests: u64 = wix.counts().values().sum();
        assert_eq!(requests, if route == Route::Simple { 2 } else { 4 });
    }
}

#[test]
fn uploads_wait_until_processed() {
    let wix = Wix::start(EmulatorConfig::new().processing_delay(Duration::from_millis(1500)));
    let client = wix.client();
    let (path, _) = wix.file("movie.mp4", 4000);
    let pending = client.upload(&path).unwrap();
    assert_eq!(pending.media_type, Some(MediaType::Video));
    assert_eq!(pending.operation_status, Some(OperationStatus::Pending));
    let ready = client
        .upload_with(&path, FileUpload::new().wait(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(ready.file.operation_status, Some(OperationStatus::Ready));
    // And on its own.
    let again = client
        .wait_ready(id(&pending), Duration::from_secs(60))
        .unwrap();
    assert_eq!(again.operation_status, Some(OperationStatus::Ready));
    assert_eq!(again.id, pending.id);
}

#[test]
fn waiting_runs_out_as_not_ready() {
    let wix = Wix::start(EmulatorConfig::new().processing_delay(Duration::from_secs(3600)));
    // The injected clock makes the poll waits instant.
    let clock = ManualClock::new();
    let client = WixClient::builder(wix.credentials())
        .uploader(Uploader::builder().clock(clock.clone()))
        .build()
        .unwrap();
    let (path, _) = wix.file("long.mp4", 4000);
    let file = client.upload(&path).unwrap();
    let err = client
        .wait_ready(id(&file), Duration::from_secs(120))
        .unwrap_err();
    match &err {
        Error::NotReady { file_id, waited } => {
            assert_eq!(&**file_id, id(&file));
            assert!(*waited >= Duration::from_secs(120), "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    // Polls back off: far fewer reads than a read a second.
    let reads = wix.counts()["GET get-file-by-id"];
    assert!((5..=30).contains(&reads), "{reads} reads");
    assert!(clock.slept() >= Duration::from_secs(120));
}

#[test]
fn a_short_404_right_after_creation_is_tolerated() {
    let wix = Wix::start(EmulatorConfig::new().lookup_delay(Duration::from_millis(2000)));
    let client = wix.client();
    let (path, _) = wix.file("a.png", 3000);
    let done = client
        .upload_with(&path, FileUpload::new().wait(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(done.file.operation_status, Some(OperationStatus::Ready));
    // An image is READY at once: no read was needed.
    let file = client.upload(&path).unwrap();
    let read = client
        .wait_ready(id(&file), Duration::from_secs(60))
        .unwrap();
    assert_eq!(read.id, file.id);
    // A file that never appears still fails, after the grace reads.
    let err = client.get_file("no-such-file").unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}

/// Serves `body` to every GET on 127.0.0.1 until dropped (the import's source).
struct Source {
    url: String,
}

fn serve_bytes(body: Vec<u8>) -> Source {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/media/photo.png", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    Source { url }
}

#[test]
fn import_from_a_url_then_wait() {
    let wix = Wix::start(EmulatorConfig::new().processing_delay(Duration::from_millis(500)));
    let client = wix.client();
    let bytes = crate::support::pseudo_random_bytes(30_000, 3);
    let source = serve_bytes(bytes.clone());
    let file = client
        .import(
            &ImportFileRequest::new(&source.url)
                .display_name("imported.png")
                .options(FileOptions::new().file_path("/imports")),
        )
        .unwrap();
    assert_eq!(file.operation_status, Some(OperationStatus::Pending));
    assert_eq!(file.display_name.as_deref(), Some("imported.png"));
    let ready = client
        .wait_ready(id(&file), Duration::from_secs(60))
        .unwrap();
    assert_eq!(ready.operation_status, Some(OperationStatus::Ready));
    assert_eq!(wix.emu.file_bytes(id(&ready)), Some(bytes));

    // An unreachable source ends FAILED: a typed error.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gone.png", dead.local_addr().unwrap());
    drop(dead);
    let file = client.import(&ImportFileRequest::new(url)).unwrap();
    match client.wait_ready(id(&file), Duration::from_secs(60)) {
        Err(Error::ProcessingFailed { file_id }) => assert_eq!(file.id.as_deref(), Some(&*file_id)),
        other => panic!("{other:?}"),
    }
    // The descriptor that said so, for a caller that wants it.
    let failed = client
        .wait_processed(id(&file), Duration::from_secs(60), None)
        .unwrap();
    assert_eq!(failed.operation_status, Some(OperationStatus::Failed));
    assert_eq!(failed.id, file.id);
}

#[test]
fn get_files_reads_several_in_order() {
    let wix = Wix::start(EmulatorConfig::new());
    let client = wix.client();
    let (a, _) = wix.file("a.png", 1000);
    let (b, _) = wix.file("b.png", 2000);
    let fa = client.upload(&a).unwrap();
    let fb = client.upload(&b).unwrap();
    let both = client.get_files(&[id(&fb), id(&fa)]).unwrap();
    let ids: Vec<_> = both.iter().map(|f| f.id.clone()).collect();
    assert_eq!(ids, [fb.id.clone(), fa.id.clone()]);
}

#[test]
fn a_batch_under_a_rate_limit_finishes_without_a_failure() {
    const FILES: usize = 200;
    // 30 REST calls per second; the client learns to pace itself after the first 429s.
    let wix = Wix::start(EmulatorConfig::new().rate_limit(30, Duration::from_secs(1)));
    let client = wix.client();
    let paths: Vec<PathBuf> = (0..FILES)
        .map(|i| wix.file(&format!("f{i}.png"), 500 + i).0)
        .collect();
    let started = std::time::Instant::now();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(FILES / 4)
            .map(|chunk| {
                let client = client.clone();
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|p| {
                            client
                                .upload(p)
                                .err()
                                .map(|e| format!("{}: {e}", p.display()))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(wix.emu.files().len(), FILES);
    let generate = wix.counts()["POST generate-upload-url"];
    eprintln!(
        "{FILES} files in {:?}: {generate} generate calls ({} refused with 429)",
        started.elapsed(),
        generate - FILES as u64
    );
    // The limit was really hit (else this test shows nothing).
    assert!(generate > FILES as u64, "no 429 at all");
}

#[test]
fn a_wrong_site_id_gets_html_and_a_hint() {
    let wix = Wix::start(EmulatorConfig::new().site_id("the-real-site"));
    let client = WixClient::builder(
        Credentials::site(KEY, "another-site").with_api_base(wix.emu.base_url()),
    )
    .uploader(Uploader::builder().retry(RetryPolicy::none()))
    .build()
    .unwrap();
    let (path, _) = wix.file("a.png", 100);
    let err = client.upload(&path).unwrap_err();
    match &err {
        Error::Status {
            status: 403,
            body: Some(body),
            ..
        } => {
            assert!(err.wix().is_none(), "{err:?}");
            let excerpt = body.excerpt();
            assert!(!excerpt.is_empty() && !excerpt.contains('<'), "{excerpt}");
            assert!(body.hint().is_some_and(|h| h.contains("site id")));
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(text.contains("API key") && !text.contains(KEY), "{text}");
}

#[test]
fn wix_refusals_carry_their_rule_names() {
    let wix = Wix::start(EmulatorConfig::new());
    let client = wix.client();
    let (path, _) = wix.file("photo.png", 100);
    let err = client
        .upload_with(&path, FileUpload::new().mime_type("video/mp4"))
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.wix().unwrap().has_rule("MISMATCH_MIME_TYPE"), "{err}");
    // Nothing was uploaded.
    assert_eq!(wix.counts().get("PUT simple-upload"), None);
}

#[test]
fn a_refused_body_on_the_simple_route_goes_resumable() {
    // A cap below the file: the one-request PUT is refused (413 before the body), tus sends
    // pieces under the cap.
    let wix = Wix::start(EmulatorConfig::new().max_body_size(1 << 20));
    let (path, bytes) = wix.file("big.png", (3 << 20) + 5);
    let done = wix.client().upload_with(&path, FileUpload::new()).unwrap();
    assert_eq!(done.route, Route::Resumable);
    assert_eq!(wix.emu.file_bytes(id(&done.file)), Some(bytes));
    let c = wix.counts();
    assert_eq!(c["PUT simple-upload"], 1, "{c:?}");
    assert!(c["PATCH tus"] >= 4, "{c:?}");
    // A forced simple route reports the refusal instead.
    let err = wix
        .client()
        .upload_with(&path, FileUpload::new().route(Route::Simple))
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
}

#[test]
fn two_clients_uploading_one_file_make_one_file() {
    let wix = Wix::start(EmulatorConfig::new());
    let (path, bytes) = wix.file("shared.bin", 6 << 20);
    for route in [Route::Simple, Route::Resumable] {
        let state = wix.dir.join(format!("state-{route:?}"));
        let start = std::sync::Barrier::new(2);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (start, state, path) = (&start, &state, &path);
                    let creds = wix.credentials();
                    s.spawn(move || {
                        // Two clients, two stores on one directory: what two processes have.
                        let client = WixClient::builder(creds)
                            .uploader(Uploader::builder().state_dir(state))
                            .build()
                            .unwrap();
                        start.wait();
                        // Slow the body down (about 50 ms a MiB), so the two surely overlap.
                        let slow = |_| std::thread::sleep(Duration::from_millis(50));
                        client.upload_with(path, FileUpload::new().route(route).progress(slow))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ids: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().expect("both succeed").file.id.clone())
            .collect();
        assert_eq!(ids[0], ids[1], "{route:?}: the same file for both");
        let id = ids[0].clone().unwrap();
        assert_eq!(wix.emu.file_bytes(&id), Some(bytes.clone()));
        let made = wix
            .emu
            .files()
            .iter()
            .filter(|f| f["displayName"] == "shared.bin")
            .count();
        assert_eq!(
            made,
            if route == Route::Simple { 1 } else { 2 },
            "{route:?}"
        );
    }
}
