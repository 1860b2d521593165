//! `wix-media sync`, `ls` and `rm` through the binary against the emulator: a nested tree lands
//! as nested folders; a fresh state directory makes no upload and only list requests; `touch`
//! makes none; `--dry-run` changes nothing; `--delete` trashes exactly the remote-only files;
//! `--max-delete` refuses; a replacement is a new file, the old one trashed once it is READY;
//! a file the listing does not show yet is read by id, not uploaded again.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::common::*;
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_testkit::TempDir;
use wix_media_testkit::emulator::Emu;

fn emulator() -> Emu {
    Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO))
}

/// The local tree of these tests.
fn tree() -> TempDir {
    let dir = TempDir::new("wmu-sync");
    write_tree(
        dir.path(),
        &[
            ("top.txt", b"top".as_slice()),
            ("a/logo.png", b"logo of a"),
            ("a/b/x.jpg", b"x"),
            ("c/logo.png", b"logo of c!"),
        ],
    );
    dir
}

/// `wix-media sync DIR --folder /site ARGS...` on `home` against `emu`.
fn sync(home: &Home, emu: &Emulator, dir: &TempDir, args: &[&str]) -> Output {
    let mut all = vec!["--no-progress", path_str(dir.path()), "--folder", "/site"];
    all.extend_from_slice(args);
    home.run_on(emu.base_url(), "sync", &all)
}

/// `{path: action}` of a run's lines.
fn actions(out: &Output) -> BTreeMap<String, String> {
    out.lines()
        .iter()
        .map(|l| {
            let action = l["action"].as_str().unwrap_or("?").to_owned();
            (l["path"].as_str().unwrap_or("?").to_owned(), action)
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The Media Manager's files not in the trash: `{path: size}`.
fn remote(emu: &Emulator) -> BTreeMap<String, String> {
    emu.files()
        .iter()
        .filter(|f| f["state"] != "DELETED")
        .map(|f| {
            let id = f["id"].as_str().unwrap_or_default();
            let size = f["sizeInBytes"].as_str().unwrap_or_default().to_owned();
            (emu.path_of(id).unwrap_or_default(), size)
        })
        .collect()
}

/// Routes that change something (anything but listing and reading).
fn writes(emu: &Emulator) -> Vec<String> {
    emu.route_counts()
        .into_keys()
        .filter(|k| !k.starts_with("GET ") && k != "POST get-files")
        .collect()
}

#[test]
fn a_tree_lands_as_folders_and_a_fresh_machine_uploads_nothing() {
    let wix = emulator();
    let emu = &wix.emu;
    let dir = tree();
    let out = sync(&Home::new(), emu, &dir, &[]);
    out.assert_success();
    let all_uploaded = map(&[
        ("a/b/x.jpg", "upload"),
        ("a/logo.png", "upload"),
        ("c/logo.png", "upload"),
        ("top.txt", "upload"),
    ]);
    assert_eq!(actions(&out), all_uploaded);
    assert_eq!(
        remote(emu),
        map(&[
            ("/site/a/b/x.jpg", "1"),
            ("/site/a/logo.png", "9"),
            ("/site/c/logo.png", "10"),
            ("/site/top.txt", "3"),
        ])
    );
    // Another machine: an empty state directory. Only listings, every file kept.
    emu.reset_request_counts();
    let out = sync(&Home::new(), emu, &dir, &[]);
    out.assert_success();
    assert!(
        actions(&out).values().all(|a| a == "keep"),
        "{}",
        out.stdout
    );
    assert_eq!(out.summary().0, 0);
    let routes = emu.route_counts();
    assert!(
        routes
            .keys()
            .all(|k| k == "GET list-files" || k == "GET list-folders"),
        "{routes:?}"
    );
    // `touch` on every file: nothing goes up.
    for rel in ["top.txt", "a/logo.png", "a/b/x.jpg", "c/logo.png"] {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(rel))
            .unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(60))
            .unwrap();
    }
    emu.reset_request_counts();
    let out = sync(&Home::new(), emu, &dir, &[]);
    out.assert_success();
    assert!(writes(emu).is_empty(), "{:?}", emu.route_counts());
}

#[test]
fn dry_run_changes_nothing_and_delete_trashes_exactly_the_remote_only_files() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let dir = tree();
    sync(&home, emu, &dir, &[]).assert_success();
    let before = remote(emu);
    // Local changes: one edited (new size), one removed, one added.
    std::fs::write(dir.join("top.txt"), b"top, longer").unwrap();
    std::fs::remove_file(dir.join("c/logo.png")).unwrap();
    std::fs::write(dir.join("new.txt"), b"new").unwrap();
    emu.reset_request_counts();
    let plan = sync(&home, emu, &dir, &["--delete", "-n"]);
    plan.assert_success();
    let want = map(&[
        ("a/b/x.jpg", "keep"),
        ("a/logo.png", "keep"),
        ("c/logo.png", "trash"),
        ("new.txt", "upload"),
        ("top.txt", "replace"),
    ]);
    assert_eq!(actions(&plan), want);
    assert!(writes(emu).is_empty(), "{:?}", emu.route_counts());
    assert_eq!(remote(emu), before);
    let replace = plan
        .lines()
        .into_iter()
        .find(|l| l["action"] == "replace")
        .unwrap();
    assert!(
        replace["note"]
            .as_str()
            .is_some_and(|n| n.contains("new id")),
        "{replace}"
    );

    // The same, for real: the old version of top.txt and c/logo.png go to the trash.
    let out = sync(&home, emu, &dir, &["--delete"]);
    out.assert_success();
    assert_eq!(
        actions(&out).get("c/logo.png").map(String::as_str),
        Some("trash")
    );
    assert_eq!(
        remote(emu),
        map(&[
            ("/site/a/b/x.jpg", "1"),
            ("/site/a/logo.png", "9"),
            ("/site/new.txt", "3"),
            ("/site/top.txt", "11"),
        ])
    );
    let trashed: Vec<Value> = emu
        .files()
        .into_iter()
        .filter(|f| f["state"] == "DELETED")
        .collect();
    assert_eq!(trashed.len(), 2, "{trashed:?}");
    let replaced = out
        .lines()
        .into_iter()
        .find(|l| l["action"] == "replace")
        .unwrap();
    let old = replaced["replaces"].as_str().expect("the old id");
    assert!(
        trashed.iter().any(|f| f["id"] == old),
        "the old version is trashed"
    );
    assert_ne!(replaced["file"]["id"], old, "a new file, a new id");
}

#[test]
fn max_delete_refuses_and_changes_nothing() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let dir = tree();
    sync(&home, emu, &dir, &[]).assert_success();
    let empty = TempDir::new("wmu-empty");
    std::fs::write(empty.join("only.txt"), b"only").unwrap();
    emu.reset_request_counts();
    let out = sync(&home, emu, &empty, &["--delete", "--max-delete", "3"]);
    out.assert_code(1);
    out.assert_stderr_has("would trash 4 files, more than --max-delete 3");
    assert!(writes(emu).is_empty(), "{:?}", emu.route_counts());
    assert_eq!(remote(emu).len(), 4);
    // Allowed: exactly those four go, the new one comes.
    let out = sync(&home, emu, &empty, &["--delete", "--max-delete", "4"]);
    out.assert_success();
    assert_eq!(remote(emu), map(&[("/site/only.txt", "4")]));
}

#[test]
fn checksum_finds_a_same_size_edit() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let dir = tree();
    sync(&home, emu, &dir, &[]).assert_success();
    std::fs::write(dir.join("top.txt"), b"TOP").unwrap();
    let out = sync(&home, emu, &dir, &["-n"]);
    assert_eq!(
        actions(&out).get("top.txt").map(String::as_str),
        Some("keep")
    );
    let out = sync(&home, emu, &dir, &["-n", "--checksum"]);
    assert_eq!(
        actions(&out).get("top.txt").map(String::as_str),
        Some("replace")
    );
    assert_eq!(
        actions(&out).get("a/logo.png").map(String::as_str),
        Some("keep")
    );
}

#[test]
fn a_file_not_listed_yet_is_read_by_id_not_uploaded_again() {
    let wix = Emu::with(
        EmulatorConfig::new()
            .processing_delay(Duration::ZERO)
            .list_lag(Duration::from_secs(600)),
    );
    let emu = &wix.emu;
    let home = Home::new();
    let dir = tree();
    sync(&home, emu, &dir, &[]).assert_success();
    emu.reset_request_counts();
    let out = sync(&home, emu, &dir, &[]);
    out.assert_success();
    assert!(
        actions(&out).values().all(|a| a == "keep"),
        "{}",
        out.stdout
    );
    let reasons: Vec<Value> = out.lines().iter().map(|l| l["reason"].clone()).collect();
    assert!(
        reasons
            .iter()
            .all(|r| r == "uploaded earlier (not listed yet)"),
        "{reasons:?}"
    );
    assert_eq!(emu.route_counts().get("POST get-files"), Some(&1));
    assert!(writes(emu).is_empty(), "{:?}", emu.route_counts());
    assert_eq!(emu.files().len(), 4);
}

#[test]
fn ls_lists_and_rm_trashes() {
    let wix = emulator();
    let emu = &wix.emu;
    let home = Home::new();
    let dir = tree();
    sync(&home, emu, &dir, &[]).assert_success();
    let ls = |args: &[&str]| home.run_on(emu.base_url(), "ls", args);
    let out = ls(&["/site"]);
    out.assert_success();
    let paths: Vec<String> = out
        .lines()
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["/site/top.txt", "/site/a/", "/site/c/"]);
    let out = ls(&["/site", "--recursive"]);
    let mut files: Vec<String> = out
        .lines()
        .iter()
        .filter(|l| l["file"].is_object())
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/site/a/b/x.jpg",
            "/site/a/logo.png",
            "/site/c/logo.png",
            "/site/top.txt"
        ]
    );
    let out = ls(&["/site", "-R", "--long"]);
    assert!(out.stdout.starts_with("TYPE"), "{}", out.stdout);
    assert!(out.stdout.contains("/site/a/b/x.jpg"), "{}", out.stdout);
    let out = ls(&["/nowhere"]);
    out.assert_code(1);

    let id = remote_id(emu, "/site/top.txt");
    let out = home.run_on(emu.base_url(), "rm", &["/site/a/logo.png", &id]);
    out.assert_success();
    assert_eq!(out.lines().len(), 2);
    assert_eq!(remote(emu).len(), 2);
    assert_eq!(emu.files().len(), 4, "in the trash, not deleted");
    let out = home.run_on(emu.base_url(), "rm", &["--permanent", "/site/c/logo.png"]);
    out.assert_success();
    assert_eq!(emu.files().len(), 3);
    let out = home.run_on(emu.base_url(), "rm", &["/site/no-such.png"]);
    out.assert_code(1);
}

fn remote_id(emu: &Emulator, path: &str) -> String {
    emu.files()
        .iter()
        .find_map(|f| {
            let id = f["id"].as_str()?;
            (emu.path_of(id).as_deref() == Some(path)).then(|| id.to_owned())
        })
        .expect("the file")
}
