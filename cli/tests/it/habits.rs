//! The habits CLI users have: shell completions, a manual page, `-q` and `-v`, `--dry-run`.

use std::time::Duration;

use super::common::*;
use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::TempDir;
use wix_media_testkit::emulator::Emu;

#[test]
fn completions_for_every_shell() {
    let home = Home::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef wix-media"),
        ("fish", "complete -c wix-media"),
        ("elvish", "wix-media"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run(home.raw(&["completions", shell]));
        out.assert_success();
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        for word in ["upload", "emulator", "flatten", "dry-run"] {
            assert!(out.stdout.contains(word), "{shell} lacks {word}");
        }
    }
}

#[test]
fn a_manual_page_for_the_command_and_each_subcommand() {
    let home = Home::new();
    let out = run(home.raw(&["man"]));
    out.assert_success();
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH wix-media"),
        "{}",
        out.stdout
    );
    for word in ["upload", "import", "WIX_API_KEY"] {
        assert!(out.stdout.contains(word), "{word} missing");
    }
    let out = run(home.raw(&["man", "upload"]));
    out.assert_success();
    assert!(
        out.stdout.contains(".TH wix-media-upload"),
        "{}",
        out.stdout
    );
    // roff escapes the dashes of options.
    assert!(out.stdout.contains("flatten"), "{}", out.stdout);
}

#[test]
fn quiet_says_only_what_went_wrong_and_verbose_shows_requests() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let emu = &wix.emu;
    let home = Home::new();
    let dir = TempDir::new("wmu-quiet");
    write_tree(dir.path(), &[("a.txt", b"aaa".as_slice()), ("b.txt", b"")]);
    let root = path_str(dir.path());
    let out = home.upload_on(emu.base_url(), &["-q", root]);
    out.assert_code(1);
    assert_eq!(out.lines().len(), 2);
    // The empty file's failure, nothing else: no summary.
    assert_eq!(out.stderr_lines().len(), 1, "{}", out.stderr);
    out.assert_stderr_has("b.txt");

    let out = home.upload_on(emu.base_url(), &["--no-progress", "--force", "-vv", root]);
    assert!(
        out.stderr.contains("POST http://127.0.0.1:") && out.stderr.contains("generate"),
        "{}",
        out.stderr
    );
    // RUST_LOG wins over -q.
    let mut cmd = home.upload(&["-q", "--force", root]);
    with_wix(&mut cmd, emu.base_url());
    cmd.env("RUST_LOG", "debug");
    let out = run(cmd);
    out.assert_stderr_has("POST http://127.0.0.1:");
}

#[test]
fn dry_run_prints_the_plan_and_sends_nothing() {
    let wix = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let emu = &wix.emu;
    let home = Home::new();
    let dir = TempDir::new("wmu-dry");
    write_tree(
        dir.path(),
        &[("a.txt", b"aaa".as_slice()), ("sub/b.txt", b"bb")],
    );
    let root = path_str(dir.path());
    let out = home.upload_on(emu.base_url(), &["-n", "--folder", "/d", root]);
    out.assert_success();
    let plan = |out: &Output| {
        let mut p: Vec<(String, String)> = out
            .lines()
            .iter()
            .map(|l| {
                let path = l["path"].as_str().unwrap_or_default();
                let name = path.rsplit('/').next().unwrap_or_default().to_owned();
                let folder = l["folder"].as_str().unwrap_or_default();
                (
                    name,
                    format!("{} {folder}", l["action"].as_str().unwrap_or_default()),
                )
            })
            .collect();
        p.sort();
        p
    };
    let want = |action: &str| {
        vec![
            ("a.txt".to_owned(), format!("{action} /d")),
            ("b.txt".to_owned(), format!("{action} /d/sub")),
        ]
    };
    assert_eq!(plan(&out), want("upload"));
    assert!(emu.route_counts().is_empty(), "{:?}", emu.route_counts());
    assert!(
        !home
            .state
            .join("manifest")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
    home.upload_on(emu.base_url(), &["--no-progress", "--folder", "/d", root])
        .assert_success();
    emu.reset_request_counts();
    let out = home.upload_on(emu.base_url(), &["--dry-run", "--folder", "/d", root]);
    assert_eq!(plan(&out), want("skip"));
    assert!(emu.route_counts().is_empty());
}
