//! The REST rate limit: fixed and sliding windows, with and without `Retry-After`; every
//! REST route counts (the read side too), upload traffic and download URLs don't; refusals
//! are counted per route.

use std::time::{Duration, Instant};

use serde_json::json;
use wix_media_emulator::{EmulatorConfig, RateWindow};
use wix_media_testkit::emulator::Emu;
use wix_media_testkit::http::{eventually, get};

use crate::support::ReadSide;

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn every_rest_route_counts_and_refusals_are_counted_per_route() {
    for kind in [RateWindow::Sliding, RateWindow::Fixed] {
        let env = Emu::with(
            EmulatorConfig::new()
                .rate_limit(5, HOUR)
                .rate_window(kind)
                .rate_limit_retry_after(true),
        );
        let folder = env.folder("f", "media-root");
        let file = env.text_file("a.txt", b"abc", &json!({ "parentFolderId": folder }));
        let id = file["id"].as_str().expect("id");
        // Calls 1 and 2 were the folder and the generate; the upload PUT is not a REST call.
        assert_eq!(env.api_get("/files").status, 200);
        let download = env.api_post("/files/generate-file-download-url", &json!({"fileId": id}));
        assert_eq!(download.status, 200, "{}", download.body);
        assert_eq!(env.api_post("/files/search", &json!({})).status, 200);

        // The sixth REST call, whatever its route, is refused.
        for path in ["/files", "/folders", "/files/get-file-by-id?fileId=x"] {
            let r = env.api_get(path);
            assert_eq!(r.status, 429, "{kind:?} {path}: {}", r.body);
            assert_eq!(r.code().as_deref(), Some("RESOURCE_EXHAUSTED"));
            let secs: u64 = r
                .header("Retry-After")
                .expect("Retry-After")
                .parse()
                .expect("secs");
            assert!((1..=3600).contains(&secs), "{secs}");
        }
        let r = env.api_post("/bulk/files/delete", &json!({ "fileIds": [id] }));
        assert_eq!(r.status, 429);
        // Download URLs are not REST calls.
        let url = download.json()["downloadUrls"][0]["url"]
            .as_str()
            .expect("url")
            .to_string();
        assert_eq!(get(&env.agent, &url, &[]).body, "abc");

        let refused: Vec<(String, u64)> = env.emu.refused_counts().into_iter().collect();
        let expected = [
            ("GET get-file-by-id", 1),
            ("GET list-files", 1),
            ("GET list-folders", 1),
            ("POST bulk-delete-files", 1),
        ];
        let expected: Vec<(String, u64)> =
            expected.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        assert_eq!(refused, expected, "{kind:?}");
        let counts = env.emu.route_counts();
        assert_eq!(
            counts.get("GET list-files"),
            Some(&2),
            "refused calls are counted too"
        );
        assert_eq!(counts.get("GET download"), Some(&1));
        env.emu.reset_request_counts();
        assert!(env.emu.refused_counts().is_empty());
    }
}

#[test]
fn without_retry_after_a_429_says_nothing_of_when() {
    for kind in [RateWindow::Sliding, RateWindow::Fixed] {
        let env = Emu::with(EmulatorConfig::new().rate_limit(1, HOUR).rate_window(kind));
        assert_eq!(env.api_get("/folders").status, 200);
        let r = env.api_get("/folders");
        assert_eq!(r.status, 429, "{kind:?}");
        assert_eq!(
            r.header("Retry-After"),
            None,
            "{kind:?}: Wix documents none"
        );
    }
}

/// Calls `GET /folders` until `passes` of them were let through; for each one let through,
/// when it was sent and when its answer came (the emulator runs in this process, on this
/// clock).
fn admitted(env: &Emu, passes: usize) -> Vec<(Instant, Instant)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < passes {
        assert!(Instant::now() < deadline, "only {} calls passed", out.len());
        let sent = Instant::now();
        let r = env.api_get("/folders");
        let answered = Instant::now();
        match r.status {
            200 => out.push((sent, answered)),
            429 => std::thread::sleep(Duration::from_millis(5)),
            other => panic!("{other}: {}", r.body),
        }
    }
    out
}

#[test]
fn a_sliding_window_never_lets_more_than_its_count_through_in_any_window() {
    let window = Duration::from_millis(250);
    let env = Emu::with(EmulatorConfig::new().rate_limit(2, window));
    let calls = admitted(&env, 8);
    // Calls i and i+2 were let through at least a window apart.
    for (i, pair) in calls.windows(3).enumerate() {
        let spread = pair[2].1.duration_since(pair[0].0);
        assert!(spread >= window, "calls {i} and {}: {spread:?}", i + 2);
    }
}

#[test]
fn fixed_windows_never_let_more_than_twice_the_count_through_in_any_window() {
    let window = Duration::from_millis(250);
    let env = Emu::with(
        EmulatorConfig::new()
            .rate_limit(2, window)
            .rate_window(RateWindow::Fixed),
    );
    let calls = admitted(&env, 10);
    // Any span shorter than a window meets at most two back-to-back windows: calls i and i+4
    // were let through at least a window apart.
    for (i, span) in calls.windows(5).enumerate() {
        let spread = span[4].1.duration_since(span[0].0);
        assert!(spread >= window, "calls {i} and {}: {spread:?}", i + 4);
    }
}

#[test]
fn a_refused_client_gets_through_again_once_the_window_has_passed() {
    for kind in [RateWindow::Sliding, RateWindow::Fixed] {
        let env = Emu::with(
            EmulatorConfig::new()
                .rate_limit(1, Duration::from_millis(300))
                .rate_window(kind),
        );
        assert_eq!(env.api_get("/folders").status, 200);
        eventually("the window passes", || {
            (env.api_get("/folders").status == 200).then_some(())
        });
    }
}

#[test]
fn route_counts_show_a_client_that_only_lists() {
    let env = Emu::start();
    let folder = env.folder("f", "media-root");
    for i in 0..3 {
        env.text_file(
            &format!("{i}.txt"),
            b"x",
            &json!({ "parentFolderId": folder }),
        );
    }
    env.emu.reset_request_counts();
    let (files, pages) = env.list_all(&format!("parentFolderId={folder}&paging.limit=1"));
    assert_eq!((files.len(), pages.len()), (3, 3));
    let counts: Vec<(String, u64)> = env.emu.route_counts().into_iter().collect();
    assert_eq!(counts, vec![("GET list-files".to_string(), 3)]);
}
