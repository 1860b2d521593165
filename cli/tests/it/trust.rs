//! A command CI can trust: a refused key stops the run after one request, signals other than
//! SIGINT stop it as Ctrl-C does, stdout errors are reported, a missing path fails alone, a
//! symlink keeps its name, the REST calls are counted, URLs are checked before any request.

use std::process::Stdio;
use std::time::Duration;

use super::common::*;
use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::emulator::Emu;
use wix_media_testkit::{TempDir, temp_file_with};

fn total(counts: &std::collections::BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

/// A tree of `n` small files.
fn small_files(prefix: &str, n: usize) -> TempDir {
    let tree = TempDir::new(prefix);
    let files: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| (format!("f{i:02}.bin"), vec![i as u8; 300 + i]))
        .collect();
    write_tree(tree.path(), &files);
    tree
}

#[test]
fn a_refused_key_stops_the_run_after_one_request() {
    // Another site id gets 403, as a wrong site or a key without the permission does.
    let wix = Emu::with(EmulatorConfig::new().site_id("the-right-site"));
    let emu = &wix.emu;
    let home = Home::new();
    let tree = small_files("wmu-refused", 30);
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", "-j", "4", path_str(tree.path())],
    );
    out.assert_code(1);
    out.assert_no_panic();
    let routes = emu.route_counts();
    assert_eq!(total(&routes), 1, "{routes:?}");
    let refusals: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("Wix refused the credentials (HTTP 403)"))
        .collect();
    assert_eq!(refusals.len(), 1, "{}", out.stderr);
    // One failure line (the file that asked), the rest not done; nothing in the manifest.
    assert_eq!(out.lines().len(), 1, "{}", out.stdout);
    let (uploaded, skipped, failed) = out.summary();
    assert_eq!((uploaded, skipped, failed), (0, 0, 1));
    out.assert_stderr_has(" not done;");
    out.assert_stderr_has("1 REST call, 0 refused");

    // Import and wait stop at the first refusal too.
    emu.reset_request_counts();
    let out = home.run_on(
        emu.base_url(),
        "import",
        &["http://127.0.0.1:9/a.png", "http://127.0.0.1:9/b.png"],
    );
    out.assert_code(1);
    assert_eq!(total(&emu.route_counts()), 1, "{:?}", emu.route_counts());
    emu.reset_request_counts();
    let out = home.run_on(emu.base_url(), "wait", &["id-1", "id-2", "id-3"]);
    out.assert_code(1);
    assert_eq!(total(&emu.route_counts()), 1, "{:?}", emu.route_counts());
}

#[test]
fn sigterm_stops_as_ctrl_c_does_and_the_rerun_resumes() {
    let home = Home::new();
    let r = signal_and_resume_on_built_in_emulator(
        &home,
        (256 * MIB, 21),
        &["--chunk-size", "1MiB"],
        8 * MIB,
        ("TERM", 143),
    );
    r.interrupted
        .assert_stderr_has("terminated (SIGTERM): stopping");
    assert!(r.resumed_from >= 8 * MIB, "{}", r.line);
}

#[test]
fn sighup_stops_as_ctrl_c_does() {
    // Held after 1 MiB; a blocked write notices the stop at the 3 s stall timeout.
    let h = held_tus_upload(MIB, (4 * MIB, 22), "3");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while h.server.uploads().is_empty() || !h.proxy.holding() {
        assert!(std::time::Instant::now() < deadline, "never held");
        std::thread::sleep(Duration::from_millis(20));
    }
    send_signal(&h.child, "HUP");
    let out = collect(h.child, RUN_TIMEOUT);
    out.assert_code(129);
    // The child is gone: its stderr's reader ends at the pipe's end.
    let stderr: Vec<String> = h.stderr.iter().collect();
    let said = |needle: &str| stderr.iter().any(|l| l.contains(needle));
    assert!(said("hung up (SIGHUP): stopping"), "{stderr:?}");
    assert!(
        said("interrupted: run the same command again to resume"),
        "{stderr:?}"
    );
    assert!(!said("panicked"), "{stderr:?}");
}

#[test]
fn a_stdout_that_cannot_be_written_is_reported() {
    let home = Home::new();
    let (file, _) = temp_file_with(1000, 23);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut cmd = home.upload_emu(&["--no-progress", path_str(file.path())]);
    cmd.stdout(Stdio::from(full));
    let out = run(cmd);
    out.assert_code(1);
    out.assert_no_panic();
    out.assert_stderr_has("cannot write the results to stdout");
    // Help too.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("full");
    let mut cmd = home.raw(&["--help"]);
    cmd.stdout(Stdio::from(full));
    let out = run(cmd);
    out.assert_code(1);
    out.assert_stderr_has("cannot write to stdout");
}

#[test]
fn a_missing_path_fails_alone_and_a_named_symlink_keeps_its_name() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let emu = &wix.emu;
    let home = Home::new();
    let dir = TempDir::new("wmu-alone");
    write_tree(
        dir.path(),
        &[("target-name.txt", b"the content".as_slice())],
    );
    let link = dir.join("link-name.txt");
    std::os::unix::fs::symlink(dir.join("target-name.txt"), &link).expect("symlink");
    let missing = dir.join("missing.txt");
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", path_str(&missing), path_str(&link)],
    );
    out.assert_code(1);
    assert_eq!(out.summary(), (1, 0, 1));
    let gone = out.line_for("missing.txt");
    assert!(
        gone["error"]
            .as_str()
            .is_some_and(|e| e.contains("no such file")),
        "{gone}"
    );
    let linked = out.line_for("link-name.txt");
    assert_eq!(linked["file"]["displayName"], "link-name.txt", "{linked}");
    let id = linked["file"]["id"].as_str().expect("id");
    assert_eq!(emu.path_of(id).as_deref(), Some("/link-name.txt"));
}

#[test]
fn the_summary_counts_rest_calls_and_refusals() {
    // 3 REST calls a second at most, fixed windows: 8 small files (one generate each, 8 at
    // once) meet refusals, waited out.
    let config = EmulatorConfig::new()
        .processing_delay(Duration::ZERO)
        .rate_limit(3, Duration::from_secs(1))
        .rate_window(wix_media_emulator::RateWindow::Fixed);
    let wix = Emu::with(config);
    let emu = &wix.emu;
    let home = Home::new();
    let tree = small_files("wmu-calls", 8);
    let out = home.upload_on(
        emu.base_url(),
        &[
            "--no-progress",
            "-j",
            "8",
            "--route",
            "simple",
            path_str(tree.path()),
        ],
    );
    out.assert_success();
    let sent = emu.route_counts()["POST generate-upload-url"];
    let refused = total(&emu.refused_counts());
    out.assert_stderr_has(&format!("{sent} REST calls, {refused} refused"));
    assert_eq!(sent, 8 + refused);
    // The pace is kept in the state directory, for other processes on the same site.
    let paced = std::fs::read_dir(home.state.path())
        .expect("state dir")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".pace"));
    assert!(paced, "no pace file in the state directory");
}

#[test]
fn rate_holds_calls_back_and_a_signal_ends_the_wait() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let emu = &wix.emu;
    let home = Home::new();
    let tree = small_files("wmu-rate", 3);
    // Two calls a minute: the third file waits for about a minute.
    let mut cmd = home.upload(&[
        "--no-progress",
        "-j",
        "1",
        "--rate",
        "2/min",
        path_str(tree.path()),
    ]);
    with_wix(&mut cmd, emu.base_url());
    let mut child = cmd.spawn().expect("spawn");
    let lines = line_reader(child.stdout.take().expect("stdout"));
    for _ in 0..2 {
        let line = lines.recv_timeout(RUN_TIMEOUT).expect("a result line");
        assert!(line.contains("\"file\""), "{line}");
    }
    // Held back: no third call, however long this takes to look.
    std::thread::sleep(Duration::from_millis(500));
    let generated = |r: &std::collections::BTreeMap<String, u64>| {
        r.iter()
            .filter(|(k, _)| k.contains("generate"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    assert_eq!(
        generated(&emu.route_counts()),
        2,
        "{:?}",
        emu.route_counts()
    );
    send_signal(&child, "TERM");
    let out = collect(child, RUN_TIMEOUT);
    out.assert_code(143);
    out.assert_no_panic();
    assert_eq!(
        generated(&emu.route_counts()),
        2,
        "{:?}",
        emu.route_counts()
    );
    assert_eq!(out.summary(), (2, 0, 0));
}

#[test]
fn import_checks_every_url_before_any_request() {
    let wix = Emu::start();
    let emu = &wix.emu;
    let home = Home::new();
    let list = TempDir::new("wmu-urls");
    let file = list.join("urls.txt");
    std::fs::write(
        &file,
        "# pets\nhttp://127.0.0.1:9/a.png cat /pets\nnot-a-url\n",
    )
    .unwrap();
    let out = home.run_on(emu.base_url(), "import", &["--from-file", path_str(&file)]);
    out.assert_code(2);
    out.assert_stderr_has("line 3");
    out.assert_stderr_has("not-a-url");
    let out = home.run_on(emu.base_url(), "import", &["file:///etc/passwd"]);
    out.assert_code(2);
    assert!(emu.route_counts().is_empty(), "{:?}", emu.route_counts());
}

#[test]
fn many_urls_go_in_bulk_and_are_waited_for_together() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_millis(200)));
    let emu = &wix.emu;
    let source = wix_media_testkit::raw_server::file_server(vec![5u8; 512], "image/png");
    let home = Home::new();
    let list = TempDir::new("wmu-bulk");
    let file = list.join("urls.txt");
    let lines: Vec<String> = (0..250)
        .map(|i| format!("{} pic {i}.png /bulk", source.url(&format!("/p{i}.png"))))
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = home.run_on(
        emu.base_url(),
        "import",
        &["--from-file", path_str(&file), "--wait"],
    );
    out.assert_success();
    let results = out.lines();
    assert_eq!(results.len(), 250);
    assert!(
        results
            .iter()
            .all(|l| l["file"]["operationStatus"] == "READY"),
        "{}",
        out.stdout
    );
    assert_eq!(results[7]["file"]["displayName"], "pic 7.png");
    let routes = emu.route_counts();
    assert_eq!(routes.get("POST bulk-import-v2"), Some(&3), "{routes:?}");
    assert_eq!(routes.get("POST import"), None, "{routes:?}");
    assert!(!routes.contains_key("GET get-file-by-id"), "{routes:?}");
    let id = results[7]["file"]["id"].as_str().unwrap();
    assert_eq!(emu.path_of(id).as_deref(), Some("/bulk/pic 7.png"));
}
