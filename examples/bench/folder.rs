//! Section `folder`: peak RSS (and time) of `wix-media upload --jobs 8` over a folder of 100
//! files of 1 to 50 MB, Wix mode, straight to the in-process emulator (simple route below
//! 10 MiB, resumable above). Every file's MD5 is checked after each run.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{
    MIB, Opts, Stat, fresh_emulator, input_file, md5_hex, show_counts, timed, wix_media_bin,
};

const FILES: usize = 100;
const JOBS: usize = 8;

pub fn run(o: &Opts) {
    let runs = o.runs_or(3);
    let root = o.dir.join("folder");
    let files_dir = root.join("files");
    // Sizes spread evenly over 1..50 MB (decimal), shuffled by a seeded generator.
    let mut rng = crate::support::XorShift::new(0xf01d);
    let mut inputs: BTreeMap<String, (u64, String)> = BTreeMap::new();
    eprintln!("writing the inputs in {} ...", files_dir.display());
    for i in 0..FILES {
        let len = 1_000_000 + rng.next_u64() % 49_000_001;
        let name = format!("v{i:03}.bin");
        let path = input_file(&files_dir.join(&name), len, i as u64);
        inputs.insert(name, (len, md5_hex(&path)));
    }
    let total: u64 = inputs.values().map(|(n, _)| n).sum();
    let simple = inputs.values().filter(|(n, _)| *n < 10 * MIB).count();
    println!(
        "\n# folder: {FILES} files of 1 to 50 MB ({:.0} MiB in all, {simple} below 10 MiB), `wix-media upload --jobs {JOBS}` to the in-process emulator, {runs} runs",
        total as f64 / MIB as f64
    );
    let mut rows = Vec::new();
    for run in 0..runs {
        let emu_dir = root.join("emulator");
        let emu = fresh_emulator(&emu_dir);
        let state = root.join("state");
        let _ = std::fs::remove_dir_all(&state);
        let mut cmd = Command::new(wix_media_bin());
        cmd.args(["upload", "--no-progress", "--jobs", &JOBS.to_string()])
            .arg("--state-dir")
            .arg(&state)
            .arg(&files_dir)
            .env("WIX_API_KEY", "bench")
            .env("WIX_SITE_ID", "bench")
            .env("WIX_API_BASE", emu.base_url())
            .env_remove("WIX_ACCOUNT_ID")
            .env_remove("RUST_LOG");
        let s = timed(cmd, None);
        let routes = emu.route_counts();
        verify(&emu.files(), &inputs);
        eprintln!(
            "run {run}: {:.2} s, {:.1} MiB rss, {:.0} MiB/s, {}",
            s.wall,
            s.rss_mib(),
            total as f64 / MIB as f64 / s.wall,
            show_counts(&routes)
        );
        rows.push((s, routes));
        emu.stop();
        let _ = std::fs::remove_dir_all(&emu_dir);
    }
    let wall = Stat::of(&rows.iter().map(|(s, _)| s.wall).collect::<Vec<_>>());
    let cpu = Stat::of(&rows.iter().map(|(s, _)| s.cpu).collect::<Vec<_>>());
    let rss = Stat::of(&rows.iter().map(|(s, _)| s.rss_mib()).collect::<Vec<_>>());
    let rate = Stat::of(
        &rows
            .iter()
            .map(|(s, _)| total as f64 / MIB as f64 / s.wall)
            .collect::<Vec<_>>(),
    );
    println!(
        "\n| files | bytes | wall s median (min–max) | MiB/s | CPU s median | peak RSS MiB median (min–max) | requests (one run) |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {FILES} ({simple} simple, {} resumable) | {total} ({:.0} MiB) | {wall} | {} | {:.2} | {} | {} |",
        FILES - simple,
        total as f64 / MIB as f64,
        rate.show(0),
        cpu.med,
        rss.show(1),
        show_counts(&rows[0].1)
    );
    println!(
        "peak RSS target ≤ 32 MiB: {} (max {:.1} MiB)",
        if rss.max <= 32.0 { "met" } else { "MISSED" },
        rss.max
    );
    o.save(
        "folder",
        &json!({
            "machine": crate::common::machine(),
            "files": FILES, "jobs": JOBS, "bytes": total, "simple": simple,
            "wall_s": wall.json(), "cpu_s": cpu.json(), "rss_mib": rss.json(),
            "mib_per_s": rate.json(), "routes": rows[0].1,
        }),
    );
}

// One file per input, each with the input's name, size and MD5.
fn verify(files: &[Value], inputs: &BTreeMap<String, (u64, String)>) {
    let got: BTreeSet<(String, String, String)> = files
        .iter()
        .map(|f| {
            (
                f["displayName"].as_str().unwrap_or("").to_owned(),
                f["sizeInBytes"].as_str().unwrap_or("").to_owned(),
                f["hash"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = inputs
        .iter()
        .map(|(k, (n, h))| (k.clone(), n.to_string(), h.clone()))
        .collect();
    assert_eq!(files.len(), inputs.len(), "files in the emulator");
    assert_eq!(got, want, "stored files differ from the inputs");
}
