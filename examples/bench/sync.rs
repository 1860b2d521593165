//! Section `sync`: `wix-media sync -j 8` of 1,000 small files (1 to 4 KiB, one folder) to the
//! in-process emulator. Steps: the first sync (all uploaded); a no-op sync from an empty state
//! directory (another machine: the listing alone, target ≤ 15 requests); the same on the
//! first state directory; a sync after `touch` on every file; a sync after changing 10 files
//! (exactly 10 uploads). Requests are the emulator's own counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common::{Opts, Stat, fresh_emulator, input_file, show_counts, timed, wix_media_on};

const FILES: usize = 1000;
const CHANGED: usize = 10;
const STEPS: [&str; 5] = [
    "first sync (all new)",
    "no-op, empty state dir",
    "no-op, same state dir",
    "after touch on every file",
    "after changing 10 files",
];

/// One step of one run: wall seconds, the requests by route.
type Row = (f64, BTreeMap<String, u64>);

pub fn run(o: &Opts) {
    let runs = o.runs_or(3);
    let root = o.dir.join("sync");
    println!(
        "\n# sync: {FILES} files of 1 to 4 KiB in one folder, `wix-media sync -j 8` to the in-process emulator, {runs} runs"
    );
    let mut steps: Vec<Vec<Row>> = vec![Vec::new(); STEPS.len()];
    for run in 0..runs {
        let files = root.join("files");
        let _ = std::fs::remove_dir_all(&files);
        for i in 0..FILES {
            input_file(
                &files.join(format!("f{i:04}.bin")),
                1024 + (i as u64 * 7) % 3072,
                i as u64,
            );
        }
        let emu = fresh_emulator(&root.join("emulator"));
        let states: Vec<PathBuf> = (0..2).map(|i| root.join(format!("state{i}"))).collect();
        for s in &states {
            let _ = std::fs::remove_dir_all(s);
        }
        for (step, rows) in steps.iter_mut().enumerate() {
            prepare(step, &files);
            emu.reset_request_counts();
            let state = &states[usize::from(step == 1 || step == 4)];
            let wall = sync(emu.base_url(), &files, state);
            let routes = emu.route_counts();
            eprintln!(
                "run {run}, {}: {wall:.2} s, {}",
                STEPS[step],
                show_counts(&routes)
            );
            rows.push((wall, routes));
        }
        let live = emu
            .files()
            .iter()
            .filter(|f| f["state"] != "DELETED")
            .count();
        assert_eq!(live, FILES + CHANGED, "one file per version");
        emu.stop();
    }
    report(o, &steps);
}

/// Changes the local folder before `step`: `touch` all, or 10 files one byte longer.
fn prepare(step: usize, files: &Path) {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for i in 0..FILES {
        let path = files.join(format!("f{i:04}.bin"));
        if step == 3 {
            let f = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            f.set_modified(later).expect("touch");
        } else if step == 4 && i < CHANGED {
            let mut bytes = std::fs::read(&path).expect("read");
            bytes.push(b'!');
            std::fs::write(&path, bytes).expect("write");
        }
    }
}

fn sync(base: &str, files: &Path, state: &Path) -> f64 {
    let mut cmd = wix_media_on(base, state, "sync");
    cmd.args(["--no-progress", "-j", "8", "--folder", "/bench"])
        .arg(files);
    timed(cmd, None).wall
}

fn uploads(routes: &BTreeMap<String, u64>) -> u64 {
    routes
        .iter()
        .filter(|(k, _)| k.contains("generate"))
        .map(|(_, n)| n)
        .sum()
}

fn report(o: &Opts, steps: &[Vec<Row>]) {
    println!(
        "\n| step | wall s median (min–max) | requests | uploads | requests by route (first run) |"
    );
    println!("|---|---|---|---|---|");
    let mut saved = Vec::new();
    for (name, rows) in STEPS.iter().zip(steps) {
        let wall = Stat::of(&rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let requests: u64 = rows[0].1.values().sum();
        let up = uploads(&rows[0].1);
        println!(
            "| {name} | {wall} | {requests} | {up} | {} |",
            show_counts(&rows[0].1)
        );
        saved.push(
            json!({"step": name, "wall_s": wall.json(), "requests": requests,
            "uploads": up, "routes": rows[0].1}),
        );
    }
    let fresh: u64 = steps[1][0].1.values().sum();
    let changed = uploads(&steps[4][0].1);
    println!(
        "no-op sync from an empty state dir: {fresh} requests (target ≤ 15: {}); after changing {CHANGED}: {changed} uploads ({})",
        if fresh <= 15 { "met" } else { "MISSED" },
        if changed == CHANGED as u64 {
            "exact"
        } else {
            "WRONG"
        }
    );
    o.save(
        "sync",
        &json!({"machine": crate::common::machine(), "files": FILES, "steps": saved}),
    );
}
