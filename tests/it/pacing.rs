//! REST calls paced against real servers that answer 429 past N calls per window: nothing
//! fails, few calls are refused, and clients sharing a state directory share the quota.
//! Counts are asserted; the time taken is only reported (a noisy box).

use std::collections::VecDeque;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mockito::{Matcher, Server};
use serde_json::json;
use wix_media_upload::wix::{FileUpload, Route, WixClient};
use wix_media_upload::{Credentials, RetryPolicy, Uploader, UploaderBuilder};

use crate::support::TempDir;
use crate::support::clock::ManualClock;
use crate::support::raw_server::{Next, RawRequest, RawServer, respond};

const KEY: &str = "IST.pacing-key";
const SITE: &str = "pacing-site";

/// How the server counts calls.
#[derive(Clone, Copy, Debug)]
enum Window {
    Sliding,
    Fixed,
}

/// What the server saw.
#[derive(Debug, Default)]
struct Seen {
    /// Arrival times of the calls let through (sliding), or the current window's start and
    /// count (fixed).
    hits: VecDeque<Instant>,
    fixed: Option<(Instant, u32)>,
    ok: usize,
    refused: usize,
    /// The calls for files named `b...` (the second client's) let through and refused.
    ok_b: usize,
    refused_b: usize,
}

/// A Wix stand-in whose REST calls are limited to `calls` per `window`; it answers
/// `get-file-by-id` with a ready file.
struct Limited {
    server: RawServer,
    seen: Arc<Mutex<Seen>>,
}

impl Limited {
    fn start(kind: Window, calls: u32, window: Duration, retry_after: bool) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let server = RawServer::start(move |req: &RawRequest, stream: &mut TcpStream| {
            let mut seen = shared.lock().unwrap();
            let wait = seen.admit(kind, calls, window);
            if req.path.contains("fileId=b") {
                match wait {
                    None => seen.ok_b += 1,
                    Some(_) => seen.refused_b += 1,
                }
            }
            drop(seen);
            let _ = match wait {
                None => respond(
                    stream,
                    200,
                    &[("Content-Type", "application/json")],
                    json!({"file": {"id": req.path.rsplit('=').next(), "operationStatus": "READY"}})
                        .to_string()
                        .as_bytes(),
                ),
                Some(wait) => {
                    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                    let secs = secs.to_string();
                    let mut headers = vec![("Content-Type", "application/json")];
                    if retry_after {
                        headers.push(("Retry-After", &secs));
                    }
                    respond(
                        stream,
                        429,
                        &headers,
                        br#"{"message":"rate limit","details":{"applicationError":{"code":"RESOURCE_EXHAUSTED"}}}"#,
                    )
                }
            };
            Next::KeepAlive
        });
        Self { server, seen }
    }

    fn client(&self, uploader: UploaderBuilder) -> WixClient {
        let creds = Credentials::site(KEY, SITE).with_api_base(self.server.base_url());
        WixClient::builder(creds)
            .uploader(uploader)
            .build()
            .unwrap()
    }

    fn counts(&self) -> (usize, usize) {
        let s = self.seen.lock().unwrap();
        (s.ok, s.refused)
    }
}

impl Seen {
    /// Lets a call arriving now through (`None`), or says how long until one would be.
    fn admit(&mut self, kind: Window, calls: u32, window: Duration) -> Option<Duration> {
        let now = Instant::now();
        let wait = match kind {
            Window::Sliding => {
                while self.hits.front().is_some_and(|t| now - *t >= window) {
                    self.hits.pop_front();
                }
                if self.hits.len() < calls as usize {
                    self.hits.push_back(now);
                    None
                } else {
                    Some(window - (now - self.hits[0]))
                }
            }
            Window::Fixed => {
                let (start, count) = match self.fixed {
                    Some((start, count)) if now - start < window => (start, count),
                    _ => (now, 0),
                };
                if count < calls {
                    self.fixed = Some((start, count + 1));
                    None
                } else {
                    self.fixed = Some((start, count));
                    Some(window - (now - start))
                }
            }
        };
        match wait {
            None => self.ok += 1,
            Some(_) => self.refused += 1,
        }
        wait
    }
}

/// `calls` reads of files named `{name}{thread}-{i}` from each of `threads` threads of
/// `client`; the failures.
fn read_from_threads(client: &WixClient, name: &str, threads: usize, calls: usize) -> Vec<String> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let client = client.clone();
                s.spawn(move || {
                    (0..calls)
                        .filter_map(|i| client.get_file(&format!("{name}{t}-{i}")).err())
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// 160 calls from 4 threads at 20 calls per second: none fails, at most 5% refused.
fn paced_against(kind: Window, retry_after: bool) {
    let server = Limited::start(kind, 20, Duration::from_secs(1), retry_after);
    let client = server.client(Uploader::builder());
    let started = Instant::now();
    let failures = read_from_threads(&client, "f", 4, 40);
    let (ok, refused) = server.counts();
    eprintln!(
        "{kind:?} window, Retry-After {retry_after}: {ok} calls in {:?} (the quota's bound: 7 s), \
         {refused} refused",
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(ok, 160);
    assert!(
        refused * 20 <= ok + refused,
        "{refused} of {} refused",
        ok + refused
    );
}

#[test]
fn calls_from_threads_under_a_sliding_window_all_succeed_and_few_are_refused() {
    paced_against(Window::Sliding, false);
}

#[test]
fn calls_from_threads_under_a_fixed_window_with_retry_after_all_succeed_and_few_are_refused() {
    paced_against(Window::Fixed, true);
}

/// Two clients of one site: the second starts while the first keeps the quota full. The
/// calls let through and refused, the second's refused, and its calls let through by the time
/// the first was done.
fn two_clients(dir_a: &str, dir_b: &str) -> (usize, usize, usize, usize) {
    let server = Limited::start(Window::Sliding, 20, Duration::from_secs(1), false);
    let dir = TempDir::new("wmu-pacing-shared");
    let a = server.client(Uploader::builder().state_dir(dir.join(dir_a)));
    let b = server.client(Uploader::builder().state_dir(dir.join(dir_b)));
    let started = Instant::now();
    let mut b_when_a_done = 0;
    let failures: Vec<String> = std::thread::scope(|s| {
        let ha = s.spawn(|| read_from_threads(&a, "a", 2, 60));
        // Once the first has learned the quota and keeps it full.
        while server.counts().0 < 50 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let hb = s.spawn(|| read_from_threads(&b, "b", 2, 40));
        let mut all = ha.join().unwrap();
        b_when_a_done = server.seen.lock().unwrap().ok_b;
        all.extend(hb.join().unwrap());
        all
    });
    let (ok, refused) = server.counts();
    let refused_b = server.seen.lock().unwrap().refused_b;
    eprintln!(
        "two clients ({dir_a}, {dir_b}): {ok} calls in {:?}, {refused} refused ({refused_b} of \
         the second's); the second had {b_when_a_done} of its 80 through when the first was done",
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(ok, 200);
    (ok, refused, refused_b, b_when_a_done)
}

#[test]
fn two_clients_sharing_a_state_directory_share_the_quota() {
    let (ok, refused, refused_b, b_when_a_done) = two_clients("state", "state");
    assert!(
        refused * 20 <= ok + refused,
        "{refused} of {} refused",
        ok + refused
    );
    // The second joined the pace the first had learned: its calls waited their turn, and got
    // their share (apart, the second is refused at once, learns a small quota from that and
    // had about a third of its calls through when the first was done; both took twice as long).
    assert!(refused_b <= 1, "{refused_b}");
    assert!(b_when_a_done >= 40, "{b_when_a_done}");
}

#[test]
fn a_429_from_the_upload_host_is_not_throttling_and_slows_no_rest_call() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let upload = format!("{}/upload/one-time", server.url());
    let generate = server
        .mock("POST", "/site-media/v1/files/generate-upload-url")
        .with_body(json!({"uploadUrl": upload}).to_string())
        .expect(2)
        .create();
    // The first URL is refused as reused (429); the second is taken.
    let reused = server
        .mock("PUT", "/upload/one-time")
        .match_query(Matcher::Any)
        .with_status(429)
        .expect(1)
        .create();
    let put = server
        .mock("PUT", "/upload/one-time")
        .match_query(Matcher::Any)
        .with_body(r#"{"file":{"id":"f1","operationStatus":"READY"}}"#)
        .expect(1)
        .create();
    let reads = server
        .mock("GET", "/site-media/v1/files/get-file-by-id")
        .match_query(Matcher::Any)
        .with_body(r#"{"file":{"id":"f1","operationStatus":"READY"}}"#)
        .expect(30)
        .create();
    let client = WixClient::builder(Credentials::site(KEY, SITE).with_api_base(server.url()))
        .uploader(
            Uploader::builder()
                .clock(clock.clone())
                .retry(RetryPolicy::from_millis(&[0])),
        )
        .build()
        .unwrap();
    let dir = TempDir::new("wmu-pacing-upload");
    let path = dir.join("a.png");
    std::fs::write(&path, b"png bytes").unwrap();
    client
        .upload_with(&path, FileUpload::new().route(Route::Simple))
        .unwrap();
    for _ in 0..30 {
        client.get_file("f1").unwrap();
    }
    generate.assert();
    reused.assert();
    put.assert();
    reads.assert();
    // The retry went at once (the policy's 0), and no REST call waited for a probe.
    assert_eq!(clock.slept(), Duration::ZERO);
}
