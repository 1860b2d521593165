//! The `wix-media` binary, one command at a time: help and usage errors, every upload option
//! against the emulator (in this process, in the binary, and as `wix-media emulator` in
//! another process) and against the official tus server, import and wait, honest messages,
//! logs without secrets. Batches, the manifest, Ctrl-C and closed pipes: batch.rs.

use std::process::Stdio;
use std::time::Duration;

use super::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_testkit::raw_server::file_server;
use wix_media_testkit::{TempDir, TusServer, big_temp_file_with, file_digest, temp_file_with};

use wix_media_testkit::emulator::Emu;

// ---------------------------------------------------------------------------------------------
// Help, version, usage errors
// ---------------------------------------------------------------------------------------------

#[test]
fn help_version_and_help_subcommand() {
    let home = Home::new();
    let out = run(home.raw(&["--help"]));
    out.assert_success();
    for word in [
        "upload",
        "import",
        "wait",
        "emulator",
        "completions",
        "man",
        "WIX_API_KEY",
        "--emulator",
        "--verbose",
        "--quiet",
    ] {
        assert!(out.stdout.contains(word), "{word} missing: {}", out.stdout);
    }
    let out = run(home.raw(&["help", "upload"]));
    out.assert_success();
    for flag in [
        "--endpoint",
        "--jobs",
        "--route",
        "--folder",
        "--private",
        "--label",
        "--mime",
        "--wait",
        "--force",
        "--chunk-size",
        "--parallel",
        "--state-dir",
        "--timeout",
        "--retry-delays",
        "--no-progress",
        "--flatten",
        "--dry-run",
        "--emulator",
        "--rate",
        "-j,",
        "-n,",
    ] {
        assert!(out.stdout.contains(flag), "{flag} missing: {}", out.stdout);
    }
    for sub in ["import", "wait", "emulator", "completions", "man"] {
        let out = run(home.raw(&["help", sub]));
        out.assert_success();
        assert!(out.stdout.contains("Usage: wix-media"), "{}", out.stdout);
    }
    let out = run(home.raw(&["--version"]));
    out.assert_success();
    assert_eq!(
        out.stdout.trim(),
        format!("wix-media {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::new();
    let (file, _) = temp_file_with(10, 1);
    let f = path_str(file.path());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "Usage"),
        (vec!["upload"], "PATH"),
        (vec!["upload", "--no-such-option", f], "--no-such-option"),
        (vec!["upload", "--chunk-size", "lots", f], "--chunk-size"),
        (vec!["upload", "--jobs", "0", f], "--jobs"),
        (vec!["upload", "--route", "fast", f], "--route"),
        (
            vec![
                "upload",
                "--endpoint",
                "http://127.0.0.1:9/files",
                "--folder",
                "/a",
                f,
            ],
            "cannot be used with",
        ),
        (
            vec![
                "upload",
                "--endpoint",
                "http://127.0.0.1:9/files",
                "--wait",
                f,
            ],
            "cannot be used with",
        ),
        (vec!["upload", "--chunk-size", "0", f], "--chunk-size"),
        (vec!["upload", "--timeout", "soon", f], "--timeout"),
        (vec!["upload", "--rate", "fast", f], "--rate"),
        (
            vec![
                "upload",
                "--endpoint",
                "http://127.0.0.1:9/files",
                "--emulator",
                f,
            ],
            "cannot be used with",
        ),
        (vec!["upload", "-q", "-v", f], "cannot be used with"),
        (vec!["wait"], "FILE_ID"),
        (vec!["import"], "URL"),
        (vec!["import", "--emulator", "not-a-url"], "not-a-url"),
        (
            vec![
                "import",
                "--emulator",
                "http://127.0.0.1:9/a.png",
                "ftp://x/b",
            ],
            "ftp://x/b",
        ),
        (
            vec![
                "import",
                "--emulator",
                "--name",
                "n",
                "http://127.0.0.1:9/a",
                "http://127.0.0.1:9/b",
            ],
            "--name",
        ),
        (vec!["completions", "tcsh"], "tcsh"),
        (vec!["man", "frobnicate"], "frobnicate"),
        (vec!["emulator", "--port", "x"], "--port"),
        (vec!["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let mut cmd = home.raw(&args);
        cmd.env("XDG_CACHE_HOME", home.cache.path());
        let out = run(cmd);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        out.assert_no_panic();
    }
    // Half the credentials: a usage error too, before any request.
    let mut cmd = home.upload(&[f]);
    cmd.env("WIX_API_KEY", "k");
    let out = run(cmd);
    out.assert_code(2);
    out.assert_stderr_has("WIX_SITE_ID");
}

#[test]
fn without_credentials_wix_commands_stop_and_say_what_to_set() {
    let home = Home::new();
    let (file, _) = temp_file_with(10, 1);
    let f = path_str(file.path());
    let cases: [(&str, Vec<&str>); 3] = [
        ("upload", vec![f]),
        ("import", vec!["http://127.0.0.1:9/a.png"]),
        ("wait", vec!["some-id"]),
    ];
    for (sub, args) in cases {
        for api_base in [None, Some("http://127.0.0.1:9")] {
            let mut cmd = home.command(sub, &args);
            if let Some(base) = api_base {
                cmd.env("WIX_API_BASE", base);
            }
            let out = run(cmd);
            out.assert_code(2);
            for needle in ["WIX_API_KEY", "WIX_SITE_ID", "--emulator"] {
                out.assert_stderr_has(needle);
            }
            if api_base.is_some() {
                out.assert_stderr_has("WIX_API_BASE is set but no credentials are");
            }
            assert!(out.stdout.is_empty(), "{sub}: {}", out.stdout);
            out.assert_no_panic();
        }
    }
    // Nothing was started or stored: no emulator, no manifest.
    assert!(!home.state.join("emulator").exists());
    assert!(!home.state.join("manifest").exists());
}

// ---------------------------------------------------------------------------------------------
// Wix mode
// ---------------------------------------------------------------------------------------------

#[test]
fn wix_mode_with_the_built_in_emulator_prints_a_file_descriptor() {
    let home = Home::new();
    let (file, _) = temp_file_with(1000, 1);
    let out = run(home.upload_emu(&["--no-progress", path_str(file.path())]));
    out.assert_success();
    let v = out.json();
    assert_eq!(v["path"], path_str(file.path()), "{v}");
    assert_eq!(v["file"]["sizeInBytes"], "1000", "{v}");
    assert!(
        v["file"]["id"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(v["skipped"], false);
    assert!(v["resumedFrom"].is_null(), "{v}");
    out.assert_stderr_has("built-in emulator");
    assert_eq!(out.summary(), (1, 0, 0));
    // The emulator kept its files in the state dir; the rerun reuses its port.
    let emu_dir = home.state.join("emulator");
    let port = std::fs::read_to_string(emu_dir.join("port")).expect("port file");
    let emu = Emulator::start(&emu_dir).expect("reopen the emulator's store");
    assert_eq!(emu.files().len(), 1);
    drop(emu);
    let (other, _) = temp_file_with(2000, 2);
    let out = run(home.upload_emu(&["--no-progress", path_str(other.path())]));
    out.assert_success();
    assert!(out.stderr.contains(&format!("127.0.0.1:{}", port.trim())));
}

#[test]
fn options_reach_wix() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let emu = &wix.emu;
    let home = Home::new();
    let dir = TempDir::new("wmu-opts");
    write_tree(dir.path(), &[("pic.dat", &[7u8; 3000])]);
    let out = home.upload_on(
        emu.base_url(),
        &[
            "--no-progress",
            "--folder",
            "/photos/2024",
            "--private",
            "--label",
            "one",
            "--label",
            "two",
            "--mime",
            "image/png",
            path_str(&dir.join("pic.dat")),
        ],
    );
    out.assert_success();
    let v = out.json();
    assert_eq!(v["file"]["private"], true, "{v}");
    assert_eq!(
        v["file"]["labels"],
        serde_json::json!(["one", "two"]),
        "{v}"
    );
    assert_eq!(v["file"]["mediaType"], "IMAGE", "{v}");
    let stored = emu.files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["filePath"], "/photos/2024", "{}", stored[0]);
    out.assert_stderr_lacks(
        "built-in emulator",
        "with credentials no emulator is started",
    );
}

#[test]
fn routes_simple_and_resumable_chunked_parallel() {
    let wix = Emu::start();
    let emu = &wix.emu;
    let home = Home::new();
    let (big, digest) = big_temp_file_with(5 * MIB, 4);

    // auto: a small file takes the one-request route.
    let (small, _) = temp_file_with(5000, 3);
    home.upload_on(emu.base_url(), &["--no-progress", path_str(small.path())])
        .assert_success();
    let routes = emu.route_counts();
    assert_eq!(routes.get("PUT simple-upload"), Some(&1), "{routes:?}");
    assert_eq!(routes.get("POST tus-create"), None, "{routes:?}");

    // Again, with `extra` options.
    let forced = |extra: &[&str]| {
        emu.reset_request_counts();
        let mut args = vec!["--no-progress", "--force"];
        args.extend_from_slice(extra);
        args.push(path_str(big.path()));
        let out = home.upload_on(emu.base_url(), &args);
        out.assert_success();
        out
    };
    // The digest of the file the output names.
    let stored = |out: &Output| {
        let id = out.json()["file"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        wix_media_testkit::digest(&emu.file_bytes(&id).expect("stored file"))
    };

    // resumable, in 1 MiB chunks: five PATCHes.
    let out = forced(&["--route", "resumable", "--chunk-size", "1MiB"]);
    let routes = emu.route_counts();
    assert_eq!(routes.get("PATCH tus"), Some(&5), "{routes:?}");
    assert_eq!(routes.get("PUT finalize"), Some(&1), "{routes:?}");
    assert_eq!(stored(&out), digest);

    // --parallel 2: two partial uploads and their concatenation.
    let out = forced(&["--route", "resumable", "--parallel", "2"]);
    let routes = emu.route_counts();
    assert_eq!(routes.get("POST tus-create"), Some(&3), "{routes:?}");
    assert_eq!(stored(&out), digest);

    // --route simple even for a big file.
    forced(&["--route", "simple"]);
    assert_eq!(emu.route_counts().get("PUT simple-upload"), Some(&1));
}

#[test]
fn retry_delays_and_timeout_are_used() {
    let wix = Emu::start();
    let emu = &wix.emu;
    let home = Home::new();
    let (file, _) = temp_file_with(3000, 5);
    // No retries: one 503 fails the file.
    emu.fail_next(1, 503);
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--retry-delays", "", path_str(file.path())],
    );
    out.assert_code(1);
    let v = out.json();
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("503")),
        "{v}"
    );
    assert_eq!(out.summary(), (0, 0, 1));
    // One retry after 10 ms: the same 503 is survived.
    emu.fail_next(1, 503);
    let out = home.upload_on(
        emu.base_url(),
        &[
            "--no-progress",
            "--retry-delays",
            "10ms",
            "--timeout",
            "20s",
            path_str(file.path()),
        ],
    );
    out.assert_success();
    assert_eq!(out.json()["file"]["sizeInBytes"], "3000");
}

#[test]
fn wait_flag_waits_until_ready() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_millis(1500)));
    let emu = &wix.emu;
    let home = Home::new();
    let dir = TempDir::new("wmu-wait");
    write_tree(dir.path(), &[("clip.mp4", &[1u8; 4000])]);
    let clip = dir.join("clip.mp4");
    // Without --wait a video is still PENDING.
    let out = home.upload_on(emu.base_url(), &["--no-progress", path_str(&clip)]);
    out.assert_success();
    assert_eq!(out.json()["file"]["operationStatus"], "PENDING");
    // The rerun with --wait does not upload it again: it waits for the stored file.
    emu.reset_request_counts();
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--wait", path_str(&clip)],
    );
    out.assert_success();
    let v = out.json();
    assert_eq!(v["skipped"], true, "{v}");
    assert_eq!(v["file"]["operationStatus"], "READY", "{v}");
    let routes = emu.route_counts();
    assert!(
        routes.keys().all(|k| k == "GET get-file-by-id"),
        "{routes:?}"
    );
    // A new upload with --wait.
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--wait", "--force", path_str(&clip)],
    );
    out.assert_success();
    let v = out.json();
    assert_eq!(v["skipped"], false, "{v}");
    assert_eq!(v["file"]["operationStatus"], "READY", "{v}");
}

#[test]
fn import_and_wait_commands() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_millis(500)));
    let emu = &wix.emu;
    let source = file_server(vec![9u8; 2048], "image/png");
    let home = Home::new();
    let url = source.url("/cat.png");
    let out = home.run_on(
        emu.base_url(),
        "import",
        &[
            &url,
            "--name",
            "kitty.png",
            "--folder",
            "/imports",
            "--private",
            "--label",
            "pets",
            "--wait",
        ],
    );
    out.assert_success();
    let v = out.json();
    let file = &v["file"];
    assert_eq!(file["operationStatus"], "READY", "{v}");
    assert_eq!(file["displayName"], "kitty.png", "{v}");
    assert_eq!(
        (&file["private"], &file["labels"]),
        (&json!(true), &json!(["pets"])),
        "{v}"
    );
    let id = file["id"].as_str().expect("id").to_owned();
    assert_eq!(emu.file(&id).expect("imported")["filePath"], "/imports");

    // Without --wait: PENDING at once.
    let out = home.run_on(emu.base_url(), "import", &[&source.url("/dog.png")]);
    out.assert_success();
    let pending = out.json()["file"]["id"].as_str().expect("id").to_owned();

    // wait: both ids, in order, READY.
    let out = home.run_on(emu.base_url(), "wait", &[&id, &pending, "--timeout", "1m"]);
    out.assert_success();
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0]["file"]["id"], id.as_str());
    assert_eq!(lines[1]["file"]["id"], pending.as_str());
    assert!(
        lines
            .iter()
            .all(|l| l["file"]["operationStatus"] == "READY")
    );

    // An unknown id: an error line, exit 1.
    let out = home.run_on(emu.base_url(), "wait", &["no-such-file", "--timeout", "30"]);
    out.assert_code(1);
    let v = out.json();
    assert_eq!(v["fileId"], "no-such-file", "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("404")),
        "{v}"
    );

    // A failed import (nothing listens at the URL) is FAILED, exit 1.
    let out = home.run_on(
        emu.base_url(),
        "import",
        &["http://127.0.0.1:1/gone.png", "--wait"],
    );
    out.assert_code(1);
    let v = out.json();
    assert_eq!(v["file"]["operationStatus"], "FAILED", "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("FAILED")),
        "{v}"
    );
}

#[test]
fn emulator_command_serves_another_process_until_interrupted() {
    let home = Home::new();
    let dir = TempDir::new("wmu-emu-cmd");
    let mut child = home
        .raw(&["emulator", "--port", "0", "--dir", path_str(dir.path())])
        .spawn()
        .expect("spawn wix-media emulator");
    let lines = line_reader(child.stdout.take().expect("stdout"));
    let base = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the base URL line");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let (file, _) = temp_file_with(4000, 6);
    let upload = |force: bool| {
        let mut args = vec!["--no-progress", "--route", "resumable"];
        if force {
            args.push("--force");
        }
        args.push(path_str(file.path()));
        home.upload_on(&base, &args)
    };
    let out = upload(false);
    out.assert_success();
    let id = out.json()["file"]["id"].as_str().expect("id").to_owned();
    let out = home.run_on(&base, "wait", &[&id]);
    out.assert_success();
    assert_eq!(out.json()["file"]["id"], id.as_str());
    // The second run is answered from the manifest.
    let out = upload(false);
    out.assert_success();
    assert_eq!(out.json()["skipped"], true);

    interrupt(&child);
    let out = collect(child, RUN_TIMEOUT);
    out.assert_code(130);
    out.assert_no_panic();
    // What it stored is still there for the next start.
    let emu = Emulator::start(dir.path()).expect("reopen");
    assert!(emu.file(&id).is_some());
}

// ---------------------------------------------------------------------------------------------
// tus mode
// ---------------------------------------------------------------------------------------------

#[test]
fn tus_mode_on_the_official_server() {
    let server = TusServer::start();
    let home = Home::new();
    let (file, bytes) = temp_file_with(300_000, 2);
    let endpoint = server.endpoint();
    let args = [
        "--endpoint",
        endpoint.as_str(),
        "--mime",
        "application/x-test",
        path_str(file.path()),
    ];
    let out = run(home.upload(&args));
    out.assert_success();
    let v = out.json();
    let url = v["uploadUrl"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(url.starts_with(&endpoint), "{v}");
    assert_eq!(v["size"], 300_000, "{v}");
    assert!(v["resumedFrom"].is_null(), "{v}");
    assert_eq!(v["skipped"], false, "{v}");
    assert_eq!(server.stored_bytes(url), bytes);
    let info = server.info(url);
    assert_eq!(
        info["metadata"]["contentType"], "application/x-test",
        "{info}"
    );
    out.assert_stderr_lacks("emulator", "tus mode starts no emulator");
    // Again: skipped, the same URL, no new upload on the server.
    let out = run(home.upload(&args));
    out.assert_success();
    let again = out.json();
    assert_eq!(again["skipped"], true, "{again}");
    assert_eq!(again["uploadUrl"], url);
    assert_eq!(server.uploads().len(), 1);
    // Another --mime is another upload.
    let out = run(home.upload(&["--endpoint", endpoint.as_str(), path_str(file.path())]));
    out.assert_success();
    assert_eq!(out.json()["skipped"], false);
    assert_eq!(server.uploads().len(), 2);
}

#[test]
fn refused_connections_say_nothing_was_uploaded() {
    let home = Home::new();
    let (file, _) = temp_file_with(100, 4);
    let out = run(home.upload(&[
        "--no-progress",
        "--endpoint",
        "http://127.0.0.1:1/files",
        "--retry-delays",
        "",
        path_str(file.path()),
    ]));
    out.assert_code(1);
    out.assert_no_panic();
    let v = out.json();
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("nothing was uploaded"), "{v}");
    assert!(err.contains("refused the connection"), "{v}");
    assert!(!err.contains("resume"), "{v}");
    // stderr: the same message and the summary, nothing else.
    assert_eq!(out.stderr_lines().len(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("nothing was uploaded"));
    // Wix mode, a base URL where nothing listens.
    let out = home.upload_on(
        "http://127.0.0.1:1",
        &["--no-progress", "--retry-delays", "", path_str(file.path())],
    );
    out.assert_code(1);
    let err = out.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(err.contains("nothing was uploaded"), "{err}");
    assert!(err.contains("refused the connection"), "{err}");
}

#[test]
fn a_failure_after_the_upload_was_created_says_run_again_to_resume() {
    // Holds the client after 2 MiB: with a 3 s stall timeout and no retries the upload fails,
    // created and partly stored.
    let (server, proxy, endpoint) = gated_tus_server(2 * MIB);
    let home = Home::new();
    let (file, digest) = big_temp_file_with(8 * MIB, 7);
    let args = [
        "--no-progress",
        "--endpoint",
        endpoint.as_str(),
        "--timeout",
        "3",
        "--retry-delays",
        "",
        path_str(file.path()),
    ];
    let out = run(home.upload(&args));
    out.assert_code(1);
    let v = out.json();
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("run again to resume"), "{v}");
    assert!(!err.contains("nothing was uploaded"), "{v}");
    proxy.open();
    let out = run(home.upload(&args));
    out.assert_success();
    let v = out.json();
    assert!(v["resumedFrom"].as_u64().is_some_and(|n| n > 0), "{v}");
    assert_eq!(
        file_digest(server.stored_path(v["uploadUrl"].as_str().unwrap())),
        digest
    );
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_log_shows_requests_but_never_a_token() {
    let home = Home::new();
    let (file, _) = temp_file_with(5000, 5);
    let (other, _) = temp_file_with(6000, 6);
    let mut cmd = home.upload_emu(&[
        "--no-progress",
        "--route",
        "resumable",
        path_str(file.path()),
    ]);
    cmd.env("RUST_LOG", "debug");
    let out = run(cmd);
    out.assert_success();
    assert_eq!(out.json()["file"]["sizeInBytes"], "5000");
    let err = &out.stderr;
    assert!(
        err.lines()
            .any(|l| l.contains("POST http://127.0.0.1:") && l.contains("/upload/tus -> 201")),
        "no creation line in {err}"
    );
    let finalize = err
        .lines()
        .find(|l| l.contains("PUT http://127.0.0.1:") && l.contains("/upload/tus/"))
        .unwrap_or_else(|| panic!("no finalize line in {err}"));
    assert!(finalize.contains("/upload/tus/***?filename="), "{finalize}");
    // The simple route's URL holds a token too.
    let mut cmd = home.upload_emu(&["--no-progress", "--route", "simple", path_str(other.path())]);
    cmd.env("RUST_LOG", "trace");
    let simple = run(cmd);
    simple.assert_success();
    let all = format!("{err}{}{}{}", simple.stderr, out.stdout, simple.stdout);
    // Wix tokens are JWTs: none, nor this run's tokens in any form, may show.
    assert!(!all.contains("eyJ"), "{all}");
    let emu = Emulator::start(home.state.join("emulator")).expect("reopen the emulator's store");
    let mut secrets = emu.issued_tokens();
    secrets.extend(
        emu.issued_upload_urls()
            .iter()
            .filter_map(|u| u.rsplit('/').next().map(str::to_owned)),
    );
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    for t in &secrets {
        for form in [t.clone(), STANDARD.encode(t), URL_SAFE_NO_PAD.encode(t)] {
            assert!(!all.contains(&form), "the output shows a token: {all}");
        }
    }
    // The manifest (an entry per file) holds no token either.
    let entries: Vec<_> = std::fs::read_dir(home.state.join("manifest"))
        .expect("manifest")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    for entry in entries {
        let text = std::fs::read_to_string(entry).expect("read");
        assert!(!text.contains("eyJ"), "{text}");
        for t in &secrets {
            assert!(!text.contains(t.as_str()), "{text}");
        }
    }
}

#[test]
fn help_into_a_closed_pipe_is_quiet() {
    let home = Home::new();
    let mut cmd = home.raw(&["--help"]);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    drop(child.stdout.take());
    let out = collect(child, RUN_TIMEOUT);
    out.assert_success();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn plain_progress_lines_when_stderr_is_not_a_terminal() {
    // The upload stalls at 1 MiB until the gate opens, after the first 5 s status line.
    let h = held_tus_upload(MIB, (4 * MIB, 11), "120");
    let is_status = |l: &str| l.contains("0/1 files") && l.contains(" sent, ") && l.contains("ETA");
    let deadline = std::time::Instant::now() + Duration::from_secs(100);
    let mut seen = Vec::new();
    let status = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match h.stderr.recv_timeout(left) {
            Ok(l) if is_status(&l) => break l,
            Ok(l) => seen.push(l),
            Err(_) => panic!("no status line while stalled; stderr: {seen:?}"),
        }
    };
    assert!(status.contains("of 4.0 MiB sent"), "{status}");
    h.proxy.open();
    let out = collect(h.child, RUN_TIMEOUT);
    out.assert_success();
    assert!(!out.stdout.contains("sent"), "progress stays off stdout");
    let v = out.json();
    assert_eq!(
        file_digest(h.server.stored_path(v["uploadUrl"].as_str().unwrap())),
        h.digest
    );
}
