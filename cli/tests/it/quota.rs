//! The site's quota of REST calls, shared: two `wix-media` processes at once on one site and
//! one state directory, against an emulator that refuses calls past its limit.

use std::collections::BTreeMap;
use std::time::Duration;

use super::common::*;
use wix_media_emulator::{EmulatorConfig, RateWindow};
use wix_media_testkit::emulator::Emu;
use wix_media_testkit::{TempDir, write_tree};

/// Files per process.
const FILES: usize = 100;

/// `FILES` small files named `{prefix}-NNN.bin`.
fn tree(prefix: &str) -> TempDir {
    let dir = TempDir::new(&format!("wmu-quota-{prefix}"));
    let files: Vec<(String, Vec<u8>)> = (0..FILES)
        .map(|i| (format!("{prefix}-{i:03}.bin"), vec![i as u8; 200 + i]))
        .collect();
    write_tree(dir.path(), &files);
    dir
}

/// `N REST calls, M refused` of a summary line.
fn calls_in(stderr: &str) -> (u64, u64) {
    let tail = stderr
        .lines()
        .rev()
        .find_map(|l| l.rsplit_once("; ").filter(|(_, t)| t.contains("REST call")))
        .map(|(_, t)| t.to_owned())
        .unwrap_or_else(|| panic!("no REST calls in the summary: {stderr}"));
    let numbers: Vec<u64> = tail
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{tail}");
    (numbers[0], numbers[1])
}

#[test]
fn two_processes_on_one_site_share_the_quota_and_every_file_is_uploaded() {
    // 20 REST calls per sliding second; each small file costs one (generate-upload-url).
    let config = EmulatorConfig::new()
        .processing_delay(Duration::ZERO)
        .rate_limit(20, Duration::from_secs(1))
        .rate_window(RateWindow::Sliding);
    let wix = Emu::with(config);
    let emu = &wix.emu;
    let home = Home::new();
    let trees = [tree("a"), tree("b")];
    let children: Vec<_> = trees
        .iter()
        .map(|t| {
            let mut cmd = home.upload(&["--no-progress", "-j", "4", path_str(t.path())]);
            with_wix(&mut cmd, emu.base_url());
            cmd.spawn().expect("spawn")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| collect(c, RUN_TIMEOUT))
        .collect();
    for out in &outs {
        out.assert_success();
        let lines = out.lines();
        assert_eq!(lines.len(), FILES, "{}", out.stdout);
        assert!(
            lines.iter().all(|l| l["file"]["id"].is_string()),
            "{}",
            out.stdout
        );
    }
    // Every file is in the Media Manager, once.
    let mut names: Vec<String> = emu
        .files()
        .iter()
        .map(|f| f["displayName"].as_str().unwrap_or("").to_owned())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 2 * FILES);
    // Together they stayed within the quota: the emulator refused few of their calls (it
    // refuses every call past the limit, so refusals are the calls that overran it).
    let routes = emu.route_counts();
    let refused: u64 = emu.refused_counts().values().sum();
    let sent = routes["POST generate-upload-url"];
    assert_eq!(sent, 2 * FILES as u64 + refused, "{routes:?}");
    assert!(refused * 10 <= sent, "{refused} of {sent} calls refused");
    // Each process counts its own calls; together, the emulator's.
    let mine: Vec<(u64, u64)> = outs.iter().map(|o| calls_in(&o.stderr)).collect();
    assert_eq!(
        (mine[0].0 + mine[1].0, mine[0].1 + mine[1].1),
        (sent, refused)
    );
    // One pace for the site, in the shared state directory.
    let paces = std::fs::read_dir(home.state.path())
        .expect("state dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pace"))
        .count();
    assert_eq!(paces, 1);
    // Neither waited for the other to finish: both have files among the first half stored.
    let mut created: Vec<(String, String)> = emu
        .files()
        .iter()
        .map(|f| {
            let at = f["createdDate"].as_str().unwrap_or("").to_owned();
            (at, f["displayName"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    created.sort();
    let first_half: BTreeMap<char, usize> =
        created[..FILES]
            .iter()
            .fold(BTreeMap::new(), |mut by, (_, name)| {
                *by.entry(name.chars().next().unwrap_or('?')).or_default() += 1;
                by
            });
    assert_eq!(first_half.len(), 2, "one process starved: {first_half:?}");
}
