//! Exactly one Media Manager file per source, whatever is lost or killed: `wix-media` runs
//! against an emulator behind an [`AnswerRelay`], which forwards each request, lets the
//! emulator act, then holds or drops the answer of one kind of request (generate, the simple
//! PUT, finalize, the final tus PATCH, import). Files are counted by content (the emulator's
//! `hash` is the MD5 of the stored bytes).
//!
//! - Held: the `wix-media` child is killed (SIGKILL) while it waits for the answer, then run
//!   again with the same state dir: one file, the rerun's.
//! - A 50-file batch with 10% of the simple PUT (and generate) answers dropped: 50 files.
//! - Two processes on one batch, answers dropped, the list lagging: one file each.
//! - A source rewritten with the same size and mtime between an interruption and the resume:
//!   the emulator holds the new version only.

use std::path::Path;
use std::time::Duration;

use super::common::*;
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_testkit::child::signal;
use wix_media_testkit::emulator::{Emu, md5_hex};
use wix_media_testkit::proxy::answers::{AnswerRelay, Fate, Kind, Rule};
use wix_media_testkit::raw_server::file_server;
use wix_media_testkit::{TempDir, pseudo_random_bytes};

/// The longest wait for the relay to hold an answer.
const HOLD_WAIT: Duration = Duration::from_secs(120);

/// The files of `emu` holding the bytes of MD5 `md5`.
fn files_with(emu: &Emulator, md5: &str) -> Vec<String> {
    emu.files()
        .iter()
        .filter(|f| f["hash"] == md5)
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect()
}

/// Runs `args` (a `wix-media` command) against `relay` until the relay holds an answer,
/// kills it with SIGKILL, lets the held connection go.
fn kill_while_held(home: &Home, relay: &AnswerRelay, subcommand: &str, args: &[&str]) {
    let mut cmd = home.command(subcommand, args);
    with_wix(&mut cmd, &relay.base_url());
    let mut child = cmd.spawn().expect("spawn");
    let held = relay.wait_held(1, HOLD_WAIT);
    signal(&child, "9");
    let _ = child.wait();
    assert!(held, "no answer was held: {:?}", relay.exchanges());
    relay.release();
}

#[test]
fn a_kill_while_an_answer_is_held_then_a_rerun_leaves_one_file() {
    let cases = [
        (Kind::SimplePut, "simple", 50_000),
        (Kind::Generate, "simple", 50_000),
        (Kind::Generate, "resumable", 50_000),
        (Kind::FinalPatch, "resumable", 3 << 20),
        (Kind::Finalize, "resumable", 3 << 20),
    ];
    for (kind, route, len) in cases {
        let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
        let relay = AnswerRelay::to_url(
            wix.emu.base_url(),
            vec![Rule::first(kind, 1, Fate::Held)],
            7,
        );
        let home = Home::new();
        let bytes = pseudo_random_bytes(len, len as u64);
        let path = wix.dir().join("held.bin");
        std::fs::write(&path, &bytes).expect("write");
        let md5 = md5_hex(&bytes);
        let args = ["--no-progress", "--route", route, path_str(&path)];
        kill_while_held(&home, &relay, "upload", &args);

        let out = home.upload_on(&relay.base_url(), &args);
        out.assert_success();
        let ids = files_with(&wix.emu, &md5);
        assert_eq!(ids.len(), 1, "{kind:?} {route}: {ids:?}\n{}", out.stderr);
        assert_eq!(
            out.json()["file"]["id"],
            ids[0].as_str(),
            "{kind:?} {route}"
        );
        let creating = match kind {
            Kind::SimplePut => "PUT simple-upload",
            Kind::Finalize => "PUT finalize",
            _ => continue,
        };
        // The request that created the file went once: the rerun found its file.
        assert_eq!(wix.emu.route_counts()[creating], 1, "{kind:?} {route}");
    }
}

#[test]
fn a_second_ctrl_c_while_the_simple_put_answer_is_held_then_a_rerun_leaves_one_file() {
    let wix = Emu::with(EmulatorConfig::new());
    let rules = vec![Rule::first(Kind::SimplePut, 1, Fate::Held)];
    let relay = AnswerRelay::to_url(wix.emu.base_url(), rules, 7);
    let home = Home::new();
    let bytes = pseudo_random_bytes(30_000, 3);
    let path = wix.dir().join("twice.bin");
    std::fs::write(&path, &bytes).expect("write");
    let args = ["--route", "simple", path_str(&path)];
    let mut cmd = home.upload(&args);
    with_wix(&mut cmd, &relay.base_url());
    let mut child = cmd.spawn().expect("spawn");
    let stderr = line_reader(child.stderr.take().expect("stderr"));
    assert!(relay.wait_held(1, HOLD_WAIT), "{:?}", relay.exchanges());
    interrupt(&child);
    // The second Ctrl-C once the first was taken: the process exits at once.
    let deadline = std::time::Instant::now() + HOLD_WAIT;
    while !stderr
        .recv_timeout(Duration::from_secs(1))
        .is_ok_and(|l| l.contains("Ctrl-C again"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first Ctrl-C was not taken"
        );
    }
    interrupt(&child);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    relay.release();

    let out = home.upload_on(
        &relay.base_url(),
        &["--no-progress", "--route", "simple", path_str(&path)],
    );
    out.assert_success();
    assert_eq!(
        files_with(&wix.emu, &md5_hex(&bytes)).len(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(wix.emu.route_counts()["PUT simple-upload"], 1);
}

#[test]
fn a_kill_while_the_final_patch_answer_is_held_resumes_without_generating_again() {
    let wix = Emu::with(EmulatorConfig::new());
    let rules = vec![Rule::first(Kind::FinalPatch, 1, Fate::Held)];
    let relay = AnswerRelay::to_url(wix.emu.base_url(), rules, 7);
    let home = Home::new();
    let path = wix.dir().join("big.bin");
    std::fs::write(&path, pseudo_random_bytes(3 << 20, 1)).expect("write");
    let args = ["--no-progress", "--route", "resumable", path_str(&path)];
    kill_while_held(&home, &relay, "upload", &args);
    let out = home.upload_on(&relay.base_url(), &args);
    out.assert_success();
    let counts = wix.emu.route_counts();
    // One generate in all: the rerun reused the kept upload URL and token.
    assert_eq!(
        counts["POST generate-resumable-upload-url"], 1,
        "{counts:?}"
    );
    assert_eq!(counts["POST tus-create"], 1, "{counts:?}");
    assert_eq!(counts["PUT finalize"], 1, "{counts:?}");
}

#[test]
fn a_kill_while_an_import_answer_is_held_then_a_rerun_leaves_one_import() {
    let wix = Emu::with(EmulatorConfig::new());
    let rules = vec![Rule::first(Kind::Import, 1, Fate::Held)];
    let relay = AnswerRelay::to_url(wix.emu.base_url(), rules, 7);
    let source = file_server(pseudo_random_bytes(4000, 2), "image/png");
    let url = source.url("/cat.png");
    let home = Home::new();
    let args = [url.as_str(), "--name", "cat.png"];
    kill_while_held(&home, &relay, "import", &args);
    let out = home.run_on(&relay.base_url(), "import", &args);
    out.assert_success();
    let imports: Vec<_> = wix
        .emu
        .files()
        .into_iter()
        .filter(|f| f["sourceUrl"] == url.as_str())
        .collect();
    assert_eq!(imports.len(), 1, "{imports:?}\n{}", out.stderr);
    assert_eq!(out.json()["file"]["id"], imports[0]["id"]);
    assert_eq!(wix.emu.route_counts()["POST import"], 1);
}

/// `n` files of 20 KB in a folder of `tmp`, and their MD5s.
fn batch(tmp: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let bytes = pseudo_random_bytes(20_000, 1000 + i as u64);
            std::fs::write(tmp.join(format!("f{i:02}.bin")), &bytes).expect("write");
            md5_hex(&bytes)
        })
        .collect()
}

fn assert_one_file_each(emu: &Emulator, md5s: &[String]) {
    for md5 in md5s {
        assert_eq!(files_with(emu, md5).len(), 1, "{md5}");
    }
    assert_eq!(emu.files().len(), md5s.len());
}

#[test]
fn a_batch_with_a_tenth_of_its_answers_lost_leaves_one_file_per_source() {
    let wix = Emu::with(EmulatorConfig::new());
    let rules = vec![
        Rule::chance(Kind::SimplePut, 0.1, Fate::Dropped),
        Rule::chance(Kind::Generate, 0.1, Fate::Dropped),
    ];
    let relay = AnswerRelay::to_url(wix.emu.base_url(), rules, 0x50);
    let home = Home::new();
    let dir = TempDir::new("wmu-batch");
    let md5s = batch(dir.path(), 50);
    let args = [
        "--no-progress",
        "--jobs",
        "4",
        "--retry-delays",
        "0,100,200",
        path_str(dir.path()),
    ];
    let out = home.upload_on(&relay.base_url(), &args);
    out.assert_success();
    assert_eq!(out.summary(), (50, 0, 0));
    assert!(
        relay.count(Kind::SimplePut, Fate::Dropped) > 0,
        "{:?}",
        relay.exchanges()
    );
    assert_one_file_each(&wix.emu, &md5s);
    // The rerun skips them all.
    let again = home.upload_on(&relay.base_url(), &args);
    again.assert_success();
    assert_eq!(again.summary(), (0, 50, 0));
    assert_one_file_each(&wix.emu, &md5s);
}

#[test]
fn two_processes_with_lost_answers_and_a_lagging_list_leave_one_file_each() {
    let config = EmulatorConfig::new().list_lag(Duration::from_secs(2));
    let wix = Emu::with(config);
    let rules = vec![Rule::chance(Kind::SimplePut, 0.3, Fate::Dropped)];
    let relay = AnswerRelay::to_url(wix.emu.base_url(), rules, 0x2);
    let home = Home::new();
    let dir = TempDir::new("wmu-two");
    let md5s = batch(dir.path(), 12);
    let args = ["--no-progress", "--jobs", "3", path_str(dir.path())];
    let (a, b) = upload_twice_at_once(&home, &relay.base_url(), &args);
    assert_eq!(a.summary().2 + b.summary().2, 0);
    assert!(
        relay.count(Kind::SimplePut, Fate::Dropped) > 0,
        "{:?}",
        relay.exchanges()
    );
    assert_one_file_each(&wix.emu, &md5s);
}

#[test]
fn a_source_rewritten_with_its_size_and_mtime_before_the_resume_is_sent_anew() {
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::MetadataExt;

    let home = Home::new();
    let len = 24 << 20;
    let dir = TempDir::new("wmu-edit");
    let path = dir.join("clip.bin");
    let mut bytes = pseudo_random_bytes(len, 44);
    std::fs::write(&path, &bytes).expect("write");
    let old = md5_hex(&bytes);
    let args = ["--no-progress", "--route", "resumable", path_str(&path)];
    // Interrupted once 4 MiB are stored on the built-in emulator.
    let stop = home.upload_emu(&args);
    interrupted_once_stored(&home, stop, (4 << 20, len as u64), ("INT", 130));

    // Rewritten in place within what the server holds, size and mtime put back.
    let before = std::fs::metadata(&path).expect("stat");
    let at = 1 << 20;
    bytes[at] = !bytes[at];
    loop {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.seek(SeekFrom::Start(at as u64)).expect("seek");
        f.write_all(&[bytes[at]]).expect("write");
        f.set_modified(before.modified().expect("mtime"))
            .expect("set mtime");
        let after = std::fs::metadata(&path).expect("stat");
        if (after.ctime(), after.ctime_nsec()) != (before.ctime(), before.ctime_nsec()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let out = run(home.upload_emu(&args));
    out.assert_success();
    out.assert_stderr_has("starting a new upload");
    let emu = Emulator::start(home.state.join("emulator")).expect("reopen");
    let new = md5_hex(&bytes);
    assert_eq!(files_with(&emu, &new).len(), 1);
    assert!(files_with(&emu, &old).is_empty());
    let id = out.json()["file"]["id"].as_str().expect("id").to_owned();
    assert_eq!(emu.file_bytes(&id), Some(bytes));
}
