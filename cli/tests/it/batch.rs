//! `wix-media upload` on batches: folders, `--jobs` with failures, the manifest (a rerun
//! skips with no request; a changed file goes again; `--force`), two processes at once,
//! Ctrl-C and the resume after it, a closed stdout.

use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use super::common::*;
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_testkit::emulator::Emu;
use wix_media_testkit::{TempDir, big_temp_file_with, file_digest};

/// An emulator that processes files at once.
fn emulator() -> Emu {
    Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO))
}

/// `n` files, the `i`th named and filled by `file(i)`.
fn numbered_files(n: usize, file: impl Fn(usize) -> (String, Vec<u8>)) -> Vec<(String, Vec<u8>)> {
    (0..n).map(file).collect()
}

/// A temp folder (named after `prefix`) holding `files`.
fn tree_of(prefix: &str, files: &[(String, Vec<u8>)]) -> TempDir {
    let tree = TempDir::new(prefix);
    write_tree(tree.path(), files);
    tree
}

fn total_requests(emu: &Emulator) -> u64 {
    emu.request_counts().values().sum()
}

/// Where the emulator put the file of each result line: `{relative path: Wix path}`.
fn placed(emu: &Emulator, out: &Output, root: &std::path::Path) -> Vec<(String, String)> {
    let mut placed: Vec<(String, String)> = out
        .lines()
        .iter()
        .map(|l| {
            let path = std::path::PathBuf::from(l["path"].as_str().expect("path"));
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let id = l["file"]["id"].as_str().expect("id");
            let wix = emu.path_of(id).expect("the file is in the emulator");
            (rel.to_string_lossy().into_owned(), wix)
        })
        .collect();
    placed.sort();
    placed
}

#[test]
fn folders_recurse_skip_hidden_files_and_do_not_follow_symlinks() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let tree = TempDir::new("wmu-tree");
    let root = tree.join("photos");
    write_tree(
        &root,
        &[
            ("a.txt", b"a".as_slice()),
            ("sub/b.txt", b"bb"),
            ("sub/deeper/c.txt", b"ccc"),
            (".hidden.txt", b"h"),
            (".git/config", b"secret"),
            ("sub/.cache/x.txt", b"x"),
        ],
    );
    let outside = TempDir::new("wmu-outside");
    write_tree(outside.path(), &[("o.txt", b"outside")]);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link.txt")).expect("symlink");
        std::os::unix::fs::symlink(outside.path(), root.join("linked-dir")).expect("symlink");
    }
    let single = tree.join("single.txt");
    std::fs::write(&single, b"single").expect("write");
    // A hidden file named on the command line is taken.
    let named_hidden = tree.join(".named");
    std::fs::write(&named_hidden, b"named").expect("write");
    let out = home.upload_on(
        emu.base_url(),
        &[
            "--no-progress",
            path_str(&root),
            path_str(&single),
            path_str(&named_hidden),
        ],
    );
    out.assert_success();
    assert_eq!(
        relative_paths(&out, tree.path()),
        vec![
            ".named",
            "photos/a.txt",
            "photos/sub/b.txt",
            "photos/sub/deeper/c.txt",
            "single.txt"
        ]
    );
    assert_eq!(out.summary(), (5, 0, 0));
    assert_eq!(emu.files().len(), 5);
    // What was left out is counted, by kind (the named hidden file is not).
    out.assert_stderr_has("left out of folders: 3 hidden, 2 symbolic links;");
    // The tree kept its shape under Wix's root; named files are at the top.
    let at = |s: &str| s.to_owned();
    assert_eq!(
        placed(emu, &out, tree.path()),
        vec![
            (at(".named"), at("/.named")),
            (at("photos/a.txt"), at("/a.txt")),
            (at("photos/sub/b.txt"), at("/sub/b.txt")),
            (at("photos/sub/deeper/c.txt"), at("/sub/deeper/c.txt")),
            (at("single.txt"), at("/single.txt")),
        ]
    );
}

#[test]
fn trees_keep_their_shape_and_same_names_never_collide() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let tree = TempDir::new("wmu-shape");
    write_tree(
        tree.path(),
        &[
            ("a/b/x.jpg", b"x".as_slice()),
            ("a/logo.png", b"logo a"),
            ("c/logo.png", b"logo c"),
            ("top.txt", b"top"),
        ],
    );
    let root = path_str(tree.path());
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--folder", "/site/path", root],
    );
    out.assert_success();
    let at = |s: &str| s.to_owned();
    assert_eq!(
        placed(emu, &out, tree.path()),
        vec![
            (at("a/b/x.jpg"), at("/site/path/a/b/x.jpg")),
            (at("a/logo.png"), at("/site/path/a/logo.png")),
            (at("c/logo.png"), at("/site/path/c/logo.png")),
            (at("top.txt"), at("/site/path/top.txt")),
        ]
    );
    // Both logos have their own manifest entry: the rerun skips all four, with no request.
    emu.reset_request_counts();
    let again = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--folder", "/site/path", root],
    );
    assert_eq!(again.summary(), (0, 4, 0));
    assert_eq!(total_requests(emu), 0);
    assert_eq!(
        again.line_for("a/logo.png")["file"],
        out.line_for("a/logo.png")["file"]
    );
    assert_eq!(
        again.line_for("c/logo.png")["file"],
        out.line_for("c/logo.png")["file"]
    );
    // --flatten: every file in the folder itself (a new place: uploaded again).
    let flat = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--folder", "/flat", "--flatten", root],
    );
    flat.assert_success();
    let wix_paths: Vec<String> = placed(emu, &flat, tree.path())
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(
        wix_paths,
        [
            "/flat/x.jpg",
            "/flat/logo.png",
            "/flat/logo.png",
            "/flat/top.txt"
        ]
    );
}

#[test]
fn rerun_skips_without_a_request_changed_files_go_again_force_uploads_all() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let files = numbered_files(6, |i| (format!("f{i}.bin"), vec![i as u8; 1000 + i * 100]));
    let tree = tree_of("wmu-rerun", &files);
    let run_it = |extra: &[&str]| {
        let mut args = vec!["--no-progress", "--jobs", "3"];
        args.extend_from_slice(extra);
        args.push(path_str(tree.path()));
        home.upload_on(emu.base_url(), &args)
    };

    let started = Instant::now();
    let first = run_it(&[]);
    let first_time = started.elapsed();
    first.assert_success();
    assert_eq!(first.summary(), (6, 0, 0));
    let first_requests = total_requests(emu);
    assert!(first_requests >= 12, "{:?}", emu.request_counts());

    emu.reset_request_counts();
    let started = Instant::now();
    let second = run_it(&[]);
    let second_time = started.elapsed();
    second.assert_success();
    assert_eq!(second.summary(), (0, 6, 0));
    assert_eq!(total_requests(emu), 0, "{:?}", emu.request_counts());
    for name in files.iter().map(|(n, _)| n) {
        let (a, b) = (first.line_for(name), second.line_for(name));
        assert_eq!(b["skipped"], true, "{b}");
        assert_eq!(a["file"], b["file"], "the stored result is the first one");
    }
    eprintln!(
        "6 files: first run {first_time:?} ({first_requests} requests), rerun {second_time:?} \
         (0 requests)"
    );

    // One file changes (size and content): only it goes again.
    std::fs::write(tree.join("f2.bin"), vec![42u8; 5000]).expect("rewrite");
    let third = run_it(&[]);
    third.assert_success();
    assert_eq!(third.summary(), (1, 5, 0));
    let changed = third.line_for("f2.bin");
    assert_eq!(changed["skipped"], false, "{changed}");
    assert_eq!(changed["file"]["sizeInBytes"], "5000", "{changed}");
    assert_ne!(
        changed["file"]["id"],
        first.line_for("f2.bin")["file"]["id"]
    );

    // Same size, new mtime: uploaded again too.
    thread::sleep(Duration::from_millis(20));
    std::fs::write(tree.join("f3.bin"), vec![77u8; 1300]).expect("rewrite");
    let fourth = run_it(&[]);
    assert_eq!(fourth.summary(), (1, 5, 0));
    assert_eq!(fourth.line_for("f3.bin")["skipped"], false);

    // `touch`: a new mtime, the same content: not uploaded again, no request.
    let touched = std::fs::File::options()
        .write(true)
        .open(tree.join("f4.bin"))
        .expect("open");
    touched
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(3600))
        .expect("touch");
    drop(touched);
    emu.reset_request_counts();
    let fifth = run_it(&[]);
    assert_eq!(fifth.summary(), (0, 6, 0));
    assert_eq!(total_requests(emu), 0, "{:?}", emu.request_counts());
    assert_eq!(
        fifth.line_for("f4.bin")["file"],
        first.line_for("f4.bin")["file"]
    );

    // Other options that change the result: another entry.
    let labelled = run_it(&["--label", "x"]);
    assert_eq!(labelled.summary(), (6, 0, 0));

    // --force: everything again.
    emu.reset_request_counts();
    let forced = run_it(&["--force"]);
    forced.assert_success();
    assert_eq!(forced.summary(), (6, 0, 0));
    assert!(total_requests(emu) >= 12);
    assert!(forced.lines().iter().all(|l| l["skipped"] == false));
}

#[test]
fn rerun_with_the_built_in_emulator_starts_nothing() {
    let home = Home::new();
    let tree = TempDir::new("wmu-builtin");
    write_tree(
        tree.path(),
        &[("a.txt", b"aaa".as_slice()), ("b.txt", b"bbbb")],
    );
    let out = run(home.upload_emu(&["--no-progress", path_str(tree.path())]));
    out.assert_success();
    out.assert_stderr_has("built-in emulator");
    let out = run(home.upload_emu(&["--no-progress", path_str(tree.path())]));
    out.assert_success();
    assert_eq!(out.summary(), (0, 2, 0));
    out.assert_stderr_lacks("emulator", "nothing to upload: no emulator started");
}

#[test]
fn one_failing_file_among_others_fails_alone() {
    // Files over 100 kB are refused (FILE_SIZE_OVER_LIMIT) at the generate call.
    let wix = Emu::with(EmulatorConfig::new().max_file_size(100_000));
    let emu = &wix.emu;
    let home = Home::new();
    let mut files = numbered_files(7, |i| (format!("ok{i}.bin"), vec![i as u8; 2000]));
    files.push(("too-big.bin".into(), vec![1u8; 200_000]));
    files.push(("empty.bin".into(), Vec::new()));
    let tree = tree_of("wmu-jobs", &files);
    let out = home.upload_on(
        emu.base_url(),
        &["--no-progress", "--jobs", "4", path_str(tree.path())],
    );
    out.assert_code(1);
    assert_eq!(out.summary(), (7, 0, 2));
    assert_eq!(out.lines().len(), 9);
    for (name, code) in [
        ("too-big.bin", "FILE_SIZE_OVER_LIMIT"),
        ("empty.bin", "ZERO_FILE_SIZE"),
    ] {
        let line = out.line_for(name);
        let error = line["error"].as_str().unwrap_or_default();
        assert!(error.contains(code), "{name}: {line}");
    }
    for i in 0..7 {
        let line = out.line_for(&format!("ok{i}.bin"));
        assert_eq!(line["file"]["sizeInBytes"], "2000", "{line}");
    }
    // A failed file is not in the manifest: the rerun tries it again, skips the rest.
    emu.reset_request_counts();
    let out = home.upload_on(emu.base_url(), &["--no-progress", path_str(tree.path())]);
    out.assert_code(1);
    assert_eq!(out.summary(), (0, 7, 2));
}

#[test]
fn two_processes_at_once_share_the_manifest_safely() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let files = numbered_files(20, |i| (format!("f{i:02}.bin"), vec![i as u8; 500 + i]));
    let tree = tree_of("wmu-two", &files);
    let args = ["--no-progress", "--jobs", "4", path_str(tree.path())];
    let (a, b) = upload_twice_at_once(&home, emu.base_url(), &args);
    assert_eq!(a.lines().len(), 20);
    assert_eq!(b.lines().len(), 20);
    // Each claims only its own uploads: together, as many as the Media Manager got.
    let ((ua, sa, fa), (ub, sb, fb)) = (a.summary(), b.summary());
    assert_eq!((fa, fb), (0, 0));
    assert_eq!(
        ua + ub,
        emu.files().len() as u64,
        "{}\n{}",
        a.stderr,
        b.stderr
    );
    let claimed = |o: &Output| o.lines().iter().filter(|l| l["skipped"] == false).count() as u64;
    assert_eq!((claimed(&a), claimed(&b)), (ua, ub));
    assert!(ua + sa <= 20 && ub + sb <= 20);
    // Every entry is whole, private, and no temp file is left.
    let manifest = home.state.join("manifest");
    let mut entries = 0;
    for entry in std::fs::read_dir(&manifest).expect("manifest dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".json") && !name.starts_with('.'), "{name}");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("whole JSON");
        assert!(v["result"]["file"]["id"].is_string(), "{v}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        entries += 1;
    }
    assert_eq!(entries, 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    // And a third run skips all of them with no request.
    emu.reset_request_counts();
    let out = home.upload_on(emu.base_url(), &["--no-progress", path_str(tree.path())]);
    out.assert_success();
    assert_eq!(out.summary(), (0, 20, 0));
    assert_eq!(total_requests(emu), 0);
}

#[test]
fn ctrl_c_keeps_the_upload_and_the_rerun_resumes_it_tus() {
    // The proxy holds the client once 9 MiB went through: the upload can't finish before the
    // interrupt, whatever the machine's speed.
    let (server, proxy, endpoint) = gated_tus_server(9 * MIB);
    let home = Home::new();
    let (file, digest) = big_temp_file_with(64 * MIB, 3);
    let (small, _) = wix_media_testkit::temp_file_with(1000, 8);
    // A blocked socket write notices the abort at the stall timeout: keep it short.
    let args = [
        "--no-progress",
        "--jobs",
        "1",
        "--endpoint",
        endpoint.as_str(),
        "--chunk-size",
        "1048576",
        "--timeout",
        "3",
        path_str(file.path()),
        path_str(small.path()),
    ];
    let mut child = home.upload(&args).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = match server.uploads().as_slice() {
            [id] => std::fs::metadata(server.stored_path(id)).map_or(0, |m| m.len()),
            _ => 0,
        };
        if stored > 8 * MIB {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "ended before 8 MiB");
        assert!(Instant::now() < deadline, "8 MiB not stored within 120 s");
        thread::sleep(Duration::from_millis(20));
    }
    interrupt(&child);
    let out = collect(child, RUN_TIMEOUT);
    out.assert_code(130);
    out.assert_no_panic();
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    out.assert_stderr_has("interrupted: run the same command again to resume");
    proxy.open();

    // The rerun resumes the big file and does the small one it never started.
    let out = run(home.upload(&args));
    out.assert_success();
    let v = out.line_for(&file.path().file_name().unwrap().to_string_lossy());
    let resumed = v["resumedFrom"].as_u64().unwrap_or_else(|| panic!("{v}"));
    assert!(resumed > 8 * MIB, "{v}");
    assert_eq!(v["size"], 64 * MIB, "{v}");
    assert_eq!(server.uploads().len(), 2, "{:?}", server.uploads());
    let url = v["uploadUrl"].as_str().unwrap();
    assert_eq!(file_digest(server.stored_path(url)), digest);
    assert_eq!(out.summary(), (2, 0, 0));
}

#[test]
fn ctrl_c_with_the_built_in_emulator_and_resume() {
    let home = Home::new();
    // Ctrl-C once the emulator (in the child) holds more than 8 MiB of the upload.
    let r = interrupt_and_resume_on_built_in_emulator(
        &home,
        (256 * MIB, 9),
        &["--chunk-size", "1048576"],
        8 * MIB,
    );
    assert!(r.interrupted.stdout.is_empty(), "{}", r.interrupted.stdout);
    assert!(r.resumed_from >= 8 * MIB, "{}", r.line);
    let id = r.line["file"]["id"].as_str().expect("id");
    let path = r.emu.file(id).expect("the file");
    assert_eq!(path["sizeInBytes"], (256 * MIB).to_string());
}

#[test]
fn a_closed_stdout_ends_the_batch_quietly() {
    let home = Home::new();
    let files = numbered_files(300, |i| {
        (format!("f{i:03}.txt"), format!("file {i}").into_bytes())
    });
    let tree = tree_of("wmu-pipe", &files);
    // `wix-media upload DIR | head -1`: read one line, close the pipe. 300 lines of about
    // 700 bytes don't fit the pipe's buffer, so later writes meet the closed pipe.
    let mut cmd = home.upload_emu(&["--no-progress", path_str(tree.path())]);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let lines = line_reader(child.stdout.take().expect("stdout"));
    let first = lines.recv_timeout(RUN_TIMEOUT).expect("a first line");
    assert!(first.contains("\"file\""), "{first}");
    drop(lines);
    let out = collect(child, RUN_TIMEOUT);
    out.assert_no_panic();
    assert_eq!(out.code, Some(141), "stderr: {}", out.stderr);
    out.assert_stderr_lacks("error", "quiet, no error spam");
    // What was uploaded is in the manifest: the rerun skips it and does the rest.
    let out = run(home.upload_emu(&["--no-progress", path_str(tree.path())]));
    out.assert_success();
    let (uploaded, skipped, failed) = out.summary();
    assert_eq!((uploaded + skipped, failed), (300, 0));
    assert!(skipped >= 1);
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    // Held for good after 1 MiB, with a stall timeout longer than the test's patience: only
    // the second Ctrl-C can end this run in time.
    let h = held_tus_upload(MIB, (8 * MIB, 12), "3600");
    // Wait until the client is stalled mid-body: the gate holds, and the socket's buffers are
    // full, so no read of the body (where the stop is noticed) comes. Two status lines (5 s
    // apart) saying the same bytes were sent mean no read came in between; a Ctrl-C while
    // the buffers still take bytes would end the run at once.
    let deadline = Instant::now() + Duration::from_secs(120);
    while h.server.uploads().is_empty() || !h.proxy.holding() {
        assert!(Instant::now() < deadline, "the body never reached the gate");
        thread::sleep(Duration::from_millis(20));
    }
    let sent = |l: &str| l.split(" sent, ").next().map(str::to_owned);
    let mut last = None;
    loop {
        let line = h.stderr.recv_timeout(RUN_TIMEOUT).expect("a status line");
        if !line.contains(" sent, ") {
            continue;
        }
        if last.is_some() && last == sent(&line) {
            break;
        }
        last = sent(&line);
    }
    interrupt(&h.child);
    let seen = h
        .stderr
        .recv_timeout(RUN_TIMEOUT)
        .expect("a line after the first Ctrl-C");
    assert!(seen.contains("Ctrl-C again"), "{seen}");
    interrupt(&h.child);
    let out = collect(h.child, RUN_TIMEOUT);
    out.assert_code(130);
    out.assert_no_panic();
    // The child is gone: the reader ends at the pipe's end.
    let mut rest = Vec::new();
    while let Ok(l) = h.stderr.recv_timeout(RUN_TIMEOUT) {
        rest.push(l);
    }
    assert!(
        rest.iter().any(|l| l.contains("interrupted again")),
        "{rest:?}"
    );
}
